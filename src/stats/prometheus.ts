// The snapshot as Prometheus metrics (prom-client, a private registry), named in
// node_exporter's style: kvmring_network_* for interfaces (as
// node_network_*), kvmring_xdp_* and kvmring_tc_* for the programs,
// kvmring_ring_* for ring0 with {device, peer} labels (peer: the slot, the
// host's number for the guest; kvmring_ring_peer_info names it), and
// kvmring_ring_queue_* with {device, queue} (queue: the index K of ethtool's
// qK_ and chK_ counters). samples() is the
// mapping; StatsMetrics renders it, reading the counters at each scrape.
import { Counter, Gauge, Registry } from 'prom-client';

import type { RingPeerCounters, StatsSnapshot } from '../gen/kvmring/v1/stats.js';
import { CONFLICT_KINDS } from '../peers/classify.js';

type Kind = 'counter' | 'gauge';

interface Spec {
  kind: Kind;
  help: string;
  labels: readonly string[];
}

const PEER = ['device', 'peer'] as const;
const QUEUE = ['device', 'queue'] as const;

/** Every metric: name -> kind, help and label names. */
export const METRICS = {
  kvmring_build_info: { kind: 'gauge', help: 'A metric with a constant 1 labeled by ringctl\'s version and Node.js\'s.', labels: ['version', 'nodejs'] },
  kvmring_source_up: { kind: 'gauge', help: 'Whether a counter source could be read at the last scrape (1) or not (0).', labels: ['source', 'device'] },

  kvmring_network_receive_packets_total: { kind: 'counter', help: 'Packets received by the interface.', labels: ['device'] },
  kvmring_network_receive_bytes_total: { kind: 'counter', help: 'Bytes received by the interface.', labels: ['device'] },
  kvmring_network_receive_drop_total: { kind: 'counter', help: 'Received packets the interface dropped.', labels: ['device'] },
  kvmring_network_receive_errs_total: { kind: 'counter', help: 'Receive errors of the interface.', labels: ['device'] },
  kvmring_network_transmit_packets_total: { kind: 'counter', help: 'Packets sent by the interface.', labels: ['device'] },
  kvmring_network_transmit_bytes_total: { kind: 'counter', help: 'Bytes sent by the interface.', labels: ['device'] },
  kvmring_network_transmit_drop_total: { kind: 'counter', help: 'Packets the interface dropped on transmit.', labels: ['device'] },
  kvmring_network_transmit_errs_total: { kind: 'counter', help: 'Transmit errors of the interface.', labels: ['device'] },

  kvmring_xdp_packets_total: { kind: 'counter', help: 'Packets through xdp_ring by verdict, summed over CPUs.', labels: ['device', 'action'] },
  kvmring_xdp_bytes_total: { kind: 'counter', help: 'Bytes through xdp_ring by verdict, summed over CPUs.', labels: ['device', 'action'] },
  kvmring_xdp_reason_packets_total: { kind: 'counter', help: 'Packets through xdp_ring by reason for the verdict.', labels: ['device', 'reason'] },
  kvmring_xdp_reason_bytes_total: { kind: 'counter', help: 'Bytes through xdp_ring by reason for the verdict.', labels: ['device', 'reason'] },
  kvmring_tc_packets_total: { kind: 'counter', help: 'Packets through tc_transparent (egress) by verdict, summed over CPUs.', labels: ['device', 'action'] },
  kvmring_tc_bytes_total: { kind: 'counter', help: 'Bytes through tc_transparent (egress) by verdict, summed over CPUs.', labels: ['device', 'action'] },
  kvmring_tc_reason_packets_total: { kind: 'counter', help: 'Packets through tc_transparent by reason for the verdict.', labels: ['device', 'reason'] },
  kvmring_tc_reason_bytes_total: { kind: 'counter', help: 'Bytes through tc_transparent by reason for the verdict.', labels: ['device', 'reason'] },

  kvmring_ring_transmit_no_peer_total: { kind: 'counter', help: 'Frames sent into the ring for a destination no live peer has.', labels: ['device'] },
  kvmring_ring_receive_packets_total: { kind: 'counter', help: 'Frames received from the peer over the ring.', labels: PEER },
  kvmring_ring_receive_bytes_total: { kind: 'counter', help: 'Bytes received from the peer over the ring.', labels: PEER },
  kvmring_ring_receive_drop_total: { kind: 'counter', help: 'Frames from the peer that were dropped.', labels: PEER },
  kvmring_ring_transmit_packets_total: { kind: 'counter', help: 'Frames sent to the peer over the ring.', labels: PEER },
  kvmring_ring_transmit_bytes_total: { kind: 'counter', help: 'Bytes sent to the peer over the ring.', labels: PEER },
  kvmring_ring_transmit_drop_total: { kind: 'counter', help: 'Frames for the peer that were dropped.', labels: PEER },
  kvmring_ring_kicks_total: { kind: 'counter', help: 'Doorbells rung for the peer.', labels: PEER },
  kvmring_ring_used_bytes: {
    kind: 'gauge',
    help: 'Bytes waiting in a ring: direction tx is the ring to the peer, rx the ring from it.',
    labels: [...PEER, 'direction'],
  },
  kvmring_ring_size_bytes: { kind: 'gauge', help: 'The size of each ring between this guest and the peer.', labels: PEER },
  kvmring_ring_transmit_events_total: {
    kind: 'counter',
    help: 'Events of the ring to the peer: full, bad_len, kicks, publishes, bad_index, resets, reset_follows.',
    labels: [...PEER, 'event'],
  },
  kvmring_ring_receive_events_total: {
    kind: 'counter',
    help: 'Events of the ring from the peer: bad_desc, bad_meta, dropped, bad_index, resets, reset_follows.',
    labels: [...PEER, 'event'],
  },
  kvmring_ring_receive_dropped_bytes_total: { kind: 'counter', help: 'Bytes skipped after a bad record header in the ring from the peer.', labels: PEER },
  kvmring_ring_peer_other_total: { kind: 'counter', help: 'Per-peer driver counters this ringctl does not name.', labels: [...PEER, 'counter'] },
  kvmring_ring_peer_info: {
    kind: 'gauge',
    help: 'A slot of the peer table (constant 1) with the roster\'s name and MAC, its state and generation.',
    labels: [...PEER, 'name', 'state', 'mac', 'generation'],
  },
  kvmring_ring_peer_up: { kind: 'gauge', help: 'Whether the peer is live (1) or dead (0).', labels: PEER },
  kvmring_ring_peer_heartbeat_age_seconds: { kind: 'gauge', help: 'Seconds since the peer\'s heartbeat last moved.', labels: PEER },
  kvmring_ring_peer_addrs_refused: {
    kind: 'gauge',
    help: 'Addresses the peer publishes outside its roster prefixes (ignored).',
    labels: PEER,
  },
  kvmring_ring_region_info: {
    kind: 'gauge',
    help: 'A region the host maps into this guest (constant 1): its PCI address, owner and readers (slots), and mode.',
    labels: ['device', 'region', 'pci', 'owner', 'readers', 'mode'],
  },
  kvmring_ring_polls_total: { kind: 'counter', help: 'NAPI polls of the ring device.', labels: ['device'] },
  kvmring_ring_irqs_total: { kind: 'counter', help: 'Doorbell interrupts of the ring device.', labels: ['device'] },
  kvmring_ring_queue_transmit_packets_total: { kind: 'counter', help: 'Frames sent on the queue pair, summed over the peers.', labels: QUEUE },
  kvmring_ring_queue_receive_packets_total: { kind: 'counter', help: 'Frames received on the queue pair, summed over the peers.', labels: QUEUE },
  kvmring_ring_queue_polls_total: { kind: 'counter', help: 'NAPI polls of the channel with the queue\'s index (none past the channel count).', labels: QUEUE },
  kvmring_ring_queue_irqs_total: { kind: 'counter', help: 'Interrupts of the queue\'s doorbell vector.', labels: QUEUE },
  kvmring_ring_xdp_packets_total: { kind: 'counter', help: 'Frames through the XDP program attached to the ring device, by verdict.', labels: ['device', 'action'] },
  kvmring_ring_receive_bad_meta_total: { kind: 'counter', help: 'Frames with inconsistent metadata.', labels: ['device'] },
  kvmring_ring_receive_alloc_fail_total: { kind: 'counter', help: 'Frames dropped for want of memory.', labels: ['device'] },
  kvmring_ring_receive_bad_source_total: { kind: 'counter', help: 'Frames whose source MAC was not their sender\'s roster MAC (dropped).', labels: ['device'] },
  kvmring_ring_receive_no_peer_total: { kind: 'counter', help: 'Frames from a slot that is no live peer (dropped).', labels: ['device'] },
  kvmring_ring_peer_events_total: { kind: 'counter', help: 'Peers that joined, died or left.', labels: ['device', 'event'] },
  kvmring_ring_mac_conflicts_total: { kind: 'counter', help: 'MACs peers published other than their roster MAC (each counted once; ignored).', labels: ['device'] },
  kvmring_ring_addr_conflicts_total: { kind: 'counter', help: 'Addresses peers published outside their roster prefixes (ignored).', labels: ['device'] },
  kvmring_peer_conflicts: {
    kind: 'gauge',
    help: 'Conflicts in the peer table now, by kind: claimed-mac, addrs-refused (claims beyond a roster entry, ignored), address, own-address (addresses mapped to no peer).',
    labels: ['device', 'kind'],
  },
  kvmring_ring_other_total: { kind: 'counter', help: 'Driver counters of the ring device this ringctl does not name.', labels: ['device', 'counter'] },
} as const satisfies Record<string, Spec>;

