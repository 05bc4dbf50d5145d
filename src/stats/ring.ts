// ring0's counters and peer table as one RingStats: `ethtool -S ring0` names
// (tx_no_peer, r0_<counter>, r0_peerS_<peer counter>, r0_peerS_ring_tx_<x>,
// r0_peerS_ring_rx_<x>; ringnet's descriptor tables) matched to the proto's
// fields by name, so a counter the proto names is filled without code here, and
// one it does not name lands in `other`. Under ABI v2 ring0 serves one domain:
// its counters keep the r0_ prefix of ABI v1's first region, and S is a peer's
// slot, the host's number for the guest (each peer's counters are summed over
// its queue pairs). The two gauges r0_peerS_ring_{tx,rx}_used_bytes become the
// peer's occupancy. Per queue index K (summed over the peers) qK_tx_packets,
// qK_rx_packets, chK_polls and chK_irqs become RingStats.queues.
import type { Conflict } from '../peers/classify.js';
import type { TablePeer } from '../peers/table.js';
import {
  RingCounters as RingCountersCodec,
  RingPeerCounters as RingPeerCountersCodec,
  RingQueue as RingQueueCodec,
  RingRxCounters as RingRxCountersCodec,
  RingTxCounters as RingTxCountersCodec,
  type Codec,
  type PeerState,
  type RingCounters,
  type RingPeer,
  type RingPeerCounters,
  type RingQueue,
  type RingRxCounters,
  type RingStats,
  type RingTxCounters,
} from '../gen/kvmring/v1/stats.js';
import type { RegionInfo } from './sources.js';

/** ethtool's snake_case name -> the proto field's (camelCase) name, for a codec's uint64 fields. */
function counterFields(codec: Codec<unknown>): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of codec.type.fieldsArray) {
    if (f.type !== 'uint64' || f.map || f.repeated) continue;
    out.set(f.name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), f.name);
  }
  return out;
}

const RING_FIELDS = counterFields(RingCountersCodec);
const PEER_FIELDS = counterFields(RingPeerCountersCodec);
const TX_FIELDS = counterFields(RingTxCountersCodec);
const RX_FIELDS = counterFields(RingRxCountersCodec);
const QUEUE_FIELDS = counterFields(RingQueueCodec);

/** Queue indexes from here on are no ringnet's (it has KVMRING_QUEUES_MAX, 8): such names are ignored. */
export const QUEUE_INDEX_LIMIT = 4096;

/**
 * K and the RingQueue field of qK_tx_packets, qK_rx_packets, chK_polls or
 * chK_irqs, K as ringnet prints it (no leading zeros) and below
 * QUEUE_INDEX_LIMIT; undefined for any other name.
 */
export function queueStat(name: string): { index: number; field: string } | undefined {
  const m = /^q(0|[1-9]\d{0,3})_(tx_packets|rx_packets)$/.exec(name) ?? /^ch(0|[1-9]\d{0,3})_(polls|irqs)$/.exec(name);
  if (!m) return undefined;
  const index = Number(m[1]);
  const field = QUEUE_FIELDS.get(m[2]);
  return field && index < QUEUE_INDEX_LIMIT ? { index, field } : undefined;
}

const STATES: Record<TablePeer['state'], PeerState> = {
  self: 'PEER_STATE_SELF',
  up: 'PEER_STATE_UP',
  dead: 'PEER_STATE_DEAD',
  free: 'PEER_STATE_FREE',
};

/** A peer's counters as ringStats() builds them: both ring ends present. */
type PeerCounters = RingPeerCounters & { ringTx: RingTxCounters; ringRx: RingRxCounters };

export function emptyPeerCounters(): PeerCounters {
  const c = RingPeerCountersCodec.empty();
  return { ...c, ringTx: RingTxCountersCodec.empty(), ringRx: RingRxCountersCodec.empty() };
}

function set(target: object, field: string, value: bigint): void {
  (target as Record<string, bigint>)[field] = value;
}

function anyNonZero(c: RingPeerCounters): boolean {
  const values = (o: object | null) => (o ? Object.values(o).filter((v): v is bigint => typeof v === 'bigint') : []);
  return [...values(c), ...values(c.ringTx), ...values(c.ringRx), ...Object.values(c.other)].some((v) => v !== 0n);
}

export interface RingSources {
  device: string;
  /** ETHTOOL_GDRVINFO's driver and `ethtool -S`, or why they could not be read. */
  ethtool: { driver: string; stats: Map<string, bigint> } | Error;
  /** The peer table, or why it could not be read. */
  peers: TablePeer[] | Error;
  /** The regions, or why they could not be read. */
  regions: RegionInfo[] | Error;
  /** The peer table's conflicts (peers/classify.ts). */
  conflicts?: readonly Conflict[];
}

