// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvmring_hostile.c - a hostile peer of our own, run on the host against a lab.
 *
 * Maps a region that `ringctl host up` made, claims a free slot with the
 * ABI's protocol (include/kvmring/abi.h: CLAIMED with generation + 1 by
 * compare-and-swap, entry filled in, then UP), keeps a heartbeat and, for the
 * given seconds, plays one scenario against the guests:
 *
 *   bad-meta      records with every bad metadata combination, and pad
 *                 records in the middle of the area, into its ring to each
 *                 peer, correctly published
 *   no-consume    never consumes what peers send it
 *   steal-mac     publishes the MAC and addresses of --victim SLOT, once the
 *                 peers know the victim by it (again under a new generation
 *                 whenever the victim's MAC changes)
 *   flip-gen      rejoins under a new generation every beat
 *   stomp-state   writes the state word of --victim SLOT every beat
 *   scribble      random bytes over the whole region, header and peer table
 *                 included (claims no slot)
 *   doorbell-flood  connects to the doorbell server (--doorbell SOCKET) as a
 *                 QEMU does and rings the eventfds of --victim SLOT's doorbell
 *                 id as fast as it can
 *
 * Honest ring I/O goes through the ring core (guest-netdev/ringnet_ring.c),
 * the code the guests run; the hostile parts are raw writes. Other scenarios
 * consume what the peers send, counting frames addressed to the victim's MAC.
 * Messages go to stderr; the last line on stdout is a JSON summary.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ringnet_ring.h"

#define HOSTILE_BEAT_NS		(KVMRING_HEARTBEAT_MS * 1000000ULL)
#define HOSTILE_RX_BATCH	64	/* frames taken from one ring per pass */
#define HOSTILE_TX_BATCH	16	/* bad records written to one ring per pass */
#define HOSTILE_MTU		1500
#define HOSTILE_MAX_EVENTFDS	64

enum hostile_scenario {
	HOSTILE_BAD_META,
	HOSTILE_NO_CONSUME,
	HOSTILE_STEAL_MAC,
	HOSTILE_FLIP_GEN,
	HOSTILE_STOMP_STATE,
	HOSTILE_SCRIBBLE,
	HOSTILE_DOORBELL_FLOOD,
};

static const char *const hostile_scenario_names[] = {
	[HOSTILE_BAD_META]	 = "bad-meta",
	[HOSTILE_NO_CONSUME]	 = "no-consume",
	[HOSTILE_STEAL_MAC]	 = "steal-mac",
	[HOSTILE_FLIP_GEN]	 = "flip-gen",
	[HOSTILE_STOMP_STATE]	 = "stomp-state",
	[HOSTILE_SCRIBBLE]	 = "scribble",
	[HOSTILE_DOORBELL_FLOOD] = "doorbell-flood",
};

/* What we know of one other slot; as the driver, state lives here, not in the region. */
struct hostile_peer {
	bool			present;	/* UP with a valid MAC, rings attached */
	u32			gen;
	u8			mac[6];
	struct ringnet_tx	tx;
	struct ringnet_rx	rx;
};

struct hostile_stats {
	u64	beats;
	u64	records;		/* bad-meta: records published */
	u64	pads;			/* ... of which pads in the middle of the area */
	u64	full;			/* ... refused for want of room */
	u64	received;		/* frames consumed from the peers */
	u64	victim_frames;		/* ... addressed to the victim's MAC */
	u64	generations;		/* generations we went through */
	u64	stomps;			/* victim state words written */
	u64	scribbled;		/* bytes of random written */
	u64	doorbells;		/* eventfd writes */
	u64	evicted;		/* beats on which our slot was not ours */
};

struct hostile {
	enum hostile_scenario	scenario;
	int			victim;		/* slot, -1 if none */
	const char		*doorbell;	/* server socket */
	u8			*shm;
	u64			size;
	struct kvmring_geom	geom;
	bool			claimed;
	u32			self;
	u32			gen;
	u64			heartbeat;
	struct kvmring_peer	*me;
	u8			mac[6];		/* our own, before any stealing */
	u8			victim_mac[6];	/* what steal-mac publishes, zero before */
	u8			victim_seen[6];	/* steal-mac: the victim's MAC we wait to take */
	u64			victim_seen_hb;	/* ... and its heartbeat when we first saw it */
	u32			ivposition;	/* doorbell id, KVMRING_DOORBELL_NONE without */
	int			eventfds[HOSTILE_MAX_EVENTFDS];
	unsigned int		n_eventfds;
	u64			rng;
	u64			combo;		/* bad-meta: next combination */
	struct hostile_peer	peers[KVMRING_PEERS_MAX];
	u8			buf[KVMRING_FRAME_MAX];
	struct hostile_stats	stats;
};

static volatile sig_atomic_t hostile_stop;

/* ---- helpers ---------------------------------------------------------------- */

static void vsay(const char *fmt, va_list ap)
{
	fputs("kvmring_hostile: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	exit(1);
}

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

/* xorshift64*: fast, seeded, good enough for garbage. */
static u64 rnd(struct hostile *h)
{
	h->rng ^= h->rng >> 12;
	h->rng ^= h->rng << 25;
	h->rng ^= h->rng >> 27;
	return h->rng * 0x2545f4914f6cdd1dULL;
}

static void rnd_fill(struct hostile *h, u8 *p, u64 n)
{
	u64 i, v;

	for (i = 0; i + 8 <= n; i += 8) {
		v = rnd(h);
		memcpy(p + i, &v, 8);
	}
	for (v = rnd(h); i < n; i++, v >>= 8)
		p[i] = (u8)v;
}

static struct kvmring_peer *entry(struct hostile *h, u32 slot)
{
	return (struct kvmring_peer *)(h->shm + kvmring_peer_offset(slot));
}

static bool mac_valid(const u8 *mac)
{
	static const u8 zero[6];

	return !(mac[0] & 1) && memcmp(mac, zero, 6);
}

static void put_be16(u8 *p, u16 v)
{
	p[0] = (u8)(v >> 8);
	p[1] = (u8)v;
}

static u16 ip_csum(const u8 *p, u32 n)
{
	u32 sum = 0, i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (u32)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (u16)~sum;
}

/* ---- the region ------------------------------------------------------------- */

static void region_map(struct hostile *h, const char *path)
{
	struct stat st;
	int fd, err;

	fd = open(path, O_RDWR);
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	if (fstat(fd, &st))
		die("fstat %s: %s", path, strerror(errno));
	h->size = (u64)st.st_size;
	h->shm = mmap(NULL, h->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h->shm == MAP_FAILED)
		die("mmap %s: %s", path, strerror(errno));
	close(fd);
	err = ringnet_region_geom(h->shm, h->size, &h->geom);
	if (err)
		die("%s is not a kvmring region this build understands (%s)", path, strerror(-err));
	if (h->victim >= (int)h->geom.max_peers)
		die("--victim %d: the region has slots 0..%u", h->victim, h->geom.max_peers - 1);
}

/* Both ends of our rings with slot s, restarted: whatever was in them is not ours. */
static void peer_attach(struct hostile *h, u32 s, bool restart)
{
	struct hostile_peer *p = &h->peers[s];

	ringnet_tx_attach(&p->tx, ringnet_region_ring(h->shm, &h->geom, h->self, s), h->geom.ring_size);
	ringnet_rx_attach(&p->rx, ringnet_region_ring(h->shm, &h->geom, s, h->self), h->geom.ring_size);
	if (restart) {
		ringnet_tx_reset(&p->tx);
		ringnet_rx_reset(&p->rx);
	}
}

/* Writes addresses into our entry under addr_seq, as the driver does. */
static void publish_addrs(struct hostile *h, const u8 (*v4)[4], const u8 (*v6)[16])
{
	u32 seq = READ_ONCE(h->me->addr_seq) | 1;

	WRITE_ONCE(h->me->addr_seq, seq);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy(h->me->ipv4, v4, sizeof(h->me->ipv4));
	memcpy(h->me->ipv6, v6, sizeof(h->me->ipv6));
	__atomic_thread_fence(__ATOMIC_RELEASE);
	WRITE_ONCE(h->me->addr_seq, seq + 1);
}

/* Our own addresses: in the lab's ring0 subnets, never used by a guest. */
static void publish_own_addrs(struct hostile *h)
{
	u8 v4[KVMRING_PEER_ADDRS][4] = { { 198, 51, 100, (u8)(200 + h->self) } };
	u8 v6[KVMRING_PEER_ADDRS][16] = { { 0x20, 0x01, 0x0d, 0xb8, 0, 2 } };

	v6[0][15] = (u8)(200 + h->self);
	publish_addrs(h, v4, v6);
}

/*
 * Goes UP under a new generation in a slot we hold: CLAIMED first, so peers
 * see the entry change hands, then the entry, then UP with release.
 */
static void rejoin(struct hostile *h, const u8 *mac)
{
	u32 s;

	h->gen++;
	h->stats.generations++;
	__atomic_store_n(&h->me->state, KVMRING_PEER_WORD(h->gen, KVMRING_PEER_CLAIMED), __ATOMIC_SEQ_CST);
	memcpy(h->me->mac, mac, 6);
	for (s = 0; s < h->geom.max_peers; s++)
		if (s != h->self)
			peer_attach(h, s, true);
	__atomic_store_n(&h->me->state, KVMRING_PEER_WORD(h->gen, KVMRING_PEER_UP), __ATOMIC_RELEASE);
}

/* The ABI's claim: a FREE word, swapped for CLAIMED with the generation + 1. */
static void claim(struct hostile *h)
{
	u32 s, n = h->geom.max_peers;

	for (s = 0; s < n; s++) {
		u64 old = __atomic_load_n(&entry(h, s)->state, __ATOMIC_ACQUIRE);
		u64 new = KVMRING_PEER_WORD(KVMRING_PEER_GEN(old) + 1, KVMRING_PEER_CLAIMED);

		if (KVMRING_PEER_STATE(old) != KVMRING_PEER_FREE)
			continue;
		if (__atomic_compare_exchange_n(&entry(h, s)->state, &old, new, false,
						__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			break;
	}
	if (s == n)
		die("no free slot among the region's %u: start the lab with more slots than guests", n);
	h->claimed = true;
	h->self = s;
	h->me = entry(h, s);
	h->gen = KVMRING_PEER_GEN(__atomic_load_n(&h->me->state, __ATOMIC_ACQUIRE));
	h->heartbeat = READ_ONCE(h->me->heartbeat);
	/* A locally administered unicast MAC that names the slot. */
	memcpy(h->mac, (u8[]){ 0x02, 0x68, 0x6f, 0x73, 0x74, (u8)s }, 6);
	h->me->doorbell_id = h->ivposition;
	h->me->flags = 0;
	h->me->mtu = HOSTILE_MTU;
	memcpy(h->me->mac, h->mac, 6);
	for (s = 0; s < n; s++)
		if (s != h->self)
			peer_attach(h, s, true);
	publish_own_addrs(h);
	__atomic_store_n(&h->me->state, KVMRING_PEER_WORD(h->gen, KVMRING_PEER_UP), __ATOMIC_RELEASE);
	say("slot %u, generation %u, MAC %02x:%02x:%02x:%02x:%02x:%02x", h->self, h->gen,
	    h->mac[0], h->mac[1], h->mac[2], h->mac[3], h->mac[4], h->mac[5]);
}

/* Leaves as the ABI says: our word, if still ours, swapped for FREE. */
static void leave(struct hostile *h)
{
	u64 up = KVMRING_PEER_WORD(h->gen, KVMRING_PEER_UP);

	__atomic_compare_exchange_n(&h->me->state, &up, KVMRING_PEER_WORD(h->gen, KVMRING_PEER_FREE),
				    false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

/* Follows the peer table: attach to newcomers, forget those who left. */
static void scan_peers(struct hostile *h)
{
	u32 s;

	for (s = 0; s < h->geom.max_peers; s++) {
		struct hostile_peer *p = &h->peers[s];
		u64 word;
		u8 mac[6];

		if (s == h->self)
			continue;
		word = __atomic_load_n(&entry(h, s)->state, __ATOMIC_ACQUIRE);
		if (KVMRING_PEER_STATE(word) != KVMRING_PEER_UP) {
			p->present = false;
			continue;
		}
		if (p->present && p->gen == KVMRING_PEER_GEN(word))
			continue;
		memcpy(mac, entry(h, s)->mac, 6);
		p->gen = KVMRING_PEER_GEN(word);
		p->present = mac_valid(mac);
		if (!p->present)
			continue;
		memcpy(p->mac, mac, 6);
		peer_attach(h, s, false);
	}
}

/* ---- scenarios -------------------------------------------------------------- */

/*
 * bad-meta: every combination of these, in an order that spreads any prefix
 * over all of them (index * a prime, modulo the count).
 */
static const u32 bm_lens[] = { 14, 15, 42, 54, 60, 1514, 9014, 65535, KVMRING_FRAME_MAX };
static const u8 bm_gso[] = { KVMRING_GSO_NONE, KVMRING_GSO_TCPV4, KVMRING_GSO_TCPV6, KVMRING_GSO_UDP_L4,
			     2, 3, 6, 0x7f };
static const u16 bm_flags[] = { 0, KVMRING_REC_F_CSUM_PARTIAL, KVMRING_REC_F_DATA_VALID,
				KVMRING_REC_F_CSUM_PARTIAL | KVMRING_REC_F_DATA_VALID };
static const u16 bm_csum_offsets[] = { 0, 6, 16 };
static const u16 bm_gso_sizes[] = { 0, 1, 8, 65535 };
#define BM_ECN		2
#define BM_CSUM_STARTS	3	/* 0, 14, len - 2 */
#define BM_COMBOS	(ARRAY_SIZE(bm_lens) * ARRAY_SIZE(bm_gso) * BM_ECN * ARRAY_SIZE(bm_flags) * \
			 BM_CSUM_STARTS * ARRAY_SIZE(bm_csum_offsets) * ARRAY_SIZE(bm_gso_sizes))
#define BM_STRIDE	7919	/* prime, coprime to BM_COMBOS */
#define BM_PAD_EVERY	16	/* one record in this many becomes a pad in mid-area */

/* An Ethernet frame to p that looks like TCP or UDP for its first address. */
static void bm_frame(struct hostile *h, const struct kvmring_peer *e, const struct hostile_peer *p,
		     u8 *f, u32 len, u8 gso)
{
	bool v6 = (gso & ~KVMRING_GSO_ECN) == KVMRING_GSO_TCPV6;
	u8 proto = (gso & ~KVMRING_GSO_ECN) == KVMRING_GSO_UDP_L4 ? 17 : 6;
	u32 l3 = len - 14;
	u8 *ip = f + 14;

	memcpy(f, p->mac, 6);
	memcpy(f + 6, h->mac, 6);
	put_be16(f + 12, v6 ? 0x86dd : 0x0800);
	if (l3)
		rnd_fill(h, ip, l3);
	if (!v6 && l3 >= 20) {
		ip[0] = 0x45;
		ip[1] = 0;
		put_be16(ip + 2, (u16)(l3 > 0xffff ? 0xffff : l3));
		ip[6] = 0x40;	/* DF */
		ip[7] = 0;
		ip[8] = 64;
		ip[9] = proto;
		ip[10] = ip[11] = 0;
		memcpy(ip + 12, (u8[]){ 198, 51, 100, (u8)(200 + h->self) }, 4);
		memcpy(ip + 16, e->ipv4[0], 4);
		put_be16(ip + 10, ip_csum(ip, 20));
	} else if (v6 && l3 >= 40) {
		ip[0] = 0x60;
		ip[1] = ip[2] = ip[3] = 0;
		put_be16(ip + 4, (u16)(l3 - 40 > 0xffff ? 0xffff : l3 - 40));
		ip[6] = proto;
		ip[7] = 64;
		memcpy(ip + 8, (u8[]){ 0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				       (u8)(200 + h->self) }, 16);
		memcpy(ip + 24, e->ipv6[0], 16);
	}
}

/* Up to HOSTILE_TX_BATCH bad records into our ring to p, each published at once. */
static void bad_meta_step(struct hostile *h, u32 s)
{
	struct hostile_peer *p = &h->peers[s];
	int i;

	for (i = 0; i < HOSTILE_TX_BATCH; i++) {
		u64 c = (h->combo * BM_STRIDE) % BM_COMBOS;
		struct ringnet_meta m = {};
		struct kvmring_rec *rec;
		u32 len, start;
		void *frame;

		len = bm_lens[c % ARRAY_SIZE(bm_lens)];
		c /= ARRAY_SIZE(bm_lens);
		m.gso_type = bm_gso[c % ARRAY_SIZE(bm_gso)];
		c /= ARRAY_SIZE(bm_gso);
		m.gso_type |= c % BM_ECN ? KVMRING_GSO_ECN : 0;
		c /= BM_ECN;
		m.flags = bm_flags[c % ARRAY_SIZE(bm_flags)];
		c /= ARRAY_SIZE(bm_flags);
		start = c % BM_CSUM_STARTS;
		c /= BM_CSUM_STARTS;
		m.csum_start = (u16)(start == 0 ? 0 : start == 1 ? 14 : (len - 2 > 0xffff ? 0xffff : len - 2));
		m.csum_offset = bm_csum_offsets[c % ARRAY_SIZE(bm_csum_offsets)];
		c /= ARRAY_SIZE(bm_csum_offsets);
		m.gso_size = bm_gso_sizes[c % ARRAY_SIZE(bm_gso_sizes)];

		if (ringnet_tx_reserve(&p->tx, len, &frame)) {
			h->stats.full++;
			break;
		}
		bm_frame(h, entry(h, s), p, frame, len, m.gso_type);
		ringnet_tx_commit(&p->tx, &m);
		rec = (struct kvmring_rec *)frame - 1;
		if (h->combo % BM_PAD_EVERY == BM_PAD_EVERY - 1) {
			/* Raw: a pad where no pad can be, in the middle of the area. */
			WRITE_ONCE(rec->len, 0);
			WRITE_ONCE(rec->flags, KVMRING_REC_F_PAD);
			h->stats.pads++;
		}
		ringnet_tx_publish(&p->tx);
		h->stats.records++;
		h->combo++;
	}
}

/* Takes what peers sent us, honestly, and counts what was meant for the victim. */
static bool consume(struct hostile *h)
{
	bool busy = false;
	u32 s;
	int i, n;

	for (s = 0; s < h->geom.max_peers; s++) {
		struct hostile_peer *p = &h->peers[s];

		if (s == h->self || !p->present)
			continue;
		for (i = 0; i < HOSTILE_RX_BATCH; i++) {
			n = ringnet_rx_dequeue(&p->rx, h->buf, sizeof(h->buf), NULL);
			if (n == 0)
				break;
			busy = true;
			if (n < 0)
				continue;
			h->stats.received++;
			if (mac_valid(h->victim_mac) && !memcmp(h->buf, h->victim_mac, 6))
				h->stats.victim_frames++;
		}
	}
	return busy;
}

/*
 * steal-mac: publish the victim's MAC and addresses, under a new generation
 * when they change. Only once the victim has beaten STEAL_AFTER_BEATS times
 * with that MAC: the peers know it by then, so we claim what is already a live
 * peer's, not race a newcomer for it.
 */
#define STEAL_AFTER_BEATS	10

static void steal_step(struct hostile *h)
{
	struct kvmring_peer *v = entry(h, (u32)h->victim);
	u8 mac[6], v4[KVMRING_PEER_ADDRS][4], v6[KVMRING_PEER_ADDRS][16];
	u64 word = __atomic_load_n(&v->state, __ATOMIC_ACQUIRE);
	u64 hb = READ_ONCE(v->heartbeat);

	if (KVMRING_PEER_STATE(word) != KVMRING_PEER_UP)
		return;
	memcpy(mac, v->mac, 6);
	if (!mac_valid(mac) || !memcmp(mac, h->victim_mac, 6))
		return;
	if (memcmp(mac, h->victim_seen, 6)) {
		memcpy(h->victim_seen, mac, 6);
		h->victim_seen_hb = hb;
		return;
	}
	if (hb - h->victim_seen_hb < STEAL_AFTER_BEATS)
		return;
	memcpy(v4, v->ipv4, sizeof(v4));
	memcpy(v6, v->ipv6, sizeof(v6));
	memcpy(h->victim_mac, mac, 6);
	publish_addrs(h, (const u8 (*)[4])v4, (const u8 (*)[16])v6);
	rejoin(h, mac);
	say("publishing slot %d's MAC %02x:%02x:%02x:%02x:%02x:%02x, generation %u", h->victim,
	    mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], h->gen);
}

/* stomp-state: a different lie in the victim's state word every beat. */
static void stomp_step(struct hostile *h)
{
	u64 *word = &entry(h, (u32)h->victim)->state;
	u64 old = __atomic_load_n(word, __ATOMIC_ACQUIRE);
	u32 gen = KVMRING_PEER_GEN(old);
	u64 lies[] = {
		KVMRING_PEER_WORD(gen, KVMRING_PEER_FREE),
		KVMRING_PEER_WORD(gen + 1, KVMRING_PEER_UP),
		KVMRING_PEER_WORD(gen, KVMRING_PEER_CLAIMED),
		KVMRING_PEER_WORD(gen, 0x5a),
		rnd(h),
	};

	__atomic_store_n(word, lies[h->stats.stomps % ARRAY_SIZE(lies)], __ATOMIC_RELEASE);
	h->stats.stomps++;
}

/* scribble: one pass of random bytes over the whole region. */
static void scribble_pass(struct hostile *h)
{
	rnd_fill(h, h->shm, h->size);
	h->stats.scribbled += h->size;
}

/* ---- doorbells ---------------------------------------------------------------- */

/* One message of the ivshmem-server protocol: an int64 and maybe a descriptor. */
static int doorbell_recv(int sock, int64_t *value, int *fd, int timeout_ms)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = value, .iov_len = sizeof(*value) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	struct cmsghdr *c;
	ssize_t n;

	*fd = -1;
	if (poll(&pfd, 1, timeout_ms) <= 0)
		return 0;
	n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	if (n != (ssize_t)sizeof(*value))
		die("doorbell server: short message (%zd bytes)", n);
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	return 1;
}

/*
 * Connects as a QEMU does: version, our id, the region, then the other
 * peers' eventfds and our own. Keeps the eventfds of doorbell id `target`.
 */
static int doorbell_connect(struct hostile *h)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int64_t v, version, id;
	int sock, fd;

	if (strlen(h->doorbell) >= sizeof(addr.sun_path))
		die("--doorbell %s: path too long", h->doorbell);
	strcpy(addr.sun_path, h->doorbell);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&addr, sizeof(addr)))
		die("connect %s: %s", h->doorbell, strerror(errno));
	if (!doorbell_recv(sock, &version, &fd, 5000) || version != 0)
		die("doorbell server: no protocol version 0");
	if (!doorbell_recv(sock, &id, &fd, 5000) || id < 0 || id > 0xffff)
		die("doorbell server: no peer id");
	h->ivposition = (u32)id;
	if (!doorbell_recv(sock, &v, &fd, 5000) || v != -1 || fd < 0)
		die("doorbell server: no region descriptor");
	close(fd);
	say("doorbell server %s: we are peer %lld", h->doorbell, (long long)id);
	return sock;
}

