// From ring0's peer table to the peers an attached interface's ring_peers map
// should hold. Only live ("up") peers are mapped, each under its roster MAC
// (ABI v2: the host's roster names every slot, its MAC and the prefixes it may
// claim, and ringnet passes on only the addresses those prefixes allow). A
// peer's addresses are sorted by where they are, not by the order it published
// them in (which it controls):
//   - inside ring0's own subnets or the inter-domain subnets: a ring address;
//   - inside the attached interface's own subnets: an ordinary address, which
//     transparent mode diverts into the ring (only when transparent mode is on);
//   - anywhere else: not ours to divert (the peer's other networks), left out.
// An address that would let a peer capture traffic that is not its own is left
// out and reported: one that is not unicast, one of this guest's own, and one
// two peers hold (guests of different groups may have overlapping prefixes;
// this guest, in both groups, sees both). What a peer publishes beyond its
// roster entry (another MAC, addresses outside its prefixes) ringnet already
// ignored: it is shown as a conflict and changes nothing here.
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
  /** The table's conflicts (findConflicts()). */
  conflicts: Conflict[];
}

/**
 * What `ringctl peers` and the stats show in their conflicts:
 *   claimed-mac    a peer publishes a MAC other than its roster MAC (ringnet
 *                  keeps to the roster's, and so does ringctl);
 *   addrs-refused  a peer publishes addresses outside its roster prefixes
 *                  (ringnet passed none of them on);
 *   address        an address two or more live peers hold: it goes to none of them;
 *   own-address    an address of this guest (any interface) a peer holds: ignored.
 */
export const CONFLICT_KINDS = ['claimed-mac', 'addrs-refused', 'address', 'own-address'] as const;
export type ConflictKind = (typeof CONFLICT_KINDS)[number];

export interface Conflict {
  kind: ConflictKind;
  /** The MAC claimed, how many addresses were refused, or the address. */
  value: string;
  /** The slots of the peers involved, in slot order. */
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

/** How a peer is named in conflicts: its slot. */
export function peerName(p: Pick<TablePeer, 'slot'>): string {
  return String(p.slot);
}

/** How a peer is named for people: "peer 1 (g2)", or "peer 1" when the roster gives no name. */
export function peerLabel(p: Pick<TablePeer, 'slot' | 'name'>): string {
  return p.name ? `peer ${p.slot} (${p.name})` : `peer ${p.slot}`;
}

/** The peers of `table` in `states` (default: the live ones), in slot order. */
function livePeers(table: readonly TablePeer[], states: readonly TablePeer['state'][] = ['up']): TablePeer[] {
  return table.filter((p) => states.includes(p.state)).sort((a, b) => a.slot - b.slot);
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
 * The conflicts of `table`. `local` are this guest's own addresses; `relevant`
 * says which addresses could be mapped at all: a private network every guest
 * has (docker's 172.17.0.1, say) is nobody's to divert, and two claims to it
 * are no conflict. A peer's own claims beyond its roster entry (claimed-mac,
 * addrs-refused) count while it is there, up or dead; addresses only while it
 * is up.
 */
export function findConflicts(
  table: readonly TablePeer[],
  opts: { local: ReadonlySet<string>; relevant: (a: IpAddress) => boolean },
): Conflict[] {
  const conflicts: Conflict[] = [];
  for (const p of livePeers(table, ['up', 'dead'])) {
    if (p.claimedMac !== undefined) conflicts.push({ kind: 'claimed-mac', value: p.claimedMac, peers: [peerName(p)] });
    if (p.addrsRefused) conflicts.push({ kind: 'addrs-refused', value: String(p.addrsRefused), peers: [peerName(p)] });
  }
  const claims = new Map<string, string[]>();
  for (const p of livePeers(table)) {
    for (const { text, addr } of unicastAddresses(p)) {
      if (!opts.relevant(addr)) continue;
      const by = claims.get(text) ?? [];
      if (!by.includes(peerName(p))) by.push(peerName(p));
      claims.set(text, by);
    }
  }
  for (const [text, peers] of claims) {
    const own = opts.local.has(text);
    if (!own && peers.length < 2) continue;
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

/**
 * One line about a conflict, from one peer's side (`from`, a slot) or the whole
 * of it; `names` gives the roster's names by slot, for people.
 */
export function describeConflict(c: Conflict, from?: string, names: ReadonlyMap<string, string> = new Map()): string {
  const label = (slot: string) => peerLabel({ slot: Number(slot), name: names.get(slot) ?? '' });
  const list = (slots: string[]) => slots.map(label).join(', ');
  const others = c.peers.filter((p) => p !== from);
  const who = from === undefined ? `${list(c.peers)} ` : '';
  switch (c.kind) {
    case 'claimed-mac':
      return `${who}publishes MAC ${c.value}, not its roster MAC: ignored`;
    case 'addrs-refused':
      return `${who}publishes ${c.value} address${c.value === '1' ? '' : 'es'} outside its roster prefixes: ignored`;
    case 'address':
      return from === undefined ? `${c.value} held by ${list(c.peers)}` : `${c.value} also held by ${list(others)}`;
    case 'own-address':
      return `${c.value} is this guest's${others.length ? ` (also held by ${list(others)})` : ''}`;
  }
}

/** The roster's names by slot, for describeConflict(). */
export function namesOf(table: readonly Pick<TablePeer, 'slot' | 'name'>[]): Map<string, string> {
  return new Map(table.filter((p) => p.name).map((p) => [String(p.slot), p.name]));
}

/** The up peers of `table` as ring_peers wants them, under their roster MACs. */
export function classifyPeers(table: readonly TablePeer[], ctx: ClassifyContext): Classified {
  const skipped: string[] = [];
  const inRing = (a: IpAddress) => ctx.ringSubnets.some((c) => inCidr(c, a));
  const inIface = (a: IpAddress) => ctx.ifaceSubnets.some((c) => inCidr(c, a));
  const conflicts = findConflicts(table, { local: ctx.local, relevant: (a) => inRing(a) || inIface(a) });
  const names = namesOf(table);
  const contested = new Map(conflicts.filter((c) => c.kind === 'address').map((c) => [c.value, c]));
  const peers: RedirectPeer[] = [];
  for (const p of livePeers(table)) {
    const id = peerName(p);
    const name = peerLabel(p);
    const ring = new Set<string>();
    const ordinary = new Set<string>();
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
        skipped.push(`${name}: holds ${text}, an address of this guest; ignored`);
        continue;
      }
      const ac = contested.get(text);
      if (ac) {
        skipped.push(`${name}: ${describeConflict(ac, id, names)}; mapped to none of them`);
        continue;
      }
      if (inRing(a)) ring.add(text);
      else if (ctx.ordinary && inIface(a)) ordinary.add(text);
    }
    peers.push({ slot: p.slot, ...(p.name ? { name: p.name } : {}), ringMac: p.mac, addresses: [...ring], ordinaryAddresses: [...ordinary] });
  }
  for (const c of conflicts) {
    if (c.kind === 'claimed-mac' || c.kind === 'addrs-refused') skipped.push(describeConflict(c, undefined, names));
  }
  return { peers, skipped, conflicts };
}
