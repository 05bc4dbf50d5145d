// SPDX-License-Identifier: GPL-2.0-only
/*
 * ring_race - ringnet.ko's locking model around one ring, with pthreads,
 * under ThreadSanitizer (clang -fsanitize=thread).
 *
 * The driver serialises the producer end of a ring with the peer's tx_lock
 * and the consumer end with its rx_lock; the core itself takes no locks.
 * Threads here stand for the driver's contexts:
 *
 *   unicast    ndo_start_xmit to this peer: one frame per lock hold, then,
 *              still locked, no room for a maximal frame stops its queue
 *   broadcast  ndo_start_xmit of a broadcast: one frame per lock hold
 *   xdp        ndo_xdp_xmit: a bulk of frames, each under the lock
 *   waker      our NAPI poll: while the unicast queue is stopped, asks
 *              ringnet_tx_has_room() under the lock and wakes it
 *   consumer   the peer's NAPI poll: up to 64 frames per rx_lock hold
 *   peer work  the peer-table work: re-attaches both ends under their locks
 *
 * has_room can look at the consumer's word (refresh), which may restart the
 * ring or rewrite the producer's word from tx->published: outside the lock
 * that races with a producer between commit and publish. --unlocked-room
 * makes the waker call it without the lock, as the driver once did; TSan
 * must then report a data race (exit status 66, at the first report).
 *
 * Every frame carries its producer and sequence number (harness.h); the
 * consumer checks it is intact and the next of its producer. Producers
 * retry a frame the ring has no room for (rather than drop it, as the
 * driver does), so that with no hostile writer nothing may be lost,
 * damaged, repeated or reordered, and no end may count a reset, a bad
 * index or a bad record.
 *
 * The consumer lets the ring fill until the unicast queue stops, every
 * few bursts, so the stop/wake path runs at each cycle whatever the speed
 * of the machine. The run stops by itself: after --seconds (default 3, at
 * most 10) or RACE_FRAMES frames; a stop still unanswered RACE_GRACE_NS
 * after that fails the run rather than hang it (--wedge, a consumer that
 * never consumes, shows it). Prints one summary line; exits 0 only if
 * every check passed and the queue stopped at least once.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

#define RACE_RING	KVMRING_RING_SIZE_MIN
#define RACE_FRAMES	400000		/* all producers together */
#define RACE_BUDGET	64		/* frames per consumer lock hold, as NAPI's */
#define RACE_XDP_BULK	16
#define RACE_FILL_EVERY	4		/* bursts between waits for a full ring */
#define RACE_SECONDS_MAX 10
#define RACE_GRACE_NS	(20 * 1000000000ULL)	/* for the last stop's wake, after time is up */

enum { RACE_UNICAST, RACE_BROADCAST, RACE_XDP, RACE_PRODUCERS };

static const char *const race_names[RACE_PRODUCERS] = { "unicast", "broadcast", "xdp" };

struct race {
	struct harness_ring	ring;		/* in queue blocks, as ABI v2 lays it out */
	struct ringnet_tx	tx;
	pthread_mutex_t		tx_lock;
	struct ringnet_rx	rx;
	pthread_mutex_t		rx_lock;
	bool			unlocked_room;
	bool			wedge;		/* --wedge: the consumer never consumes */
	u64			deadline_ns;

	/* shared between threads: __atomic builtins only */
	bool			stop;		/* producers: time is up */
	bool			stopped;	/* the unicast queue waits for the waker */
	u32			sent_total;
	u32			producers_done;

	/* each written by one thread, read after the joins */
	u32			sent[RACE_PRODUCERS];
	u32			got[RACE_PRODUCERS];
	u64			stops, wakes, reattaches, bursts;
	u64			damaged, out_of_order;
	bool			unanswered;	/* the unicast queue stayed stopped past the grace */
};

/*
 * The first report ends the run (status 66). Under --unlocked-room the waker
 * also races with a re-attach that rewrites the whole ringnet_tx, and going
 * on after the report lets it follow a half-written pointer: a SEGV, whose
 * handler in TSan can deadlock with another thread's report and hang the run.
 */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "halt_on_error=1";
}

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

