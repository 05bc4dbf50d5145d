// SPDX-License-Identifier: GPL-2.0-only
/*
 * ring_bench - the ring core on the host CPU, beside the baselines it must
 * beat, measured in one run: producer and consumer pinned to two cores.
 *
 *   ring       ringnet_tx_reserve/commit/publish -> ringnet_rx_peek/consume/publish,
 *              a copy in and a copy out per frame, as the driver does
 *   pipe       write() -> read()
 *   unix       AF_UNIX stream socketpair
 *   tcp_veth   TCP across a veth pair between two network namespaces that the
 *              caller made (--netns-a/--netns-b/--addr-b); skipped without them
 *   limits     one core's memcpy bandwidth (in cache and from DRAM), the
 *              round trip of one cache line between the two cores, and two
 *              copies of 64 KiB frames across the cores with no ring between
 *              them (xcopy_rate())
 *
 * For each transport: frames per second at 64 B, bytes per second at 1500 B
 * and 64 KiB, and the round trip of a 64-byte ping-pong (p50, p99). Every
 * loop is bounded by a deadline and a count. Prints one JSON object.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define BENCH_BATCH		32		/* frames per publish, like a NAPI or xmit_more batch */
#define BENCH_MAX_SAMPLES	(1U << 21)
#define BENCH_FRAME_COUNT	(1ULL << 32)	/* a bound beside the deadline */

static const u32 bench_sizes[] = { 64, 1500, 65536 };

static struct {
	double	seconds;	/* per measurement */
	u32	ring_size;
	int	cpu[2];
	char	*netns[2];
	char	*addr_b;
} opt = { 0.5, KVMRING_RING_SIZE_MIN, { 0, 1 }, { NULL, NULL }, NULL };

static u8 *src_buf, *dst_buf;	/* KVMRING_FRAME_MAX each, per thread side */

