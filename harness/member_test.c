// SPDX-License-Identifier: GPL-2.0-only
/*
 * member_test - unit tests of peer membership (guest-netdev/ringnet_member.c)
 * under AddressSanitizer and UBSan: every decision of the scan, through the
 * driver's order of calls (member_sim.h), and the predicates on their own,
 * each against exact results. Prints "member_test: N checks, F failed" and
 * exits 0 only if nothing failed.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "member_sim.h"

unsigned long checks, failures;

#define TIMEOUT		50UL
#define SELF		0
#define IVPOS		7

static const u8 OWN[ETH_ALEN]	= { 0x52, 0x54, 0x00, 0x00, 0x00, 0x01 };
static const u8 MAC_A[ETH_ALEN]	= { 0x52, 0x54, 0x00, 0x00, 0x00, 0x0a };
static const u8 MAC_B[ETH_ALEN]	= { 0x52, 0x54, 0x00, 0x00, 0x00, 0x0b };
static const u8 ZERO[ETH_ALEN];
static const u8 MCAST[ETH_ALEN]	= { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
static const u8 BCAST[ETH_ALEN]	= { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static struct kvmring_peer table[KVMRING_PEERS_MAX];
static struct sim sim;

/* A fresh table of n slots (ours is 0) and a guest that has seen nothing yet. */
static void reset(u32 n, bool doorbell)
{
	memset(table, 0, sizeof(table));
	sim_init(&sim, table, n, SELF, OWN, doorbell, IVPOS, TIMEOUT);
}

/* Slot s's owner publishes generation gen in state st with mac, doorbell id and heartbeat. */
static void put(u32 s, u32 gen, u32 st, const u8 *mac, u32 doorbell_id, u64 hb)
{
	table[s].state = KVMRING_PEER_WORD(gen, st);
	table[s].heartbeat = hb;
	table[s].doorbell_id = doorbell_id;
	memcpy(table[s].mac, mac, ETH_ALEN);
}

/* Scans slot s at now; checks the return value and the events sent. */
static void scan(u32 s, unsigned long now, bool changed, unsigned int ev)
{
	unsigned int got;
	bool c = sim_scan(&sim, s, now, &got);

	CHECK(c == changed, "slot %u at %lu: changed %d", s, now, c);
	CHECK(got == ev, "slot %u at %lu: events %#x, want %#x", s, now, got, ev);
}

static void check_member(u32 s, bool present, bool alive, bool refused, u32 gen)
{
	const struct ringnet_member *m = &sim.m[s];

	CHECK(m->present == present, "slot %u present %d", s, m->present);
	CHECK(m->alive == alive, "slot %u alive %d", s, m->alive);
	CHECK(m->refused == refused, "slot %u refused %d", s, m->refused);
	CHECK_EQ(m->gen, gen);
}

