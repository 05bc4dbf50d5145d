// SPDX-License-Identifier: GPL-2.0-only
/*
 * ringnet_roster.c - the host's roster: one consistent copy, validated whole,
 * and the lookups on it; see ringnet_roster.h. No locks, no allocation, no
 * sleeping; the copy is the caller's.
 */
#include "ringnet_roster.h"

#define ROSTER_FLAGS_KNOWN	KVMRING_ROSTER_F_DOORBELL
#define SLOT_FLAGS_KNOWN	KVMRING_ROSTER_SLOT_F_PRESENT
#define DEVFN_MAX		0xff	/* 5 bits of slot, 3 of function */

/* The roster's own statement of its layout, checked against this header's. */
struct roster_layout {
	u32	hdr_size;
	u32	slot_size;
	u32	region_entry_size;
	u64	slots_off;
	u64	regions_off;
	u32	slot_flags[KVMRING_PEERS_MAX];
};

/* Says why in *why (if any) and returns err. */
static __printf(3, 4) int refuse(struct ringnet_why *why, int err, const char *fmt, ...)
{
	va_list ap;

	if (why) {
		va_start(ap, fmt);
		vsnprintf(why->msg, sizeof(why->msg), fmt, ap);
		va_end(ap);
	}
	return err;
}

/* "00:13.0": a PCI function on the guest's root bus, as lspci shows it. */
struct devfn_name {
	char	s[16];
};

static struct devfn_name devfn_name(u16 devfn)
{
	struct devfn_name n;

	if (devfn > DEVFN_MAX)
		snprintf(n.s, sizeof(n.s), "%#x", devfn);
	else
		snprintf(n.s, sizeof(n.s), "00:%02x.%u", (devfn >> 3) & 0x1f, devfn & 7);
	return n;
}

struct mac_name {
	char	s[3 * ETH_ALEN];
};

static struct mac_name mac_name(const u8 *mac)
{
	struct mac_name n;

	snprintf(n.s, sizeof(n.s), "%02x:%02x:%02x:%02x:%02x:%02x",
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	return n;
}

static bool power_of_2(u64 x)
{
	return x && !(x & (x - 1));
}

static bool slot_present(const struct ringnet_roster *r, u32 s)
{
	return s < r->max_peers && r->slots[s].present;
}

/* ---- the copy ------------------------------------------------------------ */

/*
 * One pass over the mapping: every scalar read once, every array copied once.
 * Slots and regions are taken at the header's constant offsets; the roster's
 * own offsets are copied only to be checked against them.
 */
static void roster_copy(const struct kvmring_roster_hdr *h, struct ringnet_roster *r,
			struct roster_layout *l)
{
	const struct kvmring_roster_slot *se =
		(const void *)((const u8 *)h + KVMRING_ROSTER_SLOTS_OFF);
	const struct kvmring_roster_region *re =
		(const void *)((const u8 *)h + KVMRING_ROSTER_REGIONS_OFF);
	u32 i, a, n;

	r->flags = READ_ONCE(h->flags);
	r->self = READ_ONCE(h->self);
	r->max_peers = READ_ONCE(h->max_peers);
	r->nregions = READ_ONCE(h->nregions);
	r->ring_size = READ_ONCE(h->ring_size);
	r->queues = READ_ONCE(h->queues);
	r->isolation = READ_ONCE(h->isolation);
	r->doorbell_devfn = READ_ONCE(h->doorbell_devfn);
	r->instance = READ_ONCE(h->instance);
	l->hdr_size = READ_ONCE(h->hdr_size);
	l->slot_size = READ_ONCE(h->slot_size);
	l->region_entry_size = READ_ONCE(h->region_entry_size);
	l->slots_off = READ_ONCE(h->slots_off);
	l->regions_off = READ_ONCE(h->regions_off);

