// SPDX-License-Identifier: GPL-2.0-only
/*
 * ringnet.ko - the kvmring guest driver: the network device ring0.
 *
 * Each ivshmem PCI device (1af4:1110, plain or doorbell) is a region that the
 * host maps into every co-resident guest (layout: kmod/kvmring_abi.h). The
 * driver joins a region by claiming a slot in its peer table, publishes its
 * MAC and addresses, keeps a heartbeat, and moves Ethernet frames through one
 * single-producer single-consumer ring per ordered pair of peers (the ring
 * core, ringnet_ring.c). ring0 is one netdev for the peers of every region.
 *
 * TX picks the peer by destination MAC (broadcast and multicast go to every
 * live peer); each peer has a TX queue of its own, so a full ring stops only
 * the traffic for that peer. RX is NAPI, fed by doorbell interrupts or, on
 * ivshmem-plain, by a polling timer; frames are copied out of the region
 * (which other guests may rewrite at any time) before anyone parses them.
 *
 * Everything read from the region is hostile: the ring core checks indices
 * and lengths, this file checks the peer table (read each word once, then
 * validate), and GSO/checksum metadata goes through virtio_net_hdr_to_skb().
 */
#include <linux/bpf.h>
#include <linux/bpf_trace.h>
#include <linux/delay.h>
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/filter.h>
#include <linux/hrtimer.h>
#include <linux/inetdevice.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/pci.h>
#include <linux/random.h>
#include <linux/rtnetlink.h>
#include <linux/virtio_net.h>
#include <net/addrconf.h>
#include <net/if_inet6.h>
#include <net/xdp.h>

#include "ringnet_meta.h"
#include "ringnet_ring.h"

#define RINGNET_DRV_NAME	"ringnet"
#define RINGNET_DRV_VERSION	"0.1.0"
#define RINGNET_IFNAME		"ring0"

#define RINGNET_MAX_REGIONS	4
/* TX queue 0 carries broadcast and multicast; queue 1 + r * PEERS_MAX + slot one peer. */
#define RINGNET_TXQS		(1 + RINGNET_MAX_REGIONS * KVMRING_PEERS_MAX)
#define RINGNET_NAPI_WEIGHT	64
#define RINGNET_MAX_MTU		(KVMRING_FRAME_MAX - ETH_HLEN - VLAN_HLEN)
/* Frames up to this length take the native XDP path (one page each). */
#define RINGNET_XDP_HEADROOM	XDP_PACKET_HEADROOM
#define RINGNET_XDP_MAX_FRAME	(PAGE_SIZE - RINGNET_XDP_HEADROOM - \
				 SKB_DATA_ALIGN(sizeof(struct skb_shared_info)))
#define RINGNET_XDP_MAX_MTU	(RINGNET_XDP_MAX_FRAME - ETH_HLEN - VLAN_HLEN)
/* Copied into the skb head; the rest of a large frame goes into page frags. */
#define RINGNET_RX_COPYBREAK	256

/* ivshmem BAR0 registers (QEMU docs/specs/ivshmem-spec.rst) */
#define IVSHMEM_REG_INTR_MASK	0
#define IVSHMEM_REG_INTR_STATUS	4
#define IVSHMEM_REG_IVPOSITION	8
#define IVSHMEM_REG_DOORBELL	12
#define IVSHMEM_BAR_REGS	0
#define IVSHMEM_BAR_SHMEM	2

static unsigned int poll_us = 50;
module_param(poll_us, uint, 0644);
MODULE_PARM_DESC(poll_us, "ivshmem-plain: polling interval while traffic flows, in microseconds (default 50)");

static unsigned int poll_idle_us = 2000;
module_param(poll_idle_us, uint, 0644);
MODULE_PARM_DESC(poll_idle_us, "ivshmem-plain: longest polling interval when idle, in microseconds (default 2000)");

static unsigned int peer_timeout_ms = 2000;
module_param(peer_timeout_ms, uint, 0644);
MODULE_PARM_DESC(peer_timeout_ms, "a peer whose heartbeat is still this long is dead, in milliseconds (default 2000)");

/* ---- structures ---------------------------------------------------------- */

/* Counters of one peer; the names in ringnet_peer_stat_desc. */
struct ringnet_peer_stats {
	u64	rx_packets;
	u64	rx_bytes;
	u64	tx_packets;
	u64	tx_bytes;
	u64	tx_dropped;		/* ring full, frame too long, or a reset */
	u64	rx_dropped;		/* bad metadata or no memory */
	u64	kicks;			/* doorbells rung for this peer */
};

/*
 * What we know of one remote slot. The state lives here, never in the region.
 *
 * Ownership: the identity fields (gen, mac, doorbell_id, last_hb*, refused)
 * are written only by the region's peer work. present and alive are written
 * by the peer work (and by remove/eviction under the same serialisation) and
 * read locklessly by TX and NAPI: present is released after mac is written
 * and acquired before mac is read, so a reader that sees a peer present sees
 * its whole MAC. tx (with every call into the producer end, has_room
 * included) is owned by tx_lock; rx and rx_ready by rx_lock.
 */
struct ringnet_peer {
	struct ringnet_region	*region;
	u32			slot;
	u16			txq;		/* our TX queue for this peer */
	bool			present;	/* slot UP with a generation we attached to */
	bool			alive;		/* heartbeat moving */
	bool			refused;	/* this generation claims a MAC someone else holds */
	u32			gen;
	u8			mac[ETH_ALEN];
	u8			refused_mac[ETH_ALEN];	/* what a refused generation claims, to show */
	u32			doorbell_id;
	u64			last_hb;
	unsigned long		last_hb_change;	/* jiffies */

	spinlock_t		tx_lock;	/* serialises the producer end */
	struct ringnet_tx	tx;
	spinlock_t		rx_lock;	/* NAPI vs. re-attach by the peer work */
	struct ringnet_rx	rx;
	bool			rx_ready;
	struct ringnet_peer_stats stats;
};

struct ringnet_region {
	struct ringnet_priv	*priv;
	struct pci_dev		*pdev;
	unsigned int		index;		/* in priv->regions[] */
	void			*shm;		/* the region, mapped write-back */
	u64			shm_size;
	struct kvmring_geom	geom;		/* validated copy, never re-read */
	struct kvmring_region_hdr *hdr;
	u64			instance;	/* hdr->instance when we joined */
	void __iomem		*regs;		/* ivshmem BAR0 */
	bool			doorbell;	/* ivshmem-doorbell with MSI-X */
	u32			ivposition;	/* our doorbell id, in doorbell mode */
	int			irq;

	/*
	 * Our slot. self_lock owns self, self_gen, me and evicted, and every
	 * write of our state word after the join: the peer work (heartbeat,
	 * eviction, rejoin) and a MAC change under RTNL both take it, so
	 * neither has to wait for the other to finish (the peer work takes
	 * RTNL itself). TX and NAPI read self locklessly (READ_ONCE) and only
	 * to skip our own slot; a peer struct whose slot is ours has
	 * present, alive and rx_ready false.
	 */
	struct mutex		self_lock;
	u32			self;		/* our slot */
	u32			self_gen;
	u64			heartbeat;	/* our private count, written to the region */
	struct kvmring_peer	*me;
	struct kvmring_peer	mine;		/* what we last wrote into *me, for checking it */
	bool			evicted;	/* our word is not ours: rejoin at the next beat */
	u64			evicted_hb;	/* the heartbeat in our slot when we noticed */
	unsigned long		evicted_at;	/* jiffies, then */
	bool			leaving;	/* being removed: set under RTNL */
	unsigned long		irq_masked;	/* bit 0: the doorbell IRQ waits for NAPI */

	struct ringnet_peer	peers[KVMRING_PEERS_MAX];
	unsigned int		rr;		/* RX round-robin start */