export type MetricName = keyof typeof METRICS;

export interface Sample {
  name: MetricName;
  labels: Record<string, string>;
  value: bigint | number;
}

const snake = (camel: string) => camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function peerSamples(labels: Record<string, string>, c: RingPeerCounters): Sample[] {
  const out: Sample[] = [
    { name: 'kvmring_ring_receive_packets_total', labels, value: c.rxPackets },
    { name: 'kvmring_ring_receive_bytes_total', labels, value: c.rxBytes },
    { name: 'kvmring_ring_receive_drop_total', labels, value: c.rxDropped },
    { name: 'kvmring_ring_transmit_packets_total', labels, value: c.txPackets },
    { name: 'kvmring_ring_transmit_bytes_total', labels, value: c.txBytes },
    { name: 'kvmring_ring_transmit_drop_total', labels, value: c.txDropped },
    { name: 'kvmring_ring_kicks_total', labels, value: c.kicks },
  ];
  for (const [k, v] of Object.entries(c.ringTx ?? {})) {
    if (typeof v !== 'bigint' || k === 'frames' || k === 'bytes') continue;
    out.push({ name: 'kvmring_ring_transmit_events_total', labels: { ...labels, event: snake(k) }, value: v });
  }
  for (const [k, v] of Object.entries(c.ringRx ?? {})) {
    if (typeof v !== 'bigint' || k === 'frames' || k === 'bytes') continue;
    if (k === 'droppedBytes') out.push({ name: 'kvmring_ring_receive_dropped_bytes_total', labels, value: v });
    else out.push({ name: 'kvmring_ring_receive_events_total', labels: { ...labels, event: snake(k) }, value: v });
  }
  for (const [k, v] of Object.entries(c.other)) out.push({ name: 'kvmring_ring_peer_other_total', labels: { ...labels, counter: k }, value: v });
  return out;
}