	for (i = 0; i < KVMRING_PEERS_MAX; i++) {
		struct ringnet_roster_slot *s = &r->slots[i];

		l->slot_flags[i] = READ_ONCE(se[i].flags);
		s->doorbell_id = READ_ONCE(se[i].doorbell_id);
		memcpy(s->mac, se[i].mac, ETH_ALEN);
		memcpy(s->name, se[i].name, sizeof(s->name));
		for (a = 0; a < KVMRING_ROSTER_ADDRS; a++) {
			s->addrs[a].family = READ_ONCE(se[i].addrs[a].family);
			s->addrs[a].len = READ_ONCE(se[i].addrs[a].prefix_len);
			memcpy(s->addrs[a].addr, se[i].addrs[a].addr, sizeof(s->addrs[a].addr));
		}
	}

	/* Only as many as there can be: a larger nregions is refused later. */
	n = r->nregions < KVMRING_ROSTER_REGIONS_MAX ? r->nregions : KVMRING_ROSTER_REGIONS_MAX;
	for (i = 0; i < n; i++) {
		r->regions[i].owner = READ_ONCE(re[i].owner);
		r->regions[i].readers = READ_ONCE(re[i].readers);
		r->regions[i].devfn = READ_ONCE(re[i].devfn);
		r->regions[i].size = READ_ONCE(re[i].size);
		r->regions[i].instance = READ_ONCE(re[i].instance);
	}
}

/* ---- the checks, in the order they run ----------------------------------- */

/* A field that must hold a value known beforehand. */
struct field {
	const char	*name;
	u64		got, want;
};

/* The first of n fields that does not hold its value, or NULL. */
static const struct field *field_differs(const struct field *f, u32 n)
{
	u32 i;

	for (i = 0; i < n; i++)
		if (f[i].got != f[i].want)
			return &f[i];
	return NULL;
}

static int check_layout(const struct roster_layout *l, struct ringnet_why *why)
{
	const struct field f[] = {
		{ "hdr_size", l->hdr_size, sizeof(struct kvmring_roster_hdr) },
		{ "slot_size", l->slot_size, sizeof(struct kvmring_roster_slot) },
		{ "region_entry_size", l->region_entry_size, sizeof(struct kvmring_roster_region) },
		{ "slots_off", l->slots_off, KVMRING_ROSTER_SLOTS_OFF },
		{ "regions_off", l->regions_off, KVMRING_ROSTER_REGIONS_OFF },
	};
	const struct field *bad = field_differs(f, ARRAY_SIZE(f));

	if (bad)
		return refuse(why, -EBADMSG, "%s is %llu, not %llu", bad->name, bad->got, bad->want);
	return 0;
}

static int check_header(const struct ringnet_roster *r, struct ringnet_why *why)
{
	if (r->max_peers < 2 || r->max_peers > KVMRING_PEERS_MAX)
		return refuse(why, -ERANGE, "max_peers %u is not within 2..%u", r->max_peers,
			      KVMRING_PEERS_MAX);
	if (r->self >= r->max_peers)
		return refuse(why, -ERANGE, "self %u is not below max_peers %u", r->self,
			      r->max_peers);
	if (r->ring_size < KVMRING_RING_SIZE_MIN || r->ring_size > KVMRING_RING_SIZE_MAX ||
	    !power_of_2(r->ring_size))
		return refuse(why, -ERANGE, "ring_size %u is not a power of two within %u..%u",
			      r->ring_size, KVMRING_RING_SIZE_MIN, KVMRING_RING_SIZE_MAX);
	if (r->queues < 1 || r->queues > KVMRING_QUEUES_MAX)
		return refuse(why, -ERANGE, "queues %u is not within 1..%u", r->queues,
			      KVMRING_QUEUES_MAX);
	if (r->nregions > KVMRING_ROSTER_REGIONS_MAX)
		return refuse(why, -ERANGE, "nregions %u is over %u", r->nregions,
			      KVMRING_ROSTER_REGIONS_MAX);
	if (r->isolation != KVMRING_ISOLATION_OWNER && r->isolation != KVMRING_ISOLATION_PAIR)
		return refuse(why, -ERANGE, "isolation %u is neither owner (%u) nor pair (%u)",
			      r->isolation, KVMRING_ISOLATION_OWNER, KVMRING_ISOLATION_PAIR);
	if (r->flags & ~ROSTER_FLAGS_KNOWN)
		return refuse(why, -ERANGE, "flags %#x has unknown bits %#x", r->flags,
			      r->flags & ~ROSTER_FLAGS_KNOWN);
	if (!(r->flags & KVMRING_ROSTER_F_DOORBELL)) {
		if (r->doorbell_devfn != KVMRING_NO_DEVFN)
			return refuse(why, -ERANGE, "doorbell_devfn %#x without the doorbell flag",
				      r->doorbell_devfn);
		return 0;
	}
	if (r->doorbell_devfn > DEVFN_MAX)
		return refuse(why, -ERANGE, "doorbell_devfn %#x is not a PCI function",
			      r->doorbell_devfn);
	if (r->doorbell_devfn == r->devfn)
		return refuse(why, -EBUSY, "the doorbell is at the roster's PCI function %s",
			      devfn_name(r->devfn).s);
	return 0;
}

/* No bit set past the first len bits of addr's 16 bytes (IPv4's last 12 included). */
static bool prefix_clean(const u8 *addr, u32 len)
{
	u32 i, keep;

	for (i = 0; i < 16; i++) {
		keep = len >= 8 * (i + 1) ? 8 : len > 8 * i ? len - 8 * i : 0;
		if (addr[i] & (u8)~(0xff << (8 - keep)))
			return false;
	}
	return true;
}

/*
 * A slot's address list: entries of family 4 or 6 with a prefix length in
 * range and no host bits, up to the first of family 0; after it, family 0
 * only. Host bits are refused rather than masked: 10.9.0.2/24 might mean the
 * /24 or the one address, and only the host knows which.
 */
static int check_addrs(struct ringnet_roster_slot *s, u32 slot, struct ringnet_why *why)
{
	const struct ringnet_roster_prefix *p;
	bool ended = false;
	u32 a, width;

	s->naddrs = 0;
	for (a = 0; a < KVMRING_ROSTER_ADDRS; a++) {
		p = &s->addrs[a];
		if (!p->family) {
			ended = true;
			continue;
		}
		if (ended)
			return refuse(why, -EINVAL, "slot %u (%s): address %u follows the end of its list",
				      slot, s->name, a);
		if (p->family != 4 && p->family != 6)
			return refuse(why, -EINVAL, "slot %u (%s): address %u has family %u", slot,
				      s->name, a, p->family);
		width = p->family == 4 ? 32 : 128;
		if (p->len > width)
			return refuse(why, -EINVAL,
				      "slot %u (%s): address %u has prefix length %u, over %u", slot,
				      s->name, a, p->len, width);
		if (!prefix_clean(p->addr, p->len))
			return refuse(why, -EINVAL, "slot %u (%s): address %u has bits set past its /%u",
				      slot, s->name, a, p->len);
		s->naddrs++;
	}
	return 0;
}

/* A present slot's entry on its own: name, MAC, doorbell id, addresses. */
static int check_slot(const struct ringnet_roster *r, struct ringnet_roster_slot *s, u32 slot,
		      struct ringnet_why *why)
{
	size_t len = strnlen(s->name, sizeof(s->name)), i;

