// SPDX-License-Identifier: GPL-2.0-only
/*
 * member_test - unit tests of peer membership (guest-netdev/ringnet_member.c,
 * ABI v2) under AddressSanitizer and UBSan: every decision of the scan,
 * through the driver's order of calls (member_sim.h), and the predicates on
 * their own, each against exact results. Who a slot is comes from a roster
 * the test builds; what its entry says only decides liveness, and what it
 * claims beyond the roster is counted, never believed. Prints
 * "member_test: N checks, F failed" and exits 0 only if nothing failed.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "member_sim.h"

unsigned long checks, failures;

#define TIMEOUT		50UL
#define SELF		0
#define V1_CLAIMED	1	/* ABI v1's state of a slot being claimed: not UP under v2 */

static const u8 OWN[ETH_ALEN]	= { 0x52, 0x54, 0x00, 0x00, 0x00, 0x01 };
static const u8 MAC_A[ETH_ALEN]	= { 0x52, 0x54, 0x00, 0x00, 0x00, 0x0a };
static const u8 MAC_B[ETH_ALEN]	= { 0x52, 0x54, 0x00, 0x00, 0x00, 0x0b };
static const u8 MAC_C[ETH_ALEN]	= { 0x52, 0x54, 0x00, 0x00, 0x00, 0x0c };
static const u8 ZERO[ETH_ALEN];

static const u8 *const ROSTER_MAC[] = { OWN, MAC_A, MAC_B, MAC_C };

static struct kvmring_peer entries[KVMRING_PEERS_MAX];
static struct ringnet_roster roster;
static struct sim sim;

static void prefix(struct ringnet_roster_slot *sl, u8 family, u8 len, const u8 *addr)
{
	struct ringnet_roster_prefix *p = &sl->addrs[sl->naddrs++];

	p->family = family;
	p->len = len;
	memcpy(p->addr, addr, family == 4 ? 4 : 16);
}

/*
 * A roster of n slots (ours is 0), slots 1..3 present with MAC_A..MAC_C and
 * doorbell ids 10 + s, each allowed 10.0.s.0/24 and 2001:db8:0:s::/64;
 * slots past 3 absent. Entries all zero: nobody up yet.
 */
static void reset(u32 n)
{
	u32 s;

	memset(entries, 0, sizeof(entries));
	memset(&roster, 0, sizeof(roster));
	roster.self = SELF;
	roster.max_peers = n;
	roster.ring_size = KVMRING_RING_SIZE_MIN;
	roster.queues = 1;
	roster.isolation = KVMRING_ISOLATION_OWNER;
	for (s = 0; s < n && s < ARRAY_SIZE(ROSTER_MAC); s++) {
		struct ringnet_roster_slot *sl = &roster.slots[s];

		sl->present = true;
		sl->doorbell_id = 10 + s;
		memcpy(sl->mac, ROSTER_MAC[s], ETH_ALEN);
		prefix(sl, 4, 24, (const u8 []){ 10, 0, (u8)s, 0 });
		prefix(sl, 6, 64, (const u8 []){ 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, (u8)s,
						 0, 0, 0, 0, 0, 0, 0, 0 });
	}
	sim_init(&sim, entries, &roster, TIMEOUT);
}

/* Slot s's owner publishes generation gen in state st with mac and heartbeat. */
static void put(u32 s, u32 gen, u32 st, const u8 *mac, u64 hb)
{
	entries[s].state = KVMRING_PEER_WORD(gen, st);
	entries[s].heartbeat = hb;
	memcpy(entries[s].mac, mac, ETH_ALEN);
}

/* Slot s's owner publishes these addresses under count seq. */
static void put_addrs(u32 s, u32 seq, const u8 (*v4)[4], unsigned int n4, const u8 (*v6)[16],
		      unsigned int n6)
{
	memset(entries[s].ipv4, 0, sizeof(entries[s].ipv4));
	memset(entries[s].ipv6, 0, sizeof(entries[s].ipv6));
	if (n4)
		memcpy(entries[s].ipv4, v4, n4 * 4);
	if (n6)
		memcpy(entries[s].ipv6, v6, n6 * 16);
	entries[s].addr_seq = seq;
}

