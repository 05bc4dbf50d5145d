// Where things are in a ring and an owned region (ABI v2): the functions of
// include/kvmring/abi.h, checked against the C ones by test/unit/ring-layout.test.ts.
import { CONSTANTS as C, LAYOUT } from './layout.js';

/** Bytes a frame of `len` bytes takes in a ring: header and padding included. */
export function recSize(len: number): number {
  const a = C.KVMRING_REC_ALIGN;
  return Math.ceil((LAYOUT.kvmring_rec.size + len) / a) * a;
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
