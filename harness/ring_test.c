// SPDX-License-Identifier: GPL-2.0-only
/*
 * ring_test - unit tests of the ring core (guest-netdev/ringnet_ring.c) in
 * userspace, built with AddressSanitizer and UBSan: every hostile input must
 * end in a counted drop or a ring reset, and any access outside the ring is
 * an ASan report and a non-zero exit.
 *
 * Rings are allocated with exactly their size, so ASan's redzones sit right
 * after the data area. Prints "ring_test: N checks, F failed" and exits 0
 * only if F is 0.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "ringnet_meta.h"
#include "check.h"

unsigned long checks, failures;

#define RING_SIZE	KVMRING_RING_SIZE_MIN

struct ring {
	struct kvmring_ring_hdr	*hdr;
	u8			*data;
	struct ringnet_tx	tx;
	struct ringnet_rx	rx;
};

static u8 src[2 * KVMRING_FRAME_MAX];
static u8 dst[KVMRING_FRAME_MAX];

static u64 rng_state = 0x9e3779b97f4a7c15ULL;

static u64 rng(void)
{
	/* xorshift64*: deterministic, so a failure reproduces */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static void ring_open(struct ring *r)
{
	memset(r, 0, sizeof(*r));
	r->hdr = calloc(1, sizeof(*r->hdr) + RING_SIZE);
	if (!r->hdr)
		abort();
	r->data = (u8 *)(r->hdr + 1);
	CHECK_EQ(ringnet_tx_attach(&r->tx, r->hdr, RING_SIZE), 0);
	CHECK_EQ(ringnet_rx_attach(&r->rx, r->hdr, RING_SIZE), 0);
}

static void ring_close(struct ring *r)
{
	free(r->hdr);
}

/* Sends len bytes of src starting at seed % 4096; checks the frame that comes out. */
static int send_frame(struct ring *r, u32 len, u32 seed)
{
	return ringnet_tx_enqueue(&r->tx, src + seed % 4096, len, NULL);
}

static bool recv_frame(struct ring *r, u32 len, u32 seed)
{
	int n = ringnet_rx_dequeue(&r->rx, dst, sizeof(dst), NULL);

	if (n != (int)len) {
		CHECK(n == (int)len, "dequeue %d, want %u", n, len);
		return false;
	}
	if (memcmp(dst, src + seed % 4096, len)) {
		CHECK(0, "frame of %u bytes differs", len);
		return false;
	}
	return true;
}

static u64 sum_stats(const void *stats, const struct ringnet_stat_desc *desc, size_t n,
		     const char *const *names)
{
	u64 sum = 0;
	size_t i, j;

	for (i = 0; i < n; i++)
		for (j = 0; names[j]; j++)
			if (!strcmp(desc[i].name, names[j]))
				sum += *(const u64 *)((const u8 *)stats + desc[i].offset);
	return sum;
}

/* Counters of things that go wrong; zero on a clean ring. */
static u64 rx_errors(const struct ring *r)
{
	static const char *const names[] = { "bad_desc", "bad_meta", "dropped", "bad_index",
					     "resets", "reset_follows", NULL };

	return sum_stats(&r->rx.stats, ringnet_rx_stat_desc, RINGNET_RX_NSTATS, names);
}

static u64 tx_errors(const struct ring *r)
{
	static const char *const names[] = { "bad_index", "resets", "reset_follows", NULL };

	return sum_stats(&r->tx.stats, ringnet_tx_stat_desc, RINGNET_TX_NSTATS, names);
}

/* After whatever happened, the ring carries frames again within a few rounds. */
static void check_recovers(struct ring *r)
{
	u32 round, i;
	bool ok = false;
	int n;

	for (round = 0; round < 16 && !ok; round++) {
		/* a full ring refuses this one; the drain below makes room */
		send_frame(r, 100, round);
		for (i = 0; i < RING_SIZE / 32 && !ok; i++) {
			n = ringnet_rx_dequeue(&r->rx, dst, sizeof(dst), NULL);
			ok = n == 100 && !memcmp(dst, src + round, 100);
			/* 0 after bounded work may leave bytes: poll on while some wait */
			if (!n && !ringnet_rx_arm(&r->rx))
				break;
			ringnet_rx_disarm(&r->rx);
		}
	}
	CHECK(ok, "ring did not recover");
}

/* ---- geometry and region ---------------------------------------------------- */

static void test_geometry(void)
{
	static const u64 sizes[] = { 16ULL << 20, 32ULL << 20, 64ULL << 20 };
	u32 n, i, from, to;

	for (i = 0; i < 3; i++) {
		for (n = 2; n <= KVMRING_PEERS_DEFAULT; n++) {
			struct kvmring_geom g = { sizes[i], n, kvmring_default_ring_size(sizes[i], n) };
			u64 prev_end = KVMRING_RINGS_OFF;
			u32 idx = 0;

			CHECK(kvmring_geom_ok(&g), "%llu bytes, %u peers", (unsigned long long)sizes[i], n);
			CHECK(g.ring_size >= KVMRING_RING_SIZE_MIN, "ring size %u", g.ring_size);
			/* rings in index order, back to back, inside the region */
			for (from = 0; from < n; from++)
				for (to = 0; to < n; to++) {
					if (from == to)
						continue;
					CHECK_EQ(kvmring_ring_index(n, from, to), idx++);
					CHECK_EQ(kvmring_ring_offset(&g, from, to), prev_end);
					prev_end += kvmring_ring_stride(g.ring_size);
				}
			CHECK(prev_end <= g.region_size, "rings end at %llu", (unsigned long long)prev_end);
			/* the next power of two would not have fitted */
			CHECK(g.ring_size == KVMRING_RING_SIZE_MAX ||
			      kvmring_region_used(n, g.ring_size * 2) > g.region_size, "ring size not largest");
		}
	}
	CHECK_EQ(kvmring_default_ring_size(16ULL << 20, 8), 256 << 10);
	CHECK_EQ(kvmring_default_ring_size(64ULL << 20, 8), 1 << 20);
	CHECK_EQ(kvmring_default_ring_size(64ULL << 20, 16), 256 << 10);
	CHECK_EQ(kvmring_default_ring_size(16ULL << 20, 16), 0);
	CHECK_EQ(kvmring_default_ring_size(16ULL << 20, 1), 0);
	CHECK_EQ(kvmring_default_ring_size(16ULL << 20, KVMRING_PEERS_MAX + 1), 0);
}

static void test_region(void)
{
	const u64 size = 16ULL << 20;
	u8 *region = malloc(size);
	struct kvmring_region_hdr *h = (struct kvmring_region_hdr *)region;
	struct kvmring_geom g;
	struct kvmring_ring_hdr *ring;
	u32 saved;

	if (!region)
		abort();
	memset(region, 0xa5, size);
	CHECK_EQ(ringnet_region_geom(region, size, &g), -ENOENT);
	CHECK_EQ(ringnet_region_format(region, size, 8, 0, 0, 42), 0);
	CHECK_EQ(ringnet_region_geom(region, size, &g), 0);
	CHECK_EQ(g.max_peers, 8);
	CHECK_EQ(g.ring_size, 256 << 10);
	CHECK_EQ(h->instance, 42);
	CHECK_EQ(((struct kvmring_peer *)(region + kvmring_peer_offset(7)))->state, 0);

	ring = ringnet_region_ring(region, &g, 7, 6);
	CHECK(ring && (u8 *)(ring + 1) + g.ring_size <= region + size, "last ring outside");
	CHECK(ring && !ring->prod && !ring->cons && !ring->prod_epoch && !ring->kick, "ring not zeroed");
	CHECK(!ringnet_region_ring(region, &g, 3, 3), "ring to self");
	CHECK(!ringnet_region_ring(region, &g, 8, 0), "ring from slot 8");
	CHECK(!ringnet_region_ring(region, &g, 0, 8), "ring to slot 8");

	CHECK_EQ(ringnet_region_geom(region, size - 1, &g), -EINVAL);
	CHECK_EQ(ringnet_region_geom(region, 100, &g), -EINVAL);
	h->abi_version = 2;
	CHECK_EQ(ringnet_region_geom(region, size, &g), -EPROTONOSUPPORT);
	h->abi_version = KVMRING_ABI_VERSION;
	saved = h->ring_size;
	h->ring_size = saved + 8;
	CHECK_EQ(ringnet_region_geom(region, size, &g), -EINVAL);
	h->ring_size = saved * 2;	/* no longer fits */
	CHECK_EQ(ringnet_region_geom(region, size, &g), -EINVAL);
	h->ring_size = saved;
	h->max_peers = KVMRING_PEERS_MAX + 1;
	CHECK_EQ(ringnet_region_geom(region, size, &g), -EINVAL);
	h->max_peers = 8;
	h->ring_hdr_size = 128;
	CHECK_EQ(ringnet_region_geom(region, size, &g), -EINVAL);
	h->ring_hdr_size = sizeof(struct kvmring_ring_hdr);
	h->ring_stride++;
	CHECK_EQ(ringnet_region_geom(region, size, &g), -EINVAL);
	h->ring_stride--;
	CHECK_EQ(ringnet_region_geom(region, size, &g), 0);

	CHECK_EQ(ringnet_region_format(region, size, 16, 0, 0, 1), -EINVAL);
	CHECK_EQ(ringnet_region_format(region, size, 8, 3 << 17, 0, 1), -EINVAL);
	free(region);
}

/* ---- normal operation ------------------------------------------------------------ */