/* Scans slot s at now; checks the return value and the events sent. */
static void scan(u32 s, unsigned long now, bool changed, unsigned int ev)
{
	unsigned int got;
	bool c = sim_scan(&sim, s, now, &got);

	CHECK(c == changed, "slot %u at %lu: changed %d", s, now, c);
	CHECK(got == ev, "slot %u at %lu: events %#x, want %#x", s, now, got, ev);
}

static void check_member(u32 s, bool present, bool alive, u32 gen)
{
	const struct ringnet_member *m = &sim.m[s];

	CHECK(m->present == present, "slot %u present %d", s, m->present);
	CHECK(m->alive == alive, "slot %u alive %d", s, m->alive);
	CHECK_EQ(m->gen, gen);
	/* Whatever happened, the MAC we send to and accept from is the roster's. */
	CHECK(!memcmp(m->mac, roster.slots[s].mac, ETH_ALEN), "slot %u: not the roster's MAC", s);
}

static void check_stats(u64 joins, u64 deaths, u64 leaves, u64 macs, u64 addrs)
{
	CHECK_EQ(sim.st.peer_joins, joins);
	CHECK_EQ(sim.st.peer_deaths, deaths);
	CHECK_EQ(sim.st.peer_leaves, leaves);
	CHECK_EQ(sim.st.mac_conflicts, macs);
	CHECK_EQ(sim.st.addr_conflicts, addrs);
}

static void test_timed_out(void)
{
	static const struct {
		unsigned long since, now, timeout;
		bool out;
	} cases[] = {
		{ 100, 100, 50, false },
		{ 100, 150, 50, false },	/* at the timeout: not yet after it */
		{ 100, 151, 50, true },
		{ 100, 99, 50, false },		/* a clock behind since */
		{ ULONG_MAX - 10, ULONG_MAX, 50, false },
		{ ULONG_MAX - 10, 39, 50, false },	/* wrapped: exactly at the timeout */
		{ ULONG_MAX - 10, 40, 50, true },	/* wrapped: one past */
		{ 0, 1, 0, true },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		CHECK(ringnet_member_timed_out(cases[i].since, cases[i].now, cases[i].timeout) ==
		      cases[i].out, "case %zu", i);
}

/* What one look at an entry says, for each kind of word and member. */
static void test_sight(void)
{
	static const struct {
		const char *what;
		u64 word;
		bool present, alive;
		u32 gen;
		u64 last_hb, hb;
		unsigned long now;
		enum ringnet_sight want;
	} cases[] = {
		{ "free, never seen", KVMRING_PEER_WORD(0, KVMRING_PEER_FREE), false, false, 0, 0, 0, 0,
		  RINGNET_SIGHT_DOWN },
		{ "claimed (v1 word), present", KVMRING_PEER_WORD(3, V1_CLAIMED), true, true,
		  3, 5, 5, 0, RINGNET_SIGHT_DOWN },
		{ "junk state, present", KVMRING_PEER_WORD(3, 0x7f), true, true, 3, 5, 5, 0,
		  RINGNET_SIGHT_DOWN },
		{ "up, not present", KVMRING_PEER_WORD(3, KVMRING_PEER_UP), false, false, 3, 5, 5, 0,
		  RINGNET_SIGHT_NEW },
		{ "up, other generation", KVMRING_PEER_WORD(4, KVMRING_PEER_UP), true, true, 3, 5, 5, 0,
		  RINGNET_SIGHT_NEW },
		{ "heartbeat moved", KVMRING_PEER_WORD(3, KVMRING_PEER_UP), true, true, 3, 5, 6, 500,
		  RINGNET_SIGHT_BEAT },
		{ "heartbeat moved back", KVMRING_PEER_WORD(3, KVMRING_PEER_UP), true, false, 3, 5, 4,
		  500, RINGNET_SIGHT_BEAT },
		{ "still, in time", KVMRING_PEER_WORD(3, KVMRING_PEER_UP), true, true, 3, 5, 5, 150,
		  RINGNET_SIGHT_SAME },
		{ "still past the timeout", KVMRING_PEER_WORD(3, KVMRING_PEER_UP), true, true, 3, 5, 5,
		  151, RINGNET_SIGHT_DIED },
		{ "still and already dead", KVMRING_PEER_WORD(3, KVMRING_PEER_UP), true, false, 3, 5, 5,
		  900, RINGNET_SIGHT_SAME },
	};
	struct ringnet_sighting s;
	struct ringnet_member m;
	struct kvmring_peer e;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		memset(&m, 0, sizeof(m));
		memset(&e, 0, sizeof(e));
		memset(&s, 0xa5, sizeof(s));
		m.present = cases[i].present;
		m.alive = cases[i].alive;
		m.gen = cases[i].gen;
		m.last_hb = cases[i].last_hb;
		m.last_hb_change = 100;
		e.state = cases[i].word;
		e.heartbeat = cases[i].hb;
		memcpy(e.mac, MAC_A, ETH_ALEN);
		CHECK(ringnet_member_sight(&m, &e, &s, cases[i].now, TIMEOUT) == cases[i].want,
		      "%s", cases[i].what);
		CHECK_EQ(s.state, KVMRING_PEER_STATE(cases[i].word));
		CHECK_EQ(s.gen, KVMRING_PEER_GEN(cases[i].word));
		if (cases[i].want == RINGNET_SIGHT_DOWN)
			continue;
		CHECK_EQ(s.heartbeat, cases[i].hb);
		/* The published MAC, every time: its owner may rewrite it at any time. */
		CHECK(!memcmp(s.mac, MAC_A, ETH_ALEN), "%s: MAC", cases[i].what);
	}
}

