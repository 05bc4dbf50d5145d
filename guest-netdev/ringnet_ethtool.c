// SPDX-License-Identifier: GPL-2.0-only
/*
 * ringnet_ethtool.c - ethtool ops and ring0's counters: ethtool -S names
 * every counter from the descriptor tables below (the controller and the
 * tests parse those names), ndo_get_stats64 sums them. The domain's
 * counters keep the names of ABI v1's first region (r0_...), summed over
 * its channels, a peer's those of its slot in it (r0_peerS_...), summed
 * over its queue pairs. Then each queue index's packets, summed over the
 * peers (qK_...), and each channel's polls and doorbell interrupts (chJ_...).
 *
 * ethtool calls get_sset_count, get_strings and get_ethtool_stats under
 * RTNL, which also covers publishing and unpublishing the domain: the
 * three see the same domain.
 */
#include <linux/ethtool.h>

#include "ringnet.h"

/* ---- stats snapshots and their descriptors ------------------------------------ */

/*
 * The domain's counters as ethtool -S lists them, copied out of their
 * groups (struct ringnet_napi_stats, _irq_stats, _member_stats) by
 * ringnet_region_stats_read(). The field names are the ethtool names.
 */
struct ringnet_region_stats {
	u64	polls;
	u64	irqs;
	u64	xdp_pass;
	u64	xdp_drop;
	u64	xdp_tx;
	u64	xdp_redirect;
	u64	xdp_aborted;
	u64	rx_bad_meta;
	u64	rx_alloc_fail;
	u64	peer_joins;
	u64	peer_deaths;
	u64	peer_leaves;
	u64	mac_conflicts;
	u64	addr_conflicts;
	u64	rx_bad_src;
	u64	rx_no_peer;
};

#define RINGNET_REGION_STAT(f)	{ #f, offsetof(struct ringnet_region_stats, f) }
static const struct ringnet_stat_desc ringnet_region_stat_desc[] = {
	RINGNET_REGION_STAT(polls),
	RINGNET_REGION_STAT(irqs),
	RINGNET_REGION_STAT(xdp_pass),
	RINGNET_REGION_STAT(xdp_drop),
	RINGNET_REGION_STAT(xdp_tx),
	RINGNET_REGION_STAT(xdp_redirect),
	RINGNET_REGION_STAT(xdp_aborted),
	RINGNET_REGION_STAT(rx_bad_meta),
	RINGNET_REGION_STAT(rx_alloc_fail),
	RINGNET_REGION_STAT(peer_joins),
	RINGNET_REGION_STAT(peer_deaths),
	RINGNET_REGION_STAT(peer_leaves),
	RINGNET_REGION_STAT(mac_conflicts),
	RINGNET_REGION_STAT(addr_conflicts),
	RINGNET_REGION_STAT(rx_bad_src),
	RINGNET_REGION_STAT(rx_no_peer),
};

#define RINGNET_PEER_STAT(f)	{ #f, offsetof(struct ringnet_peer_stats, f) }
static const struct ringnet_stat_desc ringnet_peer_stat_desc[] = {
	RINGNET_PEER_STAT(rx_packets),
	RINGNET_PEER_STAT(rx_bytes),
	RINGNET_PEER_STAT(tx_packets),
	RINGNET_PEER_STAT(tx_bytes),
	RINGNET_PEER_STAT(tx_dropped),
	RINGNET_PEER_STAT(rx_dropped),
	RINGNET_PEER_STAT(kicks),
};

/* Every field of a snapshot has its name in the table, and nothing else does. */
static_assert(ARRAY_SIZE(ringnet_region_stat_desc) ==
	      sizeof(struct ringnet_region_stats) / sizeof(u64));
static_assert(ARRAY_SIZE(ringnet_peer_stat_desc) ==
	      sizeof(struct ringnet_peer_stats) / sizeof(u64));

#define RINGNET_NREGION_STATS	ARRAY_SIZE(ringnet_region_stat_desc)
/* Two gauges follow a peer's counters: ring_tx_used_bytes, ring_rx_used_bytes. */
#define RINGNET_NPEER_GAUGES	2
#define RINGNET_NPEER_STATS	(ARRAY_SIZE(ringnet_peer_stat_desc) + RINGNET_TX_NSTATS + \
				 RINGNET_RX_NSTATS + RINGNET_NPEER_GAUGES)

