// SPDX-License-Identifier: GPL-2.0-only
/*
 * ringnet_roster.c - reading and checking the host's roster; see
 * ringnet_roster.h. PROVISIONAL until wip-rosterc's version is merged.
 */
#include "ringnet_roster.h"

static bool ringnet_pow2(u64 v)
{
	return v && !(v & (v - 1));
}

/* The slots a table of max_peers holds, as a readers mask. */
static u32 ringnet_slot_mask(u32 max_peers)
{
	return max_peers >= 32 ? ~0U : (1U << max_peers) - 1;
}

/* Copies the roster between two reads of one even seq. */
static int ringnet_roster_copy(const void *shm, struct kvmring_roster_hdr *h,
			       struct ringnet_roster *ro, const char **why)
{
	const struct kvmring_roster_hdr *sh = shm;
	u32 seq;

	if (READ_ONCE(sh->magic) != KVMRING_ROSTER_MAGIC) {
		*why = "no roster magic at the roster's place";
		return -ENOENT;
	}
	/* Pairs with the host's release of magic: the rest of the header is written. */
	smp_rmb();
	if (READ_ONCE(sh->abi_version) != KVMRING_ABI_VERSION_2) {
		*why = "the roster's abi_version is not this driver's (2)";
		return -EPROTONOSUPPORT;
	}
	seq = READ_ONCE(sh->seq);
	if (seq & 1) {
		*why = "the host is writing the roster (odd seq)";
		return -EAGAIN;
	}
	smp_rmb();	/* seq before the copy it covers */
	memcpy(h, sh, sizeof(*h));
	memcpy(ro->slots, (const u8 *)shm + KVMRING_ROSTER_SLOTS_OFF, sizeof(ro->slots));
	memcpy(ro->regions, (const u8 *)shm + KVMRING_ROSTER_REGIONS_OFF, sizeof(ro->regions));
	smp_rmb();	/* the copy before the seq that confirms it */
	if (READ_ONCE(sh->seq) != seq) {
		*why = "the host rewrote the roster while we read it";
		return -EAGAIN;
	}
	ro->seq = seq;
	return 0;
}

static bool ringnet_roster_addr_valid(struct kvmring_roster_addr *a)
{
	if (a->family == 4)
		return a->prefix_len <= 32;
	if (a->family == 6)
		return a->prefix_len <= 128;
	return false;
}

/* Checks slot s (ours or a peer's) and cleans its copy. */
static const char *ringnet_roster_slot_check(struct ringnet_roster *ro, u32 s)
{
	struct kvmring_roster_slot *sl = &ro->slots[s];
	u32 a;

	sl->name[sizeof(sl->name) - 1] = '\0';
	if (!is_valid_ether_addr(sl->mac))
		return "a slot's MAC is not a valid unicast address";
	if ((ro->flags & KVMRING_ROSTER_F_DOORBELL) && sl->doorbell_id != KVMRING_DOORBELL_NONE &&
	    sl->doorbell_id > 0xffff)
		return "a slot's doorbell id is beyond 16 bits";
	for (a = 0; a < KVMRING_ROSTER_ADDRS && sl->addrs[a].family; a++)
		if (!ringnet_roster_addr_valid(&sl->addrs[a]))
			return "a slot's address prefix has a bad family or length";
	/* Nothing after the end of the list counts. */
	memset(&sl->addrs[a], 0, (KVMRING_ROSTER_ADDRS - a) * sizeof(sl->addrs[0]));
	return NULL;
}

static const char *ringnet_roster_slots_check(struct ringnet_roster *ro)
{
	const char *why;
	u32 s, t;

	for (s = 0; s < KVMRING_PEERS_MAX; s++) {
		if (s >= ro->max_peers) {
			memset(&ro->slots[s], 0, sizeof(ro->slots[s]));
			continue;
		}
		if (s != ro->self && !ringnet_roster_peer(ro, s))
			continue;
		why = ringnet_roster_slot_check(ro, s);
		if (why)
			return why;
	}
	for (s = 0; s < ro->max_peers; s++) {
		if (s != ro->self && !ringnet_roster_peer(ro, s))
			continue;
		for (t = s + 1; t < ro->max_peers; t++) {
			if (t != ro->self && !ringnet_roster_peer(ro, t))
				continue;
			if (ether_addr_equal(ro->slots[s].mac, ro->slots[t].mac))
				return "two slots have the same MAC";
			if (ro->slots[s].doorbell_id != KVMRING_DOORBELL_NONE &&
			    ro->slots[s].doorbell_id == ro->slots[t].doorbell_id)
				return "two slots have the same doorbell id";
		}
	}
	return NULL;
}