const STATE: Record<string, string> = {
  PEER_STATE_SELF: 'self',
  PEER_STATE_UP: 'up',
  PEER_STATE_DEAD: 'dead',
  PEER_STATE_FREE: 'free',
  PEER_STATE_UNSPECIFIED: 'unknown',
};

/** Every sample the snapshot gives, in METRICS' order within each source. */
export function samples(s: StatsSnapshot): Sample[] {
  const out: Sample[] = [{ name: 'kvmring_build_info', labels: { version: s.version, nodejs: process.versions.node }, value: 1 }];
  for (const i of s.interfaces) {
    out.push({ name: 'kvmring_source_up', labels: { source: 'interface', device: i.device }, value: i.error ? 0 : 1 });
    if (i.error) continue;
    const l = { device: i.device };
    out.push(
      { name: 'kvmring_network_receive_packets_total', labels: l, value: i.rxPackets },
      { name: 'kvmring_network_receive_bytes_total', labels: l, value: i.rxBytes },
      { name: 'kvmring_network_receive_drop_total', labels: l, value: i.rxDropped },
      { name: 'kvmring_network_receive_errs_total', labels: l, value: i.rxErrors },
      { name: 'kvmring_network_transmit_packets_total', labels: l, value: i.txPackets },
      { name: 'kvmring_network_transmit_bytes_total', labels: l, value: i.txBytes },
      { name: 'kvmring_network_transmit_drop_total', labels: l, value: i.txDropped },
      { name: 'kvmring_network_transmit_errs_total', labels: l, value: i.txErrors },
    );
  }
  for (const p of s.programs) {
    const tc = p.hook === 'HOOK_TC_EGRESS';
    out.push({ name: 'kvmring_source_up', labels: { source: tc ? 'tc' : 'xdp', device: p.device }, value: p.error ? 0 : 1 });
    if (p.error) continue;
    for (const v of p.verdicts) {
      const l = { device: p.device, action: v.name };
      out.push({ name: tc ? 'kvmring_tc_packets_total' : 'kvmring_xdp_packets_total', labels: l, value: v.packets });
      out.push({ name: tc ? 'kvmring_tc_bytes_total' : 'kvmring_xdp_bytes_total', labels: l, value: v.bytes });
    }
    for (const v of p.reasons) {
      const l = { device: p.device, reason: v.name };
      out.push({ name: tc ? 'kvmring_tc_reason_packets_total' : 'kvmring_xdp_reason_packets_total', labels: l, value: v.packets });
      out.push({ name: tc ? 'kvmring_tc_reason_bytes_total' : 'kvmring_xdp_reason_bytes_total', labels: l, value: v.bytes });
    }
  }
  const ring = s.ring;
  if (ring) {
    out.push({ name: 'kvmring_source_up', labels: { source: 'ring', device: ring.device }, value: ring.error ? 0 : 1 });
    if (!ring.error) {
      out.push({ name: 'kvmring_ring_transmit_no_peer_total', labels: { device: ring.device }, value: ring.txNoPeer });
      for (const kind of CONFLICT_KINDS) {
        const value = ring.conflicts.filter((c) => c.kind === kind).length;
        out.push({ name: 'kvmring_peer_conflicts', labels: { device: ring.device, kind }, value });
      }
      for (const r of ring.regions) {
        out.push({
          name: 'kvmring_ring_region_info',
          labels: { device: ring.device, region: String(r.region), pci: r.pci, owner: String(r.owner), readers: r.readers.join(','), mode: r.mode },
          value: 1,
        });
      }
      for (const p of ring.peers) {
        const l = { device: ring.device, peer: String(p.slot) };
        out.push({
          name: 'kvmring_ring_peer_info',
          labels: { ...l, name: p.name, state: STATE[p.state] ?? 'unknown', mac: p.mac, generation: String(p.generation) },
          value: 1,
        });
        if (p.state === 'PEER_STATE_SELF') continue;
        if (p.state === 'PEER_STATE_UP' || p.state === 'PEER_STATE_DEAD') {
          out.push({ name: 'kvmring_ring_peer_up', labels: l, value: p.state === 'PEER_STATE_UP' ? 1 : 0 });
          out.push({ name: 'kvmring_ring_peer_heartbeat_age_seconds', labels: l, value: p.heartbeatAgeMs / 1000 });
          out.push({ name: 'kvmring_ring_peer_addrs_refused', labels: l, value: p.addrsRefused });
        }
        if (p.counters) out.push(...peerSamples(l, p.counters));
        if (p.occupancy) {
          out.push(
            { name: 'kvmring_ring_used_bytes', labels: { ...l, direction: 'tx' }, value: p.occupancy.txUsedBytes },
            { name: 'kvmring_ring_used_bytes', labels: { ...l, direction: 'rx' }, value: p.occupancy.rxUsedBytes },
            { name: 'kvmring_ring_size_bytes', labels: l, value: p.occupancy.sizeBytes },
          );
        }
      }
      const c = ring.counters;
      if (c) {
        const dl = { device: ring.device };
        out.push(
          { name: 'kvmring_ring_polls_total', labels: dl, value: c.polls },
          { name: 'kvmring_ring_irqs_total', labels: dl, value: c.irqs },
          ...(['pass', 'drop', 'tx', 'redirect', 'aborted'] as const).map(
            (a): Sample => ({
              name: 'kvmring_ring_xdp_packets_total',
              labels: { ...dl, action: a },
              value: c[`xdp${a[0].toUpperCase()}${a.slice(1)}` as 'xdpPass'],
            }),
          ),
          { name: 'kvmring_ring_receive_bad_meta_total', labels: dl, value: c.rxBadMeta },
          { name: 'kvmring_ring_receive_alloc_fail_total', labels: dl, value: c.rxAllocFail },
          { name: 'kvmring_ring_receive_bad_source_total', labels: dl, value: c.rxBadSrc },
          { name: 'kvmring_ring_receive_no_peer_total', labels: dl, value: c.rxNoPeer },
          { name: 'kvmring_ring_peer_events_total', labels: { ...dl, event: 'joins' }, value: c.peerJoins },
          { name: 'kvmring_ring_peer_events_total', labels: { ...dl, event: 'deaths' }, value: c.peerDeaths },
          { name: 'kvmring_ring_peer_events_total', labels: { ...dl, event: 'leaves' }, value: c.peerLeaves },
          { name: 'kvmring_ring_mac_conflicts_total', labels: dl, value: c.macConflicts },
          { name: 'kvmring_ring_addr_conflicts_total', labels: dl, value: c.addrConflicts },
        );
        for (const [k, v] of Object.entries(c.other)) out.push({ name: 'kvmring_ring_other_total', labels: { ...dl, counter: k }, value: v });
      }
      for (const q of ring.queues) {
        const l = { device: ring.device, queue: String(q.index) };
        out.push(
          { name: 'kvmring_ring_queue_transmit_packets_total', labels: l, value: q.txPackets },
          { name: 'kvmring_ring_queue_receive_packets_total', labels: l, value: q.rxPackets },
          { name: 'kvmring_ring_queue_polls_total', labels: l, value: q.polls },
          { name: 'kvmring_ring_queue_irqs_total', labels: l, value: q.irqs },
        );
      }
    }
  }
  return out;
}

