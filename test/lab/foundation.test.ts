// The lab itself, with 3 real guests: eth1 between every pair, iperf3, a project
// module loading in a guest, and `lab exec` passing bytes and exit codes faithfully.
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';

import { type Lab, REPO, labFixture } from '../helpers/lab.js';
import { requireTier } from '../helpers/tier.js';
import { SLOWDOWN, eventually } from '../helpers/time.js';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('lab (3 guests)', function () {
  let lab: Lab;

  before(async function () {
    requireTier(this, 'lab');
    this.timeout(240_000);
    lab = await labFixture.get({ guests: 3 });
  });

  describe('lab exec', () => {
    it('passes the exit code of the command through', async () => {
      assert.equal((await lab.exec('g1', ['true'])).code, 0);
      assert.equal((await lab.exec('g1', ['sh', '-c', 'exit 42'])).code, 42);
    });

    it('gives 127 for a command that does not exist, like a shell', async () => {
      const r = await lab.exec('g2', ['no-such-command-here']);
      assert.equal(r.code, 127);
      assert.match(r.stderr, /no-such-command-here: command not found/);
    });

    it('reports a command killed by a signal as 128 + signal', async () => {
      assert.equal((await lab.exec('g3', ['sh', '-c', 'kill -KILL $$'])).code, 137);
    });

    it('keeps stdout and stderr apart', async () => {
      const r = await lab.exec('g1', ['sh', '-c', 'echo to-out; echo to-err >&2']);
      assert.equal(r.stdout, 'to-out\n');
      assert.equal(r.stderr, 'to-err\n');
    });

    it('passes arguments without shell re-quoting', async () => {
      const args = ['a b', "it's", '$HOME', '"quoted"', '*', ''];
      const r = await lab.exec('g1', ['node', '-e', 'console.log(JSON.stringify(process.argv.slice(1)))', ...args]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), args);
    });

    it('carries binary stdin and stdout unchanged', async () => {
      const data = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(3 << 20)]);
      const r = await lab.exec('g2', ['sha256sum'], { input: data });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.split(' ')[0], sha256(data));
    });

    it('runs commands in one guest at the same time', async () => {
      // Each prints when it started and ended, by the guest's clock: at one moment
      // all three were running (however slowly a loaded host runs the guest).
      const rs = await Promise.all([1, 2, 3].map((i) => lab.exec('g3', ['sh', '-c', `date +%s%N; sleep 2; date +%s%N; echo ${i}`])));
      assert.deepEqual(rs.map((r) => r.stdout.trim().split('\n')[2]), ['1', '2', '3']);
      const spans = rs.map((r) => r.stdout.trim().split('\n').slice(0, 2).map(BigInt));
      const lastStart = spans.reduce((m, [start]) => (start > m ? start : m), 0n);
      const firstEnd = spans.reduce((m, [, end]) => (end < m ? end : m), spans[0][1]);
      assert.ok(lastStart < firstEnd, `the three commands never ran at once: ${JSON.stringify(spans.map((s) => s.map(String)))}`);
    });

    it('refuses a guest that is not in the lab, naming the valid ones', async () => {
      const r = await lab.exec('g9', ['true']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /no guest g9 in this lab \(guests: g1\.\.g3\)/);
    });
  });

  describe('eth1', () => {
    it('has the lab addresses on every guest', async () => {
      for (const [i, g] of lab.guestNames().entries()) {
        const addrs = await lab.sh(g, 'ip -br addr show dev eth1');
        assert.match(addrs, new RegExp(`192\\.0\\.2\\.${i + 1}/24`));
        assert.match(addrs, new RegExp(`2001:db8:1::${i + 1}/64`));
      }
    });

    for (const family of ['IPv4', 'IPv6']) {
      it(`carries ${family} pings between every pair of guests`, async function () {
        this.timeout(120_000);
        const addr = (n: number) => (family === 'IPv4' ? `192.0.2.${n}` : `2001:db8:1::${n}`);
        for (let a = 1; a <= 3; a++) {
          for (let b = 1; b <= 3; b++) {
            if (a === b) continue;
            const out = await lab.sh(`g${a}`, `ping -c 2 -i 0.2 -W 5 ${addr(b)}`);
            assert.match(out, /2 packets transmitted, 2 received/, `g${a} -> g${b}`);
          }
        }
      });
    }

    it('carries an iperf3 TCP run between two guests', async function () {
      this.timeout(120_000);
      await lab.sh('g2', 'iperf3 -s -1 -D -B 192.0.2.2');
      await eventually(60_000 * SLOWDOWN, "g2's iperf3 server listening", () => lab.listening('g2', 5201));
      const out = await lab.sh('g1', 'iperf3 -c 192.0.2.2 -t 3 -J');
      const result = JSON.parse(out) as { end: { sum_received: { bytes: number; bits_per_second: number } } };
      assert.ok(result.end.sum_received.bytes > 1_000_000, `only ${result.end.sum_received.bytes} bytes arrived`);
      assert.ok(result.end.sum_received.bits_per_second > 0);
    });
  });

  describe('project modules', () => {
    it('loads and unloads kvmring.ko built on the host', async () => {
      await lab.sh('g1', `insmod ${REPO}/kmod/kvmring.ko max_bytes=67108864`);
      assert.match(await lab.sh('g1', 'lsmod'), /^kvmring\s/m);
      assert.match(await lab.sh('g1', 'ls -l /dev/kvmring/control'), /^crw-------/);
      assert.match(await lab.sh('g1', 'cat /dev/kvmring/control'), /^kvmring regions=0 bytes=0 max_bytes=67108864$/m);
      assert.match(await lab.sh('g1', 'dmesg | tail -5'), /kvmring: \/dev\/kvmring\/control: up to 64 MiB of regions/);
      await lab.sh('g1', 'rmmod kvmring');
      assert.doesNotMatch(await lab.sh('g1', 'lsmod'), /^kvmring\s/m);
    });

    it('refuses a limit below 1 MiB, with the reason in the log', async () => {
      const r = await lab.exec('g2', ['insmod', `${REPO}/kmod/kvmring.ko`, 'max_bytes=4096']);
      assert.notEqual(r.code, 0);
      assert.match(await lab.sh('g2', 'dmesg | tail -3'), /kvmring: max_bytes=4096 is below 1 MiB/);
    });
  });

  describe('guest kernels', () => {
    it('boot with panic_on_warn=1, so that a warning stops the guest where the tests see it', async () => {
      for (const g of lab.guestNames()) {
        assert.equal((await lab.sh(g, 'cat /proc/sys/kernel/panic_on_warn')).trim(), '1', g);
        assert.match(await lab.sh(g, 'cat /proc/cmdline'), /(^| )panic_on_warn=1( |$)/, g);
      }
    });
  });

  // Last: mocha runs a suite's own tests before its child suites.
  describe('afterwards', () => {
    it("leaves no oops, warning or panic in any guest's kernel log", async () => {
      await lab.assertKernelLogsClean();
    });

    it('leaves every ring without resets or bad indices', async () => {
      await lab.assertRingsClean();
    });
  });
});