/* A consistent copy of channel c's NAPI counters, added to *s; any context. */
static void ringnet_channel_stats_add(const struct ringnet_channel *c,
				      struct ringnet_region_stats *s)
{
	const struct ringnet_napi_stats *n = &c->napi_stats;
	struct ringnet_region_stats t;
	unsigned int start;

	do {
		start = u64_stats_fetch_begin(&n->syncp);
		t.polls = u64_stats_read(&n->polls);
		t.xdp_pass = u64_stats_read(&n->xdp_pass);
		t.xdp_drop = u64_stats_read(&n->xdp_drop);
		t.xdp_tx = u64_stats_read(&n->xdp_tx);
		t.xdp_redirect = u64_stats_read(&n->xdp_redirect);
		t.xdp_aborted = u64_stats_read(&n->xdp_aborted);
		t.rx_bad_meta = u64_stats_read(&n->rx_bad_meta);
		t.rx_alloc_fail = u64_stats_read(&n->rx_alloc_fail);
		t.rx_bad_src = u64_stats_read(&n->rx_bad_src);
		t.rx_no_peer = u64_stats_read(&n->rx_no_peer);
	} while (u64_stats_fetch_retry(&n->syncp, start));
	s->polls += t.polls;
	s->xdp_pass += t.xdp_pass;
	s->xdp_drop += t.xdp_drop;
	s->xdp_tx += t.xdp_tx;
	s->xdp_redirect += t.xdp_redirect;
	s->xdp_aborted += t.xdp_aborted;
	s->rx_bad_meta += t.rx_bad_meta;
	s->rx_alloc_fail += t.rx_alloc_fail;
	s->rx_bad_src += t.rx_bad_src;
	s->rx_no_peer += t.rx_no_peer;
}

/* Doorbell interrupts of vector v (kept in d->ch[v]); any context. */
static u64 ringnet_vector_irqs(const struct ringnet_channel *v)
{
	unsigned int start;
	u64 irqs;

	do {
		start = u64_stats_fetch_begin(&v->irq_stats.syncp);
		irqs = u64_stats_read(&v->irq_stats.irqs);
	} while (u64_stats_fetch_retry(&v->irq_stats.syncp, start));
	return irqs;
}

static void ringnet_region_stats_read(const struct ringnet_domain *d,
				      struct ringnet_region_stats *s)
{
	const struct ringnet_member_stats *m = &d->member_stats;
	unsigned int start, j;

	memset(s, 0, sizeof(*s));
	/* Every channel that ever ran: those past nchannels keep what they counted. */
	for (j = 0; j < d->nqueues; j++) {
		ringnet_channel_stats_add(&d->ch[j], s);
		s->irqs += ringnet_vector_irqs(&d->ch[j]);
	}
	do {
		start = u64_stats_fetch_begin(&m->syncp);
		s->peer_joins = u64_stats_read(&m->peer_joins);
		s->peer_deaths = u64_stats_read(&m->peer_deaths);
		s->peer_leaves = u64_stats_read(&m->peer_leaves);
		s->mac_conflicts = u64_stats_read(&m->mac_conflicts);
		s->addr_conflicts = u64_stats_read(&m->addr_conflicts);
	} while (u64_stats_fetch_retry(&m->syncp, start));
}

/* A consistent copy of one queue pair's counters, added to *s; any context. */
static void ringnet_queue_stats_add(const struct ringnet_queue *q, struct ringnet_peer_stats *s)
{
	const struct ringnet_peer_tx_stats *tx = &q->tx_stats;
	const struct ringnet_peer_rx_stats *rx = &q->rx_stats;
	u64 packets, bytes, dropped, kicks;
	unsigned int start;

	do {
		start = u64_stats_fetch_begin(&tx->syncp);
		packets = u64_stats_read(&tx->packets);
		bytes = u64_stats_read(&tx->bytes);
		dropped = u64_stats_read(&tx->dropped);
		kicks = u64_stats_read(&tx->kicks);
	} while (u64_stats_fetch_retry(&tx->syncp, start));
	s->tx_packets += packets;
	s->tx_bytes += bytes;
	s->tx_dropped += dropped;
	s->kicks += kicks;
	do {
		start = u64_stats_fetch_begin(&rx->syncp);
		packets = u64_stats_read(&rx->packets);
		bytes = u64_stats_read(&rx->bytes);
		dropped = u64_stats_read(&rx->dropped);
	} while (u64_stats_fetch_retry(&rx->syncp, start));
	s->rx_packets += packets;
	s->rx_bytes += bytes;
	s->rx_dropped += dropped;
}

