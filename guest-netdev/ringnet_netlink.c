// SPDX-License-Identifier: GPL-2.0-only
/*
 * ringnet_netlink.c - the generic netlink family "ringnet" (spec:
 * include/kvmring/ringnet.yaml): dumps of the domain's regions and of its
 * slots (ours and the peers the roster lists), and notifications to the
 * "monitor" group when the peer work sees a peer join or restart, leave,
 * die, come back, claim a MAC the roster does not give it or publish other
 * addresses. And the same table for people, in debugfs:
 * /sys/kernel/debug/ringnet/<dev>/.
 *
 * Locking: the domain is found under rcu_read_lock_bh(); a peer's state and
 * the roster copy are read under d->peers_lock, which the peer work takes
 * around its writes (ringnet_peer_view()). Dumps run under genl_lock (no
 * parallel_ops).
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <net/addrconf.h>
#include <net/genetlink.h>

#include "kvmring/ringnet_genl.h"
#include "ringnet.h"

/* What one slot looks like now: filled by ringnet_peer_view(). */
struct ringnet_peer_view {
	u32	state;			/* enum ringnet_peer_state */
	u32	region;			/* the roster's index of its entry's region */
	u32	gen;
	u8	mac[ETH_ALEN];		/* the roster's */
	u32	doorbell_id;		/* KVMRING_DOORBELL_NONE if none */
	bool	has_age;
	u32	age_ms;
	bool	claimed;		/* it publishes claimed_mac, not the roster's */
	u8	claimed_mac[ETH_ALEN];
	u32	addrs_refused;
	char	name[RINGNET_ROSTER_NAME];
	struct ringnet_peer_addrs addrs;	/* only those the roster allows it */
	bool	has_counters;
	struct ringnet_peer_stats stats;
};

/* The first region we own: where our own row says our entry is. */
static u32 ringnet_own_region(const struct ringnet_domain *d)
{
	u32 i;

	for (i = 0; i < d->nregions; i++)
		if (d->regions[i].owned)
			return i;
	return 0;
}

/*
 * Slot s of d as this guest sees it: false for a slot that is neither ours
 * nor one the roster lets us talk to (no row). The caller keeps d alive
 * (RCU or the peer work) and does not hold d->peers_lock.
 */
static bool ringnet_peer_view(struct ringnet_domain *d, u32 s, struct ringnet_peer_view *v)
{
	struct ringnet_peer *p = &d->peers[s];
	u32 own;

	if (s != d->self && !p->listed)
		return false;
	memset(v, 0, sizeof(*v));
	v->doorbell_id = KVMRING_DOORBELL_NONE;
	spin_lock_bh(&d->peers_lock);
	strscpy(v->name, d->ro->slots[s].name, sizeof(v->name));
	if (s == d->self) {
		own = ringnet_own_region(d);
		v->state = RINGNET_PEER_STATE_SELF;
		v->region = own;
		v->gen = READ_ONCE(d->self_gen);
		ether_addr_copy(v->mac, d->priv->dev->dev_addr);
		if (d->doorbell)
			v->doorbell_id = d->ivposition;
		spin_unlock_bh(&d->peers_lock);
		/* What we publish, as we wrote it. */
		if (d->regions[own].owned)
			ringnet_member_read_addrs(d->regions[own].entry, &v->addrs);
		return true;
	}
	v->region = p->region;
	v->gen = p->m.gen;
	if (!p->m.present)
		v->state = RINGNET_PEER_STATE_FREE;
	else
		v->state = p->m.alive ? RINGNET_PEER_STATE_UP : RINGNET_PEER_STATE_DEAD;
	ether_addr_copy(v->mac, p->m.mac);
	if (p->m.present) {
		v->doorbell_id = p->m.doorbell_id;
		v->has_age = true;
		v->age_ms = jiffies_to_msecs(jiffies - p->m.last_hb_change);
		v->claimed = p->m.claimed;
		ether_addr_copy(v->claimed_mac, p->m.claimed_mac);
		v->addrs_refused = p->m.addrs_refused;
		/* Peer-writable, read under its addr_seq; only what the roster allows. */
		if (ringnet_member_read_addrs(p->entry, &v->addrs))
			ringnet_member_filter_addrs(&v->addrs, d->ro, s);
	}
	spin_unlock_bh(&d->peers_lock);
	ringnet_peer_stats_read(p, &v->stats);
	v->has_counters = true;
	return true;
}

