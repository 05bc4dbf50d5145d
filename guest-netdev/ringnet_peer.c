// SPDX-License-Identifier: GPL-2.0-only
/*
 * ringnet_peer.c - membership of a region: claiming, joining and leaving our
 * slot, the heartbeat, the scan of the peer table (read each shared word
 * once, then validate), identity checks and refusals, rejoining after an
 * eviction, new generations for a MAC change, and publishing our addresses.
 * What an entry says and what to make of it (joins, refusals, deaths, the
 * check of our own entry) is decided by ringnet_member.c; this file holds
 * the locks, logs, counts, netlink events and ring attachment around it.
 */
#include <linux/delay.h>
#include <linux/inetdevice.h>
#include <linux/rtnetlink.h>
#include <net/addrconf.h>
#include <net/if_inet6.h>

#include "kvmring/ringnet_genl.h"
#include "ringnet.h"

static unsigned int peer_timeout_ms = 2000;
module_param(peer_timeout_ms, uint, 0644);
MODULE_PARM_DESC(peer_timeout_ms,
		 "a peer whose heartbeat is still this long is dead, in milliseconds (default 2000)");

/* ---- peers ---------------------------------------------------------------------- */

/* Membership news may come as fast as a neighbour flips its entry: rate-limited. */
#define ringnet_peer_log(level, dev, fmt, ...)				\
	do {								\
		if (net_ratelimit())					\
			netdev_##level(dev, fmt, ##__VA_ARGS__);	\
	} while (0)

/*
 * Attaches both ends of our rings with p. renew: we are the slot's new
 * owner, so whatever a former owner left in the rings is dropped (the other
 * ends follow). Caller holds neither ring lock; p->slot is not ours.
 */
static void ringnet_peer_attach(struct ringnet_region *r, struct ringnet_peer *p, bool renew)
{
	struct kvmring_ring_hdr *out = ringnet_region_ring(r->shm, &r->geom, r->self, p->slot);
	struct kvmring_ring_hdr *in = ringnet_region_ring(r->shm, &r->geom, p->slot, r->self);

	spin_lock_bh(&p->tx_lock);
	ringnet_tx_attach_hdr(&p->tx, out, r->geom.ring_size);
	if (renew)
		ringnet_tx_renew(&p->tx);
	spin_unlock_bh(&p->tx_lock);
	spin_lock_bh(&p->rx_lock);
	ringnet_rx_attach_hdr(&p->rx, in, r->geom.ring_size);
	if (renew)
		ringnet_rx_renew(&p->rx);
	p->rx_ready = true;
	spin_unlock_bh(&p->rx_lock);
}

/* Process context; the peer works of several regions and ndo_open may race here. */
void ringnet_update_carrier(struct ringnet_priv *priv)
{
	struct ringnet_region *r;
	bool any = false;
	unsigned int i, s;

	mutex_lock(&priv->carrier_lock);
	rcu_read_lock_bh();
	ringnet_for_each_region(priv, r, i)
		for (s = 0; s < r->geom.max_peers; s++)
			any |= READ_ONCE(r->peers[s].m.alive);
	rcu_read_unlock_bh();
	if (any && !netif_carrier_ok(priv->dev))
		netif_carrier_on(priv->dev);
	else if (!any && netif_carrier_ok(priv->dev))
		netif_carrier_off(priv->dev);
	mutex_unlock(&priv->carrier_lock);
}

/* Stops using p until its slot shows a generation we accept. */
void ringnet_peer_forget(struct ringnet_peer *p)
{
	ringnet_member_forget(&p->m);
}

/* r's members, as ringnet_member.c looks at them. */
static struct ringnet_members ringnet_members(struct ringnet_region *r)
{
	return (struct ringnet_members){ .members = r->member, .n = r->geom.max_peers };
}

/*
 * Whether mac may be p's identity (ringnet_member_mac_refusal()): no peer of
 * a region can take over another's traffic or speak for us. Runs in r's
 * peer work, the only writer of r's peers' identities.
 */
