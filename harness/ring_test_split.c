// SPDX-License-Identifier: GPL-2.0-only
/*
 * ring_test: each end of a ring against a read-only mapping of the other's
 * memory, as ABI v2 lays a ring out: the producer's half and the data in a
 * queue block of a region the producer owns, the consumer's half in the
 * control page of a queue block of one the consumer owns. Here each region
 * is a memfd mapped twice, read-write for its owner's end and read-only for
 * the other end, so a write by the ring core into memory its end does not
 * own faults. The fault is caught and counted as a failure that names what
 * was written.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ring_test.h"

/* One side's memory: its owner's writable view, the other end's read-only one. */
struct split_region {
	u8		*rw;
	const u8	*ro;
	size_t		size;
};

struct split {
	struct split_region	prod;	/* a queue block: its control page (tx), then the data */
	struct split_region	cons;	/* a queue block's control page (rx) */
	struct ring		r;	/* tx and rx only: the memory is the two regions above */
};

/* A region's queue block, through its owner's view or the other end's. */
#define SPLIT_Q(m)	((struct kvmring_queue_ctl *)(m))
#define SPLIT_RO_Q(m)	((const struct kvmring_queue_ctl *)(m))

static sigjmp_buf split_fault;
static void *volatile split_fault_addr;

static void split_segv(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	(void)ctx;
	split_fault_addr = si->si_addr;
	siglongjmp(split_fault, 1);
}

static void split_map(struct split_region *m, size_t size)
{
	int fd = memfd_create("ring_test_split", MFD_CLOEXEC);
	void *rw, *ro;

	if (fd < 0 || ftruncate(fd, size))
		abort();
	rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ro = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (rw == MAP_FAILED || ro == MAP_FAILED)
		abort();
	m->rw = rw;
	m->ro = ro;
	m->size = size;
}

static void split_unmap(struct split_region *m)
{
	munmap(m->rw, m->size);
	munmap((void *)m->ro, m->size);
}

/*
 * What a faulting write hit. Only the read-only views fault, and an end has
 * those of the other side's memory only: the consumer's of the producer's
 * half and the data, the producer's of the consumer's half.
 */
static const char *split_what(const struct split *s, const void *addr)
{
	const u8 *a = addr;

	if (a >= s->prod.ro && a < s->prod.ro + KVMRING_QUEUE_CTL_SIZE)
		return "the producer's half";
	if (a >= s->prod.ro && a < s->prod.ro + s->prod.size)
		return "the data";
	if (a >= s->cons.ro && a < s->cons.ro + s->cons.size)
		return "the consumer's half";
	return "neither region";
}

/* The producer: its half and the data writable, the consumer's half read-only. */
static int split_tx_attach(struct split *s)
{
	return ringnet_tx_attach(&s->r.tx, &SPLIT_Q(s->prod.rw)->tx, &SPLIT_RO_Q(s->cons.ro)->rx,
				 s->prod.rw + KVMRING_QUEUE_CTL_SIZE, RING_SIZE);
}

/* The consumer: its half writable, the producer's half and the data read-only. */
static int split_rx_attach(struct split *s)
{
	return ringnet_rx_attach(&s->r.rx, &SPLIT_Q(s->cons.rw)->rx, &SPLIT_RO_Q(s->prod.ro)->tx,
				 s->prod.ro + KVMRING_QUEUE_CTL_SIZE, RING_SIZE);
}

