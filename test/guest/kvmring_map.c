// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvmring_map - maps kvmring.ko's regions (/dev/kvmring/NAME) as QEMU would,
 * for test/lab/kvmring-host.test.ts in a lab guest acting as the host:
 *
 *   kvmring_map readonly REGION
 *	opens REGION O_RDONLY and checks the read-only guarantee: a writable
 *	shared mapping fails (EACCES), a read-only one works and shows the
 *	magic, mprotect() to write fails, a private mapping fails (EINVAL).
 *   kvmring_map send|recv MINE THEIRS FRAMES
 *	one end of the ring between two owned regions of one setup, through
 *	the ring core ringnet.ko runs: MINE (the region this end owns) mapped
 *	read-write, THEIRS read-only. `send` produces FRAMES frames into its
 *	queue block for THEIRS's owner, `recv` consumes them with its half in
 *	MINE. Each prints the frame count and a checksum of the bytes.
 *   kvmring_map hold REGION SECONDS
 *	maps REGION read-write and keeps it mapped for SECONDS (or until killed).
 *   kvmring_map destroy CONTROL NAME
 *	asks the module (CONTROL: /dev/kvmring/control) to destroy region NAME
 *	with KVMRING_IOC_DESTROY itself, as ringctl would without its own look
 *	at the holders first: prints the errno ("EBUSY") or "0". Exits 0 either
 *	way; the test judges the answer.
 *
 * Every mode prints one line of JSON and exits 0 if all went as expected.
 * Linked statically (mk/guest.mk): the guest runs it from the repository.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"
#include "kvmring/kvmring_ioctl.h"

#define MAP_FRAME_MAX	1500
#define MAP_TIMEOUT_NS	(120ULL * 1000000000ULL)

struct map_region {
	const char	*path;
	int		fd;
	size_t		size;
	u8		*base;
	struct kvmring_owned_hdr *hdr;
};

static void die(const char *what)
{
	printf("{\"ok\":false,\"error\":\"%s: %s\"}\n", what, strerror(errno));
	exit(1);
}

static void fail(const char *what)
{
	printf("{\"ok\":false,\"error\":\"%s\"}\n", what);
	exit(1);
}

/* Opens and maps path, read-write or not; the size is what the module's llseek says. */
static void map_open(struct map_region *r, const char *path, bool writable)
{
	off_t end;

	r->path = path;
	r->fd = open(path, writable ? O_RDWR : O_RDONLY);
	if (r->fd < 0)
		die(path);
	end = lseek(r->fd, 0, SEEK_END);
	if (end <= 0)
		die("lseek(SEEK_END)");
	r->size = (size_t)end;
	r->base = mmap(NULL, r->size, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, r->fd, 0);
	if (r->base == MAP_FAILED)
		die("mmap");
	r->hdr = (struct kvmring_owned_hdr *)r->base;
}

static void map_readonly(const char *path)
{
	struct map_region r;
	int rw_errno, mprotect_errno, private_errno;
	void *p;

	r.fd = open(path, O_RDONLY);
	if (r.fd < 0)
		die(path);
	r.size = (size_t)lseek(r.fd, 0, SEEK_END);
	p = mmap(NULL, r.size, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd, 0);
	if (p != MAP_FAILED)
		fail("a writable shared mapping of a read-only file was granted");
	rw_errno = errno;
	p = mmap(NULL, r.size, PROT_READ, MAP_PRIVATE, r.fd, 0);
	if (p != MAP_FAILED)
		fail("a private mapping was granted");
	private_errno = errno;
	r.base = mmap(NULL, r.size, PROT_READ, MAP_SHARED, r.fd, 0);
	if (r.base == MAP_FAILED)
		die("mmap(PROT_READ, MAP_SHARED)");
	if (!mprotect(r.base, r.size, PROT_READ | PROT_WRITE))
		fail("mprotect() made a read-only mapping writable");
	mprotect_errno = errno;
	printf("{\"ok\":true,\"size\":%zu,\"magic\":\"0x%016" PRIx64 "\",\"mmapWrite\":\"%s\",\"mmapPrivate\":\"%s\",\"mprotectWrite\":\"%s\"}\n",
	       r.size, (uint64_t)*(volatile u64 *)r.base, strerrorname_np(rw_errno),
	       strerrorname_np(private_errno), strerrorname_np(mprotect_errno));
}

/* The control page of the queue-0 block in `in` for reader slot `reader`. */
static struct kvmring_queue_ctl *map_block(const struct map_region *in, u32 reader)
{
	const struct kvmring_owned_hdr *h = in->hdr;
	int lane = kvmring_lane_of(h->readers, reader);

	if (h->magic != KVMRING_OWNED_MAGIC || h->abi_version != KVMRING_ABI_VERSION)
		fail("not an owned region of ABI v2");
	if (lane < 0)
		fail("the other region's owner does not read this one");
	if (kvmring_queue_offset(h->ring_size, h->queues, lane, 0) + kvmring_queue_stride(h->ring_size) > in->size)
		fail("queue block past the region's end");
	return (struct kvmring_queue_ctl *)(in->base + kvmring_queue_offset(h->ring_size, h->queues, lane, 0));
}

