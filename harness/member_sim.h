/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * member_sim.h - one guest's view of its peers (ABI v2), for member_test
 * and member_fuzz: the scan of ringnet_peer.c (ringnet_peer_scan()) without
 * its locks, logs and rings, calling ringnet_member.c in the same order and
 * counting what the driver counts, with the netlink events it would send
 * recorded as bits. Keep the two in step: a change to the scan's order of
 * calls belongs in both.
 *
 * The driver reads each peer's entry in the region the peer owns; here the
 * entries are one array, entries[s] being slot s's. Who a slot is comes from
 * a roster (struct ringnet_roster, validated or built by the test).
 */
#ifndef RINGNET_MEMBER_SIM_H
#define RINGNET_MEMBER_SIM_H

#include "ringnet_member.h"

/* The netlink events one scan of a slot sends (RINGNET_CMD_PEER_*_NTF). */
#define SIM_LEAVE	(1U << 0)
#define SIM_CONFLICT	(1U << 1)	/* PEER_REFUSED_NTF: a MAC the roster does not give it */
#define SIM_JOIN	(1U << 2)
#define SIM_ALIVE	(1U << 3)
#define SIM_DEATH	(1U << 4)
#define SIM_UPDATE	(1U << 5)

/* The driver's struct ringnet_member_stats, as plain counts. */
struct sim_stats {
	u64	peer_joins, peer_deaths, peer_leaves;
	u64	mac_conflicts, addr_conflicts;
};

struct sim {
	struct kvmring_peer		*entries;	/* max_peers entries: slot s's is entries[s] */
	const struct ringnet_roster	*ro;
	u32				n;		/* ro->max_peers */
	u32				self;		/* ro->self, never scanned */
	unsigned long			timeout;
	struct ringnet_member		m[KVMRING_PEERS_MAX];
	struct sim_stats		st;
};

/* Whether the driver lists slot s as a peer (ringnet_roster_route() finds one). */
static inline bool sim_listed(const struct sim *s, u32 slot)
{
	return slot < s->n && slot != s->self && s->ro->slots[slot].present;
}

/* Identities from the roster, as ringnet_domain_peers() sets them. */
static inline void sim_init(struct sim *s, struct kvmring_peer *entries,
			    const struct ringnet_roster *ro, unsigned long timeout)
{
	u32 i;

	memset(s, 0, sizeof(*s));
	s->entries = entries;
	s->ro = ro;
	s->n = ro->max_peers;
	s->self = ro->self;
	s->timeout = timeout;
	for (i = 0; i < KVMRING_PEERS_MAX; i++) {
		s->m[i].doorbell_id = KVMRING_DOORBELL_NONE;
		if (sim_listed(s, i))
			ringnet_member_identity(&s->m[i], ro->slots[i].mac, ro->slots[i].doorbell_id);
	}
}

/*
 * ringnet_peer_scan() of slot at time now: returns whether the set of live
 * peers changed, with the events sent in *ev.
 */
static inline bool sim_scan(struct sim *s, u32 slot, unsigned long now, unsigned int *ev)
{
	const struct kvmring_peer *e = &s->entries[slot];
	struct ringnet_member *m = &s->m[slot];
	bool was = m->present, changed = false, news;
	struct ringnet_sighting sight;
	u32 refused;

	*ev = 0;
	switch (ringnet_member_sight(m, e, &sight, now, s->timeout)) {
	case RINGNET_SIGHT_DOWN:
		ringnet_member_down(m);
		if (!was)
			return false;
		s->st.peer_leaves++;
		*ev |= SIM_LEAVE;
		return true;

	case RINGNET_SIGHT_NEW:
		ringnet_member_forget(m);
		ringnet_member_join(m, sight.gen, sight.heartbeat, now);
		news = ringnet_member_claim(m, sight.mac);
		ringnet_member_take_addrs(m, e, s->ro, slot, &refused);
		s->st.peer_joins++;
		*ev |= SIM_JOIN;
		if (news) {
			s->st.mac_conflicts++;
			*ev |= SIM_CONFLICT;
		}
		s->st.addr_conflicts += refused;
		return true;

	case RINGNET_SIGHT_BEAT:
		changed = ringnet_member_beat(m, sight.heartbeat, now);
		if (changed)
			*ev |= SIM_ALIVE;
		break;

	case RINGNET_SIGHT_DIED:
		ringnet_member_die(m);
		s->st.peer_deaths++;
		*ev |= SIM_DEATH;
		changed = true;
		break;

	case RINGNET_SIGHT_SAME:
		break;
	}
	if (ringnet_member_claim(m, sight.mac)) {
		s->st.mac_conflicts++;
		*ev |= SIM_CONFLICT;
	}
	if (ringnet_member_take_addrs(m, e, s->ro, slot, &refused)) {
		s->st.addr_conflicts += refused;
		*ev |= SIM_UPDATE;
	}
	return changed;
}

/* One beat of the peer work: every listed slot, in order. Returns whether any changed. */
static inline bool sim_beat(struct sim *s, unsigned long now)
{
	unsigned int ev;
	bool changed = false;
	u32 i;

	for (i = 0; i < s->n; i++)
		if (sim_listed(s, i))
			changed |= sim_scan(s, i, now, &ev);
	return changed;
}

#endif /* RINGNET_MEMBER_SIM_H */
