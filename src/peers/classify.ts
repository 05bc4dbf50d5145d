// From ring0's peer table to the peers an attached interface's ring_peers map
// should hold. Only live ("up") peers are mapped; a refused one (ringnet turned
// down the MAC its generation claims) never is, but its claims still count. A peer's addresses are sorted by
// where they are, not by the order it published them in (which it controls):
//   - inside ring0's own subnets or the inter-domain subnets: a ring address;
//   - inside the attached interface's own subnets: an ordinary address, which
//     transparent mode diverts into the ring (only when transparent mode is on);
//   - anywhere else: not ours to divert (the peer's other networks), left out.
// Anything that would let a peer capture traffic that is not its own is left
// out and reported: addresses that are not unicast, and conflicts (see
// findConflicts): an address of this guest or one two peers claim goes to no
// peer, a peer whose MAC is ring0's or another live peer's gets nothing, and a
// refused peer is a conflict of its own.
// Every peer publishes its own identity in memory any co-tenant can write, so
// a claim nobody contradicts is all we have; a contradicted one is worth nothing.
import { formatCidr, formatIp, networkOf, parseIp, type Cidr, type IpAddress } from '../xdp/cidr.js';
import type { RedirectPeer } from '../xdp/maps.js';
import type { LocalAddress } from './local.js';
import type { TablePeer } from './table.js';

export interface ClassifyContext {
  /** ring0's own subnets and the attachment's inter-domain subnets. */
  ringSubnets: readonly Cidr[];
  /** The attached interface's own subnets (where ordinary addresses live). */
  ifaceSubnets: readonly Cidr[];
  /** This guest's own addresses, formatted. */
  local: ReadonlySet<string>;
  /** Include ordinary addresses (transparent mode). */
  ordinary: boolean;
}

export interface Classified {
  peers: RedirectPeer[];
  /** What was left out and why, one line each. */
  skipped: string[];
  /** The conflicts that left something out. */
  conflicts: Conflict[];
}

/**
 * Two claims to one identity, or a claim to this guest's:
 *   address      an address two or more peers publish: it goes to none of them;
 *   own-address  an address of this guest (any interface) a peer publishes: ignored;
 *   mac          a MAC two live peers publish: neither gets any address;
 *   own-mac      ring0's own MAC published by a peer: it gets no address;
 *   refused      a MAC ringnet refused to a peer (an invalid MAC, ring0's own or
 *                a live peer's): ringnet sends it nothing, it gets no address.
 */
export const CONFLICT_KINDS = ['address', 'own-address', 'mac', 'own-mac', 'refused'] as const;
export type ConflictKind = (typeof CONFLICT_KINDS)[number];

export interface Conflict {
  kind: ConflictKind;
  /** The address or MAC claimed. */
  value: string;
  /** The peers that claim it ("slot", or "region/slot" beyond region 0), in table order. */
  peers: string[];
}

export function inCidr(c: Cidr, a: IpAddress): boolean {
  if (c.family !== a.family) return false;
  const net = networkOf(a, c.prefix);
  return net.every((b, i) => b === c.bytes[i]);
}

/** The subnet an interface address is on (host bits cleared). */
export function subnetOf(a: Cidr): Cidr {
  return { family: a.family, bytes: networkOf(a, a.prefix), prefix: a.prefix };
}

/** Unique subnets, in a stable order. */
export function uniqueSubnets(list: readonly Cidr[]): Cidr[] {
  const seen = new Map<string, Cidr>();
  for (const c of list) seen.set(formatCidr(c), c);
  return [...seen.values()];
}

/** Why `a` cannot be a peer's address (not a unicast, globally meaningful one), or undefined. */
export function notUnicast(a: IpAddress): string | undefined {
  const b = a.bytes;
  if (a.family === 4) {
    if (b[0] === 0) return 'an unspecified ("this network") address';
    if (b[0] === 127) return 'a loopback address';
    if (b[0] >= 224) return b[0] < 240 ? 'a multicast address' : 'a reserved or broadcast address';
    if (b[0] === 169 && b[1] === 254) return 'a link-local address';
    return undefined;
  }
  if (b.every((x) => x === 0)) return 'the unspecified address';
  if (b.subarray(0, 15).every((x) => x === 0) && b[15] === 1) return 'the loopback address';
  if (b[0] === 0xff) return 'a multicast address';
  if (b[0] === 0xfe && (b[1] & 0xc0) === 0x80) return 'a link-local address';
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return 'an IPv4-mapped address';
  return undefined;
}

