// ring0's peer table as ringnet.ko gives it: over generic netlink (the family
// "ringnet", src/netlink/ringnet.ts), one message per slot. Tests stand in for
// the driver with a directory of text tables ($RINGCTL_SYSFS_NET/RING/ringnet/peers),
// in the format ringnet's debugfs view (/sys/kernel/debug/ringnet/RING/peers)
// shows people, whose first eight columns are:
//
//   region slot state gen mac age_ms ipv4 ipv6
//   0 1 up 1 4e:6c:45:0e:5d:cd 76 198.51.100.2,192.0.2.2 2001:db8:2::2,2001:db8:1::2
//
// state is self, up, dead, refused or free. A refused slot's generation claims
// a MAC ringnet will not give it (an invalid one, ring0's own or a live peer's):
// ringnet sends it nothing and drops its frames, and the MAC column shows the
// MAC it claims, whatever that is.
//
// The driver sends the table, but the MACs and addresses in it are what other
// guests published in shared memory: hostile input. A slot (or line) that does
// not parse is skipped and reported (with why), never thrown; only a text file
// whose header we do not know is an error, since none of its lines can be read.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { dumpPeers } from '../netlink/ringnet.js';
import { formatIp, formatMac, parseIp, parseMac } from '../xdp/cidr.js';
import { RingctlError } from '../common/errors.js';

export const DEFAULT_SYSFS_NET = '/sys/class/net';

export const PEER_STATES = ['self', 'up', 'dead', 'refused', 'free'] as const;
export type PeerState = (typeof PEER_STATES)[number];

const COLUMNS = ['region', 'slot', 'state', 'gen', 'mac', 'age_ms', 'ipv4', 'ipv6'] as const;

/** Bounds on what a sane table holds (the ABI's are far lower); beyond them a line is bad. */
const REGIONS_MAX = 64;
const SLOTS_MAX = 4096;
const ADDRESSES_MAX = 16;
/** sysfs hands out one page: a table that fills it may have been cut short. */
const SYSFS_PAGE = 4096;

export interface TablePeer {
  region: number;
  slot: number;
  state: PeerState;
  generation: number;
  /** Lower case, colon separated. A refused slot's is the MAC it claims: any value, multicast or zero too. */
  mac: string;
  /** Milliseconds since the heartbeat last moved (0 for self and free). */
  ageMs: number;
  /** In published order: ring0's addresses first, then the guest's other interfaces'. */
  ipv4: string[];
  ipv6: string[];
}

export interface PeerTable {
  peers: TablePeer[];
  /** One line per line skipped, and a note if the table looks cut short. */
  problems: string[];
  /** The ring device's ifindex, when the table came over genetlink (its events name it so). */
  ifindex?: number;
}

/** Where a test's stand-in for `ring`'s peer table is, under its class/net directory. */
export function peerTablePath(ring: string, sysfsNet = DEFAULT_SYSFS_NET): string {
  return join(sysfsNet, ring, 'ringnet', 'peers');
}

/**
 * The sysfs class/net directory: $RINGCTL_SYSFS_NET (tests: text tables stand in
 * for the driver there), else /sys/class/net (the tables come over genetlink).
 */
export function sysfsNet(env: Record<string, string | undefined> = process.env): string {
  return env.RINGCTL_SYSFS_NET || DEFAULT_SYSFS_NET;
}

