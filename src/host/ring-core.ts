// The ring core itself (guest-netdev/ringnet_ring.c, built by mk/host.mk as
// build/native/libringnet_ring.so): the host formats a region and checks it with
// the code the guest driver runs, not a second implementation.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import koffi from 'koffi';

import type { Geometry } from '../ring/geometry.js';
import { RingctlError } from '../common/errors.js';
import { errnoName, errnoValue } from '../common/errno.js';
import type { Mapping } from './mapping.js';

type Fn = (...args: any[]) => any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** struct kvmring_geom (kmod/kvmring_abi.h): private, never in the region. */
const kvmring_geom = koffi.struct({ region_size: 'uint64_t', max_peers: 'uint32_t', ring_size: 'uint32_t' });

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

let core: { format: Fn; geom: Fn } | undefined;

function lib() {
  if (core) return core;
  const path = ringCoreLibrary();
  if (!existsSync(path)) throw new RingctlError(`${path} is missing: build it with npm run build (or make)`);
  const h = koffi.load(path);
  core = {
    format: h.func('ringnet_region_format', 'int', ['void *', 'uint64_t', 'uint32_t', 'uint32_t', 'uint32_t', 'uint64_t']),
    geom: h.func('ringnet_region_geom', 'int', ['void *', 'uint64_t', koffi.out(koffi.pointer(kvmring_geom))]),
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
export function regionFormat(m: Mapping, p: FormatParams): void {
  if (m.length !== m.fileSize) throw new Error(`${m.path}: format needs the whole region mapped`);
  const ret = lib().format(m.ptr, m.length, p.maxPeers, p.ringSize ?? 0, p.flags, p.instance) as number;
  if (ret < 0) throw new RingCoreError(`ringnet_region_format(${m.path}, ${p.maxPeers} peers)`, -ret);
}

/** ringnet_region_geom() on a mapping: the geometry the guests will accept, or RingCoreError. */
export function regionGeom(m: Mapping): Geometry {
  const g = { region_size: 0, max_peers: 0, ring_size: 0 };
  const ret = lib().geom(m.ptr, m.length, g) as number;
  if (ret < 0) throw new RingCoreError(m.path, -ret);
  return { regionSize: Number(g.region_size), maxPeers: g.max_peers, ringSize: g.ring_size };
}
