// SPDX-License-Identifier: GPL-2.0-only
/*
 * ringnet_sysfs.c - /sys/class/net/ring0/ringnet: the peer table and the
 * regions as this guest sees them, for ringctl.
 */
#include <net/addrconf.h>

#include "ringnet.h"

/* ---- sysfs: the peer table as this guest sees it -------------------------------- */

/*
 * /sys/class/net/ring0/ringnet/peers: one line per slot of every region:
 *   region slot state generation mac heartbeat_age_ms ipv4,... ipv6,...
 * state is self, up, dead, refused (its generation claims an invalid MAC, ours
 * or a live peer's: the MAC column shows the claim) or free; addresses are what the slot's owner
 * published (read under its addr_seq, "-" if none or changing).
 */
static ssize_t peers_show(struct device *d, struct device_attribute *attr, char *buf)
{
	struct ringnet_priv *priv = netdev_priv(to_net_dev(d));
	struct ringnet_region *r;
	unsigned int i, s, a;
	ssize_t n = 0;

	n += sysfs_emit_at(buf, n, "region slot state gen mac age_ms ipv4 ipv6\n");
	rcu_read_lock_bh();
	ringnet_for_each_region(priv, r, i) {
		for (s = 0; s < r->geom.max_peers; s++) {
			struct kvmring_peer *e = ringnet_entry(r, s);
			struct ringnet_peer *p = &r->peers[s];
			u8 v4[KVMRING_PEER_ADDRS][4], v6[KVMRING_PEER_ADDRS][16];
			const char *state;
			bool sep = false;
			u32 seq;

			if (s == r->self)
				state = "self";
			else if (READ_ONCE(p->refused))
				state = "refused";
			else if (!p->present)
				state = "free";
			else
				state = p->alive ? "up" : "dead";

			/* Peer-writable: pairs with the smp_wmb()s of ringnet_publish_addrs(). */
			seq = READ_ONCE(e->addr_seq);
			smp_rmb();	/* the count before the addresses it covers */
			memcpy(v4, e->ipv4, sizeof(v4));
			memcpy(v6, e->ipv6, sizeof(v6));
			smp_rmb();	/* the addresses before the count that confirms them */
			if ((seq & 1) || READ_ONCE(e->addr_seq) != seq) {
				memset(v4, 0, sizeof(v4));
				memset(v6, 0, sizeof(v6));
			}

			n += sysfs_emit_at(buf, n, "%u %u %s %u %pM %u ", i, s, state,
					   s == r->self ? r->self_gen : p->gen,
					   s == r->self ? r->priv->dev->dev_addr :
					   READ_ONCE(p->refused) ? p->refused_mac : p->mac,
					   s == r->self || !p->present ? 0 :
					   jiffies_to_msecs(jiffies - p->last_hb_change));
			for (a = 0; a < KVMRING_PEER_ADDRS; a++) {
				if (!*(u32 *)v4[a])
					continue;
				n += sysfs_emit_at(buf, n, "%s%pI4", sep ? "," : "", v4[a]);
				sep = true;
			}
			n += sysfs_emit_at(buf, n, sep ? " " : "- ");
			sep = false;
			for (a = 0; a < KVMRING_PEER_ADDRS; a++) {
				if (ipv6_addr_any((struct in6_addr *)v6[a]))
					continue;
				n += sysfs_emit_at(buf, n, "%s%pI6c", sep ? "," : "", v6[a]);
				sep = true;
			}
			n += sysfs_emit_at(buf, n, sep ? "\n" : "-\n");
		}
	}
	rcu_read_unlock_bh();
	return n;
}
static DEVICE_ATTR_RO(peers);

/* /sys/class/net/ring0/ringnet/regions: region pci size max_peers ring_size self mode */
static ssize_t regions_show(struct device *d, struct device_attribute *attr, char *buf)
{
	struct ringnet_priv *priv = netdev_priv(to_net_dev(d));
	struct ringnet_region *r;
	unsigned int i;
	ssize_t n = 0;

	n += sysfs_emit_at(buf, n, "region pci size max_peers ring_size self mode\n");
	rcu_read_lock_bh();
	ringnet_for_each_region(priv, r, i)
		n += sysfs_emit_at(buf, n, "%u %s %llu %u %u %u %s\n", i, pci_name(r->pdev),
				   r->shm_size, r->geom.max_peers, r->geom.ring_size, r->self,
				   r->evicted ? "evicted" : r->doorbell ? "doorbell" : "plain");
	rcu_read_unlock_bh();
	return n;
}
static DEVICE_ATTR_RO(regions);

static struct attribute *ringnet_attrs[] = {
	&dev_attr_peers.attr,
	&dev_attr_regions.attr,
	NULL,
};

const struct attribute_group ringnet_attr_group = {
	.name	= "ringnet",
	.attrs	= ringnet_attrs,
};
