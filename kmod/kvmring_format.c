// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kvmring_format.c - formats owned regions and writes rosters (ABI v2).
 *
 * Pure functions over memory the caller gives: no allocation, no locks, no
 * I/O, nothing but kvmring_shim.h. The callers: kvmring.ko (its regions) and
 * ringctl through WebAssembly (files in /dev/shm or hugetlbfs; the tests).
 * Errors are negative errno values.
 *
 * Guests may look at a roster or region at any moment, so the order of the
 * stores matters where noted: a new region's or roster's magic is stored
 * last, and a roster rewritten under a running guest is bracketed by an odd
 * seq (kvmring_roster_publish()).
 */
#include "kvmring_format.h"

#ifdef KVMRING_WASM
/* No libc in WebAssembly; the compiler may also emit calls to these itself. */
void *memset(void *s, int c, size_t n)
{
	u8 *p = s;

	while (n--)
		*p++ = (u8)c;
	return s;
}

void *memcpy(void *d, const void *s, size_t n)
{
	u8 *dp = d;
	const u8 *sp = s;

	while (n--)
		*dp++ = *sp++;
	return d;
}
#endif /* KVMRING_WASM */

#define KVMRING_MAGIC_SIZE	sizeof(((struct kvmring_roster_hdr *)0)->magic)

static int kvmring_is_pow2(u64 v)
{
	return v && !(v & (v - 1));
}

/* ---- owned regions ------------------------------------------------------- */

/**
 * kvmring_owned_check() - whether @d describes a region the ABI allows.
 * @d: the plan's region.
 *
 * Return: 0, or -EINVAL (bad geometry) or -ERANGE (the lanes do not fit).
 */
int kvmring_owned_check(const struct kvmring_owned_desc *d)
{
	if (d->owner >= KVMRING_PEERS_MAX || (d->readers >> KVMRING_PEERS_MAX) ||
	    (d->readers & (1U << d->owner)))
		return -EINVAL;
	if (!kvmring_is_pow2(d->ring_size) || d->ring_size < KVMRING_RING_SIZE_MIN ||
	    d->ring_size > KVMRING_RING_SIZE_MAX)
		return -EINVAL;
	if (d->queues < 1 || d->queues > KVMRING_QUEUES_MAX || !kvmring_is_pow2(d->size))
		return -EINVAL;
	if (kvmring_owned_used(d->readers, d->ring_size, d->queues) > d->size)
		return -ERANGE;
	return 0;
}

/**
 * kvmring_owned_hdr_fill() - the header of an owned region, magic included.
 * @h: where to build it (not a live region: see kvmring_owned_format()).
 * @d: the region.
 */
void kvmring_owned_hdr_fill(struct kvmring_owned_hdr *h, const struct kvmring_owned_desc *d)
{
	memset(h, 0, sizeof(*h));
	h->magic = KVMRING_OWNED_MAGIC;
	h->abi_version = KVMRING_ABI_VERSION;
	h->owner = d->owner;
	h->instance = d->instance;
	h->region_size = d->size;
	h->readers = d->readers;
	h->ring_size = d->ring_size;
	h->queues = d->queues;
}

/**
 * kvmring_owned_format() - writes the header into a zeroed region.
 * @mem: the region's first bytes (at least the header), all zero: every ring
 *       empty at epoch 0, the owner's entry FREE.
 * @d: the region.
 *
 * The magic goes last, so a guest that looks early sees no magic or the
 * whole header.
 */
void kvmring_owned_format(void *mem, const struct kvmring_owned_desc *d)
{
	struct kvmring_owned_hdr h, *live = mem;

	kvmring_owned_hdr_fill(&h, d);
	memcpy((u8 *)mem + KVMRING_MAGIC_SIZE, (const u8 *)&h + KVMRING_MAGIC_SIZE,
	       sizeof(h) - KVMRING_MAGIC_SIZE);
	smp_wmb();	/* the header before its magic */
	WRITE_ONCE(live->magic, h.magic);
}

/* ---- rosters ------------------------------------------------------------- */

static struct kvmring_roster_slot *kvmring_slot_at(void *roster, u32 slot)
{
	return (struct kvmring_roster_slot *)((u8 *)roster + KVMRING_ROSTER_SLOTS_OFF) + slot;
}

