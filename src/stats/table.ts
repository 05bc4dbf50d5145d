// `ringctl stats` for people: one table of counters (interfaces, programs,
// ring0's own and per peer), with several queue pairs ring0's counters per
// queue index, ring0's peer table, its conflicts, and what could not be read. Error and drop counters that are zero are left out unless `all`; with a
// previous snapshot, rates per second beside each counter.
import type { RingPeer, RingPeerCounters, StatsSnapshot } from '../gen/kvmring/v1/stats.js';
import { describeConflict, namesOf, type Conflict } from '../peers/classify.js';
import { formatAge } from '../peers/table.js';

export interface CounterRow {
  source: 'interface' | 'xdp' | 'tc' | 'ring';
  device: string;
  /** A ring peer's slot, or ''. */
  peer: string;
  counter: string;
  packets: bigint;
  /** Counters of events, not frames, have no bytes. */
  bytes?: bigint;
  /** Shown even when zero. */
  always?: boolean;
}

const STATE_NAMES: Record<string, string> = {
  PEER_STATE_SELF: 'self',
  PEER_STATE_UP: 'up',
  PEER_STATE_DEAD: 'dead',
  PEER_STATE_FREE: 'free',
  PEER_STATE_UNSPECIFIED: '?',
};

const snake = (camel: string) => camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function peerRows(device: string, peer: string, c: RingPeerCounters): CounterRow[] {
  const row = (counter: string, packets: bigint, bytes?: bigint, always = false): CounterRow => ({
    source: 'ring',
    device,
    peer,
    counter,
    packets,
    bytes,
    always,
  });
  const rows = [row('rx', c.rxPackets, c.rxBytes, true), row('tx', c.txPackets, c.txBytes, true)];
  rows.push(row('rx_dropped', c.rxDropped), row('tx_dropped', c.txDropped), row('kicks', c.kicks));
  for (const [dir, ring] of [
    ['tx', c.ringTx],
    ['rx', c.ringRx],
  ] as const) {
    if (!ring) continue;
    for (const [k, v] of Object.entries(ring)) {
      if (k === 'frames' || k === 'bytes' || typeof v !== 'bigint') continue;
      rows.push(row(`ring_${dir}_${snake(k)}`, v));
    }
  }
  for (const [k, v] of Object.entries(c.other)) rows.push(row(k, v));
  return rows;
}

/** Every counter in the snapshot as a row, in the order the table shows them. */
export function counterRows(s: StatsSnapshot): CounterRow[] {
  const rows: CounterRow[] = [];
  for (const i of s.interfaces) {
    if (i.error) continue;
    const r = (counter: string, packets: bigint, bytes?: bigint, always = false): CounterRow => ({
      source: 'interface',
      device: i.device,
      peer: '',
      counter,
      packets,
      bytes,
      always,
    });
    rows.push(r('rx', i.rxPackets, i.rxBytes, true), r('tx', i.txPackets, i.txBytes, true));
    rows.push(r('rx_dropped', i.rxDropped), r('tx_dropped', i.txDropped), r('rx_errors', i.rxErrors), r('tx_errors', i.txErrors));
  }
  for (const p of s.programs) {
    if (p.error) continue;
    const source = p.hook === 'HOOK_TC_EGRESS' ? 'tc' : 'xdp';
    for (const v of p.verdicts) rows.push({ source, device: p.device, peer: '', counter: v.name, packets: v.packets, bytes: v.bytes, always: true });
    for (const v of p.reasons) rows.push({ source, device: p.device, peer: '', counter: `reason:${v.name}`, packets: v.packets, bytes: v.bytes });
  }
  const ring = s.ring;
  if (ring && !ring.error) {
    rows.push({ source: 'ring', device: ring.device, peer: '', counter: 'tx_no_peer', packets: ring.txNoPeer });
    for (const p of ring.peers) {
      if (!p.counters || p.state === 'PEER_STATE_SELF') continue;
      rows.push(...peerRows(ring.device, String(p.slot), p.counters));
    }
    for (const [k, v] of Object.entries(ring.counters ?? {})) {
      if (typeof v === 'bigint') rows.push({ source: 'ring', device: ring.device, peer: '', counter: snake(k), packets: v, always: k === 'polls' });
    }
    for (const [k, v] of Object.entries(ring.counters?.other ?? {})) rows.push({ source: 'ring', device: ring.device, peer: '', counter: k, packets: v });
  }
  return rows;
}

const rowKey = (r: CounterRow) => `${r.source}\0${r.device}\0${r.peer}\0${r.counter}`;

/** Left-aligned text and right-aligned number columns, two spaces apart. */
export function alignedTable(header: string[], rows: string[][], numeric: ReadonlySet<number>): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) => r.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]) : i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd() + '\n')
    .join('');
}

function rate(cur: bigint, prev: bigint | undefined, seconds: number): string {
  if (prev === undefined || seconds <= 0 || cur < prev) return '-';
  const r = Number(cur - prev) / seconds;
  return r >= 100 ? String(Math.round(r)) : r.toFixed(1);
}

