// The host's formatter, kmod/kvmring_format.c, compiled to WebAssembly
// (build/native/kvmring_format.wasm, harness/format_wasm.c's exports): the
// same C that kvmring.ko formats its regions with, so the module and the
// files in /dev/shm cannot disagree on a byte. Loaded on first use, run
// synchronously; every call builds into the module's own buffer and hands back
// a copy.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { errnoName } from '../common/errno.js';
import { CONSTANTS as C, LAYOUT } from '../ring/layout.js';

interface Exports {
  memory: WebAssembly.Memory;
  kvmring_wasm_buf(): number;
  kvmring_wasm_roster_init(self: number, maxPeers: number, flags: number, nregions: number, ringSize: number, queues: number, isolation: number, doorbellDevfn: number, instance: bigint): number;
  kvmring_wasm_roster_set_region(i: number, owner: number, readers: number, devfn: number, size: bigint, instance: bigint): number;
  kvmring_wasm_roster_set_slot(slot: number, doorbellId: number, nameLen: number): number;
  kvmring_wasm_roster_set_addr(slot: number, k: number, family: number, prefixLen: number): number;
  kvmring_wasm_roster_check(): number;
  kvmring_wasm_roster_publish(): void;
  kvmring_wasm_owned_hdr(owner: number, readers: number, ringSize: number, queues: number, size: bigint, instance: bigint): number;
}

/** Where the module is: $RINGCTL_FORMAT_WASM, or the package's build/native. */
export function formatWasmPath(env: Record<string, string | undefined> = process.env): string {
  return env.RINGCTL_FORMAT_WASM || fileURLToPath(new URL('../../../build/native/kvmring_format.wasm', import.meta.url));
}

let loaded: { x: Exports; buf: number } | undefined;

function wasm(): { x: Exports; buf: number } {
  if (loaded) return loaded;
  const path = formatWasmPath();
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}; build it with npx zx scripts/build.mjs native`, { cause: err });
  }
  const x = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(bytes))).exports as unknown as Exports;
  loaded = { x, buf: x.kvmring_wasm_buf() };
  return loaded;
}

/** A view of the module's buffer: `len` bytes at `off`. */
function view(off: number, len: number): Uint8Array {
  const { x, buf } = wasm();
  return new Uint8Array(x.memory.buffer, buf + off, len);
}

const ARGS = 2 * C.KVMRING_ROSTER_SIZE;

/** Throws what the C said (a negative errno) about `what`. */
function check(rc: number, what: string): void {
  if (rc < 0) throw new RangeError(`${what}: ${errnoName(-rc)}`);
}

/** A roster's header fields, slots and regions, as the formatter takes them. */
export interface RosterInput {
  self: number;
  maxPeers: number;
  flags: number;
  ringSize: number;
  queues: number;
  /** KVMRING_ISOLATION_*. */
  isolation: number;
  doorbellDevfn: number;
  instance: bigint;
  slots: { slot: number; doorbellId: number; mac: Uint8Array; name: Uint8Array; addrs: { family: number; prefix: number; bytes: Uint8Array }[] }[];
  regions: { owner: number; readers: number; devfn: number; size: number; instance: bigint }[];
}

/** A roster's KVMRING_ROSTER_SIZE bytes, magic included, seq 0. */
export function formatRoster(r: RosterInput): Buffer {
  const { x } = wasm();
  check(x.kvmring_wasm_roster_init(r.self, r.maxPeers, r.flags, r.regions.length, r.ringSize, r.queues, r.isolation, r.doorbellDevfn, r.instance), `a roster of ${r.maxPeers} slots and ${r.regions.length} regions`);
  r.regions.forEach((g, i) => check(x.kvmring_wasm_roster_set_region(i, g.owner, g.readers, g.devfn, BigInt(g.size), g.instance), `region ${i}`));
  for (const s of r.slots) {
    if (s.mac.length !== 6) throw new RangeError(`slot ${s.slot}: a MAC is 6 bytes, not ${s.mac.length}`);
    if (s.name.length > 32) throw new RangeError(`slot ${s.slot}: a name holds 32 bytes, not ${s.name.length}`);
    view(ARGS, 6).set(s.mac);
    view(ARGS + 8, s.name.length).set(s.name);
    check(x.kvmring_wasm_roster_set_slot(s.slot, s.doorbellId, s.name.length), `slot ${s.slot} in a table of ${r.maxPeers}`);
    s.addrs.forEach((a, k) => {
      const b = view(ARGS + 64, 16);
      b.fill(0);
      b.set(a.bytes.subarray(0, 16));
      check(x.kvmring_wasm_roster_set_addr(s.slot, k, a.family, a.prefix), `slot ${s.slot}'s prefix ${k}`);
    });
  }
  return Buffer.from(view(0, C.KVMRING_ROSTER_SIZE));
}

/** What kvmring.ko asks of a roster (kvmring_roster_check()): null, or why not. */
export function rosterProblem(roster: Uint8Array): string | null {
  const { x } = wasm();
  view(0, C.KVMRING_ROSTER_SIZE).set(roster.subarray(0, C.KVMRING_ROSTER_SIZE));
  const rc = x.kvmring_wasm_roster_check();
  return rc < 0 ? `the module would refuse it (${errnoName(-rc)})` : null;
}

/** kvmring_roster_publish() on a copy: what `live` holds after `roster` is written into it. */
export function publishRoster(live: Uint8Array, roster: Uint8Array): Buffer {
  const { x } = wasm();
  view(0, C.KVMRING_ROSTER_SIZE).set(live.subarray(0, C.KVMRING_ROSTER_SIZE));
  view(C.KVMRING_ROSTER_SIZE, C.KVMRING_ROSTER_SIZE).set(roster.subarray(0, C.KVMRING_ROSTER_SIZE));
  x.kvmring_wasm_roster_publish();
  return Buffer.from(view(0, C.KVMRING_ROSTER_SIZE));
}

/** An owned region as the formatter takes it. */
export interface OwnedInput {
  owner: number;
  readers: number;
  ringSize: number;
  queues: number;
  size: number;
  instance: bigint;
}

/**
 * The header of an owned region (struct kvmring_owned_hdr), magic included,
 * and whether the module would take the region (kvmring_owned_check()).
 */
export function formatOwnedHeader(o: OwnedInput): { header: Buffer; problem: string | null } {
  const { x } = wasm();
  const rc = x.kvmring_wasm_owned_hdr(o.owner, o.readers, o.ringSize, o.queues, BigInt(o.size), o.instance);
  return { header: Buffer.from(view(0, LAYOUT.kvmring_owned_hdr.size)), problem: rc < 0 ? errnoName(-rc) : null };
}
