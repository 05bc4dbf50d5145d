// SPDX-License-Identifier: GPL-2.0-only
/*
 * ringnet_member.c - the decisions of peer membership; see ringnet_member.h.
 * ringnet_peer.c takes the locks, logs, counts and tells; this decides.
 */
#include "ringnet_member.h"

void ringnet_member_identity(struct ringnet_member *m, const u8 *mac, u32 doorbell_id)
{
	if (!m->present)
		ether_addr_copy(m->mac, mac);
	WRITE_ONCE(m->doorbell_id, doorbell_id);
}

enum ringnet_sight ringnet_member_sight(const struct ringnet_member *m,
					const struct kvmring_peer *e, struct ringnet_sighting *s,
					unsigned long now, unsigned long timeout)
{
	u64 word = READ_ONCE(e->state);

	s->state = KVMRING_PEER_STATE(word);
	s->gen = KVMRING_PEER_GEN(word);
	if (s->state != KVMRING_PEER_UP)
		return RINGNET_SIGHT_DOWN;
	/* Pairs with the owner's release of UP: its entry is complete. */
	smp_rmb();
	s->heartbeat = READ_ONCE(e->heartbeat);
	/* Its owner may rewrite it at any time: looked at every time. */
	memcpy(s->mac, e->mac, ETH_ALEN);
	if (!m->present || m->gen != s->gen)
		return RINGNET_SIGHT_NEW;
	if (s->heartbeat != m->last_hb)
		return RINGNET_SIGHT_BEAT;
	if (m->alive && ringnet_member_timed_out(m->last_hb_change, now, timeout))
		return RINGNET_SIGHT_DIED;
	return RINGNET_SIGHT_SAME;
}

void ringnet_member_forget(struct ringnet_member *m)
{
	WRITE_ONCE(m->alive, false);
	WRITE_ONCE(m->present, false);
}

bool ringnet_member_down(struct ringnet_member *m)
{
	bool was = m->present;

	if (was)
		ringnet_member_forget(m);
	return was;
}

void ringnet_member_join(struct ringnet_member *m, u32 gen, u64 hb, unsigned long now)
{
	WRITE_ONCE(m->claimed, false);
	m->gen = gen;
	m->last_hb = hb;
	m->last_hb_change = now;
	/* Odd: never a settled count, so the first settled one is taken. */
	m->addr_seq = 1;
	m->addrs_refused = 0;
	/* Release: a reader that sees the member present sees its rings attached. */
	smp_store_release(&m->present, true);
	WRITE_ONCE(m->alive, true);
}

bool ringnet_member_beat(struct ringnet_member *m, u64 hb, unsigned long now)
{
	bool back = !m->alive;

	m->last_hb = hb;
	m->last_hb_change = now;
	if (back)
		WRITE_ONCE(m->alive, true);
	return back;
}

void ringnet_member_die(struct ringnet_member *m)
{
	WRITE_ONCE(m->alive, false);
}

bool ringnet_member_claim(struct ringnet_member *m, const u8 *mac)
{
	bool conflict = !ether_addr_equal(mac, m->mac);
	bool news = conflict && (!m->claimed || !ether_addr_equal(mac, m->claimed_mac));

	if (conflict)
		ether_addr_copy(m->claimed_mac, mac);
	WRITE_ONCE(m->claimed, conflict);
	return news;
}

bool ringnet_member_read_addrs(const struct kvmring_peer *e, struct ringnet_peer_addrs *a)
{
	/* Peer-writable: pairs with the smp_wmb()s of its owner's publishing. */
	u32 seq = READ_ONCE(e->addr_seq);

	smp_rmb();	/* the count before the addresses it covers */
	memcpy(a->v4, e->ipv4, sizeof(a->v4));
	memcpy(a->v6, e->ipv6, sizeof(a->v6));
	smp_rmb();	/* the addresses before the count that confirms them */
	a->seq = seq;
	if (!(seq & 1) && READ_ONCE(e->addr_seq) == seq)
		return true;
	memset(a->v4, 0, sizeof(a->v4));
	memset(a->v6, 0, sizeof(a->v6));
	return false;
}

static bool ringnet_zero(const u8 *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

u32 ringnet_member_filter_addrs(struct ringnet_peer_addrs *a, const struct ringnet_roster *ro,
				u32 s)
{
	u32 i, n = 0;

	for (i = 0; i < KVMRING_PEER_ADDRS; i++) {
		if (!ringnet_zero(a->v4[i], 4) && !ringnet_roster_addr_ok(ro, s, 4, a->v4[i])) {
			memset(a->v4[i], 0, 4);
			n++;
		}
		if (!ringnet_zero(a->v6[i], 16) && !ringnet_roster_addr_ok(ro, s, 6, a->v6[i])) {
			memset(a->v6[i], 0, 16);
			n++;
		}
	}
	return n;
}

bool ringnet_member_take_addrs(struct ringnet_member *m, const struct kvmring_peer *e,
			       const struct ringnet_roster *ro, u32 s, u32 *refused)
{
	struct ringnet_peer_addrs a;

	*refused = 0;
	if (!ringnet_addr_seq_moved(READ_ONCE(e->addr_seq), m->addr_seq))
		return false;
	if (!ringnet_member_read_addrs(e, &a) || !ringnet_addr_seq_moved(a.seq, m->addr_seq))
		return false;
	*refused = ringnet_member_filter_addrs(&a, ro, s);
	m->addr_seq = a.seq;
	WRITE_ONCE(m->addrs_refused, *refused);
	return true;
}

u32 ringnet_member_next_gen(const u64 *words, u32 n)
{
	u32 gen = 0, i;
	bool taken;

	for (i = 0; i < n; i++)
		if (KVMRING_PEER_GEN(words[i]) > gen)
			gen = KVMRING_PEER_GEN(words[i]);
	/* Past a wrap, one past the largest may be another region's: step on. */
	do {
		gen++;
		taken = false;
		for (i = 0; i < n; i++)
			taken |= KVMRING_PEER_GEN(words[i]) == gen;
	} while (taken);
	return gen;
}