/** The context for interface `ifname` with ring device `ring`, from this guest's addresses. */
export function contextFor(
  local: readonly LocalAddress[],
  opts: { ifname: string; ring: string; subnets: readonly Cidr[]; transparent: boolean },
): ClassifyContext {
  const on = (name: string) => local.filter((a) => a.ifname === name).map(subnetOf);
  return {
    ringSubnets: uniqueSubnets([...on(opts.ring), ...opts.subnets]),
    ifaceSubnets: uniqueSubnets(on(opts.ifname)),
    local: new Set(local.map((a) => formatIp(a))),
    ordinary: opts.transparent,
  };
}

/** How a peer is named in notes and conflicts: its slot, with its region beyond region 0. */
export function peerName(p: Pick<TablePeer, 'region' | 'slot'>): string {
  return p.region ? `${p.region}/${p.slot}` : String(p.slot);
}

/** The peers of `table` in `states` (default: the live ones), in (region, slot) order. */
function livePeers(table: readonly TablePeer[], states: readonly TablePeer['state'][] = ['up']): TablePeer[] {
  return table.filter((p) => states.includes(p.state)).sort((a, b) => a.region - b.region || a.slot - b.slot);
}

/** A peer's addresses that parse and are unicast, canonical. */
function unicastAddresses(p: TablePeer): { text: string; addr: IpAddress }[] {
  const out: { text: string; addr: IpAddress }[] = [];
  for (const s of [...p.ipv4, ...p.ipv6]) {
    const addr = parseIp(s);
    if (addr && !notUnicast(addr)) out.push({ text: formatIp(addr), addr });
  }
  return out;
}

/**
 * The conflicts among the live peers of `table`. `local` are this guest's own
 * addresses; `relevant` says which addresses could be mapped at all: a private
 * network every guest has (docker's 172.17.0.1, say) is nobody's to divert, and
 * two claims to it are no conflict.
 *
 * One guest in several regions publishes the same MAC in each: entries with
 * one MAC in different regions are that one guest when they publish the same
 * addresses (an entry with none, between two of the driver's updates, agrees
 * with anything). Otherwise, and always within one region, a MAC two entries
 * publish is a conflict: ringnet sends a frame for it to the first it finds.
 *
 * A refused entry is a conflict of kind refused: ringnet gave its MAC to
 * nobody, or to the live peer that holds it (which keeps it), and sends the
 * refused one nothing. Its addresses are still claims that contradict others'.
 * ringnet refuses one guest's entry in a second region the MAC of its entry in
 * the first: such an entry (the same MAC, another region, the same addresses or
 * none) is that guest, not a conflict.
 */
export function findConflicts(
  table: readonly TablePeer[],
  opts: { local: ReadonlySet<string>; relevant: (a: IpAddress) => boolean },
): Conflict[] {
  const conflicts: Conflict[] = [];
  const selfMacs = new Set(table.filter((p) => p.state === 'self').map((p) => p.mac));
  const byMac = new Map<string, TablePeer[]>();
  for (const p of livePeers(table, ['up', 'refused'])) byMac.set(p.mac, [...(byMac.get(p.mac) ?? []), p]);

  // Claimants of addresses: a guest (one MAC, one identity), or each entry of a contested MAC.
  const claimants: TablePeer[][] = [];
  for (const [mac, group] of byMac) {
    const sets = group.map((p) => unicastAddresses(p).map((a) => a.text).sort().join(',')).filter((s) => s !== '');
    const oneGuest = new Set(group.map((p) => p.region)).size === group.length && new Set(sets).size <= 1;
    const live = group.filter((p) => p.state === 'up');
    const refused = group.filter((p) => p.state === 'refused');
    if (live.length && selfMacs.has(mac)) conflicts.push({ kind: 'own-mac', value: mac, peers: live.map(peerName) });
    else if (live.length > 1 && !oneGuest) conflicts.push({ kind: 'mac', value: mac, peers: live.map(peerName) });
    // Refused entries beside a live one of the same guest (other regions) are that guest.
    if (refused.length && !(oneGuest && live.length && !selfMacs.has(mac))) {
      conflicts.push({ kind: 'refused', value: mac, peers: refused.map(peerName) });
    }
    if (oneGuest) claimants.push(group);
    else claimants.push(...group.map((p) => [p]));
  }

  const claims = new Map<string, Set<TablePeer[]>>();
  for (const c of claimants) {
    for (const p of c) {
      for (const { text, addr } of unicastAddresses(p)) {
        if (!opts.relevant(addr)) continue;
        const set = claims.get(text) ?? new Set();
        set.add(c);
        claims.set(text, set);
      }
    }
  }
  for (const [text, by] of claims) {
    const own = opts.local.has(text);
    if (!own && by.size < 2) continue;
    const peers = [...by].map((c) => peerName(c[0]));
    conflicts.push({ kind: own ? 'own-address' : 'address', value: text, peers });
  }
  return conflicts;
}