static void test_attach(void)
{
	struct ring r;
	u8 buf[64];

	ring_open(&r);
	CHECK_EQ(ringnet_tx_attach(&r.tx, r.hdr, RING_SIZE / 2), -EINVAL);
	CHECK_EQ(ringnet_tx_attach(&r.tx, r.hdr, RING_SIZE + 8), -EINVAL);
	CHECK_EQ(ringnet_rx_attach(&r.rx, r.hdr, KVMRING_RING_SIZE_MAX * 2), -EINVAL);
	CHECK_EQ(ringnet_tx_attach(&r.tx, r.hdr, RING_SIZE), 0);
	CHECK_EQ(ringnet_rx_attach(&r.rx, r.hdr, RING_SIZE), 0);
	/* an empty ring */
	CHECK_EQ(ringnet_rx_dequeue(&r.rx, buf, sizeof(buf), NULL), 0);
	CHECK(!ringnet_rx_arm(&r.rx), "armed an empty ring and found data");
	CHECK_EQ(rx_errors(&r) + tx_errors(&r), 0);

	/* a consumer that comes back resumes where its predecessor released */
	CHECK_EQ(send_frame(&r, 60, 1), 0);
	CHECK_EQ(send_frame(&r, 61, 2), 0);
	recv_frame(&r, 60, 1);
	CHECK_EQ(ringnet_rx_attach(&r.rx, r.hdr, RING_SIZE), 0);
	recv_frame(&r, 61, 2);
	/* and so does a producer */
	CHECK_EQ(ringnet_tx_attach(&r.tx, r.hdr, RING_SIZE), 0);
	CHECK_EQ(send_frame(&r, 62, 3), 0);
	recv_frame(&r, 62, 3);
	CHECK_EQ(rx_errors(&r) + tx_errors(&r), 0);

	/* a producer that finds a newer consumer epoch follows it */
	r.hdr->cons = KVMRING_POS(5, 0);
	CHECK_EQ(ringnet_tx_attach(&r.tx, r.hdr, RING_SIZE), 0);
	CHECK_EQ(r.tx.stats.reset_follows, 1);
	CHECK_EQ(r.hdr->prod, KVMRING_POS(5, 0));
	CHECK_EQ(r.hdr->prod_epoch, 5);
	CHECK_EQ(ringnet_rx_attach(&r.rx, r.hdr, RING_SIZE), 0);
	CHECK_EQ(r.rx.stats.resets + r.rx.stats.reset_follows, 0);
	check_recovers(&r);

	/*
	 * one that finds the consumer in an older epoch reads it as its own
	 * reset, not yet followed: it waits for it again, and counts nothing
	 */
	r.hdr->cons = KVMRING_POS(4, 0);
	CHECK_EQ(ringnet_tx_attach(&r.tx, r.hdr, RING_SIZE), 0);
	CHECK_EQ(r.tx.stats.resets, 0);
	CHECK(r.tx.resetting, "producer does not wait for the consumer");
	CHECK_EQ(KVMRING_POS_EPOCH(r.hdr->prod), 5);
	CHECK_EQ(ringnet_rx_attach(&r.rx, r.hdr, RING_SIZE), 0);
	CHECK_EQ(r.rx.stats.reset_follows, 1);
	CHECK_EQ(r.hdr->cons, KVMRING_POS(5, 0));
	CHECK_EQ(r.hdr->cons_epoch, 5);
	check_recovers(&r);
	ring_close(&r);
}

/*
 * Word pairs that no sequence of resets explains: attach restarts the ring
 * and counts it, on either end.
 */
static void test_attach_corrupt(void)
{
	static const struct {
		const char *what;
		bool producer;		/* which end attaches */
		u64 prod, cons;
	} cases[] = {
		{ "tx: same epoch, cons beyond prod", true, KVMRING_POS(3, 64), KVMRING_POS(3, 128) },
		{ "tx: same epoch, prod a ring ahead", true, KVMRING_POS(3, RING_SIZE + 8), KVMRING_POS(3, 0) },
		{ "tx: same epoch, misaligned", true, KVMRING_POS(3, 68), KVMRING_POS(3, 0) },
		{ "tx: newer epoch, index beyond a ring", true, KVMRING_POS(9, RING_SIZE + 8), KVMRING_POS(8, 0) },
		{ "tx: newer epoch, index behind 0", true, KVMRING_POS(9, 0xfffffff8U), KVMRING_POS(8, 0) },
		{ "tx: newer epoch, misaligned", true, KVMRING_POS(9, 4), KVMRING_POS(8, 0) },
		{ "rx: same epoch, cons beyond prod", false, KVMRING_POS(3, 64), KVMRING_POS(3, 128) },
		{ "rx: same epoch, prod a ring ahead", false, KVMRING_POS(3, RING_SIZE + 8), KVMRING_POS(3, 0) },
		{ "rx: newer epoch, index not 0", false, KVMRING_POS(11, 0), KVMRING_POS(12, 64) },
		{ "rx: newer epoch, index behind 0", false, KVMRING_POS(11, 0), KVMRING_POS(12, 0xfffffff8U) },
	};
	struct ring r;
	u32 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ring_open(&r);
		r.hdr->prod = cases[i].prod;
		r.hdr->cons = cases[i].cons;
		if (cases[i].producer) {
			CHECK_EQ(ringnet_tx_attach(&r.tx, r.hdr, RING_SIZE), 0);
			CHECK(r.tx.stats.resets == 1, "%s: %llu resets", cases[i].what,
			      (unsigned long long)r.tx.stats.resets);
			CHECK(r.hdr->prod == KVMRING_POS(KVMRING_POS_EPOCH(cases[i].prod) + 1, 0),
			      "%s: prod %#llx", cases[i].what, (unsigned long long)r.hdr->prod);
		} else {
			CHECK_EQ(ringnet_rx_attach(&r.rx, r.hdr, RING_SIZE), 0);
			CHECK(r.rx.stats.resets == 1, "%s: %llu resets", cases[i].what,
			      (unsigned long long)r.rx.stats.resets);
			CHECK(r.hdr->cons == KVMRING_POS(KVMRING_POS_EPOCH(cases[i].cons) + 1, 0),
			      "%s: cons %#llx", cases[i].what, (unsigned long long)r.hdr->cons);
		}
		check_recovers(&r);
		ring_close(&r);
	}
}

/* ---- joining: renew and re-attach --------------------------------------------- */

/*
 * Two guests, A in slot 0 and B in slot 1, and their two rings. A guest that
 * joins (a new owner of its slot) attaches and renews its end of both rings;
 * a guest that sees the other come up re-attaches both. Those are the only
 * calls honest guests make, in whatever order, so none of them may count a
 * reset or a bad index, and frames must flow afterwards.
 */
struct join_guest {
	struct ringnet_tx	tx;
	struct ringnet_rx	rx;
	bool			joined;
	u32			gen;		/* owners of the slot so far */
	u32			seq;		/* next frame sent */
	u32			last_gen;	/* of the last frame received */
	u32			last_seq;
	bool			got_any;
};

struct join {
	struct kvmring_ring_hdr	*ring[2];	/* ring[x]: guest x -> guest !x */
	struct join_guest	g[2];
	bool			bad;		/* a received frame was wrong */
};

enum join_op { JOIN_A, JOIN_B, REATTACH_A, REATTACH_B, JOIN_TRAFFIC, JOIN_POLL, JOIN_NOPS };

/* Every sequence of this many operations, from every start state. */
#define JOIN_STEPS	5

static const char *const join_op_names[JOIN_NOPS] = {
	"join A", "join B", "re-attach A", "re-attach B", "traffic", "poll",
};

/* A frame carries its sender's generation in the top byte of the sequence number. */
static void join_send(struct join *j, u32 x)
{
	struct join_guest *g = &j->g[x];
	void *p;

	if (ringnet_tx_reserve(&g->tx, 200, &p))
		return;
	harness_frame_fill(p, 200, g->gen << 24 | (g->seq & 0xffffff));
	ringnet_tx_commit(&g->tx, NULL);
	ringnet_tx_publish(&g->tx);
	g->seq++;
}

/* Receives all that waits for guest x; returns the frames received. */
static u32 join_recv(struct join *j, u32 x)
{
	struct join_guest *g = &j->g[x];
	u32 n = 0, seq, i;
	int len;

	for (i = 0; i < 2 * RING_SIZE / 32; i++) {
		len = ringnet_rx_dequeue(&g->rx, dst, sizeof(dst), NULL);
		if (len <= 0)
			break;
		n++;
		if (len != 200 || !harness_frame_intact(dst, 200, &seq)) {
			j->bad = true;
			continue;
		}
		/* from the slot's present owner, in order */
		if (seq >> 24 != j->g[!x].gen ||
		    (g->got_any && seq >> 24 == g->last_gen && (seq & 0xffffff) <= g->last_seq))
			j->bad = true;
		g->got_any = true;
		g->last_gen = seq >> 24;
		g->last_seq = seq & 0xffffff;
	}
	return n;
}

static void join_attach(struct join *j, u32 x)
{
	CHECK_EQ(ringnet_tx_attach(&j->g[x].tx, j->ring[x], RING_SIZE), 0);
	CHECK_EQ(ringnet_rx_attach(&j->g[x].rx, j->ring[!x], RING_SIZE), 0);
}

static void join_op(struct join *j, enum join_op op)
{
	u32 x = op == JOIN_A || op == REATTACH_A ? 0 : 1, gen;

	switch (op) {
	case JOIN_A:
	case JOIN_B:
		/* a new owner: new state, zeroed once before its first attach */
		gen = j->g[x].gen + 1;
		memset(&j->g[x], 0, sizeof(j->g[x]));
		j->g[x].gen = gen;
		j->g[x].joined = true;
		join_attach(j, x);
		ringnet_tx_renew(&j->g[x].tx);
		ringnet_rx_renew(&j->g[x].rx);
		break;
	case REATTACH_A:
	case REATTACH_B:
		if (j->g[x].joined)
			join_attach(j, x);
		break;
	case JOIN_TRAFFIC:
	case JOIN_POLL:
		for (x = 0; x < 2; x++) {
			if (!j->g[x].joined)
				continue;
			if (op == JOIN_TRAFFIC)
				join_send(j, x);
			else
				ringnet_tx_publish(&j->g[x].tx);
			join_recv(j, x);
		}
		break;
	default:
		break;
	}
}

/*
 * Start states of the two rings, as former owners could have left them:
 * zeroed, consistent with frames in flight, a producer's or a consumer's
 * reset not yet followed, epochs about to wrap.
 */
static void join_start(struct join *j, u32 start)
{
	static const u32 epochs[] = { 0, 7, 7, 7, 0xffffffffU };
	u32 x, e = epochs[start];

	for (x = 0; x < 2; x++) {
		memset(j->ring[x], 0, sizeof(*j->ring[x]));
		j->ring[x]->prod = j->ring[x]->cons = KVMRING_POS(e, 0);
		j->ring[x]->prod_epoch = j->ring[x]->cons_epoch = e;
	}
	memset(j->g, 0, sizeof(j->g));
	if (!start)
		return;
	/* the former owners, at work: two frames in flight each way */
	for (x = 0; x < 2; x++) {
		j->g[x].gen = 0x7f;
		join_attach(j, x);
	}
	for (x = 0; x < 2; x++) {
		join_send(j, x);
		join_send(j, x);
	}
	if (start == 2)
		ringnet_tx_reset(&j->g[0].tx);	/* the former A reset its end, sent, and left */
	if (start == 3)
		ringnet_rx_reset(&j->g[1].rx);	/* the former B reset its end and left */
	if (start == 2 || start == 3)
		join_send(j, 0);
	/* they leave; the new owners start from scratch */
	memset(j->g, 0, sizeof(j->g));
	for (x = 0; x < 2; x++)
		j->g[x].gen = 0x7f;
}