/* FNV-1a over the frames' bytes, in order: both ends compute it the same way. */
static u64 map_sum(u64 h, const u8 *p, u32 len)
{
	while (len--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

static void map_ring(bool send, const char *mine_path, const char *theirs_path, u32 frames)
{
	struct map_region mine, theirs;
	struct harness_ring ring;
	struct ringnet_tx tx;
	struct ringnet_rx rx;
	u64 sum = 0xcbf29ce484222325ULL, start, bytes = 0;
	u32 ring_size, n = 0, spins = 0;
	u8 buf[MAP_FRAME_MAX];

	map_open(&mine, mine_path, true);
	map_open(&theirs, theirs_path, false);
	ring_size = mine.hdr->ring_size;
	if (theirs.hdr->ring_size != ring_size)
		fail("the regions' ring sizes differ");
	/* Ring sender -> receiver: the sender's block for the receiver, the receiver's block for the sender. */
	if (send) {
		ring.prod_q = map_block(&mine, theirs.hdr->owner);
		ring.cons_q = map_block(&theirs, mine.hdr->owner);
		if (harness_tx_attach(&tx, &ring, ring_size))
			fail("tx attach");
	} else {
		ring.prod_q = map_block(&theirs, mine.hdr->owner);
		ring.cons_q = map_block(&mine, theirs.hdr->owner);
		if (harness_rx_attach(&rx, &ring, ring_size))
			fail("rx attach");
	}
	start = harness_now_ns();
	while (n < frames) {
		u32 len = 60 + (n * 7919) % (MAP_FRAME_MAX - 60);
		int err;

		if (harness_now_ns() - start > MAP_TIMEOUT_NS)
			fail(send ? "timed out waiting for room" : "timed out waiting for frames");
		if (send) {
			harness_frame_fill(buf, len, n);
			err = ringnet_tx_enqueue(&tx, buf, len, NULL);
			if (err == -ENOSPC) {
				usleep(100);
				spins++;
				continue;
			}
			if (err)
				fail("enqueue");
		} else {
			u32 seq;

			err = ringnet_rx_dequeue(&rx, buf, sizeof(buf), NULL);
			if (err == 0) {
				usleep(100);
				spins++;
				continue;
			}
			if (err < 0)
				fail("dequeue");
			if (!harness_frame_intact(buf, (u32)err, &seq) || seq != n || (u32)err != len)
				fail("a frame arrived damaged or out of order");
		}
		sum = map_sum(sum, buf, len);
		bytes += len;
		n++;
	}
	printf("{\"ok\":true,\"role\":\"%s\",\"frames\":%u,\"bytes\":%" PRIu64 ",\"checksum\":\"%016" PRIx64 "\",\"ringSize\":%u,\"owner\":%u,\"peer\":%u,\"waits\":%u,\"ms\":%" PRIu64 "}\n",
	       send ? "send" : "recv", n, (uint64_t)bytes, (uint64_t)sum, ring_size, mine.hdr->owner,
	       theirs.hdr->owner, spins, (uint64_t)((harness_now_ns() - start) / 1000000));
}

static void map_hold(const char *path, unsigned int seconds)
{
	struct map_region r;

	map_open(&r, path, true);
	printf("{\"ok\":true,\"pid\":%d,\"magic\":\"0x%016" PRIx64 "\"}\n", getpid(), (uint64_t)r.hdr->magic);
	fflush(stdout);
	sleep(seconds);
}

static void map_destroy(const char *control, const char *name)
{
	struct kvmring_ioc_destroy d = { { 0 } };
	int fd = open(control, O_RDWR | O_CLOEXEC), err = 0;

	if (fd < 0)
		fail("open the control node");
	if (strlen(name) >= sizeof(d.name))
		fail("name too long");
	strcpy(d.name, name);
	if (ioctl(fd, KVMRING_IOC_DESTROY, &d))
		err = errno;
	close(fd);
	printf("{\"ok\":true,\"errno\":\"%s\"}\n", err == EBUSY ? "EBUSY" : err ? strerror(err) : "0");
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "readonly"))
		map_readonly(argv[2]);
	else if (argc == 5 && (!strcmp(argv[1], "send") || !strcmp(argv[1], "recv")))
		map_ring(!strcmp(argv[1], "send"), argv[2], argv[3], (u32)strtoul(argv[4], NULL, 0));
	else if (argc == 4 && !strcmp(argv[1], "hold"))
		map_hold(argv[2], (unsigned int)strtoul(argv[3], NULL, 0));
	else if (argc == 4 && !strcmp(argv[1], "destroy"))
		map_destroy(argv[2], argv[3]);
	else {
		fprintf(stderr, "usage: %s readonly REGION | send|recv MINE THEIRS FRAMES | hold REGION SECONDS | destroy CONTROL NAME\n", argv[0]);
		return 2;
	}
	return 0;
}