	struct napi_struct	napi;
	struct xdp_rxq_info	xdp_rxq;
	struct hrtimer		poll_timer;
	unsigned int		idle_polls;
	struct delayed_work	peer_work;

	/* Counters touched only by NAPI of this region. */
	u64			polls;
	u64			irqs;
	u64			xdp_pass;
	u64			xdp_drop;
	u64			xdp_tx;
	u64			xdp_redirect;
	u64			xdp_aborted;
	u64			rx_bad_meta;
	u64			rx_alloc_fail;
	u64			peer_joins;
	u64			peer_deaths;
	u64			peer_leaves;
	u64			bad_peer_entries;
	u64			mac_conflicts;	/* generations refused: a MAC ours or a live peer's */
	u64			doorbell_conflicts; /* doorbell ids refused: ours or another peer's */
	u64			rx_bad_src;	/* frames whose source MAC is not their sender's */
	u64			rx_no_peer;	/* frames from a slot we do not count as a peer */
	u64			rejoins;	/* times our word was not ours and we joined again */
};

struct ringnet_priv {
	struct net_device	*dev;
	struct ringnet_region __rcu *regions[RINGNET_MAX_REGIONS];
	struct bpf_prog __rcu	*xdp_prog;
	atomic64_t		tx_no_peer;
	struct work_struct	addr_work;	/* republish addresses */
	bool			announce;	/* tell peers our MAC at the next peer work */
	unsigned long		last_announce;	/* jiffies; announcements are rate-limited */
	struct mutex		carrier_lock;	/* reading the peers' liveness and setting carrier */
};

/*
 * priv->regions[] is written under RTNL only; it is read under RTNL or, on
 * the data path and in ethtool/sysfs, under rcu_read_lock_bh().
 */
static struct net_device *ringnet_dev;

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

/* ---- helpers ------------------------------------------------------------------ */

static struct ringnet_region *ringnet_region_get(struct ringnet_priv *priv, unsigned int i)
{
	return rcu_dereference_bh(priv->regions[i]);
}

#define ringnet_for_each_region(priv, r, i) \
	for ((i) = 0; (i) < RINGNET_MAX_REGIONS; (i)++) \
		if (((r) = ringnet_region_get((priv), (i))) != NULL)

/* Slot's entry in the peer table: shared memory, read each word once. */
static struct kvmring_peer *ringnet_entry(struct ringnet_region *r, u32 slot)
{
	return (struct kvmring_peer *)((u8 *)r->shm + kvmring_peer_offset(slot));
}

/* The peer holding mac: a live one before a dead one that held it before. */
static struct ringnet_peer *ringnet_peer_by_mac(struct ringnet_priv *priv, const u8 *mac)
{
	struct ringnet_peer *dead = NULL;
	struct ringnet_region *r;
	unsigned int i, s;

	ringnet_for_each_region(priv, r, i) {
		for (s = 0; s < r->geom.max_peers; s++) {
			struct ringnet_peer *p = &r->peers[s];

			/* Pairs with the release in ringnet_peer_scan(): mac is whole. */
			if (!smp_load_acquire(&p->present) || !ether_addr_equal(p->mac, mac))
				continue;
			if (READ_ONCE(p->alive))
				return p;
			dead = dead ?: p;
		}
	}
	return dead;
}

static void ringnet_kick(struct ringnet_peer *p)
{
	struct ringnet_region *r = p->region;

	if (!r->doorbell || p->doorbell_id == KVMRING_DOORBELL_NONE)
		return;
	/* Vector 0 of the peer: all it does is schedule its NAPI. */
	writel(p->doorbell_id << 16, r->regs + IVSHMEM_REG_DOORBELL);
	p->stats.kicks++;
}

static void ringnet_meta_from_hdr(struct ringnet_meta *m, const struct virtio_net_hdr *h)
{
	m->flags = 0;
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		m->flags |= KVMRING_REC_F_CSUM_PARTIAL;
	if (h->flags & VIRTIO_NET_HDR_F_DATA_VALID)
		m->flags |= KVMRING_REC_F_DATA_VALID;
	m->gso_type = h->gso_type;
	m->gso_size = __virtio16_to_cpu(true, h->gso_size);
	m->csum_start = __virtio16_to_cpu(true, h->csum_start);
	m->csum_offset = __virtio16_to_cpu(true, h->csum_offset);
}

static void ringnet_hdr_from_meta(struct virtio_net_hdr *h, const struct ringnet_meta *m)
{
	memset(h, 0, sizeof(*h));
	if (m->flags & KVMRING_REC_F_CSUM_PARTIAL)
		h->flags |= VIRTIO_NET_HDR_F_NEEDS_CSUM;
	if (m->flags & KVMRING_REC_F_DATA_VALID)
		h->flags |= VIRTIO_NET_HDR_F_DATA_VALID;
	h->gso_type = m->gso_type;
	h->gso_size = __cpu_to_virtio16(true, m->gso_size);
	h->csum_start = __cpu_to_virtio16(true, m->csum_start);
	h->csum_offset = __cpu_to_virtio16(true, m->csum_offset);
}

/* ---- transmit ---------------------------------------------------------------- */

/*
 * Copies one frame into the ring to p. Caller holds p->tx_lock. Returns 0 or
 * a negative errno; the frame is the caller's either way.
 */
static int ringnet_tx_frame(struct ringnet_peer *p, const struct sk_buff *skb,
			    const void *data, u32 len, const struct ringnet_meta *meta)
{
	void *dst;
	int err;

	err = ringnet_tx_reserve(&p->tx, len, &dst);
	if (err) {
		p->stats.tx_dropped++;
		return err;
	}
	if (skb)
		skb_copy_bits(skb, 0, dst, len);
	else
		memcpy(dst, data, len);
	ringnet_tx_commit(&p->tx, meta);
	ringnet_tx_publish(&p->tx);
	if (ringnet_tx_kick_needed(&p->tx))
		ringnet_kick(p);
	p->stats.tx_packets++;
	p->stats.tx_bytes += len;
	return 0;
}

/*
 * Sends skb to p and, for the peer's own TX queue (txq not NULL), stops the
 * queue while the ring cannot take a maximal frame. Everything that touches
 * the producer end, the room check included, runs under p->tx_lock: the
 * check may look at the consumer's word and follow a reset, which rewrites
 * the producer's index and must not cross a locked producer (a broadcast,
 * ndo_xdp_xmit, XDP_TX) between its commit and its publish.
 */
static int ringnet_tx_skb(struct ringnet_peer *p, struct sk_buff *skb, const struct ringnet_meta *meta,
			  struct netdev_queue *txq)
{
	bool stopped = false;
	int err;

	if (!READ_ONCE(p->alive)) {
		p->stats.tx_dropped++;
		return -ENOTCONN;
	}
	spin_lock(&p->tx_lock);
	err = ringnet_tx_frame(p, skb, NULL, skb->len, meta);
	if (txq && !ringnet_tx_has_room(&p->tx, KVMRING_FRAME_MAX)) {
		netif_tx_stop_queue(txq);
		/*
		 * The consumer may have made room since we looked: look once
		 * more after the stop is visible, so that a wake the NAPI poll
		 * decided on before our stop is not lost.
		 */
		smp_mb__after_atomic();
		if (ringnet_tx_has_room(&p->tx, KVMRING_FRAME_MAX))
			netif_tx_wake_queue(txq);
		else
			stopped = true;
	}
	spin_unlock(&p->tx_lock);
	/* NAPI wakes the queue when the peer has made room: make sure it looks. */
	if (stopped)
		napi_schedule(&p->region->napi);
	return err;
}

static u16 ringnet_select_queue(struct net_device *dev, struct sk_buff *skb,
				struct net_device *sb_dev)
{
	struct ringnet_priv *priv = netdev_priv(dev);
	struct ringnet_peer *p;
	u16 q = 0;

