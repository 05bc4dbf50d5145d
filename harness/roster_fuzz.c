// SPDX-License-Identifier: GPL-2.0-only
/*
 * roster_fuzz - libFuzzer target over the roster (ringnet_roster.c). An
 * input is either arbitrary bytes taken as a mapping of their own length
 * (optionally with a correct magic, ABI version, even seq and layout stamped
 * on, to get past the first checks), or a valid roster from roster_build.h
 * (2..16 guests, either isolation level, groups, doorbells, queues, ring
 * sizes) rewritten step by step, a byte at a time or a field at a time from
 * small sets of values that collide: MACs, doorbell ids, PCI functions,
 * sizes, prefix lengths, owners and readers, whole region entries copied
 * or swapped. The roster is read after every step, from a buffer of exactly
 * the mapping's size, so ASan sees any read beyond it. Whatever is refused
 * is refused with a documented errno and a sentence (-EAGAIN only while seq
 * is odd); whatever is accepted must satisfy, stated here again from the raw
 * bytes and abi.h alone:
 *  - header: magic, ABI 2, even seq, 2 <= max_peers <= 16, self below it
 *    and present, ring_size and queues in range;
 *  - present slots are exactly those below max_peers with the flag; their
 *    MACs valid unicast and unique, names NUL-terminated;
 *  - every region at a unique PCI function that is not the roster's, owned
 *    by a present slot, not read by its owner, read by us if not ours, read
 *    by present slots only, one reader each under pair isolation, a
 *    power-of-two size with room for every lane's queues;
 *  - every present peer has exactly one region of ours it reads and one of
 *    its own we read; its route names them, with lanes counted from the
 *    readers mask, and every queue's six ring parts lie inside the region
 *    they name, where the layout puts them; no route to anyone else;
 *  - a present peer's MAC finds it; addresses are in a slot's prefixes
 *    exactly when a bit-by-bit comparison says so;
 *  - an owned region's header is accepted exactly when every field the
 *    roster states matches.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cursor.h"
#include "ringnet_roster.h"
#include "roster_build.h"

#define FUZZ_OPS	64

/* Besides the MACs of slots 0..2 as built (rb_mac()): one more valid, four invalid. */
static const u8 other_macs[][ETH_ALEN] = {
	{ 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 },
	{ 0 },
	{ 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 },
	{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
	{ 0x03, 0x54, 0x00, 0x00, 0x00, 0x0a },
};

static const u32 doorbell_ids[] = { 1, 2, 3, 0, 0xffff, 0x10000, KVMRING_DOORBELL_NONE };
static const u16 devfns[] = {
	RB_DEVFN_REGION0, RB_DEVFN_REGION0 + 1, RB_DEVFN_REGION0 + 2, RB_DEVFN_ROSTER,
	RB_DEVFN_DOORBELL, 0xff, 0x100, KVMRING_NO_DEVFN,
};
static const u64 sizes[] = {
	0, KVMRING_PAGE, 1ULL << 19, 1ULL << 20, 3ULL << 19, 1ULL << 22, 1ULL << 63, ~0ULL,
};
static const u32 smalls[] = { 0, 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 63, 64, 65, 0xffffffff };
static const u32 ring_sizes[] = {
	KVMRING_RING_SIZE_MIN, KVMRING_RING_SIZE_MIN * 2, KVMRING_RING_SIZE_MIN - 1,
	KVMRING_RING_SIZE_MIN / 2, KVMRING_RING_SIZE_MAX, KVMRING_RING_SIZE_MAX * 2U, 0,
};
static const u8 prefix_lens[] = { 0, 1, 7, 8, 9, 24, 31, 32, 33, 64, 65, 127, 128, 129, 255 };
static const u8 families[] = { 0, 4, 6, 5 };

static void fail(const char *what, u32 n)
{
	fprintf(stderr, "roster_fuzz: %s (%u)\n", what, n);
	abort();
}

static u32 bits(u32 x)
{
	u32 n = 0;

	for (; x; x >>= 1)
		n += x & 1;
	return n;
}

static bool raw_present(u8 *raw, u32 s)
{
	return s < rb_hdr(raw)->max_peers && (rb_slot(raw, s)->flags & KVMRING_ROSTER_SLOT_F_PRESENT);
}

static bool bit_of(const u8 *a, u32 b)
{
	return a[b / 8] >> (7 - b % 8) & 1;
}

/* The prefix rule, bit by bit, on the raw list up to its first family 0. */
static bool raw_addr_ok(u8 *raw, u32 s, int family, const u8 *addr)
{
	const struct kvmring_roster_addr *e;
	u32 a, b;

	if (s >= KVMRING_PEERS_MAX || !raw_present(raw, s))
		return false;
	for (a = 0; a < KVMRING_ROSTER_ADDRS; a++) {
		e = &rb_slot(raw, s)->addrs[a];
		if (!e->family)
			break;
		if (e->family != family)
			continue;
		for (b = 0; b < e->prefix_len && bit_of(e->addr, b) == bit_of(addr, b); b++)
			;
		if (b == e->prefix_len)
			return true;
	}
	return false;
}

/* The bytes of region i that ring part (off, len) names, inside it. */
static void check_place(const struct ringnet_roster *r, const struct ringnet_place *pl, u32 region,
			u64 off, u64 len)
{
	if (pl->region != region || pl->off != off)
		fail("a ring part elsewhere than the layout puts it", region);
	if (pl->region >= r->nregions || pl->off + len > r->regions[pl->region].size)
		fail("a ring part outside its region", region);
}

static void check_peer(u8 *raw, const struct ringnet_roster *r, u32 p)
{
	u32 self = rb_hdr(raw)->self, Q = rb_hdr(raw)->queues, ring = rb_hdr(raw)->ring_size;
	u32 i, q, tx = 0, rx = 0, ntx = 0, nrx = 0, txl, rxl;
	struct ringnet_ring_places out, in;
	struct ringnet_route rt;
	u64 blk = KVMRING_PAGE + (u64)ring, to, from;

	for (i = 0; i < rb_hdr(raw)->nregions; i++) {
		const struct kvmring_roster_region *e = rb_region(raw, i);

		if (e->owner == self && (e->readers & (1U << p))) {
			tx = i;
			ntx++;
		}
		if (e->owner == p && (e->readers & (1U << self))) {
			rx = i;
			nrx++;
		}
	}
	if (ntx != 1 || nrx != 1)
		fail("a present peer without exactly one lane each way", p);
	if (ringnet_roster_route(r, p, &rt) || rt.tx.region != tx || rt.rx.region != rx)
		fail("a route other than the peer's lanes", p);
	txl = bits(rb_region(raw, tx)->readers & ((1U << p) - 1));
	rxl = bits(rb_region(raw, rx)->readers & ((1U << self) - 1));
	if (rt.tx.lane != txl || rt.rx.lane != rxl)
		fail("a lane other than the readers mask says", p);
	for (q = 0; q < Q; q++) {
		if (ringnet_route_queue(r, &rt, q, &out, &in))
			fail("no places for a queue", q);
		to = KVMRING_PAGE + (txl * (u64)Q + q) * blk;	/* our block in our region */
		from = KVMRING_PAGE + (rxl * (u64)Q + q) * blk;	/* ours in the peer's */
		check_place(r, &out.prod, tx, to, sizeof(struct kvmring_ring_prod));
		check_place(r, &out.data, tx, to + KVMRING_PAGE, ring);
		check_place(r, &out.cons, rx, from + sizeof(struct kvmring_ring_prod),
			    sizeof(struct kvmring_ring_cons));
		check_place(r, &in.prod, rx, from, sizeof(struct kvmring_ring_prod));
		check_place(r, &in.data, rx, from + KVMRING_PAGE, ring);
		check_place(r, &in.cons, tx, to + sizeof(struct kvmring_ring_prod),
			    sizeof(struct kvmring_ring_cons));
	}
	if (ringnet_route_queue(r, &rt, Q, &out, &in) != -EINVAL)
		fail("places for a queue beyond queues", Q);
	if (ringnet_roster_mac_slot(r, rb_slot(raw, p)->mac) != (int)p)
		fail("a present peer's MAC does not find it", p);
}

static void check_regions(u8 *raw)
{
	struct kvmring_roster_hdr *h = rb_hdr(raw);
	u32 i, j, b, n = h->max_peers;

	for (i = 0; i < h->nregions; i++) {
		const struct kvmring_roster_region *e = rb_region(raw, i);
		u64 need = KVMRING_PAGE + bits(e->readers) * (u64)h->queues *
			   (KVMRING_PAGE + (u64)h->ring_size);

		if (e->devfn > 0xff || e->devfn == RB_DEVFN_ROSTER ||
		    ((h->flags & KVMRING_ROSTER_F_DOORBELL) && e->devfn == h->doorbell_devfn))
			fail("a region at a PCI function it may not be at", i);
		if (e->owner >= n || !raw_present(raw, e->owner))
			fail("a region of a slot that is not present", i);
		if ((e->readers >> n) || (e->readers & (1U << e->owner)))
			fail("a region read beyond max_peers or by its owner", i);
		if (e->owner != h->self && !(e->readers & (1U << h->self)))
			fail("a region that is not ours nor read by us", i);
		for (b = 0; b < n; b++)
			if ((e->readers & (1U << b)) && !raw_present(raw, b))
				fail("a region read by a slot that is not present", i);
		if (h->isolation == KVMRING_ISOLATION_PAIR && bits(e->readers) != 1)
			fail("a pair region without exactly one reader", i);
		if (!e->size || (e->size & (e->size - 1)) || e->size < need)
			fail("a region size that is no power of two or too small", i);
		for (j = 0; j < i; j++)
			if (rb_region(raw, j)->devfn == e->devfn)
				fail("two regions at one PCI function", i);
	}
}

static void check_accepted(u8 *raw, const struct ringnet_roster *r)
{
	struct kvmring_roster_hdr *h = rb_hdr(raw);
	u32 n = h->max_peers, s, t;
	struct ringnet_route rt;

	if (h->magic != KVMRING_ROSTER_MAGIC || h->abi_version != KVMRING_ABI_VERSION ||
	    (h->seq & 1) || r->seq != h->seq)
		fail("accepted a roster that is not one, or not settled", h->seq);
	if (n < 2 || n > KVMRING_PEERS_MAX || h->self >= n || !raw_present(raw, h->self))
		fail("accepted without a table or our slot in it", n);
	if (r->self != h->self || r->max_peers != n || r->nregions != h->nregions ||
	    h->nregions > KVMRING_ROSTER_REGIONS_MAX)
		fail("a copy that is not the roster", h->nregions);
	if (h->ring_size < KVMRING_RING_SIZE_MIN || h->ring_size > KVMRING_RING_SIZE_MAX ||
	    (h->ring_size & (h->ring_size - 1)) || !h->queues || h->queues > KVMRING_QUEUES_MAX)
		fail("accepted a ring size or queue count out of range", h->ring_size);

	for (s = 0; s < KVMRING_PEERS_MAX; s++) {
		const struct kvmring_roster_slot *a = rb_slot(raw, s);

		if (r->slots[s].present != raw_present(raw, s))
			fail("a slot present in the copy and not in the roster, or back", s);
		if (!raw_present(raw, s))
			continue;
		if ((a->mac[0] & 1) || !(a->mac[0] | a->mac[1] | a->mac[2] | a->mac[3] | a->mac[4] | a->mac[5]) ||
		    memcmp(a->mac, r->slots[s].mac, ETH_ALEN))
			fail("a present slot with an invalid MAC, or another in the copy", s);
		if (!memchr(a->name, 0, sizeof(a->name)) || strcmp(a->name, r->slots[s].name))
			fail("a present slot's name unterminated, or another in the copy", s);
		for (t = s + 1; t < KVMRING_PEERS_MAX; t++)
			if (raw_present(raw, t) && !memcmp(a->mac, rb_slot(raw, t)->mac, ETH_ALEN))
				fail("two present slots with one MAC", s);
	}
	check_regions(raw);
	for (s = 0; s < KVMRING_PEERS_MAX + 2; s++) {
		if (s != h->self && raw_present(raw, s))
			check_peer(raw, r, s);
		else if (ringnet_roster_route(r, s, &rt) != -ENOENT)
			fail("a route to ourselves or to a slot that is not present", s);
	}
}

/* An address near one of a slot's prefixes (or anywhere), against the bitwise rule. */
static void check_addr(u8 *raw, const struct ringnet_roster *r, struct cursor *c)
{
	u32 s = take8(c) % (KVMRING_PEERS_MAX + 1), b = take8(c);
	int family = b & 1 ? 6 : b & 2 ? 4 : (int)(b >> 2) % 8;
	u8 addr[16];

	if (b & 4 && s < KVMRING_PEERS_MAX)
		memcpy(addr, rb_slot(raw, s)->addrs[(b >> 3) % KVMRING_ROSTER_ADDRS].addr, 16);
	else
		memset(addr, take8(c), 16);
	if (b & 0x80) {
		b = take8(c) % 128;
		addr[b / 8] ^= (u8)(0x80 >> (b % 8));
	}
	if (ringnet_roster_addr_ok(r, s, family, addr) != raw_addr_ok(raw, s, family, addr))
		fail("address check disagrees with the bitwise rule", s);
}

/* Region i's header as formatted, maybe with one byte changed: accepted exactly when it matches. */
static void check_owned(u8 *raw, const struct ringnet_roster *r, struct cursor *c)
{
	struct kvmring_owned_hdr *o = malloc(sizeof(*o));
	u32 i = take8(c) % (r->nregions + 1), b = take8(c);
	const struct kvmring_roster_region *e;
	bool match;
	int err;

	if (!o)
		abort();
	if (i == r->nregions) {
		if (ringnet_owned_check(o, 0, r, i, NULL) != -EINVAL)
			fail("an owned check of a region not in the roster", i);
		free(o);
		return;
	}
	e = rb_region(raw, i);
	rb_format(o, raw, i);
	if (b & 1)
		((u8 *)o)[take8(c) % sizeof(*o)] ^= (u8)(1U << (b >> 1) % 8);
	err = ringnet_owned_check(o, e->size, r, i, NULL);
	match = o->magic == KVMRING_OWNED_MAGIC && o->abi_version == KVMRING_ABI_VERSION &&
		o->instance == e->instance && o->owner == e->owner && o->readers == e->readers &&
		o->region_size == e->size && o->ring_size == rb_hdr(raw)->ring_size &&
		o->queues == rb_hdr(raw)->queues;
	if (!err != match)
		fail("owned check disagrees with the roster", i);
	if (ringnet_owned_check(o, e->size ^ 1, r, i, NULL) != -EMSGSIZE)
		fail("an owned region mapped at another size", i);
	free(o);
}

/* Reads the mapping; checks a refusal's errno, or what an acceptance promises. */
static int read_and_check(u8 *raw, u64 len, struct cursor *c)
{
	static struct ringnet_roster r;
	struct ringnet_why why = { { 0 } };
	int err = ringnet_roster_read(raw, len, RB_DEVFN_ROSTER, &r, &why);

	switch (err) {
	case 0:
		check_accepted(raw, &r);
		check_addr(raw, &r, c);
		check_owned(raw, &r, c);
		return 0;
	case -EAGAIN:
		if (!(rb_hdr(raw)->seq & 1))
			fail("-EAGAIN with an even seq and nobody writing", 0);
		break;
	case -EMSGSIZE: case -ENODEV: case -EPROTONOSUPPORT: case -EBADMSG: case -ERANGE:
	case -EINVAL: case -EADDRINUSE: case -EBUSY: case -ENOENT: case -EXDEV: case -ENOLINK:
	case -ENOTUNIQ:
		break;
	default:
		fail("an undocumented errno", (u32)-err);
	}
	if (!why.msg[0] || !memchr(why.msg, 0, sizeof(why.msg)))
		fail("a refusal without a sentence", (u32)-err);
	return err;
}

static void stamp(u8 *raw, u64 len)
{
	struct kvmring_roster_hdr *h = rb_hdr(raw);

	if (len < sizeof(*h))
		return;
	h->magic = KVMRING_ROSTER_MAGIC;
	h->abi_version = KVMRING_ABI_VERSION;
	h->seq &= ~1U;
	h->hdr_size = sizeof(struct kvmring_roster_hdr);
	h->slot_size = sizeof(struct kvmring_roster_slot);
	h->region_entry_size = sizeof(struct kvmring_roster_region);
	h->slots_off = KVMRING_ROSTER_SLOTS_OFF;
	h->regions_off = KVMRING_ROSTER_REGIONS_OFF;
}

static void mutate_header(u8 *raw, struct cursor *c, u8 b)
{
	struct kvmring_roster_hdr *h = rb_hdr(raw);
	u32 v = smalls[take8(c) % ARRAY_SIZE(smalls)];

	switch (b % 10) {
	case 0: h->max_peers = v; break;
	case 1: h->self = v; break;
	case 2: h->nregions = v; break;
	case 3: h->nregions += b & 0x10 ? 1 : -1; break;
	case 4: h->ring_size = ring_sizes[v % ARRAY_SIZE(ring_sizes)]; break;
	case 5: h->queues = v; break;
	case 6: h->isolation = v; break;
	case 7: h->flags = v; break;
	case 8: h->doorbell_devfn = devfns[v % ARRAY_SIZE(devfns)]; break;
	case 9: h->seq += 1; break;
	}
}

static void mutate_slot(u8 *raw, struct cursor *c, u8 op, u8 b)
{
	struct kvmring_roster_slot *e = rb_slot(raw, take8(c) % KVMRING_PEERS_MAX);
	struct kvmring_roster_addr *a = &e->addrs[b % KVMRING_ROSTER_ADDRS];

	switch (op) {
	case 0: e->flags = b % 4; break;
	case 1:
		if (b % 8 < 3)
			rb_mac(e->mac, b % 8);
		else
			memcpy(e->mac, other_macs[b % 8 - 3], ETH_ALEN);
		break;
	case 2: e->doorbell_id = doorbell_ids[b % ARRAY_SIZE(doorbell_ids)]; break;
	case 3: e->name[b % sizeof(e->name)] = (char)(b & 0x80 ? take8(c) : b & 0x40 ? 'a' : 0); break;
	case 4:
		a->family = families[take8(c) % ARRAY_SIZE(families)];
		a->prefix_len = prefix_lens[take8(c) % ARRAY_SIZE(prefix_lens)];
		break;
	case 5: a->addr[take8(c) % 16] ^= (u8)(1U << take8(c) % 8); break;
	}
}

static void mutate_region(u8 *raw, struct cursor *c, u8 b)
{
	struct kvmring_roster_hdr *h = rb_hdr(raw);
	u32 i = take8(c) % KVMRING_ROSTER_REGIONS_MAX, j = take8(c) % KVMRING_ROSTER_REGIONS_MAX;
	struct kvmring_roster_region *e = rb_region(raw, i), t;

	switch (b % 9) {
	case 0: e->owner = smalls[take8(c) % ARRAY_SIZE(smalls)]; break;
	case 1: e->readers ^= 1U << take8(c) % 18; break;
	case 2: e->readers = take32(c); break;
	case 3: e->devfn = devfns[take8(c) % ARRAY_SIZE(devfns)]; break;
	case 4: e->size = sizes[take8(c) % ARRAY_SIZE(sizes)]; break;
	case 5: e->size <<= 1; break;
	case 6:		/* swap two entries */
		t = *e;
		*e = *rb_region(raw, j);
		*rb_region(raw, j) = t;
		break;
	case 7:		/* another entry's copy, at a PCI function of its own or not */
		*e = *rb_region(raw, j);
		if (b & 0x10)
			e->devfn = (u16)(RB_DEVFN_REGION0 + i);
		break;
	case 8:		/* appended copy */
		if (h->nregions < KVMRING_ROSTER_REGIONS_MAX) {
			*rb_region(raw, h->nregions) = *rb_region(raw, j);
			rb_region(raw, h->nregions)->devfn = (u16)(RB_DEVFN_REGION0 + h->nregions);
			h->nregions++;
		}
		break;
	}
}

static void fuzz_valid(struct cursor *c, u8 mode)
{
	u8 *raw = malloc(KVMRING_ROSTER_SIZE), op, b;
	struct rb_spec s;
	u32 n, g, ops;

	if (!raw)
		abort();
	n = 2 + take8(c) % (KVMRING_PEERS_MAX - 1);
	rb_spec_init(&s, n, take8(c) % n, mode & 1 ? KVMRING_ISOLATION_PAIR : KVMRING_ISOLATION_OWNER);
	s.doorbell = mode & 2;
	s.queues = 1 + take8(c) % KVMRING_QUEUES_MAX;
	s.ring_size = KVMRING_RING_SIZE_MIN << take8(c) % 3;
	s.ngroups = (mode >> 2) % 4;
	for (g = 0; g < s.ngroups; g++)
		s.groups[g] = take32(c) & 0xffff;
	rb_build(raw, &s);
	if (read_and_check(raw, KVMRING_ROSTER_SIZE, c))
		fail("a roster as the host builds it refused", n);

	for (ops = 0; c->left && ops < FUZZ_OPS; ops++) {
		op = take8(c);
		b = take8(c);
		switch (op % 10) {
		case 0:		/* not when the input ends here: its zeros would hit the magic */
			if (c->left >= 3)
				raw[(take8(c) | take8(c) << 8) % KVMRING_ROSTER_SIZE] = take8(c);
			break;
		case 1:
			mutate_header(raw, c, b);
			break;
		case 2: case 3: case 4: case 5: case 6: case 7:
			mutate_slot(raw, c, op % 10 - 2, b);
			break;
		case 8: case 9:
			mutate_region(raw, c, b);
			break;
		}
		read_and_check(raw, KVMRING_ROSTER_SIZE, c);
	}
	free(raw);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	struct cursor c = { in, size };
	u8 mode = take8(&c), *raw;
	size_t len;

	if (!(mode & 0x80)) {
		fuzz_valid(&c, mode);
		return 0;
	}
	/* Arbitrary bytes: a mapping of exactly their length. */
	len = c.left;
	raw = malloc(len ? len : 1);
	if (!raw)
		abort();
	memcpy(raw, c.p, len);
	if (mode & 0x40)
		stamp(raw, len);
	c.left = 0;
	read_and_check(raw, len, &c);
	free(raw);
	return 0;
}
