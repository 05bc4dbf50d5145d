// SPDX-License-Identifier: GPL-2.0-only
/*
 * ringnet_peer.c - membership of ring0's domain (ABI v2): our entry in every
 * region we own (join, heartbeat, leave, addresses), the scan of each peer's
 * entry in the region it owns and we read (read each shared word once, then
 * decide), what a peer claims checked against the roster, and the roster
 * read again when the host rewrites it. Who a slot is comes from the roster
 * alone; what an entry says and what to make of it is decided by
 * ringnet_member.c; this file holds the locks, logs, counts, netlink events
 * and ring attachment around it.
 *
 * There is no claiming, eviction or rejoin: the host assigned our slot, and
 * nobody else can write the regions we own (the hypervisor drops their
 * writes), so our entry is what we last wrote.
 */
#include <linux/inetdevice.h>
#include <linux/rtnetlink.h>
#include <linux/slab.h>
#include <net/addrconf.h>
#include <net/if_inet6.h>

#include "kvmring/ringnet_genl.h"
#include "ringnet.h"

static unsigned int peer_timeout_ms = 2000;
module_param(peer_timeout_ms, uint, 0644);
MODULE_PARM_DESC(peer_timeout_ms,
		 "a peer whose heartbeat is still this long is dead, in milliseconds (default 2000)");

/* The part of an entry after state and heartbeat: what we fill in before UP. */
#define RINGNET_ENTRY_OFF	offsetof(struct kvmring_peer, doorbell_id)
#define RINGNET_ENTRY_TAIL	(sizeof(struct kvmring_peer) - RINGNET_ENTRY_OFF)
#define ringnet_entry_tail(e)	((u8 *)(e) + RINGNET_ENTRY_OFF)

/* The first region of d we own at index *i or after it, with *i moved there; NULL past the end. */
static struct ringnet_region *ringnet_owned_next(struct ringnet_domain *d, unsigned int *i)
{
	for (; *i < d->nregions; (*i)++)
		if (d->regions[*i].owned)
			return &d->regions[*i];
	return NULL;
}

/* Each region r of d that we own, with i its index. */
#define ringnet_for_each_owned(d, r, i) \
	for ((i) = 0; ((r) = ringnet_owned_next((d), &(i))); (i)++)

/* ---- peers ---------------------------------------------------------------------- */

/* Membership news may come as fast as a neighbour flips its entry: rate-limited. */
#define ringnet_peer_log(level, dev, fmt, ...)				\
	do {								\
		if (net_ratelimit())					\
			netdev_##level(dev, fmt, ##__VA_ARGS__);	\
	} while (0)

/*
 * Attaches both ends of every queue pair with p, at the places the roster
 * gave: our halves in our region, p's halves and the data of its ring to
 * us in its region, mapped read-only. renew: we just started, so whatever
 * an earlier run of ours left in our halves is dropped (p's ends follow).
 * Without renew the ends resume, following a renewal of p's. Caller holds
 * neither ring lock.
 */
void ringnet_peer_attach(struct ringnet_domain *d, struct ringnet_peer *p, bool renew)
{
	unsigned int i;

	for (i = 0; i < p->nqueues; i++) {
		struct ringnet_queue *q = &p->q[i];

		spin_lock_bh(&q->tx_lock);
		ringnet_tx_attach(&q->tx, q->tx_prod, q->tx_cons, q->tx_data, d->ring_size);
		if (renew)
			ringnet_tx_renew(&q->tx);
		spin_unlock_bh(&q->tx_lock);
		spin_lock_bh(&q->rx_lock);
		ringnet_rx_attach(&q->rx, q->rx_cons, q->rx_prod, q->rx_data, d->ring_size);
		if (renew)
			ringnet_rx_renew(&q->rx);
		q->rx_ready = true;
		spin_unlock_bh(&q->rx_lock);
	}
}

/* Process context; the peer work and ndo_open may race here. */
void ringnet_update_carrier(struct ringnet_priv *priv)
{
	struct ringnet_domain *d;
	struct ringnet_peer *p;
	bool any = false;
	unsigned int s;

	mutex_lock(&priv->carrier_lock);
	rcu_read_lock_bh();
	d = ringnet_domain_get(priv);
	if (d)
		ringnet_for_each_peer(d, p, s)
			any |= READ_ONCE(p->m.alive);
	rcu_read_unlock_bh();
	if (any && !netif_carrier_ok(priv->dev))
		netif_carrier_on(priv->dev);
	else if (!any && netif_carrier_ok(priv->dev))
		netif_carrier_off(priv->dev);
	mutex_unlock(&priv->carrier_lock);
}

