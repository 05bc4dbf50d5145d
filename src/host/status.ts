// `ringctl host status`: the region as the guests see it. Everything read from
// the region was written by guests and is hostile: each field is range-checked
// and a bad one becomes an error line for its slot, never an exception. The
// ring core (ring-core.ts) checks the header and copies each peer entry out of
// the region; only those private copies are decoded here.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

import { errnoValue } from '../common/errno.js';
import { geometryOk, type Geometry } from '../ring/geometry.js';
import { CONSTANTS as C, LAYOUT, offsetOf, peerWordGeneration, peerWordState } from '../ring/layout.js';
import { formatIp, formatMac, type IpAddress } from '../xdp/cidr.js';
import { formatSize } from './args.js';
import { Mapping } from './mapping.js';
import { isDoorbellServer } from './process.js';
import { regionGeom, regionPeer, RingCoreError } from './ring-core.js';
import type { HostPaths, HostState } from './state.js';

/** Heartbeats are sampled twice this far apart: owners beat every KVMRING_HEARTBEAT_MS. */
export const SAMPLE_MS = 300;
/** Reads of a slot's addresses while addr_seq is odd or moving, before giving up. */
const ADDR_TRIES = 5;

const PEER_F_KNOWN = C.KVMRING_PEER_F_DOORBELL;
const REGION_F_KNOWN = C.KVMRING_REGION_F_DOORBELL;
/** ring0's largest L3 packet: the largest frame without the Ethernet header. */
const MTU_MAX = C.KVMRING_FRAME_MAX - 14;
const MTU_MIN = 68;

export interface SlotStatus {
  slot: number;
  state: 'free' | 'claimed' | 'up' | 'invalid';
  /** The state word, hex. */
  word: string;
  generation: number;
  mac?: string;
  mtu?: number;
  /** The ivshmem peer id the owner published, null for none. */
  doorbellId?: number | null;
  /** Doorbell mode: whether the server has a client with this slot's id. */
  connected?: boolean;
  addresses: string[];
  heartbeat: string;
  liveness: 'alive' | 'stale' | '-';
  /** With 'stale': seconds the heartbeat has been seen still (by this and earlier runs). */
  staleSeconds?: number;
  errors: string[];
}

export interface HeaderStatus {
  ok: boolean;
  error?: string;
  abiVersion: number;
  flags: number;
  regionSize: string;
  maxPeers: number;
  ringSize: number;
  instance: string;
}

export interface RegionStatus {
  name: string;
  path: string;
  stateDir: string;
  /** Bytes of the region file, undefined if it is gone. */
  fileSize?: number;
  mode: HostState['mode'];
  vectors: number;
  doorbell?: { socket: string; pid?: number; running: boolean; connected: number[] };
  header?: HeaderStatus;
  /** What makes the region unusable for guests (exit status 1). */
  problems: string[];
  slots: SlotStatus[];
}

/** A slot's state as KVMRING_PEER_STATE() gives it. */
const SLOT_STATES: Record<number, SlotStatus['state'] | undefined> = {
  [C.KVMRING_PEER_FREE]: 'free',
  [C.KVMRING_PEER_CLAIMED]: 'claimed',
  [C.KVMRING_PEER_UP]: 'up',
};

const hex64 = (v: bigint) => v.toString(16).padStart(16, '0');

/** Why ringnet_region_geom() refused the header, told with the fields it read. */
function headerProblem(errno: number, h: HeaderStatus, mapped: number): string {
  if (errno === errnoValue('ENOENT')) return 'the region is not formatted (no kvmring magic)';
  if (errno === errnoValue('EPROTONOSUPPORT')) return `the region has ABI version ${h.abiVersion}; this build speaks ${C.KVMRING_ABI_VERSION}`;
  const g: Geometry = { regionSize: Number(h.regionSize), maxPeers: h.maxPeers, ringSize: h.ringSize };
  if (!geometryOk(g) || BigInt(h.regionSize) > BigInt(mapped)) {
    return `bad geometry: ${h.maxPeers} peers, ${h.ringSize}-byte rings, ${h.regionSize} bytes (${mapped} mapped)`;
  }
  return 'the header\'s sizes and offsets are not this build\'s: a layout from another build';
}