/* Identity is the roster's from the start; the doorbell id may be renumbered later. */
static void test_identity(void)
{
	reset(4);
	CHECK(!memcmp(sim.m[1].mac, MAC_A, ETH_ALEN), "slot 1's roster MAC");
	CHECK_EQ(sim.m[1].doorbell_id, 11);
	CHECK_EQ(sim.m[SELF].doorbell_id, KVMRING_DOORBELL_NONE);	/* ours is never a peer */
	put(1, 1, KVMRING_PEER_UP, MAC_A, 1);
	scan(1, 0, true, SIM_JOIN);
	/* The host renumbers the doorbell (a reconnect); a MAC waits until not present. */
	ringnet_member_identity(&sim.m[1], MAC_C, 42);
	CHECK_EQ(sim.m[1].doorbell_id, 42);
	CHECK(!memcmp(sim.m[1].mac, MAC_A, ETH_ALEN), "a present member's MAC changed");
	ringnet_member_forget(&sim.m[1]);
	ringnet_member_identity(&sim.m[1], MAC_C, 43);
	CHECK(!memcmp(sim.m[1].mac, MAC_C, ETH_ALEN), "an absent member's MAC not set");
}

static void test_join_leave(void)
{
	reset(4);
	scan(1, 10, false, 0);			/* free: nothing */
	check_member(1, false, false, 0);
	put(1, 3, V1_CLAIMED, MAC_A, 7);
	scan(1, 20, false, 0);			/* a v1 claim: not UP, nothing */
	put(1, 3, KVMRING_PEER_UP, MAC_A, 7);
	entries[1].addr_seq = 4;
	scan(1, 30, true, SIM_JOIN);
	check_member(1, true, true, 3);
	CHECK_EQ(sim.m[1].last_hb, 7);
	CHECK_EQ(sim.m[1].last_hb_change, 30);
	CHECK_EQ(sim.m[1].addr_seq, 4);		/* the join takes the addresses as they are */
	CHECK(!sim.m[1].claimed, "claimed with the roster's MAC");
	scan(1, 40, false, 0);			/* the same: nothing */
	check_stats(1, 0, 0, 0, 0);

	/* Leaving: FREE in the same generation, or any word that is not UP. */
	entries[1].state = KVMRING_PEER_WORD(3, KVMRING_PEER_FREE);
	scan(1, 50, true, SIM_LEAVE);
	check_member(1, false, false, 3);
	scan(1, 60, false, 0);			/* a leave is told once */
	check_stats(1, 0, 1, 0, 0);

	put(2, 1, KVMRING_PEER_UP, MAC_B, 1);
	scan(2, 70, true, SIM_JOIN);
	entries[2].state = KVMRING_PEER_WORD(1, 0x55);	/* junk */
	scan(2, 80, true, SIM_LEAVE);
	check_member(2, false, false, 1);
	check_stats(2, 0, 2, 0, 0);
}