static const char *ringnet_mac_refusal(struct ringnet_region *r, struct ringnet_peer *p,
				       const u8 *mac)
{
	struct ringnet_members t = ringnet_members(r);

	return ringnet_member_mac_refusal(&t, &p->m, mac, r->priv->dev->dev_addr);
}

/* The doorbell id p may be kicked at (ringnet_member_doorbell()); conflicts are counted. */
static u32 ringnet_doorbell_id(struct ringnet_region *r, struct ringnet_peer *p, u32 id)
{
	struct ringnet_members t = ringnet_members(r);
	bool conflict;

	id = ringnet_member_doorbell(&t, &p->m, id, r->doorbell, r->ivposition, &conflict);
	if (conflict)
		ringnet_stat_inc(&r->member_stats, doorbell_conflicts);
	return id;
}

/*
 * Looks at one slot of the peer table. Each shared word is read once; an entry
 * that does not make sense is counted and ignored until it changes.
 * Returns true if the set of live peers changed. Runs in the peer work.
 */
static bool ringnet_peer_scan(struct ringnet_region *r, struct ringnet_peer *p)
{
	struct kvmring_peer *e = ringnet_entry(r, p->slot);
	struct net_device *dev = r->priv->dev;
	unsigned long timeout = msecs_to_jiffies(peer_timeout_ms);
	struct ringnet_member *m = &p->m;
	bool was = m->present, changed = false, news;
	struct ringnet_sighting sight;
	const char *why;
	u32 seq;

	switch (ringnet_member_sight(m, e, &sight, jiffies, timeout)) {
	case RINGNET_SIGHT_DOWN:
		spin_lock_bh(&r->peers_lock);
		ringnet_member_down(m);
		spin_unlock_bh(&r->peers_lock);
		if (!was)
			return false;
		ringnet_stat_inc(&r->member_stats, peer_leaves);
		ringnet_peer_log(info, dev, "peer %u (%pM) left\n", p->slot, m->mac);
		ringnet_nl_notify(r, p, RINGNET_CMD_PEER_LEAVE_NTF);
		return true;

	case RINGNET_SIGHT_NEW:
		/* A refused generation is looked at again each beat: its rival may leave. */
		why = ringnet_mac_refusal(r, p, sight.mac);
		if (why) {
			news = ringnet_member_refusal_news(m, sight.gen);
			if (news) {
				if (is_valid_ether_addr(sight.mac))
					ringnet_stat_inc(&r->member_stats, mac_conflicts);
				else
					ringnet_stat_inc(&r->member_stats, bad_peer_entries);
				ringnet_peer_log(warn, dev, "peer %u publishes %s (%pM): refused\n",
						 p->slot, why, sight.mac);
			}
			spin_lock_bh(&r->peers_lock);
			ringnet_member_refuse(m, sight.gen, sight.mac);
			spin_unlock_bh(&r->peers_lock);
			if (news)
				ringnet_nl_notify(r, p, RINGNET_CMD_PEER_REFUSED_NTF);
			return was;
		}
		spin_lock_bh(&r->peers_lock);
		ringnet_peer_forget(p);
		spin_unlock_bh(&r->peers_lock);
		/* Readers that saw the old identity present finish comparing its MAC first. */
		if (was)
			synchronize_net();
		/* Not present yet: nobody sends to or takes from these rings until below. */
		ringnet_peer_attach(r, p, false);
		spin_lock_bh(&r->peers_lock);
		ringnet_member_join(m, sight.gen, sight.mac,
				   ringnet_doorbell_id(r, p, READ_ONCE(e->doorbell_id)),
				   sight.heartbeat, jiffies);
		spin_unlock_bh(&r->peers_lock);
		m->addr_seq = READ_ONCE(e->addr_seq);
		ringnet_stat_inc(&r->member_stats, peer_joins);
		ringnet_peer_log(info, dev, "peer %u (%pM) joined, generation %u\n",
				 p->slot, m->mac, sight.gen);
		ringnet_nl_notify(r, p, RINGNET_CMD_PEER_JOIN_NTF);
		return true;

	case RINGNET_SIGHT_BEAT:
		spin_lock_bh(&r->peers_lock);
		changed = ringnet_member_beat(m, sight.heartbeat, jiffies);
		spin_unlock_bh(&r->peers_lock);
		if (changed) {
			ringnet_peer_log(info, dev, "peer %u (%pM) is alive again\n",
					 p->slot, m->mac);
			ringnet_nl_notify(r, p, RINGNET_CMD_PEER_ALIVE_NTF);
		}
		break;

	case RINGNET_SIGHT_DIED:
		spin_lock_bh(&r->peers_lock);
		ringnet_member_die(m);
		spin_unlock_bh(&r->peers_lock);
		ringnet_stat_inc(&r->member_stats, peer_deaths);
		ringnet_peer_log(warn, dev, "peer %u (%pM) stopped its heartbeat %u ms ago: marked dead\n",
				 p->slot, m->mac, jiffies_to_msecs(jiffies - m->last_hb_change));
		ringnet_nl_notify(r, p, RINGNET_CMD_PEER_DEATH_NTF);
		changed = true;
		break;

	case RINGNET_SIGHT_SAME:
		break;
	}

	/* Peer-writable: a settled count that moved means other addresses. */
	seq = READ_ONCE(e->addr_seq);
	if (ringnet_member_addrs(m, seq))
		ringnet_nl_notify(r, p, RINGNET_CMD_PEER_UPDATE_NTF);
	return changed;
}

