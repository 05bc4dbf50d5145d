// ring0's counters and peer table as one RingStats: `ethtool -S ring0` names
// (tx_no_peer, rN_<region counter>, rN_peerM_<peer counter>,
// rN_peerM_ring_tx_<x>, rN_peerM_ring_rx_<x>; ringnet's descriptor tables)
// matched to the proto's fields by name, so a counter the proto names is filled
// without code here, and one it does not name lands in `other`. The two gauges
// rN_peerM_ring_{tx,rx}_used_bytes become the peer's occupancy.
import type { Conflict } from '../peers/classify.js';
import type { TablePeer } from '../peers/table.js';
import {
  RingPeerCounters as RingPeerCountersCodec,
  RingRegionCounters as RingRegionCountersCodec,
  RingRxCounters as RingRxCountersCodec,
  RingTxCounters as RingTxCountersCodec,
  type Codec,
  type PeerState,
  type RingPeer,
  type RingPeerCounters,
  type RingRegion,
  type RingRegionCounters,
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

const REGION_FIELDS = counterFields(RingRegionCountersCodec);
const PEER_FIELDS = counterFields(RingPeerCountersCodec);
const TX_FIELDS = counterFields(RingTxCountersCodec);
const RX_FIELDS = counterFields(RingRxCountersCodec);

const STATES: Record<TablePeer['state'], PeerState> = {
  self: 'PEER_STATE_SELF',
  up: 'PEER_STATE_UP',
  dead: 'PEER_STATE_DEAD',
  free: 'PEER_STATE_FREE',
  refused: 'PEER_STATE_REFUSED',
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
  /** ringnet/regions, or why it could not be read. */
  regions: RegionInfo[] | Error;
  /** The peer table's conflicts (peers/classify.ts). */
  conflicts?: readonly Conflict[];
}

/** Builds ring0's entry from whatever of its sources could be read. */
export function ringStats(src: RingSources): RingStats {
  const ring: RingStats = { device: src.device, driver: '', txNoPeer: 0n, regions: [], conflicts: [...(src.conflicts ?? [])], error: '' };
  // Each entry with its counters, which the proto's types make optional.
  const regions = new Map<number, { region: RingRegion; counters: RingRegionCounters }>();
  const peers = new Map<string, { peer: RingPeer; counters: PeerCounters }>();
  const regionEntry = (n: number) => {
    let e = regions.get(n);
    if (!e) {
      const counters = RingRegionCountersCodec.empty();
      e = {
        region: { region: n, pci: '', sizeBytes: 0n, maxPeers: 0, ringSizeBytes: 0, selfSlot: 0, mode: '', counters, peers: [] },
        counters,
      };
      regions.set(n, e);
    }
    return e;
  };
  const region = (n: number): RingRegion => regionEntry(n).region;
  const peerEntry = (rn: number, slot: number) => {
    const id = `${rn}/${slot}`;
    let e = peers.get(id);
    if (!e) {
      const counters = emptyPeerCounters();
      e = {
        peer: {
          slot,
          state: 'PEER_STATE_UNSPECIFIED',
          generation: 0,
          mac: '',
          heartbeatAgeMs: 0,
          ipv4: [],
          ipv6: [],
          counters,
          occupancy: null, // set by the ring_*_used_bytes gauges (ringnet 0.1.0 on)
        },
        counters,
      };
      peers.set(id, e);
    }
    return e;
  };
  const peer = (rn: number, slot: number): RingPeer => peerEntry(rn, slot).peer;

  const errors: string[] = [];
  if (src.ethtool instanceof Error) errors.push(src.ethtool.message);
  else {
    ring.driver = src.ethtool.driver;
    for (const [name, value] of src.ethtool.stats) {
      if (name === 'tx_no_peer') {
        ring.txNoPeer = value;
        continue;
      }
      let m = /^r(\d{1,4})_peer(\d{1,5})_(.+)$/.exec(name);
      if (m) {
        const c = peerEntry(Number(m[1]), Number(m[2])).counters;
        const stat = m[3];
        const used = /^ring_(tx|rx)_used_bytes$/.exec(stat);
        if (used) {
          const p = peer(Number(m[1]), Number(m[2]));
          p.occupancy ??= { txUsedBytes: 0, rxUsedBytes: 0, sizeBytes: 0 };
          p.occupancy[used[1] === 'tx' ? 'txUsedBytes' : 'rxUsedBytes'] = Number(value);
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
      m = /^r(\d{1,4})_(.+)$/.exec(name);
      if (m) {
        const c = regionEntry(Number(m[1])).counters;
        const field = REGION_FIELDS.get(m[2]);
        if (field) set(c, field, value);
        else c.other[m[2]] = value;
      }
      // Anything else is not ringnet's (a stand-in device in tests): not ours to name.
    }
    if (ring.driver !== 'ringnet') errors.push(`${src.device} is not a ringnet device (driver ${ring.driver || 'unknown'})`);
  }

  if (src.regions instanceof Error) {
    if (!errors.length) errors.push(src.regions.message);
  } else {
    for (const info of src.regions) {
      const r = region(info.region);
      Object.assign(r, { ...info, counters: r.counters, peers: r.peers });
    }
  }

  if (src.peers instanceof Error) {
    if (!errors.length) errors.push(src.peers.message);
  } else {
    for (const t of src.peers) {
      region(t.region);
      const p = peer(t.region, t.slot);
      Object.assign(p, {
        state: STATES[t.state],
        generation: t.generation,
        mac: t.mac,
        heartbeatAgeMs: t.ageMs,
        ipv4: t.ipv4,
        ipv6: t.ipv6,
      });
    }
  }

  // Every slot that is not free, and free slots that still count something.
  for (const [id, { peer: p, counters }] of peers) {
    const rn = Number(id.split('/')[0]);
    const keep = (p.state !== 'PEER_STATE_FREE' && p.state !== 'PEER_STATE_UNSPECIFIED') || anyNonZero(counters);
    if (!keep) continue;
    if (p.occupancy) p.occupancy.sizeBytes = region(rn).ringSizeBytes;
    // Our own slot has no rings.
    if (p.state === 'PEER_STATE_SELF') p.occupancy = null;
    region(rn).peers.push(p);
  }
  ring.regions = [...regions.values()].map((e) => e.region).sort((a, b) => a.region - b.region);
  for (const r of ring.regions) r.peers.sort((a, b) => a.slot - b.slot);
  ring.error = errors.join('; ');
  return ring;
}
