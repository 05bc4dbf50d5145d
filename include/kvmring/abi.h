/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kvmring/abi.h - the layout of the memory the host shares with the guests
 * (ABI v2), the one definition of it.
 *
 * The host maps into each guest, as ivshmem PCI functions, a roster and
 * regions that each have exactly one writer, so that the hypervisor, not
 * the guests' good manners, keeps a guest out of what it does not own: a
 * region is mapped read-write into its owner and read-only into its
 * readers. No guest trusts what another wrote. Every side includes this
 * header as "kvmring/abi.h" with the repository's include/ on its path:
 * kernel C (guest-netdev/) and userspace C (harness/, test/hostile/); the
 * TypeScript view in src/ring/ is checked against it by
 * test/unit/ring-layout. (ABI v1, one region every guest wrote, is gone.)
 *
 * Slots. The host numbers the guests 0..max_peers-1 (a guest's slot) and
 * decides everything about them: name, ring0 MAC, the addresses each may
 * claim, its doorbell id, and which guests may talk (groups).
 *
 * The roster (one per guest, KVMRING_ROSTER_SIZE bytes, written only by the
 * host, mapped read-only): which slot the guest is, every slot it may talk
 * to, and every region mapped into it with the PCI function it is at. It is
 * the only thing a guest trusts. The host maps it at a PCI function the guest
 * knows beforehand (ringnet's roster= parameter, default
 * KVMRING_ROSTER_DEVFN on the root bus), never by scanning for a magic a
 * neighbour could write into its own region.
 *
 * Owned regions (written only by their owner, read-only to their readers):
 *
 *   offset 0                   struct kvmring_owned_hdr (the host formats it)
 *   KVMRING_OWNED_ENTRY_OFF    struct kvmring_peer: the owner's entry
 *   KVMRING_LANES_OFF          lane 0, lane 1, ... one per reader, each
 *                              `queues` queue blocks of KVMRING_QUEUE_CTL_SIZE
 *                              + ring_size bytes:
 *                                struct kvmring_queue_ctl (one page)
 *                                ring_size data bytes of ring owner -> reader
 *
 * There is one single-producer single-consumer ring per ordered pair of
 * slots that may talk and queue pair. A queue block holds the producer half
 * and the data of ring owner -> reader (queue q) and the consumer half of
 * ring reader -> owner (queue q); the other halves of both rings are in the
 * reader's region. Lane k belongs to the reader whose slot is the k-th bit
 * set in the roster's readers mask for the region (kvmring_lane_of()). All
 * multi-byte fields are little-endian; kvmring runs on little-endian
 * machines only.
 *
 * Isolation levels, the host's choice:
 *   owner  one region per guest and group it is in, readers = the group's
 *          other members (those an earlier region of the same owner does not
 *          serve; one group, the default, gives one region per guest read by
 *          everyone else): a guest can write only its own regions (write
 *          isolation), and read the traffic of its neighbours to each other
 *          within its groups, never traffic to a guest outside them.
 *   pair   one region per ordered pair (owner, reader), readers = {reader}:
 *          mapped only into those two guests (read and write isolation).
 *
 * The entry in an owned region: the owner's state word (generation, UP or
 * FREE; there is no claiming, the host assigned the slot), heartbeat, flags,
 * mtu, and the MAC and addresses it claims. Readers believe only what the
 * roster confirms: a MAC other than the roster's, or an address outside the
 * roster's prefixes for the slot, is a conflict, counted and ignored. Under
 * `pair` the owner writes the same entry into each of its regions.
 *
 * Offsets are computed from sizes the reader has validated against the
 * roster (ring_size, queues, readers), never from what a region's header
 * says, which its owner may change at any time.
 *
 * Records. The producer writes a frame as one record at its position in the
 * ring's data area: a 16-byte struct kvmring_rec and the frame, padded to
 * KVMRING_REC_ALIGN. A record never straddles the end of the data area: when
 * the frame does not fit before the end, the producer first writes a pad
 * record (flags == KVMRING_REC_F_PAD, len == 0) that covers the rest of the
 * area, and the frame record starts at offset 0. The tail before the end can
 * be as short as 8 bytes, so a reader looks only at len and flags (the first
 * 8 bytes) before it knows the record is a frame that fits. A ring of
 * ring_size bytes always holds a maximal record after a pad because
 * KVMRING_RING_SIZE_MIN >= 2 * kvmring_rec_size(KVMRING_FRAME_MAX).
 *
 * Positions. Each side publishes one 64-bit word, KVMRING_POS(epoch, index):
 * the index is a free-running 32-bit byte position (the offset in the data
 * area is index & (ring_size - 1); the bytes in flight prod - cons, mod 2^32,
 * are at most ring_size and a multiple of KVMRING_REC_ALIGN) and the epoch
 * counts the ring's resets. Index and epoch change in one store, so a reader
 * never pairs an index with the wrong epoch. Each word's epoch is copied into
 * a rarely written line (prod_epoch, cons_epoch) where the other side can
 * check for a reset on every operation without touching the hot lines; the
 * copies only prompt a look at the words, which are the truth.
 *
 * Reset. A ring is usable while both words carry the same epoch. A side that
 * finds the ring beyond repair publishes index 0 with an epoch one past the
 * newer of the two (serial-number order, made total); the other side, seeing
 * a newer epoch, publishes index 0 with that epoch too. A side that sees an
 * older epoch it did not cause starts a reset itself. Each side writes only
 * its own word, so the ring stays single-producer single-consumer. A side
 * that waits, or finds nothing to do, rewrites its word and copy if they are
 * not what it last wrote: an overwritten word cannot stall the ring.
 *
 * Notification (doorbell mode). The consumer arms "kick me" by writing a new
 * odd value to kick, then re-checks prod; the producer, after publishing,
 * rings the doorbell once per distinct odd value it sees. Both sides put a
 * full barrier between their write and their read, so no wake-up is lost.
 */