static struct kvmring_roster_region *kvmring_region_at(void *roster, u32 i)
{
	return (struct kvmring_roster_region *)((u8 *)roster + KVMRING_ROSTER_REGIONS_OFF) + i;
}

/**
 * kvmring_roster_init() - a new roster: all zero, then the header of @d.
 * @roster: KVMRING_ROSTER_SIZE bytes (a buffer, not a live roster).
 * @d: the header's fields.
 *
 * Return: 0, or -EINVAL when @d does not fit a roster.
 */
int kvmring_roster_init(void *roster, const struct kvmring_roster_desc *d)
{
	struct kvmring_roster_hdr *h = roster;

	if (d->nregions > KVMRING_ROSTER_REGIONS_MAX || d->max_peers > KVMRING_PEERS_MAX)
		return -EINVAL;
	memset(roster, 0, KVMRING_ROSTER_SIZE);
	h->magic = KVMRING_ROSTER_MAGIC;
	h->abi_version = KVMRING_ABI_VERSION;
	h->flags = d->flags;
	h->seq = 0;
	h->self = d->self;
	h->max_peers = d->max_peers;
	h->nregions = d->nregions;
	h->ring_size = d->ring_size;
	h->queues = d->queues;
	h->isolation = d->isolation;
	h->doorbell_devfn = d->doorbell_devfn;
	h->instance = d->instance;
	h->hdr_size = sizeof(struct kvmring_roster_hdr);
	h->slot_size = sizeof(struct kvmring_roster_slot);
	h->region_entry_size = sizeof(struct kvmring_roster_region);
	h->slots_off = KVMRING_ROSTER_SLOTS_OFF;
	h->regions_off = KVMRING_ROSTER_REGIONS_OFF;
	return 0;
}

/**
 * kvmring_roster_set_region() - entry @i of the region table.
 * @roster: a roster from kvmring_roster_init().
 * @i: below the header's nregions.
 * @owner: the slot that writes the region.
 * @readers: bit s: slot s reads it.
 * @devfn: where the guest finds it.
 * @size: its bytes.
 * @instance: as the region's header.
 *
 * Return: 0, or -EINVAL for an entry outside the table.
 */
int kvmring_roster_set_region(void *roster, u32 i, u32 owner, u32 readers, u16 devfn,
			      u64 size, u64 instance)
{
	const struct kvmring_roster_hdr *h = roster;
	struct kvmring_roster_region *r;

	if (i >= h->nregions)
		return -EINVAL;
	r = kvmring_region_at(roster, i);
	r->owner = owner;
	r->readers = readers;
	r->devfn = devfn;
	r->size = size;
	r->instance = instance;
	return 0;
}

/**
 * kvmring_roster_set_slot() - a slot the guest may talk to (present).
 * @roster: a roster from kvmring_roster_init().
 * @slot: below the header's max_peers.
 * @doorbell_id: its doorbell id, or KVMRING_DOORBELL_NONE.
 * @mac: its ring0 MAC, 6 bytes.
 * @name: the host's name for it, @name_len bytes (no NUL needed).
 * @name_len: at most 32.
 *
 * Return: 0, or -EINVAL (slot) or -ERANGE (name).
 */
int kvmring_roster_set_slot(void *roster, u32 slot, u32 doorbell_id, const u8 *mac,
			    const char *name, u32 name_len)
{
	const struct kvmring_roster_hdr *h = roster;
	struct kvmring_roster_slot *s;

	if (slot >= h->max_peers)
		return -EINVAL;
	s = kvmring_slot_at(roster, slot);
	if (name_len > sizeof(s->name))
		return -ERANGE;
	s->flags = KVMRING_ROSTER_SLOT_F_PRESENT;
	s->doorbell_id = doorbell_id;
	memcpy(s->mac, mac, sizeof(s->mac));
	memset(s->name, 0, sizeof(s->name));
	memcpy(s->name, name, name_len);
	return 0;
}

/**
 * kvmring_roster_set_addr() - prefix @k that @slot may claim.
 * @roster: a roster from kvmring_roster_init().
 * @slot: below the header's max_peers.
 * @k: below KVMRING_ROSTER_ADDRS; the list ends at the first family 0.
 * @family: 4 or 6.
 * @prefix_len: up to 32 or 128.
 * @addr: network byte order, 4 or 16 bytes.
 *
 * Return: 0, or -EINVAL or -ERANGE.
 */
