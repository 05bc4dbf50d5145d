/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ringnet_roster.h - the host's roster (ABI v2), read once, validated whole,
 * and what the driver asks of it: where the rings with a peer live, which
 * MAC and addresses a slot may claim, which PCI function is which region,
 * and whether a mapped region is the one the roster means.
 *
 * The roster is written by the host only and mapped read-only; it is the
 * one thing a guest trusts. The host is trusted, not infallible: a roster a
 * host bug left inconsistent is refused with an errno and a sentence that
 * names the check that failed, never half believed. Everything the driver
 * later needs comes from the validated private copy (struct ringnet_roster),
 * never from the mapping again.
 *
 * Callers: probe and the roster work of ringnet.ko (process context, in
 * order, whatever lock they hold); the harness (harness/roster_test.c,
 * roster_fuzz.c) through ringnet_shim.h. Nothing here allocates, takes a
 * lock or sleeps; struct ringnet_roster is about 6 KiB, so the kernel keeps
 * it in allocated memory, not on the stack. A validated roster is read-only:
 * the lookups below may run concurrently on one, from any context.
 *
 * Errors (negative errnos), by kind; struct ringnet_why says which check:
 *   -EMSGSIZE         the mapping is shorter than the roster, or a region's
 *                     than the roster says it is
 *   -ENODEV           no roster (or owned region) magic
 *   -EPROTONOSUPPORT  another ABI version
 *   -EBADMSG          a size or offset that is not this header's constant;
 *                     an owned region's header that disagrees with the roster
 *   -EAGAIN           the host kept rewriting the roster (seq odd or moving),
 *                     or a region is not formatted yet: try again later
 *   -ESTALE           a region formatted for another instance than the roster's
 *   -ERANGE           a header field out of range (max_peers, self, ring_size,
 *                     queues, nregions, isolation, flags, doorbell_devfn)
 *   -EINVAL           a malformed slot (flags, name, MAC, doorbell id, address
 *                     prefix) or region (owner, readers, size, devfn); a bad
 *                     argument to a lookup
 *   -EADDRINUSE       two present slots with one MAC or one doorbell id
 *   -EBUSY            two regions at one PCI function, or one at the roster's
 *                     or the doorbell's
 *   -ENOENT           a slot that must be present is not (ours; a region's
 *                     owner; a reader of one of our regions)
 *   -EXDEV            a region that does not involve us, or breaks the shape
 *                     of the isolation level (pair: one reader each; owner:
 *                     one region per owner)
 *   -ENOLINK          a present peer without a region to send it in, or
 *                     without one of its regions that we read
 *   -ENOTUNIQ         a present peer with two of either
 */
#ifndef RINGNET_ROSTER_H
#define RINGNET_ROSTER_H

#include "ringnet_shim.h"
#include "kvmring/abi.h"

/* Attempts at a copy between two equal even seqs before -EAGAIN. */
#define RINGNET_ROSTER_TRIES	16

#define RINGNET_ROSTER_NAME	32	/* sizeof(struct kvmring_roster_slot.name) */

/* Why a roster or region was refused: one sentence, for the log. */
#define RINGNET_WHY_LEN		160
struct ringnet_why {
	char	msg[RINGNET_WHY_LEN];
};

/* An address prefix a slot may claim, well-formed: bits past len are zero. */
struct ringnet_roster_prefix {
	u8	family;			/* 4 or 6 */
	u8	len;			/* 0..32 or 0..128 */
	u8	addr[16];		/* network byte order; IPv4 in the first 4 bytes */
};

struct ringnet_roster_slot {
	bool	present;		/* a guest we may talk to, or ourselves */
	u32	doorbell_id;		/* 16-bit, or KVMRING_DOORBELL_NONE */
	u8	mac[ETH_ALEN];		/* valid unicast, unique among present slots */
	char	name[RINGNET_ROSTER_NAME];	/* printable, NUL-terminated */
	u32	naddrs;
	struct ringnet_roster_prefix addrs[KVMRING_ROSTER_ADDRS];
};

struct ringnet_roster_region {
	u32	owner;			/* a present slot */
	u32	readers;		/* slots below max_peers, not the owner */
	u16	devfn;			/* PCI slot << 3 | function, unique */
	u64	size;			/* a power of two, room for every lane */
	u64	instance;		/* what its header must say */
};

/*
 * A validated private copy of a roster. Slots from max_peers on are not
 * present; so is every slot the host did not list for us.
 */
struct ringnet_roster {
	u32	self;			/* our slot: present */
	u32	max_peers;		/* 2..KVMRING_PEERS_MAX */
	u32	flags;			/* KVMRING_ROSTER_F_* */
	u32	ring_size;		/* a power of two, KVMRING_RING_SIZE_MIN..MAX */
	u32	queues;			/* 1..KVMRING_QUEUES_MAX */
	u32	isolation;		/* KVMRING_ISOLATION_* */
	u16	devfn;			/* where the roster itself is */
	u16	doorbell_devfn;		/* KVMRING_NO_DEVFN without KVMRING_ROSTER_F_DOORBELL */
	u32	seq;			/* the even seq the copy was taken at */
	u64	instance;
	u32	nregions;
	struct ringnet_roster_slot	slots[KVMRING_PEERS_MAX];
	struct ringnet_roster_region	regions[KVMRING_ROSTER_REGIONS_MAX];
};