#ifndef KVMRING_ABI_H
#define KVMRING_ABI_H

#ifndef __VMLINUX_H__
/* Kernel, userspace and BPF alike; BPF's vmlinux.h defines __u32 itself. */
#include <linux/types.h>
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "kvmring: the region layout is little-endian and so must the machine be"
#endif
#if defined(__KERNEL__) && !defined(CONFIG_64BIT)
#error "kvmring: ring positions are 64-bit words read and written in one access"
#endif

#define KVMRING_ABI_VERSION	2
#define KVMRING_ROSTER_MAGIC	0x5254534f524d564bULL	/* "KVMROSTR" */
#define KVMRING_OWNED_MAGIC	0x4e574f474e49524bULL	/* "KRINGOWN" */

#define KVMRING_CACHELINE	64
#define KVMRING_PAGE		4096

/* Geometry limits. */
#define KVMRING_PEERS_MAX	16
#define KVMRING_RING_SIZE_MIN	(1U << 18)	/* 256 KiB: two maximal records */
#define KVMRING_RING_SIZE_MAX	(1U << 28)	/* keeps 32-bit index arithmetic exact */

/*
 * Frames: an Ethernet frame without FCS, from a bare header up to a 64 KiB
 * IPv4/IPv6 packet (a GSO super-frame) with its Ethernet and VLAN headers.
 */
#define KVMRING_FRAME_MIN	14
#define KVMRING_FRAME_MAX	(65536 + 64)

/* Liveness: owners beat every KVMRING_HEARTBEAT_MS; a reader decides when a still heart is dead. */
#define KVMRING_HEARTBEAT_MS	100

#define KVMRING_DOORBELL_NONE	0xffffffffU

/* ---- the owner's entry -------------------------------------------------- */

/*
 * At KVMRING_OWNED_ENTRY_OFF of every region a guest owns. state packs a
 * state (bits 0..7) and a generation (bits 32..63). The owner joins with a
 * generation past the one its regions hold: it writes FREE with the new
 * generation, fills in its entry, renews its ends of the rings, then sets
 * UP; it leaves by writing FREE. A new generation tells readers that the
 * slot's guest restarted while they looked away. Any other state is not
 * UP.
 */
#define KVMRING_PEER_FREE	0
#define KVMRING_PEER_UP		2	/* entry valid, rings attached */

#define KVMRING_PEER_STATE(w)	((__u32)((w) & 0xff))
#define KVMRING_PEER_GEN(w)	((__u32)((__u64)(w) >> 32))
#define KVMRING_PEER_WORD(gen, st)	(((__u64)(gen) << 32) | (__u64)(st))

#define KVMRING_PEER_F_DOORBELL	(1U << 0)	/* owner sleeps: ring its doorbell when it asks */

#define KVMRING_PEER_ADDRS	4

struct kvmring_peer {
	/* line 0: state and liveness */
	__u64	state;			/* KVMRING_PEER_WORD(generation, state) */
	__u64	heartbeat;		/* owner adds 1 every KVMRING_HEARTBEAT_MS */
	__u32	doorbell_id;		/* ivshmem peer id (IVPosition) or KVMRING_DOORBELL_NONE */
	__u32	flags;			/* KVMRING_PEER_F_* */
	__u32	mtu;			/* largest L3 packet the owner accepts on ring0 */
	__u8	mac[6];			/* ring0's MAC address */
	__u8	rsvd0[30];
	/* lines 1..3: published addresses; addr_seq is odd while they change */
	__u32	addr_seq;
	__u8	rsvd1[12];
	__u8	ipv4[KVMRING_PEER_ADDRS][4];	/* network byte order, 0.0.0.0 = unused */
	__u8	ipv6[KVMRING_PEER_ADDRS][16];	/* network byte order, :: = unused */
	__u8	rsvd2[96];
};