function uint(s: string, max: number): number | undefined {
  if (!/^\d{1,10}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= max ? n : undefined;
}

/** A comma list of one family's addresses, or "-"; canonical text, or why not. */
function addresses(s: string, family: 4 | 6): string[] | string {
  if (s === '-') return [];
  const parts = s.split(',');
  if (parts.length > ADDRESSES_MAX) return `more than ${ADDRESSES_MAX} IPv${family} addresses`;
  const out: string[] = [];
  for (const p of parts) {
    const a = parseIp(p);
    if (!a || a.family !== family) return `bad IPv${family} address ${JSON.stringify(p.slice(0, 60))}`;
    out.push(formatIp(a));
  }
  return out;
}

/** One line of the table, or why it is bad. */
function parseLine(line: string): TablePeer | string {
  const f = line.split(' ');
  if (f.length !== COLUMNS.length) return `expected ${COLUMNS.length} fields, found ${f.length}`;
  const [regionS, slotS, stateS, genS, macS, ageS, v4S, v6S] = f;
  const region = uint(regionS, REGIONS_MAX - 1);
  if (region === undefined) return `bad region ${JSON.stringify(regionS.slice(0, 20))}`;
  const slot = uint(slotS, SLOTS_MAX - 1);
  if (slot === undefined) return `bad slot ${JSON.stringify(slotS.slice(0, 20))}`;
  if (!(PEER_STATES as readonly string[]).includes(stateS)) return `bad state ${JSON.stringify(stateS.slice(0, 20))}`;
  const state = stateS as PeerState;
  const generation = uint(genS, 0xffffffff);
  if (generation === undefined) return `bad generation ${JSON.stringify(genS.slice(0, 20))}`;
  let macBytes: Buffer;
  try {
    macBytes = parseMac(macS);
  } catch {
    return `bad MAC ${JSON.stringify(macS.slice(0, 40))}`;
  }
  // A live peer's MAC becomes a destination we write into frames: it must be unicast.
  // A refused slot's is a claim ringnet turned down, shown as claimed: any MAC.
  if ((state === 'up' || state === 'self') && (macBytes[0] & 1 || macBytes.every((b) => b === 0))) {
    return `${state} peer with a MAC that is not unicast (${formatMac(macBytes)})`;
  }
  const ageMs = uint(ageS, 0xffffffff);
  if (ageMs === undefined) return `bad heartbeat age ${JSON.stringify(ageS.slice(0, 20))}`;
  const ipv4 = addresses(v4S, 4);
  if (typeof ipv4 === 'string') return ipv4;
  const ipv6 = addresses(v6S, 6);
  if (typeof ipv6 === 'string') return ipv6;
  return { region, slot, state, generation, mac: formatMac(macBytes), ageMs, ipv4, ipv6 };
}

/**
 * Parses the table's text. Throws RingctlError only for a header it does not
 * know; bad lines and repeated slots are skipped and named in `problems`.
 */
export function parsePeerTable(text: string, what = 'the peer table'): PeerTable {
  const lines = text.split('\n');
  const header = lines[0].trim().split(/\s+/);
  if (header.join(' ') !== COLUMNS.join(' ')) {
    throw new RingctlError(
      `${what}: unknown format (header ${JSON.stringify(lines[0].slice(0, 80))}, expected "${COLUMNS.join(' ')}")`,
    );
  }
  const peers: TablePeer[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  const cut = text.length >= SYSFS_PAGE - 1 && !text.endsWith('\n');
  const last = lines.length - 1;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line === '') continue;
    if (cut && i === last) {
      problems.push(`line ${i + 1}: cut short (the table fills a sysfs page); slots after it are missing`);
      continue;
    }
    const p = parseLine(line);
    if (typeof p === 'string') {
      problems.push(`line ${i + 1}: ${p}; skipped`);
      continue;
    }
    const id = `${p.region}/${p.slot}`;
    if (seen.has(id)) {
      problems.push(`line ${i + 1}: region ${p.region} slot ${p.slot} listed twice; skipped`);
      continue;
    }
    seen.add(id);
    peers.push(p);
  }
  return { peers, problems };
}

/**
 * `ring`'s peer table: over genetlink, or from a test's text table when `sysfs`
 * is not the system's. Throws RingctlError when there is no such device, or
 * when it is not a ringnet device (no peer table).
 */
export function readPeerTable(ring: string, sysfs = DEFAULT_SYSFS_NET): PeerTable {
  if (sysfs !== DEFAULT_SYSFS_NET) return readTextTable(ring, sysfs);
  const t = dumpPeers(ring);
  if (!t) throw new RingctlError(`${ring} is not a ringnet device (ringnet.ko's genetlink family does not serve it)`);
  return t;
}

/** A test's text table for `ring` under `sysfs`. */
function readTextTable(ring: string, sysfs: string): PeerTable {
  const path = peerTablePath(ring, sysfs);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw new RingctlError(`${ring}: cannot read its peer table ${path} (${code})`, { cause: err });
    if (!existsSync(join(sysfs, ring))) throw new RingctlError(`${ring} not found: is ringnet.ko loaded?`);
    throw new RingctlError(`${ring} is not a ringnet device (it has no ${path})`);
  }
  return parsePeerTable(text, `${ring}'s peer table`);
}

/**
 * `ring`'s peer table, or undefined when it has none (gone, or not a ringnet
 * device: a veth stand-in in tests), read once. Throws RingctlError when a
 * ringnet device's table cannot be read.
 */
export function findPeerTable(ring: string, sysfs = DEFAULT_SYSFS_NET): PeerTable | undefined {
  if (sysfs !== DEFAULT_SYSFS_NET) return existsSync(peerTablePath(ring, sysfs)) ? readTextTable(ring, sysfs) : undefined;
  return existsSync(join(sysfs, ring)) ? dumpPeers(ring) : undefined;
}

/** A heartbeat age for people: "76 ms", "3.2 s", "4 min 10 s". */
export function formatAge(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
