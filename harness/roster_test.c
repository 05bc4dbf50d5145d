// SPDX-License-Identifier: GPL-2.0-only
/*
 * roster_test - unit tests of the roster (guest-netdev/ringnet_roster.c)
 * under AddressSanitizer and UBSan: valid rosters from roster_build.h (owner
 * and pair isolation, 2..16 guests, every slot as ours, groups, doorbells,
 * queues) accepted with routes and ring places checked; every validation
 * rule broken alone, against its exact errno and sentence; routes of owner,
 * pair and grouped layouts and queue places at exact region indexes, lanes
 * and offsets; address prefixes (/0, odd lengths, /32, /128, v4 against v6);
 * MAC and PCI function lookups; torn reads (seq odd, seq moving during the
 * copy, by a fault handler that plays the host); a mapping shorter than a
 * roster; and the check of an owned region's header. Prints "roster_test:
 * N checks, F failed" and exits 0 only if nothing failed.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "ringnet_roster.h"
#include "roster_build.h"

unsigned long checks, failures;

#define OWNER	KVMRING_ISOLATION_OWNER
#define PAIR	KVMRING_ISOLATION_PAIR
#define RING	KVMRING_RING_SIZE_MIN
#define BLOCK	(KVMRING_QUEUE_CTL_SIZE + RING)	/* a queue block with the smallest ring */

static u8 *roster;			/* KVMRING_ROSTER_SIZE bytes, exactly */
static struct rb_spec spec;
static struct ringnet_roster r;
static struct ringnet_why why;

/* A fresh valid roster for guest self of n under isolation iso, no groups or doorbells. */
static void fresh(u32 n, u32 self, u32 iso)
{
	rb_spec_init(&spec, n, self, iso);
	rb_build(roster, &spec);
}

static void rebuild(void)
{
	rb_build(roster, &spec);
}

static int read_roster(void)
{
	memset(&why, 0, sizeof(why));
	return ringnet_roster_read(roster, KVMRING_ROSTER_SIZE, RB_DEVFN_ROSTER, &r, &why);
}

/* The roster as it stands is refused with err and exactly msg. */
#define REFUSED(err, want) do {						\
	int _e = read_roster();						\
	CHECK(_e == (err), "%d, want %d (%s)", _e, (err), why.msg);	\
	CHECK(!strcmp(why.msg, (want)), "\"%s\", want \"%s\"", why.msg, (want)); \
} while (0)

#define ACCEPTED() do {							\
	int _e = read_roster();						\
	CHECK(_e == 0, "refused %d: %s", _e, why.msg);			\
} while (0)

static struct kvmring_roster_hdr *hdr(void)
{
	return rb_hdr(roster);
}

static struct kvmring_roster_slot *slot(u32 s)
{
	return rb_slot(roster, s);
}

static struct kvmring_roster_region *region(u32 i)
{
	return rb_region(roster, i);
}

/* ---- valid rosters ------------------------------------------------------- */

/* What any valid roster's routes must be, stated from the builder's layout. */
static void check_routes(void)
{
	u32 p, q, self = spec.self, talks = rb_talks(&spec, self);
	struct ringnet_ring_places out, in;
	struct ringnet_route rt;
	const struct ringnet_roster_region *tx, *rx;

	for (p = 0; p < KVMRING_PEERS_MAX; p++) {
		if (p == self || !(talks & (1U << p))) {
			CHECK(ringnet_roster_route(&r, p, &rt) == -ENOENT, "n %u self %u peer %u",
			      spec.n, self, p);
			continue;
		}
		if (ringnet_roster_route(&r, p, &rt)) {
			CHECK(0, "n %u self %u: no route to %u", spec.n, self, p);
			continue;
		}
		tx = &r.regions[rt.tx.region];
		rx = &r.regions[rt.rx.region];
		CHECK(tx->owner == self && (tx->readers & (1U << p)), "tx region %u", rt.tx.region);
		CHECK(rx->owner == p && (rx->readers & (1U << self)), "rx region %u", rt.rx.region);
		CHECK_EQ(rt.tx.lane, __builtin_popcount(tx->readers & ((1U << p) - 1)));
		CHECK_EQ(rt.rx.lane, __builtin_popcount(rx->readers & ((1U << self) - 1)));
		for (q = 0; q < spec.queues; q++) {
			CHECK_EQ(ringnet_route_queue(&r, &rt, q, &out, &in), 0);
			CHECK(out.data.off + RING <= tx->size && in.data.off + RING <= rx->size,
			      "queue %u outside its region", q);
		}
	}
}

/* Every n, every slot as ours, both levels, groups or not, doorbells or not. */
static void test_valid(void)
{
	u32 n, self, iso, v;

	for (n = 2; n <= KVMRING_PEERS_MAX; n++)
		for (self = 0; self < n; self++)
			for (iso = OWNER; iso <= PAIR; iso++)
				for (v = 0; v < 4; v++) {
					rb_spec_init(&spec, n, self, iso);
					spec.doorbell = v & 1;
					spec.queues = v & 2 ? KVMRING_QUEUES_MAX : 1;
					if (v & 2) {	/* two overlapping groups and a lone guest */
						spec.ngroups = 3;
						spec.groups[0] = 0x5555 & ((1U << n) - 1);
						spec.groups[1] = 0x0f0f;
						spec.groups[2] = 1U << (n - 1);
					}
					rebuild();
					ACCEPTED();
					CHECK_EQ(r.self, self);
					CHECK_EQ(r.max_peers, n);
					CHECK_EQ(r.seq, RB_SEQ);
					CHECK_EQ(r.devfn, RB_DEVFN_ROSTER);
					CHECK_EQ(r.doorbell_devfn, spec.doorbell ? RB_DEVFN_DOORBELL :
						 KVMRING_NO_DEVFN);
					check_routes();
				}
	/* A guest alone in its group: no region, nothing to route. */
	rb_spec_init(&spec, 3, 2, OWNER);
	spec.ngroups = 1;
	spec.groups[0] = 0x3;
	rebuild();
	ACCEPTED();
	CHECK_EQ(r.nregions, 0);
	/* A region without readers is still taken (the host makes none). */
	rb_add_region(roster, 2, 0);
	ACCEPTED();
	CHECK_EQ(r.nregions, 1);
	CHECK_EQ(r.regions[0].size, KVMRING_PAGE);
}