/*
 * Takes slot s if its state word is still old; the generation moves on.
 * Caller holds r->self_lock (or owns r alone, in probe).
 */
static bool ringnet_take_slot(struct ringnet_region *r, u32 s, u64 old)
{
	struct kvmring_peer *e = ringnet_entry(r, s);
	u32 gen = KVMRING_PEER_GEN(old) + 1;

	if (cmpxchg64(&e->state, old, KVMRING_PEER_WORD(gen, KVMRING_PEER_CLAIMED)) != old)
		return false;
	WRITE_ONCE(r->self, s);
	r->self_gen = gen;
	r->me = e;
	return true;
}

/*
 * Our state word is not what we wrote: a neighbour scribbled over it, or
 * judged us dead (we were paused past the timeout) and took the slot. Join
 * again rather than leave for good: our own slot if nobody holds a claim in
 * it (or the claim's heartbeat stood still since we noticed), else a free
 * slot, else a dead peer's. Under RTNL (addresses) and r->self_lock.
 * Returns true once joined; false to try again at the next beat.
 */
static bool ringnet_rejoin(struct ringnet_region *r)
{
	unsigned long timeout = msecs_to_jiffies(peer_timeout_ms);
	struct kvmring_peer *mine = r->me;
	u32 s, n = r->geom.max_peers, old_self = r->self;
	u64 word = READ_ONCE(mine->state);
	bool took = false;

	if (ringnet_member_retake_own(mine, word, KVMRING_PEER_WORD(r->self_gen, KVMRING_PEER_UP),
				      r->evicted_hb, r->evicted_at, jiffies, timeout))
		took = ringnet_take_slot(r, old_self, word);
	for (s = 0; s < n && !took; s++) {
		word = READ_ONCE(ringnet_entry(r, s)->state);
		if (s != old_self && KVMRING_PEER_STATE(word) == KVMRING_PEER_FREE)
			took = ringnet_take_slot(r, s, word);
	}
	for (s = 0; s < n && !took; s++) {
		word = READ_ONCE(ringnet_entry(r, s)->state);
		if (s != old_self &&
		    ringnet_member_abandoned(&r->peers[s].m, ringnet_entry(r, s), jiffies, timeout))
			took = ringnet_take_slot(r, s, word);
	}
	if (!took)
		return false;

	/*
	 * ringnet_check_self() forgot every peer and stopped every ring when it
	 * evicted us, the slot we now own included; join attaches the others.
	 */
	ringnet_join(r);
	r->evicted = false;
	ringnet_stat_inc(&r->member_stats, rejoins);
	ringnet_peer_log(warn, r->priv->dev, "joined region %s again as slot %u, generation %u\n",
			 pci_name(r->pdev), r->self, r->self_gen);
	return true;
}

