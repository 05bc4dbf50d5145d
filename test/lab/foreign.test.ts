// Another program's ivshmem devices in a guest (issue 11: a Looking Glass beside
// ring0). QEMU 7.2 gives every ivshmem function the same ids, so ringnet probes them
// all and must leave these alone by itself: lab up --foreign-bars adds two
// ivshmem-plain devices per guest that nothing keeps from ringnet (no
// driver_override), one of zeros below the roster's slot (probed before the roster
// is read) and one of random bytes above everything ring0 uses.
import assert from 'node:assert/strict';

import { qemuAddr } from '../../src/host/qemu.js';
import { type ForeignBar, type Lab, labFixture } from '../helpers/lab.js';
import { requireTier } from '../helpers/tier.js';
import { SLOWDOWN } from '../helpers/time.js';

for (const doorbell of [false, true]) {
  describe(`foreign ivshmem devices in a guest (${doorbell ? 'doorbell' : 'plain'} mode)`, function () {
    this.timeout(120_000 * SLOWDOWN);
    let lab: Lab;
    let foreign: Record<string, ForeignBar[]>;

    before(async function () {
      requireTier(this, 'lab');
      this.timeout(300_000 * SLOWDOWN);
      lab = await labFixture.get({ guests: 2, doorbell, foreignBars: true });
      const bars = (await lab.status()).foreignBars;
      assert.ok(bars, 'lab status shows no foreign devices');
      foreign = bars;
    });

    it('leaves them unbound, with one info line each, while ringnet binds every ring0 device', async () => {
      for (const g of lab.guestNames()) {
        const bars = foreign[g];
        assert.equal(bars.length, 2);
        for (const b of bars) {
          // Really there: an ivshmem function (1af4:1110) at its address...
          assert.equal((await lab.sh(g, `cat /sys/bus/pci/devices/${b.bdf}/vendor /sys/bus/pci/devices/${b.bdf}/device`)).split(/\s+/).slice(0, 2).join(':'), '0x1af4:0x1110');
          // ... that no driver holds.
          const link = await lab.exec(g, ['readlink', `/sys/bus/pci/devices/${b.bdf}/driver`]);
          assert.notEqual(link.code, 0, `${g}: ${b.name} (${b.bdf}) is bound to ${link.stdout.trim()}`);
        }
        const bound = (await lab.sh(g, 'ls /sys/bus/pci/drivers/ringnet')).split(/\s+/).filter((f) => /^[0-9a-f]{4}:/.test(f));
        const me = (await lab.plan()).guests.find((x) => x.name === g);
        assert.ok(me, `${g} is not in the lab's plan`);
        const want = me.devices.map((d) => `0000:00:${qemuAddr(d.devfn)}`);
        assert.deepEqual(bound.sort(), want.sort(), `${g}: ringnet holds other devices than ring0's`);
        assert.ok(want.some((d) => d.endsWith(':0f.0')) === doorbell, `${g}: the doorbell device is ${doorbell ? 'missing' : 'there'}`);

        // Refused for good, not waiting: the zeros device waited for the roster's read.
        const deferred = await lab.sh(g, 'cat /sys/kernel/debug/devices_deferred');
        for (const b of bars) assert.ok(!deferred.includes(b.bdf), `${g}: ${b.bdf} is still deferred:\n${deferred}`);

        const log = await lab.kernelLog(g);
        for (const b of bars) {
          // The PCI core's enumeration lines name the device too; ringnet's are ours to
          // count, but for the driver core's note on a device that waited at boot.
          const lines = log.split('\n').filter((l) => l.includes(`ringnet ${b.bdf}:`) && !l.includes('deferred probe pending'));
          assert.deepEqual(lines.map((l) => l.replace(/^\[[^\]]*\] /, '')), [`ringnet ${b.bdf}: not a kvmring device (no region magic, not in the roster): left alone`],
            `${g}: what the kernel says of ${b.bdf}`);
        }
      }
    });

    it('keeps ring0 up and pinging', async () => {
      for (const [a, b] of [[1, 2], [2, 1]]) {
        assert.match(await lab.sh(`g${a}`, `ping -c 3 -i 0.2 -W 5 198.51.100.${b}`), / 0% packet loss/);
      }
      await lab.assertRingsClean();
    });

    it('leaves the guests\' kernel logs clean', async () => {
      await lab.assertKernelLogsClean();
    });
  });
}