/* What is kept of the slots: present ones in full, the rest zeroed whatever the host wrote. */
static void test_copy(void)
{
	fresh(4, 1, OWNER);
	memset(slot(2)->name, 'x', sizeof(slot(2)->name));	/* listed, then taken out: */
	slot(2)->flags = 0;					/* its bytes are not looked at */
	memset(slot(3)->mac, 0xff, ETH_ALEN);			/* beyond max_peers 3 */
	slot(3)->flags = 0xff;
	hdr()->max_peers = 3;
	hdr()->nregions = 2;
	region(0)->readers = 0x2;	/* slot 0's: a lane for us only */
	region(1)->readers = 0x1;	/* ours: slot 0 only */
	ACCEPTED();
	CHECK(!r.slots[2].present && !r.slots[2].name[0] && !r.slots[2].mac[0], "slot 2 kept");
	CHECK(!r.slots[3].present && !r.slots[3].mac[0], "slot 3 kept");
	CHECK(r.slots[0].present && !strcmp(r.slots[0].name, "g1") && r.slots[0].naddrs == 3,
	      "slot 0");
	CHECK_EQ(r.slots[1].mac[5], 2);
	CHECK_EQ(r.nregions, 2);
}

/* ---- every rule, broken alone -------------------------------------------- */

/* A header field of a valid roster set to value (its low bytes), and the refusal it earns. */
struct hdr_rule {
	size_t		off, width;
	u64		value;
	int		err;
	const char	*msg;
};

#define HDR(field, v)	offsetof(struct kvmring_roster_hdr, field),			\
			sizeof(((struct kvmring_roster_hdr *)0)->field), (v)

/* What ABI v1's one shared region began with: a host from before the roster. */
#define V1_MAGIC	0x00474e49524d564bULL	/* "KVMRING\0" */
#define V1_VERSION	1

static const struct hdr_rule hdr_rules[] = {
	{ HDR(magic, V1_MAGIC), -ENODEV, "magic 0x474e49524d564b is not a roster's" },
	{ HDR(magic, 0), -ENODEV, "magic 0 is not a roster's" },
	{ HDR(abi_version, V1_VERSION), -EPROTONOSUPPORT, "ABI version 1, this driver speaks 2" },
	{ HDR(hdr_size, 64), -EBADMSG, "hdr_size is 64, not 128" },
	{ HDR(slot_size, 257), -EBADMSG, "slot_size is 257, not 256" },
	{ HDR(region_entry_size, 0), -EBADMSG, "region_entry_size is 0, not 32" },
	{ HDR(slots_off, 2048), -EBADMSG, "slots_off is 2048, not 4096" },
	{ HDR(regions_off, 1ULL << 32 | 2048), -EBADMSG, "regions_off is 4294969344, not 2048" },
	{ HDR(max_peers, 1), -ERANGE, "max_peers 1 is not within 2..16" },
	{ HDR(max_peers, 17), -ERANGE, "max_peers 17 is not within 2..16" },
	{ HDR(self, 3), -ERANGE, "self 3 is not below max_peers 3" },
	{ HDR(ring_size, RING / 2), -ERANGE,
	  "ring_size 131072 is not a power of two within 262144..268435456" },
	{ HDR(ring_size, KVMRING_RING_SIZE_MAX * 2U), -ERANGE,
	  "ring_size 536870912 is not a power of two within 262144..268435456" },
	{ HDR(ring_size, RING + KVMRING_PAGE), -ERANGE,
	  "ring_size 266240 is not a power of two within 262144..268435456" },
	{ HDR(queues, 0), -ERANGE, "queues 0 is not within 1..8" },
	{ HDR(queues, 9), -ERANGE, "queues 9 is not within 1..8" },
	{ HDR(nregions, 65), -ERANGE, "nregions 65 is over 64" },
	{ HDR(nregions, ~0U), -ERANGE, "nregions 4294967295 is over 64" },
	{ HDR(isolation, 0), -ERANGE, "isolation 0 is neither owner (1) nor pair (2)" },
	{ HDR(isolation, 3), -ERANGE, "isolation 3 is neither owner (1) nor pair (2)" },
	{ HDR(flags, 0x6), -ERANGE, "flags 0x6 has unknown bits 0x6" },
	{ HDR(doorbell_devfn, RB_DEVFN_DOORBELL), -ERANGE,
	  "doorbell_devfn 0x78 without the doorbell flag" },
};