	if (len == sizeof(s->name))
		return refuse(why, -EINVAL, "slot %u's name is not NUL-terminated", slot);
	if (!len)
		return refuse(why, -EINVAL, "slot %u has no name", slot);
	for (i = 0; i < len; i++)
		if (s->name[i] < 0x20 || s->name[i] > 0x7e)
			return refuse(why, -EINVAL, "slot %u's name has byte %#x at %zu, not printable",
				      slot, (u8)s->name[i], i);
	for (; i < sizeof(s->name); i++)
		if (s->name[i])
			return refuse(why, -EINVAL, "slot %u's name is not NUL-padded", slot);

	if (!is_valid_ether_addr(s->mac))
		return refuse(why, -EINVAL, "slot %u (%s) has MAC %s, not a valid unicast address",
			      slot, s->name, mac_name(s->mac).s);
	if (s->doorbell_id != KVMRING_DOORBELL_NONE) {
		if (!(r->flags & KVMRING_ROSTER_F_DOORBELL))
			return refuse(why, -EINVAL, "slot %u (%s) has doorbell id %u without doorbells",
				      slot, s->name, s->doorbell_id);
		if (s->doorbell_id > 0xffff)
			return refuse(why, -EINVAL, "slot %u (%s) has doorbell id %u, beyond 16 bits",
				      slot, s->name, s->doorbell_id);
	}
	return check_addrs(s, slot, why);
}

static int check_slots(struct ringnet_roster *r, const struct roster_layout *l,
		       struct ringnet_why *why)
{
	u32 s, t;
	int err;