static void die(const char *what)
{
	fprintf(stderr, "ring_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void pin(int side)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(opt.cpu[side], &set);
	errno = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (errno)
		die("pinning a thread");
}

static void *map_zeroed(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

static int cmp_u32(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
}

/* ---- the shape of every measurement --------------------------------------- */

/* A measurement runs side 0 and side 1 on their cores. */
struct run {
	void		*(*side[2])(void *);
	void		*ctx;
	u64		deadline;
	/* throughput */
	u32		size;
	volatile bool	done;		/* side 0 stopped sending */
	volatile u64	sent_bytes;	/* valid once done */
	u64		got_frames, got_bytes;
	u64		t0, t1;
	/* latency */
	u32		*samples;
	u32		nsamples;
};

struct side_arg {
	struct run	*run;
	int		side;
};

static void *side_main(void *arg)
{
	struct side_arg *sa = arg;

	pin(sa->side);
	return sa->run->side[sa->side](sa->run);
}

static void run_sides(struct run *r)
{
	struct side_arg a[2] = { { r, 0 }, { r, 1 } };
	pthread_t t[2];
	int i;

	r->deadline = harness_now_ns() + (u64)(opt.seconds * 1e9);
	r->done = false;
	r->got_frames = r->got_bytes = 0;
	r->nsamples = 0;
	for (i = 0; i < 2; i++) {
		errno = pthread_create(&t[i], NULL, side_main, &a[i]);
		if (errno)
			die("pthread_create");
	}
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
}

struct result {
	double	fps[3];		/* per bench_sizes */
	double	bps[3];
	u32	p50, p99, samples;
	bool	ok;
	const char *skipped;
};

static void record_throughput(struct result *res, int k, const struct run *r)
{
	double secs = (double)(r->t1 - r->t0) / 1e9;

	res->fps[k] = secs > 0 ? (double)r->got_frames / secs : 0;
	res->bps[k] = secs > 0 ? (double)r->got_bytes / secs : 0;
}

static void record_latency(struct result *res, struct run *r)
{
	res->samples = r->nsamples;
	if (!r->nsamples)
		return;
	qsort(r->samples, r->nsamples, sizeof(u32), cmp_u32);
	res->p50 = r->samples[r->nsamples / 2];
	res->p99 = r->samples[(u64)r->nsamples * 99 / 100];
}

/* ---- ring ---------------------------------------------------------------- */

/*
 * a's and b's queue blocks, as in their owned regions (ABI v2): ring i is
 * { block[i], block[!i] } (struct harness_ring).
 */
struct ring_ctx {
	struct kvmring_queue_ctl	*block[2];	/* [0] a's, [1] b's */
	struct ringnet_tx		tx[2];		/* [0] a -> b, [1] b -> a */
	struct ringnet_rx		rx[2];
};

static void ring_setup(struct ring_ctx *rc)
{
	int i;

	memset(rc, 0, sizeof(*rc));
	for (i = 0; i < 2; i++)
		rc->block[i] = map_zeroed(KVMRING_QUEUE_CTL_SIZE + (size_t)opt.ring_size);
	for (i = 0; i < 2; i++) {
		struct harness_ring r = { .prod_q = rc->block[i], .cons_q = rc->block[!i] };

		if (harness_tx_attach(&rc->tx[i], &r, opt.ring_size) ||
		    harness_rx_attach(&rc->rx[i], &r, opt.ring_size)) {
			fprintf(stderr, "ring_bench: bad ring size %u\n", opt.ring_size);
			exit(2);
		}
	}
}

static void ring_teardown(struct ring_ctx *rc)
{
	int i;

	for (i = 0; i < 2; i++)
		munmap(rc->block[i], KVMRING_QUEUE_CTL_SIZE + (size_t)opt.ring_size);
}

static void *ring_tput_tx(void *arg)
{
	struct run *r = arg;
	struct ring_ctx *rc = r->ctx;
	struct ringnet_tx *tx = &rc->tx[0];
	u64 n = 0, spins = 0;
	u32 batch = 0;
	void *p;

	while (n < BENCH_FRAME_COUNT) {
		if (ringnet_tx_reserve(tx, r->size, &p)) {
			if (batch) {
				ringnet_tx_publish(tx);
				batch = 0;
			}
			if ((++spins & 1023) == 0 && harness_now_ns() > r->deadline)
				break;
			continue;
		}
		memcpy(p, src_buf, r->size);
		ringnet_tx_commit(tx, NULL);
		n++;
		if (++batch == BENCH_BATCH) {
			ringnet_tx_publish(tx);
			batch = 0;
			if (harness_now_ns() > r->deadline)
				break;
		}
	}
	ringnet_tx_publish(tx);
	r->sent_bytes = n * r->size;
	__atomic_store_n(&r->done, true, __ATOMIC_RELEASE);
	return NULL;
}

static void *ring_tput_rx(void *arg)
{
	struct run *r = arg;
	struct ring_ctx *rc = r->ctx;
	struct ringnet_rx *rx = &rc->rx[0];
	struct ringnet_frame f;
	u64 bytes = 0, frames = 0, limit = 0;
	u32 batch = 0;

	r->t0 = harness_now_ns();
	for (;;) {
		if (ringnet_rx_peek(rx, &f) != 1) {
			ringnet_rx_publish(rx);
			batch = 0;
			if (__atomic_load_n(&r->done, __ATOMIC_ACQUIRE)) {
				if (bytes >= r->sent_bytes)
					break;
				/* a bound: the producer is done, so this drains or gives up */
				if (++limit > (1ULL << 26))
					break;
			}
			continue;
		}
		memcpy(dst_buf, f.data, f.len);
		ringnet_rx_consume(rx);
		bytes += f.len;
		frames++;
		if (++batch == BENCH_BATCH) {
			ringnet_rx_publish(rx);
			batch = 0;
		}
	}
	r->t1 = harness_now_ns();
	r->got_frames = frames;
	r->got_bytes = bytes;
	return NULL;
}

/* One 64-byte frame there and back; side 0 times it. */
static void *ring_ping(void *arg)
{
	struct run *r = arg;
	struct ring_ctx *rc = r->ctx;
	u64 t, spins;
	int got;

	while (r->nsamples < BENCH_MAX_SAMPLES) {
		t = harness_now_ns();
		if (t > r->deadline)
			break;
		src_buf[0] = 1;
		if (ringnet_tx_enqueue(&rc->tx[0], src_buf, 64, NULL))
			break;
		for (spins = 0; (got = ringnet_rx_dequeue(&rc->rx[1], dst_buf, 64, NULL)) == 0; spins++)
			if ((spins & 1023) == 0 && harness_now_ns() > r->deadline + 1000000000ULL)
				break;
		if (got != 64)
			break;
		r->samples[r->nsamples++] = (u32)(harness_now_ns() - t);
	}
	src_buf[0] = 0xff;	/* tells the other side to stop */
	ringnet_tx_enqueue(&rc->tx[0], src_buf, 64, NULL);
	return NULL;
}

static void *ring_pong(void *arg)
{
	struct run *r = arg;
	struct ring_ctx *rc = r->ctx;
	u8 buf[64];
	u64 spins = 0;

	for (;;) {
		if (ringnet_rx_dequeue(&rc->rx[0], buf, sizeof(buf), NULL) != 64) {
			if ((++spins & 1023) == 0 && harness_now_ns() > r->deadline + 2000000000ULL)
				break;
			continue;
		}
		if (buf[0] == 0xff)
			break;
		ringnet_tx_enqueue(&rc->tx[1], buf, 64, NULL);
	}
	return NULL;
}

static void bench_ring(struct result *res, u32 *samples)
{
	struct ring_ctx rc;
	struct run r = { .ctx = &rc, .samples = samples };
	int k;

	for (k = 0; k < 3; k++) {
		ring_setup(&rc);
		r.side[0] = ring_tput_tx;
		r.side[1] = ring_tput_rx;
		r.size = bench_sizes[k];
		run_sides(&r);
		record_throughput(res, k, &r);
		ring_teardown(&rc);
	}
	ring_setup(&rc);
	r.side[0] = ring_ping;
	r.side[1] = ring_pong;
	run_sides(&r);
	record_latency(res, &r);
	res->ok = !rc.rx[0].stats.bad_desc && !rc.rx[1].stats.bad_desc &&
		  !rc.rx[0].stats.bad_index && !rc.rx[1].stats.bad_index;
	ring_teardown(&rc);
}

/* ---- file descriptors: pipe, unix socket, TCP -------------------------------- */

/* fd[0] side 0 writes, fd[1] side 1 reads; fd[2] side 1 writes, fd[3] side 0 reads */
struct fd_ctx {
	int	fd[4];
};

/* Writes all len bytes of wbuf to fd, or reads len bytes into rbuf: one is NULL. */
static bool xfer_all(int fd, u8 *rbuf, const u8 *wbuf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = wbuf ? write(fd, wbuf + done, len - done) : read(fd, rbuf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		done += (size_t)n;
	}
	return true;
}

static bool write_all(int fd, const u8 *p, size_t len)
{
	return xfer_all(fd, NULL, p, len);
}

static bool read_all(int fd, u8 *p, size_t len)
{
	return xfer_all(fd, p, NULL, len);
}

static void *fd_tput_tx(void *arg)
{
	struct run *r = arg;
	struct fd_ctx *fc = r->ctx;
	u64 n = 0;

	while (n < BENCH_FRAME_COUNT && (n & 15 || harness_now_ns() < r->deadline)) {
		if (!write_all(fc->fd[0], src_buf, r->size))
			break;
		n++;
	}
	r->sent_bytes = n * r->size;
	__atomic_store_n(&r->done, true, __ATOMIC_RELEASE);
	/*
	 * End of stream: a reader that already has every byte may be blocked
	 * in read() before it could see done.
	 */
	if (shutdown(fc->fd[0], SHUT_WR) && errno == ENOTSOCK) {
		close(fc->fd[0]);
		fc->fd[0] = -1;
	}
	return NULL;
}

static void *fd_tput_rx(void *arg)
{
	struct run *r = arg;
	struct fd_ctx *fc = r->ctx;
	u64 bytes = 0;
	ssize_t n;

	r->t0 = harness_now_ns();
	/* a stream: read what comes, up to a frame at a time, until all arrived */
	while (!__atomic_load_n(&r->done, __ATOMIC_ACQUIRE) || bytes < r->sent_bytes) {
		n = read(fc->fd[1], dst_buf, r->size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		bytes += (u64)n;
	}
	r->t1 = harness_now_ns();
	r->got_bytes = bytes;
	r->got_frames = bytes / r->size;
	return NULL;
}

static void *fd_ping(void *arg)
{
	struct run *r = arg;
	struct fd_ctx *fc = r->ctx;
	u8 buf[64];
	u64 t;

	memset(buf, 1, sizeof(buf));
	while (r->nsamples < BENCH_MAX_SAMPLES) {
		t = harness_now_ns();
		if (t > r->deadline)
			break;
		if (!write_all(fc->fd[0], buf, 64) || !read_all(fc->fd[3], buf, 64))
			break;
		r->samples[r->nsamples++] = (u32)(harness_now_ns() - t);
	}
	buf[0] = 0xff;
	write_all(fc->fd[0], buf, 64);
	return NULL;
}

static void *fd_pong(void *arg)
{
	struct run *r = arg;
	struct fd_ctx *fc = r->ctx;
	u8 buf[64];

	while (read_all(fc->fd[1], buf, 64) && buf[0] != 0xff)
		if (!write_all(fc->fd[2], buf, 64))
			break;
	return NULL;
}

static void bench_fds(struct result *res, u32 *samples, bool (*open_fds)(struct fd_ctx *))
{
	struct fd_ctx fc;
	struct run r = { .ctx = &fc, .samples = samples };
	int k, i, j;

	for (k = 0; k < 4; k++) {
		if (!open_fds(&fc)) {
			res->skipped = "could not connect";
			return;
		}
		if (k < 3) {
			r.side[0] = fd_tput_tx;
			r.side[1] = fd_tput_rx;
			r.size = bench_sizes[k];
			run_sides(&r);
			record_throughput(res, k, &r);
		} else {
			r.side[0] = fd_ping;
			r.side[1] = fd_pong;
			run_sides(&r);
			record_latency(res, &r);
		}
		/* sockets serve both directions: close each descriptor once */
		for (i = 0; i < 4; i++) {
			for (j = 0; j < i && fc.fd[j] != fc.fd[i]; j++)
				;
			if (j == i && fc.fd[i] >= 0)
				close(fc.fd[i]);
		}
	}
	res->ok = true;
}

static bool open_pipes(struct fd_ctx *fc)
{
	int a[2], b[2];

	if (pipe(a) || pipe(b))
		die("pipe");
	fc->fd[0] = a[1];
	fc->fd[1] = a[0];
	fc->fd[2] = b[1];
	fc->fd[3] = b[0];
	return true;
}

static bool open_unix(struct fd_ctx *fc)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("socketpair");
	fc->fd[0] = fc->fd[3] = sv[0];
	fc->fd[1] = fc->fd[2] = sv[1];
	return true;
}

static int netns_fd(const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(path);
	return fd;
}

/*
 * Sockets keep the namespace they were made in: make the listener in B and
 * the client in A, then come back.
 */
static bool open_tcp(struct fd_ctx *fc)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int self, a, b, lst, cli, srv, one = 1;
	bool ok = false;

	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	a = netns_fd(opt.netns[0]);
	b = netns_fd(opt.netns[1]);
	if (self < 0 || inet_pton(AF_INET, opt.addr_b, &sa.sin_addr) != 1)
		die("netns or address");
	if (setns(b, CLONE_NEWNET))
		die("setns");
	lst = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lst < 0 || bind(lst, (struct sockaddr *)&sa, sizeof(sa)) || listen(lst, 1) ||
	    getsockname(lst, (struct sockaddr *)&sa, &len))
		die("listen");
	if (setns(a, CLONE_NEWNET))
		die("setns");
	cli = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cli >= 0 && !connect(cli, (struct sockaddr *)&sa, sizeof(sa))) {
		srv = accept(lst, NULL, NULL);
		if (srv >= 0) {
			setsockopt(cli, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			setsockopt(srv, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			fc->fd[0] = fc->fd[3] = cli;
			fc->fd[1] = fc->fd[2] = srv;
			ok = true;
		}
	}
	if (!ok && cli >= 0)
		close(cli);
	if (setns(self, CLONE_NEWNET))
		die("setns back");
	close(lst);
	close(self);
	close(a);
	close(b);
	return ok;
}

/* ---- limits ---------------------------------------------------------------- */

/* Bytes per second one core copies, buffers of len bytes each way. */
static double memcpy_rate(size_t len)
{
	u8 *a = map_zeroed(len), *b = map_zeroed(len);
	u64 t0, t, bytes = 0;
	int i;

	pin(0);
	memset(a, 1, len);
	memset(b, 2, len);
	for (i = 0; i < 2; i++)	/* warm up, fault in */
		memcpy(b, a, len);
	t0 = harness_now_ns();
	do {
		memcpy(b, a, len);
		bytes += len;
		t = harness_now_ns();
	} while (t - t0 < (u64)(opt.seconds * 1e9) && bytes < (1ULL << 40));
	munmap(a, len);
	munmap(b, len);
	return (double)bytes / ((double)(t - t0) / 1e9);
}

/*
 * The ring's 64 KiB case without the ring: frames of len bytes copied in on
 * side 0 and out on side 1 through as many slots as the ring holds records
 * of that size, each slot handed over by a flag on a line of its own. No
 * headers, indices or checks: what two copies across the two cores cost,
 * the ceiling of any transport that copies into shared memory and out.
 */
struct xcopy_ctx {
	u32		nslots;
	u8		*area;		/* nslots slots of len bytes */
	u32		*flags;		/* slot i's at flags[16 * i]: side 0 sets it, side 1 clears it */
};

static u32 *xcopy_flag(struct xcopy_ctx *x, u32 i)
{
	return &x->flags[16 * i];
}

static void *xcopy_in(void *arg)
{
	struct run *r = arg;
	struct xcopy_ctx *x = r->ctx;
	u64 n = 0, spins = 0;
	u32 i = 0;

	while (n < BENCH_FRAME_COUNT) {
		if (__atomic_load_n(xcopy_flag(x, i), __ATOMIC_ACQUIRE)) {
			if ((++spins & 1023) == 0 && harness_now_ns() > r->deadline)
				break;
			continue;
		}
		memcpy(x->area + (size_t)i * r->size, src_buf, r->size);
		__atomic_store_n(xcopy_flag(x, i), 1, __ATOMIC_RELEASE);
		i = (i + 1) % x->nslots;
		n++;
		if ((n & 7) == 0 && harness_now_ns() > r->deadline)
			break;
	}
	r->sent_bytes = n * r->size;
	__atomic_store_n(&r->done, true, __ATOMIC_RELEASE);
	return NULL;
}

static void *xcopy_out(void *arg)
{
	struct run *r = arg;
	struct xcopy_ctx *x = r->ctx;
	u64 bytes = 0, frames = 0, limit = 0;
	u32 i = 0;

	r->t0 = harness_now_ns();
	for (;;) {
		if (!__atomic_load_n(xcopy_flag(x, i), __ATOMIC_ACQUIRE)) {
			if (__atomic_load_n(&r->done, __ATOMIC_ACQUIRE) &&
			    (bytes >= r->sent_bytes || ++limit > (1ULL << 26)))
				break;
			continue;
		}
		memcpy(dst_buf, x->area + (size_t)i * r->size, r->size);
		__atomic_store_n(xcopy_flag(x, i), 0, __ATOMIC_RELEASE);
		i = (i + 1) % x->nslots;
		bytes += r->size;
		frames++;
	}
	r->t1 = harness_now_ns();
	r->got_frames = frames;
	r->got_bytes = bytes;
	return NULL;
}

/* Bytes per second through two copies across the cores, frames of len bytes; *slots: how many. */
static double xcopy_rate(u32 len, u32 *slots)
{
	struct xcopy_ctx x = { .nslots = opt.ring_size / kvmring_rec_size(len) };
	struct run r = { .ctx = &x, .side = { xcopy_in, xcopy_out }, .size = len };

	if (x.nslots < 2)
		x.nslots = 2;
	x.area = map_zeroed((size_t)x.nslots * len);
	x.flags = map_zeroed((size_t)x.nslots * 64);
	run_sides(&r);
	munmap(x.area, (size_t)x.nslots * len);
	munmap(x.flags, (size_t)x.nslots * 64);
	*slots = x.nslots;
	return r.t1 > r.t0 ? (double)r.got_bytes / ((double)(r.t1 - r.t0) / 1e9) : 0;
}

struct line_ctx {
	volatile u64	*line;
	u64		rounds;
};

/* Side 0 writes odd numbers, side 1 answers with the next even one. */
static void *line_ping(void *arg)
{
	struct run *r = arg;
	struct line_ctx *lc = r->ctx;
	u64 v = 0, spins;

	r->t0 = harness_now_ns();
	while (lc->rounds < (1ULL << 30)) {
		if ((lc->rounds & 1023) == 0 && harness_now_ns() > r->deadline)
			break;
		__atomic_store_n(lc->line, v + 1, __ATOMIC_RELEASE);
		for (spins = 0; __atomic_load_n(lc->line, __ATOMIC_ACQUIRE) != v + 2; spins++)
			if (spins > (1ULL << 32))
				goto out;
		v += 2;
		lc->rounds++;
	}
out:
	r->t1 = harness_now_ns();
	__atomic_store_n(lc->line, ~0ULL, __ATOMIC_RELEASE);
	return NULL;
}

static void *line_pong(void *arg)
{
	struct run *r = arg;
	struct line_ctx *lc = r->ctx;
	u64 v, spins = 0;

	for (;;) {
		v = __atomic_load_n(lc->line, __ATOMIC_ACQUIRE);
		if (v == ~0ULL)
			break;
		if (v & 1) {
			__atomic_store_n(lc->line, v + 1, __ATOMIC_RELEASE);
			spins = 0;
		} else if ((++spins & 0xfffff) == 0 && harness_now_ns() > r->deadline + 2000000000ULL) {
			break;
		}
	}
	return NULL;
}

static double cacheline_rtt_ns(void)
{
	struct line_ctx lc = { .line = map_zeroed(4096) };
	struct run r = { .ctx = &lc, .side = { line_ping, line_pong } };

	run_sides(&r);
	munmap((void *)lc.line, 4096);
	return lc.rounds ? (double)(r.t1 - r.t0) / (double)lc.rounds : 0;
}

/* ---- output ---------------------------------------------------------------- */

static void print_result(const char *name, const struct result *res, bool last)
{
	int k;

	printf("    \"%s\": {", name);
	if (res->skipped) {
		printf(" \"skipped\": \"%s\" }%s\n", res->skipped, last ? "" : ",");
		return;
	}
	printf("\n      \"throughput\": {");
	for (k = 0; k < 3; k++)
		printf("%s\n        \"%u\": { \"frames_per_s\": %.0f, \"bytes_per_s\": %.0f }",
		       k ? "," : "", bench_sizes[k], res->fps[k], res->bps[k]);
	printf("\n      },\n      \"pingpong_64\": { \"rtt_p50_ns\": %u, \"rtt_p99_ns\": %u, \"samples\": %u },",
	       res->p50, res->p99, res->samples);
	printf("\n      \"clean\": %s\n    }%s\n", res->ok ? "true" : "false", last ? "" : ",");
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ring_bench [--seconds S] [--ring-size BYTES] [--cpus A,B]\n"
		"                  [--netns-a NS --netns-b NS --addr-b IPV4]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "ring-size", required_argument, NULL, 'r' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "netns-a", required_argument, NULL, 'a' },
		{ "netns-b", required_argument, NULL, 'b' },
		{ "addr-b", required_argument, NULL, 'B' },
		{ NULL, 0, NULL, 0 },
	};
	struct result ring = { 0 }, pipes = { 0 }, unix_ = { 0 }, tcp = { 0 };
	double mc_cache, mc_dram, line, xcopy;
	u32 xslots;
	u32 *samples;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			opt.seconds = atof(optarg);
			if (opt.seconds <= 0 || opt.seconds > 10)
				usage();
			break;
		case 'r':
			opt.ring_size = (u32)strtoul(optarg, NULL, 0);
			break;
		case 'c':
			if (sscanf(optarg, "%d,%d", &opt.cpu[0], &opt.cpu[1]) != 2)
				usage();
			break;
		case 'a':
			opt.netns[0] = optarg;
			break;
		case 'b':
			opt.netns[1] = optarg;
			break;
		case 'B':
			opt.addr_b = optarg;
			break;
		default:
			usage();
		}
	}

	src_buf = map_zeroed(KVMRING_FRAME_MAX);
	dst_buf = map_zeroed(KVMRING_FRAME_MAX);
	memset(src_buf, 0x5a, KVMRING_FRAME_MAX);
	samples = malloc(BENCH_MAX_SAMPLES * sizeof(u32));
	if (!samples)
		die("malloc");

	bench_ring(&ring, samples);
	bench_fds(&pipes, samples, open_pipes);
	bench_fds(&unix_, samples, open_unix);
	if (opt.netns[0] && opt.netns[1] && opt.addr_b)
		bench_fds(&tcp, samples, open_tcp);
	else
		tcp.skipped = "no network namespaces given (--netns-a, --netns-b, --addr-b)";
	line = cacheline_rtt_ns();
	mc_cache = memcpy_rate(64 << 10);
	mc_dram = memcpy_rate(256 << 20);
	xcopy = xcopy_rate(65536, &xslots);

	printf("{\n  \"config\": { \"seconds\": %.3f, \"ring_size\": %u, \"batch\": %u, \"cpus\": [%d, %d] },\n",
	       opt.seconds, opt.ring_size, BENCH_BATCH, opt.cpu[0], opt.cpu[1]);
	printf("  \"transports\": {\n");
	print_result("ring", &ring, false);
	print_result("pipe", &pipes, false);
	print_result("unix", &unix_, false);
	print_result("tcp_veth", &tcp, true);
	printf("  },\n  \"limits\": { \"memcpy_cache_bytes_per_s\": %.0f, \"memcpy_dram_bytes_per_s\": %.0f, "
	       "\"cacheline_rtt_ns\": %.1f, \"xcore_copy_64k_bytes_per_s\": %.0f, \"xcore_copy_slots\": %u }\n}\n",
	       mc_cache, mc_dram, line, xcopy, xslots);
	free(samples);
	return ring.ok ? 0 : 1;
}
