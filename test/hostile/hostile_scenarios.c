// SPDX-License-Identifier: GPL-2.0-only
/*
 * hostile_scenarios.c - kvmring_hostile's scenarios: bad records into our
 * own rings, consuming (and counting what was meant for the victim),
 * steal-mac, stomp (raw writes into the victim's region and the roster),
 * scribble (random bytes over every BAR2 we map) and doorbell-flood.
 */
#define _GNU_SOURCE
#include "hostile.h"

/* ---- bad-meta ----------------------------------------------------------------- */

/*
 * Every combination of these, in an order that spreads any prefix over all
 * of them (index * a prime, modulo the count).
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

/* Our first published address of each family (the roster's first prefix). */
static void own_addrs(const struct hostile *h, u8 *v4, u8 *v6)
{
	const struct ringnet_roster_slot *me = &h->ro.slots[h->self];
	bool got4 = false, got6 = false;
	u32 a;

	memset(v4, 0, 4);
	memset(v6, 0, 16);
	for (a = 0; a < me->naddrs; a++) {
		if (me->addrs[a].family == 4 && !got4) {
			memcpy(v4, me->addrs[a].addr, 4);
			got4 = true;
		} else if (me->addrs[a].family == 6 && !got6) {
			memcpy(v6, me->addrs[a].addr, 16);
			got6 = true;
		}
	}
}

/* An Ethernet frame to slot s that looks like TCP or UDP for its first published address. */
static void bm_frame(struct hostile *h, u32 s, u8 *f, u32 len, u8 gso)
{
	const struct kvmring_peer *e = h->peers[s].entry;
	bool v6 = (gso & ~KVMRING_GSO_ECN) == KVMRING_GSO_TCPV6;
	u8 proto = (gso & ~KVMRING_GSO_ECN) == KVMRING_GSO_UDP_L4 ? 17 : 6;
	u8 src4[4], src6[16];
	u32 l3 = len - 14;
	u8 *ip = f + 14;

	own_addrs(h, src4, src6);
	memcpy(f, h->ro.slots[s].mac, 6);
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
		memcpy(ip + 12, src4, 4);
		memcpy(ip + 16, e->ipv4[0], 4);
		put_be16(ip + 10, ip_csum(ip, 20));
	} else if (v6 && l3 >= 40) {
		ip[0] = 0x60;
		ip[1] = ip[2] = ip[3] = 0;
		put_be16(ip + 4, (u16)(l3 - 40 > 0xffff ? 0xffff : l3 - 40));
		ip[6] = proto;
		ip[7] = 64;
		memcpy(ip + 8, src6, 16);
		memcpy(ip + 24, e->ipv6[0], 16);
	}
}

/* Up to HOSTILE_TX_BATCH bad records into each of our rings to slot s, each published at once. */
void bad_meta_step(struct hostile *h, u32 s)
{
	struct hostile_peer *p = &h->peers[s];
	u32 q;
	int i;

	for (q = 0; q < h->ro.queues; q++) {
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
			m.csum_start = (u16)(start == 0 ? 0 : start == 1 ? 14 :
					     (len - 2 > 0xffff ? 0xffff : len - 2));
			m.csum_offset = bm_csum_offsets[c % ARRAY_SIZE(bm_csum_offsets)];
			c /= ARRAY_SIZE(bm_csum_offsets);
			m.gso_size = bm_gso_sizes[c % ARRAY_SIZE(bm_gso_sizes)];

			if (ringnet_tx_reserve(&p->q[q].tx, len, &frame)) {
				h->stats.full++;
				break;
			}
			bm_frame(h, s, frame, len, m.gso_type);
			ringnet_tx_commit(&p->q[q].tx, &m);
			rec = (struct kvmring_rec *)frame - 1;
			/*
			 * Only into a record the commit did not publish (a batch
			 * that reaches a quarter of the ring goes out in commit):
			 * a pad in a published one would land on a frame the
			 * victim may have taken.
			 */
			if (h->combo % BM_PAD_EVERY == BM_PAD_EVERY - 1 &&
			    p->q[q].tx.published != p->q[q].tx.prod) {
				/* Raw: a pad where no pad can be, in the middle of the area. */
				WRITE_ONCE(rec->len, 0);
				WRITE_ONCE(rec->flags, KVMRING_REC_F_PAD);
				h->stats.pads++;
			}
			ringnet_tx_publish(&p->q[q].tx);
			h->stats.records++;
			h->combo++;
		}
	}
}