/** Builds ring0's entry from whatever of its sources could be read. */
export function ringStats(src: RingSources): RingStats {
  const counters: RingCounters = RingCountersCodec.empty();
  const ring: RingStats = {
    device: src.device,
    driver: '',
    txNoPeer: 0n,
    regions: [],
    conflicts: [...(src.conflicts ?? [])],
    counters,
    peers: [],
    queues: [],
    error: '',
  };
  // Each peer with its counters, which the proto's types make optional.
  const peers = new Map<number, { peer: RingPeer; counters: PeerCounters }>();
  const peerEntry = (slot: number) => {
    let e = peers.get(slot);
    if (!e) {
      const c = emptyPeerCounters();
      e = {
        peer: {
          slot,
          state: 'PEER_STATE_UNSPECIFIED',
          generation: 0,
          mac: '',
          heartbeatAgeMs: 0,
          ipv4: [],
          ipv6: [],
          counters: c,
          occupancy: null, // set by the ring_*_used_bytes gauges
          name: '',
          region: 0,
          claimedMac: '',
          addrsRefused: 0,
        },
        counters: c,
      };
      peers.set(slot, e);
    }
    return e;
  };

  const queues = new Map<number, RingQueue>();

  const errors: string[] = [];
  if (src.ethtool instanceof Error) errors.push(src.ethtool.message);
  else {
    ring.driver = src.ethtool.driver;
    for (const [name, value] of src.ethtool.stats) {
      if (name === 'tx_no_peer') {
        ring.txNoPeer = value;
        continue;
      }
      let m = /^r0_peer(\d{1,5})_(.+)$/.exec(name);
      if (m) {
        const e = peerEntry(Number(m[1]));
        const c = e.counters;
        const stat = m[2];
        const used = /^ring_(tx|rx)_used_bytes$/.exec(stat);
        if (used) {
          e.peer.occupancy ??= { txUsedBytes: 0, rxUsedBytes: 0, sizeBytes: 0 };
          e.peer.occupancy[used[1] === 'tx' ? 'txUsedBytes' : 'rxUsedBytes'] = Number(value);
          continue;
        }
        const tx = /^ring_tx_(.+)$/.exec(stat);
        const rx = /^ring_rx_(.+)$/.exec(stat);
        const field = PEER_FIELDS.get(stat);
        const txField = tx && TX_FIELDS.get(tx[1]);
        const rxField = rx && RX_FIELDS.get(rx[1]);
        if (field) set(c, field, value);
        else if (txField) set(c.ringTx, txField, value);
        else if (rxField) set(c.ringRx, rxField, value);
        else c.other[stat] = value;
        continue;
      }
      m = /^r0_(.+)$/.exec(name);
      if (m) {
        const field = RING_FIELDS.get(m[1]);
        if (field) set(counters, field, value);
        else counters.other[m[1]] = value;
        continue;
      }
      const q = queueStat(name);
      if (q) {
        let e = queues.get(q.index);
        if (!e) queues.set(q.index, (e = { ...RingQueueCodec.empty(), index: q.index }));
        set(e, q.field, value);
      }
      // Anything else is not ringnet's (a stand-in device in tests, a queue index
      // past QUEUE_INDEX_LIMIT): not ours to name.
    }
    ring.queues = [...queues.values()].sort((a, b) => a.index - b.index);
    if (ring.driver !== 'ringnet') errors.push(`${src.device} is not a ringnet device (driver ${ring.driver || 'unknown'})`);
  }

  let ringSize = 0;
  if (src.regions instanceof Error) {
    if (!errors.length) errors.push(src.regions.message);
  } else {
    ring.regions = [...src.regions].sort((a, b) => a.region - b.region);
    ringSize = ring.regions[0]?.ringSizeBytes ?? 0;
  }

  if (src.peers instanceof Error) {
    if (!errors.length) errors.push(src.peers.message);
  } else {
    for (const t of src.peers) {
      Object.assign(peerEntry(t.slot).peer, {
        state: STATES[t.state],
        generation: t.generation,
        mac: t.mac,
        heartbeatAgeMs: t.ageMs,
        ipv4: t.ipv4,
        ipv6: t.ipv6,
        name: t.name,
        region: t.region,
        claimedMac: t.claimedMac ?? '',
        addrsRefused: t.addrsRefused,
      });
    }
  }

  // Every slot that is not free, and free slots that still count something.
  for (const { peer: p, counters: c } of peers.values()) {
    const keep = (p.state !== 'PEER_STATE_FREE' && p.state !== 'PEER_STATE_UNSPECIFIED') || anyNonZero(c);
    if (!keep) continue;
    if (p.occupancy) p.occupancy.sizeBytes = ringSize;
    // Our own slot has no rings.
    if (p.state === 'PEER_STATE_SELF') p.occupancy = null;
    ring.peers.push(p);
  }
  ring.peers.sort((a, b) => a.slot - b.slot);
  ring.error = errors.join('; ');
  return ring;
}
