// The pure half of bench:lab's measurements: parsing what /proc says about threads,
// telling a QEMU's vCPU threads from the rest, adding up the host's work over a
// window and dividing it by what moved, and parsing sockperf's and /proc/stat's
// lines from inside a guest. No I/O here (proc-sample.mjs reads /proc), so
// test/unit/bench-hostwork.test.ts can feed it real lines.

/**
 * One /proc/PID/task/TID/stat line: the thread's name and its user and system
 * time in clock ticks. The name (field 2) is in parentheses and may itself hold
 * spaces and parentheses, so the fields are counted from the last ')'.
 */
export function parseStat(text) {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`not a /proc stat line: ${text.slice(0, 80)}`);
  // After ')': state(3) ppid(4) ... utime(14) stime(15): indexes 11 and 12 from field 3.
  const f = text.slice(close + 2).trim().split(/\s+/);
  const utime = Number(f[11]);
  const stime = Number(f[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`no utime/stime in: ${text.slice(0, 80)}`);
  return { comm: text.slice(open + 1, close), utime, stime, ticks: utime + stime };
}

/** voluntary_ctxt_switches and nonvoluntary_ctxt_switches of a /proc/.../status. */
export function parseStatus(text) {
  const get = (name) => {
    const m = new RegExp(`^${name}:\\s+(\\d+)$`, 'm').exec(text);
    if (!m) throw new Error(`no ${name} in /proc status`);
    return Number(m[1]);
  };
  const voluntary = get('voluntary_ctxt_switches');
  const nonvoluntary = get('nonvoluntary_ctxt_switches');
  return { voluntary, nonvoluntary, ctx: voluntary + nonvoluntary };
}

/** QEMU names its vCPU threads "CPU N/TCG" or "CPU N/KVM" when started with debug-threads=on. */
const VCPU_NAME = /^CPU \d+\/(TCG|KVM|HVF|WHPX)$/;

/**
 * 'vcpu' for a thread that runs the guest's instructions, 'qemu' for the rest of
 * a QEMU process (its main loop, which does the tap and virtio-net copies under
 * TCG, I/O and RCU threads, ...). vcpuTids are the thread ids QMP's
 * query-cpus-fast reports; without them, the thread's name decides.
 */
export function classifyThread(comm, tid, vcpuTids = new Set()) {
  return vcpuTids.has(Number(tid)) || VCPU_NAME.test(comm) ? 'vcpu' : 'qemu';
}

/** The host kernel's threads that do network work for someone else: ksoftirqd/N and vhost-PID. */
export function isKernelWorker(comm) {
  return /^ksoftirqd\/\d+$/.test(comm) || /^vhost-\d+/.test(comm);
}

const KINDS = ['vcpu', 'qemu', 'kernel'];

/**
 * The work done between two samples, per kind of thread: CPU seconds and context
 * switches. A sample is { t (seconds), threads: [{ key, kind, ticks, ctx }] }.
 * A thread that appeared in between counts from zero; one that ended in between
 * is lost (its work is not in `after`). `host` is what the host does for the
 * guests' traffic outside their vCPUs: QEMU's other threads plus the kernel's
 * workers.
 */
export function hostWork(before, after, clkTck = 100) {
  const prev = new Map(before.threads.map((th) => [th.key, th]));
  const sum = Object.fromEntries(KINDS.map((k) => [k, { cpuS: 0, ctx: 0 }]));
  const threads = [];
  for (const th of after.threads) {
    const p = prev.get(th.key) ?? { ticks: 0, ctx: 0 };
    const cpuS = Math.max(0, th.ticks - p.ticks) / clkTck;
    const ctx = Math.max(0, th.ctx - p.ctx);
    sum[th.kind].cpuS += cpuS;
    sum[th.kind].ctx += ctx;
    if (cpuS > 0 || ctx > 0) threads.push({ key: th.key, guest: th.guest ?? null, kind: th.kind, comm: th.comm, cpuS, ctx });
  }
  threads.sort((a, b) => b.cpuS - a.cpuS || b.ctx - a.ctx);
  return {
    seconds: after.t - before.t,
    ...sum,
    host: { cpuS: sum.qemu.cpuS + sum.kernel.cpuS, ctx: sum.qemu.ctx + sum.kernel.ctx },
    threads,
  };
}

/**
 * The work beyond what the same threads do idle: idle is a hostWork() over a
 * window without traffic, scaled to this window's length. Never below zero.
 */
export function aboveIdle(work, idle) {
  const scale = idle.seconds > 0 ? work.seconds / idle.seconds : 0;
  const out = { seconds: work.seconds };
  for (const k of [...KINDS, 'host']) {
    out[k] = {
      cpuS: Math.max(0, work[k].cpuS - idle[k].cpuS * scale),
      ctx: Math.max(0, work[k].ctx - idle[k].ctx * scale),
    };
  }
  return out;
}

/** The host's work per unit moved: CPU seconds per GB (1e9 bytes), CPU ms per 1000 packets, context switches per packet. */
export function perUnit(work, { bytes, packets }) {
  return {
    cpuSPerGB: bytes > 0 ? work.host.cpuS / (bytes / 1e9) : null,
    cpuMsPer1000Pkts: packets > 0 ? (work.host.cpuS * 1e3) / (packets / 1e3) : null,
    ctxPerPkt: packets > 0 ? work.host.ctx / packets : null,
  };
}

/** `sockperf ping-pong` output: the percentiles it prints, in microseconds. */
export function parseSockperf(text) {
  // eslint-disable-next-line no-control-regex
  const plain = text.replace(/\x1b\[[0-9;]*m/g, '');
  const pct = (p) => {
    const m = new RegExp(`percentile ${p.replace('.', '\\.')} =\\s+([\\d.]+)`).exec(plain);
    if (!m) throw new Error(`no percentile ${p} in sockperf's output:\n${plain.slice(-600)}`);
    return Number(m[1]);
  };
  const n = /Total (\d+) observations/.exec(plain);
  const avg = /avg-(?:rtt|latency)=([\d.]+)/.exec(plain);
  return {
    p50: pct('50.000'),
    p99: pct('99.000'),
    avg: avg ? Number(avg[1]) : null,
    observations: n ? Number(n[1]) : null,
    rtt: /avg-rtt=/.test(plain),
  };
}

/** The aggregate `cpu ` line of /proc/stat: busy and total jiffies (idle and iowait are not busy). */
export function parseCpuLine(text) {
  const line = text.split('\n').find((l) => /^cpu\s/.test(l));
  if (!line) throw new Error('no "cpu" line in /proc/stat');
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - v[3] - v[4], total, softirq: v[6] };
}

/** The fraction of CPU time busy between two parseCpuLine()s. */
export function busyFraction(a, b) {
  const total = b.total - a.total;
  return total > 0 ? (b.busy - a.busy) / total : 0;
}

/** An interface's counters from `ip -s -j link show dev IF`. */
export function parseIpLink(json) {
  const [link] = JSON.parse(json);
  const s = link.stats64;
  return { rxPackets: s.rx.packets, rxBytes: s.rx.bytes, txPackets: s.tx.packets, txBytes: s.tx.bytes };
}
