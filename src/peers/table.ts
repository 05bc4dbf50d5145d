// ring0's peer table as ringnet.ko gives it: over generic netlink (the family
// "ringnet", src/netlink/ringnet.ts), one message per slot: this guest's own and
// every slot the host's roster lists. Tests stand in for the driver with a
// directory of text tables ($RINGCTL_SYSFS_NET/RING/ringnet/peers) in the format
// ringnet's debugfs view (/sys/kernel/debug/ringnet/RING/peers) shows people:
//
//   region slot state gen mac age_ms ipv4 ipv6 tx_packets rx_packets name claimed_mac addrs_refused
//   1 1 up 1 4e:6c:45:0e:5d:cd 76 198.51.100.2,192.0.2.2 2001:db8:2::2 52 50 g2 - 0
//
// state is self, up, dead or free (a guest the roster lists that is not there).
// Under ABI v2 a slot's identity is the host's: its MAC and name come from the
// roster, which only the host writes, and ringnet passes on only the addresses
// the roster's prefixes for the slot allow. What a peer publishes beyond that is
// a conflict ringnet shows and ignores: a MAC other than the roster's
// (claimed_mac) and how many addresses fall outside its prefixes
// (addrs_refused). region is the region that holds the slot's entry; a slot
// appears once.
//
// The addresses are still what the peer published, within its prefixes. A slot
// (or line) that does not parse is skipped and reported (with why), never
// thrown; only a text file whose header we do not know is an error, since none
// of its lines can be read.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { dumpPeers } from '../netlink/ringnet.js';
import { formatIp, formatMac, parseIp, parseMac } from '../xdp/cidr.js';
import { RingctlError } from '../common/errors.js';

export const DEFAULT_SYSFS_NET = '/sys/class/net';

export const PEER_STATES = ['self', 'up', 'dead', 'free'] as const;
export type PeerState = (typeof PEER_STATES)[number];

/** The columns of ringnet's debugfs view, which the text tables of tests copy. */
const COLUMNS = ['region', 'slot', 'state', 'gen', 'mac', 'age_ms', 'ipv4', 'ipv6', 'tx_packets', 'rx_packets', 'name', 'claimed_mac', 'addrs_refused'] as const;

/** Bounds on what a sane table holds (the ABI's are far lower); beyond them a line is bad. */
const REGIONS_MAX = 64;
const SLOTS_MAX = 4096;
const ADDRESSES_MAX = 16;

export interface TablePeer {
  /** The region that holds the slot's entry (ringnet's index, as its region rows number them). */
  region: number;
  /** The host's number for the guest: a slot appears once in a table. */
  slot: number;
  state: PeerState;
  generation: number;
  /** The roster's MAC (ring0's for self): lower case, colon separated, unicast. */
  mac: string;
  /** The roster's name for the guest, or '' when the row has none. */
  name: string;
  /** Milliseconds since the heartbeat last moved (0 for self and free). */
  ageMs: number;
  /**
   * In published order (ring0's addresses first, then the guest's other
   * interfaces'), only those the roster's prefixes for the slot allow.
   */
  ipv4: string[];
  ipv6: string[];
  /** A MAC the peer publishes that is not the roster's: a conflict, never used. */
  claimedMac?: string;
  /** How many addresses it publishes outside its roster prefixes (ignored): a conflict when not 0. */
  addrsRefused: number;
}

export interface PeerTable {
  peers: TablePeer[];
  /** One line per line skipped. */
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

/**
 * Why `name` cannot be a roster name, or undefined: ringnet passes on a name of
 * 1 to 31 printable ASCII characters (the roster holds 32 bytes, NUL-padded).
 */
export function badName(name: string): string | undefined {
  return /^[\x20-\x7e]{1,31}$/.test(name) ? undefined : `bad name ${JSON.stringify(name.slice(0, 40))}`;
}

/** Why a live peer's (or our own) MAC cannot be a destination we write into frames, or undefined. */
export function notUnicastMac(state: PeerState, mac: Uint8Array): string | undefined {
  if ((state === 'up' || state === 'self') && (mac[0] & 1 || mac.every((b) => b === 0))) {
    return `${state} peer with a MAC that is not unicast (${formatMac(mac)})`;
  }
  return undefined;
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

function mac(s: string): Buffer | undefined {
  try {
    return parseMac(s);
  } catch {
    return undefined;
  }
}

/** One line of the table, or why it is bad. */
function parseLine(line: string): TablePeer | string {
  const f = line.split(' ');
  if (f.length !== COLUMNS.length) return `expected ${COLUMNS.length} fields, found ${f.length}`;
  const [regionS, slotS, stateS, genS, macS, ageS, v4S, v6S, txS, rxS, nameS, claimedS, refusedS] = f;
  const region = uint(regionS, REGIONS_MAX - 1);
  if (region === undefined) return `bad region ${JSON.stringify(regionS.slice(0, 20))}`;
  const slot = uint(slotS, SLOTS_MAX - 1);
  if (slot === undefined) return `bad slot ${JSON.stringify(slotS.slice(0, 20))}`;
  if (!(PEER_STATES as readonly string[]).includes(stateS)) return `bad state ${JSON.stringify(stateS.slice(0, 20))}`;
  const state = stateS as PeerState;
  const generation = uint(genS, 0xffffffff);
  if (generation === undefined) return `bad generation ${JSON.stringify(genS.slice(0, 20))}`;
  const macBytes = mac(macS);
  if (!macBytes) return `bad MAC ${JSON.stringify(macS.slice(0, 40))}`;
  const unicast = notUnicastMac(state, macBytes);
  if (unicast) return unicast;
  const ageMs = uint(ageS, 0xffffffff);
  if (ageMs === undefined) return `bad heartbeat age ${JSON.stringify(ageS.slice(0, 20))}`;
  const ipv4 = addresses(v4S, 4);
  if (typeof ipv4 === 'string') return ipv4;
  const ipv6 = addresses(v6S, 6);
  if (typeof ipv6 === 'string') return ipv6;
  // The packet counts are for people; the stats read ethtool's.
  if (!/^\d{1,20}$/.test(txS) || !/^\d{1,20}$/.test(rxS)) return `bad packet counts ${JSON.stringify(`${txS} ${rxS}`.slice(0, 50))}`;
  const name = nameS === '-' ? '' : nameS;
  const nameProblem = name ? badName(name) : undefined;
  if (nameProblem) return nameProblem;
  let claimedMac: string | undefined;
  if (claimedS !== '-') {
    // A claim is whatever the peer wrote: any MAC, multicast or zero too.
    const c = mac(claimedS);
    if (!c) return `bad claimed MAC ${JSON.stringify(claimedS.slice(0, 40))}`;
    claimedMac = formatMac(c);
  }
  const addrsRefused = uint(refusedS, 0xffffffff);
  if (addrsRefused === undefined) return `bad addrs_refused ${JSON.stringify(refusedS.slice(0, 20))}`;
  return {
    region,
    slot,
    state,
    generation,
    mac: formatMac(macBytes),
    name,
    ageMs,
    ipv4,
    ipv6,
    ...(claimedMac === undefined ? {} : { claimedMac }),
    addrsRefused,
  };
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
  const seen = new Set<number>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line === '') continue;
    const p = parseLine(line);
    if (typeof p === 'string') {
      problems.push(`line ${i + 1}: ${p}; skipped`);
      continue;
    }
    if (seen.has(p.slot)) {
      problems.push(`line ${i + 1}: slot ${p.slot} listed twice; skipped`);
      continue;
    }
    seen.add(p.slot);
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
