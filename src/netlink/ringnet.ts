// The generic netlink family "ringnet" of ringnet.ko (spec:
// include/kvmring/ringnet.yaml; test/unit/netlink.test.ts checks these numbers
// against it): the peer table and the regions of a ring device as dumps, and
// the membership events of its "monitor" group.
//
// Under ABI v2 a peer's MAC and name are the host's roster's and its addresses
// those the roster's prefixes allow; what it claims beyond that comes as
// claimed-mac and addrs-refused. ringnet.ko fills the rows, but the addresses
// are still what another guest published: a slot whose attributes do not make
// sense is skipped and named in `problems`; only a message that does not parse
// as netlink at all is an error.
import { readFileSync } from 'node:fs';

import { formatIp, formatMac } from '../xdp/cidr.js';
import { RingctlError } from '../common/errors.js';
import { badName, notUnicastMac, type PeerState, type PeerTable, type TablePeer } from '../peers/table.js';
import { readerSlots } from '../ring/geometry.js';
import type { RegionInfo } from '../stats/sources.js';
import { asString, asU32, asU64, attrU32, byType, NLMSG_ERROR, parseGenl, type Attr, type GenlFamily, type GenlMessage } from './codec.js';
import { GenlSocket, NetlinkError } from './socket.js';

export const RINGNET_FAMILY_NAME = 'ringnet';
export const RINGNET_MCGRP_MONITOR = 'monitor';

/**
 * enum peer-state, in order. `refused` and the region mode `evicted` are ABI
 * v1's, which ringnet.ko no longer speaks: a row in that state is skipped.
 */
export const PEER_STATE_NAMES = ['free', 'self', 'up', 'dead', 'refused'] as const;
/** enum region-mode, in order. */
export const REGION_MODE_NAMES = ['plain', 'doorbell', 'evicted'] as const;

export const A_REGION = {
  pad: 1,
  ifindex: 2,
  index: 3,
  pci: 4,
  size: 5,
  maxPeers: 6,
  ringSize: 7,
  self: 8,
  selfGen: 9,
  mode: 10,
  instance: 11,
  ivposition: 12,
  owner: 13,
  readers: 14,
} as const;

export const A_PEER = {
  pad: 1,
  ifindex: 2,
  region: 3,
  slot: 4,
  state: 5,
  gen: 6,
  mac: 7,
  doorbellId: 8,
  heartbeatAgeMs: 9,
  ipv4: 10,
  ipv6: 11,
  txPackets: 12,
  txBytes: 13,
  txDropped: 14,
  rxPackets: 15,
  rxBytes: 16,
  rxDropped: 17,
  eventNs: 18,
  name: 19,
  claimedMac: 20,
  addrsRefused: 21,
} as const;

export const CMD = {
  regionGet: 1,
  peerGet: 2,
  peerJoinNtf: 3,
  peerLeaveNtf: 4,
  peerDeathNtf: 5,
  peerAliveNtf: 6,
  peerRefusedNtf: 7,
  peerUpdateNtf: 8,
} as const;

export const EVENT_NAMES: Partial<Record<number, PeerEventKind>> = {
  [CMD.peerJoinNtf]: 'peer-join',
  [CMD.peerLeaveNtf]: 'peer-leave',
  [CMD.peerDeathNtf]: 'peer-death',
  [CMD.peerAliveNtf]: 'peer-alive',
  [CMD.peerRefusedNtf]: 'peer-refused',
  [CMD.peerUpdateNtf]: 'peer-update',
};

export type PeerEventKind = 'peer-join' | 'peer-leave' | 'peer-death' | 'peer-alive' | 'peer-refused' | 'peer-update';

export interface PeerEvent {
  kind: PeerEventKind;
  ifindex: number;
  region: number;
  slot: number;
  /** The slot's state, or `refused` from a ringnet.ko of ABI v1 (its row does not decode). */
  state: PeerState | 'refused';
  generation: number;
  mac: string;
  /** CLOCK_MONOTONIC nanoseconds at which ringnet saw the change. */
  eventNs: bigint;
  /**
   * The slot decoded as decodePeerReply() decodes a dump's row, or why it does
   * not decode. Undefined for an event made by hand (tests).
   */
  row?: TablePeer | string;
  /**
   * Whether the event carries the whole row, addresses and counters too (what
   * ringnet.ko sends since its events became dump rows): an event without them
   * cannot patch a table, and starts a full round.
   */
  whole?: boolean;
}

/** Bounds on what a sane table holds (the ABI's are far lower). */
const REGIONS_MAX = 64;
const SLOTS_MAX = 4096;

function u32(one: Map<number, Attr>, type: number): number | undefined {
  const a = one.get(type);
  return a && a.data.length === 4 ? asU32(a) : undefined;
}

