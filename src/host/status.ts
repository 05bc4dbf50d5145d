// `ringctl host status`: a v2 setup as the host planned it and as the guests see
// it. Per guest: its slot, MAC, prefixes, doorbell id (as its roster says) and
// regions. Per owned region: its header (the host's), and the owner's entry, which
// the owner writes and is hostile like everything a guest writes: each field is
// range-checked, a bad one becomes an error line for its region, never an
// exception, and the MAC and addresses it claims are compared with the roster's.
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

import { CONSTANTS as C, LAYOUT, offsetOf, peerWordGeneration, peerWordState } from '../ring/layout.js';
import { formatIp, formatMac, networkOf, parseCidr, type IpAddress } from '../xdp/cidr.js';
import { formatSize } from './args.js';
import { filePrefix } from './files.js';
import type { HostPlan, PlanRegion } from './isolation.js';
import { holders, openModule, type ModuleControl, type ModuleRegion } from './kvmring.js';
import { Mapping } from './mapping.js';
import { isDoorbellServer } from './process.js';
import { ownedHeader, parseRoster, rosterOf, RosterError, type Roster } from './roster.js';
import type { HostPaths, HostState } from './state.js';

/** Heartbeats are sampled twice this far apart: owners beat every KVMRING_HEARTBEAT_MS. */
export const SAMPLE_MS = 300;
/** Reads of an entry's addresses while addr_seq is odd or moving, before giving up. */
const ADDR_TRIES = 5;

const PEER_F_KNOWN = C.KVMRING_PEER_F_DOORBELL;
/** ring0's largest L3 packet: the largest frame without the Ethernet header. */
const MTU_MAX = C.KVMRING_FRAME_MAX - 14;
const MTU_MIN = 68;

export interface GuestStatus {
  slot: number;
  name: string;
  /** ring0's MAC, as the plan (and its roster) says. */
  mac: string;
  /** The prefixes it may claim. */
  addrs: string[];
  groups: string[];
  /** Its doorbell id as its roster says; null for none (not connected, or plain mode). */
  doorbellId: number | null;
  /** Doorbell mode: whether the server has a client on its socket. */
  connected?: boolean;
  /** Its roster file. */
  roster: string;
  /** Regions it maps, by index into the status's regions, and whether read-write (its own). */
  regions: { region: number; writable: boolean }[];
}

/** The owner's entry in an owned region (struct kvmring_peer at KVMRING_OWNED_ENTRY_OFF), checked. */
export interface EntryStatus {
  state: 'free' | 'up' | 'invalid';
  /** The state word, hex. */
  word: string;
  generation: number;
  heartbeat: string;
  liveness: 'alive' | 'stale' | '-';
  /** With 'stale': seconds the heartbeat has been seen still (by this and earlier runs). */
  staleSeconds?: number;
  mtu?: number;
  /** The MAC the owner claims (up only). */
  mac?: string;
  /** The addresses it publishes, those that are plausible at all. */
  addresses: string[];
  /** Where its claims differ from its roster entry: the MAC, addresses outside its prefixes. */
  mismatches: string[];
  /** Fields that make no sense. */
  errors: string[];
}

export interface OwnedStatus {
  index: number;
  file: string;
  owner: string;
  /** The readers' names, lane order. */
  readers: string[];
  size: number;
  /** Bytes of the file, undefined if it is gone. */
  fileSize?: number;
  /** What is wrong with the header the host formatted, if anything. */
  headerError?: string;
  entry?: EntryStatus;
}

export interface SetupStatus {
  name: string;
  dir: string;
  stateDir: string;
  isolation: HostPlan['isolation'];
  mode: HostPlan['mode'];
  vectors: number;
  ringSize: number;
  queues: number;
  instance: string;
  doorbell?: { pid?: number; running: boolean; connected: number[] };
  /** With kvmring.ko: its bytes in use and limit, and the setup's regions as it sees them. */
  module?: { bytes: number; maxBytes: number; regions: ModuleRegion[] };
  /** What makes the setup unusable for guests (exit status 1). */
  problems: string[];
  guests: GuestStatus[];
  regions: OwnedStatus[];
}

