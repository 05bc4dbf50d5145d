// The TypeScript view of include/kvmring/abi.h: constants and the size and
// [offset, size] of every member of every struct in the region, under the
// header's own names. Written by hand; test/unit/ring-layout.test.ts compiles a
// C program against the header and checks every number here, and that the
// members of each struct cover it byte for byte.

type Layout = { size: number; members: Record<string, readonly [offset: number, size: number]> };

export const CONSTANTS = {
  KVMRING_MAGIC: 0x00474e49524d564bn, // "KVMRING\0"
  KVMRING_ABI_VERSION: 1,
  KVMRING_CACHELINE: 64,
  KVMRING_PAGE: 4096,
  KVMRING_PEERS_MAX: 16,
  KVMRING_PEERS_DEFAULT: 8,
  KVMRING_RING_SIZE_MIN: 1 << 18,
  KVMRING_RING_SIZE_MAX: 1 << 28,
  KVMRING_PEER_TABLE_OFF: 4096,
  KVMRING_RINGS_OFF: 8192,
  KVMRING_FRAME_MIN: 14,
  KVMRING_FRAME_MAX: 65536 + 64,
  KVMRING_HEARTBEAT_MS: 100,
  KVMRING_PEER_DEAD_MS: 1000,
  KVMRING_DOORBELL_NONE: 0xffffffff,
  KVMRING_REGION_F_DOORBELL: 1,
  KVMRING_PEER_FREE: 0,
  KVMRING_PEER_CLAIMED: 1,
  KVMRING_PEER_UP: 2,
  KVMRING_PEER_F_DOORBELL: 1,
  KVMRING_PEER_ADDRS: 4,
  KVMRING_REC_ALIGN: 8,
  KVMRING_REC_F_PAD: 1,
  KVMRING_REC_F_CSUM_PARTIAL: 2,
  KVMRING_REC_F_DATA_VALID: 4,
  KVMRING_GSO_NONE: 0,
  KVMRING_GSO_TCPV4: 1,
  KVMRING_GSO_TCPV6: 4,
  KVMRING_GSO_UDP_L4: 5,
  KVMRING_GSO_ECN: 0x80,
} as const;

/** Sizes and [offset, size] of each member, reserved ones included. */
export const LAYOUT = {
  kvmring_region_hdr: {
    size: 128,
    members: {
      magic: [0, 8],
      abi_version: [8, 4],
      flags: [12, 4],
      region_size: [16, 8],
      max_peers: [24, 4],
      ring_size: [28, 4],
      hdr_size: [32, 4],
      peer_size: [36, 4],
      ring_hdr_size: [40, 4],
      rec_align: [44, 4],
      peer_table_off: [48, 8],
      rings_off: [56, 8],
      ring_stride: [64, 8],
      instance: [72, 8],
      rsvd: [80, 48],
    },
  },
  kvmring_peer: {
    size: 256,
    members: {
      state: [0, 8],
      heartbeat: [8, 8],
      doorbell_id: [16, 4],
      flags: [20, 4],
      mtu: [24, 4],
      mac: [28, 6],
      rsvd0: [34, 30],
      addr_seq: [64, 4],
      rsvd1: [68, 12],
      ipv4: [80, 16],
      ipv6: [96, 64],
      rsvd2: [160, 96],
    },
  },
  // A ring's two halves, each written by one side only.
  kvmring_ring_prod: {
    size: 128,
    members: {
      prod: [0, 8],
      rsvd0: [8, 56],
      prod_epoch: [64, 4],
      rsvd1: [68, 60],
    },
  },
  kvmring_ring_cons: {
    size: 128,
    members: {
      cons: [0, 8],
      rsvd0: [8, 56],
      kick: [64, 4],
      cons_epoch: [68, 4],
      rsvd1: [72, 56],
    },
  },
  // ABI v1: both halves side by side, the ring's data after them.
  kvmring_ring_hdr: {
    size: 256,
    members: {
      p: [0, 128],
      c: [128, 128],
    },
  },
  kvmring_rec: {
    size: 16,
    members: {
      len: [0, 4],
      flags: [4, 2],
      gso_size: [6, 2],
      csum_start: [8, 2],
      csum_offset: [10, 2],
      gso_type: [12, 1],
      rsvd: [13, 3],
    },
  },
} as const satisfies Record<string, Layout>;

export type StructName = keyof typeof LAYOUT;

/** Offset of a member of a struct in the region. */
export function offsetOf<S extends StructName>(struct: S, member: keyof (typeof LAYOUT)[S]['members']): number {
  const members: Layout['members'] = LAYOUT[struct].members;
  return members[member as string][0];
}

/** KVMRING_PEER_WORD(gen, st): a peer's state word, generation high, state low. */
export function peerWord(generation: number, state: number): bigint {
  return (BigInt(generation) << 32n) | BigInt(state);
}

/** KVMRING_PEER_STATE(w): the state in a peer's state word (its low byte). */
export function peerWordState(word: bigint): number {
  return Number(word & 0xffn);
}

/** KVMRING_PEER_GEN(w): the generation in a peer's state word (its high 32 bits). */
export function peerWordGeneration(word: bigint): number {
  return Number(word >> 32n);
}