static const char * const ringnet_state_names[] = {
	[RINGNET_PEER_STATE_FREE]	= "free",
	[RINGNET_PEER_STATE_SELF]	= "self",
	[RINGNET_PEER_STATE_UP]		= "up",
	[RINGNET_PEER_STATE_DEAD]	= "dead",
	[RINGNET_PEER_STATE_REFUSED]	= "refused",
};

/* What the domain's regions are doing, as the genetlink dump and debugfs name it. */
static enum ringnet_region_mode ringnet_region_mode(const struct ringnet_domain *d)
{
	return d->doorbell ? RINGNET_REGION_MODE_DOORBELL : RINGNET_REGION_MODE_PLAIN;
}

static const char * const ringnet_region_mode_names[] = {
	[RINGNET_REGION_MODE_PLAIN]	= "plain",
	[RINGNET_REGION_MODE_DOORBELL]	= "doorbell",
	[RINGNET_REGION_MODE_EVICTED]	= "evicted",
};

/* ---- generic netlink ------------------------------------------------------------ */

static struct genl_family ringnet_nl_family;

enum { RINGNET_NLGRP_MONITOR };

/* The ringnet device with this ifindex in net, or NULL. */
static struct net_device *ringnet_nl_dev(struct net *net, const struct nlattr *ifindex)
{
	struct net_device *dev = ringnet_dev;

	if (!dev || !ifindex || dev->ifindex != (int)nla_get_u32(ifindex) ||
	    !net_eq(dev_net(dev), net))
		return NULL;
	return dev;
}

/* What names slot s of d: a dump's peer and an event alike. */
static int ringnet_nl_put_identity(struct sk_buff *skb, struct ringnet_domain *d, u32 s,
				   const struct ringnet_peer_view *v)
{
	if (nla_put_u32(skb, RINGNET_A_PEER_IFINDEX, d->priv->dev->ifindex) ||
	    nla_put_u32(skb, RINGNET_A_PEER_REGION, v->region) ||
	    nla_put_u32(skb, RINGNET_A_PEER_SLOT, s) ||
	    nla_put_u32(skb, RINGNET_A_PEER_STATE, v->state) ||
	    nla_put_u32(skb, RINGNET_A_PEER_GEN, v->gen) ||
	    nla_put(skb, RINGNET_A_PEER_MAC, ETH_ALEN, v->mac))
		return -EMSGSIZE;
	return 0;
}