static void check_stats(u64 joins, u64 deaths, u64 leaves, u64 bad, u64 macs, u64 doorbells)
{
	CHECK_EQ(sim.st.peer_joins, joins);
	CHECK_EQ(sim.st.peer_deaths, deaths);
	CHECK_EQ(sim.st.peer_leaves, leaves);
	CHECK_EQ(sim.st.bad_peer_entries, bad);
	CHECK_EQ(sim.st.mac_conflicts, macs);
	CHECK_EQ(sim.st.doorbell_conflicts, doorbells);
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

static void test_words(void)
{
	static const struct {
		u64 word;
		bool claimed;
	} cases[] = {
		{ KVMRING_PEER_WORD(0, KVMRING_PEER_FREE), false },
		{ KVMRING_PEER_WORD(9, KVMRING_PEER_FREE), false },
		{ KVMRING_PEER_WORD(9, KVMRING_PEER_CLAIMED), true },
		{ KVMRING_PEER_WORD(0xffffffff, KVMRING_PEER_UP), true },
		{ KVMRING_PEER_WORD(3, 3), false },		/* no such state */
		{ KVMRING_PEER_WORD(3, 0x102), true },		/* bits 8..31 are not the state */
		{ ~0ULL, false },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		CHECK(ringnet_word_claimed(cases[i].word) == cases[i].claimed, "case %zu", i);
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
		{ "claimed, present", KVMRING_PEER_WORD(3, KVMRING_PEER_CLAIMED), true, true, 3, 5, 5, 0,
		  RINGNET_SIGHT_DOWN },
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
		if (cases[i].want != RINGNET_SIGHT_DOWN)
			CHECK_EQ(s.heartbeat, cases[i].hb);
		if (cases[i].want == RINGNET_SIGHT_NEW)
			CHECK(!memcmp(s.mac, MAC_A, ETH_ALEN), "%s: MAC", cases[i].what);
	}
}

static void test_join_leave(void)
{
	reset(4, false);
	scan(1, 10, false, 0);			/* free: nothing */
	check_member(1, false, false, false, 0);
	put(1, 3, KVMRING_PEER_CLAIMED, MAC_A, 0, 7);
	scan(1, 20, false, 0);			/* claimed, being filled in: not yet */
	put(1, 3, KVMRING_PEER_UP, MAC_A, 0, 7);
	table[1].addr_seq = 4;
	scan(1, 30, true, SIM_JOIN);
	check_member(1, true, true, false, 3);
	CHECK(!memcmp(sim.m[1].mac, MAC_A, ETH_ALEN), "joined MAC");
	CHECK_EQ(sim.m[1].last_hb, 7);
	CHECK_EQ(sim.m[1].last_hb_change, 30);
	CHECK_EQ(sim.m[1].addr_seq, 4);
	CHECK_EQ(sim.m[1].doorbell_id, KVMRING_DOORBELL_NONE);	/* no doorbells here */
	scan(1, 40, false, 0);			/* the same: nothing */
	check_stats(1, 0, 0, 0, 0, 0);

	/* Leaving: FREE in the same generation, or any word that is not UP. */
	table[1].state = KVMRING_PEER_WORD(3, KVMRING_PEER_FREE);
	scan(1, 50, true, SIM_LEAVE);
	check_member(1, false, false, false, 3);
	scan(1, 60, false, 0);			/* a leave is told once */
	check_stats(1, 0, 1, 0, 0, 0);

	put(2, 1, KVMRING_PEER_UP, MAC_B, 0, 1);
	scan(2, 70, true, SIM_JOIN);
	table[2].state = KVMRING_PEER_WORD(1, 0x55);	/* junk */
	scan(2, 80, true, SIM_LEAVE);
	check_member(2, false, false, false, 1);
	check_stats(2, 0, 2, 0, 0, 0);
}

/* A new generation is a new identity: judged and joined again, rings re-attached. */
static void test_generation(void)
{
	reset(4, false);
	put(1, 3, KVMRING_PEER_UP, MAC_A, 0, 7);
	scan(1, 10, true, SIM_JOIN);
	put(1, 4, KVMRING_PEER_UP, MAC_B, 0, 1);
	scan(1, 20, true, SIM_JOIN);
	check_member(1, true, true, false, 4);
	CHECK(!memcmp(sim.m[1].mac, MAC_B, ETH_ALEN), "the new generation's MAC");
	CHECK_EQ(sim.m[1].last_hb, 1);
	/* The MAC changes only with the generation. */
	memcpy(table[1].mac, MAC_A, ETH_ALEN);
	scan(1, 30, false, 0);
	CHECK(!memcmp(sim.m[1].mac, MAC_B, ETH_ALEN), "MAC read again without a new generation");
	check_stats(2, 0, 0, 0, 0, 0);
}

/* Every MAC a generation may not claim, and the ones it may. */
static void test_mac_refusals(void)
{
	static const struct {
		const char *what;
		const u8 *mac;
		const char *why;	/* NULL: joins */
		bool bad;		/* counted as a bad entry, not a MAC conflict */
	} cases[] = {
		{ "zero", ZERO, "an invalid MAC", true },
		{ "multicast", MCAST, "an invalid MAC", true },
		{ "broadcast", BCAST, "an invalid MAC", true },
		{ "ours", OWN, "our own MAC", false },
		{ "a live peer's", MAC_A, "the MAC of a live peer", false },
		{ "a dead peer's", MAC_A, NULL, false },
		{ "a peer's that left", MAC_A, NULL, false },
		{ "another", MAC_B, NULL, false },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		reset(4, false);
		put(1, 1, KVMRING_PEER_UP, MAC_A, 0, 1);
		scan(1, 0, true, SIM_JOIN);
		if (!strcmp(cases[i].what, "a dead peer's"))
			scan(1, 100, true, SIM_DEATH);
		if (!strcmp(cases[i].what, "a peer's that left")) {
			table[1].state = 0;
			scan(1, 100, true, SIM_LEAVE);
		}
		sim.why = NULL;
		put(2, 5, KVMRING_PEER_UP, cases[i].mac, 0, 1);
		if (!cases[i].why) {
			scan(2, 100, true, SIM_JOIN);
			check_member(2, true, true, false, 5);
			CHECK(!sim.why, "%s: refused as %s", cases[i].what, sim.why);
			continue;
		}
		scan(2, 100, false, SIM_REFUSED);
		check_member(2, false, false, true, 5);
		CHECK(sim.why && !strcmp(sim.why, cases[i].why), "%s: %s", cases[i].what, sim.why);
		CHECK(!memcmp(sim.m[2].refused_mac, cases[i].mac, ETH_ALEN), "%s: refused_mac",
		      cases[i].what);
		CHECK_EQ(sim.st.bad_peer_entries, cases[i].bad);
		CHECK_EQ(sim.st.mac_conflicts, !cases[i].bad);
		/* The holder is untouched. */
		CHECK(!memcmp(sim.m[1].mac, MAC_A, ETH_ALEN), "%s: holder's MAC", cases[i].what);
	}
}

/* A dead holder keeps no claim; when it beats again, both hold the MAC (live one first). */
static void test_dead_holder(void)
{
	reset(4, false);
	put(1, 1, KVMRING_PEER_UP, MAC_A, 0, 1);
	scan(1, 0, true, SIM_JOIN);
	scan(1, TIMEOUT, false, 0);
	scan(1, TIMEOUT + 1, true, SIM_DEATH);
	check_member(1, true, false, false, 1);
	put(2, 1, KVMRING_PEER_UP, MAC_A, 0, 1);
	scan(2, 60, true, SIM_JOIN);
	table[1].heartbeat = 2;
	scan(1, 70, true, SIM_ALIVE);
	check_member(1, true, true, false, 1);
	check_member(2, true, true, false, 1);
	check_stats(2, 1, 0, 0, 0, 0);
}

/* A refused generation is judged again each beat, and is news only once. */
static void test_refused_rechecked(void)
{
	reset(4, false);
	put(1, 1, KVMRING_PEER_UP, MAC_A, 0, 1);
	scan(1, 0, true, SIM_JOIN);
	put(2, 9, KVMRING_PEER_UP, MAC_A, 0, 1);
	scan(2, 10, false, SIM_REFUSED);
	scan(2, 20, false, 0);			/* the same refusal: no news */
	scan(2, 30, false, 0);
	check_stats(1, 0, 0, 0, 1, 0);
	/* A new generation still claiming it is news again. */
	table[2].state = KVMRING_PEER_WORD(10, KVMRING_PEER_UP);
	scan(2, 40, false, SIM_REFUSED);
	check_member(2, false, false, true, 10);
	check_stats(1, 0, 0, 0, 2, 0);
	/* The rival leaves: the refused generation joins at the next look. */
	table[1].state = KVMRING_PEER_WORD(1, KVMRING_PEER_FREE);
	scan(1, 50, true, SIM_LEAVE);
	scan(2, 60, true, SIM_JOIN);
	check_member(2, true, true, false, 10);
	check_stats(2, 0, 1, 0, 2, 0);

	/* A refused slot that goes DOWN is no longer refused, and no leave. */
	put(3, 2, KVMRING_PEER_UP, OWN, 0, 1);
	scan(3, 70, false, SIM_REFUSED);
	table[3].state = 0;
	scan(3, 80, false, 0);
	check_member(3, false, false, false, 2);
	/* A present peer whose new generation is refused: a change, not a leave. */
	put(2, 11, KVMRING_PEER_UP, OWN, 0, 1);
	scan(2, 90, true, SIM_REFUSED);
	check_member(2, false, false, true, 11);
	check_stats(2, 0, 1, 0, 4, 0);
}

static void test_heartbeat(void)
{
	reset(4, false);
	put(1, 1, KVMRING_PEER_UP, MAC_A, 0, 40);
	scan(1, 100, true, SIM_JOIN);
	scan(1, 100 + TIMEOUT, false, 0);	/* at the timeout: alive */
	scan(1, 101 + TIMEOUT, true, SIM_DEATH);
	check_member(1, true, false, false, 1);
	scan(1, 500, false, 0);			/* dead once */
	check_stats(1, 1, 0, 0, 0, 0);
	table[1].heartbeat = 41;
	scan(1, 510, true, SIM_ALIVE);
	check_member(1, true, true, false, 1);
	CHECK_EQ(sim.m[1].last_hb_change, 510);
	table[1].heartbeat = 42;
	scan(1, 520, false, 0);			/* a beat while alive: no news */
	CHECK_EQ(sim.m[1].last_hb, 42);
	CHECK_EQ(sim.m[1].last_hb_change, 520);
	scan(1, 520 + TIMEOUT, false, 0);
	scan(1, 521 + TIMEOUT, true, SIM_DEATH);
	check_stats(1, 2, 0, 0, 0, 0);

	/* Across the clock's wrap. */
	reset(4, false);
	put(1, 1, KVMRING_PEER_UP, MAC_A, 0, 1);
	scan(1, ULONG_MAX - 10, true, SIM_JOIN);
	scan(1, TIMEOUT - 11, false, 0);
	scan(1, TIMEOUT - 10, true, SIM_DEATH);
}

/* Doorbell ids: the rule on its own, then through joins. */
static void test_doorbell(void)
{
	static const struct {
		const char *what;
		bool doorbell;
		u32 id, want;
		bool conflict;
	} cases[] = {
		{ "no doorbells", false, 3, KVMRING_DOORBELL_NONE, false },
		{ "free id", true, 3, 3, false },
		{ "zero", true, 0, 0, false },
		{ "largest", true, 0xffff, 0xffff, false },
		{ "beyond 16 bits", true, 0x10000, KVMRING_DOORBELL_NONE, false },
		{ "none", true, KVMRING_DOORBELL_NONE, KVMRING_DOORBELL_NONE, false },
		{ "ours", true, IVPOS, KVMRING_DOORBELL_NONE, true },
		{ "a present peer's", true, 20, KVMRING_DOORBELL_NONE, true },
		{ "a forgotten peer's", true, 21, 21, false },
		{ "its own old one", true, 22, 22, false },
	};
	struct ringnet_members t;
	bool conflict;
	size_t i;
	u32 got;

	reset(4, true);
	t.members = sim.ptr;
	t.n = sim.n;
	sim.m[1].present = true;
	sim.m[1].doorbell_id = 20;
	sim.m[2].doorbell_id = 21;		/* not present */
	sim.m[3].doorbell_id = 22;		/* the one asking */
	sim.m[3].present = true;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		conflict = !cases[i].conflict;
		got = ringnet_member_doorbell(&t, &sim.m[3], cases[i].id, cases[i].doorbell, IVPOS,
					      &conflict);
		CHECK(got == cases[i].want, "%s: %#x", cases[i].what, got);
		CHECK(conflict == cases[i].conflict, "%s: conflict %d", cases[i].what, conflict);
	}

	reset(4, true);
	put(1, 1, KVMRING_PEER_UP, MAC_A, 30, 1);
	scan(1, 0, true, SIM_JOIN);
	CHECK_EQ(sim.m[1].doorbell_id, 30);
	put(2, 1, KVMRING_PEER_UP, MAC_B, 30, 1);	/* slot 1's id */
	scan(2, 0, true, SIM_JOIN);			/* joins, without a doorbell */
	CHECK_EQ(sim.m[2].doorbell_id, KVMRING_DOORBELL_NONE);
	put(3, 1, KVMRING_PEER_UP, (const u8 []){ 0x02, 0, 0, 0, 0, 3 }, IVPOS, 1);
	scan(3, 0, true, SIM_JOIN);
	CHECK_EQ(sim.m[3].doorbell_id, KVMRING_DOORBELL_NONE);
	check_stats(3, 0, 0, 0, 0, 2);
	/* Slot 1 leaves: its id is free for slot 2's next generation. */
	table[1].state = 0;
	scan(1, 10, true, SIM_LEAVE);
	table[2].state = KVMRING_PEER_WORD(2, KVMRING_PEER_UP);
	scan(2, 10, true, SIM_JOIN);
	CHECK_EQ(sim.m[2].doorbell_id, 30);
	check_stats(4, 0, 1, 0, 0, 2);
}