	for (s = 0; s < KVMRING_PEERS_MAX; s++) {
		if (s < r->max_peers && (l->slot_flags[s] & ~SLOT_FLAGS_KNOWN))
			return refuse(why, -EINVAL, "slot %u has unknown flags %#x", s,
				      l->slot_flags[s]);
		/* Beyond max_peers, or not for us: nothing in it is looked at or kept. */
		if (s >= r->max_peers || !(l->slot_flags[s] & KVMRING_ROSTER_SLOT_F_PRESENT))
			memset(&r->slots[s], 0, sizeof(r->slots[s]));
		else
			r->slots[s].present = true;
	}
	if (!r->slots[r->self].present)
		return refuse(why, -ENOENT, "our slot %u is not present", r->self);
	for (s = 0; s < r->max_peers; s++) {
		if (!r->slots[s].present)
			continue;
		err = check_slot(r, &r->slots[s], s, why);
		if (err)
			return err;
	}

	/* Identities: one MAC and one doorbell per guest. */
	for (s = 0; s < r->max_peers; s++) {
		const struct ringnet_roster_slot *a = &r->slots[s];

		for (t = s + 1; a->present && t < r->max_peers; t++) {
			const struct ringnet_roster_slot *b = &r->slots[t];

			if (!b->present)
				continue;
			if (ether_addr_equal(a->mac, b->mac))
				return refuse(why, -EADDRINUSE, "slots %u (%s) and %u (%s) share MAC %s",
					      s, a->name, t, b->name, mac_name(a->mac).s);
			if (a->doorbell_id != KVMRING_DOORBELL_NONE &&
			    a->doorbell_id == b->doorbell_id)
				return refuse(why, -EADDRINUSE,
					      "slots %u (%s) and %u (%s) share doorbell id %u", s,
					      a->name, t, b->name, a->doorbell_id);
		}
	}
	return 0;
}

/*
 * One region entry, against the slots and the entries before it. Every region
 * involves us: one that is neither ours nor read by us has no business in this
 * guest. Every reader is a present slot: in a region of ours we would write a
 * lane for a guest the host did not let us talk to, and in another owner's we
 * could read its traffic to a guest we share no group with. The host keeps a
 * region's readers within one group (under owner isolation a guest in several
 * groups owns a region per group), so such a roster is a host that leaks.
 * Several regions of one owner are fine at either level: check_lanes() wants
 * exactly one per peer and direction.
 */
static int check_region(const struct ringnet_roster *r, u32 i, struct ringnet_why *why)
{
	const struct ringnet_roster_region *e = &r->regions[i];
	struct devfn_name d = devfn_name(e->devfn);
	u32 all = (1U << r->max_peers) - 1, j, b;
	u64 used;

	if (e->devfn > DEVFN_MAX)
		return refuse(why, -EINVAL, "region %u is at devfn %s, not a PCI function", i, d.s);
	if (e->devfn == r->devfn)
		return refuse(why, -EBUSY, "region %u (devfn %s) is at the roster's PCI function", i,
			      d.s);
	if ((r->flags & KVMRING_ROSTER_F_DOORBELL) && e->devfn == r->doorbell_devfn)
		return refuse(why, -EBUSY, "region %u (devfn %s) is at the doorbell's PCI function",
			      i, d.s);
	for (j = 0; j < i; j++)
		if (r->regions[j].devfn == e->devfn)
			return refuse(why, -EBUSY, "regions %u and %u are both at devfn %s", j, i, d.s);

	if (e->owner >= r->max_peers)
		return refuse(why, -EINVAL, "region %u (devfn %s) is owned by slot %u, beyond max_peers %u",
			      i, d.s, e->owner, r->max_peers);
	if (!r->slots[e->owner].present)
		return refuse(why, -ENOENT, "region %u (devfn %s) is owned by slot %u, which is not present",
			      i, d.s, e->owner);
	if (e->readers & ~all)
		return refuse(why, -EINVAL, "region %u (devfn %s) has readers %#x, beyond max_peers %u",
			      i, d.s, e->readers, r->max_peers);
	if (e->readers & (1U << e->owner))
		return refuse(why, -EINVAL, "region %u (devfn %s) is read by its owner, slot %u", i,
			      d.s, e->owner);
	if (e->owner != r->self && !(e->readers & (1U << r->self)))
		return refuse(why, -EXDEV,
			      "region %u (devfn %s) is neither ours nor read by us (owner slot %u, readers %#x)",
			      i, d.s, e->owner, e->readers);
	for (b = 0; b < r->max_peers; b++)
		if ((e->readers & (1U << b)) && !r->slots[b].present)
			return refuse(why, -ENOENT,
				      "region %u (devfn %s) is read by slot %u, which is not present",
				      i, d.s, b);

	if (r->isolation == KVMRING_ISOLATION_PAIR && kvmring_lane_count(e->readers) != 1)
		return refuse(why, -EXDEV, "region %u (devfn %s) has %u readers under pair isolation",
			      i, d.s, kvmring_lane_count(e->readers));

	if (!power_of_2(e->size))
		return refuse(why, -EINVAL, "region %u (devfn %s) has size %llu, not a power of two",
			      i, d.s, e->size);
	used = kvmring_owned_used(e->readers, r->ring_size, r->queues);
	if (e->size < used)
		return refuse(why, -EINVAL,
			      "region %u (devfn %s) has %llu bytes, fewer than the %llu its %u lanes need",
			      i, d.s, e->size, used, kvmring_lane_count(e->readers));
	return 0;
}

/* How many regions owner owns that reader reads; the first two in idx[]. */
static u32 find_regions(const struct ringnet_roster *r, u32 owner, u32 reader, u32 idx[2])
{
	u32 i, n = 0;

	for (i = 0; i < r->nregions; i++) {
		const struct ringnet_roster_region *e = &r->regions[i];

		if (e->owner != owner || !(e->readers & (1U << reader)))
			continue;
		if (n < 2)
			idx[n] = i;
		n++;
	}
	return n;
}

/* Every present peer: one region of ours it reads (our TX lane), one of its that we read (RX). */
static int check_lanes(const struct ringnet_roster *r, struct ringnet_why *why)
{
	u32 p, n, idx[2];

	for (p = 0; p < r->max_peers; p++) {
		const char *name = r->slots[p].name;

		if (p == r->self || !r->slots[p].present)
			continue;
		n = find_regions(r, r->self, p, idx);
		if (!n)
			return refuse(why, -ENOLINK, "slot %u (%s) reads none of our regions", p, name);
		if (n > 1)
			return refuse(why, -ENOTUNIQ, "slot %u (%s) reads two of our regions, %u and %u",
				      p, name, idx[0], idx[1]);
		n = find_regions(r, p, r->self, idx);
		if (!n)
			return refuse(why, -ENOLINK, "slot %u (%s) owns no region that we read", p, name);
		if (n > 1)
			return refuse(why, -ENOTUNIQ,
				      "slot %u (%s) owns two regions that we read, %u and %u", p, name,
				      idx[0], idx[1]);
	}
	return 0;
}

static int roster_check(struct ringnet_roster *r, const struct roster_layout *l,
			struct ringnet_why *why)
{
	u32 i;
	int err;