static void test_join(void)
{
	const u32 steps = JOIN_STEPS, starts = 5;
	u32 code, ncodes = 1, start, i, c, x, got, sent[2], reported = 0;
	enum join_op ops[JOIN_STEPS];
	struct join j;
	char trail[160];
	u64 bad;

	for (i = 0; i < steps; i++)
		ncodes *= JOIN_NOPS;
	memset(&j, 0, sizeof(j));
	for (x = 0; x < 2; x++) {
		j.ring[x] = calloc(1, sizeof(*j.ring[x]) + RING_SIZE);
		if (!j.ring[x])
			abort();
	}

	for (start = 0; start < starts; start++) {
		for (code = 0; code < ncodes; code++) {
			join_start(&j, start);
			for (c = code, i = 0; i < steps; i++, c /= JOIN_NOPS)
				ops[i] = c % JOIN_NOPS;
			for (i = 0; i < steps; i++)
				join_op(&j, ops[i]);
			/* whoever has not joined yet joins now; each sees the other come up */
			if (!j.g[0].joined)
				join_op(&j, JOIN_A);
			if (!j.g[1].joined)
				join_op(&j, JOIN_B);
			join_op(&j, REATTACH_A);
			join_op(&j, REATTACH_B);

			/* one round to notice each other's epochs, then nothing may be lost */
			join_op(&j, JOIN_POLL);
			for (x = 0; x < 2; x++) {
				sent[x] = j.g[x].seq;
				for (i = 0; i < 20; i++)
					join_send(&j, x);
				sent[x] = j.g[x].seq - sent[x];
			}
			bad = 0;
			for (x = 0; x < 2; x++) {
				got = join_recv(&j, x);
				bad += got != 20 || sent[!x] != 20;
				bad += j.g[x].tx.stats.resets + j.g[x].tx.stats.bad_index;
				bad += j.g[x].rx.stats.resets + j.g[x].rx.stats.bad_index;
				bad += j.g[x].rx.stats.bad_desc + j.g[x].rx.stats.bad_meta;
			}
			bad += j.bad;
			checks++;
			if (bad)
				failures++;
			if (bad && ++reported <= 20) {
				trail[0] = 0;
				for (i = 0; i < steps; i++)
					snprintf(trail + strlen(trail), sizeof(trail) - strlen(trail),
						 "%s%s", i ? ", " : "", join_op_names[ops[i]]);
				fprintf(stderr, "FAIL %s: start %u, %s: resets tx %llu/%llu rx %llu/%llu, "
					"bad_index tx %llu/%llu rx %llu/%llu, bad_desc %llu/%llu, %s\n",
					__func__, start, trail,
					(unsigned long long)j.g[0].tx.stats.resets,
					(unsigned long long)j.g[1].tx.stats.resets,
					(unsigned long long)j.g[0].rx.stats.resets,
					(unsigned long long)j.g[1].rx.stats.resets,
					(unsigned long long)j.g[0].tx.stats.bad_index,
					(unsigned long long)j.g[1].tx.stats.bad_index,
					(unsigned long long)j.g[0].rx.stats.bad_index,
					(unsigned long long)j.g[1].rx.stats.bad_index,
					(unsigned long long)j.g[0].rx.stats.bad_desc,
					(unsigned long long)j.g[1].rx.stats.bad_desc,
					j.bad ? "a wrong frame" : "frames intact");
			}
		}
	}
	for (x = 0; x < 2; x++)
		free(j.ring[x]);
}

static void test_meta_roundtrip(void)
{
	struct ringnet_meta in = {
		.flags = KVMRING_REC_F_CSUM_PARTIAL | KVMRING_REC_F_DATA_VALID,
		.gso_type = KVMRING_GSO_TCPV4 | KVMRING_GSO_ECN, .gso_size = 1448,
		.csum_start = 34, .csum_offset = 16,
	}, out;
	struct ring r;

	ring_open(&r);
	CHECK_EQ(ringnet_tx_enqueue(&r.tx, src, 9000, &in), 0);
	CHECK_EQ(ringnet_rx_dequeue(&r.rx, dst, sizeof(dst), &out), 9000);
	CHECK(in.flags == out.flags && in.gso_type == out.gso_type && in.gso_size == out.gso_size &&
	      in.csum_start == out.csum_start && in.csum_offset == out.csum_offset,
	      "metadata changed in transit");
	/* PAD is the core's to set, never the caller's */
	in.flags |= KVMRING_REC_F_PAD;
	CHECK_EQ(ringnet_tx_enqueue(&r.tx, src, 9000, &in), 0);
	CHECK_EQ(ringnet_rx_dequeue(&r.rx, dst, sizeof(dst), &out), 9000);
	CHECK_EQ(out.flags, KVMRING_REC_F_CSUM_PARTIAL | KVMRING_REC_F_DATA_VALID);
	CHECK_EQ(rx_errors(&r) + tx_errors(&r), 0);
	ring_close(&r);
}

/*
 * Every length from KVMRING_FRAME_MIN to KVMRING_FRAME_MAX, odd ones
 * included, through a ring kept nearly full, so records wrap at every kind
 * of offset.
 */
static void test_every_size(void)
{
	const u32 count = KVMRING_FRAME_MAX - KVMRING_FRAME_MIN + 1;
	u32 sent = 0, got = 0;
	struct ring r;
	int err;

	ring_open(&r);
	/* frame k is KVMRING_FRAME_MIN + k bytes of src from 7 * k */
	while (sent < count) {
		err = send_frame(&r, KVMRING_FRAME_MIN + sent, 7 * sent);
		if (!err) {
			sent++;
			continue;
		}
		CHECK_EQ(err, -ENOSPC);
		if (got == sent) {
			CHECK(0, "ring full while empty, frame %u", sent);
			break;
		}
		if (!recv_frame(&r, KVMRING_FRAME_MIN + got, 7 * got))
			break;
		got++;
	}
	while (got < sent && recv_frame(&r, KVMRING_FRAME_MIN + got, 7 * got))
		got++;
	CHECK_EQ(sent, count);
	CHECK_EQ(got, count);
	CHECK_EQ(r.rx.stats.frames, count);
	CHECK_EQ(ringnet_rx_dequeue(&r.rx, dst, sizeof(dst), NULL), 0);
	CHECK_EQ(rx_errors(&r) + tx_errors(&r), 0);
	CHECK_EQ(ringnet_tx_enqueue(&r.tx, src, KVMRING_FRAME_MAX + 1, NULL), -EMSGSIZE);
	CHECK_EQ(ringnet_tx_enqueue(&r.tx, src, KVMRING_FRAME_MIN - 1, NULL), -EMSGSIZE);
	CHECK_EQ(ringnet_tx_enqueue(&r.tx, src, 0, NULL), -EMSGSIZE);
	CHECK_EQ(r.tx.stats.bad_len, 3);
	CHECK(!ringnet_tx_has_room(&r.tx, KVMRING_FRAME_MAX + 1), "room for an oversized frame");
	ring_close(&r);
}

/* Full and empty: a ring of 1500-byte frames takes exactly what fits. */
static void test_full(void)
{
	const u32 need = kvmring_rec_size(1500);
	u32 n = 0, i;
	struct ring r;

	ring_open(&r);
	while (!send_frame(&r, 1500, n) && n < RING_SIZE)
		n++;
	/* all that fit before the end, and none after the pad */
	CHECK_EQ(n, RING_SIZE / need);
	CHECK_EQ(r.tx.stats.full, 1);
	CHECK(!ringnet_tx_has_room(&r.tx, 1500), "has room when full");
	CHECK(ringnet_tx_has_room(&r.tx, RING_SIZE - n * need - 16), "no room for the tail");
	recv_frame(&r, 1500, 0);
	/* consumed but not yet... dequeue publishes, so the room is back */
	CHECK(ringnet_tx_has_room(&r.tx, 1500), "no room after a dequeue");
	CHECK_EQ(send_frame(&r, 1500, n), 0);
	for (i = 1; i <= n; i++)
		recv_frame(&r, 1500, i);
	CHECK_EQ(ringnet_rx_dequeue(&r.rx, dst, sizeof(dst), NULL), 0);
	CHECK_EQ(rx_errors(&r) + tx_errors(&r), 0);
	ring_close(&r);
}

/* Occupancy: what both ends see in flight, and 0 for a word it cannot trust. */
static void test_occupancy(void)
{
	const u32 need = kvmring_rec_size(100);
	struct ring r;
	u64 saved;

	ring_open(&r);
	CHECK_EQ(ringnet_tx_used(&r.tx), 0);
	CHECK_EQ(ringnet_rx_used(&r.rx), 0);
	CHECK_EQ(send_frame(&r, 100, 1), 0);
	CHECK_EQ(send_frame(&r, 100, 2), 0);
	CHECK_EQ(send_frame(&r, 100, 3), 0);
	CHECK_EQ(ringnet_tx_used(&r.tx), 3 * need);
	CHECK_EQ(ringnet_rx_used(&r.rx), 3 * need);
	recv_frame(&r, 100, 1);
	CHECK_EQ(ringnet_tx_used(&r.tx), 2 * need);
	CHECK_EQ(ringnet_rx_used(&r.rx), 2 * need);

	/* hostile words read as 0 and change nothing */
	saved = r.hdr->cons;
	r.hdr->cons = KVMRING_POS(7, KVMRING_POS_INDEX(saved));
	CHECK_EQ(ringnet_tx_used(&r.tx), 0);
	r.hdr->cons = KVMRING_POS(0, r.tx.published + 8);
	CHECK_EQ(ringnet_tx_used(&r.tx), 0);
	r.hdr->cons = saved;
	saved = r.hdr->prod;
	r.hdr->prod = KVMRING_POS(0, r.rx.cons + RING_SIZE + 8);
	CHECK_EQ(ringnet_rx_used(&r.rx), 0);
	r.hdr->prod = KVMRING_POS(0, r.rx.cons + 4);
	CHECK_EQ(ringnet_rx_used(&r.rx), 0);
	r.hdr->prod = saved;
	CHECK_EQ(rx_errors(&r) + tx_errors(&r), 0);

	recv_frame(&r, 100, 2);
	recv_frame(&r, 100, 3);
	CHECK_EQ(ringnet_tx_used(&r.tx), 0);
	CHECK_EQ(ringnet_rx_used(&r.rx), 0);
	/* a full ring reads as full */
	while (!send_frame(&r, 1500, 0))
		;
	CHECK(ringnet_tx_used(&r.tx) > RING_SIZE - kvmring_rec_size(1500) &&
	      ringnet_tx_used(&r.tx) <= RING_SIZE, "full ring: %u used", ringnet_tx_used(&r.tx));
	CHECK_EQ(ringnet_rx_used(&r.rx), ringnet_tx_used(&r.tx));
	ring_close(&r);
}