const SLOT_STATES: Record<number, EntryStatus['state'] | undefined> = {
  [C.KVMRING_PEER_FREE]: 'free',
  [C.KVMRING_PEER_UP]: 'up',
};

const hex64 = (v: bigint) => v.toString(16).padStart(16, '0');
const ENTRY = C.KVMRING_OWNED_ENTRY_OFF;
const at = (f: keyof typeof LAYOUT.kvmring_peer.members) => offsetOf('kvmring_peer', f);

/** A private copy of the owner's entry, its addresses read between two equal, even addr_seq values if it can. */
function readEntry(m: Mapping): { entry: Buffer; stable: boolean } {
  let entry = m.copy(ENTRY, LAYOUT.kvmring_peer.size);
  for (let i = 0; i < ADDR_TRIES; i++) {
    const seq = entry.readUInt32LE(at('addr_seq'));
    const after = m.copy(ENTRY + at('addr_seq'), 4).readUInt32LE(0);
    if (!(seq & 1) && seq === after) return { entry, stable: true };
    entry = m.copy(ENTRY, LAYOUT.kvmring_peer.size);
  }
  return { entry, stable: false };
}

function implausible(a: IpAddress): string | undefined {
  const b = a.bytes;
  if (a.family === 4) {
    if (b[0] === 0 || b[0] === 127 || b[0] >= 224) return 'not a unicast address';
  } else if (b[0] === 0xff || b.every((x, i) => x === (i === 15 ? 1 : 0))) return 'not a unicast address';
  return undefined;
}

/** Whether address `a` is in prefix `cidr`. */
function within(a: IpAddress, cidr: string): boolean {
  const c = parseCidr(cidr);
  if (c.family !== a.family) return false;
  const x = networkOf(a, c.prefix);
  const y = networkOf(c, c.prefix);
  return x.every((v, i) => v === y[i]);
}

/** The owner's entry, decoded and checked against its roster entry (`mac`, `addrs`). */
function checkEntry(entry: Buffer, stable: boolean, mode: HostPlan['mode'], mac: string, addrs: string[]): EntryStatus {
  const word = entry.readBigUInt64LE(at('state'));
  const raw = peerWordState(word);
  const e: EntryStatus = {
    state: SLOT_STATES[raw] ?? 'invalid',
    word: hex64(word),
    generation: peerWordGeneration(word),
    heartbeat: entry.readBigUInt64LE(at('heartbeat')).toString(),
    liveness: '-',
    addresses: [],
    mismatches: [],
    errors: [],
  };
  if (e.state === 'invalid') e.errors.push(`unknown state ${raw} in the state word`);
  if ((word >> 8n) & 0xffffffn) e.errors.push(`state word 0x${e.word} has bits 8..31 set`);
  if (e.state === 'free') return e;

  const flags = entry.readUInt32LE(at('flags'));
  const mtu = entry.readUInt32LE(at('mtu'));
  e.mtu = mtu;
  if (flags & ~PEER_F_KNOWN) e.errors.push(`unknown flags 0x${(flags >>> 0).toString(16)}`);
  if (mode === 'plain' && flags & C.KVMRING_PEER_F_DOORBELL) e.errors.push('asks for doorbells in plain mode');
  if (e.state !== 'up') return e; // the owner is still filling in its entry

  const bytes = entry.subarray(at('mac'), at('mac') + LAYOUT.kvmring_peer.members.mac[1]);
  e.mac = formatMac(bytes);
  if (bytes.every((b) => b === 0)) e.errors.push('no MAC address');
  else if (bytes[0] & 1) e.errors.push(`MAC ${e.mac} is a multicast address`);
  if (e.mac !== mac) e.mismatches.push(`claims MAC ${e.mac}; the roster gives it ${mac}`);
  if (mtu < MTU_MIN || mtu > MTU_MAX) e.errors.push(`MTU ${mtu} is outside ${MTU_MIN}..${MTU_MAX}`);
  if (!stable) {
    e.errors.push(`addresses kept changing while read (addr_seq ${entry.readUInt32LE(at('addr_seq'))})`);
    return e;
  }
  for (const [family, field, len] of [
    [4, 'ipv4', 4],
    [6, 'ipv6', 16],
  ] as const) {
    for (let i = 0; i < C.KVMRING_PEER_ADDRS; i++) {
      const a: IpAddress = { family, bytes: Uint8Array.from(entry.subarray(at(field) + len * i, at(field) + len * (i + 1))) };
      if (a.bytes.every((b) => b === 0)) continue;
      const text = formatIp(a);
      const bad = implausible(a);
      if (bad) {
        e.errors.push(`published address ${text} is ${bad}`);
        continue;
      }
      e.addresses.push(text);
      if (!addrs.some((c) => within(a, c))) {
        e.mismatches.push(addrs.length ? `claims ${text}, outside its roster prefixes ${addrs.join(' ')}` : `claims ${text}, but the roster gives it no prefixes`);
      }
    }
  }
  return e;
}