/** One peer-get reply as a TablePeer, or why not. */
export function decodePeerReply(g: GenlMessage): TablePeer | string {
  const { one, all } = byType(g.attrs);
  const region = u32(one, A_PEER.region);
  const slot = u32(one, A_PEER.slot);
  const stateN = u32(one, A_PEER.state);
  const generation = u32(one, A_PEER.gen);
  const mac = one.get(A_PEER.mac);
  if (region === undefined || region >= REGIONS_MAX) return `bad or missing region`;
  if (slot === undefined || slot >= SLOTS_MAX) return `slot ${slot ?? '(none)'}: bad or missing slot`;
  const at = `slot ${slot}`;
  if (stateN === undefined || stateN >= PEER_STATE_NAMES.length) return `${at}: bad state ${stateN ?? '(none)'}`;
  const stateName = PEER_STATE_NAMES[stateN];
  if (stateName === 'refused') return `${at}: state refused is ABI v1's (load the ringnet.ko of this ringctl)`;
  const state: PeerState = stateName;
  if (generation === undefined) return `${at}: no generation`;
  if (!mac || mac.data.length !== 6) return `${at}: bad MAC`;
  const unicast = notUnicastMac(state, mac.data);
  if (unicast) return `${at}: ${unicast}`;
  const ageMs = u32(one, A_PEER.heartbeatAgeMs) ?? 0;
  const ipv4: string[] = [];
  const ipv6: string[] = [];
  for (const a of all.get(A_PEER.ipv4) ?? []) {
    if (a.data.length !== 4) return `${at}: an IPv4 address of ${a.data.length} bytes`;
    ipv4.push(formatIp({ family: 4, bytes: Uint8Array.from(a.data) }));
  }
  for (const a of all.get(A_PEER.ipv6) ?? []) {
    if (a.data.length !== 16) return `${at}: an IPv6 address of ${a.data.length} bytes`;
    ipv6.push(formatIp({ family: 6, bytes: Uint8Array.from(a.data) }));
  }
  const nameA = one.get(A_PEER.name);
  const name = nameA ? asString(nameA.data) : '';
  const nameProblem = nameA ? badName(name) : undefined;
  if (nameProblem) return `${at}: ${nameProblem}`;
  const claimed = one.get(A_PEER.claimedMac);
  if (claimed && claimed.data.length !== 6) return `${at}: a claimed MAC of ${claimed.data.length} bytes`;
  const refused = one.get(A_PEER.addrsRefused);
  if (refused && refused.data.length !== 4) return `${at}: bad addrs-refused`;
  return {
    region,
    slot,
    state,
    generation,
    mac: formatMac(mac.data),
    name,
    ageMs: state === 'up' || state === 'dead' ? ageMs : 0,
    ipv4,
    ipv6,
    // A claim is whatever the peer wrote: any MAC, multicast or zero too.
    ...(claimed ? { claimedMac: formatMac(claimed.data) } : {}),
    addrsRefused: refused ? asU32(refused) : 0,
  };
}

/** One region-get reply, or why not. */
export function decodeRegion(g: GenlMessage): RegionInfo | string {
  const { one } = byType(g.attrs);
  const region = u32(one, A_REGION.index);
  const pci = one.get(A_REGION.pci);
  const size = one.get(A_REGION.size);
  const maxPeers = u32(one, A_REGION.maxPeers);
  const ringSize = u32(one, A_REGION.ringSize);
  const self = u32(one, A_REGION.self);
  const mode = u32(one, A_REGION.mode);
  const owner = u32(one, A_REGION.owner);
  const readers = u32(one, A_REGION.readers);
  if (
    region === undefined ||
    !pci ||
    !size ||
    size.data.length !== 8 ||
    maxPeers === undefined ||
    ringSize === undefined ||
    self === undefined ||
    owner === undefined ||
    readers === undefined
  ) {
    return `region ${region ?? '?'}: missing attributes (owner and readers are ABI v2's: load the ringnet.ko of this ringctl)`;
  }
  return {
    region,
    pci: asString(pci.data),
    sizeBytes: asU64(size),
    maxPeers,
    ringSizeBytes: ringSize,
    selfSlot: self,
    mode: mode !== undefined && mode < REGION_MODE_NAMES.length ? REGION_MODE_NAMES[mode] : `mode ${mode ?? '?'}`,
    owner,
    readers: readerSlots(readers),
  };
}

/** One notification of the monitor group, or undefined if it is none of ours. */
export function decodeEvent(g: GenlMessage): PeerEvent | undefined {
  const kind = EVENT_NAMES[g.cmd];
  if (!kind) return undefined;
  const { one } = byType(g.attrs);
  const stateN = u32(one, A_PEER.state);
  const mac = one.get(A_PEER.mac);
  const ns = one.get(A_PEER.eventNs);
  return {
    kind,
    ifindex: u32(one, A_PEER.ifindex) ?? 0,
    region: u32(one, A_PEER.region) ?? 0,
    slot: u32(one, A_PEER.slot) ?? 0,
    state: stateN !== undefined && stateN < PEER_STATE_NAMES.length ? PEER_STATE_NAMES[stateN] : 'free',
    generation: u32(one, A_PEER.gen) ?? 0,
    mac: mac && mac.data.length === 6 ? formatMac(mac.data) : '00:00:00:00:00:00',
    eventNs: ns && ns.data.length === 8 ? asU64(ns) : 0n,
    row: decodePeerReply(g),
    // Every slot but our own (never an event's) has counters in a dump's row.
    whole: one.has(A_PEER.txPackets),
  };
}

