// SPDX-License-Identifier: GPL-2.0-only
/*
 * hostile_region.c - kvmring_hostile's helpers and its plumbing in the
 * region: mapping it, claiming a slot by the ABI's protocol, publishing our
 * entry, rejoining, leaving, and attaching to the peers' rings.
 */
#define _GNU_SOURCE
#include "hostile.h"

/* ---- helpers ---------------------------------------------------------------- */

static void vsay(const char *fmt, va_list ap)
{
	fputs("kvmring_hostile: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	exit(1);
}

u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

/* xorshift64*: fast, seeded, good enough for garbage. */
u64 rnd(struct hostile *h)
{
	h->rng ^= h->rng >> 12;
	h->rng ^= h->rng << 25;
	h->rng ^= h->rng >> 27;
	return h->rng * 0x2545f4914f6cdd1dULL;
}

void rnd_fill(struct hostile *h, u8 *p, u64 n)
{
	u64 i, v;

	for (i = 0; i + 8 <= n; i += 8) {
		v = rnd(h);
		memcpy(p + i, &v, 8);
	}
	for (v = rnd(h); i < n; i++, v >>= 8)
		p[i] = (u8)v;
}

struct kvmring_peer *entry(struct hostile *h, u32 slot)
{
	return (struct kvmring_peer *)(h->shm + kvmring_peer_offset(slot));
}

bool mac_valid(const u8 *mac)
{
	static const u8 zero[6];

	return !(mac[0] & 1) && memcmp(mac, zero, 6);
}

void put_be16(u8 *p, u16 v)
{
	p[0] = (u8)(v >> 8);
	p[1] = (u8)v;
}

u16 ip_csum(const u8 *p, u32 n)
{
	u32 sum = 0, i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (u32)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (u16)~sum;
}

/* ---- the region ------------------------------------------------------------- */

void region_map(struct hostile *h, const char *path)
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

	ringnet_tx_attach_hdr(&p->tx, ringnet_region_ring(h->shm, &h->geom, h->self, s),
			      h->geom.ring_size);
	ringnet_rx_attach_hdr(&p->rx, ringnet_region_ring(h->shm, &h->geom, s, h->self),
			      h->geom.ring_size);
	if (restart) {
		ringnet_tx_reset(&p->tx);
		ringnet_rx_reset(&p->rx);
	}
}

/* Writes addresses into our entry under addr_seq, as the driver does. */
void publish_addrs(struct hostile *h, const u8 (*v4)[4], const u8 (*v6)[16])
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
void rejoin(struct hostile *h, const u8 *mac)
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
void claim(struct hostile *h)
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
void leave(struct hostile *h)
{
	u64 up = KVMRING_PEER_WORD(h->gen, KVMRING_PEER_UP);

	__atomic_compare_exchange_n(&h->me->state, &up, KVMRING_PEER_WORD(h->gen, KVMRING_PEER_FREE),
				    false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

/* Follows the peer table: attach to newcomers, forget those who left. */
void scan_peers(struct hostile *h)
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