/** What differs between an owned region's header and the plan's, or undefined. */
function headerProblem(head: Buffer, region: PlanRegion, plan: HostPlan): string | undefined {
  const want = ownedHeader(region, plan);
  const h = 'kvmring_owned_hdr';
  const u64 = (b: Buffer, f: 'magic' | 'instance' | 'region_size') => b.readBigUInt64LE(offsetOf(h, f));
  const u32 = (b: Buffer, f: 'abi_version' | 'owner' | 'readers' | 'ring_size' | 'queues') => b.readUInt32LE(offsetOf(h, f));
  if (u64(head, 'magic') === 0n) return 'not formatted (no magic)';
  if (u64(head, 'magic') !== C.KVMRING_OWNED_MAGIC) return `magic 0x${hex64(u64(head, 'magic'))} is not an owned region's`;
  for (const f of ['abi_version', 'owner', 'readers', 'ring_size', 'queues'] as const) {
    if (u32(head, f) !== u32(want, f)) return `its header says ${f} ${u32(head, f)}, the plan ${u32(want, f)}`;
  }
  for (const f of ['instance', 'region_size'] as const) {
    if (u64(head, f) !== u64(want, f)) return `its header says ${f} ${f === 'instance' ? hex64(u64(head, f)) : u64(head, f)}, the plan ${f === 'instance' ? hex64(u64(want, f)) : u64(want, f)}`;
  }
  return undefined;
}

type StillSince = Record<string, { word: string; heartbeat: string; since: number } | undefined>;