static void test_addr_seq(void)
{
	static const struct {
		u32 seq, told;
		bool moved;
	} cases[] = {
		{ 4, 4, false }, { 5, 4, false }, { 6, 4, true }, { 2, 4, true },
		{ 0, 0, false }, { 0xffffffff, 0, false }, { 0xfffffffe, 0, true },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		CHECK(ringnet_addr_seq_moved(cases[i].seq, cases[i].told) == cases[i].moved,
		      "case %zu", i);

	reset(4, false);
	put(1, 1, KVMRING_PEER_UP, MAC_A, 0, 1);
	table[1].addr_seq = 4;
	scan(1, 0, true, SIM_JOIN);		/* the join takes the count as it is */
	scan(1, 1, false, 0);
	table[1].addr_seq = 5;			/* being written */
	scan(1, 2, false, 0);
	CHECK_EQ(sim.m[1].addr_seq, 4);
	table[1].addr_seq = 6;
	scan(1, 3, false, SIM_UPDATE);
	CHECK_EQ(sim.m[1].addr_seq, 6);
	scan(1, 4, false, 0);
	table[1].heartbeat = 2;			/* with a beat, and with a death */
	table[1].addr_seq = 8;
	scan(1, 5, false, SIM_UPDATE);
	table[1].addr_seq = 10;
	scan(1, 100, true, SIM_DEATH | SIM_UPDATE);
	/* A refused or departed slot tells no update. */
	table[1].addr_seq = 12;
	table[1].state = 0;
	scan(1, 101, true, SIM_LEAVE);
	CHECK_EQ(sim.m[1].addr_seq, 10);
}

/* Our own entry: the word and everything after the heartbeat must be what we wrote. */
static void test_self(void)
{
	static const struct {
		const char *what;
		size_t off;	/* byte to flip, or 0 */
		u64 word;	/* 0: ours */
		bool ok;
	} cases[] = {
		{ "untouched", 0, 0, true },
		{ "heartbeat", offsetof(struct kvmring_peer, heartbeat), 0, true },
		{ "word: next generation", 0, KVMRING_PEER_WORD(6, KVMRING_PEER_UP), false },
		{ "word: claimed", 0, KVMRING_PEER_WORD(5, KVMRING_PEER_CLAIMED), false },
		{ "word: taker's claim", 0, KVMRING_PEER_WORD(6, KVMRING_PEER_CLAIMED), false },
		{ "word: free", 0, KVMRING_PEER_WORD(5, KVMRING_PEER_FREE), false },
		{ "MAC", offsetof(struct kvmring_peer, mac) + 5, 0, false },
		{ "doorbell id", offsetof(struct kvmring_peer, doorbell_id), 0, false },
		{ "flags", offsetof(struct kvmring_peer, flags), 0, false },
		{ "mtu", offsetof(struct kvmring_peer, mtu) + 1, 0, false },
		{ "addr_seq", offsetof(struct kvmring_peer, addr_seq), 0, false },
		{ "an IPv4 address", offsetof(struct kvmring_peer, ipv4) + 3, 0, false },
		{ "an IPv6 address", offsetof(struct kvmring_peer, ipv6) + 63, 0, false },
		{ "reserved, last byte", sizeof(struct kvmring_peer) - 1, 0, false },
	};
	u64 own = KVMRING_PEER_WORD(5, KVMRING_PEER_UP);
	struct kvmring_peer mine, me;
	size_t i;

	memset(&mine, 0, sizeof(mine));
	memcpy(mine.mac, OWN, ETH_ALEN);
	mine.doorbell_id = IVPOS;
	mine.mtu = 1500;
	mine.addr_seq = 2;
	mine.ipv4[0][0] = 10;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		me = mine;
		me.state = cases[i].word ? cases[i].word : own;
		me.heartbeat = 77;
		if (cases[i].off)
			((u8 *)&me)[cases[i].off] ^= 0x40;
		CHECK(ringnet_member_self_ok(&me, &mine, own) == cases[i].ok, "%s", cases[i].what);
	}
}