	err = check_layout(l, why);
	if (!err)
		err = check_header(r, why);
	if (!err)
		err = check_slots(r, l, why);
	for (i = 0; !err && i < r->nregions; i++)
		err = check_region(r, i, why);
	if (!err)
		err = check_lanes(r, why);
	return err;
}

int ringnet_roster_read(const void *mapped, u64 mapped_len, u16 devfn, struct ringnet_roster *r,
			struct ringnet_why *why)
{
	const struct kvmring_roster_hdr *h = mapped;
	struct roster_layout l;
	u32 abi, seq = 0, tries;
	u64 magic;

	if (mapped_len < KVMRING_ROSTER_SIZE)
		return refuse(why, -EMSGSIZE, "a mapping of %llu bytes is shorter than a roster (%u)",
			      mapped_len, KVMRING_ROSTER_SIZE);
	/* Pairs with the host's release of magic after everything else, at creation. */
	magic = smp_load_acquire(&h->magic);
	if (magic != KVMRING_ROSTER_MAGIC)
		return refuse(why, -ENODEV, "magic %#llx is not a roster's", magic);
	abi = READ_ONCE(h->abi_version);
	if (abi != KVMRING_ABI_VERSION)
		return refuse(why, -EPROTONOSUPPORT, "ABI version %u, this driver speaks %u", abi,
			      KVMRING_ABI_VERSION);

