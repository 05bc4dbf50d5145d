// Crafted frames for the BPF program tests: Ethernet with optional VLAN tags,
// IPv4 (with a correct header checksum), IPv6, UDP, ARP.
import { parseIp, parseMac } from '../../src/xdp/cidr.js';

export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_IPV6 = 0x86dd;
export const ETH_P_8021Q = 0x8100;
export const ETH_P_8021AD = 0x88a8;
export const ETH_P_LLDP = 0x88cc;

export interface EthOptions {
  dst?: string;
  src?: string;
  /** Tags outermost first: [tpid, vid]. */
  vlans?: Array<[number, number]>;
  proto: number;
  payload: Buffer;
}

export function eth(o: EthOptions): Buffer {
  const head = Buffer.alloc(12);
  parseMac(o.dst ?? '02:00:00:00:01:02').copy(head, 0);
  parseMac(o.src ?? '02:00:00:00:01:01').copy(head, 6);
  const tags = (o.vlans ?? []).map(([tpid, vid]) => {
    const t = Buffer.alloc(4);
    t.writeUInt16BE(tpid, 0);
    t.writeUInt16BE(vid, 2);
    return t;
  });
  const proto = Buffer.alloc(2);
  proto.writeUInt16BE(o.proto);
  return Buffer.concat([head, ...tags, proto, o.payload]);
}

function addr(s: string, family: 4 | 6): Buffer {
  const a = parseIp(s);
  if (!a || a.family !== family) throw new Error(`${s} is not an IPv${family} address`);
  return Buffer.from(a.bytes);
}

export function udp(payload: Buffer = Buffer.alloc(18)): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(40000, 0);
  h.writeUInt16BE(5201, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([h, payload]);
}

export interface Ipv4Options {
  src?: string;
  dst: string;
  protocol?: number;
  payload?: Buffer;
  /** Override the header fields to make it malformed. */
  version?: number;
  ihl?: number;
}

export function ipv4(o: Ipv4Options): Buffer {
  const payload = o.payload ?? udp();
  const h = Buffer.alloc(20);
  h[0] = ((o.version ?? 4) << 4) | (o.ihl ?? 5);
  h.writeUInt16BE(20 + payload.length, 2);
  h[8] = 64;
  h[9] = o.protocol ?? 17;
  addr(o.src ?? '192.0.2.1', 4).copy(h, 12);
  addr(o.dst, 4).copy(h, 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += h.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  h.writeUInt16BE(~sum & 0xffff, 10);
  return Buffer.concat([h, payload]);
}

export function ipv6(o: { src?: string; dst: string; nextHeader?: number; payload?: Buffer; version?: number }): Buffer {
  const payload = o.payload ?? udp();
  const h = Buffer.alloc(40);
  h.writeUInt32BE(((o.version ?? 6) << 28) >>> 0, 0);
  h.writeUInt16BE(payload.length, 4);
  h[6] = o.nextHeader ?? 17;
  h[7] = 64;
  addr(o.src ?? '2001:db8:1::1', 6).copy(h, 8);
  addr(o.dst, 6).copy(h, 24);
  return Buffer.concat([h, payload]);
}

/** An ARP request "who has `target`?" */
export function arp(target: string): Buffer {
  const h = Buffer.alloc(28);
  h.writeUInt16BE(1, 0);
  h.writeUInt16BE(ETH_P_IP, 2);
  h[4] = 6;
  h[5] = 4;
  h.writeUInt16BE(1, 6);
  parseMac('02:00:00:00:01:01').copy(h, 8);
  addr('192.0.2.1', 4).copy(h, 14);
  addr(target, 4).copy(h, 24);
  return h;
}
