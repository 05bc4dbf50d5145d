/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * roster_build.h - the host's side of a roster, for roster_test and
 * roster_fuzz: a valid roster for one guest of n, under owner or pair
 * isolation, with or without groups and doorbells, laid out as `ringctl
 * host` would, and the header the host formats into each owned region.
 * It uses kvmring/abi.h only, nothing of ringnet_roster.c, so that the tests
 * state the layout independently of the code they test.
 *
 * Slot s (guest g<s+1>) gets MAC 52:54:00:4b:52:<s+1>, doorbell id s + 1
 * (with doorbells), and three prefixes: 10.9.0.<s+1>/32, fd00:9::<s+1>/128
 * and 192.168.<s+1>.0/24. The roster lists ourselves and the guests we share
 * a group with (no groups: everyone). Regions, at PCI functions 00:11.0,
 * 00:11.1, ... in table order:
 *   owner: per listed guest in slot order, one per group it is in (in
 *          group order), read by that group's other members that no earlier
 *          region of the same owner serves (none when all are served), and
 *          listed only if it is ours or we read it;
 *   pair:  for each listed peer p in slot order, ours to p, then p's to us.
 */
#ifndef RINGNET_HARNESS_ROSTER_BUILD_H
#define RINGNET_HARNESS_ROSTER_BUILD_H

#include <stdio.h>

#include "ringnet_shim.h"
#include "kvmring/abi.h"

#define RB_DEVFN_ROSTER		KVMRING_ROSTER_DEVFN	/* 00:10.0 */
#define RB_DEVFN_DOORBELL	(0x0f << 3)		/* 00:0f.0 */
#define RB_DEVFN_REGION0	(0x11 << 3)		/* 00:11.0 */
#define RB_GROUPS_MAX		8
#define RB_SEQ			4
#define RB_INSTANCE		0x5eed00000000ULL

struct rb_spec {
	u32	n;			/* guests, in slots 0..n-1; max_peers */
	u32	self;
	u32	isolation;		/* KVMRING_ISOLATION_* */
	u32	groups[RB_GROUPS_MAX];	/* slot masks; ngroups == 0: one group of all */
	u32	ngroups;
	bool	doorbell;
	u32	ring_size;
	u32	queues;
};

static inline void rb_spec_init(struct rb_spec *s, u32 n, u32 self, u32 isolation)
{
	memset(s, 0, sizeof(*s));
	s->n = n;
	s->self = self;
	s->isolation = isolation;
	s->ring_size = KVMRING_RING_SIZE_MIN;
	s->queues = 1;
}

static inline struct kvmring_roster_hdr *rb_hdr(void *roster)
{
	return roster;
}

static inline struct kvmring_roster_slot *rb_slot(void *roster, u32 s)
{
	return (struct kvmring_roster_slot *)((u8 *)roster + KVMRING_ROSTER_SLOTS_OFF) + s;
}

static inline struct kvmring_roster_region *rb_region(void *roster, u32 i)
{
	return (struct kvmring_roster_region *)((u8 *)roster + KVMRING_ROSTER_REGIONS_OFF) + i;
}

/* Group g as a slot mask: the spec's, or without groups the one of all guests. */
static inline u32 rb_group(const struct rb_spec *s, u32 g)
{
	return s->ngroups ? s->groups[g] & ((1U << s->n) - 1) : (1U << s->n) - 1;
}

/* The slots guest a may talk to, a itself not among them. */
static inline u32 rb_talks(const struct rb_spec *s, u32 a)
{
	u32 all = (1U << s->n) - 1, m = 0, g;

	if (!s->ngroups)
		m = all;
	for (g = 0; g < s->ngroups; g++)
		if (s->groups[g] & (1U << a))
			m |= s->groups[g];
	return m & all & ~(1U << a);
}

static inline void rb_mac(u8 *mac, u32 slot)
{
	static const u8 base[ETH_ALEN] = { 0x52, 0x54, 0x00, 0x4b, 0x52, 0x00 };

	memcpy(mac, base, ETH_ALEN);
	mac[5] = (u8)(slot + 1);
}

static inline void rb_prefix(struct kvmring_roster_addr *a, u8 family, u8 len, const u8 *addr)
{
	memset(a, 0, sizeof(*a));
	a->family = family;
	a->prefix_len = len;
	memcpy(a->addr, addr, family == 4 ? 4 : 16);
}

/* The smallest power of two that holds a region with these readers. */
static inline u64 rb_region_size(u32 readers, u32 ring_size, u32 queues)
{
	u64 used = kvmring_owned_used(readers, ring_size, queues), size = KVMRING_PAGE;

	while (size < used)
		size <<= 1;
	return size;
}