/* Takes the descriptors the server sends until it goes quiet; keeps those of `target`. */
static void doorbell_collect(struct hostile *h, int sock, u32 target)
{
	int64_t v;
	int fd;

	while (doorbell_recv(sock, &v, &fd, 500)) {
		if (fd < 0)
			continue;
		if (v == (int64_t)target && h->n_eventfds < HOSTILE_MAX_EVENTFDS)
			h->eventfds[h->n_eventfds++] = fd;
		else
			close(fd);
	}
	if (!h->n_eventfds)
		die("doorbell server: no eventfd for peer %u", target);
	say("ringing peer %u through %u eventfd(s)", target, h->n_eventfds);
}

static void doorbell_flood(struct hostile *h, u64 deadline)
{
	u64 one = 1, next_beat = 0;
	unsigned int i;
	int j;

	while (!hostile_stop && now_ns() < deadline) {
		for (j = 0; j < 1024; j++) {
			for (i = 0; i < h->n_eventfds; i++)
				if (write(h->eventfds[i], &one, sizeof(one)) == sizeof(one))
					h->stats.doorbells++;
		}
		if (now_ns() >= next_beat) {
			WRITE_ONCE(h->me->heartbeat, ++h->heartbeat);
			h->stats.beats++;
			scan_peers(h);
			next_beat = now_ns() + HOSTILE_BEAT_NS;
		}
		consume(h);
	}
}