/* Pad records of every short length, including the 8-byte minimum. */
static void test_pads(void)
{
	static const u32 tails[] = { 8, 16, 24, 80, 4096 };
	struct ring r;
	u32 t, fill, len;

	for (t = 0; t < 5; t++) {
		ring_open(&r);
		/* one frame that leaves exactly tails[t] bytes before the end */
		for (fill = RING_SIZE - tails[t]; fill; fill -= kvmring_rec_size(len)) {
			len = fill - sizeof(struct kvmring_rec);
			if (len > KVMRING_FRAME_MAX)
				len = KVMRING_FRAME_MAX;
			if (fill - kvmring_rec_size(len) && fill - kvmring_rec_size(len) < 32)
				len -= 64;	/* leave a remainder a frame can fill */
			CHECK_EQ(send_frame(&r, len, fill), 0);
			recv_frame(&r, len, fill);
		}
		CHECK_EQ(r.tx.prod, RING_SIZE - tails[t]);
		len = tails[t] >= 80 ? 64 : 100;	/* 64 fits in 80, 100 does not */
		CHECK_EQ(send_frame(&r, len, t), 0);
		CHECK_EQ(r.tx.prod, tails[t] >= 80 ? RING_SIZE - tails[t] + 80 :
			 RING_SIZE + kvmring_rec_size(len));
		recv_frame(&r, len, t);
		CHECK_EQ(r.rx.cons, r.tx.prod);
		CHECK_EQ(rx_errors(&r) + tx_errors(&r), 0);
		ring_close(&r);
	}
}

/* 32-bit indices that wrap past 2^32 while frames flow. */
static void test_index_wrap(void)
{
	const u32 start = 0xfffff000U;
	struct ring r;
	u32 i;

	ring_open(&r);
	r.hdr->prod = KVMRING_POS(0, start);
	r.hdr->cons = KVMRING_POS(0, start);
	CHECK_EQ(ringnet_tx_attach(&r.tx, r.hdr, RING_SIZE), 0);
	CHECK_EQ(ringnet_rx_attach(&r.rx, r.hdr, RING_SIZE), 0);
	CHECK_EQ(r.tx.prod, start);
	for (i = 0; i < 2000; i++) {
		CHECK_EQ(send_frame(&r, 1000 + i % 700, i), 0);
		CHECK_EQ(send_frame(&r, 60, i + 1), 0);
		recv_frame(&r, 1000 + i % 700, i);
		recv_frame(&r, 60, i + 1);
	}
	CHECK(r.tx.prod < start && r.tx.prod > 1 << 20, "prod %#x did not wrap", r.tx.prod);
	CHECK_EQ(KVMRING_POS_INDEX(r.hdr->cons), r.tx.prod);
	CHECK_EQ(rx_errors(&r) + tx_errors(&r), 0);
	ring_close(&r);
}

/* Reserve, commit and publish: nothing is visible before the publish. */
static void test_batch(void)
{
	struct ringnet_frame f;
	struct ring r;
	void *p;
	int i;

	ring_open(&r);
	for (i = 0; i < 32; i++) {
		CHECK_EQ(ringnet_tx_reserve(&r.tx, 64, &p), 0);
		memcpy(p, src + i, 64);
		ringnet_tx_commit(&r.tx, NULL);
	}
	CHECK_EQ(ringnet_rx_peek(&r.rx, &f), 0);
	ringnet_tx_publish(&r.tx);
	for (i = 0; i < 32; i++) {
		CHECK_EQ(ringnet_rx_peek(&r.rx, &f), 1);
		CHECK(f.len == 64 && !memcmp(f.data, src + i, 64), "frame %d", i);
		ringnet_rx_consume(&r.rx);
	}
	CHECK_EQ(ringnet_rx_peek(&r.rx, &f), 0);
	CHECK_EQ(KVMRING_POS_INDEX(r.hdr->cons), 0);	/* not published yet */
	ringnet_rx_publish(&r.rx);
	CHECK_EQ(KVMRING_POS_INDEX(r.hdr->cons), r.tx.prod);

	/* a commit without a reservation, a consume without a peek: nothing */
	ringnet_tx_commit(&r.tx, NULL);
	ringnet_rx_consume(&r.rx);
	CHECK_EQ(r.tx.stats.frames, 32);
	CHECK_EQ(r.rx.stats.frames, 32);
	/* a too-small buffer drops the frame and says so */
	CHECK_EQ(send_frame(&r, 200, 0), 0);
	CHECK_EQ(ringnet_rx_dequeue(&r.rx, dst, 100, NULL), -EMSGSIZE);
	CHECK_EQ(r.rx.stats.dropped, 1);
	CHECK_EQ(ringnet_rx_dequeue(&r.rx, dst, sizeof(dst), NULL), 0);
	CHECK_EQ(KVMRING_POS_INDEX(r.hdr->cons), r.tx.prod);
	ring_close(&r);
}

static void test_kick(void)
{
	struct ring r;

	ring_open(&r);
	/* polling consumer: no kicks */
	CHECK_EQ(send_frame(&r, 60, 0), 0);
	CHECK(!ringnet_tx_kick_needed(&r.tx), "kick while polling");
	/* arming with a frame waiting says so */
	CHECK(ringnet_rx_arm(&r.rx), "arm missed a waiting frame");
	recv_frame(&r, 60, 0);
	CHECK(!ringnet_rx_arm(&r.rx), "arm on an empty ring found data");
	/* one kick per arm */
	CHECK_EQ(send_frame(&r, 60, 1), 0);
	CHECK(ringnet_tx_kick_needed(&r.tx), "no kick for an armed consumer");
	CHECK_EQ(send_frame(&r, 60, 2), 0);
	CHECK(!ringnet_tx_kick_needed(&r.tx), "second kick for one arm");
	ringnet_rx_disarm(&r.rx);
	recv_frame(&r, 60, 1);
	recv_frame(&r, 60, 2);
	CHECK_EQ(send_frame(&r, 60, 3), 0);
	CHECK(!ringnet_tx_kick_needed(&r.tx), "kick after disarm");
	recv_frame(&r, 60, 3);
	CHECK(!ringnet_rx_arm(&r.rx), "arm found data");
	CHECK_EQ(send_frame(&r, 60, 4), 0);
	CHECK(ringnet_tx_kick_needed(&r.tx), "no kick after re-arm");
	CHECK_EQ(r.tx.stats.kicks, 2);
	/* a new consumer arms with a value this producer has not kicked for */
	CHECK_EQ(ringnet_rx_attach(&r.rx, r.hdr, RING_SIZE), 0);
	recv_frame(&r, 60, 4);
	CHECK(!ringnet_rx_arm(&r.rx), "arm found data");
	CHECK_EQ(send_frame(&r, 60, 5), 0);
	CHECK(ringnet_tx_kick_needed(&r.tx), "no kick for a new consumer");
	ring_close(&r);
}

/* ---- hostile input ------------------------------------------------------------ */

/* Fills the ring with a few frames and returns the offset of the first. */
static u32 prime(struct ring *r, u32 frames)
{
	u32 off = r->tx.prod & (RING_SIZE - 1), i;

	for (i = 0; i < frames; i++)
		CHECK_EQ(send_frame(r, 100, i), 0);
	return off;
}

static void test_bad_prod(void)
{
	static const u32 deltas[] = { RING_SIZE + 8, 4, 0xfffffff8U, 0x80000000U, 3 };
	struct ring r;
	u32 i;

	for (i = 0; i < 5; i++) {
		ring_open(&r);
		prime(&r, 3);
		r.hdr->prod = KVMRING_POS(0, r.rx.cons + deltas[i]);
		CHECK_EQ(ringnet_rx_dequeue(&r.rx, dst, sizeof(dst), NULL), 0);
		CHECK_EQ(r.rx.stats.bad_index, 1);
		CHECK_EQ(r.rx.stats.resets, 1);
		CHECK(KVMRING_POS_EPOCH(r.hdr->cons) == 1 && r.hdr->cons_epoch == 1, "no reset asked");
		/* the producer follows at its next publish */
		CHECK_EQ(send_frame(&r, 100, 9), 0);
		CHECK_EQ(r.tx.stats.reset_follows, 1);
		CHECK_EQ(KVMRING_POS_EPOCH(r.hdr->prod), 1);
		CHECK_EQ(r.hdr->prod_epoch, 1);
		check_recovers(&r);
		ring_close(&r);
	}
}

static void test_bad_cons(void)
{
	static const u32 deltas[] = { 8, RING_SIZE * 2, 0x7ffffff8U, 5 };
	struct ring r;
	u32 i;

	for (i = 0; i < 4; i++) {
		ring_open(&r);
		prime(&r, 3);
		/* the consumer index moves beyond the producer's */
		r.hdr->cons = KVMRING_POS(0, r.tx.prod + deltas[i]);
		r.tx.cons = r.tx.prod - RING_SIZE;	/* force a look at it */
		CHECK_EQ(send_frame(&r, 100, 1), 0);
		CHECK_EQ(r.tx.stats.bad_index, 1);
		CHECK_EQ(r.tx.stats.resets, 1);
		CHECK_EQ(r.tx.prod, kvmring_rec_size(100));
		/* the consumer follows and gets the frame sent after the reset */
		recv_frame(&r, 100, 1);
		CHECK_EQ(r.rx.stats.reset_follows, 1);
		check_recovers(&r);
		ring_close(&r);
	}
}

/* Record headers a buggy or hostile producer could publish. */
static void test_bad_records(void)
{
	struct {
		const char *what;
		u32 len;
		u16 flags;
		bool whole_ring;	/* skips to prod, rather than one frame */
	} cases[] = {
		{ "len 0", 0, 0, true },
		{ "len below min", KVMRING_FRAME_MIN - 1, 0, true },
		{ "len above max", KVMRING_FRAME_MAX + 1, 0, true },
		{ "len 2^32-1", 0xffffffffU, 0, true },
		{ "len beyond prod", 1000, 0, true },
		{ "unknown flag", 100, 1 << 7, true },
		{ "pad with len", 8, KVMRING_REC_F_PAD, true },
		{ "pad at offset 0", 0, KVMRING_REC_F_PAD, true },
		{ "pad and csum", 0, KVMRING_REC_F_PAD | KVMRING_REC_F_CSUM_PARTIAL, true },
	};
	/* records at the end of the data area, with more frames published after them */
	struct {
		const char *what;
		u32 more;
		u32 len;
		u16 flags;
	} at_end[] = {
		{ "frame straddles the end", 30, 1500, 0 },
		{ "pad claims more than was published", 0, 0, KVMRING_REC_F_PAD },
	};
	struct kvmring_rec *rec;
	struct ring r;
	u32 i, off, avail;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ring_open(&r);
		off = prime(&r, 3);
		avail = r.tx.prod - r.rx.cons;
		rec = (struct kvmring_rec *)(r.data + off);
		rec->len = cases[i].len;
		rec->flags = cases[i].flags;
		CHECK(ringnet_rx_dequeue(&r.rx, dst, sizeof(dst), NULL) == 0, "%s", cases[i].what);
		CHECK(r.rx.stats.bad_desc == 1, "%s", cases[i].what);
		CHECK(r.rx.stats.dropped_bytes == avail, "%s", cases[i].what);
		CHECK(KVMRING_POS_INDEX(r.hdr->cons) == r.tx.prod, "%s: no resync", cases[i].what);
		CHECK(!r.rx.stats.resets && !r.tx.stats.resets, "%s: reset", cases[i].what);
		check_recovers(&r);
		ring_close(&r);
	}

	/* records that meet the end of the data area */
	for (i = 0; i < sizeof(at_end) / sizeof(at_end[0]); i++) {
		ring_open(&r);
		r.hdr->prod = r.hdr->cons = KVMRING_POS(0, RING_SIZE - 1024);
		CHECK_EQ(ringnet_tx_attach(&r.tx, r.hdr, RING_SIZE), 0);
		CHECK_EQ(ringnet_rx_attach(&r.rx, r.hdr, RING_SIZE), 0);
		off = prime(&r, 1);
		prime(&r, at_end[i].more);
		rec = (struct kvmring_rec *)(r.data + off);
		rec->len = at_end[i].len;
		rec->flags = at_end[i].flags;
		CHECK(ringnet_rx_dequeue(&r.rx, dst, sizeof(dst), NULL) == 0, "%s", at_end[i].what);
		CHECK(r.rx.stats.bad_desc == 1, "%s", at_end[i].what);
		check_recovers(&r);
		ring_close(&r);
	}
}