static const char *ringnet_roster_regions_check(struct ringnet_roster *ro)
{
	u32 mask = ringnet_slot_mask(ro->max_peers), i, j, s, mine, theirs;

	for (i = 0; i < ro->nregions; i++) {
		const struct kvmring_roster_region *e = &ro->regions[i];

		if (e->owner >= ro->max_peers || (e->owner != ro->self && !ringnet_roster_peer(ro, e->owner)))
			return "a region's owner is neither us nor a slot we may talk to";
		if (!e->readers || (e->readers & ~mask) || (e->readers & (1U << e->owner)))
			return "a region's readers mask is empty, beyond max_peers or holds its owner";
		if (e->owner != ro->self && !(e->readers & (1U << ro->self)))
			return "a region of another slot is mapped into us but we are not its reader";
		if (ro->isolation == KVMRING_ISOLATION_PAIR && kvmring_lane_count(e->readers) != 1)
			return "isolation pair, but a region has more than one reader";
		if (e->devfn > 0xff)
			return "a region's devfn is not a PCI function";
		if ((ro->flags & KVMRING_ROSTER_F_DOORBELL) && e->devfn == ro->doorbell_devfn)
			return "a region is at the doorbell device's devfn";
		if (!ringnet_pow2(e->size) ||
		    e->size < kvmring_owned_used(e->readers, ro->ring_size, ro->queues))
			return "a region's size is not a power of two large enough for its lanes";
		for (j = 0; j < i; j++)
			if (ro->regions[j].devfn == e->devfn)
				return "two regions at the same devfn";
	}
	/* Each peer: exactly one region of ours it reads, exactly one of its that we read. */
	for (s = 0; s < ro->max_peers; s++) {
		if (!ringnet_roster_peer(ro, s))
			continue;
		mine = theirs = 0;
		for (i = 0; i < ro->nregions; i++) {
			const struct kvmring_roster_region *e = &ro->regions[i];

			mine += e->owner == ro->self && (e->readers & (1U << s));
			theirs += e->owner == s && (e->readers & (1U << ro->self));
		}
		if (mine != 1 || theirs != 1)
			return "a slot we may talk to lacks a region each way, or has two";
	}
	return NULL;
}

int ringnet_roster_read(const void *shm, u64 size, struct ringnet_roster *ro, const char **why)
{
	struct kvmring_roster_hdr h;
	int err;

	if (size < KVMRING_ROSTER_SIZE) {
		*why = "the roster's BAR is smaller than KVMRING_ROSTER_SIZE";
		return -EINVAL;
	}
	err = ringnet_roster_copy(shm, &h, ro, why);
	if (err)
		return err;

	*why = NULL;
	ro->flags = h.flags;
	ro->self = h.self;
	ro->max_peers = h.max_peers;
	ro->nregions = h.nregions;
	ro->ring_size = h.ring_size;
	ro->queues = h.queues;
	ro->isolation = h.isolation;
	ro->doorbell_devfn = h.doorbell_devfn;
	ro->instance = h.instance;

	if (h.hdr_size != sizeof(struct kvmring_roster_hdr) ||
	    h.slot_size != sizeof(struct kvmring_roster_slot) ||
	    h.region_entry_size != sizeof(struct kvmring_roster_region) ||
	    h.slots_off != KVMRING_ROSTER_SLOTS_OFF || h.regions_off != KVMRING_ROSTER_REGIONS_OFF)
		*why = "the roster's sizes or offsets are not this driver's";
	else if (h.flags & ~KVMRING_ROSTER_F_DOORBELL)
		*why = "the roster has flags this driver does not know";
	else if (h.max_peers < 2 || h.max_peers > KVMRING_PEERS_MAX)
		*why = "max_peers is out of range";
	else if (h.self >= h.max_peers)
		*why = "self is not a slot of the table";
	else if (h.ring_size < KVMRING_RING_SIZE_MIN || h.ring_size > KVMRING_RING_SIZE_MAX ||
		 !ringnet_pow2(h.ring_size))
		*why = "ring_size is not a power of two in the ABI's range";
	else if (!h.queues || h.queues > KVMRING_QUEUES_MAX)
		*why = "queues is out of range";
	else if (h.isolation != KVMRING_ISOLATION_OWNER && h.isolation != KVMRING_ISOLATION_PAIR)
		*why = "unknown isolation level";
	else if ((h.flags & KVMRING_ROSTER_F_DOORBELL) ? h.doorbell_devfn > 0xff :
		 h.doorbell_devfn != KVMRING_NO_DEVFN)
		*why = "doorbell_devfn does not match the doorbell flag";
	else if (h.nregions > KVMRING_ROSTER_REGIONS_MAX)
		*why = "nregions is beyond the region table";
	else
		*why = ringnet_roster_slots_check(ro) ?: ringnet_roster_regions_check(ro);
	return *why ? -EINVAL : 0;
}