/* Everything either end does, each in its own memory only. */
static void split_exchange(struct split *s)
{
	/* A third party's pen (the host can write every region): each end's own memory. */
	struct kvmring_ring_prod *p = &SPLIT_Q(s->prod.rw)->tx;
	struct kvmring_ring_cons *c = &SPLIT_Q(s->cons.rw)->rx;
	struct ring *r = &s->r;
	struct ringnet_frame f;
	u32 i, n, len;
	u64 follows;
	void *buf;

	/* attach, and renew as a slot's new owners do */
	CHECK_EQ(split_tx_attach(s), 0);
	CHECK_EQ(split_rx_attach(s), 0);
	ringnet_tx_renew(&r->tx);
	ringnet_rx_renew(&r->rx);
	check_recovers(r);

	/* frames of many sizes through several wraps, pads included */
	for (i = 0; i < 2000; i++) {
		len = KVMRING_FRAME_MIN + (i * 7919) % 4000;
		CHECK_EQ(send_frame(r, len, i), 0);
		recv_frame(r, len, i);
	}
	CHECK(r->tx.prod > 3 * RING_SIZE, "prod %u: no wrap", r->tx.prod);

	/* full, then drained */
	for (n = 0; !send_frame(r, 1500, n); n++)
		;
	CHECK_EQ(r->tx.stats.full, 1);
	CHECK(!ringnet_tx_has_room(&r->tx, 1500), "room in a full ring");
	CHECK(ringnet_tx_used(&r->tx) > RING_SIZE - kvmring_rec_size(1500), "full ring not full");
	CHECK_EQ(ringnet_rx_used(&r->rx), ringnet_tx_used(&r->tx));
	for (i = 0; i < n; i++)
		recv_frame(r, 1500, i);
	CHECK(ringnet_tx_has_room(&r->tx, 1500), "no room after the drain");
	CHECK_EQ(ringnet_tx_used(&r->tx), 0);

	/* a batch: reserve, commit, publish; peek, consume, publish */
	for (i = 0; i < 16; i++) {
		CHECK_EQ(ringnet_tx_reserve(&r->tx, 64, &buf), 0);
		memcpy(buf, src + i, 64);
		ringnet_tx_commit(&r->tx, NULL);
	}
	ringnet_tx_publish(&r->tx);
	for (i = 0; i < 16; i++) {
		CHECK_EQ(ringnet_rx_peek(&r->rx, &f), 1);
		CHECK(f.len == 64 && !memcmp(f.data, src + i, 64), "batch frame %u", i);
		ringnet_rx_consume(&r->rx);
	}
	ringnet_rx_publish(&r->rx);

	/* the kick protocol */
	CHECK(!ringnet_rx_arm(&r->rx), "arm on an empty ring found data");
	CHECK_EQ(send_frame(r, 60, 1), 0);
	CHECK(ringnet_tx_kick_needed(&r->tx), "no kick for an armed consumer");
	CHECK(!ringnet_tx_kick_needed(&r->tx), "second kick for one arm");
	ringnet_rx_disarm(&r->rx);
	recv_frame(r, 60, 1);

	/* each end resets, the other follows (the renewals above were followed too) */
	follows = r->rx.stats.reset_follows;
	CHECK_EQ(send_frame(r, 100, 2), 0);
	ringnet_tx_reset(&r->tx);
	check_recovers(r);
	CHECK(r->tx.stats.resets == 1 && r->rx.stats.reset_follows == follows + 1,
	      "tx reset not followed");
	follows = r->tx.stats.reset_follows;
	ringnet_rx_reset(&r->rx);
	check_recovers(r);
	CHECK(r->rx.stats.resets == 1 && r->tx.stats.reset_follows == follows + 1,
	      "rx reset not followed");

	/* re-attaching resumes with a frame in flight; attach follows a pending reset */
	CHECK_EQ(send_frame(r, 100, 3), 0);
	CHECK_EQ(split_rx_attach(s), 0);
	CHECK_EQ(split_tx_attach(s), 0);
	recv_frame(r, 100, 3);
	ringnet_rx_reset(&r->rx);
	CHECK_EQ(split_tx_attach(s), 0);
	check_recovers(r);
	ringnet_tx_reset(&r->tx);
	CHECK_EQ(split_rx_attach(s), 0);
	check_recovers(r);

	/*
	 * A third party (the host can) overwrites what the ends own: the
	 * epoch copies, which their owners rewrite (the consumer when it finds
	 * nothing to do); the producer's word after a publish, which the
	 * consumer answers with a reset; the consumer's word, in an older
	 * epoch, which the producer answers with a reset.
	 */
	p->prod_epoch = ~0U;
	c->cons_epoch = ~0U;
	check_recovers(r);
	CHECK_EQ(ringnet_rx_dequeue(&r->rx, dst, sizeof(dst), NULL), 0);
	CHECK_EQ(p->prod_epoch, r->tx.ring.epoch);
	CHECK_EQ(c->cons_epoch, r->rx.ring.epoch);
	CHECK_EQ(send_frame(r, 100, 4), 0);
	p->prod = KVMRING_POS(r->tx.ring.epoch, r->tx.published + 4);
	CHECK_EQ(ringnet_rx_dequeue(&r->rx, dst, sizeof(dst), NULL), 0);
	CHECK_EQ(r->rx.stats.bad_index, 1);
	check_recovers(r);
	c->cons = KVMRING_POS(r->rx.ring.epoch - 1, 0);
	c->cons_epoch = r->rx.ring.epoch - 1;
	check_recovers(r);
	CHECK_EQ(r->tx.stats.bad_index, 1);
	CHECK_EQ(p->prod, KVMRING_POS(r->tx.ring.epoch, r->tx.published));
	CHECK_EQ(c->cons, KVMRING_POS(r->rx.ring.epoch, r->rx.published));
	CHECK_EQ(p->prod_epoch, r->tx.ring.epoch);
	CHECK_EQ(c->cons_epoch, r->rx.ring.epoch);
}

void test_split(void)
{
	struct sigaction sa = { .sa_sigaction = split_segv, .sa_flags = SA_SIGINFO }, old;
	struct split s;

	memset(&s, 0, sizeof(s));
	split_map(&s.prod, KVMRING_QUEUE_CTL_SIZE + RING_SIZE);
	split_map(&s.cons, KVMRING_QUEUE_CTL_SIZE);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old);

	if (!sigsetjmp(split_fault, 1))
		split_exchange(&s);
	else
		CHECK(0, "an end wrote %s, which it maps read-only (%p)",
		      split_what(&s, split_fault_addr), split_fault_addr);

	/* The control: an end given a read-only view of its own half faults, and is caught. */
	if (!sigsetjmp(split_fault, 1)) {
		ringnet_rx_attach(&s.r.rx, (struct kvmring_ring_cons *)&SPLIT_RO_Q(s.cons.ro)->rx,
				  &SPLIT_RO_Q(s.prod.ro)->tx, s.prod.ro + KVMRING_QUEUE_CTL_SIZE, RING_SIZE);
		CHECK(0, "the consumer wrote a read-only half and did not fault");
	} else {
		CHECK(!strcmp(split_what(&s, split_fault_addr), "the consumer's half"),
		      "the control faulted in %s", split_what(&s, split_fault_addr));
	}

	sigaction(SIGSEGV, &old, NULL);
	split_unmap(&s.prod);
	split_unmap(&s.cons);
}