/* ---- rings -------------------------------------------------------------- */

/*
 * A ring has two halves, each written by one side only: the producer's half
 * (its position word and the copy of its epoch) and the consumer's half (its
 * position word, the copy of its epoch and the kick). Each half is two cache
 * lines, so that the hot word lives alone and the rarely written line can be
 * read without touching it:
 *   prod half  line 0  prod         producer, every publish
 *              line 1  prod_epoch   producer, rarely; consumer reads it per frame
 *   cons half  line 0  cons         consumer, every release
 *              line 1  kick, cons_epoch  consumer, rarely; producer reads it per publish
 * A zeroed half is an empty ring at epoch 0. The ring core takes the two
 * halves and the data area as three pointers, since they live in different
 * regions: the producer's half and the data in a region its guest owns, the
 * consumer's half in one the consumer owns (struct kvmring_queue_ctl).
 */
struct kvmring_ring_prod {
	__u64	prod;			/* KVMRING_POS(): end of the last published record */
	__u64	rsvd0[7];
	__u32	prod_epoch;		/* copy of prod's epoch */
	__u32	rsvd1[15];
};

struct kvmring_ring_cons {
	__u64	cons;			/* KVMRING_POS(): end of the last released record */
	__u64	rsvd0[7];
	__u32	kick;			/* odd: consumer asks for a doorbell; new odd value per ask */
	__u32	cons_epoch;		/* copy of cons's epoch */
	__u32	rsvd1[14];
};

#define KVMRING_POS(epoch, index)	(((__u64)(epoch) << 32) | (__u32)(index))
#define KVMRING_POS_INDEX(pos)		((__u32)(pos))
#define KVMRING_POS_EPOCH(pos)		((__u32)((__u64)(pos) >> 32))

#define KVMRING_REC_ALIGN	8

#define KVMRING_REC_F_PAD		(1U << 0)	/* skip to the end of the data area */
#define KVMRING_REC_F_CSUM_PARTIAL	(1U << 1)	/* checksum at csum_start + csum_offset not filled in */
#define KVMRING_REC_F_DATA_VALID	(1U << 2)	/* checksums verified by the sender */
#define KVMRING_REC_F_FRAME_MASK	(KVMRING_REC_F_CSUM_PARTIAL | KVMRING_REC_F_DATA_VALID)

/* gso_type: the frame is a GSO super-frame of this kind (virtio_net_hdr values) */
#define KVMRING_GSO_NONE	0
#define KVMRING_GSO_TCPV4	1
#define KVMRING_GSO_TCPV6	4
#define KVMRING_GSO_UDP_L4	5
#define KVMRING_GSO_ECN		0x80

struct kvmring_rec {
	__u32	len;			/* frame bytes after this header; 0 for a pad */
	__u16	flags;			/* KVMRING_REC_F_* */
	__u16	gso_size;		/* MSS of a GSO super-frame, else 0 */
	__u16	csum_start;		/* with KVMRING_REC_F_CSUM_PARTIAL */
	__u16	csum_offset;
	__u8	gso_type;		/* KVMRING_GSO_* */
	__u8	rsvd[3];
};

/* Bytes a record of a frame of frame_len bytes takes: header, frame, padding. */
static inline __u32 kvmring_rec_size(__u32 frame_len)
{
	return (__u32)(sizeof(struct kvmring_rec) + frame_len + KVMRING_REC_ALIGN - 1) &
	       ~(__u32)(KVMRING_REC_ALIGN - 1);
}

/* ---- roster and owned regions ------------------------------------------- */

#define KVMRING_ROSTER_SIZE	(2 * KVMRING_PAGE)
#define KVMRING_ROSTER_DEVFN	(0x10 << 3)	/* 00:10.0, the roster's default place */
#define KVMRING_ROSTER_REGIONS_OFF	2048
#define KVMRING_ROSTER_REGIONS_MAX	64
#define KVMRING_ROSTER_SLOTS_OFF	KVMRING_PAGE
#define KVMRING_ROSTER_ADDRS	8

#define KVMRING_OWNED_ENTRY_OFF	1024
#define KVMRING_LANES_OFF	KVMRING_PAGE
#define KVMRING_QUEUE_CTL_SIZE	KVMRING_PAGE
#define KVMRING_QUEUES_MAX	8