function readHeader(m: Mapping): HeaderStatus {
  const head = m.copy(0, LAYOUT.kvmring_region_hdr.size);
  const u32 = (f: keyof typeof LAYOUT.kvmring_region_hdr.members) => head.readUInt32LE(offsetOf('kvmring_region_hdr', f));
  const u64 = (f: keyof typeof LAYOUT.kvmring_region_hdr.members) => head.readBigUInt64LE(offsetOf('kvmring_region_hdr', f));
  const h: HeaderStatus = {
    ok: true,
    abiVersion: u32('abi_version'),
    flags: u32('flags'),
    regionSize: u64('region_size').toString(),
    maxPeers: u32('max_peers'),
    ringSize: u32('ring_size'),
    instance: hex64(u64('instance')),
  };
  try {
    regionGeom(m);
  } catch (err) {
    if (!(err instanceof RingCoreError)) throw err;
    h.ok = false;
    h.error = `${headerProblem(err.errno, h, m.length)} (${err.code})`;
  }
  return h;
}

/** A peer slot's entry, decoded from the private copy ringnet_region_peer() made. */
interface SlotEntry {
  slot: number;
  /** The state word. */
  word: bigint;
  generation: number;
  heartbeat: bigint;
  doorbellId: number | undefined;
  flags: number;
  mtu: number;
  mac: Uint8Array;
  /** The addr_seq the addresses were read under. */
  seq: number;
  /** Whether they were read between two equal, even addr_seq values. */
  stable: boolean;
  addresses: IpAddress[];
}

function decodeSlotEntry(slot: number, entry: Buffer, stable: boolean): SlotEntry {
  const at = (f: keyof typeof LAYOUT.kvmring_peer.members) => offsetOf('kvmring_peer', f);
  const word = entry.readBigUInt64LE(at('state'));
  const doorbell = entry.readUInt32LE(at('doorbell_id'));
  const addresses: IpAddress[] = [];
  for (const [family, field, len] of [
    [4, 'ipv4', 4],
    [6, 'ipv6', 16],
  ] as const) {
    for (let i = 0; i < C.KVMRING_PEER_ADDRS; i++) {
      const bytes = Uint8Array.from(entry.subarray(at(field) + len * i, at(field) + len * (i + 1)));
      if (bytes.some((b) => b !== 0)) addresses.push({ family, bytes });
    }
  }
  return {
    slot,
    word,
    generation: peerWordGeneration(word),
    heartbeat: entry.readBigUInt64LE(at('heartbeat')),
    doorbellId: doorbell === C.KVMRING_DOORBELL_NONE ? undefined : doorbell,
    flags: entry.readUInt32LE(at('flags')),
    mtu: entry.readUInt32LE(at('mtu')),
    mac: Uint8Array.from(entry.subarray(at('mac'), at('mac') + LAYOUT.kvmring_peer.members.mac[1])),
    seq: entry.readUInt32LE(at('addr_seq')),
    stable,
    addresses,
  };
}

/** The slot, its addresses read under addr_seq (a seqlock: odd while the owner writes), tried a few times. */
function readSlot(m: Mapping, slot: number): SlotEntry {
  let copy = regionPeer(m, slot);
  for (let i = 1; i < ADDR_TRIES && !copy.stable; i++) copy = regionPeer(m, slot);
  return decodeSlotEntry(slot, copy.entry, copy.stable);
}

function implausible(a: IpAddress): string | undefined {
  const b = a.bytes;
  if (a.family === 4) {
    if (b[0] === 0 || b[0] === 127 || b[0] >= 224) return 'not a unicast address';
  } else if (b[0] === 0xff || b.every((x, i) => x === (i === 15 ? 1 : 0))) return 'not a unicast address';
  return undefined;
}