	if (skb_headlen(skb) < ETH_HLEN || is_multicast_ether_addr(skb->data))
		return 0;
	rcu_read_lock_bh();
	p = ringnet_peer_by_mac(priv, skb->data);
	if (p)
		q = p->txq;
	rcu_read_unlock_bh();
	return q;
}

static netdev_tx_t ringnet_start_xmit(struct sk_buff *skb, struct net_device *dev)
{
	struct ringnet_priv *priv = netdev_priv(dev);
	struct virtio_net_hdr vhdr;
	struct ringnet_meta meta;
	struct ringnet_peer *p;
	struct ringnet_region *r;
	unsigned int i, s;

	if (skb->len < ETH_HLEN || skb->len > KVMRING_FRAME_MAX ||
	    virtio_net_hdr_from_skb(skb, &vhdr, true, false, 0)) {
		dev_core_stats_tx_dropped_inc(dev);
		goto out;
	}
	ringnet_meta_from_hdr(&meta, &vhdr);

	rcu_read_lock_bh();
	if (is_multicast_ether_addr(skb->data)) {
		/* Broadcast and multicast (ARP, IPv6 ND) reach every live peer. */
		ringnet_for_each_region(priv, r, i)
			for (s = 0; s < r->geom.max_peers; s++)
				if (READ_ONCE(r->peers[s].alive))
					ringnet_tx_skb(&r->peers[s], skb, &meta, NULL);
	} else {
		p = ringnet_peer_by_mac(priv, skb->data);
		if (!p)
			atomic64_inc(&priv->tx_no_peer);
		else
			ringnet_tx_skb(p, skb, &meta, skb_get_queue_mapping(skb) == p->txq ?
				       skb_get_tx_queue(dev, skb) : NULL);
	}
	rcu_read_unlock_bh();
out:
	dev_kfree_skb_any(skb);
	return NETDEV_TX_OK;
}

/*
 * Sends what it can of a bulk and returns how many frames it sent; the
 * caller frees frames[sent..n-1]. A frame for an unknown or full peer does
 * not hold back the frames after it: failed frames are moved to the tail.
 */
static int ringnet_xdp_xmit(struct net_device *dev, int n, struct xdp_frame **frames, u32 flags)
{
	struct ringnet_priv *priv = netdev_priv(dev);
	struct ringnet_meta meta = {};
	int i, failed = 0;

	if (unlikely(flags & ~XDP_XMIT_FLAGS_MASK))
		return -EINVAL;

	rcu_read_lock_bh();
	for (i = 0; i < n; i++) {
		struct xdp_frame *f = frames[i];
		struct ringnet_peer *p = NULL;
		int err = -ENOTCONN;

		/* One linear frame per record: a multi-buffer frame is refused whole. */
		if (f->len >= ETH_HLEN && !xdp_frame_has_frags(f)) {
			p = ringnet_peer_by_mac(priv, f->data);
			if (p && READ_ONCE(p->alive)) {
				spin_lock(&p->tx_lock);
				err = ringnet_tx_frame(p, NULL, f->data, f->len, &meta);
				spin_unlock(&p->tx_lock);
			}
		}
		if (!p)
			atomic64_inc(&priv->tx_no_peer);
		if (err) {
			/* Slots before i are free: the frames there were sent and returned. */
			frames[failed++] = f;
			continue;
		}
		/* The bytes are in the ring: the frame is ours to return. */
		xdp_return_frame(f);
	}
	rcu_read_unlock_bh();
	/* The caller frees the frames past what we report as sent. */
	if (failed)
		memmove(frames + n - failed, frames, failed * sizeof(*frames));
	return n - failed;
}

/* ---- receive ------------------------------------------------------------------ */

/* Copies a frame out of the region into a new skb: a short head, the rest in pages. */
static struct sk_buff *ringnet_copy_skb(struct ringnet_region *r, const u8 *data, u32 len)
{
	u32 head = min_t(u32, len, len <= PAGE_SIZE / 2 ? len : RINGNET_RX_COPYBREAK);
	struct sk_buff *skb;
	u32 off;

	skb = napi_alloc_skb(&r->napi, head);
	if (!skb)
		return NULL;
	skb_put_data(skb, data, head);
	for (off = head; off < len; ) {
		u32 chunk = min_t(u32, len - off, PAGE_SIZE);
		struct page *page;

		if (skb_shinfo(skb)->nr_frags >= MAX_SKB_FRAGS)
			goto err;
		page = dev_alloc_page();
		if (!page)
			goto err;
		memcpy(page_address(page), data + off, chunk);
		skb_add_rx_frag(skb, skb_shinfo(skb)->nr_frags, page, 0, chunk, PAGE_SIZE);
		off += chunk;
	}
	return skb;
err:
	kfree_skb(skb);
	return NULL;
}

/*
 * Checks a frame we copied out of the ring against its sender: the source
 * MAC must be the one the peer joined with (nobody speaks for another peer
 * or for us), and its GSO/checksum metadata must describe the frame's own
 * headers (ringnet_meta_check()). headlen bytes of data are linear. Counts
 * and returns false for a frame to drop.
 */
static bool ringnet_rx_valid(struct ringnet_region *r, struct ringnet_peer *p, const u8 *data,
			     u32 headlen, u32 len, const struct ringnet_meta *meta)
{
	if (!ether_addr_equal(((const struct ethhdr *)data)->h_source, p->mac)) {
		r->rx_bad_src++;
		p->stats.rx_dropped++;
		return false;
	}
	if (ringnet_meta_check(data, headlen, len, meta)) {
		r->rx_bad_meta++;
		p->stats.rx_dropped++;
		return false;
	}
	return true;
}

/* Metadata, protocol and GRO: the common end of every received frame. */
static void ringnet_deliver(struct ringnet_region *r, struct ringnet_peer *p, struct sk_buff *skb,
			    const struct ringnet_meta *meta, struct bpf_prog *generic_prog)
{
	struct net_device *dev = r->priv->dev;
	struct virtio_net_hdr vhdr;
	u32 len = skb->len;

	ringnet_hdr_from_meta(&vhdr, meta);
	if (virtio_net_hdr_to_skb(skb, &vhdr, true)) {
		r->rx_bad_meta++;
		p->stats.rx_dropped++;
		kfree_skb(skb);
		return;
	}
	skb->protocol = eth_type_trans(skb, dev);
	skb_record_rx_queue(skb, 0);

	if (generic_prog) {
		/* A GSO super-frame or a frame too long for one page: XDP on the skb. */
		if (do_xdp_generic(generic_prog, skb) != XDP_PASS)
			return;
	}
	p->stats.rx_packets++;
	p->stats.rx_bytes += len;
	napi_gro_receive(&r->napi, skb);
}

