// Reading and formatting a kvmring region from TypeScript: what
// ringnet_region_format() and ringnet_region_geom() do in C, plus decoders for
// the peer table and the ring headers (for ringctl's peers and stats views).
// Everything read from a region is a snapshot that guests may be changing.
import type { IpAddress } from '../xdp/cidr.js';
import { defaultRingSize, geometryOk, peerOffset, ringCount, ringIndex, ringOffset, ringStride, type Geometry } from './geometry.js';
import { CONSTANTS as C, LAYOUT } from './layout.js';

const HDR = LAYOUT.kvmring_region_hdr.members;
const PEER = LAYOUT.kvmring_peer.members;
const RING = LAYOUT.kvmring_ring_hdr.members;

/** Why a region cannot be used, with the errno name the C core returns. */
export class RegionError extends Error {
  override readonly name = 'RegionError';
  constructor(
    readonly code: 'ENOENT' | 'EPROTONOSUPPORT' | 'EINVAL',
    message: string,
  ) {
    super(message);
  }
}

/** Writes bytes at an offset of the region (a Buffer, a file, ...). */
export type RegionWriter = (offset: number, bytes: Uint8Array) => void;

export interface FormatOptions {
  regionSize: number;
  /** Default KVMRING_PEERS_DEFAULT. */
  maxPeers?: number;
  /** Default: the largest that fits (defaultRingSize()). */
  ringSize?: number;
  /** KVMRING_REGION_F_* */
  flags?: number;
  /** Changes at every format so that guests notice; default: random. */
  instance?: bigint;
}

/**
 * Lays out an empty region as ringnet_region_format() does: clears magic, writes
 * the header page and an empty peer table, zeroes every ring header, and writes
 * magic last. Ring data is left as it is. Throws RangeError for a geometry that
 * does not fit.
 */
export function formatRegion(write: RegionWriter, opts: FormatOptions): Geometry {
  const maxPeers = opts.maxPeers ?? C.KVMRING_PEERS_DEFAULT;
  const g: Geometry = { regionSize: opts.regionSize, maxPeers, ringSize: opts.ringSize ?? defaultRingSize(opts.regionSize, maxPeers) };
  if (!geometryOk(g)) {
    throw new RangeError(
      `a ${opts.regionSize}-byte region cannot hold ${maxPeers} peers with rings of ${g.ringSize || 'any size'} bytes ` +
        `(rings are powers of two from ${C.KVMRING_RING_SIZE_MIN} to ${C.KVMRING_RING_SIZE_MAX} bytes)`,
    );
  }
  write(0, Buffer.alloc(8));
  const head = Buffer.alloc(C.KVMRING_RINGS_OFF);
  head.writeUInt32LE(C.KVMRING_ABI_VERSION, HDR.abi_version[0]);
  head.writeUInt32LE(opts.flags ?? 0, HDR.flags[0]);
  head.writeBigUInt64LE(BigInt(g.regionSize), HDR.region_size[0]);
  head.writeUInt32LE(g.maxPeers, HDR.max_peers[0]);
  head.writeUInt32LE(g.ringSize, HDR.ring_size[0]);
  head.writeUInt32LE(LAYOUT.kvmring_region_hdr.size, HDR.hdr_size[0]);
  head.writeUInt32LE(LAYOUT.kvmring_peer.size, HDR.peer_size[0]);
  head.writeUInt32LE(LAYOUT.kvmring_ring_hdr.size, HDR.ring_hdr_size[0]);
  head.writeUInt32LE(C.KVMRING_REC_ALIGN, HDR.rec_align[0]);
  head.writeBigUInt64LE(BigInt(C.KVMRING_PEER_TABLE_OFF), HDR.peer_table_off[0]);
  head.writeBigUInt64LE(BigInt(C.KVMRING_RINGS_OFF), HDR.rings_off[0]);
  head.writeBigUInt64LE(BigInt(ringStride(g.ringSize)), HDR.ring_stride[0]);
  head.writeBigUInt64LE(opts.instance ?? randomInstance(), HDR.instance[0]);
  write(8, head.subarray(8));
  const zeroRing = Buffer.alloc(LAYOUT.kvmring_ring_hdr.size);
  for (let i = 0; i < ringCount(maxPeers); i++) write(C.KVMRING_RINGS_OFF + i * ringStride(g.ringSize), zeroRing);
  const magic = Buffer.alloc(8);
  magic.writeBigUInt64LE(C.KVMRING_MAGIC);
  write(0, magic);
  return g;
}

function randomInstance(): bigint {
  return BigInt.asUintN(64, BigInt(Date.now()) * 1000003n + BigInt(Math.floor(Math.random() * 2 ** 32)));
}

/** formatRegion() over a Buffer holding the whole region. */
export function formatRegionBuffer(region: Buffer, opts: Omit<FormatOptions, 'regionSize'>): Geometry {
  return formatRegion((offset, bytes) => region.set(bytes, offset), { ...opts, regionSize: region.length });
}

/**
 * The geometry of a region from its first KVMRING_RINGS_OFF bytes, validated as
 * ringnet_region_geom() does against `mapped`, the bytes actually available.
 */