/* Stops using p until its entry shows a generation we attached to. */
void ringnet_peer_forget(struct ringnet_peer *p)
{
	ringnet_member_forget(&p->m);
}

/* Counts, logs and tells a MAC p publishes that its roster entry does not give it. */
static void ringnet_peer_mac_conflict(struct ringnet_domain *d, struct ringnet_peer *p)
{
	ringnet_stat_inc(&d->member_stats, mac_conflicts);
	ringnet_peer_log(warn, d->priv->dev,
			 "peer %u (%s) publishes MAC %pM, the roster gives it %pM: ignored\n",
			 p->slot, d->ro->slots[p->slot].name, p->m.claimed_mac, p->m.mac);
	ringnet_nl_notify(d, p, RINGNET_CMD_PEER_REFUSED_NTF);
}

/* Counts and logs addresses p publishes outside its roster prefixes. */
static void ringnet_peer_addr_conflict(struct ringnet_domain *d, struct ringnet_peer *p,
				       u32 refused)
{
	if (!refused)
		return;
	ringnet_stat_add(&d->member_stats.syncp, &d->member_stats.addr_conflicts, refused);
	ringnet_peer_log(warn, d->priv->dev,
			 "peer %u (%s) publishes %u address(es) outside its roster prefixes: ignored\n",
			 p->slot, d->ro->slots[p->slot].name, refused);
}

/*
 * Looks at p's entry, in the region p owns. Each shared word is read once.
 * Returns true if the set of live peers changed. Runs in the peer work.
 */
static bool ringnet_peer_scan(struct ringnet_domain *d, struct ringnet_peer *p)
{
	const struct kvmring_peer *e = p->entry;
	struct net_device *dev = d->priv->dev;
	unsigned long timeout = msecs_to_jiffies(peer_timeout_ms);
	struct ringnet_member *m = &p->m;
	const char *name = d->ro->slots[p->slot].name;
	bool was = m->present, changed = false, news, moved;
	struct ringnet_sighting sight;
	u32 refused;

	switch (ringnet_member_sight(m, e, &sight, jiffies, timeout)) {
	case RINGNET_SIGHT_DOWN:
		spin_lock_bh(&d->peers_lock);
		ringnet_member_down(m);
		spin_unlock_bh(&d->peers_lock);
		if (!was)
			return false;
		ringnet_stat_inc(&d->member_stats, peer_leaves);
		ringnet_peer_log(info, dev, "peer %u (%s) left\n", p->slot, name);
		ringnet_nl_notify(d, p, RINGNET_CMD_PEER_LEAVE_NTF);
		return true;

	case RINGNET_SIGHT_NEW:
		/* A restart: not present while its rings are attached again. */
		spin_lock_bh(&d->peers_lock);
		ringnet_peer_forget(p);
		spin_unlock_bh(&d->peers_lock);
		ringnet_peer_attach(d, p, false);
		spin_lock_bh(&d->peers_lock);
		ringnet_member_join(m, sight.gen, sight.heartbeat, jiffies);
		news = ringnet_member_claim(m, sight.mac);
		ringnet_member_take_addrs(m, e, d->ro, p->slot, &refused);
		spin_unlock_bh(&d->peers_lock);
		ringnet_stat_inc(&d->member_stats, peer_joins);
		ringnet_peer_log(info, dev, "peer %u (%s, %pM) %s, generation %u\n", p->slot, name,
				 m->mac, was ? "restarted" : "joined", sight.gen);
		ringnet_nl_notify(d, p, RINGNET_CMD_PEER_JOIN_NTF);
		if (news)
			ringnet_peer_mac_conflict(d, p);
		ringnet_peer_addr_conflict(d, p, refused);
		return true;

	case RINGNET_SIGHT_BEAT:
		spin_lock_bh(&d->peers_lock);
		changed = ringnet_member_beat(m, sight.heartbeat, jiffies);
		spin_unlock_bh(&d->peers_lock);
		if (changed) {
			ringnet_peer_log(info, dev, "peer %u (%s) is alive again\n", p->slot, name);
			ringnet_nl_notify(d, p, RINGNET_CMD_PEER_ALIVE_NTF);
		}
		break;

	case RINGNET_SIGHT_DIED:
		spin_lock_bh(&d->peers_lock);
		ringnet_member_die(m);
		spin_unlock_bh(&d->peers_lock);
		ringnet_stat_inc(&d->member_stats, peer_deaths);
		ringnet_peer_log(warn, dev, "peer %u (%s) stopped its heartbeat %u ms ago: marked dead\n",
				 p->slot, name, jiffies_to_msecs(jiffies - m->last_hb_change));
		ringnet_nl_notify(d, p, RINGNET_CMD_PEER_DEATH_NTF);
		changed = true;
		break;

	case RINGNET_SIGHT_SAME:
		break;
	}

	/*
	 * Its owner may change what it claims at any time, without a new
	 * generation; a settled addr_seq that moved means other addresses.
	 */
	spin_lock_bh(&d->peers_lock);
	news = ringnet_member_claim(m, sight.mac);
	moved = ringnet_member_take_addrs(m, e, d->ro, p->slot, &refused);
	spin_unlock_bh(&d->peers_lock);
	if (news)
		ringnet_peer_mac_conflict(d, p);
	if (moved) {
		ringnet_peer_addr_conflict(d, p, refused);
		ringnet_nl_notify(d, p, RINGNET_CMD_PEER_UPDATE_NTF);
	}
	return changed;
}