static void test_header_rules(void)
{
	u8 *small;
	size_t i;
	int err;

	/* A mapping shorter than a roster: nothing of it is read (ASan would say). */
	small = malloc(100);
	memset(small, 0, 100);
	err = ringnet_roster_read(small, 100, RB_DEVFN_ROSTER, &r, &why);
	CHECK_EQ(err, -EMSGSIZE);
	CHECK(!strcmp(why.msg, "a mapping of 100 bytes is shorter than a roster (8192)"), "%s",
	      why.msg);
	free(small);
	fresh(3, 0, OWNER);
	err = ringnet_roster_read(roster, KVMRING_ROSTER_SIZE - 1, RB_DEVFN_ROSTER, &r, &why);
	CHECK_EQ(err, -EMSGSIZE);
	CHECK(!strcmp(why.msg, "a mapping of 8191 bytes is shorter than a roster (8192)"), "%s",
	      why.msg);
	/* And a NULL why is fine. */
	CHECK_EQ(ringnet_roster_read(roster, 8, RB_DEVFN_ROSTER, &r, NULL), -EMSGSIZE);

	for (i = 0; i < ARRAY_SIZE(hdr_rules); i++) {
		const struct hdr_rule *h = &hdr_rules[i];

		fresh(3, 0, OWNER);
		memcpy(roster + h->off, &h->value, h->width);	/* little-endian */
		REFUSED(h->err, h->msg);
	}
	rb_spec_init(&spec, 3, 0, OWNER);
	spec.doorbell = true;
	rebuild();
	ACCEPTED();
	hdr()->doorbell_devfn = KVMRING_NO_DEVFN;
	REFUSED(-ERANGE, "doorbell_devfn 0xffff is not a PCI function");
	hdr()->doorbell_devfn = 0x100;
	REFUSED(-ERANGE, "doorbell_devfn 0x100 is not a PCI function");
	hdr()->doorbell_devfn = RB_DEVFN_ROSTER;
	REFUSED(-EBUSY, "the doorbell is at the roster's PCI function 00:10.0");
}

static void test_slot_rules(void)
{
	u8 bad[ETH_ALEN] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	u8 v4[4] = { 10, 9, 0, 3 }, v6[16] = { 0xfd, 0, 0, 9 };

	fresh(4, 1, OWNER);
	slot(2)->flags |= 0x8;
	REFUSED(-EINVAL, "slot 2 has unknown flags 0x9");
	fresh(4, 1, OWNER);
	slot(1)->flags = 0;
	REFUSED(-ENOENT, "our slot 1 is not present");

	fresh(4, 1, OWNER);
	memset(slot(2)->name, 'a', sizeof(slot(2)->name));
	REFUSED(-EINVAL, "slot 2's name is not NUL-terminated");
	fresh(4, 1, OWNER);
	slot(2)->name[0] = 0;
	REFUSED(-EINVAL, "slot 2 has no name");
	fresh(4, 1, OWNER);
	slot(2)->name[1] = 0x1f;
	REFUSED(-EINVAL, "slot 2's name has byte 0x1f at 1, not printable");
	slot(2)->name[1] = (char)0x80;
	REFUSED(-EINVAL, "slot 2's name has byte 0x80 at 1, not printable");
	slot(2)->name[1] = 0x7f;
	REFUSED(-EINVAL, "slot 2's name has byte 0x7f at 1, not printable");
	slot(2)->name[1] = ' ';
	ACCEPTED();
	CHECK(!strcmp(r.slots[2].name, "g "), "%s", r.slots[2].name);
	fresh(4, 1, OWNER);
	slot(2)->name[31] = 0;
	slot(2)->name[30] = 'z';
	REFUSED(-EINVAL, "slot 2's name is not NUL-padded");
	memset(slot(2)->name, 'n', 31);			/* 31 characters: the longest */
	ACCEPTED();

	fresh(4, 1, OWNER);
	memcpy(slot(3)->mac, bad, ETH_ALEN);
	REFUSED(-EINVAL, "slot 3 (g4) has MAC 01:00:5e:00:00:01, not a valid unicast address");
	memset(slot(3)->mac, 0, ETH_ALEN);
	REFUSED(-EINVAL, "slot 3 (g4) has MAC 00:00:00:00:00:00, not a valid unicast address");
	memset(slot(3)->mac, 0xff, ETH_ALEN);
	REFUSED(-EINVAL, "slot 3 (g4) has MAC ff:ff:ff:ff:ff:ff, not a valid unicast address");
	fresh(4, 1, OWNER);
	memcpy(slot(3)->mac, slot(1)->mac, ETH_ALEN);
	REFUSED(-EADDRINUSE, "slots 1 (g2) and 3 (g4) share MAC 52:54:00:4b:52:02");

	fresh(4, 1, OWNER);
	slot(0)->doorbell_id = 5;
	REFUSED(-EINVAL, "slot 0 (g1) has doorbell id 5 without doorbells");
	rb_spec_init(&spec, 4, 1, OWNER);
	spec.doorbell = true;
	rebuild();
	slot(0)->doorbell_id = 0x10000;
	REFUSED(-EINVAL, "slot 0 (g1) has doorbell id 65536, beyond 16 bits");
	slot(0)->doorbell_id = 0xffff;
	ACCEPTED();
	slot(0)->doorbell_id = KVMRING_DOORBELL_NONE;	/* not connected yet */
	slot(2)->doorbell_id = KVMRING_DOORBELL_NONE;
	ACCEPTED();
	slot(0)->doorbell_id = 2;			/* slot 1's */
	REFUSED(-EADDRINUSE, "slots 0 (g1) and 1 (g2) share doorbell id 2");

	fresh(4, 1, OWNER);
	slot(2)->addrs[1].family = 5;
	REFUSED(-EINVAL, "slot 2 (g3): address 1 has family 5");
	fresh(4, 1, OWNER);
	slot(2)->addrs[0].prefix_len = 33;
	REFUSED(-EINVAL, "slot 2 (g3): address 0 has prefix length 33, over 32");
	fresh(4, 1, OWNER);
	slot(2)->addrs[1].prefix_len = 129;
	REFUSED(-EINVAL, "slot 2 (g3): address 1 has prefix length 129, over 128");
	fresh(4, 1, OWNER);
	rb_prefix(&slot(2)->addrs[0], 4, 24, v4);	/* 10.9.0.3/24: the /24 or the /32? */
	REFUSED(-EINVAL, "slot 2 (g3): address 0 has bits set past its /24");
	rb_prefix(&slot(2)->addrs[0], 4, 32, v4);
	slot(2)->addrs[0].addr[4] = 1;			/* IPv4's 12 unused bytes */
	REFUSED(-EINVAL, "slot 2 (g3): address 0 has bits set past its /32");
	v6[8] = 0x80;
	rb_prefix(&slot(2)->addrs[0], 6, 64, v6);
	REFUSED(-EINVAL, "slot 2 (g3): address 0 has bits set past its /64");
	rb_prefix(&slot(2)->addrs[0], 6, 65, v6);
	ACCEPTED();
	fresh(4, 1, OWNER);
	slot(2)->addrs[1].family = 0;			/* the list ends after address 0 ... */
	REFUSED(-EINVAL, "slot 2 (g3): address 2 follows the end of its list");
	slot(2)->addrs[2].family = 0;			/* ... and now it does */
	ACCEPTED();
	CHECK_EQ(r.slots[2].naddrs, 1);
	/* A family-0 entry's other bytes are not looked at. */
	slot(2)->addrs[1].prefix_len = 200;
	slot(2)->addrs[1].addr[15] = 1;
	ACCEPTED();
}