export function readGeometry(head: Buffer, mapped: number): Geometry {
  if (mapped < C.KVMRING_RINGS_OFF || head.length < LAYOUT.kvmring_region_hdr.size) {
    throw new RegionError('EINVAL', `a region must be at least ${C.KVMRING_RINGS_OFF} bytes`);
  }
  if (head.readBigUInt64LE(HDR.magic[0]) !== C.KVMRING_MAGIC) throw new RegionError('ENOENT', 'the region is not formatted (no kvmring magic)');
  const version = head.readUInt32LE(HDR.abi_version[0]);
  if (version !== C.KVMRING_ABI_VERSION) {
    throw new RegionError('EPROTONOSUPPORT', `the region has ABI version ${version}; this build speaks ${C.KVMRING_ABI_VERSION}`);
  }
  const regionSize = head.readBigUInt64LE(HDR.region_size[0]);
  const g: Geometry = {
    regionSize: regionSize > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(regionSize),
    maxPeers: head.readUInt32LE(HDR.max_peers[0]),
    ringSize: head.readUInt32LE(HDR.ring_size[0]),
  };
  if (!geometryOk(g) || g.regionSize > mapped) {
    throw new RegionError('EINVAL', `bad geometry: ${g.maxPeers} peers, ${g.ringSize}-byte rings, ${regionSize} bytes (${mapped} mapped)`);
  }
  const expect: [keyof typeof HDR, bigint | number][] = [
    ['hdr_size', LAYOUT.kvmring_region_hdr.size],
    ['peer_size', LAYOUT.kvmring_peer.size],
    ['ring_hdr_size', LAYOUT.kvmring_ring_hdr.size],
    ['rec_align', C.KVMRING_REC_ALIGN],
    ['peer_table_off', BigInt(C.KVMRING_PEER_TABLE_OFF)],
    ['rings_off', BigInt(C.KVMRING_RINGS_OFF)],
    ['ring_stride', BigInt(ringStride(g.ringSize))],
  ];
  for (const [field, want] of expect) {
    const [off, size] = HDR[field];
    const got = size === 8 ? head.readBigUInt64LE(off) : head.readUInt32LE(off);
    if (got !== want) throw new RegionError('EINVAL', `${field} is ${got}, expected ${want}: a layout from another build`);
  }
  return g;
}

export const PEER_STATES = { [C.KVMRING_PEER_FREE]: 'free', [C.KVMRING_PEER_CLAIMED]: 'claimed', [C.KVMRING_PEER_UP]: 'up' } as const;

export interface PeerSlot {
  slot: number;
  /** 'free', 'claimed', 'up', or the number found. */
  state: string | number;
  generation: number;
  heartbeat: bigint;
  doorbellId: number | undefined;
  flags: number;
  mtu: number;
  mac: Uint8Array;
  /** Even when the addresses were stable while read. */
  addrSeq: number;
  addresses: IpAddress[];
}

/** Decodes peer slot `slot` from a buffer that starts at the region's offset 0. */
export function decodePeer(region: Buffer, slot: number): PeerSlot {
  if (!Number.isInteger(slot) || slot < 0 || slot >= C.KVMRING_PEERS_MAX) throw new RangeError(`no peer slot ${slot}`);
  const p = region.subarray(peerOffset(slot), peerOffset(slot) + LAYOUT.kvmring_peer.size);
  const word = p.readBigUInt64LE(PEER.state[0]);
  const st = Number(word & 0xffn);
  const doorbell = p.readUInt32LE(PEER.doorbell_id[0]);
  const addresses: IpAddress[] = [];
  for (let i = 0; i < C.KVMRING_PEER_ADDRS; i++) {
    const v4 = p.subarray(PEER.ipv4[0] + 4 * i, PEER.ipv4[0] + 4 * i + 4);
    if (v4.some((b) => b !== 0)) addresses.push({ family: 4, bytes: Uint8Array.from(v4) });
  }
  for (let i = 0; i < C.KVMRING_PEER_ADDRS; i++) {
    const v6 = p.subarray(PEER.ipv6[0] + 16 * i, PEER.ipv6[0] + 16 * i + 16);
    if (v6.some((b) => b !== 0)) addresses.push({ family: 6, bytes: Uint8Array.from(v6) });
  }
  return {
    slot,
    state: PEER_STATES[st as keyof typeof PEER_STATES] ?? st,
    generation: Number(word >> 32n),
    heartbeat: p.readBigUInt64LE(PEER.heartbeat[0]),
    doorbellId: doorbell === C.KVMRING_DOORBELL_NONE ? undefined : doorbell,
    flags: p.readUInt32LE(PEER.flags[0]),
    mtu: p.readUInt32LE(PEER.mtu[0]),
    mac: Uint8Array.from(p.subarray(PEER.mac[0], PEER.mac[0] + PEER.mac[1])),
    addrSeq: p.readUInt32LE(PEER.addr_seq[0]),
    addresses,
  };
}

export interface RingState {
  from: number;
  to: number;
  prod: number;
  prodEpoch: number;
  cons: number;
  consEpoch: number;
  /** Bytes published and not yet released, if the two words agree. */
  inFlight: number | undefined;
  /** The consumer asked for a doorbell. */
  kickArmed: boolean;
}

/** Decodes ring from -> to's header from a buffer that starts at the region's offset 0. */
export function decodeRing(region: Buffer, g: Geometry, from: number, to: number): RingState {
  ringIndex(g.maxPeers, from, to); // throws for a pair that has no ring
  const h = region.subarray(ringOffset(g, from, to), ringOffset(g, from, to) + LAYOUT.kvmring_ring_hdr.size);
  const prod = h.readBigUInt64LE(RING.prod[0]);
  const cons = h.readBigUInt64LE(RING.cons[0]);
  const s = {
    prod: Number(prod & 0xffffffffn),
    prodEpoch: Number(prod >> 32n),
    cons: Number(cons & 0xffffffffn),
    consEpoch: Number(cons >> 32n),
  };
  const span = (s.prod - s.cons) >>> 0;
  return {
    from,
    to,
    ...s,
    inFlight: s.prodEpoch === s.consEpoch && span <= g.ringSize ? span : undefined,
    kickArmed: (h.readUInt32LE(RING.kick[0]) & 1) === 1,
  };
}