#define KVMRING_ISOLATION_OWNER	1
#define KVMRING_ISOLATION_PAIR	2

#define KVMRING_ROSTER_F_DOORBELL	(1U << 0)	/* doorbell mode: doorbell_devfn is the doorbell device */
#define KVMRING_ROSTER_SLOT_F_PRESENT	(1U << 0)	/* the slot is a guest this guest may talk to */

#define KVMRING_NO_DEVFN	0xffff

/*
 * Written by the host only. seq is odd while the host rewrites the roster
 * (a doorbell id changes when a guest reconnects); a reader copies the
 * roster between two reads of the same even seq. Every size and offset is
 * also a constant of this header and must equal it.
 */
struct kvmring_roster_hdr {
	__u64	magic;			/* KVMRING_ROSTER_MAGIC, written last at creation */
	__u32	abi_version;		/* KVMRING_ABI_VERSION */
	__u32	flags;			/* KVMRING_ROSTER_F_* */
	__u32	seq;			/* odd while the host writes */
	__u32	self;			/* the slot of the guest this roster is for */
	__u32	max_peers;		/* slots in the table, 2..KVMRING_PEERS_MAX */
	__u32	nregions;		/* entries in the region table */
	__u32	ring_size;		/* data bytes of every ring, a power of two */
	__u32	queues;			/* queue pairs per ordered pair, 1..KVMRING_QUEUES_MAX */
	__u32	isolation;		/* KVMRING_ISOLATION_* */
	__u16	doorbell_devfn;		/* with KVMRING_ROSTER_F_DOORBELL, else KVMRING_NO_DEVFN */
	__u16	rsvd0;
	__u64	instance;		/* new at every `host up`: guests notice a new host setup */
	__u32	hdr_size;		/* sizeof(struct kvmring_roster_hdr) */
	__u32	slot_size;		/* sizeof(struct kvmring_roster_slot) */
	__u32	region_entry_size;	/* sizeof(struct kvmring_roster_region) */
	__u32	rsvd1;
	__u64	slots_off;		/* KVMRING_ROSTER_SLOTS_OFF */
	__u64	regions_off;		/* KVMRING_ROSTER_REGIONS_OFF */
	__u8	rsvd2[40];
};

/* An address prefix a slot may claim; family 0 ends the list. */
struct kvmring_roster_addr {
	__u8	family;			/* 0 unused, 4 or 6 */
	__u8	prefix_len;		/* 0..32 or 0..128 */
	__u8	rsvd[2];
	__u8	addr[16];		/* network byte order; IPv4 in the first 4 bytes */
};

struct kvmring_roster_slot {
	__u32	flags;			/* KVMRING_ROSTER_SLOT_F_* */
	__u32	doorbell_id;		/* IVPosition of the slot's doorbell, or KVMRING_DOORBELL_NONE */
	__u8	mac[6];			/* ring0's MAC: the slot's only source and destination MAC */
	__u8	rsvd0[2];
	char	name[32];		/* the host's name for the guest, NUL-padded */
	struct kvmring_roster_addr addrs[KVMRING_ROSTER_ADDRS];
	__u8	rsvd1[48];
};

/* A region mapped into this guest. */
struct kvmring_roster_region {
	__u32	owner;			/* the slot that writes it */
	__u32	readers;		/* bit s: slot s reads it; lane k is the k-th bit set */
	__u16	devfn;			/* PCI slot << 3 | function on the guest's root bus */
	__u16	rsvd0;
	__u32	rsvd1;
	__u64	size;			/* bytes, a power of two: BAR2 of that function */
	__u64	instance;		/* the region's header carries the same after the format */
};

/* The host formats an owned region: everything zero, then this, magic last. */
struct kvmring_owned_hdr {
	__u64	magic;			/* KVMRING_OWNED_MAGIC */
	__u32	abi_version;		/* KVMRING_ABI_VERSION */
	__u32	owner;			/* as the roster says; informational */
	__u64	instance;		/* as the roster's region entry */
	__u64	region_size;
	__u32	readers;
	__u32	ring_size;
	__u32	queues;
	__u32	rsvd0;
	__u8	rsvd1[80];
};

/* One queue of one lane: the control page before the data of ring owner -> reader. */
struct kvmring_queue_ctl {
	struct kvmring_ring_prod	tx;	/* owner -> reader: the owner's half */
	struct kvmring_ring_cons	rx;	/* reader -> owner: the owner's half */
	__u8				rsvd[KVMRING_QUEUE_CTL_SIZE - 256];
};