static void test_region_rules(void)
{
	fresh(4, 1, OWNER);
	region(2)->devfn = 0x100;
	REFUSED(-EINVAL, "region 2 is at devfn 0x100, not a PCI function");
	region(2)->devfn = RB_DEVFN_ROSTER;
	REFUSED(-EBUSY, "region 2 (devfn 00:10.0) is at the roster's PCI function");
	region(2)->devfn = region(0)->devfn;
	REFUSED(-EBUSY, "regions 0 and 2 are both at devfn 00:11.0");
	rb_spec_init(&spec, 4, 1, OWNER);
	spec.doorbell = true;
	rebuild();
	region(3)->devfn = RB_DEVFN_DOORBELL;
	REFUSED(-EBUSY, "region 3 (devfn 00:0f.0) is at the doorbell's PCI function");

	fresh(4, 1, OWNER);
	region(2)->owner = 4;
	REFUSED(-EINVAL, "region 2 (devfn 00:11.2) is owned by slot 4, beyond max_peers 4");
	/*
	 * Groups {0,1}, {1,2}, {2,3}: slot 3 is a stranger to slot 1. Regions: 0's
	 * for {0,1}, ours for {0,1} and for {1,2}, 2's for {1,2}; 2's for {2,3}
	 * is not ours to map.
	 */
	rb_spec_init(&spec, 4, 1, OWNER);
	spec.ngroups = 3;
	spec.groups[0] = 0x3;
	spec.groups[1] = 0x6;
	spec.groups[2] = 0xc;
	rebuild();
	ACCEPTED();
	CHECK_EQ(r.nregions, 4);
	CHECK(r.regions[1].owner == 1 && r.regions[1].readers == 0x1, "ours for {0,1}");
	CHECK(r.regions[2].owner == 1 && r.regions[2].readers == 0x4, "ours for {1,2}");
	CHECK(r.regions[3].owner == 2 && r.regions[3].readers == 0x2, "2's for {1,2}");
	region(3)->owner = 3;
	region(3)->readers = 0x6;
	REFUSED(-ENOENT, "region 3 (devfn 00:11.3) is owned by slot 3, which is not present");
	rebuild();
	region(1)->readers |= 1U << 3;			/* a lane of ours for the stranger */
	REFUSED(-ENOENT, "region 1 (devfn 00:11.1) is read by slot 3, which is not present");
	rebuild();
	region(3)->readers |= 1U << 3;			/* 2's lane to the stranger, where we read */
	REFUSED(-ENOENT, "region 3 (devfn 00:11.3) is read by slot 3, which is not present");

	fresh(4, 1, OWNER);
	region(0)->readers |= 1U << 4;
	REFUSED(-EINVAL, "region 0 (devfn 00:11.0) has readers 0x1e, beyond max_peers 4");
	fresh(4, 1, OWNER);
	region(3)->readers |= 1U << 3;
	REFUSED(-EINVAL, "region 3 (devfn 00:11.3) is read by its owner, slot 3");
	fresh(4, 1, OWNER);
	region(2)->readers = 0x8;
	REFUSED(-EXDEV, "region 2 (devfn 00:11.2) is neither ours nor read by us (owner slot 2, readers 0x8)");

	fresh(4, 1, PAIR);
	region(0)->readers |= 1U << 3;			/* ours to slot 0, to slot 3 as well */
	REFUSED(-EXDEV, "region 0 (devfn 00:11.0) has 2 readers under pair isolation");
	region(0)->readers = 0;
	REFUSED(-EXDEV, "region 0 (devfn 00:11.0) has 0 readers under pair isolation");
	fresh(4, 1, OWNER);
	*region(4) = *region(1);			/* a second region of ours, as for a group */
	region(4)->devfn = RB_DEVFN_REGION0 + 4;
	region(4)->readers = 1U << 0;
	region(1)->readers &= ~(1U << 0);
	hdr()->nregions = 5;
	ACCEPTED();
	region(4)->readers |= 1U << 2;			/* slot 2 now reads both */
	REFUSED(-ENOTUNIQ, "slot 2 (g3) reads two of our regions, 1 and 4");

	fresh(4, 1, OWNER);
	region(1)->size = 3 << 20;
	REFUSED(-EINVAL, "region 1 (devfn 00:11.1) has size 3145728, not a power of two");
	region(1)->size = 0;
	REFUSED(-EINVAL, "region 1 (devfn 00:11.1) has size 0, not a power of two");
	/* 3 lanes of one queue: a page, then 3 * (a control page and 256 KiB). */
	CHECK_EQ(kvmring_owned_used(0xd, RING, 1), KVMRING_PAGE + 3 * BLOCK);
	region(1)->size = 512 << 10;
	REFUSED(-EINVAL, "region 1 (devfn 00:11.1) has 524288 bytes, fewer than the 802816 its 3 lanes need");
	region(1)->size = 1 << 20;
	ACCEPTED();
	fresh(4, 1, OWNER);
	hdr()->queues = 2;				/* the builder sized regions for one queue */
	REFUSED(-EINVAL, "region 0 (devfn 00:11.0) has 1048576 bytes, fewer than the 1601536 its 3 lanes need");
}