/* A new generation is a restart: joined again (rings re-attached), the roster's MAC kept. */
static void test_restart(void)
{
	reset(4);
	put(1, 3, KVMRING_PEER_UP, MAC_A, 7);
	scan(1, 10, true, SIM_JOIN);
	put(1, 4, KVMRING_PEER_UP, MAC_A, 1);
	scan(1, 20, true, SIM_JOIN);
	check_member(1, true, true, 4);
	CHECK_EQ(sim.m[1].last_hb, 1);
	CHECK_EQ(sim.m[1].last_hb_change, 20);
	/* A restart straight after a death: alive again, through the join. */
	scan(1, 20 + TIMEOUT + 1, true, SIM_DEATH);
	put(1, 5, KVMRING_PEER_UP, MAC_A, 1);
	scan(1, 200, true, SIM_JOIN);
	check_member(1, true, true, 5);
	check_stats(3, 1, 0, 0, 0);
}

/* A MAC other than the roster's is a conflict: counted once per MAC, never believed. */
static void test_mac_claims(void)
{
	static const u8 MCAST[ETH_ALEN] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };

	reset(4);
	put(1, 1, KVMRING_PEER_UP, MAC_B, 1);	/* slot 2's MAC, at the join */
	scan(1, 0, true, SIM_JOIN | SIM_CONFLICT);
	check_member(1, true, true, 1);
	CHECK(sim.m[1].claimed, "no claim");
	CHECK(!memcmp(sim.m[1].claimed_mac, MAC_B, ETH_ALEN), "claimed_mac");
	check_stats(1, 0, 0, 1, 0);
	scan(1, 1, false, 0);			/* the same claim: no news */
	memcpy(entries[1].mac, OWN, ETH_ALEN);	/* ours, without a new generation */
	scan(1, 2, false, SIM_CONFLICT);
	CHECK(!memcmp(sim.m[1].claimed_mac, OWN, ETH_ALEN), "claimed_mac follows");
	memcpy(entries[1].mac, MCAST, ETH_ALEN);
	scan(1, 3, false, SIM_CONFLICT);
	memcpy(entries[1].mac, ZERO, ETH_ALEN);
	scan(1, 4, false, SIM_CONFLICT);
	check_stats(1, 0, 0, 4, 0);
	/* Back to the roster's: no claim, no news. */
	memcpy(entries[1].mac, MAC_A, ETH_ALEN);
	scan(1, 5, false, 0);
	CHECK(!sim.m[1].claimed, "claim kept after the MAC came back");
	/* The same bad MAC again is news again: it is a new conflict. */
	memcpy(entries[1].mac, MAC_B, ETH_ALEN);
	scan(1, 6, false, SIM_CONFLICT);
	/* A restart with it is news too (a new generation starts unclaimed). */
	entries[1].state = KVMRING_PEER_WORD(2, KVMRING_PEER_UP);
	scan(1, 7, true, SIM_JOIN | SIM_CONFLICT);
	check_stats(2, 0, 0, 6, 0);
	/* Through it all, slot 1 is MAC_A to us, and slot 2 is untouched. */
	check_member(1, true, true, 2);
	check_member(2, false, false, 0);
	/* A claim with a death or a beat in the same look. */
	memcpy(entries[1].mac, MAC_C, ETH_ALEN);
	scan(1, 7 + TIMEOUT + 1, true, SIM_DEATH | SIM_CONFLICT);
	entries[1].heartbeat++;
	memcpy(entries[1].mac, MAC_A, ETH_ALEN);
	scan(1, 200, true, SIM_ALIVE);
	check_stats(2, 1, 0, 7, 0);
}

