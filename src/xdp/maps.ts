// Filling and reading the programs' maps: the ring device, the inter-domain
// subnets, the peers, the stats. Works on any map fd (a freshly loaded object's
// or a pinned one), so the controller can come back later and resync.
import { BpfMapFd } from '../libbpf/index.js';
import { compareCidr, formatIp, formatMac, parseIp, parseMac, type Cidr, type IpAddress } from './cidr.js';
import {
  CONSTANTS,
  decodePeer,
  decodePeerKey,
  decodeSubnetKey,
  encodePeer,
  encodePeerKey,
  encodeSubnetKey,
  encodeU32,
  sumStats,
  type Stat,
} from './codecs.js';
import { pinPaths } from './pins.js';

/** The map operations the sync functions use: a BpfMapFd, or a stand-in in tests. */
export type MapLike = Pick<BpfMapFd, 'keys' | 'entries' | 'lookup' | 'update' | 'delete'>;

/** Points ring_dev's one slot at the ring device. */
export function setRingDevice(dev: MapLike, ifindex: number): void {
  dev.update(encodeU32(CONSTANTS.RING_DEV_KEY), encodeU32(ifindex));
}

/** ring0's ifindex as ring_dev holds it, or undefined if the slot is empty. */
export function readRingDevice(dev: MapLike): number | undefined {
  const v = dev.lookup(encodeU32(CONSTANTS.RING_DEV_KEY));
  return v ? v.readUInt32LE(0) : undefined;
}

/** Makes the two tries hold exactly `subnets`. */
export function syncSubnets(v4: MapLike, v6: MapLike, subnets: readonly Cidr[]): void {
  const id = (family: number, key: Buffer) => `${family}/${key.toString('hex')}`;
  const want = new Set(subnets.map((c) => id(c.family, encodeSubnetKey(c).key)));
  for (const [family, map] of [
    [4, v4],
    [6, v6],
  ] as const) {
    for (const key of [...map.keys()]) if (!want.has(id(family, key))) map.delete(key);
  }
  for (const c of subnets) (c.family === 4 ? v4 : v6).update(encodeSubnetKey(c).key, encodeU32(0));
}

/** The subnets in the tries, sorted. */
export function readSubnets(v4: MapLike, v6: MapLike): Cidr[] {
  const out = [...v4.keys()].map((k) => decodeSubnetKey(4, k));
  out.push(...[...v6.keys()].map((k) => decodeSubnetKey(6, k)));
  return out.sort(compareCidr);
}

/** A co-resident peer as ring0's peer table describes it. */
export interface RedirectPeer {
  /** Its slot: the host's number for the guest. */
  slot?: number;
  /** The host's name for the guest (for people; the map does not hold it). */
  name?: string;
  /** Its MAC on ring0, the roster's. */
  ringMac: string;
  /** Addresses reachable over the ring (its ring0 addresses). */
  addresses: readonly string[];
  /** Its ordinary (eth1) addresses: transparent mode diverts traffic for these. */
  ordinaryAddresses?: readonly string[];
}

export interface PeerSyncResult {
  added: number;
  updated: number;
  removed: number;
  /** Entries left out, with why: bad address or MAC, claimed twice, no room. */
  rejected: string[];
}

export interface PeerMapEntry {
  address: string;
  ringMac: string;
  slot: number;
  ring: boolean;
  ordinary: boolean;
}

/**
 * Makes ring_peers hold exactly the addresses of `peers`. They come from
 * ring0's peer table: MACs from the host's roster, addresses the roster's
 * prefixes allow, which the peers published. A bad address or MAC is left out
 * and reported rather than thrown, and so is an address two peers hold (guests
 * of two groups may have overlapping prefixes). Such an address goes to
 * neither: which of them owns it is exactly what we cannot tell, and giving it
 * to one (the lower slot, say) would hand the traffic to whoever published it.
 */
export function syncPeers(map: MapLike, peers: readonly RedirectPeer[]): PeerSyncResult {
  const { want, rejected } = peerEntries(peers);
  const result: PeerSyncResult = { added: 0, updated: 0, removed: 0, rejected };
  const have = new Map<string, Buffer>();
  for (const [key, value] of [...map.entries()]) {
    const k = formatIp(decodePeerKey(key));
    if (want.has(k)) have.set(k, value);
    else if (map.delete(key)) result.removed++;
  }
  writeEntries(map, want, have, result);
  return result;
}

/**
 * Makes ring_peers, which holds what syncPeers() or updatePeers() made of
 * `before`, hold what they make of `peers`: writes and deletes only the entries
 * that differ, without reading the map (an event's round: the map is a few
 * syscalls instead of a walk of every entry). A map someone else changed since
 * is repaired by the next syncPeers().
 */
export function updatePeers(map: MapLike, before: readonly RedirectPeer[], peers: readonly RedirectPeer[]): PeerSyncResult {
  const old = peerEntries(before).want;
  const { want, rejected } = peerEntries(peers);
  const result: PeerSyncResult = { added: 0, updated: 0, removed: 0, rejected };
  const have = new Map<string, Buffer>();
  for (const [k, { key, value }] of old) {
    if (want.has(k)) have.set(k, value);
    else if (map.delete(key)) result.removed++;
  }
  writeEntries(map, want, have, result);
  return result;
}

