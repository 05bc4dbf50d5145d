// SPDX-License-Identifier: GPL-2.0-only
/*
 * ring_test: normal operation: attach, every frame size, full and empty,
 * occupancy, pads, index wrap, batches and the kick protocol.
 */
#define _GNU_SOURCE
#include "ring_test.h"

/* ---- normal operation ------------------------------------------------------------ */

void test_attach(void)
{
	struct ring r;
	u8 buf[64];

	ring_open(&r);
	CHECK_EQ(harness_tx_attach(&r.tx, &r.hr, RING_SIZE / 2), -EINVAL);
	CHECK_EQ(harness_tx_attach(&r.tx, &r.hr, RING_SIZE + 8), -EINVAL);
	CHECK_EQ(harness_rx_attach(&r.rx, &r.hr, KVMRING_RING_SIZE_MAX * 2), -EINVAL);
	CHECK_EQ(harness_tx_attach(&r.tx, &r.hr, RING_SIZE), 0);
	CHECK_EQ(harness_rx_attach(&r.rx, &r.hr, RING_SIZE), 0);
	/* an empty ring */
	CHECK_EQ(ringnet_rx_dequeue(&r.rx, buf, sizeof(buf), NULL), 0);
	CHECK(!ringnet_rx_arm(&r.rx), "armed an empty ring and found data");
	CHECK_EQ(rx_errors(&r) + tx_errors(&r), 0);

	/* a consumer that comes back resumes where its predecessor released */
	CHECK_EQ(send_frame(&r, 60, 1), 0);
	CHECK_EQ(send_frame(&r, 61, 2), 0);
	recv_frame(&r, 60, 1);
	CHECK_EQ(harness_rx_attach(&r.rx, &r.hr, RING_SIZE), 0);
	recv_frame(&r, 61, 2);
	/* and so does a producer */
	CHECK_EQ(harness_tx_attach(&r.tx, &r.hr, RING_SIZE), 0);
	CHECK_EQ(send_frame(&r, 62, 3), 0);
	recv_frame(&r, 62, 3);
	CHECK_EQ(rx_errors(&r) + tx_errors(&r), 0);

	/* a producer that finds a newer consumer epoch follows it */
	r.c->cons = KVMRING_POS(5, 0);
	CHECK_EQ(harness_tx_attach(&r.tx, &r.hr, RING_SIZE), 0);
	CHECK_EQ(r.tx.stats.reset_follows, 1);
	CHECK_EQ(r.p->prod, KVMRING_POS(5, 0));
	CHECK_EQ(r.p->prod_epoch, 5);
	CHECK_EQ(harness_rx_attach(&r.rx, &r.hr, RING_SIZE), 0);
	CHECK_EQ(r.rx.stats.resets + r.rx.stats.reset_follows, 0);
	check_recovers(&r);

	/*
	 * one that finds the consumer in an older epoch reads it as its own
	 * reset, not yet followed: it waits for it again, and counts nothing
	 */
	r.c->cons = KVMRING_POS(4, 0);
	CHECK_EQ(harness_tx_attach(&r.tx, &r.hr, RING_SIZE), 0);
	CHECK_EQ(r.tx.stats.resets, 0);
	CHECK(r.tx.resetting, "producer does not wait for the consumer");
	CHECK_EQ(KVMRING_POS_EPOCH(r.p->prod), 5);
	CHECK_EQ(harness_rx_attach(&r.rx, &r.hr, RING_SIZE), 0);
	CHECK_EQ(r.rx.stats.reset_follows, 1);
	CHECK_EQ(r.c->cons, KVMRING_POS(5, 0));
	CHECK_EQ(r.c->cons_epoch, 5);
	check_recovers(&r);
	ring_close(&r);
}

/*
 * Word pairs that no sequence of resets explains: attach restarts the ring
 * and counts it, on either end.
 */
void test_attach_corrupt(void)
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
		r.p->prod = cases[i].prod;
		r.c->cons = cases[i].cons;
		if (cases[i].producer) {
			CHECK_EQ(harness_tx_attach(&r.tx, &r.hr, RING_SIZE), 0);
			CHECK(r.tx.stats.resets == 1, "%s: %llu resets", cases[i].what,
			      (unsigned long long)r.tx.stats.resets);
			CHECK(r.p->prod == KVMRING_POS(KVMRING_POS_EPOCH(cases[i].prod) + 1, 0),
			      "%s: prod %#llx", cases[i].what, (unsigned long long)r.p->prod);
		} else {
			CHECK_EQ(harness_rx_attach(&r.rx, &r.hr, RING_SIZE), 0);
			CHECK(r.rx.stats.resets == 1, "%s: %llu resets", cases[i].what,
			      (unsigned long long)r.rx.stats.resets);
			CHECK(r.c->cons == KVMRING_POS(KVMRING_POS_EPOCH(cases[i].cons) + 1, 0),
			      "%s: cons %#llx", cases[i].what, (unsigned long long)r.c->cons);
		}
		check_recovers(&r);
		ring_close(&r);
	}
}