static int ringnet_nl_fill_peer(struct sk_buff *skb, struct ringnet_domain *d, u32 s,
				const struct ringnet_peer_view *v)
{
	const struct ringnet_peer_stats *st = &v->stats;
	unsigned int a;

	if (ringnet_nl_put_identity(skb, d, s, v))
		return -EMSGSIZE;
	if (v->doorbell_id != KVMRING_DOORBELL_NONE &&
	    nla_put_u32(skb, RINGNET_A_PEER_DOORBELL_ID, v->doorbell_id))
		return -EMSGSIZE;
	if (v->has_age && nla_put_u32(skb, RINGNET_A_PEER_HEARTBEAT_AGE_MS, v->age_ms))
		return -EMSGSIZE;
	for (a = 0; a < KVMRING_PEER_ADDRS; a++)
		if (*(u32 *)v->addrs.v4[a] && nla_put(skb, RINGNET_A_PEER_IPV4, 4, v->addrs.v4[a]))
			return -EMSGSIZE;
	for (a = 0; a < KVMRING_PEER_ADDRS; a++)
		if (!ipv6_addr_any((struct in6_addr *)v->addrs.v6[a]) &&
		    nla_put(skb, RINGNET_A_PEER_IPV6, 16, v->addrs.v6[a]))
			return -EMSGSIZE;
	if (v->has_counters &&
	    (nla_put_u64_64bit(skb, RINGNET_A_PEER_TX_PACKETS, st->tx_packets, RINGNET_A_PEER_PAD) ||
	     nla_put_u64_64bit(skb, RINGNET_A_PEER_TX_BYTES, st->tx_bytes, RINGNET_A_PEER_PAD) ||
	     nla_put_u64_64bit(skb, RINGNET_A_PEER_TX_DROPPED, st->tx_dropped, RINGNET_A_PEER_PAD) ||
	     nla_put_u64_64bit(skb, RINGNET_A_PEER_RX_PACKETS, st->rx_packets, RINGNET_A_PEER_PAD) ||
	     nla_put_u64_64bit(skb, RINGNET_A_PEER_RX_BYTES, st->rx_bytes, RINGNET_A_PEER_PAD) ||
	     nla_put_u64_64bit(skb, RINGNET_A_PEER_RX_DROPPED, st->rx_dropped, RINGNET_A_PEER_PAD)))
		return -EMSGSIZE;
	if (v->name[0] && nla_put_string(skb, RINGNET_A_PEER_NAME, v->name))
		return -EMSGSIZE;
	if (v->claimed && nla_put(skb, RINGNET_A_PEER_CLAIMED_MAC, ETH_ALEN, v->claimed_mac))
		return -EMSGSIZE;
	if (v->addrs_refused && nla_put_u32(skb, RINGNET_A_PEER_ADDRS_REFUSED, v->addrs_refused))
		return -EMSGSIZE;
	return 0;
}

/* A dump's start: the ifindex attribute `attr` must name a ringnet device. */
static int ringnet_nl_start(struct netlink_callback *cb, int attr)
{
	const struct genl_dumpit_info *info = genl_dumpit_info(cb);

	if (!info->attrs[attr]) {
		NL_SET_ERR_MSG_MOD(cb->extack, "ifindex is required");
		return -EINVAL;
	}
	if (!ringnet_nl_dev(sock_net(cb->skb->sk), info->attrs[attr])) {
		NL_SET_ERR_MSG_MOD(cb->extack, "not a ringnet device");
		return -ENODEV;
	}
	return 0;
}

static int ringnet_nl_peer_start(struct netlink_callback *cb)
{
	return ringnet_nl_start(cb, RINGNET_A_PEER_IFINDEX);
}

/* cb->args[0]: the slot to go on with. */
static int ringnet_nl_peer_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	const struct genl_dumpit_info *info = genl_dumpit_info(cb);
	const struct nlattr *only = info->attrs[RINGNET_A_PEER_REGION];
	struct net_device *dev = ringnet_nl_dev(sock_net(skb->sk),
						info->attrs[RINGNET_A_PEER_IFINDEX]);
	struct ringnet_peer_view v;
	struct ringnet_domain *d;
	u32 s;
	void *hdr;

	if (!dev)
		return 0;	/* gone or moved since the start: the dump ends */
	rcu_read_lock_bh();
	d = ringnet_domain_get(netdev_priv(dev));
	for (s = cb->args[0]; d && s < d->max_peers; s++) {
		if (!ringnet_peer_view(d, s, &v))
			continue;
		if (only && v.region != nla_get_u32(only))
			continue;
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
				  &ringnet_nl_family, NLM_F_MULTI, RINGNET_CMD_PEER_GET);
		if (!hdr)
			break;
		if (ringnet_nl_fill_peer(skb, d, s, &v)) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
	}
	cb->args[0] = d && s < d->max_peers ? s : KVMRING_PEERS_MAX;
	rcu_read_unlock_bh();
	return skb->len;
}

static int ringnet_nl_region_start(struct netlink_callback *cb)
{
	return ringnet_nl_start(cb, RINGNET_A_REGION_IFINDEX);
}