/* Checks our own word; on a mismatch, forgets every peer and marks us evicted. */
static void ringnet_check_self(struct ringnet_region *r)
{
	u32 s;

	lockdep_assert_held(&r->self_lock);
	if (r->evicted)
		return;
	/* A neighbour that rewrote our MAC or addresses but not our word counts too. */
	if (ringnet_member_self_ok(r->me, &r->mine,
				   KVMRING_PEER_WORD(r->self_gen, KVMRING_PEER_UP)))
		return;
	r->evicted = true;
	/* Remember when: a claim in our slot whose heartbeat stands still is nobody's. */
	r->evicted_hb = READ_ONCE(r->me->heartbeat);
	r->evicted_at = jiffies;
	ringnet_peer_log(warn, r->priv->dev,
			 "slot %u of %s was overwritten or taken over: joining again\n",
			 r->self, pci_name(r->pdev));
	/* The rings into our old slot may be someone else's now: stop consuming them. */
	for (s = 0; s < r->geom.max_peers; s++) {
		struct ringnet_peer *p = &r->peers[s];

		ringnet_peer_forget(p);
		spin_lock_bh(&p->rx_lock);
		p->rx_ready = false;
		spin_unlock_bh(&p->rx_lock);
	}
}

void ringnet_peer_work(struct work_struct *work)
{
	struct ringnet_region *r = container_of(to_delayed_work(work), struct ringnet_region,
						peer_work);
	struct ringnet_priv *priv = r->priv;
	bool changed = false, joined = false, evicted;
	u32 s;

	mutex_lock(&r->self_lock);
	ringnet_check_self(r);
	evicted = r->evicted;
	if (!evicted)
		WRITE_ONCE(r->me->heartbeat, ++r->heartbeat);
	mutex_unlock(&r->self_lock);

	if (evicted) {
		ringnet_update_carrier(priv);
		/* RTNL before self_lock, as a MAC change takes them. */
		rtnl_lock();
		mutex_lock(&r->self_lock);
		if (!r->leaving)
			evicted = !ringnet_rejoin(r);
		mutex_unlock(&r->self_lock);
		rtnl_unlock();
		if (evicted)
			goto again;
	}

	for (s = 0; s < r->geom.max_peers; s++) {
		u64 joins = u64_stats_read(&r->member_stats.peer_joins);

		if (s == r->self)
			continue;
		changed |= ringnet_peer_scan(r, &r->peers[s]);
		joined |= u64_stats_read(&r->member_stats.peer_joins) != joins;
	}
	if (changed)
		ringnet_update_carrier(priv);
	/*
	 * Tell peers our MAC (gratuitous ARP, unsolicited NA) when one joins, and
	 * when we came up or changed addresses: a rebooted guest has a new MAC
	 * that stale neighbour entries elsewhere do not know. At most once a
	 * second: a neighbour that joins at every beat gets no flood from us.
	 */
	if (joined)
		WRITE_ONCE(priv->announce, true);
	if (READ_ONCE(priv->announce) && netif_running(priv->dev) && netif_carrier_ok(priv->dev) &&
	    time_after_eq(jiffies, READ_ONCE(priv->last_announce) + HZ)) {
		WRITE_ONCE(priv->announce, false);
		WRITE_ONCE(priv->last_announce, jiffies);
		netdev_notify_peers(priv->dev);
	}
	/*
	 * Poll once per beat in doorbell mode too: re-attaching a ring above
	 * disarms its kick while NAPI may sleep waiting for one, and a neighbour
	 * that scribbles over a kick word could swallow a wake-up. This bounds
	 * either to one beat; in plain mode it restarts an idle timer.
	 */
	if (netif_running(priv->dev))
		ringnet_napi_schedule_bh(r);
again:
	schedule_delayed_work(&r->peer_work, msecs_to_jiffies(KVMRING_HEARTBEAT_MS));
}

/* ---- publishing our entry ------------------------------------------------------ */

struct ringnet_addrs {
	u8		v4[KVMRING_PEER_ADDRS][4];
	u8		v6[KVMRING_PEER_ADDRS][16];
	unsigned int	n4, n6;
};

