/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ringnet_roster.h - the host's roster (include/kvmring/abi.h, ABI v2): a
 * private, validated copy of it, the way to our rings with each peer, and
 * the checks of what a peer claims against what the host decided.
 *
 * PROVISIONAL: written on wip-driver2 against the API that wip-rosterc is
 * building (ringnet_roster_read(), ringnet_roster_route(), the claim checks,
 * ringnet_owned_check()). When that branch is merged, its version of this
 * file and of ringnet_roster.c replaces this one, and the callers in
 * ringnet_main.c and ringnet_peer.c follow its names.
 *
 * Pure functions behind ringnet_shim.h, like ringnet_member.c: no locks, no
 * allocation, so that the harness can build them too.
 */
#ifndef RINGNET_ROSTER_H
#define RINGNET_ROSTER_H

#include "ringnet_shim.h"
#include "kvmring/abi.h"

/*
 * The roster as we took it: copied between two reads of the same even seq,
 * then validated field by field. Never in shared memory; nothing in it is
 * read again from the roster.
 */
struct ringnet_roster {
	u32				seq;
	u32				flags;		/* KVMRING_ROSTER_F_* */
	u32				self;
	u32				max_peers;
	u32				nregions;
	u32				ring_size;
	u32				queues;
	u32				isolation;	/* KVMRING_ISOLATION_* */
	u16				doorbell_devfn;	/* KVMRING_NO_DEVFN without doorbells */
	u64				instance;
	/* name[] NUL-terminated in the copy; addrs[] cut at the first family 0 */
	struct kvmring_roster_slot	slots[KVMRING_PEERS_MAX];
	struct kvmring_roster_region	regions[KVMRING_ROSTER_REGIONS_MAX];
};

/* Whether slot s is a guest we may talk to (never ourselves). */
static inline bool ringnet_roster_peer(const struct ringnet_roster *ro, u32 s)
{
	return s < ro->max_peers && s != ro->self &&
	       (ro->slots[s].flags & KVMRING_ROSTER_SLOT_F_PRESENT);
}

/*
 * Where one queue pair with a peer lives: the block of the region we own
 * that the peer reads (our producer half and data of ring self -> peer, our
 * consumer half of ring peer -> self), and the block of the peer's region
 * that we read (its producer half and data of ring peer -> self, its
 * consumer half of ring self -> peer). Indices into ro->regions[].
 */
struct ringnet_route {
	u32	mine;		/* region owned by us, read by the peer */
	u32	mine_lane;
	u32	theirs;		/* region owned by the peer, read by us */
	u32	theirs_lane;
};

/*
 * Reads the roster of which size bytes are mapped at shm into *ro: seq,
 * then a copy, then seq again (the same even value, else -EAGAIN), then
 * every check. Returns 0, -ENOENT (no roster magic: the host has not set
 * one up), -EPROTONOSUPPORT (another ABI), -EAGAIN (the host is writing it:
 * read again) or -EINVAL, with *why naming the check that failed.
 */
int ringnet_roster_read(const void *shm, u64 size, struct ringnet_roster *ro, const char **why);

/* The route to peer slot s of a validated roster: 0, or -ENOENT if s is not a peer. */
int ringnet_roster_route(const struct ringnet_roster *ro, u32 s, struct ringnet_route *rt);

/* Whether the MAC that slot s publishes is the roster's for it. */
bool ringnet_roster_mac_ok(const struct ringnet_roster *ro, u32 s, const u8 *mac);

/*
 * Whether slot s may claim addr (family 4: 4 bytes, 6: 16 bytes, network
 * byte order): it lies in one of the slot's roster prefixes.
 */
bool ringnet_roster_addr_ok(const struct ringnet_roster *ro, u32 s, int family, const u8 *addr);

/*
 * Checks region i of the roster against its mapping: mapped bytes at shm
 * (BAR2 of the region's PCI function) must be the roster's size, and the
 * header the host formatted must carry the roster's instance, owner,
 * readers, ring size and queues. A sanity check when the domain is
 * assembled: an owner can rewrite its own header later, so nothing else
 * is ever taken from it. Returns 0 or -EINVAL with *why.
 */
int ringnet_owned_check(const struct ringnet_roster *ro, u32 i, const void *shm, u64 mapped,
			const char **why);

#endif /* RINGNET_ROSTER_H */
