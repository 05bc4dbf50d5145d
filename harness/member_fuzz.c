// SPDX-License-Identifier: GPL-2.0-only
/*
 * member_fuzz - libFuzzer target over peer membership (ringnet_member.c,
 * ABI v2): one guest's scans (member_sim.h, the driver's order of calls) of
 * its peers' entries, which the input rewrites between steps, byte by byte
 * or a field at a time from small sets of MACs, words and addresses so that
 * they collide often, under a roster the input also chooses (which slots are
 * present, which is ours). The entries are allocated to their exact size,
 * so ASan sees any access beyond them. After every step:
 *  - only slots the roster lists are ever present, never ours; alive only
 *    if present; every member's MAC and doorbell id are the roster's;
 *  - a slot scanned while UP has claimed set exactly when its entry
 *    publishes a MAC other than the roster's, and claimed_mac is that MAC;
 *  - a present slot scanned with a settled addr_seq has taken it, with
 *    addrs_refused equal to an independent count of the published addresses
 *    outside its roster prefixes;
 *  - events agree with the state: a join is a present, alive member of the
 *    entry's generation, a leave leaves nothing present, a death a present
 *    dead member, a conflict a claimed one;
 *  - our next generation is none of the generations it was given.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cursor.h"
#include "member_sim.h"

#define FUZZ_TIMEOUT	50UL
#define FUZZ_OPS	2048

static const u8 macs[][ETH_ALEN] = {
	{ 0x52, 0x54, 0x00, 0x00, 0x00, 0x00 },	/* + slot: the roster's MAC of that slot */
	{ 0x52, 0x54, 0x00, 0x00, 0x00, 0x01 },
	{ 0x52, 0x54, 0x00, 0x00, 0x00, 0x02 },
	{ 0x52, 0x54, 0x00, 0x00, 0x00, 0x03 },
	{ 0 },
	{ 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 },
	{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
	{ 0x03, 0x54, 0x00, 0x00, 0x00, 0x0a },
};

static const u8 v4s[][4] = {
	{ 10, 0, 0, 1 }, { 10, 0, 1, 1 }, { 10, 0, 2, 7 }, { 10, 0, 3, 255 },
	{ 192, 0, 2, 1 }, { 0, 0, 0, 0 }, { 10, 1, 0, 1 }, { 255, 255, 255, 255 },
};

static const u8 v6s[][16] = {
	{ 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 },
	{ 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1 },
	{ 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 2, 0xff, 0, 0, 0, 0, 0, 0, 1 },
	{ 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 },
	{ 0 },
};

static void fail(const char *what, u32 slot)
{
	fprintf(stderr, "member_fuzz: %s (slot %u)\n", what, slot);
	abort();
}

static void roster_mac(u8 *mac, u32 slot)
{
	memcpy(mac, macs[0], ETH_ALEN);
	mac[5] = (u8)slot;
}

/*
 * The roster: n slots, ours self, the others present by the bits of mask;
 * slot s allowed 10.0.s.0/24 and 2001:db8:0:s::/64 (slot 0 also all of
 * 10.0.0.0/8, to have a short prefix).
 */
static void build_roster(struct ringnet_roster *ro, u32 n, u32 self, u32 mask)
{
	u32 s;

	memset(ro, 0, sizeof(*ro));
	ro->self = self;
	ro->max_peers = n;
	for (s = 0; s < n; s++) {
		struct ringnet_roster_slot *sl = &ro->slots[s];

		sl->present = s == self || (mask & (1U << s));
		sl->doorbell_id = s == 3 ? KVMRING_DOORBELL_NONE : 20 + s;
		roster_mac(sl->mac, s);
		sl->addrs[sl->naddrs++] = (struct ringnet_roster_prefix){
			.family = 4, .len = 24, .addr = { 10, 0, (u8)s, 0 } };
		sl->addrs[sl->naddrs++] = (struct ringnet_roster_prefix){
			.family = 6, .len = 64,
			.addr = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, (u8)s } };
		if (!s)
			sl->addrs[sl->naddrs++] = (struct ringnet_roster_prefix){
				.family = 4, .len = 8, .addr = { 10 } };
	}
}

/* The prefix rule, stated again: 10.0.s.x (or 10.x.x.x for slot 0), 2001:db8:0:s::/64. */
static bool allowed(u32 slot, int family, const u8 *a)
{
	static const u8 v6net[7] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0 };

	if (family == 4)
		return a[0] == 10 && ((a[1] == 0 && a[2] == slot) || !slot);
	return !memcmp(a, v6net, 7) && a[7] == slot;
}

/* The published addresses of e that slot may not claim, counted by the rule above. */
static u32 count_refused(const struct kvmring_peer *e, u32 slot)
{
	static const u8 zero[16];
	u32 i, n = 0;

	for (i = 0; i < KVMRING_PEER_ADDRS; i++) {
		if (memcmp(e->ipv4[i], zero, 4) && !allowed(slot, 4, e->ipv4[i]))
			n++;
		if (memcmp(e->ipv6[i], zero, 16) && !allowed(slot, 6, e->ipv6[i]))
			n++;
	}
	return n;
}

static void check_members(const struct sim *s)
{
	const struct ringnet_member *m;
	u32 i;

	for (i = 0; i < KVMRING_PEERS_MAX; i++) {
		m = &s->m[i];
		if (m->alive && !m->present)
			fail("alive but not present", i);
		if (!sim_listed(s, i)) {
			if (m->present)
				fail("present but not listed (or ours)", i);
			continue;
		}
		if (memcmp(m->mac, s->ro->slots[i].mac, ETH_ALEN))
			fail("a MAC other than the roster's", i);
		if (m->doorbell_id != s->ro->slots[i].doorbell_id)
			fail("a doorbell id other than the roster's", i);
	}
}