/* Appends nd's global addresses to a, as many as fit. Caller holds RTNL. */
static void ringnet_collect_addrs(struct net_device *nd, struct ringnet_addrs *a)
{
	const struct in_ifaddr *ifa;
	struct inet6_ifaddr *ifa6;
	struct inet6_dev *in6;
	struct in_device *in;

	in = __in_dev_get_rtnl(nd);
	if (in)
		in_dev_for_each_ifa_rtnl(ifa, in)
			if (a->n4 < KVMRING_PEER_ADDRS)
				memcpy(a->v4[a->n4++], &ifa->ifa_local, 4);
	in6 = __in6_dev_get(nd);
	if (in6) {
		read_lock_bh(&in6->lock);
		list_for_each_entry(ifa6, &in6->addr_list, if_list)
			if (a->n6 < KVMRING_PEER_ADDRS &&
			    !(ipv6_addr_type(&ifa6->addr) & IPV6_ADDR_LINKLOCAL))
				memcpy(a->v6[a->n6++], &ifa6->addr, 16);
		read_unlock_bh(&in6->lock);
	}
}

/*
 * Writes our addresses into our entry: ring0's first, then those of the
 * guest's other interfaces (transparent mode needs them). addr_seq is odd
 * while they change. Caller holds RTNL and r->self_lock (r->me is ours).
 */
static void ringnet_publish_addrs(struct ringnet_region *r)
{
	struct net_device *dev = r->priv->dev, *nd;
	struct ringnet_addrs a = {};
	u32 seq;

	ASSERT_RTNL();
	ringnet_collect_addrs(dev, &a);
	for_each_netdev(dev_net(dev), nd)
		if (nd != dev && !(nd->flags & IFF_LOOPBACK))
			ringnet_collect_addrs(nd, &a);

	seq = r->mine.addr_seq | 1;
	WRITE_ONCE(r->me->addr_seq, seq);
	smp_wmb();	/* readers see the odd count before any address changes */
	memcpy(r->me->ipv4, a.v4, sizeof(a.v4));
	memcpy(r->me->ipv6, a.v6, sizeof(a.v6));
	smp_wmb();	/* ... and every address before the even count */
	WRITE_ONCE(r->me->addr_seq, seq + 1);
	memcpy(r->mine.ipv4, a.v4, sizeof(a.v4));
	memcpy(r->mine.ipv6, a.v6, sizeof(a.v6));
	r->mine.addr_seq = seq + 1;
}

/* RTNL, then each region's self_lock: the order a MAC change takes them in. */
void ringnet_addr_work(struct work_struct *work)
{
	struct ringnet_priv *priv = container_of(work, struct ringnet_priv, addr_work);
	struct ringnet_region *r;
	unsigned int i;

	rtnl_lock();
	for (i = 0; i < RINGNET_MAX_REGIONS; i++) {
		r = rtnl_dereference(priv->regions[i]);
		if (!r)
			continue;
		mutex_lock(&r->self_lock);
		if (!r->evicted && !r->leaving)
			ringnet_publish_addrs(r);
		mutex_unlock(&r->self_lock);
	}
	rtnl_unlock();
	WRITE_ONCE(priv->announce, true);
}

/* ---- joining and leaving a region ---------------------------------------------- */

/*
 * Claims a slot: a free one, else one whose owner's heartbeat stood still for
 * peer_timeout_ms (a guest that died without leaving). Sleeps only in that
 * last case. In doorbell mode the slot is not the IVPosition: the server never
 * reuses an id at once, so IVPositions outgrow the table. In probe, before
 * anyone else can see r.
 */
int ringnet_claim_slot(struct ringnet_region *r)
{
	u64 words[KVMRING_PEERS_MAX], beats[KVMRING_PEERS_MAX];
	u32 s, n = r->geom.max_peers;

	for (s = 0; s < n; s++) {
		u64 old = READ_ONCE(ringnet_entry(r, s)->state);

		if (KVMRING_PEER_STATE(old) == KVMRING_PEER_FREE && ringnet_take_slot(r, s, old))
			return 0;
	}
	for (s = 0; s < n; s++) {
		words[s] = READ_ONCE(ringnet_entry(r, s)->state);
		beats[s] = READ_ONCE(ringnet_entry(r, s)->heartbeat);
	}
	msleep(peer_timeout_ms + KVMRING_HEARTBEAT_MS);
	for (s = 0; s < n; s++) {
		/* Same word and same heartbeat after the timeout: nobody owns it. */
		if (READ_ONCE(ringnet_entry(r, s)->heartbeat) == beats[s] &&
		    ringnet_take_slot(r, s, words[s]))
			return 0;
	}
	return -EBUSY;
}