static int ringnet_nl_fill_region(struct sk_buff *skb, struct ringnet_domain *d, u32 i)
{
	const struct ringnet_region *r = &d->regions[i];
	const struct ringnet_bar *bar = r->bar;

	if (nla_put_u32(skb, RINGNET_A_REGION_IFINDEX, d->priv->dev->ifindex) ||
	    nla_put_u32(skb, RINGNET_A_REGION_INDEX, i) ||
	    nla_put_string(skb, RINGNET_A_REGION_PCI, pci_name(bar->pdev)) ||
	    nla_put_u64_64bit(skb, RINGNET_A_REGION_SIZE, bar->shm_size, RINGNET_A_REGION_PAD) ||
	    nla_put_u32(skb, RINGNET_A_REGION_MAX_PEERS, d->max_peers) ||
	    nla_put_u32(skb, RINGNET_A_REGION_RING_SIZE, d->ring_size) ||
	    nla_put_u32(skb, RINGNET_A_REGION_SELF, d->self) ||
	    nla_put_u32(skb, RINGNET_A_REGION_SELF_GEN, READ_ONCE(d->self_gen)) ||
	    nla_put_u32(skb, RINGNET_A_REGION_MODE, ringnet_region_mode(d)) ||
	    nla_put_u64_64bit(skb, RINGNET_A_REGION_INSTANCE, r->instance, RINGNET_A_REGION_PAD) ||
	    nla_put_u32(skb, RINGNET_A_REGION_OWNER, r->owner) ||
	    nla_put_u32(skb, RINGNET_A_REGION_READERS, r->readers))
		return -EMSGSIZE;
	if (d->doorbell && nla_put_u32(skb, RINGNET_A_REGION_IVPOSITION, d->ivposition))
		return -EMSGSIZE;
	return 0;
}

/* cb->args[0]: the region to go on with. */
static int ringnet_nl_region_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	const struct genl_dumpit_info *info = genl_dumpit_info(cb);
	struct net_device *dev = ringnet_nl_dev(sock_net(skb->sk),
						info->attrs[RINGNET_A_REGION_IFINDEX]);
	struct ringnet_domain *d;
	u32 i;
	void *hdr;

	if (!dev)
		return 0;
	rcu_read_lock_bh();
	d = ringnet_domain_get(netdev_priv(dev));
	for (i = cb->args[0]; d && i < d->nregions; i++) {
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
				  &ringnet_nl_family, NLM_F_MULTI, RINGNET_CMD_REGION_GET);
		if (!hdr)
			break;
		if (ringnet_nl_fill_region(skb, d, i)) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
	}
	cb->args[0] = d && i < d->nregions ? i : KVMRING_ROSTER_REGIONS_MAX;
	rcu_read_unlock_bh();
	return skb->len;
}

/*
 * Tells the monitor group about slot p of d: cmd is one of the
 * RINGNET_CMD_PEER_*_NTF. From d's peer work, not under d->peers_lock.
 */
void ringnet_nl_notify(struct ringnet_domain *d, struct ringnet_peer *p, u8 cmd)
{
	struct net_device *dev = d->priv->dev;
	u64 now = ktime_get_ns();
	struct ringnet_peer_view v;
	struct sk_buff *skb;
	void *hdr;

	if (!genl_has_listeners(&ringnet_nl_family, dev_net(dev), RINGNET_NLGRP_MONITOR))
		return;
	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		return;
	hdr = genlmsg_put(skb, 0, 0, &ringnet_nl_family, 0, cmd);
	if (!hdr)
		goto err;
	ringnet_peer_view(d, p->slot, &v);
	/*
	 * What the event names: the slot as a peer-get dump would show it now
	 * (a listener patches its copy of the table instead of dumping it
	 * again), and when.
	 */
	if (ringnet_nl_fill_peer(skb, d, p->slot, &v) ||
	    nla_put_u64_64bit(skb, RINGNET_A_PEER_EVENT_NS, now, RINGNET_A_PEER_PAD))
		goto err;
	genlmsg_end(skb, hdr);
	genlmsg_multicast_netns(&ringnet_nl_family, dev_net(dev), skb, 0,
				RINGNET_NLGRP_MONITOR, GFP_KERNEL);
	return;
err:
	nlmsg_free(skb);
}

static const struct nla_policy ringnet_nl_peer_policy[RINGNET_A_PEER_REGION + 1] = {
	[RINGNET_A_PEER_IFINDEX]	= { .type = NLA_U32 },
	[RINGNET_A_PEER_REGION]	= NLA_POLICY_MAX(NLA_U32, KVMRING_ROSTER_REGIONS_MAX - 1),
};

