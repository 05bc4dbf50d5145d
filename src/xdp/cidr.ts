// Addresses, subnets and MACs as ringctl reads and prints them. Strict on input:
// a subnet with host bits set, an out-of-range prefix or an address with a zone
// or leading zeros is an error with the reason, never silently "fixed".

export type IpFamily = 4 | 6;

export interface IpAddress {
  family: IpFamily;
  /** Network order: 4 or 16 bytes. */
  bytes: Uint8Array;
}

export interface Cidr extends IpAddress {
  prefix: number;
}

export class CidrError extends Error {
  override readonly name = 'CidrError';
}

function parseIpv4(s: string): Uint8Array | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = m[i + 1];
    if (part.length > 1 && part.startsWith('0')) return undefined; // octal to some parsers: refuse
    const n = Number(part);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseGroups(s: string): number[] | undefined {
  if (s === '') return [];
  const out: number[] = [];
  const parts = s.split(':');
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (i === parts.length - 1 && p.includes('.')) {
      const v4 = parseIpv4(p);
      if (!v4) return undefined;
      out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
      out.push(parseInt(p, 16));
    }
  }
  return out;
}

function parseIpv6(s: string): Uint8Array | undefined {
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const head = parseGroups(halves[0]);
  const tail = halves.length === 2 ? parseGroups(halves[1]) : [];
  if (!head || !tail) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    if (head.length + tail.length > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    if (head.length !== 8) return undefined;
    groups = head;
  }
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** Parses an IPv4 or IPv6 address; undefined if it is neither. */
export function parseIp(s: string): IpAddress | undefined {
  if (s.includes(':')) {
    const bytes = parseIpv6(s);
    return bytes && { family: 6, bytes };
  }
  const bytes = parseIpv4(s);
  return bytes && { family: 4, bytes };
}

/** Formats an address: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run as ::). */
export function formatIp(a: IpAddress): string {
  if (a.family === 4) return Array.from(a.bytes).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => (a.bytes[2 * i] << 8) | a.bytes[2 * i + 1]);
  let best = -1;
  let bestLen = 1; // a single zero group is not compressed
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

function maxPrefix(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

/** The address with every bit after `prefix` cleared. */
export function networkOf(a: IpAddress, prefix: number): Uint8Array {
  const out = new Uint8Array(a.bytes);
  for (let bit = prefix; bit < out.length * 8; bit++) out[bit >> 3] &= ~(0x80 >> (bit & 7));
  return out;
}

/**
 * Parses ADDRESS/PREFIX. Throws CidrError naming what is wrong: no prefix, not
 * an address, a prefix out of range, or host bits set (with the network meant).
 */
export function parseCidr(s: string): Cidr {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(s);
  if (!m) throw new CidrError(`bad CIDR "${s}": expected ADDRESS/PREFIX, e.g. 198.51.100.0/24 or 2001:db8:2::/64`);
  const addr = parseIp(m[1]);
  if (!addr) throw new CidrError(`bad CIDR "${s}": ${m[1]} is not an IPv4 or IPv6 address`);
  const prefix = Number(m[2]);
  if (m[2].length > 1 && m[2].startsWith('0')) throw new CidrError(`bad CIDR "${s}": prefix ${m[2]} has a leading zero`);
  if (prefix > maxPrefix(addr.family)) {
    throw new CidrError(`bad CIDR "${s}": the prefix must be 0-${maxPrefix(addr.family)} for IPv${addr.family}`);
  }
  const net = networkOf(addr, prefix);
  if (!net.every((b, i) => b === addr.bytes[i])) {
    const meant = formatCidr({ family: addr.family, bytes: net, prefix });
    throw new CidrError(`bad CIDR "${s}": host bits are set (the network is ${meant})`);
  }
  return { ...addr, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c)}/${c.prefix}`;
}

/** Canonical order for printing and comparing: IPv4 first, then by address, then prefix. */
export function compareCidr(a: Cidr, b: Cidr): number {
  if (a.family !== b.family) return a.family - b.family;
  for (let i = 0; i < a.bytes.length; i++) if (a.bytes[i] !== b.bytes[i]) return a.bytes[i] - b.bytes[i];
  return a.prefix - b.prefix;
}

/** Parses, sorts and removes duplicates. */
export function parseCidrs(list: readonly string[]): Cidr[] {
  const parsed = list.map(parseCidr).sort(compareCidr);
  return parsed.filter((c, i) => i === 0 || compareCidr(parsed[i - 1], c) !== 0);
}

/** Parses aa:bb:cc:dd:ee:ff (or with dashes); throws on anything else. */
export function parseMac(s: string): Buffer {
  const m = /^([0-9a-fA-F]{2})([:-])([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})$/.exec(s);
  if (!m) throw new CidrError(`bad MAC address "${s}": expected six hex bytes, e.g. 02:00:00:00:00:01`);
  return Buffer.from([m[1], m[3], m[4], m[5], m[6], m[7]].map((h) => parseInt(h, 16)));
}

export function formatMac(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
}
