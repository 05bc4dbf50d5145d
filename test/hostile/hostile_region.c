// SPDX-License-Identifier: GPL-2.0-only
/*
 * hostile_region.c - kvmring_hostile as a member of the roster's domain, by
 * ABI v2's rules where it plays fair: our entry in every region we own (a
 * generation past the last one there, the fields, then UP), its heartbeat,
 * our rings to and from every peer the roster lists (through the ring
 * core, at the places ringnet_route_queue() gives), and the peers' entries
 * in their regions.
 */
#define _GNU_SOURCE
#include "hostile.h"

/* The part of an entry after state and heartbeat: what we fill in before UP. */
#define ENTRY_TAIL_OFF	offsetof(struct kvmring_peer, doorbell_id)

static void *place(struct hostile *h, const struct ringnet_place *pl)
{
	return h->by_region[pl->region]->mem + pl->off;
}

/*
 * Both ends of every queue pair with slot s, at the roster's places: our
 * halves in our region, s's halves and the data of its rings to us in its
 * region. renew: a new run of ours, whatever the ends held is dropped.
 */
static void peer_attach(struct hostile *h, u32 s, bool renew)
{
	struct hostile_peer *p = &h->peers[s];
	struct ringnet_ring_places out, in;
	struct ringnet_route rt;
	u32 q;

	if (ringnet_roster_route(&h->ro, s, &rt))
		die("no route to slot %u in a roster that lists it", s);
	for (q = 0; q < h->ro.queues; q++) {
		if (ringnet_route_queue(&h->ro, &rt, q, &out, &in))
			die("no queue %u to slot %u", q, s);
		ringnet_tx_attach(&p->q[q].tx, place(h, &out.prod), place(h, &out.cons),
				  place(h, &out.data), h->ro.ring_size);
		ringnet_rx_attach(&p->q[q].rx, place(h, &in.cons), place(h, &in.prod),
				  place(h, &in.data), h->ro.ring_size);
		if (renew) {
			ringnet_tx_renew(&p->q[q].tx);
			ringnet_rx_renew(&p->q[q].rx);
		}
	}
}

/* The peers the roster lists, their entries found (in the region each owns that we read). */
static void peers_init(struct hostile *h)
{
	struct ringnet_route rt;
	u32 s;

	for (s = 0; s < h->ro.max_peers; s++) {
		struct hostile_peer *p = &h->peers[s];

		if (s == h->self || !h->ro.slots[s].present)
			continue;
		if (ringnet_roster_route(&h->ro, s, &rt))
			die("no route to slot %u in a roster that lists it", s);
		p->listed = true;
		p->entry = (const struct kvmring_peer *)(h->by_region[rt.rx.region]->mem +
							 KVMRING_OWNED_ENTRY_OFF);
	}
}

const struct kvmring_peer *victim_entry(struct hostile *h)
{
	if (h->victim < 0 || !h->peers[h->victim].listed)
		return NULL;
	return h->peers[h->victim].entry;
}

/* Writes addresses into our entries under addr_seq, as the driver does. */
void publish_addrs(struct hostile *h, const u8 (*v4)[4], const u8 (*v6)[16])
{
	u32 seq = (READ_ONCE(h->mine[0]->addr_seq) | 1), i;

	for (i = 0; i < h->nmine; i++)
		WRITE_ONCE(h->mine[i]->addr_seq, seq);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (i = 0; i < h->nmine; i++) {
		memcpy(h->mine[i]->ipv4, v4, sizeof(h->mine[i]->ipv4));
		memcpy(h->mine[i]->ipv6, v6, sizeof(h->mine[i]->ipv6));
	}
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (i = 0; i < h->nmine; i++)
		WRITE_ONCE(h->mine[i]->addr_seq, seq + 1);
}

void publish_mac(struct hostile *h, const u8 *mac)
{
	u32 i;

	for (i = 0; i < h->nmine; i++)
		memcpy(h->mine[i]->mac, mac, 6);
}

/* Our own addresses: the first of each family the roster lets us claim. */
static void publish_own_addrs(struct hostile *h)
{
	const struct ringnet_roster_slot *me = &h->ro.slots[h->self];
	u8 v4[KVMRING_PEER_ADDRS][4] = {}, v6[KVMRING_PEER_ADDRS][16] = {};
	u32 a, n4 = 0, n6 = 0;

	for (a = 0; a < me->naddrs; a++) {
		if (me->addrs[a].family == 4 && n4 < KVMRING_PEER_ADDRS)
			memcpy(v4[n4++], me->addrs[a].addr, 4);
		else if (me->addrs[a].family == 6 && n6 < KVMRING_PEER_ADDRS)
			memcpy(v6[n6++], me->addrs[a].addr, 16);
	}
	publish_addrs(h, (const u8 (*)[4])v4, (const u8 (*)[16])v6);
}