/**
 * A private registry holding every metric of METRICS. render() fills it from a
 * snapshot and prints it; scrapes are serialized, so each output is one
 * snapshot.
 */
export class StatsMetrics {
  readonly registry = new Registry();
  readonly #metrics = new Map<MetricName, Counter | Gauge>();
  #queue: Promise<unknown> = Promise.resolve();

  constructor() {
    for (const [name, spec] of Object.entries(METRICS) as [MetricName, Spec][]) {
      const config = { name, help: spec.help, labelNames: [...spec.labels], registers: [this.registry] };
      this.#metrics.set(name, spec.kind === 'counter' ? new Counter(config) : new Gauge(config));
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  #fill(s: StatsSnapshot): void {
    for (const m of this.#metrics.values()) m.reset();
    for (const x of samples(s)) {
      const m = this.#metrics.get(x.name);
      if (!m) throw new Error(`metric ${x.name} was never registered`);
      const v = Number(x.value);
      if (m instanceof Counter) m.inc(x.labels, v);
      else m.set(x.labels, v);
    }
  }

  /** The exposition text of `read()`'s snapshot, read now. */
  render(read: () => StatsSnapshot): Promise<string> {
    const run = this.#queue.then(async () => {
      this.#fill(read());
      return this.registry.metrics();
    });
    this.#queue = run.catch(() => {});
    return run;
  }
}