function checkSlot(p: SlotEntry, mode: HostState['mode']): SlotStatus {
  const { word, stable, seq } = p;
  const raw = peerWordState(word);
  const s: SlotStatus = {
    slot: p.slot,
    state: SLOT_STATES[raw] ?? 'invalid',
    word: hex64(word),
    generation: p.generation,
    addresses: [],
    heartbeat: p.heartbeat.toString(),
    liveness: '-',
    errors: [],
  };
  if (s.state === 'invalid') s.errors.push(`unknown state ${raw} in the state word`);
  if ((word >> 8n) & 0xffffffn) s.errors.push(`state word 0x${hex64(word)} has bits 8..31 set`);
  if (s.state === 'free') return s;

  s.mtu = p.mtu;
  s.doorbellId = p.doorbellId ?? null;
  if (p.flags & ~PEER_F_KNOWN) s.errors.push(`unknown flags 0x${(p.flags >>> 0).toString(16)}`);
  if (p.doorbellId !== undefined && p.doorbellId > 0xffff) s.errors.push(`doorbell id ${p.doorbellId} is beyond ivshmem's 16 bits`);
  else if (mode === 'doorbell' && s.state === 'up' && (p.doorbellId ?? C.KVMRING_DOORBELL_NONE) === C.KVMRING_DOORBELL_NONE) {
    s.errors.push('no doorbell id (in doorbell mode a guest publishes its IVPosition)');
  }
  if (s.state !== 'up') return s; // the owner is still filling in its entry

  s.mac = formatMac(p.mac);
  if (p.mac.every((b) => b === 0)) s.errors.push('no MAC address');
  else if (p.mac[0] & 1) s.errors.push(`MAC ${s.mac} is a multicast address`);
  if (p.mtu < MTU_MIN || p.mtu > MTU_MAX) s.errors.push(`MTU ${p.mtu} is outside ${MTU_MIN}..${MTU_MAX}`);
  if (!stable) {
    s.errors.push(`addresses kept changing while read (addr_seq ${seq})`);
  } else {
    for (const a of p.addresses) {
      const text = formatIp(a);
      const bad = implausible(a);
      if (bad) s.errors.push(`published address ${text} is ${bad}`);
      else s.addresses.push(text);
    }
  }
  return s;
}

type StillSince = Record<string, { word: string; heartbeat: string; since: number } | undefined>;