/* A consistent copy of p's counters, summed over its queue pairs; any context. */
void ringnet_peer_stats_read(const struct ringnet_peer *p, struct ringnet_peer_stats *s)
{
	unsigned int i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < p->nqueues; i++)
		ringnet_queue_stats_add(&p->q[i], s);
}

/* The ring core's counters of p's queue pairs, summed: plain u64, read whole on 64-bit. */
static void ringnet_peer_ring_stats(const struct ringnet_peer *p, struct ringnet_tx_stats *tx,
				    struct ringnet_rx_stats *rx, u64 *tx_used, u64 *rx_used)
{
	const u64 *from;
	u64 *to;
	unsigned int i, j;

	memset(tx, 0, sizeof(*tx));
	memset(rx, 0, sizeof(*rx));
	*tx_used = *rx_used = 0;
	for (i = 0; i < p->nqueues; i++) {
		const struct ringnet_queue *q = &p->q[i];

		from = (const u64 *)&q->tx.stats;
		to = (u64 *)tx;
		for (j = 0; j < RINGNET_TX_NSTATS; j++)
			to[j] += from[j];
		from = (const u64 *)&q->rx.stats;
		to = (u64 *)rx;
		for (j = 0; j < RINGNET_RX_NSTATS; j++)
			to[j] += from[j];
		/* occupancy: reads the other ends' words once, acts on nothing */
		*tx_used += ringnet_tx_used(&q->tx);
		*rx_used += ringnet_rx_used(&q->rx);
	}
}

/* The value of the u64 that desc places in the struct at base. */
static u64 ringnet_stat_get(const void *base, const struct ringnet_stat_desc *desc)
{
	return *(const u64 *)((const u8 *)base + desc->offset);
}

/*
 * Sums every peer's counters. A received frame that is dropped counts once
 * in rx_dropped: in its peer's rx_dropped when the driver dropped it (the
 * domain's rx_* counters say why), in xdp_drop or xdp_aborted when XDP did.
 */
void ringnet_get_stats64(struct net_device *dev, struct rtnl_link_stats64 *s)
{
	struct ringnet_priv *priv = netdev_priv(dev);
	struct ringnet_region_stats rs;
	struct ringnet_peer_stats ps;
	struct ringnet_tx_stats ts;
	struct ringnet_rx_stats xs;
	struct ringnet_domain *d;
	struct ringnet_peer *p;
	unsigned int i;
	u64 tu, ru;

	rcu_read_lock_bh();
	d = ringnet_domain_get(priv);
	if (d) {
		ringnet_for_each_peer(d, p, i) {
			ringnet_peer_stats_read(p, &ps);
			s->rx_packets += ps.rx_packets;
			s->rx_bytes += ps.rx_bytes;
			s->tx_packets += ps.tx_packets;
			s->tx_bytes += ps.tx_bytes;
			s->tx_dropped += ps.tx_dropped;
			s->rx_dropped += ps.rx_dropped;
			ringnet_peer_ring_stats(p, &ts, &xs, &tu, &ru);
			s->rx_errors += xs.bad_desc + xs.bad_meta + xs.bad_index;
			s->rx_dropped += xs.dropped;
		}
		ringnet_region_stats_read(d, &rs);
		s->rx_errors += rs.rx_bad_meta;
		s->rx_dropped += rs.xdp_drop + rs.xdp_aborted;
	}
	rcu_read_unlock_bh();
	s->tx_dropped += atomic64_read(&priv->tx_no_peer);
}

/* ---- ethtool ---------------------------------------------------------------------- */

/* Per queue index: q%u_tx_packets, q%u_rx_packets, ch%u_polls, ch%u_irqs. */
#define RINGNET_NQUEUE_STATS	4

/* The queue indexes ethtool -S lists, 0 without a domain. Under RTNL. */
static u32 ringnet_stat_queues(struct ringnet_priv *priv)
{
	struct ringnet_domain *d = rtnl_dereference(priv->domain);

	return d ? d->nqueues : 0;
}

/* The slots ethtool -S lists (all of the domain's, ours too), 0 without one. Under RTNL. */
static u32 ringnet_stat_slots(struct ringnet_priv *priv)
{
	struct ringnet_domain *d = rtnl_dereference(priv->domain);

	return d ? d->max_peers : 0;
}