/* ---- consuming ------------------------------------------------------------------ */

static bool addr_in(const u8 *a, const u8 *list, u32 n, u32 len)
{
	static const u8 zero[16];
	u32 i;

	for (i = 0; i < n; i++)
		if (memcmp(list + i * len, zero, len) && !memcmp(list + i * len, a, len))
			return true;
	return false;
}

/* Whether a frame we received was meant for the victim: its MAC, or one of its addresses. */
static bool for_victim(const struct hostile *h, const u8 *f, int n)
{
	u16 type;

	if (h->victim < 0 || !h->peers[h->victim].listed || n < 14)
		return false;
	if (!memcmp(f, h->ro.slots[h->victim].mac, 6))
		return true;
	type = (u16)(f[12] << 8 | f[13]);
	if (type == 0x0800 && n >= 34)
		return addr_in(f + 30, &h->victim_v4[0][0], KVMRING_PEER_ADDRS, 4);
	if (type == 0x86dd && n >= 54)
		return addr_in(f + 38, &h->victim_v6[0][0], KVMRING_PEER_ADDRS, 16);
	return false;
}

/* Takes what peers sent us, honestly, and counts what was meant for the victim. */
bool consume(struct hostile *h)
{
	bool busy = false;
	u32 s, q;
	int i, n;

	for (s = 0; s < h->ro.max_peers; s++) {
		struct hostile_peer *p = &h->peers[s];

		if (!p->listed || !p->present)
			continue;
		for (q = 0; q < h->ro.queues; q++) {
			for (i = 0; i < HOSTILE_RX_BATCH; i++) {
				n = ringnet_rx_dequeue(&p->q[q].rx, h->buf, sizeof(h->buf), NULL);
				if (n == 0)
					break;
				busy = true;
				if (n < 0)
					continue;
				h->stats.received++;
				if (for_victim(h, h->buf, n))
					h->stats.victim_frames++;
			}
		}
	}
	return busy;
}

/* ---- steal-mac ------------------------------------------------------------------ */

/* The victim's published addresses, copied under its addr_seq; true if they moved. */
static bool victim_addrs(struct hostile *h)
{
	const struct kvmring_peer *v = victim_entry(h);
	u8 v4[KVMRING_PEER_ADDRS][4], v6[KVMRING_PEER_ADDRS][16];
	u32 seq;

	if (!v)
		return false;
	seq = __atomic_load_n(&v->addr_seq, __ATOMIC_ACQUIRE);
	if (seq & 1 || seq == h->victim_seq)
		return false;
	memcpy(v4, v->ipv4, sizeof(v4));
	memcpy(v6, v->ipv6, sizeof(v6));
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (__atomic_load_n(&v->addr_seq, __ATOMIC_RELAXED) != seq)
		return false;
	memcpy(h->victim_v4, v4, sizeof(v4));
	memcpy(h->victim_v6, v6, sizeof(v6));
	h->victim_seq = seq;
	return true;
}

/*
 * steal-mac (and every scenario with a victim, for counting its frames):
 * the victim's addresses as it publishes them; steal-mac publishes them as
 * ours, beside the victim's roster MAC that join() put in our entries.
 */
void steal_step(struct hostile *h)
{
	if (!victim_addrs(h) || h->scenario != HOSTILE_STEAL_MAC)
		return;
	publish_addrs(h, (const u8 (*)[4])h->victim_v4, (const u8 (*)[16])h->victim_v6);
	say("publishing slot %d's MAC %02x:%02x:%02x:%02x:%02x:%02x and addresses (addr_seq %u)",
	    h->victim, h->victim_mac[0], h->victim_mac[1], h->victim_mac[2], h->victim_mac[3],
	    h->victim_mac[4], h->victim_mac[5], h->victim_seq);
}

/* ---- stomp ------------------------------------------------------------------------ */

