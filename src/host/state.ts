// What `ringctl host up` leaves for the other host verbs: one directory per
// setup under /run/kvmring/host/ (or $RINGCTL_HOST_RUN_DIR) holding state.json
// (the plan: guests, rosters, regions), and in doorbell mode the server's
// sockets, log and list of connected guests. The directory is created first
// and removed last, so it also serves as the lock that makes a second
// `host up` of the same name fail.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { RingctlError } from '../common/errors.js';
import { MAX_GUESTS, MAX_VECTORS, MIN_GUESTS } from './args.js';
import { groupsProblem, NAME_RE, type Group } from './groups.js';
import type { HostPlan, PlanGuest, PlanRegion } from './isolation.js';
import type { Provider } from './args.js';

export const DEFAULT_RUN_DIR = '/run/kvmring/host';
export const DEFAULT_NAME = 'kvmring';
export const DEFAULT_REGION_DIR = '/dev/shm';

export function hostRunDir(env: Record<string, string | undefined> = process.env): string {
  return env.RINGCTL_HOST_RUN_DIR || DEFAULT_RUN_DIR;
}

export interface HostPaths {
  name: string;
  dir: string;
  state: string;
  log: string;
  /** Written by the doorbell server: its pid, the ids connected and each guest's. */
  doorbell: string;
  /** Written by `host status`: when each region's heartbeat was first seen still. */
  heartbeats: string;
}

export function hostPaths(runDir: string, name: string): HostPaths {
  const dir = join(runDir, name);
  return {
    name,
    dir,
    state: join(dir, 'state.json'),
    log: join(dir, 'doorbell.log'),
    doorbell: join(dir, 'doorbell.json'),
    heartbeats: join(dir, 'heartbeats.json'),
  };
}

/** A random non-zero u64: a region's or a setup's instance, new at every `host up`. */
export function randomInstance(): bigint {
  let v = 0n;
  while (v === 0n) v = randomBytes(8).readBigUInt64LE();
  return v;
}

/** An instance as the state records it: 16 hex digits. */
export function formatInstance(v: bigint): string {
  return v.toString(16).padStart(16, '0');
}

export interface HostState {
  version: 2;
  name: string;
  /** 'creating' until every file is made and the server (if any) runs. */
  phase: 'creating' | 'up';
  /** Who made the rosters and regions: kvmring.ko or ringctl (files in --dir); absent: shm. */
  provider?: Provider;
  /** The directory of the rosters and regions (--dir, or the module's /dev/kvmring). */
  dir: string;
  /** On hugetlbfs: its page size, the smallest any file is. */
  hugePageSize?: number;
  createdAt: string;
  /** What `host up` planned (isolation.ts): guests, regions, devices. */
  plan: HostPlan;
  doorbell?: DoorbellState;
}

/**
 * The doorbell server's part of the state; `host doorbell-server` reads it
 * (serverConfig() in process.ts): each guest has a socket of its own
 * (guestSocket()) and rings only the guests it shares one of `groups` with.
 */
export interface DoorbellState {
  log: string;
  pid?: number;
  guests: { name: string; socket: string }[];
  groups: Group[];
}

/** Guest `guest`'s doorbell socket (ABI v2): only its QEMU is given this path. */
export function guestSocket(paths: HostPaths, guest: string): string {
  return join(paths.dir, `doorbell-${guest}.sock`);
}

/** Writes the state atomically (a reader sees the old or the new file, never half). */
export function writeState(paths: HostPaths, s: HostState): void {
  const tmp = `${paths.state}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(s, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, paths.state);
}

export class StateError extends RingctlError {}

const isInt = (v: unknown, lo: number, hi: number): v is number => Number.isSafeInteger(v) && (v as number) >= lo && (v as number) <= hi;

/** The state of setup `name`, undefined if it is not up, StateError if the file is damaged. */
export function readState(paths: HostPaths): HostState | undefined {
  if (!existsSync(paths.state)) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(paths.state, 'utf8'));
  } catch (err) {
    throw new StateError(`${paths.state} is unreadable (${(err as Error).message}); \`ringctl host down --name ${paths.name}\` cleans up`);
  }
  if (!isState(v, paths.name)) {
    throw new StateError(`${paths.state} is not a state file of this ringctl; \`ringctl host down --name ${paths.name}\` cleans up`);
  }
  return v;
}