void test_meta_roundtrip(void)
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
void test_every_size(void)
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
void test_full(void)
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
void test_occupancy(void)
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
	saved = r.c->cons;
	r.c->cons = KVMRING_POS(7, KVMRING_POS_INDEX(saved));
	CHECK_EQ(ringnet_tx_used(&r.tx), 0);
	r.c->cons = KVMRING_POS(0, r.tx.published + 8);
	CHECK_EQ(ringnet_tx_used(&r.tx), 0);
	r.c->cons = saved;
	saved = r.p->prod;
	r.p->prod = KVMRING_POS(0, r.rx.cons + RING_SIZE + 8);
	CHECK_EQ(ringnet_rx_used(&r.rx), 0);
	r.p->prod = KVMRING_POS(0, r.rx.cons + 4);
	CHECK_EQ(ringnet_rx_used(&r.rx), 0);
	r.p->prod = saved;
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
void test_pads(void)
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
void test_index_wrap(void)
{
	const u32 start = 0xfffff000U;
	struct ring r;
	u32 i;

	ring_open(&r);
	r.p->prod = KVMRING_POS(0, start);
	r.c->cons = KVMRING_POS(0, start);
	CHECK_EQ(harness_tx_attach(&r.tx, &r.hr, RING_SIZE), 0);
	CHECK_EQ(harness_rx_attach(&r.rx, &r.hr, RING_SIZE), 0);
	CHECK_EQ(r.tx.prod, start);
	for (i = 0; i < 2000; i++) {
		CHECK_EQ(send_frame(&r, 1000 + i % 700, i), 0);
		CHECK_EQ(send_frame(&r, 60, i + 1), 0);
		recv_frame(&r, 1000 + i % 700, i);
		recv_frame(&r, 60, i + 1);
	}
	CHECK(r.tx.prod < start && r.tx.prod > 1 << 20, "prod %#x did not wrap", r.tx.prod);
	CHECK_EQ(KVMRING_POS_INDEX(r.c->cons), r.tx.prod);
	CHECK_EQ(rx_errors(&r) + tx_errors(&r), 0);
	ring_close(&r);
}

/* Reserve, commit and publish: nothing is visible before the publish. */
void test_batch(void)
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
	CHECK_EQ(r.tx.stats.publishes, 0);
	ringnet_tx_publish(&r.tx);
	/* one store for the batch; a publish with nothing new stores nothing */
	CHECK_EQ(r.tx.stats.publishes, 1);
	ringnet_tx_publish(&r.tx);
	CHECK_EQ(r.tx.stats.publishes, 1);
	for (i = 0; i < 32; i++) {
		CHECK_EQ(ringnet_rx_peek(&r.rx, &f), 1);
		CHECK(f.len == 64 && !memcmp(f.data, src + i, 64), "frame %d", i);
		ringnet_rx_consume(&r.rx);
	}
	CHECK_EQ(ringnet_rx_peek(&r.rx, &f), 0);
	CHECK_EQ(KVMRING_POS_INDEX(r.c->cons), 0);	/* not published yet */
	ringnet_rx_publish(&r.rx);
	CHECK_EQ(KVMRING_POS_INDEX(r.c->cons), r.tx.prod);

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
	CHECK_EQ(KVMRING_POS_INDEX(r.c->cons), r.tx.prod);
	ring_close(&r);
}

/*
 * A batch that reaches a quarter of the ring is published in the middle, on
 * either end, so that large frames flow while the batch goes on.
 */
void test_publish_early(void)
{
	const u32 quarter = RING_SIZE / 4, rec = kvmring_rec_size(1500);
	u32 n = (quarter + rec - 1) / rec, i;	/* the commit that reaches a quarter */
	struct ringnet_frame f;
	struct ring r;
	void *p;

	ring_open(&r);
	for (i = 1; i <= n; i++) {
		CHECK_EQ(ringnet_tx_reserve(&r.tx, 1500, &p), 0);
		memcpy(p, src + i, 1500);
		ringnet_tx_commit(&r.tx, NULL);
		/* nothing shows before the quarter; all of it at once after */
		CHECK_EQ(KVMRING_POS_INDEX(r.p->prod), i < n ? 0 : n * rec);
	}
	CHECK_EQ(r.tx.stats.publishes, 1);
	for (i = 1; i <= n; i++) {
		CHECK_EQ(ringnet_rx_peek(&r.rx, &f), 1);
		CHECK(f.len == 1500 && !memcmp(f.data, src + i, 1500), "frame %u", i);
		ringnet_rx_consume(&r.rx);
		CHECK_EQ(KVMRING_POS_INDEX(r.c->cons), i < n ? 0 : n * rec);
	}
	/* a maximal frame is a quarter of the smallest ring: it goes out alone */
	CHECK_EQ(ringnet_tx_reserve(&r.tx, KVMRING_FRAME_MAX, &p), 0);
	memcpy(p, src, KVMRING_FRAME_MAX);
	ringnet_tx_commit(&r.tx, NULL);
	CHECK_EQ(KVMRING_POS_INDEX(r.p->prod), r.tx.prod);
	ring_close(&r);
}

void test_kick(void)
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
	CHECK_EQ(harness_rx_attach(&r.rx, &r.hr, RING_SIZE), 0);
	recv_frame(&r, 60, 4);
	CHECK(!ringnet_rx_arm(&r.rx), "arm found data");
	CHECK_EQ(send_frame(&r, 60, 5), 0);
	CHECK(ringnet_tx_kick_needed(&r.tx), "no kick for a new consumer");
	ring_close(&r);
}