/* ---- the roster, read again ----------------------------------------------------- */

/*
 * Whether roster nw may replace old under a running domain: the same setup
 * (instance, slots, regions, sizes), the same peers with the same MACs.
 * Doorbell ids (a guest that reconnected to the doorbell server), names and
 * address prefixes may change.
 */
static bool ringnet_roster_compatible(const struct ringnet_roster *old,
				      const struct ringnet_roster *nw)
{
	u32 i;

	if (old->instance != nw->instance || old->self != nw->self ||
	    old->max_peers != nw->max_peers || old->nregions != nw->nregions ||
	    old->ring_size != nw->ring_size || old->queues != nw->queues ||
	    old->isolation != nw->isolation || old->flags != nw->flags ||
	    old->doorbell_devfn != nw->doorbell_devfn)
		return false;
	for (i = 0; i < old->nregions; i++) {
		const struct ringnet_roster_region *a = &old->regions[i], *b = &nw->regions[i];

		if (a->owner != b->owner || a->readers != b->readers || a->devfn != b->devfn ||
		    a->size != b->size || a->instance != b->instance)
			return false;
	}
	for (i = 0; i < old->max_peers; i++)
		if (old->slots[i].present != nw->slots[i].present ||
		    !ether_addr_equal(old->slots[i].mac, nw->slots[i].mac))
			return false;
	return true;
}

/*
 * The host rewrote the roster (its seq moved): take what may change under a
 * running domain (ringnet_roster_compatible()). A roster that fails its
 * checks or changes more is logged once per seq and not taken: ring0 goes
 * on with the one it has. In the peer work, the only writer of d->ro.
 */
static void ringnet_roster_refresh(struct ringnet_domain *d)
{
	const struct kvmring_roster_hdr *h = d->roster_bar->shm;
	struct net_device *dev = d->priv->dev;
	struct ringnet_roster *nw, *old = d->ro;
	struct ringnet_why why;
	struct ringnet_peer *p;
	u32 seq = READ_ONCE(h->seq), s;
	int err;

	if (seq == d->ro_seq_seen || (seq & 1))
		return;
	nw = kmalloc(sizeof(*nw), GFP_KERNEL);
	if (!nw)
		return;
	err = ringnet_roster_read(d->roster_bar->shm, d->roster_bar->shm_size, old->devfn, nw, &why);
	if (err == -EAGAIN)
		goto out;	/* the host is still at it: next beat */
	d->ro_seq_seen = seq;
	if (err) {
		ringnet_peer_log(warn, dev, "the host rewrote the roster and it fails a check (%s): keeping the one ring0 runs on\n",
				 why.msg);
		goto out;
	}
	if (!ringnet_roster_compatible(old, nw)) {
		ringnet_peer_log(warn, dev, "the host set up another domain (roster instance %llx): remove and load ringnet again to join it\n",
				 nw->instance);
		goto out;
	}
	spin_lock_bh(&d->peers_lock);
	d->ro = nw;
	ringnet_for_each_peer(d, p, s)
		ringnet_member_identity(&p->m, nw->slots[s].mac, d->doorbell ?
					nw->slots[s].doorbell_id : KVMRING_DOORBELL_NONE);
	spin_unlock_bh(&d->peers_lock);
	nw = old;
out:
	kfree(nw);
}