/** Whether `v`, parsed from a state file, is the state of setup `name` as this ringctl writes it. */
function isState(v: unknown, name: string): v is HostState {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as { [K in keyof HostState]?: unknown };
  // Anything but null reads safely; a non-object just has no such properties.
  const d = s.doorbell as { [K in keyof DoorbellState]?: unknown } | null | undefined;
  return (
    s.version === 2 &&
    s.name === name &&
    (s.phase === 'creating' || s.phase === 'up') &&
    (s.provider === undefined || s.provider === 'kvmring' || s.provider === 'shm') &&
    typeof s.dir === 'string' &&
    s.dir.startsWith('/') &&
    (s.hugePageSize === undefined || isInt(s.hugePageSize, 4096, 2 ** 40)) &&
    typeof s.createdAt === 'string' &&
    isPlan(s.plan, name) &&
    (d === undefined ||
      (d !== null &&
        s.plan.mode === 'doorbell' &&
        typeof d.log === 'string' &&
        (d.pid === undefined || isInt(d.pid, 1, 2 ** 22)) &&
        isDoorbellGuests(d.guests, d.groups, s.plan.guests.length)))
  );
}

/** A file name of the plan's: one plain name, never a path (host down removes it). */
const isFileName = (v: unknown): v is string => typeof v === 'string' && /^kvmring-[^/]+$/.test(v) && v.length <= 255;
const isHex16 = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{16}$/.test(v);
const isDevfn = (v: unknown): v is number => isInt(v, 0, 0xff);

/**
 * Whether `v` is a plan for setup `name` as planHost() makes it: the things
 * the host verbs use, each in range, the files plain names in the setup's
 * directory and the regions' indexes and slots consistent.
 */
function isPlan(v: unknown, name: string): v is HostPlan {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as { [K in keyof HostPlan]?: unknown };
  if (p.abiVersion !== 2 || p.name !== name || (p.isolation !== 'owner' && p.isolation !== 'pair') || (p.mode !== 'plain' && p.mode !== 'doorbell')) return false;
  if (!isInt(p.vectors, 1, MAX_VECTORS) || !isInt(p.ringSize, 1, 2 ** 32) || !isInt(p.queues, 1, 64) || !isHex16(p.instance)) return false;
  if (!Array.isArray(p.guests) || !Array.isArray(p.regions)) return false;
  const n = p.guests.length;
  if (n < MIN_GUESTS || n > MAX_GUESTS) return false;
  const regions = p.regions as unknown[];
  const regionOk = (x: unknown): boolean => {
    const r = (x ?? {}) as { [K in keyof PlanRegion]?: unknown };
    return isFileName(r.file) && isInt(r.owner, 0, n - 1) && isInt(r.readers, 0, 2 ** n - 1) && isInt(r.size, 4096, 2 ** 40) && isHex16(r.instance);
  };
  if (!regions.every(regionOk)) return false;
  return (p.guests as unknown[]).every((x, slot) => {
    const g = (x ?? {}) as { [K in keyof PlanGuest]?: unknown };
    return (
      g.slot === slot &&
      typeof g.name === 'string' &&
      NAME_RE.test(g.name) &&
      typeof g.mac === 'string' &&
      Array.isArray(g.addrs) &&
      g.addrs.every((a) => typeof a === 'string') &&
      isInt(g.doorbellId, 0, 2 ** 32 - 1) &&
      Array.isArray(g.groups) &&
      Array.isArray(g.peers) &&
      g.peers.every((s) => isInt(s, 0, n - 1)) &&
      isFileName(g.roster) &&
      isInt(g.doorbellDevfn, 0, 0xffff) &&
      Array.isArray(g.devices) &&
      g.devices.every((dx) => {
        const dev = (dx ?? {}) as { kind?: unknown; devfn?: unknown; file?: unknown; size?: unknown; region?: unknown };
        if (!isDevfn(dev.devfn)) return false;
        if (dev.kind === 'doorbell') return true;
        if (!isFileName(dev.file) || !isInt(dev.size, 4096, 2 ** 40)) return false;
        return dev.kind === 'roster' || (dev.kind === 'region' && isInt(dev.region, 0, regions.length - 1));
      })
    );
  });
}

/** Whether `guests` and `groups` are a doorbell setup: `count` named guests with sockets of their own, groups of them. */
function isDoorbellGuests(guests: unknown, groups: unknown, count: number): boolean {
  if (!Array.isArray(guests) || !Array.isArray(groups) || guests.length !== count) return false;
  const names = new Set<string>();
  const sockets = new Set<string>();
  for (const g of guests as unknown[]) {
    const { name, socket } = (g ?? {}) as { name?: unknown; socket?: unknown };
    if (typeof name !== 'string' || !NAME_RE.test(name) || names.has(name)) return false;
    if (typeof socket !== 'string' || !socket.startsWith('/') || sockets.has(socket)) return false;
    names.add(name);
    sockets.add(socket);
  }
  for (const g of groups as unknown[]) {
    const { name, guests: members } = (g ?? {}) as { name?: unknown; guests?: unknown };
    if (typeof name !== 'string' || !Array.isArray(members) || !members.every((m) => typeof m === 'string')) return false;
  }
  return groupsProblem([...names], groups as Group[]) === undefined;
}
