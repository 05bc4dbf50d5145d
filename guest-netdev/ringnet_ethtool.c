// SPDX-License-Identifier: GPL-2.0-only
/*
 * ringnet_ethtool.c - ethtool ops and ring0's counters: ethtool -S names
 * every counter from the descriptor tables below (the controller and the
 * tests parse those names), ndo_get_stats64 sums them.
 */
#include <linux/ethtool.h>

#include "ringnet.h"

/* ---- stats snapshots and their descriptors ------------------------------------ */

/*
 * A region's counters as ethtool -S lists them, copied out of their groups
 * (struct ringnet_napi_stats, _irq_stats, _member_stats) by
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
	u64	bad_peer_entries;
	u64	mac_conflicts;
	u64	doorbell_conflicts;
	u64	rx_bad_src;
	u64	rx_no_peer;
	u64	rejoins;
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
	RINGNET_REGION_STAT(bad_peer_entries),
	RINGNET_REGION_STAT(mac_conflicts),
	RINGNET_REGION_STAT(doorbell_conflicts),
	RINGNET_REGION_STAT(rx_bad_src),
	RINGNET_REGION_STAT(rx_no_peer),
	RINGNET_REGION_STAT(rejoins),
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

static void ringnet_region_stats_read(const struct ringnet_region *r,
				      struct ringnet_region_stats *s)
{
	const struct ringnet_napi_stats *n = &r->napi_stats;
	const struct ringnet_irq_stats *q = &r->irq_stats;
	const struct ringnet_member_stats *m = &r->member_stats;
	unsigned int start;

	do {
		start = u64_stats_fetch_begin(&n->syncp);
		s->polls = u64_stats_read(&n->polls);
		s->xdp_pass = u64_stats_read(&n->xdp_pass);
		s->xdp_drop = u64_stats_read(&n->xdp_drop);
		s->xdp_tx = u64_stats_read(&n->xdp_tx);
		s->xdp_redirect = u64_stats_read(&n->xdp_redirect);
		s->xdp_aborted = u64_stats_read(&n->xdp_aborted);
		s->rx_bad_meta = u64_stats_read(&n->rx_bad_meta);
		s->rx_alloc_fail = u64_stats_read(&n->rx_alloc_fail);
		s->rx_bad_src = u64_stats_read(&n->rx_bad_src);
		s->rx_no_peer = u64_stats_read(&n->rx_no_peer);
	} while (u64_stats_fetch_retry(&n->syncp, start));
	do {
		start = u64_stats_fetch_begin(&q->syncp);
		s->irqs = u64_stats_read(&q->irqs);
	} while (u64_stats_fetch_retry(&q->syncp, start));
	do {
		start = u64_stats_fetch_begin(&m->syncp);
		s->peer_joins = u64_stats_read(&m->peer_joins);
		s->peer_deaths = u64_stats_read(&m->peer_deaths);
		s->peer_leaves = u64_stats_read(&m->peer_leaves);
		s->bad_peer_entries = u64_stats_read(&m->bad_peer_entries);
		s->mac_conflicts = u64_stats_read(&m->mac_conflicts);
		s->doorbell_conflicts = u64_stats_read(&m->doorbell_conflicts);
		s->rejoins = u64_stats_read(&m->rejoins);
	} while (u64_stats_fetch_retry(&m->syncp, start));
}

/* A consistent copy of p's counters; any context. */
void ringnet_peer_stats_read(const struct ringnet_peer *p, struct ringnet_peer_stats *s)
{
	const struct ringnet_peer_tx_stats *tx = &p->tx_stats;
	const struct ringnet_peer_rx_stats *rx = &p->rx_stats;
	unsigned int start;

	do {
		start = u64_stats_fetch_begin(&tx->syncp);
		s->tx_packets = u64_stats_read(&tx->packets);
		s->tx_bytes = u64_stats_read(&tx->bytes);
		s->tx_dropped = u64_stats_read(&tx->dropped);
		s->kicks = u64_stats_read(&tx->kicks);
	} while (u64_stats_fetch_retry(&tx->syncp, start));
	do {
		start = u64_stats_fetch_begin(&rx->syncp);
		s->rx_packets = u64_stats_read(&rx->packets);
		s->rx_bytes = u64_stats_read(&rx->bytes);
		s->rx_dropped = u64_stats_read(&rx->dropped);
	} while (u64_stats_fetch_retry(&rx->syncp, start));
}

/* The value of the u64 that desc places in the struct at base. */
static u64 ringnet_stat_get(const void *base, const struct ringnet_stat_desc *desc)
{
	return *(const u64 *)((const u8 *)base + desc->offset);
}

/*
 * Sums every peer's counters. A received frame that is dropped counts once
 * in rx_dropped: in its peer's rx_dropped when the driver dropped it (the
 * region's rx_* counters say why), in xdp_drop or xdp_aborted when XDP did.
 */
void ringnet_get_stats64(struct net_device *dev, struct rtnl_link_stats64 *s)
{
	struct ringnet_priv *priv = netdev_priv(dev);
	struct ringnet_region_stats rs;
	struct ringnet_peer_stats ps;
	struct ringnet_region *r;
	unsigned int i, p;

	rcu_read_lock_bh();
	ringnet_for_each_region(priv, r, i) {
		for (p = 0; p < r->geom.max_peers; p++) {
			const struct ringnet_rx_stats *ring = &r->peers[p].rx.stats;

			ringnet_peer_stats_read(&r->peers[p], &ps);
			s->rx_packets += ps.rx_packets;
			s->rx_bytes += ps.rx_bytes;
			s->tx_packets += ps.tx_packets;
			s->tx_bytes += ps.tx_bytes;
			s->tx_dropped += ps.tx_dropped;
			s->rx_dropped += ps.rx_dropped;
			/* The ring core's counters: plain u64, read whole on 64-bit. */
			s->rx_errors += ring->bad_desc + ring->bad_meta + ring->bad_index;
			s->rx_dropped += ring->dropped;
		}
		ringnet_region_stats_read(r, &rs);
		s->rx_errors += rs.rx_bad_meta;
		s->rx_dropped += rs.xdp_drop + rs.xdp_aborted;
	}
	rcu_read_unlock_bh();
	s->tx_dropped += atomic64_read(&priv->tx_no_peer);
}