static void test_heartbeat(void)
{
	reset(4);
	put(1, 1, KVMRING_PEER_UP, MAC_A, 40);
	scan(1, 100, true, SIM_JOIN);
	scan(1, 100 + TIMEOUT, false, 0);	/* at the timeout: alive */
	scan(1, 101 + TIMEOUT, true, SIM_DEATH);
	check_member(1, true, false, 1);
	scan(1, 500, false, 0);			/* dead once */
	check_stats(1, 1, 0, 0, 0);
	entries[1].heartbeat = 41;
	scan(1, 510, true, SIM_ALIVE);
	check_member(1, true, true, 1);
	CHECK_EQ(sim.m[1].last_hb_change, 510);
	entries[1].heartbeat = 42;
	scan(1, 520, false, 0);			/* a beat while alive: no news */
	CHECK_EQ(sim.m[1].last_hb, 42);
	CHECK_EQ(sim.m[1].last_hb_change, 520);
	scan(1, 520 + TIMEOUT, false, 0);
	scan(1, 521 + TIMEOUT, true, SIM_DEATH);
	check_stats(1, 2, 0, 0, 0);

	/* Across the clock's wrap. */
	reset(4);
	put(1, 1, KVMRING_PEER_UP, MAC_A, 1);
	scan(1, ULONG_MAX - 10, true, SIM_JOIN);
	scan(1, TIMEOUT - 11, false, 0);
	scan(1, TIMEOUT - 10, true, SIM_DEATH);
}