/** Sorts and de-duplicates decoded peers, naming the bad and the repeated. */
export function peerTableOf(replies: readonly GenlMessage[]): PeerTable {
  const peers: TablePeer[] = [];
  const problems: string[] = [];
  const seen = new Set<number>();
  for (const g of replies) {
    const p = decodePeerReply(g);
    if (typeof p === 'string') {
      problems.push(`${p}; skipped`);
      continue;
    }
    if (seen.has(p.slot)) {
      problems.push(`slot ${p.slot} listed twice; skipped`);
      continue;
    }
    seen.add(p.slot);
    peers.push(p);
  }
  return { peers, problems };
}

/** ringnet's family, or undefined when ringnet.ko is not loaded. Its id changes with each load: asked every time. */
function ringnetFamily(s: GenlSocket): GenlFamily | undefined {
  return s.family(RINGNET_FAMILY_NAME);
}

/** The device's ifindex from sysfs (no koffi needed), or undefined. */
function ifNameToIndex(name: string): number | undefined {
  if (!/^[^/\s]{1,15}$/.test(name) || name === '.' || name === '..') return undefined;
  try {
    const n = Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

const ENODEV = 19;

function withSocket<T>(fn: (s: GenlSocket) => T): T {
  const s = GenlSocket.open();
  try {
    return fn(s);
  } finally {
    s.close();
  }
}

/**
 * `ring`'s peer table over genetlink; undefined when `ring` exists but is not a
 * ringnet device (a stand-in). Throws RingctlError when there is no such device
 * or ringnet.ko is not loaded.
 */
export function dumpPeers(ring: string): PeerTable | undefined {
  const ifindex = ifNameToIndex(ring);
  if (ifindex === undefined) throw new RingctlError(`${ring} not found: is ringnet.ko loaded?`);
  return withSocket((s) => {
    const f = ringnetFamily(s);
    if (!f) return undefined;
    try {
      const replies = s.dump(f, CMD.peerGet, [attrU32(A_PEER.ifindex, ifindex)], `${ring}'s peer table (genetlink ringnet peer-get)`);
      return { ...peerTableOf(replies), ifindex };
    } catch (err) {
      if (err instanceof NetlinkError && err.errno === ENODEV) return undefined;
      if (err instanceof NetlinkError) throw new RingctlError(err.message, { cause: err });
      throw err;
    }
  });
}

/** `ring`'s regions over genetlink, and problems with them. Throws RingctlError. */
export function dumpRegions(ring: string): { regions: RegionInfo[]; problems: string[] } {
  const ifindex = ifNameToIndex(ring);
  if (ifindex === undefined) throw new RingctlError(`${ring} not found`);
  return withSocket((s) => {
    const f = ringnetFamily(s);
    if (!f) throw new RingctlError(`${ring}: ringnet.ko is not loaded (no genetlink family ringnet)`);
    let replies: GenlMessage[];
    try {
      replies = s.dump(f, CMD.regionGet, [attrU32(A_REGION.ifindex, ifindex)], `${ring}'s regions (genetlink ringnet region-get)`);
    } catch (err) {
      if (err instanceof NetlinkError) throw new RingctlError(err.message, { cause: err });
      throw err;
    }
    const regions: RegionInfo[] = [];
    const problems: string[] = [];
    for (const g of replies) {
      const r = decodeRegion(g);
      if (typeof r === 'string') problems.push(r);
      else regions.push(r);
    }
    return { regions, problems };
  });
}

export interface PeerMonitor {
  stop(): Promise<void>;
}

/**
 * Listens to ringnet's monitor group: `onEvent` for every membership event,
 * `onOverrun` when some were lost (resync). Undefined when ringnet.ko is not
 * loaded. The events of every ringnet device in this network namespace.
 */
export function monitorPeers(
  onEvent: (e: PeerEvent) => void,
  onOverrun: () => void,
  onError: (err: Error) => void,
): PeerMonitor | undefined {
  const s = GenlSocket.open();
  try {
    const f = ringnetFamily(s);
    const group = f?.groups.get(RINGNET_MCGRP_MONITOR);
    if (!f || group === undefined) {
      s.close();
      return undefined;
    }
    s.join(group, `genetlink group ringnet/${RINGNET_MCGRP_MONITOR}`);
    s.listen(
      (msgs) => {
        for (const m of msgs) {
          if (m.type !== f.id || m.type === NLMSG_ERROR) continue;
          const e = decodeEvent(parseGenl(m.payload));
          if (e) onEvent(e);
        }
      },
      onOverrun,
      onError,
    );
  } catch (err) {
    s.close();
    throw err;
  }
  return {
    async stop() {
      s.close();
      await s.closed();
    },
  };
}