	for (tries = 0; tries < RINGNET_ROSTER_TRIES; tries++) {
		seq = READ_ONCE(h->seq);
		if (seq & 1)
			continue;
		/* The copy after the first read of seq, the second read after the copy. */
		smp_rmb();
		roster_copy(h, r, &l);
		smp_rmb();
		if (READ_ONCE(h->seq) == seq)
			break;
	}
	if (tries == RINGNET_ROSTER_TRIES)
		return refuse(why, -EAGAIN, "the host kept rewriting it (seq %u after %u tries)", seq,
			      tries);
	r->seq = seq;
	r->devfn = devfn;
	return roster_check(r, &l, why);
}

/* ---- lookups on a validated roster --------------------------------------- */

int ringnet_roster_route(const struct ringnet_roster *r, u32 peer, struct ringnet_route *rt)
{
	u32 idx[2];

	if (peer == r->self || !slot_present(r, peer))
		return -ENOENT;
	/* Exactly one each in a validated roster. */
	if (find_regions(r, r->self, peer, idx) != 1)
		return -ENOENT;
	rt->tx.region = idx[0];
	rt->tx.lane = kvmring_lane_of(r->regions[idx[0]].readers, peer);
	if (find_regions(r, peer, r->self, idx) != 1)
		return -ENOENT;
	rt->rx.region = idx[0];
	rt->rx.lane = kvmring_lane_of(r->regions[idx[0]].readers, r->self);
	return 0;
}

static bool lane_ok(const struct ringnet_roster *r, const struct ringnet_lane *l)
{
	return l->region < r->nregions &&
	       l->lane < kvmring_lane_count(r->regions[l->region].readers);
}

/*
 * A ring whose producer's block (its control page and data) is at prod_off
 * in region prod, and whose consumer's block is at cons_off in region cons.
 */
static void ring_places(struct ringnet_ring_places *pl, u32 prod, u64 prod_off, u32 cons,
			u64 cons_off)
{
	pl->prod.region = prod;
	pl->prod.off = prod_off + offsetof(struct kvmring_queue_ctl, tx);
	pl->data.region = prod;
	pl->data.off = prod_off + KVMRING_QUEUE_CTL_SIZE;
	pl->cons.region = cons;
	pl->cons.off = cons_off + offsetof(struct kvmring_queue_ctl, rx);
}

int ringnet_route_queue(const struct ringnet_roster *r, const struct ringnet_route *rt, u32 q,
			struct ringnet_ring_places *out, struct ringnet_ring_places *in)
{
	u64 tx, rx;