static const struct nla_policy ringnet_nl_region_policy[RINGNET_A_REGION_IFINDEX + 1] = {
	[RINGNET_A_REGION_IFINDEX]	= { .type = NLA_U32 },
};

static const struct genl_ops ringnet_nl_ops[] = {
	{
		.cmd	= RINGNET_CMD_REGION_GET,
		.start	= ringnet_nl_region_start,
		.dumpit	= ringnet_nl_region_dumpit,
		.policy	= ringnet_nl_region_policy,
		.maxattr = RINGNET_A_REGION_IFINDEX,
	},
	{
		.cmd	= RINGNET_CMD_PEER_GET,
		.start	= ringnet_nl_peer_start,
		.dumpit	= ringnet_nl_peer_dumpit,
		.policy	= ringnet_nl_peer_policy,
		.maxattr = RINGNET_A_PEER_REGION,
	},
};

static const struct genl_multicast_group ringnet_nl_mcgrps[] = {
	[RINGNET_NLGRP_MONITOR] = { .name = RINGNET_MCGRP_MONITOR },
};

/* resv_start_op left at 0: every operation is validated strictly. */
static struct genl_family ringnet_nl_family __ro_after_init = {
	.name		= RINGNET_FAMILY_NAME,
	.version	= RINGNET_FAMILY_VERSION,
	.netnsok	= true,
	.module		= THIS_MODULE,
	.ops		= ringnet_nl_ops,
	.n_ops		= ARRAY_SIZE(ringnet_nl_ops),
	.mcgrps		= ringnet_nl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(ringnet_nl_mcgrps),
};

int __init ringnet_nl_init(void)
{
	return genl_register_family(&ringnet_nl_family);
}

void ringnet_nl_exit(void)
{
	genl_unregister_family(&ringnet_nl_family);
}

/* ---- debugfs: the same, for people ---------------------------------------------- */

/* ringnet/ and ringnet/<dev>/: set up at load, renamed under RTNL, gone at unload. */
static struct dentry *ringnet_debugfs_root;
static struct dentry *ringnet_debugfs_dev;

/* region slot state gen mac age_ms ipv4 ipv6: what the sysfs table used to show, then name */
static int ringnet_debugfs_peers_show(struct seq_file *m, void *unused)
{
	struct ringnet_priv *priv = m->private;
	struct ringnet_peer_view v;
	struct ringnet_domain *d;
	unsigned int s, a;
	bool sep;

	seq_puts(m, "region slot state gen mac age_ms ipv4 ipv6 tx_packets rx_packets name claimed_mac addrs_refused\n");
	rcu_read_lock_bh();
	d = ringnet_domain_get(priv);
	for (s = 0; d && s < d->max_peers; s++) {
		if (!ringnet_peer_view(d, s, &v))
			continue;
		seq_printf(m, "%u %u %s %u %pM %u ", v.region, s, ringnet_state_names[v.state],
			   v.gen, v.mac, v.has_age ? v.age_ms : 0);
		sep = false;
		for (a = 0; a < KVMRING_PEER_ADDRS; a++) {
			if (!*(u32 *)v.addrs.v4[a])
				continue;
			seq_printf(m, "%s%pI4", sep ? "," : "", v.addrs.v4[a]);
			sep = true;
		}
		seq_puts(m, sep ? " " : "- ");
		sep = false;
		for (a = 0; a < KVMRING_PEER_ADDRS; a++) {
			if (ipv6_addr_any((struct in6_addr *)v.addrs.v6[a]))
				continue;
			seq_printf(m, "%s%pI6c", sep ? "," : "", v.addrs.v6[a]);
			sep = true;
		}
		seq_printf(m, "%s %llu %llu %s ", sep ? "" : "-", v.stats.tx_packets,
			   v.stats.rx_packets, v.name[0] ? v.name : "-");
		if (v.claimed)
			seq_printf(m, "%pM", v.claimed_mac);
		else
			seq_puts(m, "-");
		seq_printf(m, " %u\n", v.addrs_refused);
	}
	rcu_read_unlock_bh();
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ringnet_debugfs_peers);