static void scan_slot(struct sim *s, u32 slot, unsigned long now)
{
	const struct kvmring_peer *e = &s->entries[slot];
	const struct ringnet_member *m = &s->m[slot];
	bool up, other_mac;
	unsigned int ev;
	u32 gen, seq;

	/* Nobody writes during the scan: the words it will read, read first. */
	up = KVMRING_PEER_STATE(e->state) == KVMRING_PEER_UP;
	gen = KVMRING_PEER_GEN(e->state);
	seq = e->addr_seq;
	other_mac = memcmp(e->mac, s->ro->slots[slot].mac, ETH_ALEN);
	sim_scan(s, slot, now, &ev);
	if (up && m->claimed != other_mac)
		fail("claimed disagrees with the published MAC", slot);
	if (up && m->claimed && memcmp(m->claimed_mac, e->mac, ETH_ALEN))
		fail("claimed_mac is not the published MAC", slot);
	if ((ev & SIM_CONFLICT) && !m->claimed)
		fail("a conflict told but not claimed", slot);
	if (up && !(seq & 1) && m->addr_seq != seq)
		fail("a settled addr_seq not taken", slot);
	/* Taken just now (addresses may change under one count between takes). */
	if (up && !(seq & 1) && (ev & (SIM_JOIN | SIM_UPDATE)) &&
	    m->addrs_refused != count_refused(e, slot))
		fail("addrs_refused disagrees with the prefix rule", slot);
	if (!up && m->present)
		fail("present after a look at a slot that is not UP", slot);
	if ((ev & SIM_JOIN) && (!m->present || !m->alive || m->gen != gen))
		fail("joined but not present, alive and of the entry's generation", slot);
	if ((ev & SIM_LEAVE) && m->present)
		fail("left but present", slot);
	if ((ev & SIM_DEATH) && (!m->present || m->alive))
		fail("died but not a present dead peer", slot);
	if ((ev & SIM_UPDATE) && (ev & SIM_JOIN))
		fail("an update told with a join", slot);
}

static void check_next_gen(struct cursor *c)
{
	u64 words[4];
	u32 n = take8(c) % 5, i, gen;

	for (i = 0; i < n; i++)
		words[i] = KVMRING_PEER_WORD(take8(c) & 1 ? 0xffffffffU - take8(c) % 3 : take8(c) % 4,
					     take8(c));
	gen = ringnet_member_next_gen(words, n);
	for (i = 0; i < n; i++)
		if (KVMRING_PEER_GEN(words[i]) == gen)
			fail("the next generation is one we were given", i);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	struct cursor c = { in, size };
	static struct ringnet_roster ro;
	static struct sim s;
	struct kvmring_peer *entries;
	unsigned long now;
	u32 n, self, slot, ops, i, mask;
	u8 op, b;

	b = take8(&c);
	n = 2 + b % (KVMRING_PEERS_MAX - 1);
	self = take8(&c) % n;
	mask = take8(&c) | (u32)take8(&c) << 8;
	entries = calloc(n, sizeof(*entries));
	if (!entries)
		abort();
	now = (unsigned long)take8(&c) << (8 * (sizeof(long) - 1));	/* near the wrap, often */
	build_roster(&ro, n, self, mask);
	sim_init(&s, entries, &ro, FUZZ_TIMEOUT);

	for (ops = 0; c.left && ops < FUZZ_OPS; ops++) {
		op = take8(&c);
		slot = take8(&c) % n;
		b = take8(&c);
		switch (op % 11) {
		case 0:		/* any byte of the entries */
			i = (u32)(slot * sizeof(*entries) + b * 4U + take8(&c) % 4);
			if (i < n * sizeof(*entries))
				((u8 *)entries)[i] = take8(&c);
			break;
		case 1:		/* a state word, from the states there are and a few others */
			entries[slot].state = KVMRING_PEER_WORD(b >> 4, b & 3 ? b & 3 : b & 0xf);
			break;
		case 2:		/* a MAC: often the roster's of this or another slot */
			memcpy(entries[slot].mac, macs[b % ARRAY_SIZE(macs)], ETH_ALEN);
			if (b % ARRAY_SIZE(macs) == 0)
				entries[slot].mac[5] = take8(&c) % n;
			break;
		case 3:
			memcpy(entries[slot].ipv4[b % KVMRING_PEER_ADDRS],
			       v4s[take8(&c) % ARRAY_SIZE(v4s)], 4);
			break;
		case 4:
			entries[slot].heartbeat += 1 + b % 2;
			break;
		case 5:
			entries[slot].addr_seq = b;
			break;
		case 6:
			now += b;
			break;
		case 7:
			memcpy(entries[slot].ipv6[b % KVMRING_PEER_ADDRS],
			       v6s[take8(&c) % ARRAY_SIZE(v6s)], 16);
			break;
		case 8:
			if (sim_listed(&s, slot))
				scan_slot(&s, slot, now);
			break;
		case 9:
			for (i = 0; i < n; i++)
				if (sim_listed(&s, i))
					scan_slot(&s, i, now);
			now += 1 + b % 8;
			break;
		case 10:
			check_next_gen(&c);
			break;
		}
		check_members(&s);
	}
	free(entries);
	return 0;
}