/** When each slot's heartbeat was first seen still, kept across runs in the state directory. */
function trackStale(file: string, slots: SlotStatus[], now: number): void {
  let seen: StillSince = {};
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (v && typeof v === 'object') seen = v as StillSince;
  } catch {
    /* first run, or damaged: start again */
  }
  const next: StillSince = {};
  for (const s of slots) {
    if (s.liveness !== 'stale') continue;
    const old = seen[String(s.slot)];
    const since = old && old.word === s.word && old.heartbeat === s.heartbeat && Number.isFinite(old.since) && old.since <= now ? old.since : now;
    next[String(s.slot)] = { word: s.word, heartbeat: s.heartbeat, since };
    s.staleSeconds = Math.floor((now - since) / 1000);
  }
  try {
    writeFileSync(`${file}.tmp`, `${JSON.stringify(next)}\n`, { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  } catch {
    /* a read-only view: durations start from this run */
  }
}

function doorbellView(paths: HostPaths, state: HostState): RegionStatus['doorbell'] {
  if (state.mode !== 'doorbell' || !state.doorbell) return undefined;
  const pid = state.doorbell.pid;
  const running = pid !== undefined && isDoorbellServer(pid, state.name);
  let connected: number[] = [];
  if (running) {
    try {
      const v = JSON.parse(readFileSync(paths.doorbell, 'utf8')) as { pid?: unknown; peers?: unknown };
      if (v.pid === pid && Array.isArray(v.peers)) connected = v.peers.filter((x): x is number => Number.isSafeInteger(x));
    } catch {
      /* not published yet */
    }
  }
  return { socket: state.doorbell.socket, pid, running, connected };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function hostStatus(paths: HostPaths, state: HostState, sampleMs = SAMPLE_MS): Promise<RegionStatus> {
  const r: RegionStatus = {
    name: state.name,
    path: state.path,
    stateDir: paths.dir,
    mode: state.mode,
    vectors: state.vectors,
    doorbell: doorbellView(paths, state),
    problems: [],
    slots: [],
  };
  if (state.phase !== 'up') r.problems.push('`host up` did not finish; run `ringctl host down` and up again');
  if (r.doorbell && !r.doorbell.running) r.problems.push(`the doorbell server (pid ${r.doorbell.pid ?? 'unknown'}) is not running`);
  if (!existsSync(state.path)) {
    r.problems.push(`${state.path} is gone`);
    return r;
  }

  // All of it: the ring core checks the header's region size against what is mapped.
  const m = Mapping.open(state.path);
  try {
    r.fileSize = m.fileSize;
    if (m.length < C.KVMRING_RINGS_OFF) {
      r.problems.push(`${state.path} has ${m.fileSize} bytes, too few for a header and a peer table`);
      return r;
    }
    const h = readHeader(m);
    r.header = h;
    if (!h.ok) r.problems.push(`the region header is unusable: ${h.error}`);
    else {
      if (h.maxPeers !== state.maxPeers) r.problems.push(`the header says ${h.maxPeers} peers; host up made ${state.maxPeers}`);
      if (h.instance !== state.instance) r.problems.push(`instance ${h.instance} is not the ${state.instance} host up wrote: someone re-formatted the region`);
      if ((h.flags & C.KVMRING_REGION_F_DOORBELL ? 'doorbell' : 'plain') !== state.mode) r.problems.push(`the header's flags (0x${h.flags.toString(16)}) say another mode than ${state.mode}`);
      if (h.flags & ~REGION_F_KNOWN) r.problems.push(`unknown region flags 0x${(h.flags >>> 0).toString(16)}`);
    }
    if (m.fileSize !== state.size) r.problems.push(`the file has ${m.fileSize} bytes; host up made ${state.size}`);

    // The table has as many slots as the header says if it is sane, else as many as we made.
    const slots = h.ok ? h.maxPeers : state.maxPeers;
    const first = Array.from({ length: slots }, (_, i) => readSlot(m, i));
    await sleep(sampleMs);
    const again = Array.from({ length: slots }, (_, i) => decodeSlotEntry(i, regionPeer(m, i).entry, false));
    for (const [i, read] of first.entries()) {
      const s = checkSlot(read, state.mode);
      if (s.state !== 'free') s.liveness = again[i].heartbeat !== read.heartbeat ? 'alive' : 'stale';
      // A held slot is connected when its owner's IVPosition is; a free slot has none.
      if (r.doorbell) s.connected = s.state !== 'free' && s.doorbellId != null && r.doorbell.connected.includes(s.doorbellId);
      r.slots.push(s);
    }
  } finally {
    m.close();
  }
  trackStale(paths.heartbeats, r.slots, Date.now());
  return r;
}

/** The report as text: region lines, a slot table, then each slot's errors. */
export function formatStatus(r: RegionStatus, table: (header: string[], rows: string[][]) => string): string {
  const out: string[] = [];
  const kv = (k: string, v: string) => out.push(`${k.padEnd(9)} ${v}`);
  kv('region', `${r.path}${r.fileSize === undefined ? ' (missing)' : ` (${formatSize(r.fileSize)})`}`);
  if (r.header) {
    kv('abi', `${r.header.abiVersion}${r.header.ok ? '' : ' (header unusable)'}`);
    if (r.header.ok) {
      kv('peers', `${r.header.maxPeers} slots, ${r.header.maxPeers * (r.header.maxPeers - 1)} rings of ${formatSize(r.header.ringSize)}`);
      kv('instance', r.header.instance);
    }
  }
  if (r.doorbell) {
    const d = r.doorbell;
    const server = d.pid === undefined ? 'no server' : `server pid ${d.pid} ${d.running ? 'running' : 'NOT running'}`;
    kv('mode', `doorbell, ${r.vectors} vector(s): ${d.socket}, ${server}, ids connected: ${d.connected.length ? d.connected.join(' ') : 'none'}`);
  } else kv('mode', r.mode);
  kv('state', r.stateDir);
  if (r.slots.length) {
    out.push('');
    const doorbell = r.doorbell !== undefined;
    const header = ['SLOT', 'STATE', 'GEN', 'MAC', 'MTU', ...(doorbell ? ['DOORBELL'] : []), 'HEARTBEAT', 'LIVENESS', 'ADDRESSES'];
    const rows = r.slots.map((s) => [
      String(s.slot),
      s.state,
      String(s.generation),
      s.mac ?? '-',
      s.mtu === undefined || s.state !== 'up' ? '-' : String(s.mtu),
      ...(doorbell ? [s.connected ? 'connected' : '-'] : []),
      s.state === 'free' ? '-' : s.heartbeat,
      s.liveness === 'stale' ? `stale ${s.staleSeconds ?? 0}s` : s.liveness,
      s.addresses.length ? s.addresses.join(',') : '-',
    ]);
    out.push(table(header, rows).trimEnd());
    for (const s of r.slots) for (const e of s.errors) out.push(`slot ${s.slot}: ${e}`);
  }
  for (const p of r.problems) out.push(`problem: ${p}`);
  return `${out.join('\n')}\n`;
}