static int ringnet_get_sset_count(struct net_device *dev, int sset)
{
	u32 slots;

	if (sset != ETH_SS_STATS)
		return -EOPNOTSUPP;
	slots = ringnet_stat_slots(netdev_priv(dev));
	return 1 + (slots ? RINGNET_NREGION_STATS + ringnet_stat_queues(netdev_priv(dev)) *
		    RINGNET_NQUEUE_STATS : 0) + slots * RINGNET_NPEER_STATS;
}

static void ringnet_get_strings(struct net_device *dev, u32 sset, u8 *buf)
{
	u32 slots = ringnet_stat_slots(netdev_priv(dev));
	unsigned int j, s;

	if (sset != ETH_SS_STATS)
		return;
	ethtool_sprintf(&buf, "tx_no_peer");
	if (!slots)
		return;
	for (j = 0; j < RINGNET_NREGION_STATS; j++)
		ethtool_sprintf(&buf, "r0_%s", ringnet_region_stat_desc[j].name);
	for (s = 0; s < ringnet_stat_queues(netdev_priv(dev)); s++) {
		ethtool_sprintf(&buf, "q%u_tx_packets", s);
		ethtool_sprintf(&buf, "q%u_rx_packets", s);
		ethtool_sprintf(&buf, "ch%u_polls", s);
		ethtool_sprintf(&buf, "ch%u_irqs", s);
	}
	for (s = 0; s < slots; s++) {
		for (j = 0; j < ARRAY_SIZE(ringnet_peer_stat_desc); j++)
			ethtool_sprintf(&buf, "r0_peer%u_%s", s, ringnet_peer_stat_desc[j].name);
		for (j = 0; j < RINGNET_TX_NSTATS; j++)
			ethtool_sprintf(&buf, "r0_peer%u_ring_tx_%s", s,
					ringnet_tx_stat_desc[j].name);
		for (j = 0; j < RINGNET_RX_NSTATS; j++)
			ethtool_sprintf(&buf, "r0_peer%u_ring_rx_%s", s,
					ringnet_rx_stat_desc[j].name);
		ethtool_sprintf(&buf, "r0_peer%u_ring_tx_used_bytes", s);
		ethtool_sprintf(&buf, "r0_peer%u_ring_rx_used_bytes", s);
	}
}

static void ringnet_get_ethtool_stats(struct net_device *dev, struct ethtool_stats *st, u64 *data)
{
	struct ringnet_priv *priv = netdev_priv(dev);
	struct ringnet_domain *d = rtnl_dereference(priv->domain);
	struct ringnet_region_stats rs;
	struct ringnet_peer_stats ps;
	struct ringnet_tx_stats ts;
	struct ringnet_rx_stats xs;
	unsigned int j, s;
	u64 tu, ru;

	*data++ = atomic64_read(&priv->tx_no_peer);
	if (!d)
		return;
	ringnet_region_stats_read(d, &rs);
	for (j = 0; j < RINGNET_NREGION_STATS; j++)
		*data++ = ringnet_stat_get(&rs, &ringnet_region_stat_desc[j]);
	for (j = 0; j < d->nqueues; j++) {
		struct ringnet_peer_stats qs = {};
		struct ringnet_region_stats cs = {};
		const struct ringnet_peer *p;

		ringnet_for_each_peer(d, p, s)
			ringnet_queue_stats_add(&p->q[j], &qs);
		ringnet_channel_stats_add(&d->ch[j], &cs);
		*data++ = qs.tx_packets;
		*data++ = qs.rx_packets;
		*data++ = cs.polls;
		*data++ = ringnet_vector_irqs(&d->ch[j]);
	}
	for (s = 0; s < d->max_peers; s++) {
		const struct ringnet_peer *p = &d->peers[s];

		ringnet_peer_stats_read(p, &ps);
		ringnet_peer_ring_stats(p, &ts, &xs, &tu, &ru);
		for (j = 0; j < ARRAY_SIZE(ringnet_peer_stat_desc); j++)
			*data++ = ringnet_stat_get(&ps, &ringnet_peer_stat_desc[j]);
		for (j = 0; j < RINGNET_TX_NSTATS; j++)
			*data++ = ringnet_stat_get(&ts, &ringnet_tx_stat_desc[j]);
		for (j = 0; j < RINGNET_RX_NSTATS; j++)
			*data++ = ringnet_stat_get(&xs, &ringnet_rx_stat_desc[j]);
		*data++ = tu;
		*data++ = ru;
	}
}

