// SPDX-License-Identifier: GPL-2.0-only
/*
 * ringnet_member.c - the decisions of peer membership; see ringnet_member.h.
 * ringnet_peer.c takes the locks, logs, counts and tells; this decides.
 */
#include "ringnet_member.h"

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
	if (!m->present || m->gen != s->gen) {
		memcpy(s->mac, e->mac, ETH_ALEN);
		return RINGNET_SIGHT_NEW;
	}
	if (s->heartbeat != m->last_hb)
		return RINGNET_SIGHT_BEAT;
	if (m->alive && ringnet_member_timed_out(m->last_hb_change, now, timeout))
		return RINGNET_SIGHT_DIED;
	return RINGNET_SIGHT_SAME;
}

/*
 * The same MAC in two regions is the same guest reachable twice (one MAC per
 * ring0): without a host-owned roster (the isolation work) a guest cannot
 * tell that from an impostor in another region, and sending prefers the
 * lower region. So only the members of m's region are looked at.
 */
const char *ringnet_member_mac_refusal(const struct ringnet_members *t,
				       const struct ringnet_member *m, const u8 *mac,
				       const u8 *own)
{
	u32 s;

	if (!is_valid_ether_addr(mac))
		return "an invalid MAC";
	if (ether_addr_equal(mac, own))
		return "our own MAC";
	for (s = 0; s < t->n; s++) {
		const struct ringnet_member *q = t->members[s];

		/* A dead holder keeps no claim: a guest may come back in another slot. */
		if (q != m && q->present && q->alive && ether_addr_equal(q->mac, mac))
			return "the MAC of a live peer";
	}
	return NULL;
}

/*
 * A doorbell id is a 16-bit ivshmem peer id that nobody else uses: a peer
 * that names ours or another peer's would aim our kicks at a third guest.
 */
u32 ringnet_member_doorbell(const struct ringnet_members *t, const struct ringnet_member *m,
			    u32 id, bool doorbell, u32 ivposition, bool *conflict)
{
	u32 s;

	*conflict = false;
	if (!doorbell || id > 0xffff)
		return KVMRING_DOORBELL_NONE;
	if (id == ivposition)
		goto refuse;
	for (s = 0; s < t->n; s++) {
		const struct ringnet_member *q = t->members[s];

		if (q != m && READ_ONCE(q->present) && q->doorbell_id == id)
			goto refuse;
	}
	return id;
refuse:
	*conflict = true;
	return KVMRING_DOORBELL_NONE;
}

void ringnet_member_forget(struct ringnet_member *m)
{
	WRITE_ONCE(m->alive, false);
	WRITE_ONCE(m->present, false);
}

bool ringnet_member_down(struct ringnet_member *m)
{
	bool was = m->present;

	WRITE_ONCE(m->refused, false);
	if (was)
		ringnet_member_forget(m);
	return was;
}

bool ringnet_member_refusal_news(const struct ringnet_member *m, u32 gen)
{
	return m->present || m->gen != gen || !m->refused;
}

void ringnet_member_refuse(struct ringnet_member *m, u32 gen, const u8 *mac)
{
	ringnet_member_forget(m);
	m->gen = gen;
	ether_addr_copy(m->refused_mac, mac);
	WRITE_ONCE(m->refused, true);
}

void ringnet_member_join(struct ringnet_member *m, u32 gen, const u8 *mac, u32 doorbell_id,
			 u64 hb, unsigned long now)
{
	WRITE_ONCE(m->refused, false);
	m->gen = gen;
	ether_addr_copy(m->mac, mac);
	m->doorbell_id = doorbell_id;
	m->last_hb = hb;
	m->last_hb_change = now;
	/* Release: a reader that sees the member present sees its whole MAC. */
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

bool ringnet_member_addrs(struct ringnet_member *m, u32 seq)
{
	if (!ringnet_addr_seq_moved(seq, m->addr_seq))
		return false;
	m->addr_seq = seq;
	return true;
}

bool ringnet_member_self_ok(const struct kvmring_peer *me, const struct kvmring_peer *mine,
			    u64 want)
{
	/*
	 * Peer-writable: our entry as the others read it. A neighbour that
	 * rewrote our MAC or addresses but not our word would have new peers
	 * see a stranger: one copy, compared with ours.
	 */
	struct kvmring_peer now;

	if (READ_ONCE(me->state) != want)
		return false;
	memcpy(ringnet_entry_tail(&now), (const u8 *)me + RINGNET_ENTRY_OFF, RINGNET_ENTRY_TAIL);
	return !memcmp(ringnet_entry_tail(&now), (const u8 *)mine + RINGNET_ENTRY_OFF,
		       RINGNET_ENTRY_TAIL);
}

bool ringnet_member_retake_own(const struct kvmring_peer *me, u64 word, u64 own_word,
			       u64 evicted_hb, unsigned long evicted_at, unsigned long now,
			       unsigned long timeout)
{
	/* Our word but not our entry: a new generation in the same slot. */
	return word == own_word || !ringnet_word_claimed(word) ||
	       (READ_ONCE(me->heartbeat) == evicted_hb &&
		ringnet_member_timed_out(evicted_at, now, timeout));
}

bool ringnet_member_abandoned(const struct ringnet_member *m, const struct kvmring_peer *e,
			      unsigned long now, unsigned long timeout)
{
	/* A heartbeat still since we last saw it move, for the timeout: nobody's. */
	return READ_ONCE(e->heartbeat) == m->last_hb &&
	       ringnet_member_timed_out(m->last_hb_change, now, timeout);
}