	if (q >= r->queues || !lane_ok(r, &rt->tx) || !lane_ok(r, &rt->rx))
		return -EINVAL;
	tx = kvmring_queue_offset(r->ring_size, r->queues, rt->tx.lane, q);
	rx = kvmring_queue_offset(r->ring_size, r->queues, rt->rx.lane, q);
	/* We produce into our region and consume in the peer's; the peer the other way round. */
	ring_places(out, rt->tx.region, tx, rt->rx.region, rx);
	ring_places(in, rt->rx.region, rx, rt->tx.region, tx);
	return 0;
}

int ringnet_roster_region_at(const struct ringnet_roster *r, u16 devfn)
{
	u32 i;

	for (i = 0; i < r->nregions; i++)
		if (r->regions[i].devfn == devfn)
			return i;
	return -ENOENT;
}

int ringnet_roster_mac_slot(const struct ringnet_roster *r, const u8 *mac)
{
	u32 s;

	for (s = 0; s < r->max_peers; s++)
		if (s != r->self && r->slots[s].present && ether_addr_equal(r->slots[s].mac, mac))
			return s;
	return -ENOENT;
}

bool ringnet_roster_mac_ok(const struct ringnet_roster *r, u32 slot, const u8 *mac)
{
	return slot_present(r, slot) && ether_addr_equal(r->slots[slot].mac, mac);
}

/* The first len bits of addr are p's. */
static bool prefix_has(const struct ringnet_roster_prefix *p, const u8 *addr)
{
	u32 full = p->len / 8, rest = p->len % 8;

	if (memcmp(p->addr, addr, full))
		return false;
	return !rest || !((p->addr[full] ^ addr[full]) & (u8)(0xff << (8 - rest)));
}

bool ringnet_roster_addr_ok(const struct ringnet_roster *r, u32 slot, int family, const u8 *addr)
{
	const struct ringnet_roster_slot *s;
	u32 a;

	if ((family != 4 && family != 6) || !slot_present(r, slot))
		return false;
	s = &r->slots[slot];
	for (a = 0; a < s->naddrs; a++)
		if (s->addrs[a].family == family && prefix_has(&s->addrs[a], addr))
			return true;
	return false;
}

int ringnet_owned_check(const void *region, u64 mapped, const struct ringnet_roster *r, u32 i,
			struct ringnet_why *why)
{
	const struct kvmring_owned_hdr *h = region;
	const struct ringnet_roster_region *e;
	const struct field *bad;
	struct field f[5];
	struct devfn_name d;
	u64 magic, instance;
	u32 abi;

	if (i >= r->nregions)
		return refuse(why, -EINVAL, "region %u is not in the roster (%u regions)", i,
			      r->nregions);
	e = &r->regions[i];
	d = devfn_name(e->devfn);
	if (mapped != e->size)
		return refuse(why, -EMSGSIZE, "region %u (devfn %s) maps %llu bytes, the roster says %llu",
			      i, d.s, mapped, e->size);
	/* Pairs with the host's release of magic after the rest of the header. */
	magic = smp_load_acquire(&h->magic);
	if (!magic)
		return refuse(why, -EAGAIN, "region %u (devfn %s) is not formatted yet", i, d.s);
	if (magic != KVMRING_OWNED_MAGIC)
		return refuse(why, -ENODEV, "region %u (devfn %s) has magic %#llx, not an owned region's",
			      i, d.s, magic);
	abi = READ_ONCE(h->abi_version);
	if (abi != KVMRING_ABI_VERSION)
		return refuse(why, -EPROTONOSUPPORT,
			      "region %u (devfn %s) has ABI version %u, this driver speaks %u", i, d.s,
			      abi, KVMRING_ABI_VERSION);
	instance = READ_ONCE(h->instance);
	if (instance != e->instance)
		return refuse(why, -ESTALE,
			      "region %u (devfn %s) was formatted for instance %#llx, the roster says %#llx",
			      i, d.s, instance, e->instance);
	f[0] = (struct field){ "owner", READ_ONCE(h->owner), e->owner };
	f[1] = (struct field){ "readers", READ_ONCE(h->readers), e->readers };
	f[2] = (struct field){ "region_size", READ_ONCE(h->region_size), e->size };
	f[3] = (struct field){ "ring_size", READ_ONCE(h->ring_size), r->ring_size };
	f[4] = (struct field){ "queues", READ_ONCE(h->queues), r->queues };
	bad = field_differs(f, ARRAY_SIZE(f));
	if (bad)
		return refuse(why, -EBADMSG, "region %u (devfn %s) says %s %#llx, the roster %#llx",
			      i, d.s, bad->name, bad->got, bad->want);
	return 0;
}