static int ringnet_debugfs_regions_show(struct seq_file *m, void *unused)
{
	struct ringnet_priv *priv = m->private;
	struct ringnet_domain *d;
	unsigned int i;

	seq_puts(m, "region pci size max_peers ring_size self mode owner readers\n");
	rcu_read_lock_bh();
	d = ringnet_domain_get(priv);
	for (i = 0; d && i < d->nregions; i++)
		seq_printf(m, "%u %s %llu %u %u %u %s %u %#x\n", i,
			   pci_name(d->regions[i].bar->pdev),
			   d->regions[i].bar->shm_size, d->max_peers, d->ring_size, d->self,
			   ringnet_region_mode_names[ringnet_region_mode(d)],
			   d->regions[i].owner, d->regions[i].readers);
	rcu_read_unlock_bh();
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ringnet_debugfs_regions);

/*
 * Each serving channel: its NAPI id (SO_INCOMING_NAPI_ID), the interval it
 * polls at while frames flow (plain mode; doorbell mode polls only for a
 * stopped or quiet queue) and, while net_dim moderates it (adaptive-rx in
 * plain mode; "-" otherwise), net_dim's profile and the longest interval
 * armed since it started; then how often net_dim changed the profile. The
 * NAPI owns these: each is read once, possibly stale.
 */
static int ringnet_debugfs_channels_show(struct seq_file *m, void *unused)
{
	struct ringnet_priv *priv = m->private;
	struct ringnet_domain *d;
	struct ringnet_channel *c;
	unsigned int j;

	seq_puts(m, "channel napi_id poll_us dim_profile dim_armed_max_us dim_changes\n");
	rcu_read_lock_bh();
	d = ringnet_domain_get(priv);
	for (j = 0; d && j < READ_ONCE(d->nchannels); j++) {
		c = &d->ch[j];
		seq_printf(m, "%u %u %u ", j, READ_ONCE(c->napi.napi_id), ringnet_poll_interval(c));
		if (READ_ONCE(c->dim_on))
			seq_printf(m, "%u %u ", READ_ONCE(c->dim.profile_ix), READ_ONCE(c->dim_armed_max_us));
		else
			seq_puts(m, "- - ");
		seq_printf(m, "%llu\n", READ_ONCE(c->dim_changes));
	}
	rcu_read_unlock_bh();
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ringnet_debugfs_channels);

/* /sys/kernel/debug/ringnet/<dev>/{peers,regions,channels}; nothing if debugfs is off. */
void ringnet_debugfs_init(struct ringnet_priv *priv)
{
	struct dentry *d;

	ringnet_debugfs_root = debugfs_create_dir(RINGNET_DRV_NAME, NULL);
	d = debugfs_create_dir(netdev_name(priv->dev), ringnet_debugfs_root);
	ringnet_debugfs_dev = d;
	debugfs_create_file("peers", 0444, d, priv, &ringnet_debugfs_peers_fops);
	debugfs_create_file("regions", 0444, d, priv, &ringnet_debugfs_regions_fops);
	debugfs_create_file("channels", 0444, d, priv, &ringnet_debugfs_channels_fops);
}

/* The device's directory follows its name (`ip link set ring0 name ...`). Under RTNL. */
void ringnet_debugfs_rename(struct ringnet_priv *priv)
{
	struct dentry *d;

	ASSERT_RTNL();
	if (IS_ERR_OR_NULL(ringnet_debugfs_dev))
		return;
	d = debugfs_rename(ringnet_debugfs_root, ringnet_debugfs_dev, ringnet_debugfs_root,
			   netdev_name(priv->dev));
	if (IS_ERR(d))
		netdev_warn(priv->dev, "debugfs: cannot rename %s/%pd to %s (%pe)\n",
			    RINGNET_DRV_NAME, ringnet_debugfs_dev, netdev_name(priv->dev), d);
}

void ringnet_debugfs_exit(void)
{
	debugfs_remove_recursive(ringnet_debugfs_root);
	ringnet_debugfs_root = NULL;
	ringnet_debugfs_dev = NULL;
}