/* ---- ethtool ---------------------------------------------------------------------- */

static unsigned int ringnet_region_count(struct ringnet_priv *priv, u32 *slots)
{
	struct ringnet_region *r;
	unsigned int i, n = 0;

	*slots = 0;
	rcu_read_lock_bh();
	ringnet_for_each_region(priv, r, i) {
		n++;
		*slots += r->geom.max_peers;
	}
	rcu_read_unlock_bh();
	return n;
}

static int ringnet_get_sset_count(struct net_device *dev, int sset)
{
	u32 slots;
	unsigned int regions;

	if (sset != ETH_SS_STATS)
		return -EOPNOTSUPP;
	regions = ringnet_region_count(netdev_priv(dev), &slots);
	return 1 + regions * RINGNET_NREGION_STATS + slots * RINGNET_NPEER_STATS;
}

static void ringnet_get_strings(struct net_device *dev, u32 sset, u8 *buf)
{
	struct ringnet_priv *priv = netdev_priv(dev);
	struct ringnet_region *r;
	unsigned int i, j, s;

	if (sset != ETH_SS_STATS)
		return;
	ethtool_sprintf(&buf, "tx_no_peer");
	rcu_read_lock_bh();
	ringnet_for_each_region(priv, r, i) {
		for (j = 0; j < RINGNET_NREGION_STATS; j++)
			ethtool_sprintf(&buf, "r%u_%s", i, ringnet_region_stat_desc[j].name);
		for (s = 0; s < r->geom.max_peers; s++) {
			for (j = 0; j < ARRAY_SIZE(ringnet_peer_stat_desc); j++)
				ethtool_sprintf(&buf, "r%u_peer%u_%s", i, s,
						ringnet_peer_stat_desc[j].name);
			for (j = 0; j < RINGNET_TX_NSTATS; j++)
				ethtool_sprintf(&buf, "r%u_peer%u_ring_tx_%s", i, s,
						ringnet_tx_stat_desc[j].name);
			for (j = 0; j < RINGNET_RX_NSTATS; j++)
				ethtool_sprintf(&buf, "r%u_peer%u_ring_rx_%s", i, s,
						ringnet_rx_stat_desc[j].name);
			ethtool_sprintf(&buf, "r%u_peer%u_ring_tx_used_bytes", i, s);
			ethtool_sprintf(&buf, "r%u_peer%u_ring_rx_used_bytes", i, s);
		}
	}
	rcu_read_unlock_bh();
}

static void ringnet_get_ethtool_stats(struct net_device *dev, struct ethtool_stats *st, u64 *data)
{
	struct ringnet_priv *priv = netdev_priv(dev);
	struct ringnet_region_stats rs;
	struct ringnet_peer_stats ps;
	struct ringnet_region *r;
	unsigned int i, j, s;

	*data++ = atomic64_read(&priv->tx_no_peer);
	rcu_read_lock_bh();
	ringnet_for_each_region(priv, r, i) {
		ringnet_region_stats_read(r, &rs);
		for (j = 0; j < RINGNET_NREGION_STATS; j++)
			*data++ = ringnet_stat_get(&rs, &ringnet_region_stat_desc[j]);
		for (s = 0; s < r->geom.max_peers; s++) {
			const struct ringnet_peer *p = &r->peers[s];

			ringnet_peer_stats_read(p, &ps);
			for (j = 0; j < ARRAY_SIZE(ringnet_peer_stat_desc); j++)
				*data++ = ringnet_stat_get(&ps, &ringnet_peer_stat_desc[j]);
			for (j = 0; j < RINGNET_TX_NSTATS; j++)
				*data++ = ringnet_stat_get(&p->tx.stats, &ringnet_tx_stat_desc[j]);
			for (j = 0; j < RINGNET_RX_NSTATS; j++)
				*data++ = ringnet_stat_get(&p->rx.stats, &ringnet_rx_stat_desc[j]);
			/* occupancy: reads the other ends' words once, acts on nothing */
			*data++ = ringnet_tx_used(&p->tx);
			*data++ = ringnet_rx_used(&p->rx);
		}
	}
	rcu_read_unlock_bh();
}

static void ringnet_get_drvinfo(struct net_device *dev, struct ethtool_drvinfo *info)
{
	struct ringnet_priv *priv = netdev_priv(dev);
	struct ringnet_region *r;

	strscpy(info->driver, RINGNET_DRV_NAME, sizeof(info->driver));
	strscpy(info->version, RINGNET_DRV_VERSION, sizeof(info->version));
	rcu_read_lock_bh();
	r = ringnet_region_get(priv, 0);
	if (r)
		strscpy(info->bus_info, pci_name(r->pdev), sizeof(info->bus_info));
	rcu_read_unlock_bh();
}

const struct ethtool_ops ringnet_ethtool_ops = {
	.get_drvinfo		= ringnet_get_drvinfo,
	.get_link		= ethtool_op_get_link,
	.get_strings		= ringnet_get_strings,
	.get_sset_count		= ringnet_get_sset_count,
	.get_ethtool_stats	= ringnet_get_ethtool_stats,
};
