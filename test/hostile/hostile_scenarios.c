// SPDX-License-Identifier: GPL-2.0-only
/*
 * hostile_scenarios.c - kvmring_hostile's scenarios (bad-meta, consuming,
 * steal-mac, stomp-state, scribble) and the doorbell client that
 * doorbell-flood uses.
 */
#define _GNU_SOURCE
#include "hostile.h"

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
void bad_meta_step(struct hostile *h, u32 s)
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
bool consume(struct hostile *h)
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

void steal_step(struct hostile *h)
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
void stomp_step(struct hostile *h)
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
void scribble_pass(struct hostile *h)
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
int doorbell_connect(struct hostile *h)
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
void doorbell_collect(struct hostile *h, int sock, u32 target)
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

void doorbell_flood(struct hostile *h, u64 deadline)
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
