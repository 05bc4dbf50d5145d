// bench:lab's results as a person reads them: one row per metric with eth1, ring0
// (ring0's addresses) and transparent (eth1's addresses steered into ring0) side by
// side, the table on stdout and the few lines the demo prints. svg.mjs draws the
// same rows. Pure: test/unit/bench-report.test.ts.

/** The paths, in the order they are shown. */
export const PATHS = [
  { key: 'eth1', label: 'eth1' },
  { key: 'ring0', label: 'ring0' },
  { key: 'transparent', label: 'transparent' },
];

/**
 * The metrics: label, unit, which way is better, and how to read it from one
 * path's results (lib/measure.mjs's LabBench.path()).
 */
export const METRICS = [
  { key: 'tcp1', label: 'TCP, 1 stream', unit: 'Gbit/s', better: 'higher', get: (p) => p.tcp1?.gbps },
  { key: 'tcp4', label: 'TCP, 4 streams', unit: 'Gbit/s', better: 'higher', get: (p) => p.tcp4?.gbps },
  { key: 'udp', label: 'UDP 64 B received', unit: 'kpps', better: 'higher', get: (p) => p.udp?.kpps },
  { key: 'udpDevice', label: "UDP 64 B at g2's device", unit: 'kpps', better: 'higher', get: (p) => p.udp?.deviceKpps },
  { key: 'rrP50', label: 'TCP RR p50', unit: 'µs', better: 'lower', get: (p) => p.rr?.p50 },
  { key: 'rrP99', label: 'TCP RR p99', unit: 'µs', better: 'lower', get: (p) => p.rr?.p99 },
  { key: 'rrBusyP50', label: 'TCP RR p50, busy poll', unit: 'µs', better: 'lower', get: (p) => p.rrBusy?.p50 },
  { key: 'rrBusyP99', label: 'TCP RR p99, busy poll', unit: 'µs', better: 'lower', get: (p) => p.rrBusy?.p99 },
  { key: 'rrCpu', label: 'g1 CPU busy, RR', unit: '%', better: 'lower', get: (p) => pct(p.rr?.guestBusy) },
  { key: 'rrBusyCpu', label: 'g1 CPU busy, RR busy poll', unit: '%', better: 'lower', get: (p) => pct(p.rrBusy?.guestBusy) },
  { key: 'hostGB1', label: 'host CPU per GB, TCP 1', unit: 's/GB', better: 'lower', host: true, get: (p) => p.tcp1?.host.cpuSPerGB },
  { key: 'hostGB4', label: 'host CPU per GB, TCP 4', unit: 's/GB', better: 'lower', host: true, get: (p) => p.tcp4?.host.cpuSPerGB },
  { key: 'hostKpkt1', label: 'host CPU per 1000 pkts, TCP 1', unit: 'ms', better: 'lower', host: true, get: (p) => p.tcp1?.host.cpuMsPer1000Pkts },
  { key: 'hostKpktUdp', label: 'host CPU per 1000 pkts, UDP', unit: 'ms', better: 'lower', host: true, get: (p) => p.udp?.host.cpuMsPer1000Pkts },
  { key: 'ctx1', label: 'host ctx switches per pkt, TCP 1', unit: '', better: 'lower', host: true, get: (p) => p.tcp1?.host.ctxPerPkt },
  { key: 'ctxUdp', label: 'host ctx switches per pkt, UDP', unit: '', better: 'lower', host: true, get: (p) => p.udp?.host.ctxPerPkt },
];

function pct(f) {
  return f === undefined || f === null ? undefined : f * 100;
}

/** b / a, or null when either is missing or a is zero. */
export function ratio(a, b) {
  if (!Number.isFinite(a) || !Number.isFinite(b) || a === 0) return null;
  return b / a;
}

/** A number in about three significant digits; '-' for none. */
export function fmt(v) {
  if (v === undefined || v === null || !Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  if (a >= 0.01) return v.toFixed(3);
  return v.toPrecision(2);
}

/** How busy each guest's CPU was ({ g1: 0.054, ... }): "g1 5.4%, g2 5.6%". */
export function busyText(busy) {
  return Object.entries(busy).map(([g, f]) => `${g} ${(100 * f).toFixed(1)}%`).join(', ');
}

/** One mode's rows: { metric, values: { eth1, ring0, transparent } } (a value may be undefined). */
export function metricRows(mode) {
  return METRICS.map((m) => ({
    metric: m,
    values: Object.fromEntries(PATHS.map(({ key }) => [key, mode.paths[key] ? m.get(mode.paths[key]) ?? undefined : undefined])),
  }));
}

function alignRows(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd());
}

/** One mode's table: every metric, eth1, ring0, ring0/eth1, and transparent with its ratio when measured. */
export function renderTable(mode) {
  const transparent = Boolean(mode.paths.transparent);
  const head = ['metric', 'eth1', 'ring0', 'ring0/eth1', ...(transparent ? ['transparent', 'transp./eth1'] : [])];
  const rows = [head];
  for (const { metric, values } of metricRows(mode)) {
    const label = metric.unit ? `${metric.label}, ${metric.unit}` : metric.label;
    rows.push([
      label,
      fmt(values.eth1),
      fmt(values.ring0),
      fmt(ratio(values.eth1, values.ring0)),
      ...(transparent ? [fmt(values.transparent), fmt(ratio(values.eth1, values.transparent))] : []),
    ]);
  }
  return alignRows(rows).join('\n');
}

/** The demo's few lines: TCP Gbit/s, RR p50, host CPU per GB and context switches per packet, eth1 against ring0. */
export function renderShort(mode) {
  const keys = ['tcp1', 'rrP50', 'hostGB1', 'ctx1'];
  const rows = [['', 'eth1', 'ring0', 'ring0/eth1']];
  for (const { metric, values } of metricRows(mode).filter((r) => keys.includes(r.metric.key))) {
    rows.push([metric.unit ? `${metric.label}, ${metric.unit}` : metric.label, fmt(values.eth1), fmt(values.ring0), fmt(ratio(values.eth1, values.ring0))]);
  }
  return alignRows(rows).join('\n');
}
