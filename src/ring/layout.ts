// The TypeScript view of include/kvmring/abi.h (ABI v2): constants and the size
// and [offset, size] of every member of every struct in the roster and the owned
// regions, under the header's own names. Written by hand;
// test/unit/ring-layout.test.ts compiles a C program against the header and
// checks every number here, and that the members of each struct cover it byte
// for byte.

type Layout = { size: number; members: Record<string, readonly [offset: number, size: number]> };

export const CONSTANTS = {
  KVMRING_ABI_VERSION: 2,
  KVMRING_ROSTER_MAGIC: 0x5254534f524d564bn, // "KVMROSTR"
  KVMRING_OWNED_MAGIC: 0x4e574f474e49524bn, // "KRINGOWN"
  KVMRING_CACHELINE: 64,
  KVMRING_PAGE: 4096,
  KVMRING_PEERS_MAX: 16,
  KVMRING_RING_SIZE_MIN: 1 << 18,
  KVMRING_RING_SIZE_MAX: 1 << 28,
  KVMRING_FRAME_MIN: 14,
  KVMRING_FRAME_MAX: 65536 + 64,
  KVMRING_HEARTBEAT_MS: 100,
  KVMRING_DOORBELL_NONE: 0xffffffff,
  KVMRING_PEER_FREE: 0,
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
  // The roster and the owned regions.
  KVMRING_ROSTER_SIZE: 2 * 4096,
  KVMRING_ROSTER_DEVFN: 0x10 << 3, // 00:10.0
  KVMRING_ROSTER_REGIONS_OFF: 2048,
  KVMRING_ROSTER_REGIONS_MAX: 64,
  KVMRING_ROSTER_SLOTS_OFF: 4096,
  KVMRING_ROSTER_ADDRS: 8,
  KVMRING_OWNED_ENTRY_OFF: 1024,
  KVMRING_LANES_OFF: 4096,
  KVMRING_QUEUE_CTL_SIZE: 4096,
  KVMRING_QUEUES_MAX: 8,
  KVMRING_ISOLATION_OWNER: 1,
  KVMRING_ISOLATION_PAIR: 2,
  KVMRING_ROSTER_F_DOORBELL: 1,
  KVMRING_ROSTER_SLOT_F_PRESENT: 1,
  KVMRING_NO_DEVFN: 0xffff,
} as const;

/** Sizes and [offset, size] of each member, reserved ones included. */
export const LAYOUT = {
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
  // The roster and the owned regions.
  kvmring_roster_hdr: {
    size: 128,
    members: {
      magic: [0, 8],
      abi_version: [8, 4],
      flags: [12, 4],
      seq: [16, 4],
      self: [20, 4],
      max_peers: [24, 4],
      nregions: [28, 4],
      ring_size: [32, 4],
      queues: [36, 4],
      isolation: [40, 4],
      doorbell_devfn: [44, 2],
      rsvd0: [46, 2],
      instance: [48, 8],
      hdr_size: [56, 4],
      slot_size: [60, 4],
      region_entry_size: [64, 4],
      rsvd1: [68, 4],
      slots_off: [72, 8],
      regions_off: [80, 8],
      rsvd2: [88, 40],
    },
  },
  kvmring_roster_addr: {
    size: 20,
    members: {
      family: [0, 1],
      prefix_len: [1, 1],
      rsvd: [2, 2],
      addr: [4, 16],
    },
  },
  kvmring_roster_slot: {
    size: 256,
    members: {
      flags: [0, 4],
      doorbell_id: [4, 4],
      mac: [8, 6],
      rsvd0: [14, 2],
      name: [16, 32],
      addrs: [48, 8 * 20],
      rsvd1: [208, 48],
    },
  },
  kvmring_roster_region: {
    size: 32,
    members: {
      owner: [0, 4],
      readers: [4, 4],
      devfn: [8, 2],
      rsvd0: [10, 2],
      rsvd1: [12, 4],
      size: [16, 8],
      instance: [24, 8],
    },
  },
  kvmring_owned_hdr: {
    size: 128,
    members: {
      magic: [0, 8],
      abi_version: [8, 4],
      owner: [12, 4],
      instance: [16, 8],
      region_size: [24, 8],
      readers: [32, 4],
      ring_size: [36, 4],
      queues: [40, 4],
      rsvd0: [44, 4],
      rsvd1: [48, 80],
    },
  },
  kvmring_queue_ctl: {
    size: 4096,
    members: {
      tx: [0, 128], // struct kvmring_ring_prod: owner -> reader, the owner's half
      rx: [128, 128], // struct kvmring_ring_cons: reader -> owner, the owner's half
      rsvd: [256, 4096 - 256],
    },
  },
} as const satisfies Record<string, Layout>;

export type StructName = keyof typeof LAYOUT;

/** Offset of a member of a struct of the header. */
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