/* Lane of reader slot `reader` in a region read by `readers`, or -1 if it is not one. */
static inline int kvmring_lane_of(__u32 readers, __u32 reader)
{
	__u32 below, n = 0;

	if (reader >= KVMRING_PEERS_MAX || !(readers & (1U << reader)))
		return -1;
	for (below = readers & ((1U << reader) - 1); below; below &= below - 1)
		n++;
	return (int)n;
}

static inline __u32 kvmring_lane_count(__u32 readers)
{
	__u32 n = 0;

	for (; readers; readers &= readers - 1)
		n++;
	return n;
}

static inline __u64 kvmring_queue_stride(__u32 ring_size)
{
	return KVMRING_QUEUE_CTL_SIZE + (__u64)ring_size;
}

/* Offset of the control page of queue q of lane k; the ring's data follows it. */
static inline __u64 kvmring_queue_offset(__u32 ring_size, __u32 queues, __u32 lane, __u32 q)
{
	return KVMRING_LANES_OFF + ((__u64)lane * queues + q) * kvmring_queue_stride(ring_size);
}

/* Bytes an owned region with these readers uses. */
static inline __u64 kvmring_owned_used(__u32 readers, __u32 ring_size, __u32 queues)
{
	return kvmring_queue_offset(ring_size, queues, kvmring_lane_count(readers), 0);
}

/* ---- checks --------------------------------------------------------------- */

#define KVMRING_ABI_CHECK(cond)	_Static_assert(cond, #cond)
#define KVMRING_OFF(type, field)	__builtin_offsetof(struct type, field)

KVMRING_ABI_CHECK(sizeof(struct kvmring_peer) == 256);
KVMRING_ABI_CHECK(KVMRING_OFF(kvmring_peer, addr_seq) == KVMRING_CACHELINE);
KVMRING_ABI_CHECK(KVMRING_OFF(kvmring_peer, ipv4) == 80);
KVMRING_ABI_CHECK(KVMRING_OFF(kvmring_peer, ipv6) == 96);
KVMRING_ABI_CHECK(sizeof(struct kvmring_ring_prod) == 2 * KVMRING_CACHELINE);
KVMRING_ABI_CHECK(KVMRING_OFF(kvmring_ring_prod, prod_epoch) == 1 * KVMRING_CACHELINE);
KVMRING_ABI_CHECK(sizeof(struct kvmring_ring_cons) == 2 * KVMRING_CACHELINE);
KVMRING_ABI_CHECK(KVMRING_OFF(kvmring_ring_cons, kick) == 1 * KVMRING_CACHELINE);
KVMRING_ABI_CHECK(sizeof(struct kvmring_rec) == 16);
KVMRING_ABI_CHECK(sizeof(struct kvmring_rec) % KVMRING_REC_ALIGN == 0);
KVMRING_ABI_CHECK(KVMRING_RING_SIZE_MIN >= 2 * (sizeof(struct kvmring_rec) + KVMRING_FRAME_MAX +
						 KVMRING_REC_ALIGN));

KVMRING_ABI_CHECK(sizeof(struct kvmring_roster_hdr) == 128);
KVMRING_ABI_CHECK(sizeof(struct kvmring_roster_addr) == 20);
KVMRING_ABI_CHECK(sizeof(struct kvmring_roster_slot) == 256);
KVMRING_ABI_CHECK(sizeof(struct kvmring_roster_region) == 32);
KVMRING_ABI_CHECK(KVMRING_ROSTER_REGIONS_OFF + KVMRING_ROSTER_REGIONS_MAX *
		  sizeof(struct kvmring_roster_region) <= KVMRING_ROSTER_SLOTS_OFF);
KVMRING_ABI_CHECK(KVMRING_ROSTER_SLOTS_OFF + KVMRING_PEERS_MAX * sizeof(struct kvmring_roster_slot) <=
		  KVMRING_ROSTER_SIZE);
KVMRING_ABI_CHECK(sizeof(struct kvmring_owned_hdr) == 128);
KVMRING_ABI_CHECK(KVMRING_OWNED_ENTRY_OFF + sizeof(struct kvmring_peer) <= KVMRING_LANES_OFF);
KVMRING_ABI_CHECK(sizeof(struct kvmring_queue_ctl) == KVMRING_QUEUE_CTL_SIZE);
KVMRING_ABI_CHECK(KVMRING_OFF(kvmring_queue_ctl, rx) == 2 * KVMRING_CACHELINE);
KVMRING_ABI_CHECK(KVMRING_PEERS_MAX <= 32);	/* readers is a 32-bit mask */

#endif /* KVMRING_ABI_H */
