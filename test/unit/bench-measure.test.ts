// scripts/bench/lib/measure.mjs's LabBench without a lab: a throughput run whose
// iperf3 gets stuck is killed, g2's server restarted and the run made once more.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { REPO } from '../helpers/lab.js';

interface Throughput { iperf: { end: unknown }; retried?: string }
interface Bench {
  retries: string[];
  throughput(args: string[]): Promise<Throughput>;
  applySetting(cmd: string, label?: string): Promise<void>;
}
type BenchClass = new (o: { root: string; seconds: number }) => Bench;

/** A LabBench whose guests are scripted: iperf3 answers with `answers` in turn (an Error throws). */
async function scriptedBench(answers: (string | Error)[]) {
  const { LabBench, IPERF_GRACE_S } = (await import(pathToFileURL(join(REPO, 'scripts/bench/lib/measure.mjs')).href)) as { LabBench: BenchClass; IPERF_GRACE_S: number };
  const calls: string[] = [];
  const bench = new LabBench({ root: REPO, seconds: 3 });
  Object.assign(bench, {
    received: async () => ({ packets: 0, bytes: 0, ring0Bytes: 0 }),
    hostWindow: async (fn: () => Promise<unknown>) => ({ result: await fn(), work: {} }),
    inGuest: async (g: string, ...cmd: string[]) => {
      calls.push(`${g}: ${cmd.join(' ')}`);
      if (cmd.includes('iperf3')) {
        const a = answers.shift();
        if (a instanceof Error) throw a;
        return a;
      }
      return '';
    },
  });
  return { bench, calls, grace: IPERF_GRACE_S };
}

describe('bench:lab\'s busy-polling window', () => {
  it('is 50 µs on KVM and 1000 µs under TCG, where a round trip takes longer than 50 µs', async () => {
    const { busyPollUsFor } = (await import(pathToFileURL(join(REPO, 'scripts/bench/lib/measure.mjs')).href)) as { busyPollUsFor: (accel: string | null) => number };
    assert.deepEqual(['kvm', 'tcg', null].map((a) => busyPollUsFor(a)), [50, 1000, 50]);
  });
});

describe('a guest setting (LabBench.applySetting, bench:lab --setup and bench:ab)', () => {
  it('runs the command in g1, then g2', async () => {
    const { bench, calls } = await scriptedBench([]);
    await bench.applySetting('echo 1 > /sys/class/net/ring0/threaded');
    assert.deepEqual(calls, ['g1: sh -c echo 1 > /sys/class/net/ring0/threaded', 'g2: sh -c echo 1 > /sys/class/net/ring0/threaded']);
  });

  it('stops at the first guest where it fails, naming the setting, the guest, the command and its stderr', async () => {
    const { bench, calls } = await scriptedBench([]);
    Object.assign(bench, {
      inGuest: async (g: string, ...cmd: string[]) => {
        calls.push(`${g}: ${cmd.join(' ')}`);
        if (g === 'g2') throw Object.assign(new Error('exit 1'), { exitCode: 1, stderr: 'sysctl: cannot stat /proc/sys/net/core/nope\n' });
        return '';
      },
    });
    await assert.rejects(bench.applySetting('sysctl -w net.core.nope=1', '--setup'),
      { message: '--setup failed in g2: `sysctl -w net.core.nope=1` exited 1: sysctl: cannot stat /proc/sys/net/core/nope' });
    assert.equal(calls.length, 2);
  });
});

describe('bench:lab\'s throughput runs (LabBench)', () => {
  const ok = JSON.stringify({ end: { sum_received: { bits_per_second: 1e9 } } });

  it('bounds iperf3 in the guest by its run and a grace period', async () => {
    const { bench, calls, grace } = await scriptedBench([ok]);
    const r = await bench.throughput(['-c', '192.0.2.2']);
    assert.equal(r.retried, undefined);
    assert.deepEqual(calls, [`g1: timeout -s KILL ${3 + grace} iperf3 -c 192.0.2.2 -t 3 -J`]);
  });

  it('runs a stuck iperf3 once more after restarting g2\'s server, and says so', async () => {
    const stuck = Object.assign(new Error('exit 137'), { stderr: 'lab: g1: iperf3 was killed\n' });
    const { bench, calls } = await scriptedBench([stuck, ok]);
    const r = await bench.throughput(['-c', '192.0.2.2', '-u']);
    assert.deepEqual(r.iperf, JSON.parse(ok));
    assert.equal(r.retried, 'iperf3 -c 192.0.2.2 -u: lab: g1: iperf3 was killed');
    assert.deepEqual(bench.retries, [r.retried]);
    assert.ok(calls.some((c) => c.startsWith('g2: sh -c pkill -KILL -x iperf3') && c.endsWith('iperf3 -s -D')), calls.join('\n'));
  });

  it('fails when the second run gets stuck too', async () => {
    const { bench } = await scriptedBench([new Error('first'), new Error('second')]);
    await assert.rejects(bench.throughput(['-c', '192.0.2.2']), /second/);
  });
});
