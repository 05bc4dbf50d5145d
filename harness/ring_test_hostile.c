// SPDX-License-Identifier: GPL-2.0-only
/*
 * ring_test: hostile input (indices, records, metadata, epochs, words, torn
 * writes, random bytes) and two threads, with resets and a vandal.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>

#include "ring_test.h"

/* ---- hostile input ------------------------------------------------------------ */

/* Fills the ring with a few frames and returns the offset of the first. */
static u32 prime(struct ring *r, u32 frames)
{
	u32 off = r->tx.prod & (RING_SIZE - 1), i;

	for (i = 0; i < frames; i++)
		CHECK_EQ(send_frame(r, 100, i), 0);
	return off;
}

void test_bad_prod(void)
{
	static const u32 deltas[] = { RING_SIZE + 8, 4, 0xfffffff8U, 0x80000000U, 3 };
	struct ring r;
	u32 i;

	for (i = 0; i < 5; i++) {
		ring_open(&r);
		prime(&r, 3);
		r.p->prod = KVMRING_POS(0, r.rx.cons + deltas[i]);
		CHECK_EQ(ringnet_rx_dequeue(&r.rx, dst, sizeof(dst), NULL), 0);
		CHECK_EQ(r.rx.stats.bad_index, 1);
		CHECK_EQ(r.rx.stats.resets, 1);
		CHECK(KVMRING_POS_EPOCH(r.c->cons) == 1 && r.c->cons_epoch == 1, "no reset asked");
		/* the producer follows at its next publish */
		CHECK_EQ(send_frame(&r, 100, 9), 0);
		CHECK_EQ(r.tx.stats.reset_follows, 1);
		CHECK_EQ(KVMRING_POS_EPOCH(r.p->prod), 1);
		CHECK_EQ(r.p->prod_epoch, 1);
		check_recovers(&r);
		ring_close(&r);
	}
}

void test_bad_cons(void)
{
	static const u32 deltas[] = { 8, RING_SIZE * 2, 0x7ffffff8U, 5 };
	struct ring r;
	u32 i;

	for (i = 0; i < 4; i++) {
		ring_open(&r);
		prime(&r, 3);
		/* the consumer index moves beyond the producer's */
		r.c->cons = KVMRING_POS(0, r.tx.prod + deltas[i]);
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
void test_bad_records(void)
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
		CHECK(KVMRING_POS_INDEX(r.c->cons) == r.tx.prod, "%s: no resync", cases[i].what);
		CHECK(!r.rx.stats.resets && !r.tx.stats.resets, "%s: reset", cases[i].what);
		check_recovers(&r);
		ring_close(&r);
	}

	/* records that meet the end of the data area */
	for (i = 0; i < sizeof(at_end) / sizeof(at_end[0]); i++) {
		ring_open(&r);
		r.p->prod = r.c->cons = KVMRING_POS(0, RING_SIZE - 1024);
		CHECK_EQ(harness_tx_attach(&r.tx, &r.hr, RING_SIZE), 0);
		CHECK_EQ(harness_rx_attach(&r.rx, &r.hr, RING_SIZE), 0);
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
void test_bad_meta(void)
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
void test_bad_epochs(void)
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
				r.p->prod = KVMRING_POS(values[i], r.p->prod);
			if (which & 2)
				r.c->cons = KVMRING_POS(values[i] ^ 0x80000000U, r.c->cons);
			if (which & 4)
				r.p->prod_epoch = values[i];
			if (which & 8)
				r.c->cons_epoch = values[i] + 1;
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
void test_overwritten_words(void)
{
	struct ring r;
	u32 n = 0, i;

	/* a full producer whose word reads 0: the consumer sees an empty ring */
	ring_open(&r);
	while (!send_frame(&r, 1500, n) && n < RING_SIZE)
		n++;
	r.p->prod = KVMRING_POS(0, 0);
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
	r.c->cons = KVMRING_POS(0, 12345);
	CHECK(!ringnet_tx_has_room(&r.tx, 1500), "room while the word is old");
	CHECK_EQ(ringnet_rx_dequeue(&r.rx, dst, sizeof(dst), NULL), 0);	/* idle: restates */
	CHECK_EQ(KVMRING_POS_EPOCH(r.c->cons), 1);
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
void test_torn(void)
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
		CHECK_EQ(KVMRING_POS_INDEX(r.c->cons), r.tx.prod);
		check_recovers(&r);
		ring_close(&r);
	}
}

/* Random bytes over the halves and the data, between random operations. */
void test_random_bytes(void)
{
	struct ringnet_frame f;
	struct ring r;
	u32 round, op, i, n;

	ring_open(&r);
	for (round = 0; round < 20000; round++) {
		n = rng() % 4;
		for (i = 0; i < n; i++) {
			if (rng() % 4 == 0)	/* the halves */
				*harness_ring_byte(&r.hr, rng() % HARNESS_RING_HALVES) = (u8)rng();
			else
				r.data[rng() % RING_SIZE] = (u8)rng();
		}
		if (rng() % 64 == 0)	/* a whole word of the halves */
			*(u32 *)harness_ring_byte(&r.hr, rng() % (HARNESS_RING_HALVES / 4) * 4) = (u32)rng();
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

/* ---- two threads ---------------------------------------------------------------- */

struct flow {
	struct ring	*r;
	u32		frames;
	bool		resets;		/* the consumer resets the ring now and then */
	bool		hostile;	/* a third thread scribbles over the ring */
	volatile bool	stop;		/* the consumer is done */
	volatile bool	sent_all;	/* the producer is done */
	volatile u32	hits;		/* the vandal's writes into the ring's halves */
	u32		got, bad, out_of_order;
	u64		deadline_ns;
};

static void *flow_producer(void *arg)
{
	struct flow *fl = arg;
	u32 seq = 0, len;
	void *p;

	/*
	 * With a vandal, send until it has hit the halves often enough: on a busy
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
			u32 off = (x >> 20) % (HARNESS_RING_HALVES / 4) * 4;

			*(volatile u32 *)harness_ring_byte(&fl->r->hr, off) = (u32)(x >> 32);
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

void test_threads(void)
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
	CHECK(fl.hits >= 2000, "the vandal hit the halves %u times in 10 s", fl.hits);
	CHECK(rx_errors(&r) + tx_errors(&r) > 0, "vandal went unnoticed");
	check_recovers(&r);
	ring_close(&r);
}