enum lie_kind {
	LIE_ANY,	/* the word with bits flipped */
	LIE_STATE,	/* a peer state word */
	LIE_POS,	/* a ring position */
	LIE_KICK,	/* kick and cons_epoch */
};

static void target(struct hostile *h, struct hbar *b, u64 off, u32 words, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void target(struct hostile *h, struct hbar *b, u64 off, u32 words, const char *fmt, ...)
{
	struct htarget *t;
	va_list ap;

	if (h->ntargets == HOSTILE_MAX_TARGETS || off + 8ULL * words > b->size)
		return;
	t = &h->targets[h->ntargets++];
	memset(t, 0, sizeof(*t));
	t->bar = b;
	t->off = off;
	t->words = words;
	va_start(ap, fmt);
	vsnprintf(t->name, sizeof(t->name), fmt, ap);
	va_end(ap);
}

#define ENTRY(field)	(KVMRING_OWNED_ENTRY_OFF + offsetof(struct kvmring_peer, field))
#define QCTL(field)	offsetof(struct kvmring_queue_ctl, field)

/* What stomp writes in region b: its header, its owner's entry, every ring half and record. */
static void region_targets(struct hostile *h, struct hbar *b)
{
	u32 lanes = kvmring_lane_count(b->readers), k, q, reader = 0, bit;

	target(h, b, 0, sizeof(struct kvmring_owned_hdr) / 8, "slot %u header", b->owner);
	target(h, b, ENTRY(state), 1, "slot %u entry.state", b->owner);
	target(h, b, ENTRY(heartbeat), 1, "slot %u entry.heartbeat", b->owner);
	target(h, b, ENTRY(doorbell_id), 3, "slot %u entry.mac", b->owner);
	target(h, b, ENTRY(addr_seq), (sizeof(struct kvmring_peer) - offsetof(struct kvmring_peer, addr_seq)) / 8,
	       "slot %u entry.addrs", b->owner);
	for (k = 0; k < lanes; k++) {
		for (bit = reader; bit < 32 && !(b->readers & (1U << bit)); bit++)
			;
		reader = bit + 1;
		for (q = 0; q < h->ro.queues; q++) {
			u64 ctl = kvmring_queue_offset(h->ro.ring_size, h->ro.queues, k, q);

			target(h, b, ctl + QCTL(tx.prod), 1, "%u->%u q%u prod", b->owner, bit, q);
			target(h, b, ctl + QCTL(tx.prod_epoch), 1, "%u->%u q%u prod_epoch", b->owner, bit, q);
			target(h, b, ctl + QCTL(rx.cons), 1, "%u->%u q%u cons", bit, b->owner, q);
			target(h, b, ctl + QCTL(rx.kick), 1, "%u->%u q%u kick", bit, b->owner, q);
			target(h, b, ctl + KVMRING_QUEUE_CTL_SIZE, sizeof(struct kvmring_rec) / 8,
			       "%u->%u q%u first record", b->owner, bit, q);
		}
	}
}

/*
 * stomp's targets: every region of the victim's that we map (without
 * --victim, every region of another's), and in the roster our own slot
 * number and the MACs of our slot and the victim's.
 */
void stomp_targets(struct hostile *h)
{
	/* flags, doorbell_id and the MAC: the first two words of a slot */
	u64 slot_mac = KVMRING_ROSTER_SLOTS_OFF;
	unsigned int i;

	for (i = 0; i < h->nbars; i++) {
		struct hbar *b = &h->bars[i];

		if (b->kind == HBAR_REGION && !b->mine && (h->victim < 0 || b->owner == (u32)h->victim))
			region_targets(h, b);
	}
	if (!h->ntargets)
		die("--victim %d: we map no region of that slot (it is not in our groups)", h->victim);
	target(h, h->roster, offsetof(struct kvmring_roster_hdr, seq), 1, "roster self");
	target(h, h->roster, slot_mac + h->self * sizeof(struct kvmring_roster_slot), 2,
	       "roster slot %u mac", h->self);
	if (h->victim >= 0)
		target(h, h->roster, slot_mac + (u32)h->victim * sizeof(struct kvmring_roster_slot), 2,
		       "roster slot %d mac", h->victim);
	say("stomping %u places every beat", h->ntargets);
}

/* A lie for a word that holds `old`, of a kind that could hurt; never old itself. */
static u64 lie(struct hostile *h, const char *name, u64 old)
{
	u64 n = h->stats.stomps, v;
	u32 epoch = KVMRING_POS_EPOCH(old);

	if (strstr(name, "entry.state")) {
		u64 lies[] = {
			KVMRING_PEER_WORD(KVMRING_PEER_GEN(old), KVMRING_PEER_FREE),
			KVMRING_PEER_WORD(KVMRING_PEER_GEN(old) + 1, KVMRING_PEER_UP),
			KVMRING_PEER_WORD(KVMRING_PEER_GEN(old), 0x5a),
		};
		v = lies[n % ARRAY_SIZE(lies)];
	} else if (strstr(name, " prod") || strstr(name, " cons")) {
		/* A reset asked for, an index far ahead, an older epoch. */
		u64 lies[] = {
			KVMRING_POS(epoch + 1, 0),
			KVMRING_POS(epoch, KVMRING_POS_INDEX(old) + (1U << 30)),
			KVMRING_POS(epoch - 1, KVMRING_POS_INDEX(old)),
		};
		v = lies[n % ARRAY_SIZE(lies)];
	} else if (strstr(name, " kick")) {
		v = old + 2;	/* a new odd or even kick, the epoch copy kept */
	} else {
		v = old ^ (rnd(h) | 1);
	}
	return v == old ? old ^ 1 : v;
}

/* stomp: every target written once, each word with a lie, read back. */
void stomp_step(struct hostile *h)
{
	u64 words[sizeof(struct kvmring_peer) / 8];
	unsigned int i, j;

	for (i = 0; i < h->ntargets; i++) {
		struct htarget *t = &h->targets[i];
		const volatile u64 *p = (const volatile u64 *)(t->bar->mem + t->off);

		for (j = 0; j < t->words && j < ARRAY_SIZE(words); j++)
			words[j] = lie(h, t->name, p[j]);
		poke(t->bar, t->off, words, j, &t->w);
	}
	h->stats.stomps++;
}

/* ---- scribble ------------------------------------------------------------------ */

/*
 * One pass of random bytes over every BAR2 we map (the roster, our regions
 * and the others'), HOSTILE_SCRIBBLE_PASS bytes of each, so that a short run
 * still writes into all of them.
 */
void scribble_pass(struct hostile *h, u64 deadline)
{
	unsigned int i;

	for (i = 0; i < h->nbars && !hostile_stop; i++)
		if (h->bars[i].kind != HBAR_DOORBELL)
			bar_scribble(h, &h->bars[i], HOSTILE_SCRIBBLE_PASS, deadline);
}

/* ---- doorbell-flood -------------------------------------------------------------- */

/*
 * Rings the victim's doorbell through our doorbell device's register as
 * fast as we can. The id is the roster's for the victim, or --doorbell-id
 * for a victim outside our groups: QEMU has no eventfd for it then, and the
 * write reaches nobody.
 */
void doorbell_flood(struct hostile *h, u64 deadline)
{
	u64 next_beat = 0;
	u32 id;
	int j;

	if (!h->doorbell)
		die("doorbell-flood needs doorbell mode: the roster names no doorbell device");
	if (h->doorbell_id >= 0)
		id = (u32)h->doorbell_id;
	else if (h->victim >= 0 && h->peers[h->victim].listed)
		id = h->ro.slots[h->victim].doorbell_id;
	else
		die("slot %d is not in our roster: give its doorbell id (--doorbell-id)", h->victim);
	if (id > 0xffff)
		die("slot %d has no doorbell id in the roster (is the doorbell server up?)", h->victim);
	say("ringing doorbell id %u through %s", id, devfn_str(h->doorbell->devfn));
	while (!hostile_stop && now_ns() < deadline) {
		for (j = 0; j < 1024; j++)
			doorbell_ring(h, id, 0);
		if (now_ns() >= next_beat) {
			beat_entries(h);
			h->stats.beats++;
			scan_peers(h);
			next_beat = now_ns() + HOSTILE_BEAT_NS;
		}
		consume(h);
	}
}