static void ringnet_get_drvinfo(struct net_device *dev, struct ethtool_drvinfo *info)
{
	struct ringnet_priv *priv = netdev_priv(dev);
	struct ringnet_domain *d;

	strscpy(info->driver, RINGNET_DRV_NAME, sizeof(info->driver));
	strscpy(info->version, RINGNET_DRV_VERSION, sizeof(info->version));
	rcu_read_lock_bh();
	d = ringnet_domain_get(priv);
	if (d)
		strscpy(info->bus_info, pci_name(d->roster_bar->pdev), sizeof(info->bus_info));
	rcu_read_unlock_bh();
}

/*
 * ethtool -l: the queue pairs per peer the roster (and in doorbell mode our
 * vectors) allow, and the channels serving them. Under RTNL.
 */
static void ringnet_get_channels(struct net_device *dev, struct ethtool_channels *ch)
{
	struct ringnet_priv *priv = netdev_priv(dev);
	struct ringnet_domain *d = rtnl_dereference(priv->domain);

	ch->max_combined = d ? d->nqueues : RINGNET_QUEUES_MAX;
	ch->combined_count = d ? d->nchannels : priv->channels;
}

/*
 * ethtool -L ring0 combined N: N channels serve the queues (and TX uses N
 * queues per peer), kept for the domains that come later. Under RTNL;
 * ethtool has checked N against max_combined and that nothing else moves.
 */
static int ringnet_set_channels(struct net_device *dev, struct ethtool_channels *ch)
{
	struct ringnet_priv *priv = netdev_priv(dev);
	struct ringnet_domain *d = rtnl_dereference(priv->domain);
	int err = 0;

	if (!ch->combined_count)
		return -EINVAL;
	if (d)
		err = ringnet_domain_set_channels(d, ch->combined_count);
	if (!err)
		priv->channels = ch->combined_count;
	return err;
}

/*
 * ethtool -c: the plain-mode polling interval while frames flow (rx-usecs)
 * and whether net_dim lengthens it (adaptive-rx). Doorbell mode polls only
 * for a stopped or quiet queue, from the same interval. Under RTNL.
 */
static int ringnet_get_coalesce(struct net_device *dev, struct ethtool_coalesce *ec,
				struct kernel_ethtool_coalesce *kec, struct netlink_ext_ack *extack)
{
	struct ringnet_priv *priv = netdev_priv(dev);

	ec->rx_coalesce_usecs = priv->poll_us;
	ec->use_adaptive_rx_coalesce = priv->adaptive_rx;
	return 0;
}

/* ethtool -C ring0 rx-usecs N adaptive-rx on|off: the next poll takes them. Under RTNL. */
static int ringnet_set_coalesce(struct net_device *dev, struct ethtool_coalesce *ec,
				struct kernel_ethtool_coalesce *kec, struct netlink_ext_ack *extack)
{
	struct ringnet_priv *priv = netdev_priv(dev);
	struct ringnet_domain *d;

	if (ec->rx_coalesce_usecs < 1 || ec->rx_coalesce_usecs > RINGNET_POLL_US_MAX) {
		NL_SET_ERR_MSG_MOD(extack, "rx-usecs is out of range: give 1 to "
				   __stringify(RINGNET_POLL_US_MAX) " (the polling interval in microseconds)");
		return -EINVAL;
	}
	WRITE_ONCE(priv->poll_us, ec->rx_coalesce_usecs);
	WRITE_ONCE(priv->adaptive_rx, !!ec->use_adaptive_rx_coalesce);
	d = rtnl_dereference(priv->domain);
	if (ec->use_adaptive_rx_coalesce && d && d->doorbell)
		NL_SET_ERR_MSG_MOD(extack, "adaptive-rx is kept, but moderates only plain mode's polling, and ring0 has doorbells now");
	return 0;
}

const struct ethtool_ops ringnet_ethtool_ops = {
	.supported_coalesce_params = ETHTOOL_COALESCE_RX_USECS | ETHTOOL_COALESCE_USE_ADAPTIVE_RX,
	.get_coalesce		= ringnet_get_coalesce,
	.set_coalesce		= ringnet_set_coalesce,
	.get_drvinfo		= ringnet_get_drvinfo,
	.get_channels		= ringnet_get_channels,
	.set_channels		= ringnet_set_channels,
	.get_link		= ethtool_op_get_link,
	.get_strings		= ringnet_get_strings,
	.get_sset_count		= ringnet_get_sset_count,
	.get_ethtool_stats	= ringnet_get_ethtool_stats,
};