static void test_lane_rules(void)
{
	fresh(4, 1, OWNER);
	region(1)->readers &= ~(1U << 2);		/* our region has no lane for slot 2 */
	REFUSED(-ENOLINK, "slot 2 (g3) reads none of our regions");
	fresh(4, 1, PAIR);				/* 0: 1->0, 1: 0->1, 2: 1->2, 3: 2->1, 4: 1->3, 5: 3->1 */
	hdr()->nregions = 5;
	REFUSED(-ENOLINK, "slot 3 (g4) owns no region that we read");
	fresh(4, 1, PAIR);
	*region(6) = *region(2);
	region(6)->devfn = RB_DEVFN_REGION0 + 6;
	hdr()->nregions = 7;
	REFUSED(-ENOTUNIQ, "slot 2 (g3) reads two of our regions, 2 and 6");
	*region(6) = *region(3);
	region(6)->devfn = RB_DEVFN_REGION0 + 6;
	REFUSED(-ENOTUNIQ, "slot 2 (g3) owns two regions that we read, 3 and 6");
}

/* ---- routes and places ---------------------------------------------------- */

static void check_route(u32 peer, u32 txr, u32 txl, u32 rxr, u32 rxl)
{
	struct ringnet_route rt;
	int err = ringnet_roster_route(&r, peer, &rt);

	CHECK(!err && rt.tx.region == txr && rt.tx.lane == txl && rt.rx.region == rxr &&
	      rt.rx.lane == rxl, "self %u peer %u: %d tx %u/%u rx %u/%u, want tx %u/%u rx %u/%u",
	      r.self, peer, err, rt.tx.region, rt.tx.lane, rt.rx.region, rt.rx.lane, txr, txl, rxr,
	      rxl);
}

static void test_routes(void)
{
	struct ringnet_ring_places out, in;
	struct ringnet_route rt;
	u64 q1;

	/* Owner, 3 guests, we are 1: regions by owner 0, 1, 2; lanes by reader order. */
	fresh(3, 1, OWNER);
	ACCEPTED();
	check_route(0, 1, 0, 0, 0);
	check_route(2, 1, 1, 2, 1);
	CHECK_EQ(ringnet_roster_route(&r, 1, &rt), -ENOENT);	/* ourselves */
	CHECK_EQ(ringnet_roster_route(&r, 3, &rt), -ENOENT);	/* beyond max_peers */
	CHECK_EQ(ringnet_roster_route(&r, 99, &rt), -ENOENT);

	/*
	 * Owner with groups {0,1,2} and {2,3}: slot 2 owns a region for each, 2 for
	 * {0,1,2} with lanes for 0 and 1 and 3 for {2,3} with a lane for 3.
	 */
	rb_spec_init(&spec, 4, 2, OWNER);
	spec.ngroups = 2;
	spec.groups[0] = 0x7;
	spec.groups[1] = 0xc;
	rebuild();
	ACCEPTED();
	CHECK_EQ(r.nregions, 5);
	check_route(0, 2, 0, 0, 1);
	check_route(1, 2, 1, 1, 1);
	check_route(3, 3, 0, 4, 0);
	spec.self = 0;					/* slot 3 is a stranger to slot 0 */
	rebuild();
	ACCEPTED();
	CHECK_EQ(r.nregions, 3);			/* 2's region for {2,3} is not mapped */
	CHECK_EQ(r.regions[2].readers, 0x3);
	check_route(1, 0, 0, 1, 0);
	check_route(2, 0, 1, 2, 0);
	CHECK_EQ(ringnet_roster_route(&r, 3, &rt), -ENOENT);

	/* Pair, 3 guests, we are 1: ours to 0, 0's to us, ours to 2, 2's to us. */
	fresh(3, 1, PAIR);
	ACCEPTED();
	check_route(0, 0, 0, 1, 0);
	check_route(2, 2, 0, 3, 0);
	fresh(16, 15, PAIR);
	ACCEPTED();
	CHECK_EQ(r.nregions, 30);
	check_route(14, 28, 0, 29, 0);
	CHECK_EQ(r.regions[29].devfn, (0x14 << 3) | 5);	/* 00:14.5 */

	/* Places of queue 1 of 2, owner, 3 guests, we are 1, peer 2: lane 1 both ways. */
	rb_spec_init(&spec, 3, 1, OWNER);
	spec.queues = 2;
	rebuild();
	ACCEPTED();
	CHECK_EQ(ringnet_roster_route(&r, 2, &rt), 0);
	CHECK_EQ(ringnet_route_queue(&r, &rt, 1, &out, &in), 0);
	q1 = KVMRING_LANES_OFF + (1 * 2 + 1) * (u64)BLOCK;	/* lane 1, queue 1 */
	CHECK_EQ(q1, kvmring_queue_offset(RING, 2, 1, 1));
	CHECK(out.prod.region == 1 && out.prod.off == q1, "out prod %u %llu", out.prod.region,
	      out.prod.off);
	CHECK(out.data.region == 1 && out.data.off == q1 + KVMRING_PAGE, "out data %u %llu",
	      out.data.region, out.data.off);
	CHECK(out.cons.region == 2 && out.cons.off == q1 + 128, "out cons %u %llu",
	      out.cons.region, out.cons.off);
	CHECK(in.prod.region == 2 && in.prod.off == q1, "in prod %u %llu", in.prod.region,
	      in.prod.off);
	CHECK(in.data.region == 2 && in.data.off == q1 + KVMRING_PAGE, "in data %u %llu",
	      in.data.region, in.data.off);
	CHECK(in.cons.region == 1 && in.cons.off == q1 + 128, "in cons %u %llu", in.cons.region,
	      in.cons.off);
	/* Queue 0 of peer 0: lane 0 of ours, lane 0 of 0's. */
	CHECK_EQ(ringnet_roster_route(&r, 0, &rt), 0);
	CHECK_EQ(ringnet_route_queue(&r, &rt, 0, &out, &in), 0);
	CHECK(out.prod.region == 1 && out.prod.off == KVMRING_LANES_OFF && out.cons.region == 0 &&
	      out.cons.off == KVMRING_LANES_OFF + 128, "peer 0 queue 0");
	CHECK_EQ(ringnet_route_queue(&r, &rt, 2, &out, &in), -EINVAL);
	rt.tx.lane = 2;					/* our region has two lanes */
	CHECK_EQ(ringnet_route_queue(&r, &rt, 0, &out, &in), -EINVAL);
	rt.tx.lane = 0;
	rt.rx.region = 3;
	CHECK_EQ(ringnet_route_queue(&r, &rt, 0, &out, &in), -EINVAL);
}