static bool race_over(struct race *r)
{
	if (LOAD(r->stop))
		return true;
	if (harness_now_ns() >= r->deadline_ns || LOAD(r->sent_total) >= RACE_FRAMES) {
		STORE(r->stop, true);
		return true;
	}
	return false;
}

static u32 race_len(u32 id, u32 seq)
{
	switch (id) {
	case RACE_UNICAST:	/* MTU-sized mostly, now and then a GSO super-frame */
		/* a maximal one is a quarter of the ring: its commit publishes it */
		if (seq % 256 == 255)
			return KVMRING_FRAME_MAX;
		return seq % 64 == 63 ? 9000 + seq % 50000 : 60 + (seq * 997) % 1455;
	case RACE_BROADCAST:	/* ARP, neighbour discovery */
		return 60 + seq % 30;
	default:
		return 64 + (seq * 131) % 1437;
	}
}

/* One frame under the lock; false if the ring had no room (nothing sent). */
static bool race_send(struct race *r, u32 id)
{
	u32 seq = r->sent[id], len = race_len(id, seq);
	void *p;

	if (ringnet_tx_reserve(&r->tx, len, &p))
		return false;
	harness_frame_fill(p, len, id << 30 | seq);
	ringnet_tx_commit(&r->tx, NULL);
	/* Always published before the lock goes: a re-attach resumes at the published index. */
	ringnet_tx_publish(&r->tx);
	r->sent[id]++;
	__atomic_add_fetch(&r->sent_total, 1, __ATOMIC_RELAXED);
	return true;
}