/* The native XDP path for a frame that fits a page. Returns true if XDP_REDIRECT. */
static bool ringnet_rx_xdp(struct ringnet_region *r, struct ringnet_peer *p, struct bpf_prog *prog,
			   const struct ringnet_frame *f)
{
	struct net_device *dev = r->priv->dev;
	struct ringnet_meta meta = f->meta;
	struct xdp_buff xdp;
	struct sk_buff *skb;
	struct page *page;
	u8 *start;
	u32 act;

	page = dev_alloc_page();
	if (!page) {
		r->rx_alloc_fail++;
		p->stats.rx_dropped++;
		return false;
	}
	start = page_address(page);
	memcpy(start + RINGNET_XDP_HEADROOM, f->data, f->len);
	if (!ringnet_rx_valid(r, p, start + RINGNET_XDP_HEADROOM, f->len, f->len, &meta)) {
		put_page(page);
		return false;
	}
	/* XDP sees, and may change, a complete frame: fill in a partial checksum. */
	if (!ringnet_csum_finish(start + RINGNET_XDP_HEADROOM, f->len, &meta)) {
		r->rx_bad_meta++;
		p->stats.rx_dropped++;
		put_page(page);
		return false;
	}

	xdp_init_buff(&xdp, PAGE_SIZE, &r->xdp_rxq);
	xdp_prepare_buff(&xdp, start, RINGNET_XDP_HEADROOM, f->len, true);
	act = bpf_prog_run_xdp(prog, &xdp);

	switch (act) {
	case XDP_PASS:
		r->xdp_pass++;
		skb = build_skb(start, PAGE_SIZE);
		if (!skb) {
			r->rx_alloc_fail++;
			put_page(page);
			return false;
		}
		skb_reserve(skb, xdp.data - xdp.data_hard_start);
		skb_put(skb, xdp.data_end - xdp.data);
		if (xdp.data_meta != xdp.data)
			skb_metadata_set(skb, xdp.data - xdp.data_meta);
		ringnet_deliver(r, p, skb, &meta, NULL);
		return false;
	case XDP_TX:
		/* Back out of the interface it came in on: to the peer it came from. */
		r->xdp_tx++;
		if (READ_ONCE(p->alive)) {
			struct ringnet_meta none = {};

			spin_lock(&p->tx_lock);
			ringnet_tx_frame(p, NULL, xdp.data, xdp.data_end - xdp.data, &none);
			spin_unlock(&p->tx_lock);
		}
		put_page(page);
		return false;
	case XDP_REDIRECT:
		if (xdp_do_redirect(dev, &xdp, prog)) {
			r->xdp_aborted++;
			put_page(page);
			return false;
		}
		r->xdp_redirect++;
		return true;
	default:
		bpf_warn_invalid_xdp_action(dev, prog, act);
		fallthrough;
	case XDP_ABORTED:
		trace_xdp_exception(dev, prog, act);
		r->xdp_aborted++;
		put_page(page);
		return false;
	case XDP_DROP:
		r->xdp_drop++;
		put_page(page);
		return false;
	}
}

static void ringnet_rx_frame(struct ringnet_region *r, struct ringnet_peer *p, struct bpf_prog *prog,
			     const struct ringnet_frame *f, bool *redirected)
{
	struct sk_buff *skb;

	/* A slot we have not seen join, or refused: nothing it says is trusted. */
	if (!smp_load_acquire(&p->present)) {
		r->rx_no_peer++;
		p->stats.rx_dropped++;
		return;
	}
	if (prog && f->len <= RINGNET_XDP_MAX_FRAME && f->meta.gso_type == KVMRING_GSO_NONE) {
		*redirected |= ringnet_rx_xdp(r, p, prog, f);
		return;
	}
	skb = ringnet_copy_skb(r, f->data, f->len);
	if (!skb) {
		r->rx_alloc_fail++;
		p->stats.rx_dropped++;
		return;
	}
	if (!ringnet_rx_valid(r, p, skb->data, skb_headlen(skb), skb->len, &f->meta)) {
		kfree_skb(skb);
		return;
	}
	ringnet_deliver(r, p, skb, &f->meta, prog);
}

/* Drains the ring from p, up to budget frames. Called from NAPI. */
static int ringnet_rx_peer(struct ringnet_region *r, struct ringnet_peer *p, struct bpf_prog *prog,
			   int budget, bool *redirected)
{
	struct ringnet_frame f;
	int done = 0;

	spin_lock(&p->rx_lock);
	if (p->rx_ready) {
		while (done < budget && ringnet_rx_peek(&p->rx, &f) == 1) {
			ringnet_rx_frame(r, p, prog, &f, redirected);
			ringnet_rx_consume(&p->rx);
			done++;
		}
		ringnet_rx_publish(&p->rx);
	}
	spin_unlock(&p->rx_lock);
	return done;
}

/*
 * Wakes the TX queue of every peer whose ring has room again. Returns how
 * many it woke; *stopped says whether a queue is still stopped.
 */
static unsigned int ringnet_wake_queues(struct ringnet_region *r, bool *stopped)
{
	struct net_device *dev = r->priv->dev;
	unsigned int woken = 0;
	u32 s;

	*stopped = false;
	for (s = 0; s < r->geom.max_peers; s++) {
		struct ringnet_peer *p = &r->peers[s];
		struct netdev_queue *txq = netdev_get_tx_queue(dev, p->txq);
		bool room;

		/* Our own slot's queue carries nothing; its producer end was never attached. */
		if (s == READ_ONCE(r->self) || !netif_tx_queue_stopped(txq))
			continue;
		/* The room check may follow a reset: the producer's lock (see ringnet_tx_skb()). */
		spin_lock(&p->tx_lock);
		/* Never attached (a slot that was ours): nothing to wait for. */
		room = !p->tx.ring.hdr || ringnet_tx_has_room(&p->tx, KVMRING_FRAME_MAX);
		spin_unlock(&p->tx_lock);
		/* A dead peer frees nothing: wake, so its frames are dropped, not queued. */
		if (!READ_ONCE(p->alive) || room) {
			netif_tx_wake_queue(txq);
			woken++;
		} else {
			*stopped = true;
		}
	}
	return woken;
}

static void ringnet_poll_timer_arm(struct ringnet_region *r, bool busy)
{
	u32 us;

	/* Poll fast while frames flow; back off exponentially when idle. */
	r->idle_polls = busy ? 0 : min(r->idle_polls + 1, 16U);
	us = max(poll_us, 1U) << min(r->idle_polls, 10U);
	us = min(us, max(poll_idle_us, poll_us));
	hrtimer_start(&r->poll_timer, ns_to_ktime((u64)us * NSEC_PER_USEC), HRTIMER_MODE_REL);
}

static int ringnet_poll(struct napi_struct *napi, int budget)
{
	struct ringnet_region *r = container_of(napi, struct ringnet_region, napi);
	struct bpf_prog *prog;
	bool redirected = false, stopped, more = false;
	u32 i, s, n = r->geom.max_peers;
	unsigned int woken;
	int done = 0;

	r->polls++;
	rcu_read_lock();
	prog = rcu_dereference(r->priv->xdp_prog);
	for (i = 0; i < n && done < budget; i++) {
		s = (r->rr + i) % n;
		done += ringnet_rx_peer(r, &r->peers[s], prog, budget - done, &redirected);
	}
	r->rr = (r->rr + 1) % n;
	if (redirected)
		xdp_do_flush();
	rcu_read_unlock();

	woken = ringnet_wake_queues(r, &stopped);
	if (done >= budget)
		return budget;

	if (r->doorbell) {
		/* Ask every live producer for a kick, then look again (no lost wake-up). */
		for (s = 0; s < n; s++) {
			struct ringnet_peer *p = &r->peers[s];

			spin_lock(&p->rx_lock);
			if (p->rx_ready && ringnet_rx_arm(&p->rx))
				more = true;
			spin_unlock(&p->rx_lock);
		}
	}
	if (napi_complete_done(napi, done)) {
		/* The doorbell may interrupt us again (see ringnet_irq()). */
		if (r->doorbell && test_and_clear_bit(0, &r->irq_masked))
			enable_irq(r->irq);
		if (more)
			napi_schedule(napi);
		/*
		 * A stopped queue waits for a peer to consume, and no kick tells
		 * us when: poll for it, but a peer that takes nothing (no queue
		 * woken, no frame) lets the interval back off like idleness.
		 */
		else if (!r->doorbell || stopped)
			ringnet_poll_timer_arm(r, done > 0 || woken > 0);
	}
	return done;
}

static enum hrtimer_restart ringnet_poll_timer_fn(struct hrtimer *t)
{
	struct ringnet_region *r = container_of(t, struct ringnet_region, poll_timer);

	napi_schedule(&r->napi);
	return HRTIMER_NORESTART;
}

/*
 * A doorbell only schedules NAPI, and stays masked until NAPI completes: a
 * neighbour ringing as fast as it can costs us at most one interrupt per
 * poll, not a livelock.
 */