/* ---- addresses, MACs, PCI functions --------------------------------------- */

static bool ok4(u32 s, u8 a, u8 b, u8 c, u8 d)
{
	u8 addr[4] = { a, b, c, d };

	return ringnet_roster_addr_ok(&r, s, 4, addr);
}

static bool ok6(u32 s, u16 first, u8 last)
{
	u8 addr[16] = { (u8)(first >> 8), (u8)first, 0, 9 };

	addr[15] = last;
	return ringnet_roster_addr_ok(&r, s, 6, addr);
}

static void test_addrs(void)
{
	u8 any[16] = { 0 }, net[16] = { 0xfd, 0, 0, 9 }, odd[4] = { 10, 128, 0, 0 };
	u8 v4_in_v6[16] = { 10, 9, 0, 3 };
	u32 s;

	fresh(4, 1, OWNER);
	ACCEPTED();
	CHECK(ok4(2, 10, 9, 0, 3), "/32 itself");
	CHECK(!ok4(2, 10, 9, 0, 4) && !ok4(2, 10, 9, 0, 2), "/32 neighbours");
	CHECK(ok4(1, 10, 9, 0, 2), "our own /32");
	CHECK(ok4(2, 192, 168, 3, 0) && ok4(2, 192, 168, 3, 255), "/24");
	CHECK(!ok4(2, 192, 168, 4, 1) && !ok4(2, 192, 168, 2, 1), "outside the /24");
	CHECK(!ok4(3, 10, 9, 0, 3), "another slot's /32");
	CHECK(ok6(2, 0xfd00, 3) && !ok6(2, 0xfd00, 4) && !ok6(2, 0xfd01, 3), "/128");
	CHECK(!ringnet_roster_addr_ok(&r, 2, 6, v4_in_v6), "v4 bytes as v6");
	CHECK(!ringnet_roster_addr_ok(&r, 2, 0, v4_in_v6) &&
	      !ringnet_roster_addr_ok(&r, 2, 5, v4_in_v6), "no such family");
	CHECK(ok4(0, 10, 9, 0, 1), "slot 0's /32");
	CHECK(!ok4(4, 10, 9, 0, 5) && !ok4(200, 10, 9, 0, 1), "beyond max_peers");

	/* /0 of each family: every address of that family, none of the other. */
	rb_prefix(&slot(2)->addrs[0], 4, 0, any);
	rb_prefix(&slot(2)->addrs[1], 6, 0, any);
	memset(&slot(2)->addrs[2], 0, sizeof(slot(2)->addrs[2]));
	ACCEPTED();
	CHECK(ok4(2, 0, 0, 0, 0) && ok4(2, 255, 255, 255, 255) && ok4(2, 1, 2, 3, 4), "v4 /0");
	CHECK(ok6(2, 0xffff, 0xff) && ok6(2, 0, 0), "v6 /0");
	slot(2)->addrs[1].family = 0;
	ACCEPTED();
	CHECK(ok4(2, 8, 8, 8, 8) && !ok6(2, 0xfd00, 3), "v4 /0 takes no v6");

	/* Lengths that end inside a byte: /9, /31, /1, /127. */
	rb_prefix(&slot(2)->addrs[0], 4, 9, odd);	/* 10.128.0.0/9 */
	ACCEPTED();
	CHECK(ok4(2, 10, 128, 0, 1) && ok4(2, 10, 255, 9, 9), "in the /9");
	CHECK(!ok4(2, 10, 127, 255, 255) && !ok4(2, 11, 128, 0, 0), "outside the /9");
	odd[1] = 0;
	odd[3] = 6;
	rb_prefix(&slot(2)->addrs[0], 4, 31, odd);	/* 10.0.0.6/31 */
	ACCEPTED();
	CHECK(ok4(2, 10, 0, 0, 6) && ok4(2, 10, 0, 0, 7) && !ok4(2, 10, 0, 0, 5) &&
	      !ok4(2, 10, 0, 0, 8), "/31");
	odd[0] = 128;
	odd[3] = 0;
	rb_prefix(&slot(2)->addrs[0], 4, 1, odd);	/* 128.0.0.0/1 */
	ACCEPTED();
	CHECK(ok4(2, 128, 0, 0, 0) && ok4(2, 255, 1, 1, 1) && !ok4(2, 127, 255, 255, 255), "/1");
	net[15] = 2;
	rb_prefix(&slot(2)->addrs[0], 6, 127, net);	/* fd00:9::2/127 */
	ACCEPTED();
	CHECK(ok6(2, 0xfd00, 2) && ok6(2, 0xfd00, 3) && !ok6(2, 0xfd00, 1) && !ok6(2, 0xfd00, 4),
	      "/127");
	/* A slot that is not ours to know has no addresses at all. */
	fresh(4, 1, OWNER);
	slot(3)->flags = 0;
	for (s = 0; s < 3; s++)				/* no lane for it anywhere */
		region(s)->readers &= ~(1U << 3);
	hdr()->nregions = 3;
	ACCEPTED();
	CHECK(!ok4(3, 10, 9, 0, 4), "a slot that is not present");
}