/* ---- the peer work ------------------------------------------------------------------ */

void ringnet_peer_work(struct work_struct *work)
{
	struct ringnet_domain *d = container_of(to_delayed_work(work), struct ringnet_domain,
						peer_work);
	struct ringnet_priv *priv = d->priv;
	struct ringnet_region *r;
	struct ringnet_peer *p;
	bool changed = false, joined = false;
	unsigned int i;
	u32 s;

	ringnet_roster_refresh(d);

	/* Our heartbeat, in every region we own: nobody else writes there. */
	mutex_lock(&d->self_lock);
	if (!d->leaving) {
		d->heartbeat++;
		ringnet_for_each_owned(d, r, i)
			WRITE_ONCE(r->entry->heartbeat, d->heartbeat);
	}
	mutex_unlock(&d->self_lock);

	ringnet_for_each_peer(d, p, s) {
		u64 joins = u64_stats_read(&d->member_stats.peer_joins);

		changed |= ringnet_peer_scan(d, p);
		joined |= u64_stats_read(&d->member_stats.peer_joins) != joins;
	}
	if (changed)
		ringnet_update_carrier(priv);
	/*
	 * Tell peers our MAC (gratuitous ARP, unsolicited NA) when one joins, and
	 * when we came up or changed addresses: a restarted guest has new
	 * neighbour entries to fix elsewhere. At most once a second: a neighbour
	 * that restarts at every beat gets no flood from us.
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
	 * disarms its kick while NAPI may sleep waiting for one, and a peer
	 * that never rings (or a doorbell id the host renumbered) could
	 * swallow a wake-up. This bounds either to one beat; in plain mode it
	 * restarts an idle timer.
	 */
	if (netif_running(priv->dev))
		ringnet_napi_schedule_bh(d);
	schedule_delayed_work(&d->peer_work, msecs_to_jiffies(KVMRING_HEARTBEAT_MS));
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
 * Writes our addresses into our entry in every region we own: ring0's
 * first, then those of the guest's other interfaces (transparent mode needs
 * them). Peers believe only those inside our roster prefixes. addr_seq is
 * odd while they change. Caller holds RTNL and d->self_lock.
 */
static void ringnet_publish_addrs(struct ringnet_domain *d)
{
	struct net_device *dev = d->priv->dev, *nd;
	struct ringnet_addrs a = {};
	struct ringnet_region *r;
	unsigned int i;
	u32 seq;

	ASSERT_RTNL();
	lockdep_assert_held(&d->self_lock);
	ringnet_collect_addrs(dev, &a);
	for_each_netdev(dev_net(dev), nd)
		if (nd != dev && !(nd->flags & IFF_LOOPBACK))
			ringnet_collect_addrs(nd, &a);

	seq = d->mine.addr_seq | 1;
	ringnet_for_each_owned(d, r, i)
		WRITE_ONCE(r->entry->addr_seq, seq);
	smp_wmb();	/* readers see the odd count before any address changes */
	ringnet_for_each_owned(d, r, i) {
		memcpy(r->entry->ipv4, a.v4, sizeof(a.v4));
		memcpy(r->entry->ipv6, a.v6, sizeof(a.v6));
	}
	smp_wmb();	/* ... and every address before the even count */
	ringnet_for_each_owned(d, r, i)
		WRITE_ONCE(r->entry->addr_seq, seq + 1);
	memcpy(d->mine.ipv4, a.v4, sizeof(a.v4));
	memcpy(d->mine.ipv6, a.v6, sizeof(a.v6));
	d->mine.addr_seq = seq + 1;
}

/* RTNL, then the domain's self_lock. */
void ringnet_addr_work(struct work_struct *work)
{
	struct ringnet_priv *priv = container_of(work, struct ringnet_priv, addr_work);
	struct ringnet_domain *d;

	rtnl_lock();
	d = rtnl_dereference(priv->domain);
	if (d) {
		mutex_lock(&d->self_lock);
		if (!d->leaving)
			ringnet_publish_addrs(d);
		mutex_unlock(&d->self_lock);
	}
	rtnl_unlock();
	WRITE_ONCE(priv->announce, true);
}