static irqreturn_t ringnet_irq(int irq, void *data)
{
	struct ringnet_region *r = data;

	r->irqs++;
	/*
	 * We run only while the line is enabled, so each run owes exactly one
	 * enable: masked first, then the bit that tells NAPI to unmask.
	 */
	disable_irq_nosync(irq);
	set_bit(0, &r->irq_masked);
	napi_schedule(&r->napi);
	return IRQ_HANDLED;
}

/* ---- peers ---------------------------------------------------------------------- */

/* The part of our entry after state and heartbeat: ours to write, everyone's to read. */
#define RINGNET_ENTRY_OFF	offsetof(struct kvmring_peer, doorbell_id)
#define RINGNET_ENTRY_TAIL	(sizeof(struct kvmring_peer) - RINGNET_ENTRY_OFF)
#define ringnet_entry_tail(e)	((u8 *)(e) + RINGNET_ENTRY_OFF)

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
	ringnet_tx_attach(&p->tx, out, r->geom.ring_size);
	if (renew)
		ringnet_tx_renew(&p->tx);
	spin_unlock_bh(&p->tx_lock);
	spin_lock_bh(&p->rx_lock);
	ringnet_rx_attach(&p->rx, in, r->geom.ring_size);
	if (renew)
		ringnet_rx_renew(&p->rx);
	p->rx_ready = true;
	spin_unlock_bh(&p->rx_lock);
}

/* Process context; the peer works of several regions and ndo_open may race here. */
static void ringnet_update_carrier(struct ringnet_priv *priv)
{
	struct ringnet_region *r;
	bool any = false;
	unsigned int i, s;

	mutex_lock(&priv->carrier_lock);
	rcu_read_lock_bh();
	ringnet_for_each_region(priv, r, i)
		for (s = 0; s < r->geom.max_peers; s++)
			any |= READ_ONCE(r->peers[s].alive);
	rcu_read_unlock_bh();
	if (any && !netif_carrier_ok(priv->dev))
		netif_carrier_on(priv->dev);
	else if (!any && netif_carrier_ok(priv->dev))
		netif_carrier_off(priv->dev);
	mutex_unlock(&priv->carrier_lock);
}

/* Stops using p until its slot shows a generation we accept. */
static void ringnet_peer_forget(struct ringnet_peer *p)
{
	WRITE_ONCE(p->alive, false);
	WRITE_ONCE(p->present, false);
}

/*
 * Whether mac may be p's identity: a valid unicast address that is neither
 * ours nor held by another live peer of the same region. The first to hold
 * an address keeps it; a later claimant is refused, so no peer of a region
 * can take over another's traffic or speak for us. The same MAC in two
 * regions is the same guest reachable twice (one MAC per ring0): without a
 * host-owned roster (the isolation work) a guest cannot tell that from an
 * impostor in another region, and sending prefers the lower region. Runs
 * in r's peer work, the only writer of r's peers' identities.
 */
static const char *ringnet_mac_refusal(struct ringnet_region *r, struct ringnet_peer *p,
				       const u8 *mac)
{
	u32 s;

	if (!is_valid_ether_addr(mac))
		return "an invalid MAC";
	if (ether_addr_equal(mac, r->priv->dev->dev_addr))
		return "our own MAC";
	for (s = 0; s < r->geom.max_peers; s++) {
		struct ringnet_peer *q = &r->peers[s];

		/* A dead holder keeps no claim: a guest may come back in another slot. */
		if (q != p && q->present && q->alive && ether_addr_equal(q->mac, mac))
			return "the MAC of a live peer";
	}
	return NULL;
}

/*
 * A doorbell id is a 16-bit ivshmem peer id that nobody else uses: a peer
 * that names ours or another peer's would aim our kicks at a third guest.
 */
static u32 ringnet_doorbell_id(struct ringnet_region *r, struct ringnet_peer *p, u32 id)
{
	u32 s;

	if (!r->doorbell || id > 0xffff)
		return KVMRING_DOORBELL_NONE;
	if (id == r->ivposition)
		goto refuse;
	for (s = 0; s < r->geom.max_peers; s++) {
		struct ringnet_peer *q = &r->peers[s];

		if (q != p && READ_ONCE(q->present) && q->doorbell_id == id)
			goto refuse;
	}
	return id;
refuse:
	r->doorbell_conflicts++;
	return KVMRING_DOORBELL_NONE;
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
	u64 word = READ_ONCE(e->state);
	u32 state = KVMRING_PEER_STATE(word), gen = KVMRING_PEER_GEN(word);
	unsigned long timeout = msecs_to_jiffies(peer_timeout_ms);
	bool was = p->present;
	const char *why;
	u8 mac[ETH_ALEN];
	u64 hb;

	if (state != KVMRING_PEER_UP) {
		WRITE_ONCE(p->refused, false);
		if (!was)
			return false;
		ringnet_peer_forget(p);
		r->peer_leaves++;
		ringnet_peer_log(info, dev, "peer %u (%pM) left\n", p->slot, p->mac);
		return true;
	}

	/* Pairs with the owner's release of UP: its entry is complete. */
	smp_rmb();
	hb = READ_ONCE(e->heartbeat);
	if (!was || p->gen != gen) {
		memcpy(mac, e->mac, ETH_ALEN);
		/* A refused generation is looked at again each beat: its rival may leave. */
		why = ringnet_mac_refusal(r, p, mac);
		if (why) {
			if (was || p->gen != gen || !p->refused) {
				if (is_valid_ether_addr(mac))
					r->mac_conflicts++;
				else
					r->bad_peer_entries++;
				ringnet_peer_log(warn, dev, "peer %u publishes %s (%pM): refused\n",
						 p->slot, why, mac);
			}
			ringnet_peer_forget(p);
			p->gen = gen;
			ether_addr_copy(p->refused_mac, mac);
			WRITE_ONCE(p->refused, true);
			return was;
		}
		ringnet_peer_forget(p);
		/* Readers that saw the old identity present finish comparing its MAC first. */
		if (was)
			synchronize_net();
		WRITE_ONCE(p->refused, false);
		p->gen = gen;
		ether_addr_copy(p->mac, mac);
		p->doorbell_id = ringnet_doorbell_id(r, p, READ_ONCE(e->doorbell_id));
		p->last_hb = hb;
		p->last_hb_change = jiffies;
		ringnet_peer_attach(r, p, false);
		/* Release: a reader that sees the peer present sees its whole MAC. */
		smp_store_release(&p->present, true);
		WRITE_ONCE(p->alive, true);
		r->peer_joins++;
		ringnet_peer_log(info, dev, "peer %u (%pM) joined, generation %u\n", p->slot, p->mac, gen);
		return true;
	}

	if (hb != p->last_hb) {
		p->last_hb = hb;
		p->last_hb_change = jiffies;
		if (!p->alive) {
			WRITE_ONCE(p->alive, true);
			ringnet_peer_log(info, dev, "peer %u (%pM) is alive again\n", p->slot, p->mac);
			return true;
		}
	} else if (p->alive && time_after(jiffies, p->last_hb_change + timeout)) {
		WRITE_ONCE(p->alive, false);
		r->peer_deaths++;
		ringnet_peer_log(warn, dev, "peer %u (%pM) stopped its heartbeat %u ms ago: marked dead\n",
				 p->slot, p->mac, jiffies_to_msecs(jiffies - p->last_hb_change));
		return true;
	}
	return false;
}

static void ringnet_join(struct ringnet_region *r);

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

