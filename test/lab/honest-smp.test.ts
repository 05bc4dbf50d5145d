// ring0 between guests with two vCPUs each, so that transmit, NAPI and the peer work
// run on different CPUs at once: parallel TCP streams, a broadcast flood and a bulk
// transfer together, while the host stops one guest and lets it go on through QMP.
// Every writer is honest, so the rings end clean.
import assert from 'node:assert/strict';

import { type Lab, REPO, labFixture } from '../helpers/lab.js';
import { requireTier } from '../helpers/tier.js';
import { SLOWDOWN, eventually, sleep } from '../helpers/time.js';

const XFER = `${REPO}/scripts/guest/xfer.mjs`;
const XFER_BYTES = 64_000_000;

describe('ring0 with 2 vCPUs per guest (2 guests)', function () {
  this.timeout(300_000);
  let lab: Lab;

  before(async function () {
    requireTier(this, 'lab');
    lab = await labFixture.get({ guests: 2, cpus: 2 });
    await lab.sh('g2', 'iperf3 -s -D');
    // g2 answers broadcast pings, so the flood runs both ways.
    await lab.sh('g2', 'sysctl -qw net.ipv4.icmp_echo_ignore_broadcasts=0');
  });

  it('boots guests with two CPUs', async () => {
    for (const g of lab.guestNames()) assert.equal((await lab.sh(g, 'nproc')).trim(), '2', g);
  });

  it('carries iperf3 -P 4, a broadcast flood and a transfer at once, with the host stopping and continuing g2', async () => {
    const recv = lab.exec('g2', ['node', XFER, 'recv', '5001'], { timeoutMs: 240_000 });
    await eventually(60_000 * SLOWDOWN, "g2's receiver listening on port 5001", () => lab.listening('g2', 5001));
    const iperf = lab.exec('g1', ['iperf3', '-c', '198.51.100.2', '-P', '4', '-t', '15', '-J'], { timeoutMs: 180_000 });
    const flood = lab.exec('g1', ['ping', '-b', '-f', '-q', '-s', '1000', '-w', '15', '198.51.100.255'], { timeoutMs: 120_000 });
    const sent = lab.exec('g1', ['node', XFER, 'send', '198.51.100.2', '5001', String(XFER_BYTES)], { timeoutMs: 240_000 });

    // Fixed: all three run a while before the host stops g2 under them.
    await sleep(4000);
    await lab.qmp('g2', 'stop');
    const paused = await lab.lab(['qmp', 'g2', 'query-status']);
    // Fixed, longer than the peers' 2 s timeout: g1 marks g2 dead, then alive again.
    await sleep(3000);
    await lab.qmp('g2', 'cont');
    assert.match(paused.stdout.toString(), /"status":"paused"/, 'QMP stop did not pause g2');
    assert.match((await lab.lab(['qmp', 'g2', 'query-status'])).stdout.toString(), /"status":"running"/);

    const [i, f, s, r] = await Promise.all([iperf, flood, sent, recv]);
    assert.equal(i.code, 0, `iperf3 -P 4 failed: ${i.stdout.slice(0, 500)}${i.stderr}`);
    const moved = (JSON.parse(i.stdout) as { end: { sum_received: { bytes: number } } }).end.sum_received.bytes;
    assert.ok(moved > 1_000_000, `iperf3 -P 4 moved only ${moved} bytes`);
    // -w ends the flood with exit code 1 when replies went missing (g2 was stopped); it must have run.
    const m = /(\d+) packets transmitted, (\d+) received/.exec(f.stdout);
    assert.ok(m, `the broadcast flood printed no summary: ${f.stdout}${f.stderr}`);
    assert.ok(Number(m[1]) > 100 && Number(m[2]) > 0, `broadcast flood: ${m[0]}`);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(r.code, 0, r.stderr);
    assert.match(s.stdout, new RegExp(`^[0-9a-f]{64} ${XFER_BYTES}\\n$`));
    assert.equal(r.stdout, s.stdout, 'the transfer arrived with another sha256');
  });

  it('still carries pings both ways afterwards', async () => {
    assert.match(await lab.sh('g1', 'ping -c 3 -i 0.2 -W 5 198.51.100.2'), / 0% packet loss/);
    assert.match(await lab.sh('g2', 'ping -6 -c 3 -i 0.2 -W 5 2001:db8:2::1'), / 0% packet loss/);
  });

  describe('afterwards', () => {
    it("leaves no oops, warning, lockup or stall in any guest's kernel log", async () => {
      await lab.assertKernelLogsClean();
    });

    it('leaves every ring without resets or bad indices', async () => {
      await lab.assertRingsClean();
    });
  });
});