/* ring0's MTU into our entries (peers show it; nothing depends on it yet). Under RTNL. */
void ringnet_publish_mtu(struct ringnet_domain *d)
{
	struct ringnet_region *r;
	unsigned int i;

	ASSERT_RTNL();
	mutex_lock(&d->self_lock);
	d->mine.mtu = d->priv->dev->mtu;
	if (!d->leaving)
		ringnet_for_each_owned(d, r, i)
			WRITE_ONCE(r->entry->mtu, d->mine.mtu);
	mutex_unlock(&d->self_lock);
}

/* ---- joining and leaving ------------------------------------------------------- */

/*
 * Starts our run in the domain: a generation past the one our last run
 * left in the regions we own, our entry filled in, our ring ends renewed,
 * then UP. No claim: the host gave us the slot, and the regions are ours
 * alone. Returns 0, or -EROFS (nothing renewed, nothing UP) when a region
 * the roster says is ours drops our writes: the host mapped it read-only.
 * Under RTNL (addresses) and d->self_lock, before d is published.
 */
int ringnet_join(struct ringnet_domain *d)
{
	u64 words[KVMRING_ROSTER_REGIONS_MAX];
	struct net_device *dev = d->priv->dev;
	struct ringnet_region *r;
	struct ringnet_peer *p;
	unsigned int i, n = 0;
	u32 seq = 0, s;

	lockdep_assert_held(&d->self_lock);
	d->heartbeat = 0;
	ringnet_for_each_owned(d, r, i) {
		words[n++] = READ_ONCE(r->entry->state);
		d->heartbeat = max_t(u64, d->heartbeat, READ_ONCE(r->entry->heartbeat));
		seq = max_t(u32, seq, READ_ONCE(r->entry->addr_seq) & ~1U);
	}
	d->self_gen = ringnet_member_next_gen(words, n);

	/*
	 * The first write: FREE in the new generation, a word no region of
	 * ours holds yet. Read back, it says whether the region is really ours
	 * to write (a read-only mapping drops the store and reads back the old
	 * word). Peers that still had our last run take it as a leave.
	 */
	ringnet_for_each_owned(d, r, i) {
		u64 word = KVMRING_PEER_WORD(d->self_gen, KVMRING_PEER_FREE);

		WRITE_ONCE(r->entry->state, word);
		if (READ_ONCE(r->entry->state) != word) {
			netdev_err(dev, "region %u (%s) is ours by the roster but drops our writes: the host maps it read-only into us; check `ringctl host qemu-args`\n",
				   i, pci_name(r->bar->pdev));
			return -EROFS;
		}
	}

	/* Everything after state and heartbeat; addresses follow below. */
	memset(&d->mine, 0, sizeof(d->mine));
	d->mine.doorbell_id = d->doorbell ? d->ivposition : KVMRING_DOORBELL_NONE;
	d->mine.flags = d->doorbell ? KVMRING_PEER_F_DOORBELL : 0;
	d->mine.mtu = dev->mtu;
	memcpy(d->mine.mac, dev->dev_addr, ETH_ALEN);
	d->mine.addr_seq = seq;
	ringnet_for_each_owned(d, r, i)
		memcpy(ringnet_entry_tail(r->entry), ringnet_entry_tail(&d->mine),
		       RINGNET_ENTRY_TAIL);

	/* Whatever an earlier run of ours left in our ring ends is not for anyone now. */
	ringnet_for_each_peer(d, p, s)
		ringnet_peer_attach(d, p, true);
	ringnet_publish_addrs(d);
	/* Entry complete before anyone sees UP (peers read it after an smp_rmb). */
	smp_wmb();
	ringnet_for_each_owned(d, r, i)
		WRITE_ONCE(r->entry->state, KVMRING_PEER_WORD(d->self_gen, KVMRING_PEER_UP));
	return 0;
}

/* FREE in our generation, in every region we own. Our rings are idle by now. */
void ringnet_leave(struct ringnet_domain *d)
{
	struct ringnet_region *r;
	unsigned int i;

	mutex_lock(&d->self_lock);
	ringnet_for_each_owned(d, r, i)
		WRITE_ONCE(r->entry->state, KVMRING_PEER_WORD(d->self_gen, KVMRING_PEER_FREE));
	mutex_unlock(&d->self_lock);
}