int ringnet_roster_route(const struct ringnet_roster *ro, u32 s, struct ringnet_route *rt)
{
	bool mine = false, theirs = false;
	u32 i;

	if (!ringnet_roster_peer(ro, s))
		return -ENOENT;
	for (i = 0; i < ro->nregions; i++) {
		const struct kvmring_roster_region *e = &ro->regions[i];

		if (e->owner == ro->self && (e->readers & (1U << s))) {
			rt->mine = i;
			rt->mine_lane = (u32)kvmring_lane_of(e->readers, s);
			mine = true;
		} else if (e->owner == s && (e->readers & (1U << ro->self))) {
			rt->theirs = i;
			rt->theirs_lane = (u32)kvmring_lane_of(e->readers, ro->self);
			theirs = true;
		}
	}
	return mine && theirs ? 0 : -ENOENT;
}

bool ringnet_roster_mac_ok(const struct ringnet_roster *ro, u32 s, const u8 *mac)
{
	return s < ro->max_peers && ether_addr_equal(ro->slots[s].mac, mac);
}

/* Whether the first len bits of a and b agree. */
static bool ringnet_prefix_eq(const u8 *a, const u8 *b, u32 len)
{
	u32 bytes = len / 8, bits = len % 8;

	if (memcmp(a, b, bytes))
		return false;
	return !bits || !((a[bytes] ^ b[bytes]) & (u8)(0xff << (8 - bits)));
}

bool ringnet_roster_addr_ok(const struct ringnet_roster *ro, u32 s, int family, const u8 *addr)
{
	const struct kvmring_roster_slot *sl;
	u32 a;

	if (s >= ro->max_peers)
		return false;
	sl = &ro->slots[s];
	for (a = 0; a < KVMRING_ROSTER_ADDRS && sl->addrs[a].family; a++)
		if (sl->addrs[a].family == family &&
		    ringnet_prefix_eq(sl->addrs[a].addr, addr, sl->addrs[a].prefix_len))
			return true;
	return false;
}

int ringnet_owned_check(const struct ringnet_roster *ro, u32 i, const void *shm, u64 mapped,
			const char **why)
{
	const struct kvmring_roster_region *e = &ro->regions[i];
	const struct kvmring_owned_hdr *sh = shm;
	struct kvmring_owned_hdr h;

	*why = NULL;
	if (mapped != e->size) {
		*why = "the region's BAR2 is not the size the roster gives";
		return -EINVAL;
	}
	if (READ_ONCE(sh->magic) != KVMRING_OWNED_MAGIC) {
		*why = "the region is not formatted (no owned-region magic)";
		return -EINVAL;
	}
	smp_rmb();	/* pairs with the host's release of magic */
	memcpy(&h, sh, sizeof(h));
	if (h.abi_version != KVMRING_ABI_VERSION_2)
		*why = "the region's abi_version is not this driver's (2)";
	else if (h.instance != e->instance)
		*why = "the region's instance is not the roster's: formatted by another host setup";
	else if (h.owner != e->owner || h.readers != e->readers || h.region_size != e->size)
		*why = "the region's header disagrees with the roster (owner, readers or size)";
	else if (h.ring_size != ro->ring_size || h.queues != ro->queues)
		*why = "the region's ring size or queues are not the roster's";
	return *why ? -EINVAL : 0;
}