/* Metadata that contradicts the frame costs that frame only. */
static void test_bad_meta(void)
{
	struct {
		const char *what;
		struct ringnet_meta meta;
	} cases[] = {
		{ "unknown gso type", { .gso_type = 2, .gso_size = 100 } },
		{ "gso without mss", { .gso_type = KVMRING_GSO_TCPV4 } },
		{ "mss beyond frame", { .gso_type = KVMRING_GSO_TCPV6, .gso_size = 100 } },
		{ "mss without gso", { .gso_size = 1448 } },
		{ "ecn alone", { .gso_type = KVMRING_GSO_ECN } },
		{ "csum beyond frame", { .flags = KVMRING_REC_F_CSUM_PARTIAL, .csum_start = 90, .csum_offset = 9 } },
		{ "csum wraps 16 bits", { .flags = KVMRING_REC_F_CSUM_PARTIAL, .csum_start = 0xffff, .csum_offset = 0xffff } },
	};
	struct ringnet_meta ok = { .flags = KVMRING_REC_F_CSUM_PARTIAL, .csum_start = 90, .csum_offset = 8 };
	struct ring r;
	u32 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ring_open(&r);
		CHECK_EQ(ringnet_tx_enqueue(&r.tx, src, 100, &cases[i].meta), 0);
		CHECK_EQ(ringnet_tx_enqueue(&r.tx, src + 1, 100, &ok), 0);
		CHECK(ringnet_rx_dequeue(&r.rx, dst, sizeof(dst), NULL) == 100 &&
		      !memcmp(dst, src + 1, 100), "%s: next frame lost", cases[i].what);
		CHECK(r.rx.stats.bad_meta == 1 && r.rx.stats.dropped == 1, "%s", cases[i].what);
		CHECK(!r.rx.stats.bad_desc, "%s: resync", cases[i].what);
		ring_close(&r);
	}
}

/* Epochs overwritten by a third party: the ends find each other again. */
static void test_bad_epochs(void)
{
	static const u32 values[] = { 1, 0xffffffffU, 0x80000000U, 0x7fffffffU, 12345 };
	struct ring r;
	u32 i, which;

	for (which = 0; which < 16; which++) {
		for (i = 0; i < 5; i++) {
			ring_open(&r);
			prime(&r, 2);
			/* each bit of which: one of the two words or the two copies */
			if (which & 1)
				r.hdr->prod = KVMRING_POS(values[i], r.hdr->prod);
			if (which & 2)
				r.hdr->cons = KVMRING_POS(values[i] ^ 0x80000000U, r.hdr->cons);
			if (which & 4)
				r.hdr->prod_epoch = values[i];
			if (which & 8)
				r.hdr->cons_epoch = values[i] + 1;
			ringnet_rx_dequeue(&r.rx, dst, sizeof(dst), NULL);
			check_recovers(&r);
			ring_close(&r);
		}
	}
}

/*
 * A side whose own word is overwritten while it has nothing new to publish
 * rewrites it when it waits or idles; otherwise the ring would stall.
 */
static void test_overwritten_words(void)
{
	struct ring r;
	u32 n = 0, i;

	/* a full producer whose word reads 0: the consumer sees an empty ring */
	ring_open(&r);
	while (!send_frame(&r, 1500, n) && n < RING_SIZE)
		n++;
	r.hdr->prod = KVMRING_POS(0, 0);
	CHECK_EQ(ringnet_rx_dequeue(&r.rx, dst, sizeof(dst), NULL), 0);
	CHECK_EQ(send_frame(&r, 1500, n), -ENOSPC);	/* full: looks, and restates */
	for (i = 0; i < n; i++)
		recv_frame(&r, 1500, i);
	CHECK_EQ(rx_errors(&r) + tx_errors(&r), 0);
	ring_close(&r);

	/*
	 * a producer waiting for its reset fills the ring; the consumer follows,
	 * drains it, and then its word is overwritten with an older epoch
	 */
	ring_open(&r);
	prime(&r, 3);
	ringnet_tx_reset(&r.tx);
	for (n = 0; n < RING_SIZE && !send_frame(&r, 1500, n); n++)
		;
	CHECK(r.tx.resetting, "producer no longer waiting");
	for (i = 0; i < n; i++)
		recv_frame(&r, 1500, i);
	CHECK_EQ(r.rx.stats.reset_follows, 1);
	r.hdr->cons = KVMRING_POS(0, 12345);
	CHECK(!ringnet_tx_has_room(&r.tx, 1500), "room while the word is old");
	CHECK_EQ(ringnet_rx_dequeue(&r.rx, dst, sizeof(dst), NULL), 0);	/* idle: restates */
	CHECK_EQ(KVMRING_POS_EPOCH(r.hdr->cons), 1);
	CHECK(ringnet_tx_has_room(&r.tx, 1500), "no room after the consumer restated");
	CHECK_EQ(r.tx.stats.resets, 1);
	CHECK_EQ(r.tx.stats.bad_index + r.rx.stats.resets + r.rx.stats.bad_index, 0);
	check_recovers(&r);
	ring_close(&r);
}

/*
 * Torn writes: a producer that publishes its index before the record is
 * complete. Whatever the consumer sees must be within bounds and counted.
 */
static void test_torn(void)
{
	struct kvmring_rec *rec;
	struct ring r;
	u32 off, i;

	for (i = 0; i < 64; i++) {
		ring_open(&r);
		off = prime(&r, 4);
		rec = (struct kvmring_rec *)(r.data + off);
		/* half a header: len written, the rest still old bytes */
		memset(r.data + off + 4, (int)rng(), 12);
		rec->len = (u32)rng() % (2 * KVMRING_FRAME_MAX);
		while (ringnet_rx_dequeue(&r.rx, dst, sizeof(dst), NULL) > 0)
			;
		CHECK_EQ(KVMRING_POS_INDEX(r.hdr->cons), r.tx.prod);
		check_recovers(&r);
		ring_close(&r);
	}
}

/* Random bytes over the header and the data, between random operations. */
static void test_random_bytes(void)
{
	struct ringnet_frame f;
	struct ring r;
	u32 round, op, i, n;
	u8 *bytes;

	ring_open(&r);
	bytes = (u8 *)r.hdr;
	for (round = 0; round < 20000; round++) {
		n = rng() % 4;
		for (i = 0; i < n; i++) {
			if (rng() % 4 == 0)	/* the header */
				bytes[rng() % sizeof(*r.hdr)] = (u8)rng();
			else
				bytes[sizeof(*r.hdr) + rng() % RING_SIZE] = (u8)rng();
		}
		if (rng() % 64 == 0)	/* a whole word of the header */
			((u32 *)r.hdr)[rng() % (sizeof(*r.hdr) / 4)] = (u32)rng();
		op = rng() % 8;
		if (op < 3) {
			send_frame(&r, KVMRING_FRAME_MIN + rng() % 3000, round);
		} else if (op < 5) {
			ringnet_rx_dequeue(&r.rx, dst, sizeof(dst), NULL);
		} else if (op == 5) {
			if (ringnet_rx_peek(&r.rx, &f) == 1) {
				CHECK(f.data >= r.data && f.data + f.len <= r.data + RING_SIZE &&
				      f.len >= KVMRING_FRAME_MIN && f.len <= KVMRING_FRAME_MAX,
				      "frame outside the ring");
				ringnet_rx_consume(&r.rx);
			}
		} else if (op == 6) {
			ringnet_rx_arm(&r.rx);
			ringnet_tx_kick_needed(&r.tx);
		} else {
			ringnet_rx_publish(&r.rx);
			ringnet_tx_has_room(&r.tx, 1500);
		}
		CHECK(r.rx.avail <= RING_SIZE && r.tx.prod - r.tx.cons <= RING_SIZE, "index state");
	}
	CHECK(r.rx.stats.bad_desc + r.rx.stats.bad_index + r.tx.stats.bad_index > 0, "nothing counted");
	check_recovers(&r);
	ring_close(&r);
}

/* ---- metadata: ringnet_meta_check() and ringnet_csum_finish() ------------------ */

#define T_TCP	6
#define T_UDP	17
#define T_ICMP	1
#define T_ETH_HLEN	14

/* A frame's headers, written by pkt_build(), and where they end. */
struct pkt {
	const char	*what;
	u32		tags;		/* VLAN tags; a third one hides the EtherType */
	u16		proto;		/* EtherType after the tags */
	u32		ip_opts;	/* IPv4 option bytes */
	u8		l4proto;	/* IPv4 protocol or IPv6 next header */
	u32		tcp_opts;	/* TCP option bytes */
	bool		frag;		/* IPv4: a later fragment */
	bool		bad_ihl;	/* IPv4: ihl 4 */
	/* filled in by pkt_build() */
	u8		hdr[RINGNET_META_HEADLEN];
	u32		hdrlen;		/* bytes of hdr written */
	u32		l2end, l3end, l4len;	/* as far as two tags let a parser see */
	bool		ip;		/* an IPv4/IPv6 header the check must accept */
	u8		l4;		/* T_TCP or T_UDP right after the IP header, else 0 */
};

static void put16(u8 *p, u16 v)
{
	p[0] = v >> 8;
	p[1] = (u8)v;
}