static void *race_unicast(void *arg)
{
	struct race *r = arg;
	bool sent, full;

	while (!race_over(r)) {
		pthread_mutex_lock(&r->tx_lock);
		sent = race_send(r, RACE_UNICAST);
		/* netif_tx_stop_queue() while the ring cannot take a maximal frame */
		full = !ringnet_tx_has_room(&r->tx, KVMRING_FRAME_MAX);
		if (full) {
			STORE(r->stopped, true);
			r->stops++;
		}
		pthread_mutex_unlock(&r->tx_lock);
		while (full && LOAD(r->stopped) && !race_over(r))
			sched_yield();
		if (!sent && !full)
			sched_yield();
	}
	/*
	 * A queue stopped when time ran out is woken like any other: the
	 * consumer and the waker run until every producer is done, so the run
	 * ends with each stop answered (on a loaded machine the one stop may
	 * come last). A ring the race has broken may never show room again
	 * (--unlocked-room corrupts it on purpose): after a grace the stop is
	 * counted as unanswered, a failure, and the run still ends.
	 */
	while (LOAD(r->stopped)) {
		if (harness_now_ns() >= r->deadline_ns + RACE_GRACE_NS) {
			r->unanswered = true;
			break;
		}
		sched_yield();
	}
	__atomic_add_fetch(&r->producers_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *race_broadcast(void *arg)
{
	struct race *r = arg;
	bool sent;

	while (!race_over(r)) {
		pthread_mutex_lock(&r->tx_lock);
		sent = race_send(r, RACE_BROADCAST);
		pthread_mutex_unlock(&r->tx_lock);
		if (!sent)
			sched_yield();
	}
	__atomic_add_fetch(&r->producers_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *race_xdp(void *arg)
{
	struct race *r = arg;
	u32 i;

	while (!race_over(r)) {
		/* a bulk, each frame under the lock as ringnet_xdp_xmit() does; stop at the first refused */
		for (i = 0; i < RACE_XDP_BULK; i++) {
			bool sent;

			pthread_mutex_lock(&r->tx_lock);
			sent = race_send(r, RACE_XDP);
			pthread_mutex_unlock(&r->tx_lock);
			if (!sent) {
				sched_yield();
				break;
			}
		}
	}
	__atomic_add_fetch(&r->producers_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *race_waker(void *arg)
{
	struct race *r = arg;
	bool room;

	while (LOAD(r->producers_done) < RACE_PRODUCERS) {
		if (!LOAD(r->stopped)) {
			sched_yield();
			continue;
		}
		if (r->unlocked_room) {
			room = ringnet_tx_has_room(&r->tx, KVMRING_FRAME_MAX);	/* the old bug */
		} else {
			pthread_mutex_lock(&r->tx_lock);
			room = ringnet_tx_has_room(&r->tx, KVMRING_FRAME_MAX);
			pthread_mutex_unlock(&r->tx_lock);
		}
		if (room) {
			STORE(r->stopped, false);
			r->wakes++;
		} else {
			sched_yield();
		}
	}
	return NULL;
}

static u8 race_buf[RACE_BUDGET][KVMRING_FRAME_MAX];

/* Checks a delivered frame: intact, and the next one of its producer. */
static void race_check(struct race *r, const u8 *p, u32 len)
{
	u32 tag, id, seq;

	if (len < 8 || !harness_frame_intact(p, len, &tag)) {
		r->damaged++;
		return;
	}
	id = tag >> 30;
	seq = tag & 0x3fffffff;
	if (id >= RACE_PRODUCERS || len != race_len(id, seq)) {
		r->damaged++;
		return;
	}
	if (seq != r->got[id])
		r->out_of_order++;
	r->got[id] = seq + 1;
}

/* One NAPI poll: up to RACE_BUDGET frames copied out under the lock, checked outside it. */
static u32 race_poll(struct race *r)
{
	struct ringnet_frame f;
	u32 n = 0, lens[RACE_BUDGET], i;

	pthread_mutex_lock(&r->rx_lock);
	while (n < RACE_BUDGET && ringnet_rx_peek(&r->rx, &f) == 1) {
		memcpy(race_buf[n], f.data, f.len);
		lens[n++] = f.len;
		ringnet_rx_consume(&r->rx);
	}
	ringnet_rx_publish(&r->rx);
	pthread_mutex_unlock(&r->rx_lock);
	for (i = 0; i < n; i++)
		race_check(r, race_buf[i], lens[i]);
	return n;
}

static void *race_consumer(void *arg)
{
	struct race *r = arg;

	while (LOAD(r->producers_done) < RACE_PRODUCERS) {
		if (r->wedge) {		/* a consumer that never comes back */
			sched_yield();
			continue;
		}
		/* Every few bursts let the ring fill until the unicast queue stops, or time is up. */
		if (r->bursts++ % RACE_FILL_EVERY == 0)
			while (!LOAD(r->stopped) && !LOAD(r->stop))
				sched_yield();
		if (!race_poll(r))
			sched_yield();
	}
	return NULL;
}

static void *race_peer_work(void *arg)
{
	struct race *r = arg;

	while (LOAD(r->producers_done) < RACE_PRODUCERS) {
		usleep(500);
		pthread_mutex_lock(&r->tx_lock);
		harness_tx_attach(&r->tx, &r->ring, RACE_RING);
		pthread_mutex_unlock(&r->tx_lock);
		pthread_mutex_lock(&r->rx_lock);
		harness_rx_attach(&r->rx, &r->ring, RACE_RING);
		pthread_mutex_unlock(&r->rx_lock);
		r->reattaches++;
	}
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: ring_race [--unlocked-room] [--wedge] [--seconds N (1..%d)]\n", RACE_SECONDS_MAX);
	exit(2);
}

int main(int argc, char **argv)
{
	void *(*const fns[])(void *) = { race_unicast, race_broadcast, race_xdp, race_waker,
					 race_consumer, race_peer_work };
	pthread_t threads[ARRAY_SIZE(fns)];
	struct ringnet_tx_stats tx0, tx = { 0 };
	struct ringnet_rx_stats rx0, rx = { 0 };
	struct race *r;
	u32 seconds = 3, i, tail;
	u64 sent = 0, got = 0, lost = 0, bad_counters;
	int a;

	r = calloc(1, sizeof(*r));
	if (!r)
		return 1;
	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--unlocked-room"))
			r->unlocked_room = true;
		else if (!strcmp(argv[a], "--wedge"))
			r->wedge = true;
		else if (!strcmp(argv[a], "--seconds") && a + 1 < argc)
			seconds = (u32)atoi(argv[++a]);
		else
			usage();
	}
	if (seconds < 1 || seconds > RACE_SECONDS_MAX)
		usage();

	if (harness_ring_alloc(&r->ring, RACE_RING))
		return 1;
	pthread_mutex_init(&r->tx_lock, NULL);
	pthread_mutex_init(&r->rx_lock, NULL);
	if (harness_tx_attach(&r->tx, &r->ring, RACE_RING) ||
	    harness_rx_attach(&r->rx, &r->ring, RACE_RING))
		return 1;
	/*
	 * New owners of both ends, as at a join; the producer follows the
	 * consumer's renewal at its first publish, before traffic starts.
	 * Counters from here on.
	 */
	ringnet_tx_renew(&r->tx);
	ringnet_rx_renew(&r->rx);
	ringnet_tx_publish(&r->tx);
	race_poll(r);
	tx0 = r->tx.stats;
	rx0 = r->rx.stats;
	r->deadline_ns = harness_now_ns() + seconds * 1000000000ULL;

	for (i = 0; i < ARRAY_SIZE(fns); i++)
		if (pthread_create(&threads[i], NULL, fns[i], r))
			return 1;
	for (i = 0; i < ARRAY_SIZE(fns); i++)
		pthread_join(threads[i], NULL);

	/* Everyone is gone: take what is left; then the ring must be empty. */
	for (tail = 0; tail < RACE_RING / 16 && (race_poll(r) || ringnet_rx_used(&r->rx)); tail++)
		;
	for (i = 0; i < RACE_PRODUCERS; i++) {
		sent += r->sent[i];
		got += r->got[i];
		lost += r->sent[i] - r->got[i];
	}
	tx.resets = r->tx.stats.resets - tx0.resets;
	tx.bad_index = r->tx.stats.bad_index - tx0.bad_index;
	tx.reset_follows = r->tx.stats.reset_follows - tx0.reset_follows;
	rx.resets = r->rx.stats.resets - rx0.resets;
	rx.bad_index = r->rx.stats.bad_index - rx0.bad_index;
	rx.reset_follows = r->rx.stats.reset_follows - rx0.reset_follows;
	rx.bad_desc = r->rx.stats.bad_desc - rx0.bad_desc;
	rx.bad_meta = r->rx.stats.bad_meta - rx0.bad_meta;
	rx.dropped = r->rx.stats.dropped - rx0.dropped;
	bad_counters = tx.resets + tx.bad_index + tx.reset_follows + rx.resets + rx.bad_index +
		       rx.reset_follows + rx.bad_desc + rx.bad_meta + rx.dropped;

	printf("ring_race%s: %llu frames sent, %llu delivered (", r->unlocked_room ? " --unlocked-room" : "",
	       (unsigned long long)sent, (unsigned long long)got);
	for (i = 0; i < RACE_PRODUCERS; i++)
		printf("%s%s %u", i ? ", " : "", race_names[i], r->got[i]);
	printf("), %llu stops, %llu wakes, %llu re-attaches; %llu damaged, %llu out of order, "
	       "%llu lost; tx resets %llu bad_index %llu follows %llu; rx resets %llu bad_index %llu "
	       "follows %llu bad_desc %llu bad_meta %llu dropped %llu\n",
	       (unsigned long long)r->stops, (unsigned long long)r->wakes,
	       (unsigned long long)r->reattaches, (unsigned long long)r->damaged,
	       (unsigned long long)r->out_of_order, (unsigned long long)lost,
	       (unsigned long long)tx.resets, (unsigned long long)tx.bad_index,
	       (unsigned long long)tx.reset_follows, (unsigned long long)rx.resets,
	       (unsigned long long)rx.bad_index, (unsigned long long)rx.reset_follows,
	       (unsigned long long)rx.bad_desc, (unsigned long long)rx.bad_meta,
	       (unsigned long long)rx.dropped);
	if (!r->stops)
		fprintf(stderr, "ring_race: the ring never filled: the stop/wake path did not run\n");
	if (r->unanswered)
		fprintf(stderr, "ring_race: the unicast queue was still stopped %llu s after time was up: "
			"the waker never saw room again\n", RACE_GRACE_NS / 1000000000ULL);
	return r->unanswered || r->damaged || r->out_of_order || lost || bad_counters || !r->stops ||
	       ringnet_rx_used(&r->rx) ? 1 : 0;
}