/** One line per queue index, when ring0 has several queue pairs; with a previous snapshot, TX and RX rates. */
function queueTable(s: StatsSnapshot, previous: StatsSnapshot | undefined, seconds: number): string {
  const ring = s.ring;
  if (!ring || ring.error || ring.queues.length < 2) return '';
  const prev = new Map((previous?.ring?.queues ?? []).map((q) => [q.index, q]));
  const header = ['QUEUE', 'TX', 'RX', 'POLLS', 'IRQS'];
  if (previous) header.push('TX/S', 'RX/S');
  const rows = ring.queues.map((q) => {
    const cells = [String(q.index), String(q.txPackets), String(q.rxPackets), String(q.polls), String(q.irqs)];
    if (previous) cells.push(rate(q.txPackets, prev.get(q.index)?.txPackets, seconds), rate(q.rxPackets, prev.get(q.index)?.rxPackets, seconds));
    return cells;
  });
  return alignedTable(header, rows, new Set(previous ? [1, 2, 3, 4, 5, 6] : [1, 2, 3, 4]));
}

function peerTable(s: StatsSnapshot): string {
  const ring = s.ring;
  if (!ring || ring.error || !ring.peers.length) return '';
  return alignedTable(
    ['SLOT', 'NAME', 'STATE', 'GEN', 'MAC', 'HEARTBEAT', 'TX RING', 'RX RING', 'IPV4', 'IPV6'],
    ring.peers.map(peerRow),
    new Set([6, 7]),
  );
}

/** How full a ring is, in percent of its size; '-' when unknown. */
function fill(used: number | undefined, size: number | undefined): string {
  if (used === undefined || !size) return '-';
  const pct = (100 * used) / size;
  return `${pct.toFixed(pct && pct < 10 ? 1 : 0)}%`;
}

function peerRow(p: RingPeer): string[] {
  const age = p.state === 'PEER_STATE_UP' || p.state === 'PEER_STATE_DEAD' ? formatAge(p.heartbeatAgeMs) : '-';
  return [
    String(p.slot),
    p.name || '-',
    STATE_NAMES[p.state] ?? p.state,
    String(p.generation),
    p.mac || '-',
    age,
    fill(p.occupancy?.txUsedBytes, p.occupancy?.sizeBytes),
    fill(p.occupancy?.rxUsedBytes, p.occupancy?.sizeBytes),
    p.ipv4.join(',') || '-',
    p.ipv6.join(',') || '-',
  ];
}

/** A conflict and what ringctl makes of it. */
function conflictLine(c: Conflict, names: ReadonlyMap<string, string>): string {
  const text = describeConflict(c, undefined, names);
  return c.kind === 'address' || c.kind === 'own-address' ? `${text}; mapped to no peer` : text;
}

/** Every error in the snapshot, one line each. */
export function snapshotErrors(s: StatsSnapshot): string[] {
  const out: string[] = [];
  for (const i of s.interfaces) if (i.error) out.push(i.error);
  for (const p of s.programs) if (p.error) out.push(p.error);
  if (s.ring?.error) out.push(s.ring.error);
  out.push(...s.errors);
  return [...new Set(out)];
}

export interface RenderOptions {
  /** Show error and drop counters that are zero. */
  all?: boolean;
  /** The previous snapshot: adds rate columns. */
  previous?: StatsSnapshot;
}

/** The counters table, the queue and peer tables and the errors, as `ringctl stats` prints them. */
export function renderStats(s: StatsSnapshot, o: RenderOptions = {}): string {
  const rows = counterRows(s).filter((r) => o.all || r.always || r.packets !== 0n || (r.bytes ?? 0n) !== 0n);
  const prev = o.previous ? new Map(counterRows(o.previous).map((r) => [rowKey(r), r])) : undefined;
  const seconds = o.previous ? Number(s.timeUnixNano - o.previous.timeUnixNano) / 1e9 : 0;
  const header = ['SOURCE', 'DEVICE', 'PEER', 'COUNTER', 'PACKETS', 'BYTES'];
  if (prev) header.push('PACKETS/S', 'BYTES/S');
  const body = rows.map((r) => {
    const cells = [r.source, r.device, r.peer || '-', r.counter, String(r.packets), r.bytes === undefined ? '-' : String(r.bytes)];
    if (prev) {
      const p = prev.get(rowKey(r));
      cells.push(rate(r.packets, p?.packets, seconds), r.bytes === undefined ? '-' : rate(r.bytes, p?.bytes, seconds));
    }
    return cells;
  });
  let out = alignedTable(header, body, new Set(prev ? [4, 5, 6, 7] : [4, 5]));
  const queues = queueTable(s, o.previous, seconds);
  if (queues) out += `\n${queues}`;
  const peers = peerTable(s);
  if (peers) out += `\n${peers}`;
  const conflicts = s.ring && !s.ring.error ? s.ring.conflicts : [];
  if (conflicts.length) {
    const names = namesOf(s.ring?.peers ?? []);
    out += `\n${conflicts.map((c) => `conflict: ${conflictLine(c as Conflict, names)}`).join('\n')}\n`;
  }
  const errors = snapshotErrors(s);
  if (errors.length) out += `\n${errors.map((e) => `not read: ${e}`).join('\n')}\n`;
  return out;
}