/* Appends a region entry: the next PCI function, its size and instance. */
static inline void rb_add_region(void *roster, u32 owner, u32 readers)
{
	struct kvmring_roster_hdr *h = rb_hdr(roster);
	struct kvmring_roster_region *e = rb_region(roster, h->nregions);

	e->owner = owner;
	e->readers = readers;
	e->devfn = (u16)(RB_DEVFN_REGION0 + h->nregions);
	e->size = rb_region_size(readers, h->ring_size, h->queues);
	e->instance = RB_INSTANCE + 0x100 * (h->nregions + 1);
	h->nregions++;
}

static inline void rb_build(void *roster, const struct rb_spec *s)
{
	struct kvmring_roster_hdr *h = rb_hdr(roster);
	u32 listed = rb_talks(s, s->self) | (1U << s->self), g, p;

	memset(roster, 0, KVMRING_ROSTER_SIZE);
	h->abi_version = KVMRING_ABI_VERSION;
	h->flags = s->doorbell ? KVMRING_ROSTER_F_DOORBELL : 0;
	h->seq = RB_SEQ;
	h->self = s->self;
	h->max_peers = s->n;
	h->ring_size = s->ring_size;
	h->queues = s->queues;
	h->isolation = s->isolation;
	h->doorbell_devfn = s->doorbell ? RB_DEVFN_DOORBELL : KVMRING_NO_DEVFN;
	h->instance = RB_INSTANCE;
	h->hdr_size = sizeof(struct kvmring_roster_hdr);
	h->slot_size = sizeof(struct kvmring_roster_slot);
	h->region_entry_size = sizeof(struct kvmring_roster_region);
	h->slots_off = KVMRING_ROSTER_SLOTS_OFF;
	h->regions_off = KVMRING_ROSTER_REGIONS_OFF;

	for (g = 0; g < s->n; g++) {
		struct kvmring_roster_slot *e = rb_slot(roster, g);
		u8 v4[4] = { 10, 9, 0, (u8)(g + 1) }, net[4] = { 192, 168, (u8)(g + 1), 0 };
		u8 v6[16] = { 0xfd, 0x00, 0x00, 0x09 };

		if (!(listed & (1U << g)))
			continue;
		v6[15] = (u8)(g + 1);
		e->flags = KVMRING_ROSTER_SLOT_F_PRESENT;
		e->doorbell_id = s->doorbell ? g + 1 : KVMRING_DOORBELL_NONE;
		rb_mac(e->mac, g);
		snprintf(e->name, sizeof(e->name), "g%u", g + 1);
		rb_prefix(&e->addrs[0], 4, 32, v4);
		rb_prefix(&e->addrs[1], 6, 128, v6);
		rb_prefix(&e->addrs[2], 4, 24, net);
	}

	if (s->isolation == KVMRING_ISOLATION_OWNER) {
		for (g = 0; g < s->n; g++) {
			u32 served = 0, readers, k;

			if (!(listed & (1U << g)))
				continue;
			for (k = 0; k < (s->ngroups ? s->ngroups : 1); k++) {
				if (!(rb_group(s, k) & (1U << g)))
					continue;
				readers = rb_group(s, k) & ~(1U << g) & ~served;
				if (!readers)
					continue;
				served |= readers;
				if (g == s->self || (readers & (1U << s->self)))
					rb_add_region(roster, g, readers);
			}
		}
	} else {
		for (p = 0; p < s->n; p++) {
			if (p == s->self || !(listed & (1U << p)))
				continue;
			rb_add_region(roster, s->self, 1U << p);
			rb_add_region(roster, p, 1U << s->self);
		}
	}
	h->magic = KVMRING_ROSTER_MAGIC;
}

/* The header the host formats into region i of the roster: what the roster says of it. */
static inline void rb_format(struct kvmring_owned_hdr *o, void *roster, u32 i)
{
	const struct kvmring_roster_hdr *h = rb_hdr(roster);
	const struct kvmring_roster_region *e = rb_region(roster, i);

	memset(o, 0, sizeof(*o));
	o->abi_version = KVMRING_ABI_VERSION;
	o->owner = e->owner;
	o->instance = e->instance;
	o->region_size = e->size;
	o->readers = e->readers;
	o->ring_size = h->ring_size;
	o->queues = h->queues;
	o->magic = KVMRING_OWNED_MAGIC;
}

#endif /* RINGNET_HARNESS_ROSTER_BUILD_H */