int kvmring_roster_set_addr(void *roster, u32 slot, u32 k, u8 family, u8 prefix_len,
			    const u8 *addr)
{
	const struct kvmring_roster_hdr *h = roster;
	struct kvmring_roster_addr *a;

	if (slot >= h->max_peers || (family != 4 && family != 6))
		return -EINVAL;
	if (k >= KVMRING_ROSTER_ADDRS || prefix_len > (family == 4 ? 32 : 128))
		return -ERANGE;
	a = &kvmring_slot_at(roster, slot)->addrs[k];
	a->family = family;
	a->prefix_len = prefix_len;
	memset(a->addr, 0, sizeof(a->addr));
	memcpy(a->addr, addr, family == 4 ? 4 : 16);
	return 0;
}

/**
 * kvmring_roster_check() - whether @roster is one the host may hand a guest.
 * @roster: KVMRING_ROSTER_SIZE bytes, a private copy.
 *
 * What kvmring.ko asks of a roster that userspace gives it: the ABI's magic,
 * version, sizes and offsets, an even seq, and a header a guest would take.
 * Who may talk to whom is the host's policy, not checked here.
 *
 * Return: 0 or -EINVAL.
 */
int kvmring_roster_check(const void *roster)
{
	const struct kvmring_roster_hdr *h = roster;

	if (h->magic != KVMRING_ROSTER_MAGIC || h->abi_version != KVMRING_ABI_VERSION ||
	    h->hdr_size != sizeof(struct kvmring_roster_hdr) ||
	    h->slot_size != sizeof(struct kvmring_roster_slot) ||
	    h->region_entry_size != sizeof(struct kvmring_roster_region) ||
	    h->slots_off != KVMRING_ROSTER_SLOTS_OFF || h->regions_off != KVMRING_ROSTER_REGIONS_OFF)
		return -EINVAL;
	if ((h->seq & 1) || h->max_peers < 2 || h->max_peers > KVMRING_PEERS_MAX ||
	    h->self >= h->max_peers || h->nregions > KVMRING_ROSTER_REGIONS_MAX)
		return -EINVAL;
	if ((h->isolation != KVMRING_ISOLATION_OWNER && h->isolation != KVMRING_ISOLATION_PAIR) ||
	    h->queues < 1 || h->queues > KVMRING_QUEUES_MAX)
		return -EINVAL;
	return 0;
}

/**
 * kvmring_roster_publish() - writes @roster into a live roster @mem.
 * @mem: the roster a guest maps (KVMRING_ROSTER_SIZE bytes).
 * @roster: the new contents (its seq is ignored).
 *
 * A new roster (no magic yet): everything but the magic with seq 0, then
 * the magic. A rewrite: seq made odd, everything but magic and seq, then seq
 * even again, above the old one; a guest copies the roster between two
 * reads of the same even seq. The caller serializes writers.
 */
void kvmring_roster_publish(void *mem, const void *roster)
{
	struct kvmring_roster_hdr *live = mem;
	const struct kvmring_roster_hdr *h = roster;
	const size_t seq_off = __builtin_offsetof(struct kvmring_roster_hdr, seq);
	const size_t seq_end = seq_off + sizeof(live->seq);
	u32 seq;

	if (READ_ONCE(live->magic) != KVMRING_ROSTER_MAGIC) {
		memcpy((u8 *)mem + KVMRING_MAGIC_SIZE, (const u8 *)roster + KVMRING_MAGIC_SIZE,
		       KVMRING_ROSTER_SIZE - KVMRING_MAGIC_SIZE);
		WRITE_ONCE(live->seq, 0);
		smp_wmb();	/* the roster before its magic */
		WRITE_ONCE(live->magic, h->magic);
		return;
	}
	/* Odd: a write in progress (one cut short left it odd already). */
	seq = READ_ONCE(live->seq) | 1;
	WRITE_ONCE(live->seq, seq);
	smp_wmb();	/* odd seq before the new contents */
	memcpy((u8 *)mem + KVMRING_MAGIC_SIZE, (const u8 *)roster + KVMRING_MAGIC_SIZE,
	       seq_off - KVMRING_MAGIC_SIZE);
	memcpy((u8 *)mem + seq_end, (const u8 *)roster + seq_end, KVMRING_ROSTER_SIZE - seq_end);
	smp_wmb();	/* the new contents before the even seq */
	WRITE_ONCE(live->seq, seq + 1);
}