/* After an eviction: our old slot again, or a slot whose owner is gone. */
static void test_rejoin_rules(void)
{
	static const struct {
		const char *what;
		u64 word, hb;
		unsigned long now;
		bool retake;
	} own_cases[] = {
		{ "our word", KVMRING_PEER_WORD(5, KVMRING_PEER_UP), 1, 0, true },
		{ "free", KVMRING_PEER_WORD(6, KVMRING_PEER_FREE), 1, 0, true },
		{ "junk state", KVMRING_PEER_WORD(6, 9), 1, 0, true },
		{ "a taker, beating", KVMRING_PEER_WORD(6, KVMRING_PEER_UP), 2, 1000, false },
		{ "a taker, still, in time", KVMRING_PEER_WORD(6, KVMRING_PEER_UP), 1, 150, false },
		{ "a taker, still too long", KVMRING_PEER_WORD(6, KVMRING_PEER_UP), 1, 151, true },
		{ "a claim, still too long", KVMRING_PEER_WORD(6, KVMRING_PEER_CLAIMED), 1, 151, true },
		{ "a claim, beating", KVMRING_PEER_WORD(6, KVMRING_PEER_CLAIMED), 3, 151, false },
	};
	struct ringnet_member m = { .last_hb = 9, .last_hb_change = 100 };
	struct kvmring_peer e;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(own_cases); i++) {
		memset(&e, 0, sizeof(e));
		e.state = own_cases[i].word;
		e.heartbeat = own_cases[i].hb;
		CHECK(ringnet_member_retake_own(&e, own_cases[i].word,
						KVMRING_PEER_WORD(5, KVMRING_PEER_UP), 1, 100,
						own_cases[i].now, TIMEOUT) == own_cases[i].retake,
		      "%s", own_cases[i].what);
	}
	memset(&e, 0, sizeof(e));
	e.heartbeat = 9;
	CHECK(!ringnet_member_abandoned(&m, &e, 150, TIMEOUT), "abandoned in time");
	CHECK(ringnet_member_abandoned(&m, &e, 151, TIMEOUT), "not abandoned past the timeout");
	e.heartbeat = 10;
	CHECK(!ringnet_member_abandoned(&m, &e, 1000, TIMEOUT), "abandoned while beating");
}

int main(void)
{
	test_timed_out();
	test_words();
	test_sight();
	test_join_leave();
	test_generation();
	test_mac_refusals();
	test_dead_holder();
	test_refused_rechecked();
	test_heartbeat();
	test_doorbell();
	test_addr_seq();
	test_self();
	test_rejoin_rules();
	printf("member_test: %lu checks, %lu failed\n", checks, failures);
	return failures ? 1 : 0;
}