/*
 * Fills in our claimed entry, renews our rings and goes UP. Under RTNL
 * (addresses) and r->self_lock.
 */
void ringnet_join(struct ringnet_region *r)
{
	struct net_device *dev = r->priv->dev;
	struct kvmring_peer *e = r->me;
	u32 s;

	r->heartbeat = READ_ONCE(e->heartbeat);
	/* Everything after state and heartbeat; addresses follow below. */
	memset(&r->mine, 0, sizeof(r->mine));
	r->mine.doorbell_id = r->doorbell ? r->ivposition : KVMRING_DOORBELL_NONE;
	r->mine.flags = r->doorbell ? KVMRING_PEER_F_DOORBELL : 0;
	r->mine.mtu = dev->mtu;
	memcpy(r->mine.mac, dev->dev_addr, ETH_ALEN);
	r->mine.addr_seq = READ_ONCE(e->addr_seq) & ~1U;
	memcpy(ringnet_entry_tail(e), ringnet_entry_tail(&r->mine), RINGNET_ENTRY_TAIL);

	/* Whatever a former owner of this slot left in its rings is not for us. */
	for (s = 0; s < r->geom.max_peers; s++)
		if (s != r->self)
			ringnet_peer_attach(r, &r->peers[s], true);
	ringnet_publish_addrs(r);
	/* Entry complete before anyone sees UP (peers read it after an smp_rmb). */
	smp_wmb();
	WRITE_ONCE(e->state, KVMRING_PEER_WORD(r->self_gen, KVMRING_PEER_UP));
}

void ringnet_leave(struct ringnet_region *r)
{
	u64 up;

	/* Only if the slot is still ours: a taker's claim stands. */
	mutex_lock(&r->self_lock);
	up = KVMRING_PEER_WORD(r->self_gen, KVMRING_PEER_UP);
	if (!r->evicted)
		cmpxchg64(&r->me->state, up, KVMRING_PEER_WORD(r->self_gen, KVMRING_PEER_FREE));
	mutex_unlock(&r->self_lock);
}

/*
 * Publishes dev's MAC by starting a new generation of our slot: peers read a
 * MAC only when a generation begins (ringnet_peer_scan), and take the new one
 * as a join, re-attaching the rings where they stand. Under RTNL; takes
 * r->self_lock, which the peer work holds only briefly and never while it
 * waits for RTNL, so neither waits for the other's end.
 */
void ringnet_new_generation(struct ringnet_region *r)
{
	u64 up;
	u32 gen;

	ASSERT_RTNL();
	mutex_lock(&r->self_lock);
	up = KVMRING_PEER_WORD(r->self_gen, KVMRING_PEER_UP);
	gen = r->self_gen + 1;
	/* Not joined yet (ringnet_join() copies the MAC), leaving, or not ours. */
	if (r->leaving || r->evicted || READ_ONCE(r->me->state) != up)
		goto out;
	/*
	 * Claim the next generation before touching the entry: if a taker won
	 * the slot meanwhile, its entry is not ours to write (the peer work
	 * notices and joins again).
	 */
	if (cmpxchg64(&r->me->state, up, KVMRING_PEER_WORD(gen, KVMRING_PEER_CLAIMED)) != up)
		goto out;
	r->self_gen = gen;
	memcpy(r->mine.mac, r->priv->dev->dev_addr, ETH_ALEN);
	memcpy(r->me->mac, r->mine.mac, ETH_ALEN);
	/* The MAC before the word that tells peers to read it. */
	smp_wmb();
	WRITE_ONCE(r->me->state, KVMRING_PEER_WORD(gen, KVMRING_PEER_UP));
out:
	mutex_unlock(&r->self_lock);
}
