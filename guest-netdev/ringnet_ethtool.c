// SPDX-License-Identifier: GPL-2.0-only
/*
 * ringnet_ethtool.c - ethtool ops and ring0's counters: ethtool -S names
 * every counter from the descriptor tables below (the controller and the
 * tests parse those names), ndo_get_stats64 sums them.
 */
#include <linux/ethtool.h>

#include "ringnet.h"

/* ---- stats descriptors ------------------------------------------------------ */

struct ringnet_stat {
	const char	*name;
	size_t		offset;
};

#define RINGNET_REGION_STAT(f)	{ #f, offsetof(struct ringnet_region, f) }
static const struct ringnet_stat ringnet_region_stat_desc[] = {
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
static const struct ringnet_stat ringnet_peer_stat_desc[] = {
	RINGNET_PEER_STAT(rx_packets),
	RINGNET_PEER_STAT(rx_bytes),
	RINGNET_PEER_STAT(tx_packets),
	RINGNET_PEER_STAT(tx_bytes),
	RINGNET_PEER_STAT(tx_dropped),
	RINGNET_PEER_STAT(rx_dropped),
	RINGNET_PEER_STAT(kicks),
};

#define RINGNET_NREGION_STATS	ARRAY_SIZE(ringnet_region_stat_desc)
/* Two gauges follow a peer's counters: ring_tx_used_bytes, ring_rx_used_bytes. */
#define RINGNET_NPEER_GAUGES	2
#define RINGNET_NPEER_STATS	(ARRAY_SIZE(ringnet_peer_stat_desc) + RINGNET_TX_NSTATS + \
				 RINGNET_RX_NSTATS + RINGNET_NPEER_GAUGES)

void ringnet_get_stats64(struct net_device *dev, struct rtnl_link_stats64 *s)
{
	struct ringnet_priv *priv = netdev_priv(dev);
	struct ringnet_region *r;
	unsigned int i, p;

	rcu_read_lock_bh();
	ringnet_for_each_region(priv, r, i) {
		for (p = 0; p < r->geom.max_peers; p++) {
			const struct ringnet_peer_stats *ps = &r->peers[p].stats;

			s->rx_packets += ps->rx_packets;
			s->rx_bytes += ps->rx_bytes;
			s->tx_packets += ps->tx_packets;
			s->tx_bytes += ps->tx_bytes;
			s->tx_dropped += ps->tx_dropped;
			s->rx_dropped += ps->rx_dropped;
			s->rx_errors += r->peers[p].rx.stats.bad_desc + r->peers[p].rx.stats.bad_meta +
					r->peers[p].rx.stats.bad_index;
			s->rx_dropped += r->peers[p].rx.stats.dropped;
		}
		s->rx_errors += r->rx_bad_meta;
		s->rx_dropped += r->xdp_drop + r->xdp_aborted + r->rx_alloc_fail;
	}
	rcu_read_unlock_bh();
	s->tx_dropped += atomic64_read(&priv->tx_no_peer);
	dev_fetch_sw_netstats(s, dev->tstats);
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
				ethtool_sprintf(&buf, "r%u_peer%u_%s", i, s, ringnet_peer_stat_desc[j].name);
			for (j = 0; j < RINGNET_TX_NSTATS; j++)
				ethtool_sprintf(&buf, "r%u_peer%u_ring_tx_%s", i, s, ringnet_tx_stat_desc[j].name);
			for (j = 0; j < RINGNET_RX_NSTATS; j++)
				ethtool_sprintf(&buf, "r%u_peer%u_ring_rx_%s", i, s, ringnet_rx_stat_desc[j].name);
			ethtool_sprintf(&buf, "r%u_peer%u_ring_tx_used_bytes", i, s);
			ethtool_sprintf(&buf, "r%u_peer%u_ring_rx_used_bytes", i, s);
		}
	}
	rcu_read_unlock_bh();
}

static void ringnet_get_ethtool_stats(struct net_device *dev, struct ethtool_stats *st, u64 *data)
{
	struct ringnet_priv *priv = netdev_priv(dev);
	struct ringnet_region *r;
	unsigned int i, j, s;

	*data++ = atomic64_read(&priv->tx_no_peer);
	rcu_read_lock_bh();
	ringnet_for_each_region(priv, r, i) {
		for (j = 0; j < RINGNET_NREGION_STATS; j++)
			*data++ = *(u64 *)((u8 *)r + ringnet_region_stat_desc[j].offset);
		for (s = 0; s < r->geom.max_peers; s++) {
			const struct ringnet_peer *p = &r->peers[s];

			for (j = 0; j < ARRAY_SIZE(ringnet_peer_stat_desc); j++)
				*data++ = *(u64 *)((u8 *)&p->stats + ringnet_peer_stat_desc[j].offset);
			for (j = 0; j < RINGNET_TX_NSTATS; j++)
				*data++ = *(u64 *)((u8 *)&p->tx.stats + ringnet_tx_stat_desc[j].offset);
			for (j = 0; j < RINGNET_RX_NSTATS; j++)
				*data++ = *(u64 *)((u8 *)&p->rx.stats + ringnet_rx_stat_desc[j].offset);
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