/** When each region's heartbeat was first seen still, kept across runs in the state directory. */
function trackStale(file: string, regions: OwnedStatus[], now: number): void {
  let seen: StillSince = {};
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (v && typeof v === 'object') seen = v as StillSince;
  } catch {
    /* first run, or damaged: start again */
  }
  const next: StillSince = {};
  for (const r of regions) {
    const e = r.entry;
    if (e?.liveness !== 'stale') continue;
    const old = seen[r.file];
    const since = old && old.word === e.word && old.heartbeat === e.heartbeat && Number.isFinite(old.since) && old.since <= now ? old.since : now;
    next[r.file] = { word: e.word, heartbeat: e.heartbeat, since };
    e.staleSeconds = Math.floor((now - since) / 1000);
  }
  try {
    writeFileSync(`${file}.tmp`, `${JSON.stringify(next)}\n`, { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  } catch {
    /* a read-only view: durations start from this run */
  }
}

/** The server's record: its pid, the ids connected and each guest's. */
function doorbellView(paths: HostPaths, state: HostState): { view?: SetupStatus['doorbell']; ids: Map<string, number | null> } {
  const ids = new Map<string, number | null>();
  if (state.plan.mode !== 'doorbell' || !state.doorbell) return { ids };
  const pid = state.doorbell.pid;
  const running = pid !== undefined && isDoorbellServer(pid, state.name);
  let connected: number[] = [];
  if (running) {
    try {
      const v = JSON.parse(readFileSync(paths.doorbell, 'utf8')) as { pid?: unknown; peers?: unknown; guests?: unknown };
      if (v.pid === pid && Array.isArray(v.peers)) connected = v.peers.filter((x): x is number => Number.isSafeInteger(x));
      if (v.pid === pid && v.guests && typeof v.guests === 'object') {
        for (const [g, rec] of Object.entries(v.guests as Record<string, { id?: unknown } | null>)) {
          const id = rec?.id;
          ids.set(g, Number.isSafeInteger(id) ? (id as number) : null);
        }
      }
    } catch {
      /* not published yet */
    }
  }
  return { view: { ...(pid === undefined ? {} : { pid }), running, connected }, ids };
}

/** A roster as the plan says it, doorbell ids and seq left out: what must not change while the setup is up. */
function rosterShape(r: Roster): unknown {
  return { ...r, seq: 0, slots: r.slots.map((s) => ({ ...s, doorbellId: 0 })) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Opens a file of the setup for reading, or says why not into `problems`.
 * `moduleSizes`: with kvmring.ko, the size of each of its regions by name
 * (a node has none in stat()).
 */
function openFile(path: string, size: number, problems: string[], moduleSizes?: Map<string, number>): Mapping | undefined {
  if (!existsSync(path)) {
    problems.push(`${path} is gone`);
    return undefined;
  }
  const got = moduleSizes ? moduleSizes.get(basename(path)) : statSync(path).size;
  if (got === undefined) {
    problems.push(`${path}: kvmring.ko has no such region`);
    return undefined;
  }
  if (got !== size) {
    problems.push(`${path} has ${got} bytes; host up made ${size}`);
    if (got < size) return undefined;
  }
  return Mapping.open(path, { length: size, ...(moduleSizes ? { deviceSize: got } : {}) });
}

/** kvmring.ko's view of the setup's regions, or a problem when the module is gone. */
function moduleView(state: HostState, problems: string[]): SetupStatus['module'] {
  let mod: ModuleControl;
  try {
    mod = openModule(state.dir);
  } catch (err) {
    problems.push(`kvmring.ko: ${(err as Error).message}`);
    return undefined;
  }
  try {
    const st = mod.status();
    return { bytes: st.bytes, maxBytes: st.maxBytes, regions: st.regions.filter((r) => r.name.startsWith(filePrefix(state.name))) };
  } finally {
    mod.close();
  }
}

export async function hostStatus(paths: HostPaths, state: HostState, sampleMs = SAMPLE_MS): Promise<SetupStatus> {
  const plan = state.plan;
  const { view, ids } = doorbellView(paths, state);
  const s: SetupStatus = {
    name: state.name,
    dir: state.dir,
    stateDir: paths.dir,
    isolation: plan.isolation,
    mode: plan.mode,
    vectors: plan.vectors,
    ringSize: plan.ringSize,
    queues: plan.queues,
    instance: plan.instance,
    ...(view ? { doorbell: view } : {}),
    problems: [],
    guests: [],
    regions: [],
  };
  if (state.phase !== 'up') s.problems.push('`host up` did not finish; run `ringctl host down` and up again');
  if (view && !view.running) s.problems.push(`the doorbell server (pid ${view.pid ?? 'unknown'}) is not running`);
  if (state.provider === 'kvmring') {
    const m = moduleView(state, s.problems);
    if (m) s.module = m;
  }
  const moduleSizes = s.module ? new Map(s.module.regions.map((r) => [r.name, r.size])) : state.provider === 'kvmring' ? new Map<string, number>() : undefined;

  for (const g of plan.guests) {
    const path = join(state.dir, g.roster);
    let doorbellId: number | null = null;
    const m = openFile(path, g.devices[0].kind === 'roster' ? g.devices[0].size : C.KVMRING_ROSTER_SIZE, s.problems, moduleSizes);
    if (m) {
      try {
        const r = parseRoster(m.copy(0, C.KVMRING_ROSTER_SIZE));
        const id = r.slots.find((x) => x.slot === g.slot)?.doorbellId ?? C.KVMRING_DOORBELL_NONE;
        doorbellId = id === C.KVMRING_DOORBELL_NONE ? null : id;
        if (JSON.stringify(rosterShape(r)) !== JSON.stringify(rosterShape(rosterOf(plan, g.slot)))) {
          s.problems.push(`${g.name}'s roster ${path} is not the one host up wrote`);
        }
      } catch (err) {
        if (!(err instanceof RosterError)) throw err;
        s.problems.push(`${g.name}'s roster ${path}: ${err.message}`);
      } finally {
        m.close();
      }
    }
    s.guests.push({
      slot: g.slot,
      name: g.name,
      mac: g.mac,
      addrs: [...g.addrs],
      groups: [...g.groups],
      doorbellId,
      ...(view ? { connected: (ids.get(g.name) ?? null) !== null } : {}),
      roster: g.roster,
      regions: g.devices.flatMap((d) => (d.kind === 'region' ? [{ region: d.region, writable: !d.readonly }] : [])),
    });
  }

  const maps: (Mapping | undefined)[] = [];
  try {
    const first: ({ entry: Buffer; stable: boolean } | undefined)[] = [];
    for (const [i, r] of plan.regions.entries()) {
      const path = join(state.dir, r.file);
      const o: OwnedStatus = {
        index: i,
        file: r.file,
        owner: plan.guests[r.owner].name,
        readers: plan.guests.filter((g) => (r.readers >>> g.slot) & 1).map((g) => g.name),
        size: r.size,
      };
      const m = openFile(path, r.size, s.problems, moduleSizes);
      maps.push(m);
      if (m) {
        o.fileSize = m.fileSize;
        o.headerError = headerProblem(m.copy(0, LAYOUT.kvmring_owned_hdr.size), r, plan);
        if (o.headerError) s.problems.push(`${path}: ${o.headerError}: the region was re-formatted or overwritten; take the setup down and up again`);
      }
      first.push(m ? readEntry(m) : undefined);
      s.regions.push(o);
    }
    await sleep(sampleMs);
    for (const [i, o] of s.regions.entries()) {
      const m = maps[i];
      const read = first[i];
      if (!m || !read) continue;
      const owner = plan.guests[plan.regions[i].owner];
      o.entry = checkEntry(read.entry, read.stable, plan.mode, owner.mac, owner.addrs);
      const again = m.copy(ENTRY + at('heartbeat'), 8).readBigUInt64LE(0).toString();
      if (o.entry.state !== 'free') o.entry.liveness = again !== o.entry.heartbeat ? 'alive' : 'stale';
    }
  } finally {
    for (const m of maps) m?.close();
  }
  trackStale(paths.heartbeats, s.regions, Date.now());
  return s;
}

/** What the module's status says is in a region: the owner's entry, or the roster's seq and slots. */
function moduleContents(r: ModuleRegion): string {
  const kv = (line: string) => new Map(line.split(' ').map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
  const entry = r.details.find((d) => d.startsWith('entry '));
  if (entry) {
    const e = kv(entry);
    return `${e.get('state')} gen ${e.get('gen')} heartbeat ${e.get('heartbeat')}`;
  }
  const roster = r.details.find((d) => d.startsWith('roster '));
  if (roster) return `seq ${kv(roster).get('seq')}, ${r.details.filter((d) => d.startsWith('slot ')).length} slot(s)`;
  return r.details[0] ?? '-';
}

/** The report as text: the setup, a guest table, a region table, then each region's mismatches and errors. */
export function formatStatus(s: SetupStatus, table: (header: string[], rows: string[][]) => string): string {
  const out: string[] = [];
  const kv = (k: string, v: string) => out.push(`${k.padEnd(9)} ${v}`);
  kv('setup', `${s.name}: ${s.guests.length} guests, isolation ${s.isolation}, ${s.queues} queue pair(s) of ${formatSize(s.ringSize)} rings per pair`);
  kv('instance', s.instance);
  kv('files', s.dir);
  if (s.doorbell) {
    const d = s.doorbell;
    const server = d.pid === undefined ? 'no server' : `server pid ${d.pid} ${d.running ? 'running' : 'NOT running'}`;
    kv('mode', `doorbell, ${s.vectors} vector(s): ${server}, ids connected: ${d.connected.length ? d.connected.join(' ') : 'none'}`);
  } else kv('mode', s.mode);
  kv('state', s.stateDir);

  out.push('');
  const doorbell = s.doorbell !== undefined;
  out.push(
    table(
      ['SLOT', 'GUEST', 'MAC', 'PREFIXES', ...(doorbell ? ['DOORBELL'] : []), 'REGIONS'],
      s.guests.map((g) => [
        String(g.slot),
        g.name,
        g.mac,
        g.addrs.length ? g.addrs.join(',') : '-',
        ...(doorbell ? [g.doorbellId === null ? (g.connected ? 'connected, not in the roster yet' : '-') : `${g.doorbellId}${g.connected ? '' : ' (not connected)'}`] : []),
        g.regions.length ? g.regions.map((r) => `#${r.region}${r.writable ? ' rw' : ''}`).join(', ') : '-',
      ]),
    ).trimEnd(),
  );
  if (s.regions.length) {
    out.push('');
    out.push(
      table(
        ['#', 'REGION', 'OWNER', 'READERS', 'STATE', 'GEN', 'HEARTBEAT', 'MTU', 'MAC', 'ADDRESSES'],
        s.regions.map((r) => {
          const e = r.entry;
          const badMac = e?.mismatches.some((x) => x.startsWith('claims MAC')) ? ' !' : '';
          const badAddr = e?.mismatches.some((x) => !x.startsWith('claims MAC')) ? ' !' : '';
          return [
            `#${r.index}`,
            r.file,
            r.owner,
            r.readers.join(','),
            e ? e.state : 'unread',
            e ? String(e.generation) : '-',
            !e || e.state === 'free' ? '-' : e.liveness === 'stale' ? `stale ${e.staleSeconds ?? 0}s` : e.liveness,
            e?.mtu === undefined || e.state !== 'up' ? '-' : String(e.mtu),
            (e?.mac ?? '-') + badMac,
            (e?.addresses.length ? e.addresses.join(',') : '-') + badAddr,
          ];
        }),
      ).trimEnd(),
    );
  }
  for (const r of s.regions) {
    for (const m of r.entry?.mismatches ?? []) out.push(`#${r.index} ${r.owner}: ! ${m}`);
    for (const e of r.entry?.errors ?? []) out.push(`#${r.index} ${r.owner}: ${e}`);
  }
  if (s.module) {
    out.push('');
    kv('module', `kvmring.ko: ${s.module.regions.length} region(s) of this setup; ${formatSize(s.module.bytes)} of max_bytes ${formatSize(s.module.maxBytes)} in use`);
    out.push(
      table(
        ['REGION', 'SIZE', 'MEMORY', 'NODE', 'MAPPED BY', 'CONTENTS'],
        s.module.regions.map((r) => [
          r.name,
          formatSize(r.size),
          r.contiguous ? 'contiguous' : `${r.chunks} chunks, order >= ${r.minOrder}`,
          r.node < 0 ? `any (${r.actualNode})` : r.actualNode === r.node ? String(r.node) : `${r.node}, got ${r.actualNode}`,
          r.nrMappers || r.openers ? holders(r) : '-',
          moduleContents(r),
        ]),
      ).trimEnd(),
    );
  }
  for (const p of s.problems) out.push(`problem: ${p}`);
  return `${out.join('\n')}\n`;
}
