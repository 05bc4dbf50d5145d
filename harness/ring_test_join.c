// SPDX-License-Identifier: GPL-2.0-only
/*
 * ring_test: joining, every sequence of renew, re-attach, traffic and poll
 * by two guests.
 */
#define _GNU_SOURCE
#include "ring_test.h"

/* ---- joining: renew and re-attach --------------------------------------------- */

/*
 * Two guests, A in slot 0 and B in slot 1, and their two rings in their queue
 * blocks, as in their owned regions. A guest that joins (a new generation of
 * its slot: it booted, or loaded ringnet again) attaches and renews its end
 * of both rings; a guest that sees the other come up re-attaches both. Those
 * are the only calls honest guests make, in whatever order, so none of them
 * may count a reset or a bad index, and frames must flow afterwards.
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

/* Guest x's queue block holds its half of both rings and the data of ring[x]. */
struct join {
	struct kvmring_queue_ctl	*block[2];
	struct harness_ring		ring[2];	/* ring[x]: guest x -> guest !x */
	struct join_guest		g[2];
	bool				bad;		/* a received frame was wrong */
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
	CHECK_EQ(harness_tx_attach(&j->g[x].tx, &j->ring[x], RING_SIZE), 0);
	CHECK_EQ(harness_rx_attach(&j->g[x].rx, &j->ring[!x], RING_SIZE), 0);
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
		struct kvmring_queue_ctl *q = j->block[x];

		/* guest x's halves: the producer's of ring[x], the consumer's of ring[!x] */
		memset(q, 0, sizeof(*q));
		q->tx.prod = q->rx.cons = KVMRING_POS(e, 0);
		q->tx.prod_epoch = q->rx.cons_epoch = e;
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

void test_join(void)
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
		j.block[x] = calloc(1, KVMRING_QUEUE_CTL_SIZE + RING_SIZE);
		if (!j.block[x])
			abort();
	}
	for (x = 0; x < 2; x++)
		j.ring[x] = (struct harness_ring){ .prod_q = j.block[x], .cons_q = j.block[!x] };

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
		free(j.block[x]);
}
