/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * member_sim.h - one guest's view of a region's peer table, for member_test
 * and member_fuzz: the scan of ringnet_peer.c (ringnet_peer_scan()) without
 * its locks, logs and rings, calling ringnet_member.c in the same order and
 * counting what the driver counts, with the netlink events it would send
 * recorded as bits. Keep the two in step: a change to the scan's order of
 * calls belongs in both.
 */
#ifndef RINGNET_MEMBER_SIM_H
#define RINGNET_MEMBER_SIM_H

#include "ringnet_member.h"

/* The netlink events one scan of a slot sends (RINGNET_CMD_PEER_*_NTF). */
#define SIM_LEAVE	(1U << 0)
#define SIM_REFUSED	(1U << 1)
#define SIM_JOIN	(1U << 2)
#define SIM_ALIVE	(1U << 3)
#define SIM_DEATH	(1U << 4)
#define SIM_UPDATE	(1U << 5)

/* The driver's struct ringnet_member_stats (but rejoins), as plain counts. */
struct sim_stats {
	u64	peer_joins, peer_deaths, peer_leaves;
	u64	bad_peer_entries, mac_conflicts, doorbell_conflicts;
};

struct sim {
	struct kvmring_peer	*table;		/* n entries: the shared peer table */
	u32			n;
	u32			self;		/* our slot, never scanned */
	u8			own[ETH_ALEN];	/* our MAC */
	bool			doorbell;
	u32			ivposition;
	unsigned long		timeout;
	struct ringnet_member	m[KVMRING_PEERS_MAX];
	struct ringnet_member	*ptr[KVMRING_PEERS_MAX];
	struct sim_stats	st;
	const char		*why;		/* the last refusal's reason */
};

static inline void sim_init(struct sim *s, struct kvmring_peer *table, u32 n, u32 self,
			    const u8 *own, bool doorbell, u32 ivposition, unsigned long timeout)
{
	u32 i;

	memset(s, 0, sizeof(*s));
	s->table = table;
	s->n = n;
	s->self = self;
	memcpy(s->own, own, ETH_ALEN);
	s->doorbell = doorbell;
	s->ivposition = ivposition;
	s->timeout = timeout;
	for (i = 0; i < KVMRING_PEERS_MAX; i++)
		s->ptr[i] = &s->m[i];
}

/*
 * ringnet_peer_scan() of slot at time now: returns whether the set of live
 * peers changed, with the events sent in *ev.
 */
static inline bool sim_scan(struct sim *s, u32 slot, unsigned long now, unsigned int *ev)
{
	struct ringnet_members t = { .members = s->ptr, .n = s->n };
	struct kvmring_peer *e = &s->table[slot];
	struct ringnet_member *m = &s->m[slot];
	bool was = m->present, changed = false, news, conflict;
	struct ringnet_sighting sight;
	const char *why;
	u32 id;

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
		why = ringnet_member_mac_refusal(&t, m, sight.mac, s->own);
		if (why) {
			s->why = why;
			news = ringnet_member_refusal_news(m, sight.gen);
			if (news) {
				if (is_valid_ether_addr(sight.mac))
					s->st.mac_conflicts++;
				else
					s->st.bad_peer_entries++;
			}
			ringnet_member_refuse(m, sight.gen, sight.mac);
			if (news)
				*ev |= SIM_REFUSED;
			return was;
		}
		ringnet_member_forget(m);
		id = ringnet_member_doorbell(&t, m, READ_ONCE(e->doorbell_id), s->doorbell,
					     s->ivposition, &conflict);
		s->st.doorbell_conflicts += conflict;
		ringnet_member_join(m, sight.gen, sight.mac, id, sight.heartbeat, now);
		m->addr_seq = READ_ONCE(e->addr_seq);
		s->st.peer_joins++;
		*ev |= SIM_JOIN;
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
	if (ringnet_member_addrs(m, READ_ONCE(e->addr_seq)))
		*ev |= SIM_UPDATE;
	return changed;
}

/* One beat of the peer work: every slot but ours, in order. Returns whether any changed. */
static inline bool sim_beat(struct sim *s, unsigned long now)
{
	unsigned int ev;
	bool changed = false;
	u32 i;

	for (i = 0; i < s->n; i++)
		if (i != s->self)
			changed |= sim_scan(s, i, now, &ev);
	return changed;
}

#endif /* RINGNET_MEMBER_SIM_H */