static void test_addr_seq(void)
{
	static const struct {
		u32 seq, told;
		bool moved;
	} cases[] = {
		{ 4, 4, false }, { 5, 4, false }, { 6, 4, true }, { 2, 4, true },
		{ 0, 0, false }, { 0xffffffff, 0, false }, { 0xfffffffe, 0, true },
		{ 0, 1, true },		/* a fresh join's count (odd) takes any settled one */
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		CHECK(ringnet_addr_seq_moved(cases[i].seq, cases[i].told) == cases[i].moved,
		      "case %zu", i);

	reset(4);
	put(1, 1, KVMRING_PEER_UP, MAC_A, 1);
	entries[1].addr_seq = 4;
	scan(1, 0, true, SIM_JOIN);		/* the join takes the count as it is, no update */
	scan(1, 1, false, 0);
	entries[1].addr_seq = 5;		/* being written */
	scan(1, 2, false, 0);
	CHECK_EQ(sim.m[1].addr_seq, 4);
	entries[1].addr_seq = 6;
	scan(1, 3, false, SIM_UPDATE);
	CHECK_EQ(sim.m[1].addr_seq, 6);
	scan(1, 4, false, 0);
	entries[1].heartbeat = 2;		/* with a beat, and with a death */
	entries[1].addr_seq = 8;
	scan(1, 5, false, SIM_UPDATE);
	entries[1].addr_seq = 10;
	scan(1, 100, true, SIM_DEATH | SIM_UPDATE);
	/* A departed slot tells no update. */
	entries[1].addr_seq = 12;
	entries[1].state = 0;
	scan(1, 101, true, SIM_LEAVE);
	CHECK_EQ(sim.m[1].addr_seq, 10);
	/* A join while the owner writes them: taken at the first settled count. */
	entries[1].state = KVMRING_PEER_WORD(2, KVMRING_PEER_UP);
	entries[1].addr_seq = 13;
	scan(1, 102, true, SIM_JOIN);
	CHECK_EQ(sim.m[1].addr_seq, 1);
	entries[1].addr_seq = 14;
	scan(1, 103, false, SIM_UPDATE);
	CHECK_EQ(sim.m[1].addr_seq, 14);
}

/* Addresses outside the slot's roster prefixes are dropped and counted. */
static void test_addr_claims(void)
{
	static const u8 v4[][4] = {
		{ 10, 0, 1, 5 },	/* slot 1's /24 */
		{ 10, 0, 2, 5 },	/* slot 2's */
		{ 192, 0, 2, 1 },	/* nobody's */
		{ 10, 0, 1, 255 },
	};
	static const u8 v6[][16] = {
		{ 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9 },	/* slot 1's /64 */
		{ 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 9 },	/* slot 3's */
	};
	struct ringnet_peer_addrs a;
	u32 n;

	reset(4);
	put(1, 1, KVMRING_PEER_UP, MAC_A, 1);
	put_addrs(1, 2, v4, 4, v6, 2);
	scan(1, 0, true, SIM_JOIN);		/* counted at the join, told with it */
	CHECK_EQ(sim.m[1].addrs_refused, 3);
	check_stats(1, 0, 0, 0, 3);
	scan(1, 1, false, 0);			/* the same addresses: not counted again */
	check_stats(1, 0, 0, 0, 3);
	put_addrs(1, 4, v4, 1, v6, 1);		/* only its own now */
	scan(1, 2, false, SIM_UPDATE);
	CHECK_EQ(sim.m[1].addrs_refused, 0);
	put_addrs(1, 6, v4 + 2, 1, NULL, 0);
	scan(1, 3, false, SIM_UPDATE);
	CHECK_EQ(sim.m[1].addrs_refused, 1);
	check_stats(1, 0, 0, 0, 4);

	/* The filter on its own: the allowed stay where they were, the rest are zeroed. */
	put_addrs(1, 8, v4, 4, v6, 2);
	CHECK(ringnet_member_read_addrs(&entries[1], &a), "a settled count not read");
	CHECK_EQ(a.seq, 8);
	n = ringnet_member_filter_addrs(&a, &roster, 1);
	CHECK_EQ(n, 3);
	CHECK(!memcmp(a.v4[0], v4[0], 4) && !memcmp(a.v4[3], v4[3], 4), "allowed IPv4 dropped");
	CHECK(!a.v4[1][0] && !a.v4[2][0], "refused IPv4 kept");
	CHECK(!memcmp(a.v6[0], v6[0], 16), "allowed IPv6 dropped");
	CHECK(!a.v6[1][0], "refused IPv6 kept");
	/* Another slot's view of the same addresses. */
	CHECK(ringnet_member_read_addrs(&entries[1], &a), "read");
	CHECK_EQ(ringnet_member_filter_addrs(&a, &roster, 2), 5);
	/* A slot the roster does not list may claim nothing. */
	CHECK(ringnet_member_read_addrs(&entries[1], &a), "read");
	CHECK_EQ(ringnet_member_filter_addrs(&a, &roster, 5), 6);
	/* While the owner writes them: nothing, zeroed. */
	entries[1].addr_seq = 9;
	memset(&a, 0xff, sizeof(a));
	CHECK(!ringnet_member_read_addrs(&entries[1], &a), "an odd count read");
	CHECK(!a.v4[0][0] && !a.v6[0][0], "a torn read not zeroed");
}

/* Our next generation: past every one our regions hold, and none of theirs. */
static void test_next_gen(void)
{
	static const struct {
		u64 words[3];
		u32 n, want;
	} cases[] = {
		{ { 0 }, 0, 1 },
		{ { KVMRING_PEER_WORD(0, KVMRING_PEER_FREE) }, 1, 1 },
		{ { KVMRING_PEER_WORD(5, KVMRING_PEER_UP) }, 1, 6 },
		{ { KVMRING_PEER_WORD(5, KVMRING_PEER_FREE), KVMRING_PEER_WORD(7, KVMRING_PEER_UP) }, 2, 8 },
		{ { KVMRING_PEER_WORD(0xffffffff, KVMRING_PEER_UP) }, 1, 0 },
		{ { KVMRING_PEER_WORD(0xffffffff, KVMRING_PEER_UP), KVMRING_PEER_WORD(0, 0) }, 2, 1 },
		{ { KVMRING_PEER_WORD(0xffffffff, 2), KVMRING_PEER_WORD(0, 0), KVMRING_PEER_WORD(1, 0) },
		  3, 2 },
		{ { ~0ULL, 3 }, 2, 1 },		/* junk states: only the generations count */
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		CHECK_EQ(ringnet_member_next_gen(cases[i].words, cases[i].n), cases[i].want);
}

/* Slots the roster does not list are never looked at; ours neither. */
static void test_listed(void)
{
	reset(6);				/* slots 4 and 5 absent */
	put(4, 1, KVMRING_PEER_UP, MAC_C, 1);
	put(SELF, 1, KVMRING_PEER_UP, OWN, 1);
	put(1, 1, KVMRING_PEER_UP, MAC_A, 1);
	CHECK(sim_beat(&sim, 0), "no change");
	CHECK(!sim.m[4].present && !sim.m[SELF].present, "an unlisted slot or ours present");
	check_member(1, true, true, 1);
	check_stats(1, 0, 0, 0, 0);
}

/* The peer work's beat over three peers whose entries do different things, step by step. */
static void test_beats(void)
{
	static const struct {
		unsigned long now;
		u64 state[3];		/* slots 1..3; 0: as it was */
		bool hb[3];		/* beat before this step */
		bool changed;
		bool present[3], alive[3];
	} steps[] = {
		{ 0, { 0, 0, 0 }, { 0, 0, 0 }, false, { 0, 0, 0 }, { 0, 0, 0 } },
		{ 10, { KVMRING_PEER_WORD(1, KVMRING_PEER_UP), 0, 0 }, { 0, 0, 0 }, true,
		  { 1, 0, 0 }, { 1, 0, 0 } },
		{ 20, { 0, KVMRING_PEER_WORD(7, KVMRING_PEER_UP), KVMRING_PEER_WORD(2, KVMRING_PEER_UP) },
		  { 1, 0, 0 }, true, { 1, 1, 1 }, { 1, 1, 1 } },
		{ 40, { 0, 0, 0 }, { 1, 1, 0 }, false, { 1, 1, 1 }, { 1, 1, 1 } },
		{ 71, { 0, 0, 0 }, { 1, 1, 0 }, true, { 1, 1, 1 }, { 1, 1, 0 } },	/* 3 dies */
		{ 80, { 0, KVMRING_PEER_WORD(7, KVMRING_PEER_FREE), 0 }, { 1, 0, 0 }, true,
		  { 1, 0, 1 }, { 1, 0, 0 } },						/* 2 leaves */
		{ 90, { 0, 0, KVMRING_PEER_WORD(3, KVMRING_PEER_UP) }, { 1, 0, 0 }, true,
		  { 1, 0, 1 }, { 1, 0, 1 } },						/* 3 restarts */
		{ 100, { 0, KVMRING_PEER_WORD(8, KVMRING_PEER_UP), 0 }, { 0, 0, 1 }, true,
		  { 1, 1, 1 }, { 1, 1, 1 } },						/* 2 comes back */
		{ 200, { 0, 0, 0 }, { 0, 1, 1 }, true, { 1, 1, 1 }, { 0, 1, 1 } },	/* 1 dies */
		{ 210, { KVMRING_PEER_WORD(1, 0x33), 0, 0 }, { 0, 1, 1 }, true,
		  { 0, 1, 1 }, { 0, 1, 1 } },						/* 1: junk */
		{ 220, { 0, 0, 0 }, { 0, 1, 1 }, false, { 0, 1, 1 }, { 0, 1, 1 } },
	};
	size_t i;
	u32 k;

	reset(4);
	for (k = 1; k <= 3; k++)
		memcpy(entries[k].mac, ROSTER_MAC[k], ETH_ALEN);
	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		for (k = 0; k < 3; k++) {
			if (steps[i].state[k])
				entries[k + 1].state = steps[i].state[k];
			if (steps[i].hb[k])
				entries[k + 1].heartbeat++;
		}
		CHECK(sim_beat(&sim, steps[i].now) == steps[i].changed, "step %zu: changed", i);
		for (k = 0; k < 3; k++) {
			CHECK(sim.m[k + 1].present == steps[i].present[k], "step %zu slot %u present", i,
			      k + 1);
			CHECK(sim.m[k + 1].alive == steps[i].alive[k], "step %zu slot %u alive", i, k + 1);
			CHECK(!memcmp(sim.m[k + 1].mac, ROSTER_MAC[k + 1], ETH_ALEN),
			      "step %zu slot %u MAC", i, k + 1);
		}
		CHECK(!sim.m[SELF].present, "step %zu: ours present", i);
	}
	check_stats(5, 2, 2, 0, 0);
}

int main(void)
{
	test_timed_out();
	test_sight();
	test_identity();
	test_join_leave();
	test_restart();
	test_mac_claims();
	test_heartbeat();
	test_addr_seq();
	test_addr_claims();
	test_next_gen();
	test_listed();
	test_beats();
	printf("member_test: %lu checks, %lu failed\n", checks, failures);
	return failures ? 1 : 0;
}
