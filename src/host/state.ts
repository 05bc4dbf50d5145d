// What `ringctl host up` leaves for the other host verbs: one directory per
// region under /run/kvmring/host/ (or $RINGCTL_HOST_RUN_DIR) holding state.json,
// and in doorbell mode the server's socket, log and list of connected peers.
// The directory is created first and removed last, so it also serves as the
// lock that makes a second `host up` of the same name fail.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { RingctlError } from '../common/errors.js';
import { MAX_GUESTS, MAX_VECTORS, MIN_GUESTS } from './args.js';
import { groupsProblem, NAME_RE, type Group } from './groups.js';

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
  socket: string;
  log: string;
  /** Written by the doorbell server: its pid and the peer ids connected. */
  doorbell: string;
  /** Written by `host status`: when each slot's heartbeat was first seen still. */
  heartbeats: string;
}

export function hostPaths(runDir: string, name: string): HostPaths {
  const dir = join(runDir, name);
  return {
    name,
    dir,
    state: join(dir, 'state.json'),
    socket: join(dir, 'doorbell.sock'),
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

export function regionPath(dir: string, name: string): string {
  return join(dir, `kvmring-${name}`);
}

export interface HostState {
  version: 1;
  name: string;
  /** 'creating' until the region is formatted and the server (if any) runs. */
  phase: 'creating' | 'up';
  path: string;
  size: number;
  maxPeers: number;
  /** 0 until formatted. */
  ringSize: number;
  mode: 'plain' | 'doorbell';
  vectors: number;
  /** The region's instance, hex. */
  instance: string;
  hugePageSize?: number;
  createdAt: string;
  doorbell?: DoorbellState;
}

/**
 * The doorbell server's part of the state; `host doorbell-server` reads it
 * (serverConfig() in process.ts). Without `guests` (ABI v1, what `host up`
 * writes) every guest connects to `socket` and may ring every other. With
 * `guests` (ABI v2) each guest has a socket of its own (guestSocket()) and
 * rings only the guests it shares one of `groups` with; the server does not
 * listen on `socket` then.
 */
export interface DoorbellState {
  socket: string;
  log: string;
  pid?: number;
  guests?: { name: string; socket: string }[];
  groups?: Group[];
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

/** The state of `name`, undefined if it is not up, StateError if the file is damaged. */
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

/** Whether `v`, parsed from a state file, is the state of region `name` as this ringctl writes it. */
function isState(v: unknown, name: string): v is HostState {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as { [K in keyof HostState]?: unknown };
  // Anything but null reads safely; a non-object just has no such properties.
  const d = s.doorbell as { [K in keyof DoorbellState]?: unknown } | null | undefined;
  return (
    s.version === 1 &&
    s.name === name &&
    (s.phase === 'creating' || s.phase === 'up') &&
    typeof s.path === 'string' &&
    s.path.startsWith('/') &&
    isInt(s.size, 1, Number.MAX_SAFE_INTEGER) &&
    isInt(s.maxPeers, MIN_GUESTS, MAX_GUESTS) &&
    isInt(s.ringSize, 0, 2 ** 32) &&
    (s.mode === 'plain' || s.mode === 'doorbell') &&
    isInt(s.vectors, 1, MAX_VECTORS) &&
    typeof s.instance === 'string' &&
    (d === undefined ||
      (d !== null &&
        typeof d.socket === 'string' &&
        typeof d.log === 'string' &&
        (d.pid === undefined || isInt(d.pid, 1, 2 ** 22)) &&
        ((d.guests === undefined && d.groups === undefined) || isDoorbellGuests(d.guests, d.groups, s.maxPeers))))
  );
}

/** Whether `guests` and `groups` are a v2 doorbell setup: 1 to maxPeers named guests with sockets of their own, groups of them. */
function isDoorbellGuests(guests: unknown, groups: unknown, maxPeers: number): boolean {
  if (!Array.isArray(guests) || !Array.isArray(groups) || guests.length < 1 || guests.length > maxPeers) return false;
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