/* ---- main loop ---------------------------------------------------------------- */

static void beat(struct hostile *h)
{
	u64 word = __atomic_load_n(&h->me->state, __ATOMIC_ACQUIRE);

	if (word != KVMRING_PEER_WORD(h->gen, KVMRING_PEER_UP))
		h->stats.evicted++;
	WRITE_ONCE(h->me->heartbeat, ++h->heartbeat);
	h->stats.beats++;
	switch (h->scenario) {
	case HOSTILE_FLIP_GEN:
		rejoin(h, h->mac);
		break;
	case HOSTILE_STEAL_MAC:
		steal_step(h);
		break;
	case HOSTILE_STOMP_STATE:
		stomp_step(h);
		break;
	default:
		break;
	}
	scan_peers(h);
}

static void run(struct hostile *h, u64 deadline)
{
	u64 next_beat = 0, t;
	bool busy;
	u32 s;

	while (!hostile_stop && (t = now_ns()) < deadline) {
		if (t >= next_beat) {
			beat(h);
			next_beat = t + HOSTILE_BEAT_NS;
		}
		busy = false;
		if (h->scenario == HOSTILE_BAD_META) {
			for (s = 0; s < h->geom.max_peers; s++)
				if (s != h->self && h->peers[s].present &&
				    (h->victim < 0 || (u32)h->victim == s))
					bad_meta_step(h, s);
		}
		if (h->scenario != HOSTILE_NO_CONSUME)
			busy = consume(h);
		if (!busy)
			usleep(200);
	}
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: kvmring_hostile --region PATH [--seconds N] [--victim SLOT] [--doorbell SOCKET]\n"
		"                       [--seed N] SCENARIO\n"
		"scenarios: bad-meta [--victim SLOT: only it], no-consume, steal-mac --victim SLOT,\n"
		"           flip-gen, stomp-state --victim SLOT, scribble,\n"
		"           doorbell-flood --victim SLOT --doorbell SOCKET\n");
}

