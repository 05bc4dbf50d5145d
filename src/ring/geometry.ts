// Where things are in a region of a given geometry: the functions of
// include/kvmring/abi.h, checked against the C ones by test/unit/ring-layout.test.ts.
import { CONSTANTS as C, LAYOUT } from './layout.js';

/** The geometry a region header records (and a reader validates). */
export interface Geometry {
  /** Bytes of the whole region. */
  regionSize: number;
  /** Peer slots, 2..KVMRING_PEERS_MAX. */
  maxPeers: number;
  /** Data bytes of every ring, a power of two. */
  ringSize: number;
}

/** Bytes a frame of `len` bytes takes in a ring: header and padding included. */
export function recSize(len: number): number {
  const a = C.KVMRING_REC_ALIGN;
  return Math.ceil((LAYOUT.kvmring_rec.size + len) / a) * a;
}

/** Rings in a region of `maxPeers` slots: one per ordered pair. */
export function ringCount(maxPeers: number): number {
  return maxPeers * (maxPeers - 1);
}

/** Index of ring from -> to among the ringCount(maxPeers) rings. */
export function ringIndex(maxPeers: number, from: number, to: number): number {
  if (from === to || from >= maxPeers || to >= maxPeers || from < 0 || to < 0) {
    throw new RangeError(`no ring ${from} -> ${to} among ${maxPeers} peers`);
  }
  return from * (maxPeers - 1) + (to < from ? to : to - 1);
}

export function ringStride(ringSize: number): number {
  return LAYOUT.kvmring_ring_hdr.size + ringSize;
}

/** Bytes from the start of the region to the end of the last ring. */
export function regionUsed(maxPeers: number, ringSize: number): number {
  return C.KVMRING_RINGS_OFF + ringCount(maxPeers) * ringStride(ringSize);
}

export function peerOffset(slot: number): number {
  return C.KVMRING_PEER_TABLE_OFF + slot * LAYOUT.kvmring_peer.size;
}

/** Offset of ring from -> to's header; its data follows the header. */
export function ringOffset(g: Geometry, from: number, to: number): number {
  return C.KVMRING_RINGS_OFF + ringIndex(g.maxPeers, from, to) * ringStride(g.ringSize);
}

const isPowerOfTwo = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** Whether the geometry is one the ring core accepts (kvmring_geom_ok()). */
export function geometryOk(g: Geometry): boolean {
  return (
    Number.isInteger(g.maxPeers) &&
    g.maxPeers >= 2 &&
    g.maxPeers <= C.KVMRING_PEERS_MAX &&
    g.ringSize >= C.KVMRING_RING_SIZE_MIN &&
    g.ringSize <= C.KVMRING_RING_SIZE_MAX &&
    isPowerOfTwo(g.ringSize) &&
    regionUsed(g.maxPeers, g.ringSize) <= g.regionSize
  );
}

/**
 * The largest power-of-two ring size that fits ringCount(maxPeers) rings into
 * the region, or 0 if even KVMRING_RING_SIZE_MIN does not.
 */
export function defaultRingSize(regionSize: number, maxPeers: number): number {
  if (!Number.isInteger(maxPeers) || maxPeers < 2 || maxPeers > C.KVMRING_PEERS_MAX) return 0;
  for (let size = C.KVMRING_RING_SIZE_MAX; size >= C.KVMRING_RING_SIZE_MIN; size /= 2) {
    if (regionUsed(maxPeers, size) <= regionSize) return size;
  }
  return 0;
}

// ---- ABI v2: owned regions -------------------------------------------------

/**
 * Lane of reader slot `reader` in a region read by `readers` (a mask of slots):
 * how many readers have a lower slot. -1 if `reader` is not one (kvmring_lane_of()).
 */
export function laneOf(readers: number, reader: number): number {
  if (!Number.isInteger(reader) || reader < 0 || reader >= C.KVMRING_PEERS_MAX || !((readers >>> reader) & 1)) return -1;
  return laneCount(readers & ((1 << reader) - 1));
}

/** Lanes of a region read by `readers`: one per reader (kvmring_lane_count()). */
export function laneCount(readers: number): number {
  let n = 0;
  for (let r = readers >>> 0; r; r = (r & (r - 1)) >>> 0) n++;
  return n;
}

/** The slots of a readers mask, ascending: lane k is the k-th. */
export function readerSlots(readers: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < 32; s++) if ((readers >>> s) & 1) out.push(s);
  return out;
}

/** Bytes of one queue block: its control page and the ring's data (kvmring_queue_stride()). */
export function queueStride(ringSize: number): number {
  return C.KVMRING_QUEUE_CTL_SIZE + ringSize;
}

/** Offset of the control page of queue q of lane `lane`; the ring's data follows it (kvmring_queue_offset()). */
export function queueOffset(ringSize: number, queues: number, lane: number, q: number): number {
  return C.KVMRING_LANES_OFF + (lane * queues + q) * queueStride(ringSize);
}

/** Bytes an owned region with these readers uses (kvmring_owned_used()). */
export function ownedUsed(readers: number, ringSize: number, queues: number): number {
  return queueOffset(ringSize, queues, laneCount(readers), 0);
}
