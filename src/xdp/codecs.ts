// The TypeScript view of bpf/ring_maps.h: map names, key and value layouts,
// flags and stat names, with encoders and decoders. The unit test
// test/unit/ring-maps-layout.test.ts checks every number here against the
// header compiled by C (build/native/ring-maps-layout).
import { formatMac, type Cidr, type IpAddress, type IpFamily } from './cidr.js';

export const MAPS = {
  peers: 'ring_peers',
  subnets4: 'ring_subnets4',
  subnets6: 'ring_subnets6',
  dev: 'ring_dev',
  xdpStats: 'xdp_stats',
  tcStats: 'tc_stats',
} as const;

type Layout = { size: number; members: Record<string, readonly [offset: number, size: number]> };

/** Sizes and [offset, size] of each member, as in ring_maps.h. */
export const LAYOUT = {
  ring_peer_key: { size: 20, members: { family: [0, 4], addr: [4, 16] } },
  ring_peer: { size: 12, members: { ring_mac: [0, 6], flags: [6, 2], slot: [8, 4] } },
  ring_subnet4_key: { size: 8, members: { prefixlen: [0, 4], addr: [4, 4] } },
  ring_subnet6_key: { size: 20, members: { prefixlen: [0, 4], addr: [4, 16] } },
  ring_config: { size: 20, members: { ring_mac: [0, 6], flags: [6, 2], ring_ifindex: [8, 4], nic_mac: [12, 6], rsvd: [18, 2] } },
  ring_stat: { size: 16, members: { packets: [0, 8], bytes: [8, 8] } },
} as const satisfies Record<string, Layout>;

export const CONSTANTS = {
  RING_PEERS_MAX: 1024,
  RING_SUBNETS_MAX: 64,
  RING_DEV_KEY: 0,
  RING_FAMILY_IPV4: 4,
  RING_FAMILY_IPV6: 6,
  RING_PEER_F_RING: 1,
  RING_PEER_F_ORDINARY: 2,
  RING_XDP_STAT_MAX: 15,
  RING_TC_STAT_MAX: 11,
} as const;

/** enum ring_xdp_stat, by index. */
export const XDP_STATS = [
  'aborted',
  'drop',
  'pass',
  'tx',
  'redirect',
  'not_ip',
  'malformed',
  'vlan_depth',
  'no_match',
  'no_peer',
  'peer',
  'no_ring',
  'not_to_us',
  'vlan',
  'forwarding_off',
] as const;

/** enum ring_tc_stat, by index. */
export const TC_STATS = ['ok', 'shot', 'redirect', 'not_ip', 'malformed', 'vlan', 'forwarded', 'no_peer', 'peer', 'no_ring', 'nd'] as const;

export type XdpStatName = (typeof XDP_STATS)[number];
export type TcStatName = (typeof TC_STATS)[number];

/** The program objects, their programs and the .rodata variable they share. */
export const OBJECTS = {
  xdp: { file: 'xdp_ring.bpf.o', program: 'xdp_ring' },
  tc: { file: 'tc_transparent.bpf.o', program: 'tc_transparent' },
  configVar: 'ring_cfg',
} as const;

export interface PeerEntry {
  ringMac: Uint8Array;
  flags: number;
  slot: number;
}

export interface Stat {
  packets: bigint;
  bytes: bigint;
}

const L = LAYOUT;

export function encodeU32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

// Host order is little-endian on every machine this runs on (x86-64, arm64);
// the layout test would fail on a big-endian host long before this mattered.
export function encodePeerKey(a: IpAddress): Buffer {
  const b = Buffer.alloc(L.ring_peer_key.size);
  b.writeUInt32LE(a.family, L.ring_peer_key.members.family[0]);
  b.set(a.bytes, L.ring_peer_key.members.addr[0]);
  return b;
}

export function decodePeerKey(b: Uint8Array): IpAddress {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const family = buf.readUInt32LE(L.ring_peer_key.members.family[0]) as IpFamily;
  const [off] = L.ring_peer_key.members.addr;
  return { family, bytes: Uint8Array.from(buf.subarray(off, off + (family === 4 ? 4 : 16))) };
}

export function encodePeer(p: PeerEntry): Buffer {
  const b = Buffer.alloc(L.ring_peer.size);
  b.set(p.ringMac, L.ring_peer.members.ring_mac[0]);
  b.writeUInt16LE(p.flags, L.ring_peer.members.flags[0]);
  b.writeUInt32LE(p.slot >>> 0, L.ring_peer.members.slot[0]);
  return b;
}

export function decodePeer(b: Uint8Array): PeerEntry {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const [mo, ms] = L.ring_peer.members.ring_mac;
  return {
    ringMac: Uint8Array.from(buf.subarray(mo, mo + ms)),
    flags: buf.readUInt16LE(L.ring_peer.members.flags[0]),
    slot: buf.readUInt32LE(L.ring_peer.members.slot[0]),
  };
}

/** The LPM key for a subnet, and which of the two tries it belongs in. */
export function encodeSubnetKey(c: Cidr): { map: typeof MAPS.subnets4 | typeof MAPS.subnets6; key: Buffer } {
  const layout = c.family === 4 ? L.ring_subnet4_key : L.ring_subnet6_key;
  const b = Buffer.alloc(layout.size);
  b.writeUInt32LE(c.prefix, layout.members.prefixlen[0]);
  b.set(c.bytes, layout.members.addr[0]);
  return { map: c.family === 4 ? MAPS.subnets4 : MAPS.subnets6, key: b };
}

export function decodeSubnetKey(family: IpFamily, b: Uint8Array): Cidr {
  const layout = family === 4 ? L.ring_subnet4_key : L.ring_subnet6_key;
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const [off, size] = layout.members.addr;
  return { family, prefix: buf.readUInt32LE(layout.members.prefixlen[0]), bytes: Uint8Array.from(buf.subarray(off, off + size)) };
}

export function encodeConfig(c: { ringMac: Uint8Array; ringIfindex: number; nicMac: Uint8Array }): Buffer {
  const b = Buffer.alloc(L.ring_config.size);
  b.set(c.ringMac, L.ring_config.members.ring_mac[0]);
  b.writeUInt32LE(c.ringIfindex >>> 0, L.ring_config.members.ring_ifindex[0]);
  b.set(c.nicMac, L.ring_config.members.nic_mac[0]);
  return b;
}

export function decodeConfig(b: Uint8Array): { ringMac: string; ringIfindex: number; nicMac: string } {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const mac = ([o, n]: readonly [number, number]) => formatMac(buf.subarray(o, o + n));
  return {
    ringMac: mac(L.ring_config.members.ring_mac),
    ringIfindex: buf.readUInt32LE(L.ring_config.members.ring_ifindex[0]),
    nicMac: mac(L.ring_config.members.nic_mac),
  };
}

export function decodeStat(b: Uint8Array): Stat {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  return {
    packets: buf.readBigUInt64LE(L.ring_stat.members.packets[0]),
    bytes: buf.readBigUInt64LE(L.ring_stat.members.bytes[0]),
  };
}

/** Sums one stat's per-CPU values. */
export function sumStats(perCpu: Uint8Array[]): Stat {
  return perCpu.map(decodeStat).reduce((a, s) => ({ packets: a.packets + s.packets, bytes: a.bytes + s.bytes }), {
    packets: 0n,
    bytes: 0n,
  });
}