static void test_macs_and_devfns(void)
{
	u8 mac[ETH_ALEN];
	u32 s;

	fresh(4, 1, OWNER);
	slot(3)->flags = 0;				/* g4: a MAC in its slot, not present */
	for (s = 0; s < 3; s++)				/* no lane for it anywhere */
		region(s)->readers &= ~(1U << 3);
	hdr()->nregions = 3;
	ACCEPTED();
	for (s = 0; s < 4; s++) {
		rb_mac(mac, s);
		CHECK(ringnet_roster_mac_ok(&r, s, mac) == (s != 3), "slot %u's own MAC", s);
		CHECK(ringnet_roster_mac_slot(&r, mac) == (s == 0 || s == 2 ? (int)s : -ENOENT),
		      "MAC of slot %u", s);
	}
	rb_mac(mac, 0);
	CHECK(!ringnet_roster_mac_ok(&r, 2, mac), "slot 0's MAC as slot 2's");
	CHECK(!ringnet_roster_mac_ok(&r, 16, mac), "beyond the table");
	rb_mac(mac, 9);
	CHECK_EQ(ringnet_roster_mac_slot(&r, mac), -ENOENT);

	for (s = 0; s < 3; s++)
		CHECK_EQ(ringnet_roster_region_at(&r, RB_DEVFN_REGION0 + s), s);
	CHECK_EQ(ringnet_roster_region_at(&r, RB_DEVFN_REGION0 + 3), -ENOENT);	/* dropped */
	CHECK_EQ(ringnet_roster_region_at(&r, RB_DEVFN_ROSTER), -ENOENT);
}

/* ---- torn reads ------------------------------------------------------------ */

/*
 * The roster in two pages, the slots in the second. The fault handler plays a
 * host that rewrites the roster while the guest copies it: the copy's first
 * touch of the slots finds them unmapped, the handler moves seq on by 2 and
 * changes slot 2's doorbell id, and opens the page. With `again`, it also
 * closes the first page, so that the second read of seq traps and the next
 * attempt meets closed slots once more: the host never stops.
 */
static u8 *torn;
static long page;
static struct sigaction torn_old;	/* ASan's handler: every other fault is its */
static unsigned int torn_faults;
static bool again;

static void torn_fault(int sig, siginfo_t *si, void *ctx)
{
	u8 *a = si->si_addr;

	(void)ctx;
	if (a < torn || a >= torn + 2 * page) {
		sigaction(sig, &torn_old, NULL);	/* not ours: fault again, reported */
		return;
	}
	torn_faults++;
	mprotect(torn, 2 * page, PROT_READ | PROT_WRITE);
	if (a >= torn + page) {
		rb_hdr(torn)->seq += 2;
		rb_slot(torn, 2)->doorbell_id += 10;
		if (again)
			mprotect(torn, page, PROT_NONE);
	} else {
		mprotect(torn + page, page, PROT_NONE);
	}
}