/**
 * The conflicts of `table` as this guest sees them without an attachment in
 * mind (`ringctl peers`, stats): addresses count inside the subnets of any of
 * its interfaces, where an attachment could map them.
 */
export function guestConflicts(table: readonly TablePeer[], local: readonly LocalAddress[]): Conflict[] {
  const subnets = uniqueSubnets(local.map(subnetOf));
  return findConflicts(table, {
    local: new Set(local.map((a) => formatIp(a))),
    relevant: (a) => subnets.some((c) => inCidr(c, a)),
  });
}

/** One line about a conflict, from one claimant's side (or the whole of it). */
export function describeConflict(c: Conflict, from?: string): string {
  const others = c.peers.filter((p) => p !== from);
  const peers = (list: string[]) => `peer${list.length > 1 ? 's' : ''} ${list.join(', ')}`;
  const also = others.length ? ` (also claimed by ${peers(others)})` : '';
  switch (c.kind) {
    case 'address':
      return from === undefined ? `${c.value} claimed by ${peers(c.peers)}` : `${c.value} also claimed by ${peers(others)}`;
    case 'own-address':
      return `${c.value} is this guest's${also}`;
    case 'mac':
      return from === undefined ? `MAC ${c.value} claimed by ${peers(c.peers)}` : `MAC ${c.value} also claimed by ${peers(others)}`;
    case 'own-mac':
      return `MAC ${c.value} is this guest's ring MAC${also}`;
    case 'refused': {
      const why = "refused by ring0 (an invalid MAC, ring0's own, or a live peer's)";
      if (from === undefined) return `MAC ${c.value} of ${peers(c.peers)} ${why}`;
      return `MAC ${c.value} ${why}${others.length ? `, as for ${peers(others)}` : ''}`;
    }
  }
}

/**
 * The up peers of `table` as ring_peers wants them. A guest in several regions
 * appears once per region with the same MAC: it becomes one peer (lowest slot).
 */
export function classifyPeers(table: readonly TablePeer[], ctx: ClassifyContext): Classified {
  const skipped: string[] = [];
  const inRing = (a: IpAddress) => ctx.ringSubnets.some((c) => inCidr(c, a));
  const inIface = (a: IpAddress) => ctx.ifaceSubnets.some((c) => inCidr(c, a));
  const conflicts = findConflicts(table, { local: ctx.local, relevant: (a) => inRing(a) || inIface(a) });
  const badMac = new Map(conflicts.filter((c) => c.kind === 'mac' || c.kind === 'own-mac').map((c) => [c.value, c]));
  for (const c of conflicts) {
    if (c.kind === 'refused') for (const id of c.peers) skipped.push(`peer ${id}: ${describeConflict(c, id)}; ignored`);
  }
  const contested = new Map(conflicts.filter((c) => c.kind === 'address').map((c) => [c.value, c]));
  const byMac = new Map<string, { peer: RedirectPeer; ring: Set<string>; ordinary: Set<string> }>();
  for (const p of livePeers(table)) {
    const id = peerName(p);
    const name = `peer ${id}`;
    const mc = badMac.get(p.mac);
    if (mc?.kind === 'own-mac') {
      skipped.push(`${name}: claims this guest's ring MAC ${p.mac}; ignored`);
      continue;
    }
    if (mc) {
      skipped.push(`${name}: ${describeConflict(mc, id)}; ignored`);
      continue;
    }
    let e = byMac.get(p.mac);
    // A guest in several regions: its other entries repeat what its first said.
    const first = !e;
    if (!e) {
      e = { peer: { slot: p.slot, ringMac: p.mac, addresses: [], ordinaryAddresses: [] }, ring: new Set(), ordinary: new Set() };
      byMac.set(p.mac, e);
    }
    for (const s of [...p.ipv4, ...p.ipv6]) {
      const a = parseIp(s);
      if (!a) {
        skipped.push(`${name}: bad address ${JSON.stringify(s)}; ignored`);
        continue;
      }
      const text = formatIp(a);
      const why = notUnicast(a);
      if (why) {
        skipped.push(`${name}: publishes ${text}, ${why}; ignored`);
        continue;
      }
      if (ctx.local.has(text)) {
        skipped.push(`${name}: claims ${text}, an address of this guest; ignored`);
        continue;
      }
      const ac = contested.get(text);
      if (ac) {
        if (first) skipped.push(`${name}: ${describeConflict(ac, id)}; mapped to none of them`);
        continue;
      }
      if (inRing(a)) e.ring.add(text);
      else if (ctx.ordinary && inIface(a)) e.ordinary.add(text);
    }
  }
  const peers = [...byMac.values()].map(({ peer, ring, ordinary }) => ({
    ...peer,
    addresses: [...ring],
    ordinaryAddresses: [...ordinary],
  }));
  return { peers, skipped, conflicts };
}