/*
 * Copies the roster mapped at mapped (mapped_len bytes, from PCI function
 * devfn) into *r and validates it whole: 0, or a negative errno with *why
 * (if not NULL) saying which check failed; *r is then meaningless.
 *
 * magic is read with acquire (the host writes it last at creation), then
 * abi_version; the rest is copied between two reads of the same even seq,
 * every scalar with one READ_ONCE and every array with one memcpy, at most
 * RINGNET_ROSTER_TRIES times. Nothing past mapped_len is read, nothing in
 * the mapping is read twice for one decision, and *r never points into it.
 *
 * Decisions beyond the ABI's words (see ringnet_roster.c for each check):
 * a present slot's name is non-empty printable ASCII, NUL-padded; without
 * doorbells every doorbell id is NONE, with them an id is 16-bit or NONE;
 * an address prefix has no bits set past its length (10.9.0.2/24 is a host
 * bug, not the /24 nor the /32), and the entries after the first of family
 * 0 are family 0 too; every reader of every region is a slot we know (the
 * host keeps a region's readers within one group, so no lane of a region we
 * map serves a stranger), and an owner may have several regions (one per
 * group under owner isolation) as long as each peer reads exactly one of
 * ours and we read exactly one of its; unknown flags are refused, reserved
 * bytes are not looked at.
 */
int ringnet_roster_read(const void *mapped, u64 mapped_len, u16 devfn, struct ringnet_roster *r,
			struct ringnet_why *why);

/* Whether the host has begun rewriting the roster since r was read: read it again. */
static inline bool ringnet_roster_moved(const void *mapped, const struct ringnet_roster *r)
{
	const struct kvmring_roster_hdr *h = mapped;

	return READ_ONCE(h->seq) != r->seq;
}

/* Lane `lane` of region `region` (an index in the roster's region table). */
struct ringnet_lane {
	u32	region;
	u32	lane;
};

/*
 * Where traffic with one peer lives. tx: our region and the peer's lane in
 * it (the producer half and data of our rings to the peer, the consumer
 * half of its rings to us); rx: the peer's region and our lane in it (the
 * producer half and data of its rings to us, the consumer half of ours).
 */
struct ringnet_route {
	struct ringnet_lane	tx;
	struct ringnet_lane	rx;
};

/* The route to peer (present, not us): 0, or -ENOENT. */
int ringnet_roster_route(const struct ringnet_roster *r, u32 peer, struct ringnet_route *rt);

/* A part of a ring: byte offset off in region `region` of the roster's table. */
struct ringnet_place {
	u32	region;
	u64	off;
};

/* The three parts of one ring, for the ring core's three pointers. */
struct ringnet_ring_places {
	struct ringnet_place	prod;	/* struct kvmring_ring_prod */
	struct ringnet_place	cons;	/* struct kvmring_ring_cons */
	struct ringnet_place	data;	/* ring_size bytes */
};

/*
 * Queue q (below r->queues) of route rt: out, our ring to the peer; in, the
 * peer's ring to us. Offsets by kvmring_queue_offset(). 0, or -EINVAL.
 */
int ringnet_route_queue(const struct ringnet_roster *r, const struct ringnet_route *rt, u32 q,
			struct ringnet_ring_places *out, struct ringnet_ring_places *in);

/* The index of the region at PCI function devfn, or -ENOENT. */
int ringnet_roster_region_at(const struct ringnet_roster *r, u16 devfn);

/* The present slot other than ours whose MAC is mac, or -ENOENT: where a frame to mac goes. */
int ringnet_roster_mac_slot(const struct ringnet_roster *r, const u8 *mac);

/* Whether slot is present and mac is its MAC: a source MAC or a published one checked. */
bool ringnet_roster_mac_ok(const struct ringnet_roster *r, u32 slot, const u8 *mac);

/*
 * Whether addr (4 bytes for family 4, 16 for family 6; the families of
 * struct kvmring_roster_addr) is inside one of present slot's prefixes.
 * The unspecified address is the caller's to skip (it means "unused" in a
 * peer entry); here it is just an address.
 */
bool ringnet_roster_addr_ok(const struct ringnet_roster *r, u32 slot, int family, const u8 *addr);

/*
 * Whether the owned region mapped at region (mapped bytes: its BAR) is the
 * roster's region i: mapped equals its size, and its header (magic read
 * with acquire, then each field once) says KVMRING_OWNED_MAGIC, ABI v2, the
 * roster's instance, owner, readers, size, ring_size and queues. 0; -EAGAIN
 * while the magic is still 0 (not formatted yet); -ENODEV, -EPROTONOSUPPORT,
 * -ESTALE (another instance: the roster may be newer or older than the
 * format), -EBADMSG, -EMSGSIZE, -EINVAL (i out of range); *why says which.
 * A region's owner can rewrite its header at any time: this is a check at
 * attach, after which nothing is taken from the header.
 */
int ringnet_owned_check(const void *region, u64 mapped, const struct ringnet_roster *r, u32 i,
			struct ringnet_why *why);

#endif /* RINGNET_ROSTER_H */