/* Writes p->hdr and the offsets; the L4 header's checksum field holds seed. */
static void pkt_build(struct pkt *p, u16 seed, u32 len)
{
	u8 *h = p->hdr;
	u32 off = 12, i, iphl, l4off;

	memset(h, 0, sizeof(p->hdr));
	memcpy(h, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	for (i = 0; i < p->tags; i++, off += 4) {
		put16(h + off, p->tags > 1 && i == 0 ? 0x88a8 : 0x8100);
		put16(h + off + 2, 100 + i);
	}
	put16(h + off, p->proto);
	off += 2;
	p->hdrlen = off;
	p->l2end = T_ETH_HLEN + 4 * (p->tags < 2 ? p->tags : 2);
	p->l3end = p->l2end;
	p->ip = false;
	p->l4 = 0;
	p->l4len = 0;
	if (p->proto == 0x0800) {
		iphl = 20 + p->ip_opts;
		h[off] = 0x40 | (p->bad_ihl ? 4 : iphl / 4);
		put16(h + off + 2, (u16)(len - off));
		put16(h + off + 6, p->frag ? 185 : 0x4000);	/* offset 1480, or DF */
		h[off + 8] = 64;
		h[off + 9] = p->l4proto;
		memcpy(h + off + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
		memset(h + off + 20, 1, p->ip_opts);		/* NOPs */
		l4off = off + iphl;
		p->ip = !p->bad_ihl;
	} else if (p->proto == 0x86dd) {
		h[off] = 0x60;
		put16(h + off + 4, (u16)(len - off - 40));
		h[off + 6] = p->l4proto;
		h[off + 7] = 64;
		memcpy(h + off + 8, "\xfd\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
		       "\xfd\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02", 32);
		l4off = off + 40;
		p->ip = true;
	} else {
		return;
	}
	p->hdrlen = l4off;
	if (p->tags > 2)
		p->ip = false;		/* behind a third tag: not for a parser to see */
	else
		p->l3end = l4off;
	if (p->ip && !p->frag && (p->l4proto == T_TCP || p->l4proto == T_UDP))
		p->l4 = p->l4proto;
	if (p->l4proto == T_TCP) {
		put16(h + l4off, 40000);
		put16(h + l4off + 2, 5201);
		h[l4off + 12] = (u8)((20 + p->tcp_opts) / 4 << 4);
		h[l4off + 13] = 0x10;				/* ACK */
		put16(h + l4off + 14, 512);
		put16(h + l4off + 16, seed);
		memset(h + l4off + 20, 1, p->tcp_opts);
		p->hdrlen += 20 + p->tcp_opts;
	} else if (p->l4proto == T_UDP) {
		put16(h + l4off, 40000);
		put16(h + l4off + 2, 4789);
		put16(h + l4off + 4, (u16)(len - l4off));
		put16(h + l4off + 6, seed);
		p->hdrlen += 8;
	}
	if (p->l4)
		p->l4len = p->hdrlen - l4off;
}

/* A frame of len bytes: the headers, cut short if need be, then a pattern. */
static void pkt_frame(const struct pkt *p, u8 *buf, u32 len)
{
	u32 i;

	memcpy(buf, p->hdr, len < p->hdrlen ? len : p->hdrlen);
	for (i = p->hdrlen; i < len; i++)
		buf[i] = (u8)(i * 7 + 3);
}

/*
 * What ringnet_meta_check() must answer, stated from what the frame is
 * (pkt_build() knows), not parsed from its bytes.
 */
static bool meta_expect(const struct pkt *p, u32 len, u32 headlen, const struct ringnet_meta *m)
{
	u8 kind = m->gso_type & ~KVMRING_GSO_ECN, want;
	bool ecn = m->gso_type & KVMRING_GSO_ECN, gso = m->gso_type != KVMRING_GSO_NONE;
	u32 start = m->csum_start, off = m->csum_offset, payload, segs;

	if (m->flags & ~(KVMRING_REC_F_CSUM_PARTIAL | KVMRING_REC_F_DATA_VALID))
		return false;
	if (!gso && m->gso_size)
		return false;
	if (gso && kind != KVMRING_GSO_TCPV4 && kind != KVMRING_GSO_TCPV6 && kind != KVMRING_GSO_UDP_L4)
		return false;
	if (ecn && kind == KVMRING_GSO_UDP_L4)
		return false;
	if (!(m->flags & KVMRING_REC_F_CSUM_PARTIAL))
		return !gso;

	/* the Ethernet header, its tags and an announced IP header, whole */
	if (len < p->l2end)
		return false;
	if ((p->proto == 0x0800 || p->proto == 0x86dd) && p->tags <= 2 && (!p->ip || len < p->l3end))
		return false;
	if (start < p->l3end || off % 2 || start + off + 2 > headlen)
		return false;
	if (!gso)
		return !(p->l4 && start == p->l3end && off != (p->l4 == T_TCP ? 16U : 6U));

	want = kind == KVMRING_GSO_UDP_L4 ? T_UDP : T_TCP;
	if ((kind == KVMRING_GSO_TCPV4 && p->proto != 0x0800) ||
	    (kind == KVMRING_GSO_TCPV6 && p->proto != 0x86dd) || p->tags > 2)
		return false;
	if (p->l4 != want || start != p->l3end || off != (want == T_TCP ? 16U : 6U) ||
	    len < p->l3end + p->l4len)
		return false;
	if (m->gso_size < 64 || m->gso_size == 0xffff)
		return false;
	payload = len - p->l3end - p->l4len;
	segs = (payload + m->gso_size - 1) / m->gso_size;
	return segs <= (want == T_UDP ? 128U : 1024U);
}

static struct pkt meta_pkts[] = {
	{ .what = "IPv4 TCP", .proto = 0x0800, .l4proto = T_TCP },
	{ .what = "IPv4 UDP", .proto = 0x0800, .l4proto = T_UDP },
	{ .what = "IPv6 TCP", .proto = 0x86dd, .l4proto = T_TCP },
	{ .what = "IPv6 UDP", .proto = 0x86dd, .l4proto = T_UDP },
	{ .what = "802.1Q IPv4 TCP, options", .tags = 1, .proto = 0x0800, .ip_opts = 8,
	  .l4proto = T_TCP, .tcp_opts = 12 },
	{ .what = "802.1ad+802.1Q IPv6 UDP", .tags = 2, .proto = 0x86dd, .l4proto = T_UDP },
	{ .what = "802.1ad+802.1Q IPv4 TCP", .tags = 2, .proto = 0x0800, .l4proto = T_TCP },
	{ .what = "three tags, IPv4 TCP", .tags = 3, .proto = 0x0800, .l4proto = T_TCP },
	{ .what = "IPv4 ICMP", .proto = 0x0800, .l4proto = T_ICMP },
	{ .what = "IPv4 fragment of TCP", .proto = 0x0800, .l4proto = T_TCP, .frag = true },
	{ .what = "IPv4 ihl 4", .proto = 0x0800, .l4proto = T_TCP, .bad_ihl = true },
	{ .what = "IPv6 hop-by-hop, then TCP", .proto = 0x86dd, .l4proto = 0 },
	{ .what = "ARP", .proto = 0x0806 },
};

/*
 * Every combination of the listed values, on every kind of frame and length,
 * with the head as short as the caller may copy it and as long as the frame.
 * The copy handed over is exactly headlen bytes, so a read beyond it is an
 * ASan report.
 */
static void test_meta_check(void)
{
	static const u32 lens[] = { 14, 15, 17, 18, 21, 22, 30, 33, 34, 38, 42, 53, 54, 55, 62,
				    66, 74, 75, 100, 1514, 9014, 65000, 65535, 65600 };
	static const u16 flagss[] = { 0, KVMRING_REC_F_CSUM_PARTIAL, KVMRING_REC_F_DATA_VALID,
				      KVMRING_REC_F_CSUM_PARTIAL | KVMRING_REC_F_DATA_VALID,
				      KVMRING_REC_F_PAD | KVMRING_REC_F_CSUM_PARTIAL, 1 << 7 };
	static const u8 gsos[] = { KVMRING_GSO_NONE, KVMRING_GSO_TCPV4, KVMRING_GSO_TCPV6,
				   KVMRING_GSO_UDP_L4, KVMRING_GSO_TCPV4 | KVMRING_GSO_ECN,
				   KVMRING_GSO_TCPV6 | KVMRING_GSO_ECN, KVMRING_GSO_UDP_L4 | KVMRING_GSO_ECN,
				   KVMRING_GSO_ECN, 2, 3 };
	static const u16 sizes[] = { 0, 1, 8, 63, 64, 536, 1448, 65535 };
	static const u16 offs[] = { 0, 6, 7, 16, 0xffff };
	u64 judged = 0, accepted = 0, wrong = 0, gso_ok = 0, partial_ok = 0;
	u32 t, l, h, len, headlen, starts[6], s, i;
	struct ringnet_meta m;
	u8 *frame, *head;
	bool want;
	int got;

	frame = malloc(KVMRING_FRAME_MAX);
	if (!frame)
		abort();
	for (t = 0; t < ARRAY_SIZE(meta_pkts); t++) {
		for (l = 0; l < ARRAY_SIZE(lens); l++) {
			len = lens[l];
			pkt_build(&meta_pkts[t], 0x1234, len);
			pkt_frame(&meta_pkts[t], frame, len);
			starts[0] = 0;
			starts[1] = T_ETH_HLEN;
			starts[2] = meta_pkts[t].l3end;
			starts[3] = meta_pkts[t].l3end + 2;
			starts[4] = len - 2 < 0xffff ? len - 2 : 0xffff;
			starts[5] = 0xffff;
			for (h = 0; h < 2; h++) {
				headlen = h ? len : len < RINGNET_META_HEADLEN ? len : RINGNET_META_HEADLEN;
				if (h && headlen == len && len <= RINGNET_META_HEADLEN)
					continue;	/* the same as the first */
				head = malloc(headlen);
				if (!head)
					abort();
				memcpy(head, frame, headlen);
				for (i = 0; i < ARRAY_SIZE(flagss) * ARRAY_SIZE(gsos) * ARRAY_SIZE(sizes) *
					     ARRAY_SIZE(offs) * 6; i++) {
					u32 k = i;

					memset(&m, 0, sizeof(m));
					m.flags = flagss[k % ARRAY_SIZE(flagss)];
					k /= ARRAY_SIZE(flagss);
					m.gso_type = gsos[k % ARRAY_SIZE(gsos)];
					k /= ARRAY_SIZE(gsos);
					m.gso_size = sizes[k % ARRAY_SIZE(sizes)];
					k /= ARRAY_SIZE(sizes);
					m.csum_offset = offs[k % ARRAY_SIZE(offs)];
					k /= ARRAY_SIZE(offs);
					s = starts[k];
					m.csum_start = (u16)s;

					got = ringnet_meta_check(head, headlen, len, &m);
					want = meta_expect(&meta_pkts[t], len, headlen, &m);
					judged++;
					accepted += !got;
					gso_ok += !got && m.gso_type;
					partial_ok += !got && !m.gso_type && (m.flags & KVMRING_REC_F_CSUM_PARTIAL);
					if ((got == 0) == want && (got == 0 || got == -EINVAL))
						continue;
					if (++wrong <= 20)
						fprintf(stderr, "FAIL %s: %s, len %u, head %u: flags %#x gso %#x/%u "
							"csum %u+%u: got %d, want %s\n", __func__,
							meta_pkts[t].what, len, headlen, m.flags, m.gso_type,
							m.gso_size, m.csum_start, m.csum_offset, got,
							want ? "0" : "-EINVAL");
				}
				free(head);
			}
		}
	}
	checks += judged;
	failures += wrong;
	/* the good ones are there, and accepted */
	CHECK(gso_ok > 500 && partial_ok > 1000 && accepted < judged / 2,
	      "%llu of %llu accepted, %llu GSO, %llu partial", (unsigned long long)accepted,
	      (unsigned long long)judged, (unsigned long long)gso_ok, (unsigned long long)partial_ok);
	free(frame);
}

/* Named cases: what a sender really produces is accepted, each rule on its own rejects. */
static void test_meta_cases(void)
{
	const u16 P = KVMRING_REC_F_CSUM_PARTIAL;
	static const struct {
		const char *what;
		u32 pkt, len;		/* meta_pkts[pkt] */
		struct ringnet_meta m;	/* csum_start 1 means the L4 header */
		int want;
	} cases[] = {
		{ "TCPv4 super-frame", 0, 65000, { P, 1448, 1, 16, KVMRING_GSO_TCPV4 }, 0 },
		{ "TCPv4 with ECN", 0, 9014, { P, 1448, 1, 16, KVMRING_GSO_TCPV4 | KVMRING_GSO_ECN }, 0 },
		{ "TCPv6 with ECN", 2, 65600, { P, 1428, 1, 16, KVMRING_GSO_TCPV6 | KVMRING_GSO_ECN }, 0 },
		{ "UDP_L4 over IPv6", 3, 9014, { P, 1400, 1, 6, KVMRING_GSO_UDP_L4 }, 0 },
		{ "UDP_L4 over IPv4", 1, 30000, { P, 1472, 1, 6, KVMRING_GSO_UDP_L4 }, 0 },
		{ "tagged TCPv4, options", 4, 20000, { P, 1448, 1, 16, KVMRING_GSO_TCPV4 }, 0 },
		{ "QinQ UDP_L4", 5, 8000, { P, 1000, 1, 6, KVMRING_GSO_UDP_L4 }, 0 },
		{ "smaller than one segment", 0, 100, { P, 1448, 1, 16, KVMRING_GSO_TCPV4 }, 0 },
		{ "1024 segments of 64", 0, 54 + 65536, { P, 64, 1, 16, KVMRING_GSO_TCPV4 }, 0 },
		{ "128 UDP segments of 512", 1, 42 + 65536, { P, 512, 1, 6, KVMRING_GSO_UDP_L4 }, 0 },
		{ "partial TCPv4", 0, 1514, { P, 0, 1, 16, 0 }, 0 },
		{ "partial, inner checksum", 1, 1514, { P, 0, 50, 16, 0 }, 0 },
		{ "partial ARP", 12, 60, { P, 0, 14, 0, 0 }, 0 },
		{ "data valid alone", 12, 60, { KVMRING_REC_F_DATA_VALID, 0, 0, 0, 0 }, 0 },
		{ "nothing", 7, 14, { 0, 0, 0, 0, 0 }, 0 },
		{ "GSO without partial", 0, 9014, { KVMRING_REC_F_DATA_VALID, 1448, 1, 16, KVMRING_GSO_TCPV4 }, -EINVAL },
		{ "TCPV4 on IPv6", 2, 9014, { P, 1448, 1, 16, KVMRING_GSO_TCPV4 }, -EINVAL },
		{ "TCPV6 on IPv4", 0, 9014, { P, 1448, 1, 16, KVMRING_GSO_TCPV6 }, -EINVAL },
		{ "TCPV4 on UDP", 1, 9014, { P, 1448, 1, 16, KVMRING_GSO_TCPV4 }, -EINVAL },
		{ "UDP_L4 on TCP", 0, 9014, { P, 1448, 1, 6, KVMRING_GSO_UDP_L4 }, -EINVAL },
		{ "UDP_L4 with ECN", 1, 9014, { P, 1448, 1, 6, KVMRING_GSO_UDP_L4 | KVMRING_GSO_ECN }, -EINVAL },
		{ "ECN alone", 0, 9014, { P, 1448, 1, 16, KVMRING_GSO_ECN }, -EINVAL },
		{ "csum_start not the TCP header", 0, 9014, { P, 1448, 38, 16, KVMRING_GSO_TCPV4 }, -EINVAL },
		{ "csum_offset not TCP's", 0, 9014, { P, 1448, 1, 6, KVMRING_GSO_TCPV4 }, -EINVAL },
		{ "gso_size 63", 0, 9014, { P, 63, 1, 16, KVMRING_GSO_TCPV4 }, -EINVAL },
		{ "GSO_BY_FRAGS", 0, 65600, { P, 0xffff, 1, 16, KVMRING_GSO_TCPV4 }, -EINVAL },
		{ "1025 segments", 0, 54 + 65537, { P, 64, 1, 16, KVMRING_GSO_TCPV4 }, -EINVAL },
		{ "129 UDP segments", 1, 42 + 65537, { P, 512, 1, 6, KVMRING_GSO_UDP_L4 }, -EINVAL },
		{ "GSO of a fragment", 9, 9014, { P, 1448, 1, 16, KVMRING_GSO_TCPV4 }, -EINVAL },
		{ "GSO past an extension header", 11, 9014, { P, 1448, 1, 16, KVMRING_GSO_TCPV6 }, -EINVAL },
		{ "GSO behind three tags", 7, 9014, { P, 1448, 1, 16, KVMRING_GSO_TCPV4 }, -EINVAL },
		{ "TCP header cut short", 0, 50, { P, 0, 1, 16, 0 }, -EINVAL },
		{ "partial TCP, UDP's offset", 0, 1514, { P, 0, 1, 6, 0 }, -EINVAL },
		{ "partial UDP, TCP's offset", 1, 1514, { P, 0, 1, 16, 0 }, -EINVAL },
		{ "partial inside the IP header", 0, 1514, { P, 0, 14, 10, 0 }, -EINVAL },
		{ "partial inside the tags", 12, 60, { P, 0, 12, 0, 0 }, -EINVAL },
		{ "partial, bad ihl", 10, 1514, { P, 0, 34, 16, 0 }, -EINVAL },
		{ "field past the head", 0, 1514, { P, 0, 300, 0, 0 }, -EINVAL },
		{ "field at an odd offset", 1, 1514, { P, 0, 50, 7, 0 }, -EINVAL },
		{ "gso_size without GSO", 0, 1514, { P, 1448, 1, 16, 0 }, -EINVAL },
		{ "the pad flag", 0, 1514, { KVMRING_REC_F_PAD, 0, 0, 0, 0 }, -EINVAL },
	};
	struct ringnet_meta m;
	struct pkt *p;
	u8 *frame;
	u32 i, headlen;
	int got;

	frame = malloc(KVMRING_FRAME_MAX);
	if (!frame)
		abort();
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		p = &meta_pkts[cases[i].pkt];
		pkt_build(p, 0, cases[i].len);
		pkt_frame(p, frame, cases[i].len);
		m = cases[i].m;
		if (m.csum_start == 1)
			m.csum_start = (u16)p->l3end;
		headlen = cases[i].len < RINGNET_META_HEADLEN ? cases[i].len : RINGNET_META_HEADLEN;
		got = ringnet_meta_check(frame, headlen, cases[i].len, &m);
		CHECK(got == cases[i].want, "%s: got %d, want %d", cases[i].what, got, cases[i].want);
		CHECK(meta_expect(p, cases[i].len, headlen, &m) == !cases[i].want,
		      "%s: the table's rules disagree", cases[i].what);
	}
	free(frame);
}

/* RFC 1071, big-endian and independent of the shim: the folded sum, not complemented. */
static u16 ref_sum(const u8 *p, u32 n, u32 sum)
{
	u32 i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (u32)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (u32)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (u16)sum;
}

/* The pseudo-header's folded sum for the L4 segment of a frame built by pkt_build(). */
static u16 ref_pseudo(const struct pkt *p, const u8 *frame, u32 len)
{
	u32 l3 = p->l3end - (p->proto == 0x0800 ? 20 + p->ip_opts : 40), seg = len - p->l3end;
	u32 sum = p->l4proto + (seg >> 16) + (seg & 0xffff);

	if (p->proto == 0x0800)
		return ref_sum(frame + l3 + 12, 8, sum);
	return ref_sum(frame + l3 + 8, 32, sum);
}

/* Does the segment's checksum verify, as a receiver checks it? */
static bool ref_verifies(const struct pkt *p, const u8 *frame, u32 len)
{
	return ref_sum(frame + p->l3end, len - p->l3end, ref_pseudo(p, frame, len)) == 0xffff;
}

/* What the driver did before: zero the field, then sum. */
static void old_csum_finish(u8 *data, u32 len, const struct ringnet_meta *m)
{
	__sum16 sum;

	memset(data + m->csum_start + m->csum_offset, 0, 2);
	sum = csum_fold(csum_partial(data + m->csum_start, len - m->csum_start, 0));
	memcpy(data + m->csum_start + m->csum_offset, &sum, 2);
}

static void test_csum_finish(void)
{
	static const u32 pkts[] = { 0, 1, 2, 3, 4, 5 };
	static const u32 payloads[] = { 0, 1, 2, 3, 17, 100, 1001, 1460, 8999, 65000 };
	struct ringnet_meta m, before;
	u32 i, j, len, hl, field;
	u16 ref, got, seed;
	struct pkt *p;
	u8 *frame, *copy;

	for (i = 0; i < ARRAY_SIZE(pkts); i++) {
		p = &meta_pkts[pkts[i]];
		for (j = 0; j < ARRAY_SIZE(payloads); j++) {
			pkt_build(p, 0, 0);
			hl = p->hdrlen;
			len = hl + payloads[j];
			frame = malloc(len);
			copy = malloc(len);
			if (!frame || !copy)
				abort();
			/* the sender seeds the field with the pseudo-header sum (CHECKSUM_PARTIAL) */
			pkt_build(p, 0, len);
			pkt_frame(p, frame, len);
			for (field = hl; field < len; field++)
				frame[field] = (u8)rng();
			seed = ref_pseudo(p, frame, len);
			field = p->l3end + (p->l4 == T_TCP ? 16 : 6);
			put16(frame + field, seed);
			/* the reference: a zeroed field, the pseudo-header, the segment */
			memcpy(copy, frame, len);
			put16(copy + field, 0);
			ref = (u16)~ref_sum(copy + p->l3end, len - p->l3end, ref_pseudo(p, copy, len));

			memcpy(copy, frame, len);
			m = (struct ringnet_meta){ .flags = KVMRING_REC_F_CSUM_PARTIAL,
						   .csum_start = (u16)p->l3end,
						   .csum_offset = p->l4 == T_TCP ? 16 : 6 };
			CHECK(ringnet_csum_finish(copy, len, &m), "%s + %u", p->what, payloads[j]);
			got = (u16)(copy[field] << 8 | copy[field + 1]);
			CHECK(got == ref || (!ref && got == 0xffff), "%s + %u: %#x, want %#x", p->what,
			      payloads[j], got, ref);
			CHECK(ref_verifies(p, copy, len), "%s + %u: does not verify", p->what, payloads[j]);
			CHECK_EQ(m.flags, KVMRING_REC_F_DATA_VALID);
			/* only the field changed */
			put16(copy + field, seed);
			CHECK(!memcmp(copy, frame, len), "%s + %u: more than the field changed", p->what,
			      payloads[j]);

			/* zeroing the field first loses the pseudo-header */
			memcpy(copy, frame, len);
			old_csum_finish(copy, len, &m);
			CHECK(!ref_verifies(p, copy, len), "%s + %u: the old way verifies", p->what,
			      payloads[j]);

			/* out of range: false, and nothing changes */
			memcpy(copy, frame, len);
			before = (struct ringnet_meta){ .flags = KVMRING_REC_F_CSUM_PARTIAL,
							.csum_start = (u16)(len - 1), .csum_offset = 0 };
			m = before;
			CHECK(!ringnet_csum_finish(copy, len, &m), "field straddles the end");
			before.csum_start = len - 2 > 0xffff ? 0xffff : (u16)(len - 2);
			before.csum_offset = 2;
			m = before;
			CHECK(!ringnet_csum_finish(copy, len, &m), "field beyond the end");
			before.csum_start = 0xffff;
			before.csum_offset = 0xffff;
			m = before;
			CHECK(!ringnet_csum_finish(copy, len, &m), "field far beyond the end");
			CHECK(!memcmp(copy, frame, len) && !memcmp(&m, &before, sizeof(m)), "changed");
			m = (struct ringnet_meta){ .flags = KVMRING_REC_F_DATA_VALID, .csum_start = 0xffff };
			CHECK(ringnet_csum_finish(copy, len, &m), "no partial checksum");
			CHECK(!memcmp(copy, frame, len) && m.flags == KVMRING_REC_F_DATA_VALID, "changed");
			free(frame);
			free(copy);
		}
	}

	/* an odd csum_start and the last two bytes: the sum pairs bytes from csum_start */
	for (i = 0; i < 64; i++) {
		len = 14 + (u32)rng() % 3000;
		frame = malloc(len);
		if (!frame)
			abort();
		for (j = 0; j < len; j++)
			frame[j] = (u8)rng();
		m = (struct ringnet_meta){ .flags = KVMRING_REC_F_CSUM_PARTIAL,
					   .csum_start = (u16)(i & 1 ? 13 + rng() % (len - 15) : len - 2),
					   .csum_offset = 0 };
		if (m.csum_start + 2 < len)
			m.csum_offset = (u16)(rng() % (len - m.csum_start - 1));
		field = m.csum_start + m.csum_offset;
		ref = (u16)~ref_sum(frame + m.csum_start, len - m.csum_start, 0);
		CHECK(ringnet_csum_finish(frame, len, &m), "start %u offset %u", m.csum_start, m.csum_offset);
		got = (u16)(frame[field] << 8 | frame[field + 1]);
		CHECK(got == (ref ? ref : 0xffff), "start %u: %#x, want %#x", m.csum_start, got, ref);
		free(frame);
	}
}

/* ---- two threads ---------------------------------------------------------------- */

struct flow {
	struct ring	*r;
	u32		frames;
	bool		resets;		/* the consumer resets the ring now and then */
	bool		hostile;	/* a third thread scribbles over the ring */
	volatile bool	stop;		/* the consumer is done */
	volatile bool	sent_all;	/* the producer is done */
	volatile u32	hits;		/* the vandal's writes into the ring header */
	u32		got, bad, out_of_order;
	u64		deadline_ns;
};

static void *flow_producer(void *arg)
{
	struct flow *fl = arg;
	u32 seq = 0, len;
	void *p;

	/*
	 * With a vandal, send until it has hit the header often enough: on a busy
	 * machine it may be scheduled only after a fixed number of frames is done.
	 */
	while ((fl->hostile ? fl->hits < 2000 : seq < fl->frames) && !fl->stop &&
	       harness_now_ns() < fl->deadline_ns) {
		len = 60 + (seq * 997) % 1500;
		if (ringnet_tx_reserve(&fl->r->tx, len, &p)) {
			/* full: let the consumer run, should it share our CPU */
			ringnet_tx_publish(&fl->r->tx);
			sched_yield();
			continue;
		}
		harness_frame_fill(p, len, seq++);
		ringnet_tx_commit(&fl->r->tx, NULL);
		if (seq % 8 == 0 || seq == fl->frames)
			ringnet_tx_publish(&fl->r->tx);
	}
	ringnet_tx_publish(&fl->r->tx);
	fl->sent_all = true;
	return NULL;
}

static void *flow_consumer(void *arg)
{
	struct flow *fl = arg;
	struct ringnet_frame f;
	u32 seq, last = 0, n = 0, idle = 0;
	bool first = true;

	while (fl->got < fl->frames && harness_now_ns() < fl->deadline_ns) {
		if (ringnet_rx_peek(&fl->r->rx, &f) != 1) {
			ringnet_rx_publish(&fl->r->rx);
			/* lost frames never come: stop once the producer has gone quiet */
			if (fl->sent_all && ++idle > 10000)
				break;
			sched_yield();
			continue;
		}
		idle = 0;
		memcpy(dst, f.data, f.len);
		ringnet_rx_consume(&fl->r->rx);
		if (++n % 16 == 0)
			ringnet_rx_publish(&fl->r->rx);
		if (!harness_frame_intact(dst, f.len, &seq)) {
			fl->bad++;
			continue;
		}
		if (!first && seq <= last)
			fl->out_of_order++;
		first = false;
		last = seq;
		fl->got++;
		if (seq == fl->frames - 1)
			break;
		if (fl->resets && n % 5000 == 0)
			ringnet_rx_reset(&fl->r->rx);
	}
	fl->stop = true;
	return NULL;
}

static void *flow_vandal(void *arg)
{
	struct flow *fl = arg;
	u64 x = 1;

	while (!fl->stop && harness_now_ns() < fl->deadline_ns) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		if ((x >> 60) == 0) {
			((volatile u32 *)fl->r->hdr)[(x >> 20) % 64] = (u32)(x >> 32);
			fl->hits++;
		} else
			((volatile u8 *)fl->r->data)[(x >> 20) % RING_SIZE] = (u8)(x >> 40);
		for (volatile int spin = 0; spin < 200; spin++)
			;
	}
	return NULL;
}