static void test_torn(void)
{
	struct sigaction sa = { 0 };
	int err;

	/* seq odd: the host is writing, and keeps at it. */
	fresh(3, 0, OWNER);
	hdr()->seq = 7;
	REFUSED(-EAGAIN, "the host kept rewriting it (seq 7 after 16 tries)");
	hdr()->seq = 8;
	ACCEPTED();
	CHECK(!ringnet_roster_moved(roster, &r), "seq as read");
	hdr()->seq = 9;
	CHECK(ringnet_roster_moved(roster, &r), "seq odd");
	hdr()->seq = 10;
	CHECK(ringnet_roster_moved(roster, &r), "seq on by 2");

	page = sysconf(_SC_PAGESIZE);
	if (page != KVMRING_PAGE) {
		CHECK(0, "page size %ld: the torn read test needs 4096", page);
		return;
	}
	torn = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (torn == MAP_FAILED) {
		CHECK(0, "mmap");
		return;
	}
	sa.sa_sigaction = torn_fault;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, &torn_old);

	/* seq moves once during the copy: the second attempt takes the new roster. */
	rb_spec_init(&spec, 3, 0, OWNER);
	spec.doorbell = true;
	rb_build(torn, &spec);
	mprotect(torn + page, page, PROT_NONE);
	again = false;
	torn_faults = 0;
	err = ringnet_roster_read(torn, KVMRING_ROSTER_SIZE, RB_DEVFN_ROSTER, &r, &why);
	CHECK(err == 0, "%d: %s", err, why.msg);
	CHECK_EQ(torn_faults, 1);
	CHECK_EQ(r.seq, RB_SEQ + 2);
	CHECK_EQ(r.slots[2].doorbell_id, 3 + 10);	/* the rewritten roster, not a mix */

	/* seq moves during every copy. */
	mprotect(torn, 2 * page, PROT_READ | PROT_WRITE);
	rb_build(torn, &spec);
	mprotect(torn + page, page, PROT_NONE);
	again = true;
	torn_faults = 0;
	err = ringnet_roster_read(torn, KVMRING_ROSTER_SIZE, RB_DEVFN_ROSTER, &r, &why);
	CHECK_EQ(err, -EAGAIN);
	CHECK(!strcmp(why.msg, "the host kept rewriting it (seq 34 after 16 tries)"), "%s",
	      why.msg);
	CHECK_EQ(torn_faults, 2 * RINGNET_ROSTER_TRIES);

	sigaction(SIGSEGV, &torn_old, NULL);
	munmap(torn, 2 * page);
}

/* ---- owned regions ---------------------------------------------------------- */

#define OWNED_REFUSED(i, err, want) do {				\
	int _e = ringnet_owned_check(owned, r.regions[i].size, &r, (i), &why); \
	CHECK(_e == (err), "%d, want %d (%s)", _e, (err), why.msg);	\
	CHECK(!strcmp(why.msg, (want)), "\"%s\", want \"%s\"", why.msg, (want)); \
} while (0)

static void test_owned(void)
{
	/* Only the header: a check that reads past it is caught by ASan. */
	struct kvmring_owned_hdr *owned = malloc(sizeof(*owned));
	u32 i;

	fresh(3, 1, OWNER);
	ACCEPTED();
	for (i = 0; i < r.nregions; i++) {
		rb_format(owned, roster, i);
		CHECK_EQ(ringnet_owned_check(owned, r.regions[i].size, &r, i, &why), 0);
	}
	rb_format(owned, roster, 0);
	CHECK_EQ(ringnet_owned_check(owned, r.regions[0].size - 1, &r, 0, &why), -EMSGSIZE);
	CHECK(!strcmp(why.msg, "region 0 (devfn 00:11.0) maps 1048575 bytes, the roster says 1048576"),
	      "%s", why.msg);
	CHECK_EQ(ringnet_owned_check(owned, r.regions[0].size, &r, 3, &why), -EINVAL);
	CHECK(!strcmp(why.msg, "region 3 is not in the roster (3 regions)"), "%s", why.msg);

	owned->magic = 0;
	OWNED_REFUSED(0, -EAGAIN, "region 0 (devfn 00:11.0) is not formatted yet");
	owned->magic = V1_MAGIC;
	OWNED_REFUSED(0, -ENODEV, "region 0 (devfn 00:11.0) has magic 0x474e49524d564b, not an owned region's");
	rb_format(owned, roster, 0);
	owned->abi_version = V1_VERSION;
	OWNED_REFUSED(0, -EPROTONOSUPPORT, "region 0 (devfn 00:11.0) has ABI version 1, this driver speaks 2");
	rb_format(owned, roster, 0);
	owned->instance++;
	OWNED_REFUSED(0, -ESTALE, "region 0 (devfn 00:11.0) was formatted for instance 0x5eed00000101, the roster says 0x5eed00000100");
	rb_format(owned, roster, 2);			/* region 2's header at region 0's place */
	owned->instance = r.regions[0].instance;
	OWNED_REFUSED(0, -EBADMSG, "region 0 (devfn 00:11.0) says owner 0x2, the roster 0");
	rb_format(owned, roster, 0);
	owned->readers = 0x2;
	OWNED_REFUSED(0, -EBADMSG, "region 0 (devfn 00:11.0) says readers 0x2, the roster 0x6");
	rb_format(owned, roster, 0);
	owned->region_size <<= 1;
	OWNED_REFUSED(0, -EBADMSG, "region 0 (devfn 00:11.0) says region_size 0x200000, the roster 0x100000");
	rb_format(owned, roster, 0);
	owned->ring_size = RING * 2;
	OWNED_REFUSED(0, -EBADMSG, "region 0 (devfn 00:11.0) says ring_size 0x80000, the roster 0x40000");
	rb_format(owned, roster, 0);
	owned->queues = 2;
	OWNED_REFUSED(0, -EBADMSG, "region 0 (devfn 00:11.0) says queues 0x2, the roster 0x1");
	/* Reserved bytes are not looked at. */
	rb_format(owned, roster, 0);
	memset(owned->rsvd1, 0xa5, sizeof(owned->rsvd1));
	CHECK_EQ(ringnet_owned_check(owned, r.regions[0].size, &r, 0, &why), 0);
	free(owned);
}

int main(void)
{
	roster = aligned_alloc(KVMRING_PAGE, KVMRING_ROSTER_SIZE);
	if (!roster)
		return 2;
	test_valid();
	test_copy();
	test_header_rules();
	test_slot_rules();
	test_region_rules();
	test_lane_rules();
	test_routes();
	test_addrs();
	test_macs_and_devfns();
	test_torn();
	test_owned();
	free(roster);
	printf("roster_test: %lu checks, %lu failed\n", checks, failures);
	return failures ? 1 : 0;
}
