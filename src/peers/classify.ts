// From ring0's peer table to the peers an attached interface's ring_peers map
// should hold. Only live ("up") peers count. A peer's addresses are sorted by
// where they are, not by the order it published them in (which it controls):
//   - inside ring0's own subnets or the inter-domain subnets: a ring address;
//   - inside the attached interface's own subnets: an ordinary address, which
//     transparent mode diverts into the ring (only when transparent mode is on);
//   - anywhere else: not ours to divert (the peer's other networks), left out.
// Anything that would let a peer capture traffic that is not its own is left
// out and reported: addresses that are not unicast, addresses of this guest,
// and a peer that claims this guest's ring MAC.
import { formatCidr, formatIp, networkOf, parseIp, type Cidr, type IpAddress } from '../xdp/cidr.js';
import type { RingPeer } from '../xdp/maps.js';
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
  peers: RingPeer[];
  /** What was left out and why, one line each. */
  skipped: string[];
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

/**
 * The up peers of `table` as ring_peers wants them. A guest in several regions
 * appears once per region with the same MAC: it becomes one peer (lowest slot).
 */
export function classifyPeers(table: readonly TablePeer[], ctx: ClassifyContext): Classified {
  const skipped: string[] = [];
  const selfMacs = new Set(table.filter((p) => p.state === 'self').map((p) => p.mac));
  const byMac = new Map<string, { peer: RingPeer; ring: Set<string>; ordinary: Set<string> }>();
  const up = table.filter((p) => p.state === 'up').sort((a, b) => a.region - b.region || a.slot - b.slot);
  for (const p of up) {
    const name = `peer ${p.region ? `${p.region}/` : ''}${p.slot}`;
    if (selfMacs.has(p.mac)) {
      skipped.push(`${name}: claims this guest's ring MAC ${p.mac}; ignored`);
      continue;
    }
    let e = byMac.get(p.mac);
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
      if (ctx.ringSubnets.some((c) => inCidr(c, a))) e.ring.add(text);
      else if (ctx.ordinary && ctx.ifaceSubnets.some((c) => inCidr(c, a))) e.ordinary.add(text);
    }
  }
  const peers = [...byMac.values()].map(({ peer, ring, ordinary }) => ({
    ...peer,
    addresses: [...ring],
    ordinaryAddresses: [...ordinary],
  }));
  return { peers, skipped };
}
