// The ring core itself (guest-netdev/ringnet_ring.c, built by mk/host.mk as
// build/native/libringnet_ring.so): the host formats a region, checks it and
// reads its peer table with the code the guest driver runs, not a second
// implementation.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import koffi from 'koffi';

import type { Geometry } from '../ring/geometry.js';
import { RingctlError } from '../common/errors.js';
import { errnoName, errnoValue } from '../common/errno.js';
import { LAYOUT } from '../ring/layout.js';

/** struct kvmring_geom (include/kvmring/abi.h): private, never in the region. */
const kvmring_geom = koffi.struct({ region_size: 'uint64_t', max_peers: 'uint32_t', ring_size: 'uint32_t' });

const EAGAIN = errnoValue('EAGAIN');
const ENOENT = errnoValue('ENOENT');
const EINVAL = errnoValue('EINVAL');
const EPROTONOSUPPORT = errnoValue('EPROTONOSUPPORT');

/** What ringnet_region_geom()/ringnet_region_format() refused, with the errno they returned. */
export class RingCoreError extends RingctlError {
  readonly errno: number;
  readonly code: string;

  constructor(what: string, errno: number) {
    const why =
      errno === ENOENT
        ? 'not formatted (no kvmring magic)'
        : errno === EPROTONOSUPPORT
          ? 'formatted for another ABI version'
          : errno === EINVAL
            ? 'bad or foreign geometry'
            : 'refused';
    const code = errnoName(errno);
    super(`${what}: ${why} (${code})`);
    this.errno = errno;
    this.code = code;
  }
}

export function ringCoreLibrary(env: Record<string, string | undefined> = process.env): string {
  return env.RINGCTL_RING_LIB || fileURLToPath(new URL('../../../build/native/libringnet_ring.so', import.meta.url));
}

/** Memory holding a region from its first byte: a Mapping, or a Buffer in tests. */
export interface RegionMemory {
  /** For messages: the file, or what the memory is. */
  readonly path: string;
  /** The first byte: an address (a Mapping's) or a Buffer. */
  readonly ptr: bigint | Buffer;
  /** Bytes from ptr that may be read (and written, for format). */
  readonly length: number;
  /** Bytes of the whole region (its file); format needs all of them in length. */
  readonly fileSize: number;
}

type Region = bigint | Buffer;
interface Core {
  format(region: Region, size: number, maxPeers: number, ringSize: number, flags: number, instance: bigint): number;
  geom(region: Region, mapped: number, g: { region_size: number | bigint; max_peers: number; ring_size: number }): number;
  peer(region: Region, mapped: number, slot: number, entry: Buffer): number;
}

let core: Core | undefined;

function lib() {
  if (core) return core;
  const path = ringCoreLibrary();
  if (!existsSync(path)) throw new RingctlError(`${path} is missing: build it with npm run build (or make)`);
  const h = koffi.load(path);
  core = {
    format: h.func('ringnet_region_format', 'int', ['void *', 'uint64_t', 'uint32_t', 'uint32_t', 'uint32_t', 'uint64_t']),
    geom: h.func('ringnet_region_geom', 'int', ['void *', 'uint64_t', koffi.out(koffi.pointer(kvmring_geom))]),
    peer: h.func('ringnet_region_peer', 'int', ['void *', 'uint64_t', 'uint32_t', 'void *']),
  };
  return core;
}

export interface FormatParams {
  maxPeers: number;
  /** 0: the largest that fits (kvmring_default_ring_size()). */
  ringSize?: number;
  /** KVMRING_REGION_F_* */
  flags: number;
  instance: bigint;
}

/** ringnet_region_format() over the whole of a writable mapping. */
export function regionFormat(m: RegionMemory, p: FormatParams): void {
  if (m.length !== m.fileSize) throw new Error(`${m.path}: format needs the whole region mapped`);
  const ret = lib().format(m.ptr, m.length, p.maxPeers, p.ringSize ?? 0, p.flags, p.instance);
  if (ret < 0) throw new RingCoreError(`ringnet_region_format(${m.path}, ${p.maxPeers} peers)`, -ret);
}

/** ringnet_region_geom() on a mapping: the geometry the guests will accept, or RingCoreError. */
export function regionGeom(m: RegionMemory): Geometry {
  // koffi fills it in; a uint64_t comes back as a bigint when it is beyond 2^53.
  const g: { region_size: number | bigint; max_peers: number; ring_size: number } = { region_size: 0, max_peers: 0, ring_size: 0 };
  const ret = lib().geom(m.ptr, m.length, g);
  if (ret < 0) throw new RingCoreError(m.path, -ret);
  return { regionSize: Number(g.region_size), maxPeers: g.max_peers, ringSize: g.ring_size };
}

/** A private copy of a peer slot's entry (struct kvmring_peer), as ringnet_region_peer() took it. */
export interface PeerEntryCopy {
  entry: Buffer;
  /** Whether the addresses were read between two equal, even addr_seq values. */
  stable: boolean;
}

/** ringnet_region_peer(): a copy of slot's entry; throws RangeError for a slot outside the table or `m`. */
export function regionPeer(m: RegionMemory, slot: number): PeerEntryCopy {
  const entry = Buffer.alloc(LAYOUT.kvmring_peer.size);
  const ret = lib().peer(m.ptr, m.length, slot, entry);
  if (ret < 0 && ret !== -EAGAIN) throw new RangeError(`${m.path}: no peer slot ${slot} in the ${m.length} bytes mapped`);
  return { entry, stable: ret === 0 };
}