static void run_flow(struct flow *fl)
{
	pthread_t p, c, v;

	fl->deadline_ns = harness_now_ns() + 10ULL * 1000000000ULL;
	pthread_create(&c, NULL, flow_consumer, fl);
	pthread_create(&p, NULL, flow_producer, fl);
	if (fl->hostile)
		pthread_create(&v, NULL, flow_vandal, fl);
	pthread_join(p, NULL);
	pthread_join(c, NULL);
	if (fl->hostile)
		pthread_join(v, NULL);
}

static void test_threads(void)
{
	struct ring r;
	struct flow fl;

	/* clean: every frame, in order, intact */
	ring_open(&r);
	memset(&fl, 0, sizeof(fl));
	fl.r = &r;
	fl.frames = 200000;
	run_flow(&fl);
	CHECK_EQ(fl.got, fl.frames);
	CHECK_EQ(fl.bad, 0);
	CHECK_EQ(fl.out_of_order, 0);
	CHECK_EQ(rx_errors(&r) + tx_errors(&r), 0);
	ring_close(&r);

	/* resets: frames are lost, but what arrives is intact and in order */
	ring_open(&r);
	memset(&fl, 0, sizeof(fl));
	fl.r = &r;
	fl.frames = 200000;
	fl.resets = true;
	run_flow(&fl);
	CHECK(fl.got > fl.frames / 4, "only %u frames", fl.got);
	CHECK_EQ(fl.out_of_order, 0);
	CHECK_EQ(fl.bad, 0);
	CHECK(r.rx.stats.resets > 5, "%llu resets", (unsigned long long)r.rx.stats.resets);
	/* every reset followed, but perhaps the last, if the producer had finished */
	CHECK(r.tx.stats.reset_follows == r.rx.stats.resets ||
	      r.tx.stats.reset_follows + 1 == r.rx.stats.resets, "%llu follows of %llu resets",
	      (unsigned long long)r.tx.stats.reset_follows, (unsigned long long)r.rx.stats.resets);
	CHECK_EQ(r.rx.stats.bad_index + r.rx.stats.bad_desc + r.tx.stats.bad_index, 0);
	ring_close(&r);

	/* a vandal: no promises but memory safety, bounded time and recovery */
	ring_open(&r);
	memset(&fl, 0, sizeof(fl));
	fl.r = &r;
	fl.frames = 0xffffffffU;	/* until the vandal has done enough */
	fl.hostile = true;
	run_flow(&fl);
	CHECK(fl.hits >= 2000, "the vandal hit the header %u times in 10 s", fl.hits);
	CHECK(rx_errors(&r) + tx_errors(&r) > 0, "vandal went unnoticed");
	check_recovers(&r);
	ring_close(&r);
}

int main(void)
{
	size_t i;

	for (i = 0; i < sizeof(src); i++)
		src[i] = (u8)rng();

	test_geometry();
	test_region();
	test_attach();
	test_attach_corrupt();
	test_join();
	test_meta_roundtrip();
	test_every_size();
	test_full();
	test_occupancy();
	test_pads();
	test_index_wrap();
	test_batch();
	test_kick();
	test_bad_prod();
	test_bad_cons();
	test_bad_records();
	test_bad_meta();
	test_meta_check();
	test_meta_cases();
	test_csum_finish();
	test_bad_epochs();
	test_overwritten_words();
	test_torn();
	test_random_bytes();
	test_threads();

	printf("ring_test: %lu checks, %lu failed\n", checks, failures);
	return failures ? 1 : 0;
}
