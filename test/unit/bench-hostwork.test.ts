// bench:lab's measurements (scripts/bench/lib/hostwork.mjs and proc-sample.mjs):
// /proc lines as Linux writes them, sockperf's output as sockperf 3.7 prints it,
// and the host's work divided by what moved.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { REPO } from '../helpers/lab.js';
import { requireTier } from '../helpers/tier.js';

interface Load {
  cpuS: number;
  ctx: number;
}
interface Work {
  seconds: number;
  vcpu: Load;
  qemu: Load;
  kernel: Load;
  host: Load;
  threads: { key: string; kind: string; comm: string; cpuS: number; ctx: number }[];
}
interface Thread {
  key: string;
  kind: string;
  ticks: number;
  ctx: number;
  guest?: string | null;
  comm?: string;
}
interface Sample {
  t: number;
  threads: Thread[];
}
interface HostWork {
  parseStat(text: string): { comm: string; utime: number; stime: number; ticks: number };
  parseStatus(text: string): { voluntary: number; nonvoluntary: number; ctx: number };
  classifyThread(comm: string, tid: number | string, vcpuTids?: Set<number>): string;
  isKernelWorker(comm: string): boolean;
  hostWork(before: Sample, after: Sample, clkTck?: number): Work;
  aboveIdle(work: Work, idle: Work): Work;
  perUnit(work: Pick<Work, 'host'>, rx: { bytes: number; packets: number }): { cpuSPerGB: number | null; cpuMsPer1000Pkts: number | null; ctxPerPkt: number | null };
  parseSockperf(text: string): { p50: number; p99: number; avg: number | null; observations: number | null; rtt: boolean };
  parseCpuLine(text: string): { busy: number; total: number; softirq: number };
  busyFraction(a: { busy: number; total: number }, b: { busy: number; total: number }): number;
  parseIpLink(json: string): { rxPackets: number; rxBytes: number; txPackets: number; txBytes: number };
}
interface ProcSample {
  CLK_TCK: number;
  sampleHost(qemus: { guest: string; pid: number; vcpuTids: Set<number> }[]): Sample;
}

const load = async <T>(path: string) => (await import(pathToFileURL(join(REPO, path)).href)) as T;

// sockperf 3.7 `ping-pong --tcp --full-rtt`, as it prints it (colour codes and all).
const SOCKPERF = `sockperf: == version #3.7-no.git ==
sockperf: [Total Run] RunTime=1.000 sec; Warm up time=400 msec; SentMessages=13453; ReceivedMessages=13452
sockperf: ========= Printing statistics for Server No: 0
sockperf: [Valid Duration] RunTime=0.550 sec; SentMessages=7484; ReceivedMessages=7484
sockperf: \x1b[2;35m====> avg-rtt=73.516 (std-dev=19.621)\x1b[0m
sockperf: # dropped messages = 0; # duplicated messages = 0; # out-of-order messages = 0
sockperf: Summary: Round trip is 73.516 usec
sockperf: \x1b[2;35mTotal 7484 observations\x1b[0m; each percentile contains 74.84 observations
sockperf: ---> <MAX> observation = 1361.910
sockperf: ---> percentile 99.999 = 1361.910
sockperf: ---> percentile 99.990 =  477.704
sockperf: ---> percentile 99.900 =  164.386
sockperf: ---> percentile 99.000 =  110.485
sockperf: ---> percentile 90.000 =   85.067
sockperf: ---> percentile 75.000 =   77.956
sockperf: ---> percentile 50.000 =   73.019
sockperf: ---> percentile 25.000 =   68.192
sockperf: ---> <MIN> observation =   21.331
`;