/* Every entry of ours to word; false if one did not take it (a region that drops our writes). */
static bool entries_state(struct hostile *h, u64 word)
{
	bool ok = true;
	u32 i;

	for (i = 0; i < h->nmine; i++) {
		__atomic_store_n(&h->mine[i]->state, word, __ATOMIC_SEQ_CST);
		ok &= __atomic_load_n(&h->mine[i]->state, __ATOMIC_SEQ_CST) == word;
	}
	return ok;
}

/*
 * Starts our run as ringnet's join does: a generation past the ones our
 * regions hold, FREE in it first (read back: a region of ours that drops
 * writes is a host bug), the entry, our ring ends renewed, addresses, UP.
 */
void join(struct hostile *h)
{
	struct kvmring_peer tail = {};
	u32 i, gen = 0;

	peers_init(h);
	h->heartbeat = 0;
	for (i = 0; i < h->nmine; i++) {
		u64 word = __atomic_load_n(&h->mine[i]->state, __ATOMIC_ACQUIRE);
		u64 hb = READ_ONCE(h->mine[i]->heartbeat);

		if (KVMRING_PEER_GEN(word) > gen)
			gen = KVMRING_PEER_GEN(word);
		if (hb > h->heartbeat)
			h->heartbeat = hb;
	}
	h->gen = gen + 1 ? gen + 1 : 1;
	if (!entries_state(h, KVMRING_PEER_WORD(h->gen, KVMRING_PEER_FREE)))
		die("a region the roster calls ours drops our writes: the host maps it read-only into us");

	tail.doorbell_id = h->ivposition;
	tail.flags = 0;		/* we poll: nobody need ring us */
	tail.mtu = HOSTILE_MTU;
	memcpy(tail.mac, mac_valid(h->victim_mac) ? h->victim_mac : h->mac, 6);
	for (i = 0; i < h->nmine; i++) {
		tail.addr_seq = READ_ONCE(h->mine[i]->addr_seq) & ~1U;
		memcpy((u8 *)h->mine[i] + ENTRY_TAIL_OFF, (u8 *)&tail + ENTRY_TAIL_OFF,
		       sizeof(tail) - ENTRY_TAIL_OFF);
	}
	for (i = 0; i < h->ro.max_peers; i++)
		if (h->peers[i].listed)
			peer_attach(h, i, true);
	if (mac_valid(h->victim_mac))
		publish_addrs(h, (const u8 (*)[4])h->victim_v4, (const u8 (*)[16])h->victim_v6);
	else
		publish_own_addrs(h);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	entries_state(h, KVMRING_PEER_WORD(h->gen, KVMRING_PEER_UP));
	h->joined = true;
	h->stats.generations++;
	say("slot %u, generation %u, MAC %02x:%02x:%02x:%02x:%02x:%02x", h->self, h->gen,
	    h->mac[0], h->mac[1], h->mac[2], h->mac[3], h->mac[4], h->mac[5]);
}

/* flip-gen: a restart under the next generation, in the same order as join. */
void rejoin(struct hostile *h)
{
	u32 s;

	h->gen++;
	entries_state(h, KVMRING_PEER_WORD(h->gen, KVMRING_PEER_FREE));
	for (s = 0; s < h->ro.max_peers; s++)
		if (h->peers[s].listed)
			peer_attach(h, s, true);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	entries_state(h, KVMRING_PEER_WORD(h->gen, KVMRING_PEER_UP));
	h->stats.generations++;
}

void leave(struct hostile *h)
{
	if (h->joined)
		entries_state(h, KVMRING_PEER_WORD(h->gen, KVMRING_PEER_FREE));
	h->joined = false;
}

void beat_entries(struct hostile *h)
{
	u32 i;

	h->heartbeat++;
	for (i = 0; i < h->nmine; i++)
		WRITE_ONCE(h->mine[i]->heartbeat, h->heartbeat);
}

/* Follows the peers' entries: a new generation is a restart, its ends renewed. */
void scan_peers(struct hostile *h)
{
	u32 s;

	for (s = 0; s < h->ro.max_peers; s++) {
		struct hostile_peer *p = &h->peers[s];
		u64 word;

		if (!p->listed)
			continue;
		word = __atomic_load_n(&p->entry->state, __ATOMIC_ACQUIRE);
		if (KVMRING_PEER_STATE(word) != KVMRING_PEER_UP) {
			p->present = false;
			continue;
		}
		if (p->present && p->gen == KVMRING_PEER_GEN(word))
			continue;
		p->gen = KVMRING_PEER_GEN(word);
		p->present = true;
		peer_attach(h, s, false);
	}
}
