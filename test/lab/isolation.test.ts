// Isolation by the hypervisor, the groundwork (the isolation issue): a file the host
// maps into a guest read-only (memory-backend-file readonly=on, behind ivshmem-plain)
// keeps that guest's writes out, on whatever accelerator runs the lab. The control,
// the same file mapped read-write, takes them in, so the test can fail. The lab's
// probe devices (lab up --probe-bars) carry both; test/guest/bar_poke.c writes
// through their BARs from inside the guest.
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

import { type Lab, type ProbeBar, REPO, labFixture } from '../helpers/lab.js';
import { requireTier } from '../helpers/tier.js';
import { SLOWDOWN } from '../helpers/time.js';

const BAR_POKE = join(REPO, 'build/native/bar_poke');
/** What the guest writes: no run of four of its bytes is in hostPattern(). */
const GUEST_HEX = 'deadbeef'.repeat(4);
const GUEST_BYTES = Buffer.from(GUEST_HEX, 'hex');

/** What the host puts in a probe file: neither zeros nor the 0xff of a BAR that does not decode. */
function hostPattern(size: number): Buffer {
  return Buffer.from(Array.from({ length: size }, (_, i) => (i * 7 + 0x35) & 0xff));
}

/** Overwrites the file in place: QEMU has it mapped, and a truncated mapping is a SIGBUS. */
function fillInPlace(path: string, data: Buffer): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, data, 0, data.length, 0);
  } finally {
    closeSync(fd);
  }
}

interface Poke {
  offset: number;
  before: string;
  wrote: string;
  after: string;
}

/** bar_poke in guest: GUEST_HEX at each offset of bar's BAR2, and what it read there. */
async function poke(lab: Lab, guest: string, bar: ProbeBar, offsets: number[]): Promise<Poke[]> {
  const out = await lab.sh(guest, [BAR_POKE, bar.bdf, GUEST_HEX, ...offsets.map(String)].join(' '));
  const r = JSON.parse(out) as { bdf: string; size: number; pokes: Poke[] };
  assert.equal(r.size, bar.size, `${bar.bdf}: BAR2 is not the probe file's size`);
  return r.pokes;
}

describe('isolation by the hypervisor: a read-only BAR', function () {
  this.timeout(120_000 * SLOWDOWN);
  let lab: Lab;
  let bars: Map<string, ProbeBar>;

  before(async function () {
    requireTier(this, 'lab');
    this.timeout(300_000 * SLOWDOWN);
    // One guest is enough; a setup has at least two (g2 has files but no QEMU).
    lab = await labFixture.get({ guests: 1, slots: 2, probeBars: true });
    bars = await lab.probeBars('g1');
    console.log(`      accelerator: ${(await lab.status()).accel}`);
  });

  /**
   * Fills the file of probe BAR `name` with the host's pattern and has g1 write
   * GUEST_HEX at its start, an unaligned place in the middle and its end: the
   * pokes, and the file after them.
   */
  async function guestWrites(name: string): Promise<{ bar: ProbeBar; host: Buffer; pokes: Poke[]; file: Buffer }> {
    const bar = bars.get(name);
    assert.ok(bar, `no probe BAR ${name}`);
    const host = hostPattern(bar.size);
    fillInPlace(bar.path, host);
    const pokes = await poke(lab, 'g1', bar, [0, (bar.size >> 1) + 13, bar.size - GUEST_BYTES.length]);
    return { bar, host, pokes, file: readFileSync(bar.path) };
  }

  it("leaves the probe devices without a driver while ringnet serves ring0's roster and regions", async () => {
    const ringnet = (await lab.sh('g1', 'ls /sys/bus/pci/drivers/ringnet')).split(/\s+/).filter((f) => /^[0-9a-f]{4}:/.test(f));
    // ring0's devices are where `ringctl host qemu-args` put them: addr=SLOT.FN of each ivshmem device.
    const want = (await lab.status()).host.qemuArgs['1']
      .map((a) => /^ivshmem-\w+,.*addr=([0-9a-f]{2})\.([0-7])/.exec(a))
      .flatMap((m) => (m ? [`0000:00:${m[1]}.${m[2]}`] : []));
    assert.ok(want.includes('0000:00:10.0'), `ring0's devices (the roster at 00:10.0 among them): ${want.join(', ')}`);
    assert.deepEqual(ringnet.sort(), want.sort(), `ringnet should serve ring0's devices alone, it has ${ringnet.join(', ')}`);
    for (const bar of bars.values()) {
      assert.ok(!ringnet.includes(bar.bdf), `ringnet took the probe device ${bar.bdf}`);
      const driver = await lab.sh('g1', `readlink /sys/bus/pci/devices/${bar.bdf}/driver || true`);
      assert.equal(driver.trim(), '', `${bar.bdf} has the driver ${driver.trim()}`);
    }
    const log = (await lab.kernelLog('g1')).split('\n');
    for (const bar of bars.values()) {
      const said = log.filter((l) => l.includes(`ringnet ${bar.bdf}`));
      assert.deepEqual(said, [], `ringnet looked at the probe device ${bar.bdf}`);
    }
  });

  it("keeps a guest's writes out of a file the host maps read-only", async () => {
    const { bar, host, pokes, file } = await guestWrites('ro');
    for (const p of pokes) {
      const old = host.subarray(p.offset, p.offset + GUEST_BYTES.length).toString('hex');
      assert.equal(p.before, old, `the guest does not see the host's bytes at ${p.offset}: is ${bar.bdf} the file?`);
      assert.equal(p.after, old, `the guest read back what it wrote at ${p.offset}`);
    }
    // The property: the file, what every other mapping of it sees, is untouched.
    assert.ok(file.equals(host), `the guest's writes reached ${bar.path}`);
  });

  it('lets them into a file mapped read-write (the control)', async () => {
    const { bar, host, pokes, file } = await guestWrites('rw');
    const want = Buffer.from(host);
    for (const p of pokes) {
      assert.equal(p.before, host.subarray(p.offset, p.offset + GUEST_BYTES.length).toString('hex'), `the guest does not see the host's bytes at ${p.offset}`);
      assert.equal(p.after, GUEST_HEX, `the guest did not read back what it wrote at ${p.offset}`);
      GUEST_BYTES.copy(want, p.offset);
    }
    assert.ok(file.equals(want), `${bar.path} does not hold exactly the guest's writes over the host's pattern`);
  });

  it('leaves the kernel log clean', async () => {
    await lab.assertKernelLogsClean();
  });
});