static bool ringnet_word_claimed(u64 word)
{
	u32 st = KVMRING_PEER_STATE(word);

	return st == KVMRING_PEER_CLAIMED || st == KVMRING_PEER_UP;
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
	struct kvmring_peer *mine = r->me;
	u32 s, n = r->geom.max_peers, old_self = r->self;
	u64 word = READ_ONCE(mine->state);
	bool took = false;

	/* Our word but not our entry: a new generation in the same slot. */
	if (word == KVMRING_PEER_WORD(r->self_gen, KVMRING_PEER_UP) || !ringnet_word_claimed(word) ||
	    (READ_ONCE(mine->heartbeat) == r->evicted_hb &&
	     time_after(jiffies, r->evicted_at + msecs_to_jiffies(peer_timeout_ms))))
		took = ringnet_take_slot(r, old_self, word);
	for (s = 0; s < n && !took; s++) {
		word = READ_ONCE(ringnet_entry(r, s)->state);
		if (s != old_self && KVMRING_PEER_STATE(word) == KVMRING_PEER_FREE)
			took = ringnet_take_slot(r, s, word);
	}
	for (s = 0; s < n && !took; s++) {
		struct ringnet_peer *p = &r->peers[s];

		/* A heartbeat still since we last saw it move, for the timeout: nobody's. */
		word = READ_ONCE(ringnet_entry(r, s)->state);
		if (s != old_self && READ_ONCE(ringnet_entry(r, s)->heartbeat) == p->last_hb &&
		    time_after(jiffies, p->last_hb_change + msecs_to_jiffies(peer_timeout_ms)))
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
	r->rejoins++;
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
	if (READ_ONCE(r->me->state) == KVMRING_PEER_WORD(r->self_gen, KVMRING_PEER_UP)) {
		/*
		 * Peer-writable: our entry as the others read it. A neighbour
		 * that rewrote our MAC or addresses but not our word would have
		 * new peers see a stranger: one copy, compared with ours.
		 */
		struct kvmring_peer now;

		memcpy(ringnet_entry_tail(&now), ringnet_entry_tail(r->me), RINGNET_ENTRY_TAIL);
		if (!memcmp(ringnet_entry_tail(&now), ringnet_entry_tail(&r->mine), RINGNET_ENTRY_TAIL))
			return;
	}
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

static void ringnet_peer_work(struct work_struct *work)
{
	struct ringnet_region *r = container_of(to_delayed_work(work), struct ringnet_region, peer_work);
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
		u64 joins = r->peer_joins;

		if (s == r->self)
			continue;
		changed |= ringnet_peer_scan(r, &r->peers[s]);
		joined |= r->peer_joins != joins;
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
	if (netif_running(priv->dev)) {
		local_bh_disable();
		napi_schedule(&r->napi);
		local_bh_enable();
	}
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
static void ringnet_addr_work(struct work_struct *work)
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

static int ringnet_inetaddr_event(struct notifier_block *nb, unsigned long ev, void *ptr)
{
	if (ringnet_dev)
		schedule_work(&((struct ringnet_priv *)netdev_priv(ringnet_dev))->addr_work);
	return NOTIFY_DONE;
}

static struct notifier_block ringnet_inetaddr_nb = { .notifier_call = ringnet_inetaddr_event };
static struct notifier_block ringnet_inet6addr_nb = { .notifier_call = ringnet_inetaddr_event };

/* ---- joining and leaving a region ---------------------------------------------- */

/*
 * Claims a slot: a free one, else one whose owner's heartbeat stood still for
 * peer_timeout_ms (a guest that died without leaving). Sleeps only in that
 * last case. In doorbell mode the slot is not the IVPosition: the server never
 * reuses an id at once, so IVPositions outgrow the table. In probe, before
 * anyone else can see r.
 */
static int ringnet_claim_slot(struct ringnet_region *r)
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
static void ringnet_join(struct ringnet_region *r)
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

static void ringnet_leave(struct ringnet_region *r)
{
	u64 up;

	/* Only if the slot is still ours: a taker's claim stands. */
	mutex_lock(&r->self_lock);
	up = KVMRING_PEER_WORD(r->self_gen, KVMRING_PEER_UP);
	if (!r->evicted)
		cmpxchg64(&r->me->state, up, KVMRING_PEER_WORD(r->self_gen, KVMRING_PEER_FREE));
	mutex_unlock(&r->self_lock);
}

/* ---- net_device_ops ------------------------------------------------------------ */

/* NAPI on for r, and a first poll. Under RTNL, with r published or being published. */
static void ringnet_napi_start(struct ringnet_region *r)
{
	napi_enable(&r->napi);
	/* napi_schedule() from process context: softirqs run at local_bh_enable(). */
	local_bh_disable();
	napi_schedule(&r->napi);
	local_bh_enable();
}

/* NAPI off for r. Under RTNL. */
static void ringnet_napi_stop(struct ringnet_region *r)
{
	napi_disable(&r->napi);
	/* Only a poll arms the timer, and none runs now: cancel what the last one armed. */
	hrtimer_cancel(&r->poll_timer);
}

static int ringnet_open(struct net_device *dev)
{
	struct ringnet_priv *priv = netdev_priv(dev);
	struct ringnet_region *r;
	unsigned int i;

	/* Queues first: the first poll only wakes queues whose peer cannot take more. */
	netif_tx_start_all_queues(dev);
	for (i = 0; i < RINGNET_MAX_REGIONS; i++) {
		r = rtnl_dereference(priv->regions[i]);
		if (r)
			ringnet_napi_start(r);
	}
	ringnet_update_carrier(priv);
	WRITE_ONCE(priv->announce, true);
	return 0;
}

static int ringnet_stop(struct net_device *dev)
{
	struct ringnet_priv *priv = netdev_priv(dev);
	struct ringnet_region *r;
	unsigned int i;

	netif_tx_stop_all_queues(dev);
	for (i = 0; i < RINGNET_MAX_REGIONS; i++) {
		r = rtnl_dereference(priv->regions[i]);
		if (r)
			ringnet_napi_stop(r);
	}
	return 0;
}

static void ringnet_get_stats64(struct net_device *dev, struct rtnl_link_stats64 *s)
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

static int ringnet_change_mtu(struct net_device *dev, int mtu)
{
	struct ringnet_priv *priv = netdev_priv(dev);

	if (rtnl_dereference(priv->xdp_prog) && mtu > RINGNET_XDP_MAX_MTU) {
		netdev_err(dev, "MTU %d is too large for XDP (at most %lu): detach the program first\n",
			   mtu, (unsigned long)RINGNET_XDP_MAX_MTU);
		return -EINVAL;
	}
	dev->mtu = mtu;
	return 0;
}

/*
 * Publishes dev's MAC by starting a new generation of our slot: peers read a
 * MAC only when a generation begins (ringnet_peer_scan), and take the new one
 * as a join, re-attaching the rings where they stand. Under RTNL; takes
 * r->self_lock, which the peer work holds only briefly and never while it
 * waits for RTNL, so neither waits for the other's end.
 */
static void ringnet_new_generation(struct ringnet_region *r)
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

static int ringnet_set_mac_address(struct net_device *dev, void *addr)
{
	struct ringnet_priv *priv = netdev_priv(dev);
	struct ringnet_region *r;
	unsigned int i;
	int err = eth_mac_addr(dev, addr);

	if (err)
		return err;
	for (i = 0; i < RINGNET_MAX_REGIONS; i++) {
		r = rtnl_dereference(priv->regions[i]);
		if (r)
			ringnet_new_generation(r);
	}
	netdev_info(dev, "MAC changed to %pM: published to the peers\n", dev->dev_addr);
	return 0;
}

static int ringnet_xdp_setup(struct net_device *dev, struct bpf_prog *prog,
			     struct netlink_ext_ack *extack)
{
	struct ringnet_priv *priv = netdev_priv(dev);
	struct bpf_prog *old;

	/* Frames up to the MTU must fit a page; larger GSO frames run XDP on an skb. */
	if (prog && dev->mtu > RINGNET_XDP_MAX_MTU) {
		NL_SET_ERR_MSG_MOD(extack, "MTU too large for XDP: lower it to the page-sized limit (see dmesg)");
		netdev_warn(dev, "XDP needs an MTU of at most %lu, ring0 has %u\n",
			    (unsigned long)RINGNET_XDP_MAX_MTU, dev->mtu);
		return -EOPNOTSUPP;
	}
	old = rtnl_dereference(priv->xdp_prog);
	rcu_assign_pointer(priv->xdp_prog, prog);
	if (old)
		bpf_prog_put(old);
	return 0;
}

static int ringnet_bpf(struct net_device *dev, struct netdev_bpf *bpf)
{
	switch (bpf->command) {
	case XDP_SETUP_PROG:
		return ringnet_xdp_setup(dev, bpf->prog, bpf->extack);
	default:
		return -EINVAL;
	}
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

			seq = READ_ONCE(e->addr_seq);
			smp_rmb();
			memcpy(v4, e->ipv4, sizeof(v4));
			memcpy(v6, e->ipv6, sizeof(v6));
			smp_rmb();
			if ((seq & 1) || READ_ONCE(e->addr_seq) != seq)
				memset(v4, 0, sizeof(v4)), memset(v6, 0, sizeof(v6));

			n += sysfs_emit_at(buf, n, "%u %u %s %u %pM %u ", i, s, state,
					   s == r->self ? r->self_gen : p->gen,
					   s == r->self ? r->priv->dev->dev_addr :
					   READ_ONCE(p->refused) ? p->refused_mac : p->mac,
					   s == r->self || !p->present ? 0 :
					   jiffies_to_msecs(jiffies - p->last_hb_change));
			for (a = 0; a < KVMRING_PEER_ADDRS; a++)
				if (*(u32 *)v4[a])
					n += sysfs_emit_at(buf, n, "%s%pI4", sep ? "," : "", v4[a]), sep = true;
			n += sysfs_emit_at(buf, n, sep ? " " : "- ");
			sep = false;
			for (a = 0; a < KVMRING_PEER_ADDRS; a++)
				if (!ipv6_addr_any((struct in6_addr *)v6[a]))
					n += sysfs_emit_at(buf, n, "%s%pI6c", sep ? "," : "", v6[a]), sep = true;
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

static const struct attribute_group ringnet_attr_group = {
	.name	= "ringnet",
	.attrs	= ringnet_attrs,
};

/* ---- ops tables ------------------------------------------------------------------- */

static const struct net_device_ops ringnet_netdev_ops = {
	.ndo_open		= ringnet_open,
	.ndo_stop		= ringnet_stop,
	.ndo_start_xmit		= ringnet_start_xmit,
	.ndo_select_queue	= ringnet_select_queue,
	.ndo_get_stats64	= ringnet_get_stats64,
	.ndo_change_mtu		= ringnet_change_mtu,
	.ndo_set_mac_address	= ringnet_set_mac_address,
	.ndo_validate_addr	= eth_validate_addr,
	.ndo_bpf		= ringnet_bpf,
	.ndo_xdp_xmit		= ringnet_xdp_xmit,
};

static const struct ethtool_ops ringnet_ethtool_ops = {
	.get_drvinfo		= ringnet_get_drvinfo,
	.get_link		= ethtool_op_get_link,
	.get_strings		= ringnet_get_strings,
	.get_sset_count		= ringnet_get_sset_count,
	.get_ethtool_stats	= ringnet_get_ethtool_stats,
};

/* ---- PCI probe/remove ------------------------------------------------------------- */

/* A free place for r in priv->regions[]; r is published there later. Under RTNL. */
static int ringnet_region_index(struct ringnet_priv *priv, struct ringnet_region *r)
{
	unsigned int i;

	ASSERT_RTNL();
	for (i = 0; i < RINGNET_MAX_REGIONS; i++) {
		if (!rtnl_dereference(priv->regions[i])) {
			r->index = i;
			return 0;
		}
	}
	return -ENOSPC;
}

static int ringnet_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct net_device *dev = ringnet_dev;
	struct ringnet_priv *priv = netdev_priv(dev);
	struct device *d = &pdev->dev;
	struct ringnet_region *r;
	resource_size_t start, len;
	int err;
	u32 s;

	err = pcim_enable_device(pdev);
	if (err)
		return dev_err_probe(d, err, "cannot enable the ivshmem device\n");

	r = devm_kzalloc(d, sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	r->priv = priv;
	r->pdev = pdev;

	err = pcim_iomap_regions(pdev, BIT(IVSHMEM_BAR_REGS), RINGNET_DRV_NAME);
	if (err)
		return dev_err_probe(d, err, "cannot map BAR0 (registers)\n");
	r->regs = pcim_iomap_table(pdev)[IVSHMEM_BAR_REGS];

	start = pci_resource_start(pdev, IVSHMEM_BAR_SHMEM);
	len = pci_resource_len(pdev, IVSHMEM_BAR_SHMEM);
	if (!start || len < KVMRING_RINGS_OFF)
		return dev_err_probe(d, -ENODEV, "no shared memory in BAR2\n");
	if (!devm_request_mem_region(d, start, len, RINGNET_DRV_NAME))
		return dev_err_probe(d, -EBUSY, "BAR2 is in use\n");
	r->shm = devm_memremap(d, start, len, MEMREMAP_WB);
	if (IS_ERR(r->shm))
		return dev_err_probe(d, PTR_ERR(r->shm), "cannot map the shared region\n");
	r->shm_size = len;
	r->hdr = r->shm;

	err = ringnet_region_geom(r->shm, len, &r->geom);
	if (err == -ENOENT)
		return dev_err_probe(d, err, "region is not formatted: run `ringctl host up` on the host first\n");
	if (err == -EPROTONOSUPPORT)
		return dev_err_probe(d, err, "region has ABI version %u, this driver speaks %u\n",
				     READ_ONCE(r->hdr->abi_version), KVMRING_ABI_VERSION);
	if (err)
		return dev_err_probe(d, err, "region header has an invalid geometry\n");
	r->instance = READ_ONCE(r->hdr->instance);

	/* ivshmem-doorbell has MSI-X (BAR1) and the IVPosition the server gave us. */
	if (pci_resource_len(pdev, 1)) {
		/* An MSI-X message is a write by the device: it needs bus mastering. */
		pci_set_master(pdev);
		err = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSIX);
		if (err < 0)
			return dev_err_probe(d, err, "cannot allocate the doorbell interrupt\n");
		r->irq = pci_irq_vector(pdev, 0);
		r->doorbell = true;
		r->ivposition = readl(r->regs + IVSHMEM_REG_IVPOSITION);
		if (r->ivposition > 0xffff) {
			err = dev_err_probe(d, -ENODEV, "no IVPosition (%d): is the doorbell server up?\n",
					    (int)r->ivposition);
			goto err_free_vectors;
		}
	}

	for (s = 0; s < KVMRING_PEERS_MAX; s++) {
		struct ringnet_peer *p = &r->peers[s];

		p->region = r;
		p->slot = s;
		spin_lock_init(&p->tx_lock);
		spin_lock_init(&p->rx_lock);
	}
	mutex_init(&r->self_lock);
	INIT_DELAYED_WORK(&r->peer_work, ringnet_peer_work);
	hrtimer_init(&r->poll_timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	r->poll_timer.function = ringnet_poll_timer_fn;

	err = ringnet_claim_slot(r);
	if (err)
		err = dev_err_probe(d, err, "all %u peer slots of the region are taken by live guests\n",
				    r->geom.max_peers);
	if (err)
		goto err_free_vectors;

	rtnl_lock();
	err = ringnet_region_index(priv, r);
	if (err) {
		dev_err(d, "ring0 already serves %d regions\n", RINGNET_MAX_REGIONS);
		goto err_unlock;
	}
	for (s = 0; s < r->geom.max_peers; s++)
		r->peers[s].txq = 1 + r->index * KVMRING_PEERS_MAX + s;
	netif_napi_add_weight(dev, &r->napi, ringnet_poll, RINGNET_NAPI_WEIGHT);
	err = xdp_rxq_info_reg(&r->xdp_rxq, dev, 0, r->napi.napi_id);
	if (err)
		goto err_del_napi;
	err = xdp_rxq_info_reg_mem_model(&r->xdp_rxq, MEM_TYPE_PAGE_SHARED, NULL);
	if (err)
		goto err_unreg_rxq;
	if (r->doorbell) {
		/* Until NAPI runs, a doorbell only masks itself (see ringnet_irq()). */
		err = request_irq(r->irq, ringnet_irq, 0, RINGNET_DRV_NAME, r);
		if (err)
			goto err_unreg_rxq;
	}
	mutex_lock(&r->self_lock);
	ringnet_join(r);
	mutex_unlock(&r->self_lock);
	/*
	 * Published and, if ring0 is up, polling in one RTNL section: ndo_open
	 * and ndo_stop find r with its NAPI in step, or do not find it at all.
	 */
	rcu_assign_pointer(priv->regions[r->index], r);
	if (netif_running(dev))
		ringnet_napi_start(r);
	rtnl_unlock();

	pci_set_drvdata(pdev, r);
	schedule_delayed_work(&r->peer_work, 0);
	netdev_info(dev, "joined region %s (%llu MiB, %u peers, %u KiB rings, %s) as slot %u\n",
		    pci_name(pdev), r->shm_size >> 20, r->geom.max_peers, r->geom.ring_size >> 10,
		    r->doorbell ? "doorbell" : "plain", r->self);
	return 0;

err_unreg_rxq:
	xdp_rxq_info_unreg(&r->xdp_rxq);
err_del_napi:
	netif_napi_del(&r->napi);
err_unlock:
	rtnl_unlock();
	/* Claimed, never UP: give the slot back unless someone took it meanwhile. */
	cmpxchg64(&r->me->state, KVMRING_PEER_WORD(r->self_gen, KVMRING_PEER_CLAIMED),
		  KVMRING_PEER_WORD(r->self_gen, KVMRING_PEER_FREE));
err_free_vectors:
	if (r->doorbell)
		pci_free_irq_vectors(pdev);
	return err;
}

/* Mirrors ringnet_probe(). */
static void ringnet_remove(struct pci_dev *pdev)
{
	struct ringnet_region *r = pci_get_drvdata(pdev);
	struct ringnet_priv *priv = r->priv;
	struct net_device *dev = priv->dev;
	unsigned int s;

	/* No rejoin, address or MAC publishing from here on. */
	rtnl_lock();
	mutex_lock(&r->self_lock);
	r->leaving = true;
	mutex_unlock(&r->self_lock);
	rtnl_unlock();
	/* Not under RTNL: the peer work takes it (a rejoin, an announcement). */
	cancel_delayed_work_sync(&r->peer_work);

	rtnl_lock();
	if (netif_running(dev))
		ringnet_napi_stop(r);
	for (s = 0; s < r->geom.max_peers; s++)
		ringnet_peer_forget(&r->peers[s]);
	RCU_INIT_POINTER(priv->regions[r->index], NULL);
	rtnl_unlock();
	/* No TX path or reader still holds r after this. */
	synchronize_net();
	/* Our rings are idle now: the slot may go to someone else. */
	ringnet_leave(r);

	if (r->doorbell) {
		free_irq(r->irq, r);
		pci_free_irq_vectors(pdev);
	}
	xdp_rxq_info_unreg(&r->xdp_rxq);
	rtnl_lock();
	netif_napi_del(&r->napi);
	ringnet_update_carrier(priv);
	rtnl_unlock();
	netdev_info(dev, "left region %s (slot %u)\n", pci_name(pdev), r->self);
}

static const struct pci_device_id ringnet_pci_ids[] = {
	{ PCI_DEVICE(0x1af4, 0x1110) },	/* ivshmem-plain and ivshmem-doorbell */
	{ }
};
MODULE_DEVICE_TABLE(pci, ringnet_pci_ids);

static struct pci_driver ringnet_pci_driver = {
	.name		= RINGNET_DRV_NAME,
	.id_table	= ringnet_pci_ids,
	.probe		= ringnet_probe,
	.remove		= ringnet_remove,
};

/* ---- module init/exit --------------------------------------------------------------- */

static void ringnet_setup(struct net_device *dev)
{
	ether_setup(dev);
	dev->netdev_ops = &ringnet_netdev_ops;
	dev->ethtool_ops = &ringnet_ethtool_ops;
	dev->needs_free_netdev = false;
	/* netpoll would send from hard IRQ into our spinlocks: no netconsole on ring0. */
	dev->priv_flags |= IFF_LIVE_ADDR_CHANGE | IFF_DISABLE_NETPOLL;
	dev->min_mtu = ETH_MIN_MTU;
	dev->max_mtu = RINGNET_MAX_MTU;
	/* A memory link: no checksums computed across it, frames up to 64 KiB. */
	dev->hw_features = NETIF_F_SG | NETIF_F_HW_CSUM | NETIF_F_HIGHDMA | NETIF_F_FRAGLIST |
			   NETIF_F_ALL_TSO | NETIF_F_RXCSUM;
	dev->features = dev->hw_features | NETIF_F_GRO;
	dev->vlan_features = dev->features;
	netif_set_tso_max_size(dev, KVMRING_FRAME_MAX - ETH_HLEN - VLAN_HLEN);
	dev->sysfs_groups[0] = &ringnet_attr_group;
}

static int __init ringnet_init(void)
{
	struct ringnet_priv *priv;
	struct net_device *dev;
	int err;

	dev = alloc_netdev_mqs(sizeof(*priv), RINGNET_IFNAME, NET_NAME_PREDICTABLE, ringnet_setup,
			       RINGNET_TXQS, 1);
	if (!dev)
		return -ENOMEM;
	priv = netdev_priv(dev);
	priv->dev = dev;
	INIT_WORK(&priv->addr_work, ringnet_addr_work);
	mutex_init(&priv->carrier_lock);
	eth_hw_addr_random(dev);
	dev->tstats = netdev_alloc_pcpu_stats(struct pcpu_sw_netstats);
	if (!dev->tstats) {
		err = -ENOMEM;
		goto err_free_netdev;
	}

	err = register_netdev(dev);
	if (err)
		goto err_free_stats;
	netif_carrier_off(dev);
	ringnet_dev = dev;

	register_inetaddr_notifier(&ringnet_inetaddr_nb);
	register_inet6addr_notifier(&ringnet_inet6addr_nb);

	err = pci_register_driver(&ringnet_pci_driver);
	if (err)
		goto err_unregister_netdev;
	return 0;

err_unregister_netdev:
	unregister_inet6addr_notifier(&ringnet_inet6addr_nb);
	unregister_inetaddr_notifier(&ringnet_inetaddr_nb);
	cancel_work_sync(&priv->addr_work);
	ringnet_dev = NULL;
	unregister_netdev(dev);
err_free_stats:
	free_percpu(dev->tstats);
err_free_netdev:
	free_netdev(dev);
	return err;
}

static void __exit ringnet_exit(void)
{
	struct net_device *dev = ringnet_dev;
	struct ringnet_priv *priv = netdev_priv(dev);
	struct bpf_prog *prog;

	pci_unregister_driver(&ringnet_pci_driver);
	unregister_inet6addr_notifier(&ringnet_inet6addr_nb);
	unregister_inetaddr_notifier(&ringnet_inetaddr_nb);
	cancel_work_sync(&priv->addr_work);
	ringnet_dev = NULL;
	unregister_netdev(dev);
	prog = rcu_dereference_protected(priv->xdp_prog, true);
	if (prog)
		bpf_prog_put(prog);
	free_percpu(dev->tstats);
	free_netdev(dev);
}

module_init(ringnet_init);
module_exit(ringnet_exit);

MODULE_DESCRIPTION("kvmring: shared-memory network device ring0 between co-resident VMs");
MODULE_AUTHOR("The kvmring authors");
MODULE_LICENSE("GPL");
MODULE_VERSION(RINGNET_DRV_VERSION);
