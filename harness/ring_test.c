// SPDX-License-Identifier: GPL-2.0-only
/*
 * ring_test - unit tests of the ring core (guest-netdev/ringnet_ring.c) in
 * userspace, built with AddressSanitizer and UBSan: every hostile input must
 * end in a counted drop or a ring reset, and any access outside the ring is
 * an ASan report and a non-zero exit.
 *
 * Rings are laid out as ABI v2 lays them out, the producer's half and the
 * data in one queue block, the consumer's half in another (harness.h); the
 * blocks are allocated with exactly their size, so ASan's redzones sit
 * right after the data area. Prints "ring_test: N checks, F failed" and
 * exits 0 only if F is 0.
 *
 * This file holds the shared fixtures (ring_test.h) and main(); the tests
 * are in ring_test_ops.c (normal operation), ring_test_join.c,
 * ring_test_split.c (each end against a read-only mapping of the other's
 * memory), ring_test_hostile.c (hostile input, two threads) and
 * ring_test_meta.c (metadata checks and checksums).
 */
#define _GNU_SOURCE
#include "ring_test.h"

unsigned long checks, failures;

u8 src[2 * KVMRING_FRAME_MAX];
u8 dst[KVMRING_FRAME_MAX];

static u64 rng_state = 0x9e3779b97f4a7c15ULL;

u64 rng(void)
{
	/* xorshift64*: deterministic, so a failure reproduces */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

void ring_open(struct ring *r)
{
	memset(r, 0, sizeof(*r));
	if (harness_ring_alloc(&r->hr, RING_SIZE))
		abort();
	r->p = &r->hr.prod_q->tx;
	r->c = &r->hr.cons_q->rx;
	r->data = harness_queue_data(r->hr.prod_q);
	CHECK_EQ(harness_tx_attach(&r->tx, &r->hr, RING_SIZE), 0);
	CHECK_EQ(harness_rx_attach(&r->rx, &r->hr, RING_SIZE), 0);
}

void ring_close(struct ring *r)
{
	harness_ring_free(&r->hr);
}

/* Sends len bytes of src starting at seed % 4096; checks the frame that comes out. */
int send_frame(struct ring *r, u32 len, u32 seed)
{
	return ringnet_tx_enqueue(&r->tx, src + seed % 4096, len, NULL);
}

bool recv_frame(struct ring *r, u32 len, u32 seed)
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
u64 rx_errors(const struct ring *r)
{
	static const char *const names[] = { "bad_desc", "bad_meta", "dropped", "bad_index",
					     "resets", "reset_follows", NULL };

	return sum_stats(&r->rx.stats, ringnet_rx_stat_desc, RINGNET_RX_NSTATS, names);
}

u64 tx_errors(const struct ring *r)
{
	static const char *const names[] = { "bad_index", "resets", "reset_follows", NULL };

	return sum_stats(&r->tx.stats, ringnet_tx_stat_desc, RINGNET_TX_NSTATS, names);
}

/* After whatever happened, the ring carries frames again within a few rounds. */
void check_recovers(struct ring *r)
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

int main(void)
{
	size_t i;

	for (i = 0; i < sizeof(src); i++)
		src[i] = (u8)rng();

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
	test_publish_early();
	test_kick();
	test_split();
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