static void on_signal(int sig)
{
	(void)sig;
	hostile_stop = 1;
}

static void summary(const struct hostile *h)
{
	const struct hostile_stats *st = &h->stats;
	const struct { const char *name; u64 value; } counters[] = {
		{ "beats", st->beats },
		{ "records", st->records },
		{ "pads", st->pads },
		{ "full", st->full },
		{ "received", st->received },
		{ "victimFrames", st->victim_frames },
		{ "generations", st->generations },
		{ "stomps", st->stomps },
		{ "scribbled", st->scribbled },
		{ "doorbells", st->doorbells },
		{ "evicted", st->evicted },
	};
	unsigned int i;

	printf("{\"scenario\":\"%s\",\"slot\":%d,\"victim\":%d", hostile_scenario_names[h->scenario],
	       h->claimed ? (int)h->self : -1, h->victim);
	for (i = 0; i < ARRAY_SIZE(counters); i++)
		printf(",\"%s\":%llu", counters[i].name, (unsigned long long)counters[i].value);
	printf("}\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "region", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 's' },
		{ "victim", required_argument, NULL, 'v' },
		{ "doorbell", required_argument, NULL, 'd' },
		{ "seed", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct hostile h;	/* large: the receive buffer */
	const char *region = NULL;
	double seconds = 10;
	unsigned int i;
	u64 deadline;
	int c, sock = -1;

	h.victim = -1;
	h.ivposition = KVMRING_DOORBELL_NONE;
	h.rng = (u64)time(NULL) ^ ((u64)getpid() << 32);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			region = optarg;
			break;
		case 's':
			seconds = strtod(optarg, NULL);
			break;
		case 'v':
			h.victim = atoi(optarg);
			break;
		case 'd':
			h.doorbell = optarg;
			break;
		case 'S':
			h.rng = strtoull(optarg, NULL, 0);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!region || optind != argc - 1 || !(seconds > 0)) {
		usage(stderr);
		return 2;
	}
	for (i = 0; i < ARRAY_SIZE(hostile_scenario_names); i++)
		if (!strcmp(argv[optind], hostile_scenario_names[i]))
			break;
	if (i == ARRAY_SIZE(hostile_scenario_names)) {
		fprintf(stderr, "kvmring_hostile: unknown scenario %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	h.scenario = i;
	if ((h.scenario == HOSTILE_STEAL_MAC || h.scenario == HOSTILE_STOMP_STATE ||
	     h.scenario == HOSTILE_DOORBELL_FLOOD) && h.victim < 0)
		die("%s needs --victim SLOT", argv[optind]);
	if (h.scenario == HOSTILE_DOORBELL_FLOOD && !h.doorbell)
		die("doorbell-flood needs --doorbell SOCKET (the lab's doorbell server)");
	if (!h.rng)
		h.rng = 1;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	region_map(&h, region);
	if (h.doorbell)
		sock = doorbell_connect(&h);
	deadline = now_ns() + (u64)(seconds * 1e9);

	if (h.scenario == HOSTILE_SCRIBBLE) {
		while (!hostile_stop && now_ns() < deadline) {
			scribble_pass(&h);
			usleep(20000);
		}
		summary(&h);
		return 0;
	}

	claim(&h);
	scan_peers(&h);
	if (h.scenario == HOSTILE_DOORBELL_FLOOD) {
		u64 word = __atomic_load_n(&entry(&h, (u32)h.victim)->state, __ATOMIC_ACQUIRE);
		u32 target = READ_ONCE(entry(&h, (u32)h.victim)->doorbell_id);

		if (KVMRING_PEER_STATE(word) != KVMRING_PEER_UP || target > 0xffff)
			die("slot %d is not up with a doorbell id", h.victim);
		doorbell_collect(&h, sock, target);
		doorbell_flood(&h, deadline);
	} else {
		run(&h, deadline);
	}
	leave(&h);
	summary(&h);
	if (sock >= 0)
		close(sock);
	return 0;
}