describe('bench:lab: the host work it measures (scripts/bench/lib/hostwork.mjs)', function () {
  let hw: HostWork;
  before(async function () {
    requireTier(this, 'unit');
    hw = await load<HostWork>('scripts/bench/lib/hostwork.mjs');
  });

  it('reads utime and stime from a stat line, counting from the last parenthesis of the name', () => {
    assert.deepEqual(
      hw.parseStat('1 (process_api) S 0 0 0 0 -1 4194560 18272 837117 0 336 52 340 9974 3373 10 -10 16 0 25 43970560 2406 18446744073709551615 1 1 0 0'),
      { comm: 'process_api', utime: 52, stime: 340, ticks: 392 },
    );
    // A name with a space, a slash and a ')' of its own, as a QEMU vCPU thread or a hostile process has.
    assert.deepEqual(hw.parseStat('4258 (CPU 0/TCG) R 1 4250 4250 0 -1 4194368 1020 0 0 0 7105 311 0 0 20 0 6 0 912 0'), {
      comm: 'CPU 0/TCG', utime: 7105, stime: 311, ticks: 7416,
    });
    assert.equal(hw.parseStat('77 (a) b) (c) S 1 77 77 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 5 0').ticks, 7);
    assert.throws(() => hw.parseStat('garbage'), /not a \/proc stat line/);
  });

  it('adds voluntary and nonvoluntary context switches from a status file', () => {
    assert.deepEqual(hw.parseStatus('Name:\tkvmring-bench\nState:\tS (sleeping)\nvoluntary_ctxt_switches:\t333\nnonvoluntary_ctxt_switches:\t26\n'), {
      voluntary: 333, nonvoluntary: 26, ctx: 359,
    });
    assert.throws(() => hw.parseStatus('Name:\tx\n'), /voluntary_ctxt_switches/);
  });

  it("tells vCPU threads (QMP's thread ids, or QEMU's debug-threads names) from QEMU's other threads", () => {
    const vcpus = new Set([4258]);
    assert.equal(hw.classifyThread('kvmring-bench12', 4258, vcpus), 'vcpu');
    assert.equal(hw.classifyThread('kvmring-bench12', '4258', vcpus), 'vcpu');
    assert.equal(hw.classifyThread('kvmring-bench12', 4250, vcpus), 'qemu');
    assert.equal(hw.classifyThread('CPU 1/KVM', 9), 'vcpu');
    assert.equal(hw.classifyThread('CPU 0/TCG', 9), 'vcpu');
    assert.equal(hw.classifyThread('IO mon_iothread', 9), 'qemu');
    assert.equal(hw.classifyThread('qemu-system-x86', 9), 'qemu');
    assert.ok(hw.isKernelWorker('ksoftirqd/0') && hw.isKernelWorker('ksoftirqd/13') && hw.isKernelWorker('vhost-4250'));
    assert.ok(!hw.isKernelWorker('kworker/0:1') && !hw.isKernelWorker('ksoftirqd') && !hw.isKernelWorker('node'));
  });

  it("adds up each kind's CPU seconds and context switches between two samples; host is QEMU's non-vCPU threads plus the kernel's", () => {
    const before: Sample = {
      t: 10,
      threads: [
        { key: '1/1', kind: 'qemu', ticks: 100, ctx: 1000 },
        { key: '1/2', kind: 'vcpu', ticks: 500, ctx: 50 },
        { key: '14/14', kind: 'kernel', ticks: 7, ctx: 70 },
        { key: '1/9', kind: 'qemu', ticks: 30, ctx: 3 }, // ends before `after`: lost
      ],
    };
    const after: Sample = {
      t: 13.5,
      threads: [
        { key: '1/1', kind: 'qemu', ticks: 250, ctx: 4000 },
        { key: '1/2', kind: 'vcpu', ticks: 800, ctx: 90 },
        { key: '14/14', kind: 'kernel', ticks: 17, ctx: 75 },
        { key: '1/5', kind: 'qemu', ticks: 20, ctx: 10 }, // new: counts from zero
      ],
    };
    const w = hw.hostWork(before, after, 100);
    assert.equal(w.seconds, 3.5);
    assert.deepEqual(w.vcpu, { cpuS: 3, ctx: 40 });
    assert.deepEqual(w.qemu, { cpuS: 1.7, ctx: 3010 });
    assert.deepEqual(w.kernel, { cpuS: 0.1, ctx: 5 });
    assert.equal(w.host.cpuS.toFixed(6), '1.800000');
    assert.equal(w.host.ctx, 3015);
    assert.deepEqual(w.threads.map((t) => t.key), ['1/2', '1/1', '1/5', '14/14']);
  });

  it('takes away the idle rate scaled to the window, never below zero, and divides by GB and packets', () => {
    const z = { cpuS: 0, ctx: 0 };
    const idle = { seconds: 2, vcpu: z, qemu: { cpuS: 0.2, ctx: 2000 }, kernel: z, host: { cpuS: 0.2, ctx: 2000 }, threads: [] };
    const work = { seconds: 4, vcpu: z, qemu: { cpuS: 1.4, ctx: 3000 }, kernel: { cpuS: 0.1, ctx: 10 }, host: { cpuS: 1.5, ctx: 3010 }, threads: [] };
    const net = hw.aboveIdle(work, idle);
    assert.equal(net.host.cpuS.toFixed(6), '1.100000');
    assert.equal(net.host.ctx, 0); // 3010 - 4000 would be negative
    assert.equal(net.qemu.cpuS.toFixed(6), '1.000000');
    const u = hw.perUnit(net, { bytes: 2.2e9, packets: 55_000 });
    assert.equal(u.cpuSPerGB!.toFixed(6), '0.500000');
    assert.equal(u.cpuMsPer1000Pkts!.toFixed(6), '20.000000');
    assert.equal(u.ctxPerPkt, 0);
    assert.deepEqual(hw.perUnit(work, { bytes: 0, packets: 0 }), { cpuSPerGB: null, cpuMsPer1000Pkts: null, ctxPerPkt: null });
    assert.equal(hw.perUnit(work, { bytes: 1e9, packets: 301 }).ctxPerPkt, 10);
  });

  it("reads sockperf 3.7's percentiles, colour codes and all", () => {
    assert.deepEqual(hw.parseSockperf(SOCKPERF), { p50: 73.019, p99: 110.485, avg: 73.516, observations: 7484, rtt: true });
    assert.throws(() => hw.parseSockperf('sockperf: ERROR: Connection refused\n'), /no percentile 50\.000/);
  });

  it("reads a guest's CPU busy share from /proc/stat's cpu line, and an interface's counters from ip -s -j", () => {
    const a = hw.parseCpuLine('cpu  41542 0 17345 113632 503 0 244 283 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n');
    assert.deepEqual(a, { busy: 41542 + 17345 + 244 + 283, total: 41542 + 17345 + 113632 + 503 + 244 + 283, softirq: 244 });
    const b = hw.parseCpuLine('cpu  41617 0 17370 113732 503 0 244 283 0 0');
    assert.equal(hw.busyFraction(a, b), 0.5);
    assert.throws(() => hw.parseCpuLine('intr 1 2 3'), /no "cpu" line/);
    const lo =
      '[{"ifindex":1,"ifname":"lo","mtu":65536,"stats64":{"rx":{"bytes":8491959,"packets":87030,"errors":0,"dropped":0},"tx":{"bytes":8491960,"packets":87031,"errors":0,"dropped":0}}}]';
    assert.deepEqual(hw.parseIpLink(lo), { rxPackets: 87030, rxBytes: 8491959, txPackets: 87031, txBytes: 8491960 });
  });

  it("samples this very process's threads from /proc and sees the CPU it burns between two samples", async () => {
    const ps = await load<ProcSample>('scripts/bench/lib/proc-sample.mjs');
    assert.ok(ps.CLK_TCK >= 100);
    const me = [{ guest: 'self', pid: process.pid, vcpuTids: new Set([process.pid]) }];
    const before = ps.sampleHost(me);
    const main = before.threads.find((t) => t.key === `${process.pid}/${process.pid}`);
    assert.equal(main?.kind, 'vcpu'); // listed as a vCPU thread by its tid
    assert.ok(before.threads.some((t) => t.guest === 'self' && t.kind === 'qemu'), 'node has threads besides its main one');
    // Burns 0.3 s of CPU (not of wall time: a busy 2-core machine may give it less than the wall).
    const cpu0 = process.cpuUsage();
    const end = Date.now() + 20_000;
    let x = 0;
    const burnt = () => {
      const d = process.cpuUsage(cpu0);
      return (d.user + d.system) / 1e6;
    };
    while (burnt() < 0.3 && Date.now() < end) for (let i = 0; i < 1e5; i++) x += Math.sqrt(x + i);
    assert.ok(x > 0);
    const w = hw.hostWork(before, ps.sampleHost(me), ps.CLK_TCK);
    const all = burnt();
    assert.ok(all >= 0.3, `burnt only ${all} s of CPU in 20 s`);
    assert.ok(w.vcpu.cpuS >= 0.2 && w.vcpu.cpuS <= all + 0.03, `main thread burnt ${w.vcpu.cpuS} s of the process's ${all} s`);
  });
});
