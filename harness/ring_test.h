/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ring_test.h - what the files of ring_test share: a ring of exactly its
 * size in ABI v2's queue blocks (harness.h), the frames sent through it, a
 * deterministic random source, the error counters and the recovery check
 * (ring_test.c), and the tests that main() runs, by file.
 */
#ifndef RINGNET_HARNESS_RING_TEST_H
#define RINGNET_HARNESS_RING_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "check.h"

#define RING_SIZE	KVMRING_RING_SIZE_MIN

struct ring {
	struct harness_ring		hr;	/* the producer's and the consumer's queue blocks */
	struct kvmring_ring_prod	*p;	/* the producer's half, in hr.prod_q */
	struct kvmring_ring_cons	*c;	/* the consumer's half, in hr.cons_q */
	u8				*data;
	struct ringnet_tx		tx;
	struct ringnet_rx		rx;
};

extern u8 src[2 * KVMRING_FRAME_MAX];
extern u8 dst[KVMRING_FRAME_MAX];

u64 rng(void);
void ring_open(struct ring *r);
void ring_close(struct ring *r);
int send_frame(struct ring *r, u32 len, u32 seed);
bool recv_frame(struct ring *r, u32 len, u32 seed);
u64 rx_errors(const struct ring *r);
u64 tx_errors(const struct ring *r);
void check_recovers(struct ring *r);

/* ring_test_ops.c: normal operation */
void test_attach(void);
void test_attach_corrupt(void);
void test_meta_roundtrip(void);
void test_every_size(void);
void test_full(void);
void test_occupancy(void);
void test_pads(void);
void test_index_wrap(void);
void test_batch(void);
void test_publish_early(void);
void test_kick(void);

/* ring_test_join.c: joining */
void test_join(void);

/* ring_test_hostile.c: hostile input and two threads */
void test_bad_prod(void);
void test_bad_cons(void);
void test_bad_records(void);
void test_bad_meta(void);
void test_bad_epochs(void);
void test_overwritten_words(void);
void test_torn(void);
void test_random_bytes(void);
void test_threads(void);

/* ring_test_split.c: each end against a read-only mapping of the other's memory */
void test_split(void);

/* ring_test_meta.c: metadata */
void test_meta_check(void);
void test_meta_cases(void);
void test_csum_finish(void);

#endif /* RINGNET_HARNESS_RING_TEST_H */