/** Writes the entries of `want` whose value is not already `have`'s, counting them in `result`. */
function writeEntries(map: MapLike, want: ReadonlyMap<string, PeerEntry>, have: ReadonlyMap<string, Buffer>, result: PeerSyncResult): void {
  for (const [k, { key, value }] of want) {
    const old = have.get(k);
    if (old && old.equals(value)) continue;
    map.update(key, value);
    if (old) result.updated++;
    else result.added++;
  }
}

interface PeerEntry {
  key: Buffer;
  value: Buffer;
}

/** The ring_peers entries `peers` make, by formatted address, and what was left out. */
function peerEntries(peers: readonly RedirectPeer[]): { want: Map<string, PeerEntry>; rejected: string[] } {
  const rejected: string[] = [];
  const claims = new Map<string, { addr: IpAddress; flags: number; slot: number; mac: Buffer; by: Set<string> }>();
  const sorted = [...peers].sort((a, b) => (a.slot ?? 0) - (b.slot ?? 0));
  for (const p of sorted) {
    const slot = p.slot ?? 0;
    let mac: Buffer;
    try {
      mac = parseMac(p.ringMac);
    } catch {
      rejected.push(`peer ${slot}: bad ring MAC ${JSON.stringify(p.ringMac)}`);
      continue;
    }
    // The same peer listed twice is one claimant.
    const who = `${slot} ${formatMac(mac)}`;
    const add = (s: string, flag: number) => {
      const addr = parseIp(s);
      if (!addr) {
        rejected.push(`peer ${slot}: bad address ${JSON.stringify(s)}`);
        return;
      }
      const k = formatIp(addr);
      const c = claims.get(k);
      if (!c) claims.set(k, { addr, flags: flag, slot, mac, by: new Set([who]) });
      else if (c.by.has(who)) c.flags |= flag;
      else c.by.add(who);
    };
    for (const a of p.addresses) add(a, CONSTANTS.RING_PEER_F_RING);
    for (const a of p.ordinaryAddresses ?? []) add(a, CONSTANTS.RING_PEER_F_ORDINARY);
  }
  const want = new Map<string, { key: Buffer; value: Buffer }>();
  for (const [k, c] of claims) {
    if (c.by.size > 1) {
      const slots = [...c.by].map((w) => w.split(' ')[0]);
      rejected.push(`${k}: claimed by peers ${slots.join(', ')}; left to none of them`);
      continue;
    }
    if (want.size >= CONSTANTS.RING_PEERS_MAX) {
      rejected.push(`peer ${c.slot}: ${k} left out: ring_peers holds ${CONSTANTS.RING_PEERS_MAX} addresses`);
      continue;
    }
    want.set(k, { key: encodePeerKey(c.addr), value: encodePeer({ ringMac: c.mac, flags: c.flags, slot: c.slot }) });
  }
  return { want, rejected };
}

/**
 * Syncs the peers of an attached interface through its pinned ring_peers (what
 * the controller calls whenever ring0's peer table changes).
 */
export function syncInterfacePeers(pinRoot: string, ifname: string, peers: readonly RedirectPeer[]): PeerSyncResult {
  return withPinnedPeers(pinRoot, ifname, (map) => syncPeers(map, peers));
}

function withPinnedPeers<T>(pinRoot: string, ifname: string, fn: (map: BpfMapFd) => T): T {
  const map = BpfMapFd.openPinned(pinPaths(pinRoot, ifname).maps.peers);
  try {
    return fn(map);
  } finally {
    map.close();
  }
}

/** updatePeers() through an attached interface's pinned ring_peers. */
export function updateInterfacePeers(
  pinRoot: string,
  ifname: string,
  before: readonly RedirectPeer[],
  peers: readonly RedirectPeer[],
): PeerSyncResult {
  return withPinnedPeers(pinRoot, ifname, (map) => updatePeers(map, before, peers));
}

/** ring_peers' entries, sorted by address. */
export function readPeers(map: MapLike): PeerMapEntry[] {
  const out: PeerMapEntry[] = [];
  for (const [key, value] of map.entries()) {
    const p = decodePeer(value);
    out.push({
      address: formatIp(decodePeerKey(key)),
      ringMac: formatMac(p.ringMac),
      slot: p.slot,
      ring: (p.flags & CONSTANTS.RING_PEER_F_RING) !== 0,
      ordinary: (p.flags & CONSTANTS.RING_PEER_F_ORDINARY) !== 0,
    });
  }
  return out.sort((a, b) => a.address.localeCompare(b.address));
}

/** Every counter of a per-CPU stats array, summed over the CPUs, by name. */
export function readStats<N extends string>(map: BpfMapFd, names: readonly N[]): Record<N, Stat> {
  const out = {} as Record<N, Stat>;
  names.forEach((name, i) => {
    const v = map.lookupPerCpu(encodeU32(i));
    out[name] = v ? sumStats(v) : { packets: 0n, bytes: 0n };
  });
  return out;
}
