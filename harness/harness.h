/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * harness.h - what the userspace programs around the ring core share: rings
 * laid out as ABI v2 lays them out, a clock, and frames that carry their
 * sequence number and length followed by a pattern derived from them, so
 * that a receiver can tell an intact frame from a damaged one without
 * knowing what was sent.
 */
#ifndef RINGNET_HARNESS_H
#define RINGNET_HARNESS_H

#include <stdlib.h>
#include <time.h>

#include "ringnet_ring.h"

/*
 * A ring as an owned region of ABI v2 holds it (include/kvmring/abi.h): a
 * guest has a queue block per peer and queue pair, a struct kvmring_queue_ctl
 * page followed by the data of the ring it produces to that peer; the page
 * holds its producer's half of that ring (tx) and its consumer's half of the
 * ring back (rx). Ring x -> y is so x's block (tx, the data) and y's block
 * (rx), and two guests' blocks carry both their rings: { a, b } and { b, a }.
 */
struct harness_ring {
	struct kvmring_queue_ctl	*prod_q;	/* the producer's block: tx, then the data */
	struct kvmring_queue_ctl	*cons_q;	/* the consumer's block: rx */
};

/* The data area after a queue block's control page. */
static inline u8 *harness_queue_data(struct kvmring_queue_ctl *q)
{
	return (u8 *)q + KVMRING_QUEUE_CTL_SIZE;
}

/* The producer end of r, as ringnet.ko attaches it: its half and the data, theirs read-only. */
static inline int harness_tx_attach(struct ringnet_tx *tx, const struct harness_ring *r,
				    u32 ring_size)
{
	return ringnet_tx_attach(tx, &r->prod_q->tx, &r->cons_q->rx, harness_queue_data(r->prod_q),
				 ring_size);
}

/* The consumer end of r: its half, the producer's half and the data read-only. */
static inline int harness_rx_attach(struct ringnet_rx *rx, const struct harness_ring *r,
				    u32 ring_size)
{
	return ringnet_rx_attach(rx, &r->cons_q->rx, &r->prod_q->tx, harness_queue_data(r->prod_q),
				 ring_size);
}

/*
 * What a hostile writer of a ring can reach, as one span of bytes: offsets
 * below HARNESS_RING_HALVES are the producer's half, then the consumer's;
 * the ring_size bytes of data follow.
 */
#define HARNESS_RING_HALVES	(sizeof(struct kvmring_ring_prod) + sizeof(struct kvmring_ring_cons))

static inline u8 *harness_ring_byte(const struct harness_ring *r, u32 off)
{
	if (off < sizeof(struct kvmring_ring_prod))
		return (u8 *)&r->prod_q->tx + off;
	off -= sizeof(struct kvmring_ring_prod);
	if (off < sizeof(struct kvmring_ring_cons))
		return (u8 *)&r->cons_q->rx + off;
	return harness_queue_data(r->prod_q) + off - sizeof(struct kvmring_ring_cons);
}

/*
 * A zeroed ring (empty, at epoch 0), each block allocated with exactly its
 * size so that ASan's redzone follows the data; the consumer's block is
 * only its control page (the data of the ring back is not needed).
 */
static inline int harness_ring_alloc(struct harness_ring *r, u32 ring_size)
{
	r->prod_q = calloc(1, KVMRING_QUEUE_CTL_SIZE + (size_t)ring_size);
	r->cons_q = calloc(1, sizeof(*r->cons_q));
	if (r->prod_q && r->cons_q)
		return 0;
	free(r->prod_q);
	free(r->cons_q);
	return -ENOMEM;
}

static inline void harness_ring_free(struct harness_ring *r)
{
	free(r->prod_q);
	free(r->cons_q);
}

static inline u64 harness_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

/* len >= 8: seq, len, then the pattern. */
static inline void harness_frame_fill(u8 *p, u32 len, u32 seq)
{
	u32 i;

	memcpy(p, &seq, 4);
	memcpy(p + 4, &len, 4);
	for (i = 8; i < len; i++)
		p[i] = (u8)(seq * 131 + i);
}

/* True if p holds a frame of len bytes as harness_frame_fill() made it. */
static inline bool harness_frame_intact(const u8 *p, u32 len, u32 *seq)
{
	u32 i, l;

	memcpy(seq, p, 4);
	memcpy(&l, p + 4, 4);
	if (l != len)
		return false;
	for (i = 8; i < len; i++)
		if (p[i] != (u8)(*seq * 131 + i))
			return false;
	return true;
}

#endif /* RINGNET_HARNESS_H */
