// SPDX-License-Identifier: GPL-2.0-only
/*
 * ringnet_datapath.c - frames in and out of ring0: TX (a queue per peer and
 * queue pair), ndo_xdp_xmit, RX in NAPI with native and generic XDP, the
 * polling timer and the doorbell interrupt. Frames are copied out of the
 * peer's region before anyone parses them. Peers are the roster's: a frame
 * goes to the slot whose roster MAC is its destination, and a frame from a
 * slot must carry that slot's roster MAC as its source.
 */
#include <linux/bpf.h>
#include <linux/bpf_trace.h>
#include <linux/filter.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/virtio_net.h>

#include "ringnet.h"
#include "ringnet_meta.h"

static unsigned int poll_us = 50;
module_param(poll_us, uint, 0444);
MODULE_PARM_DESC(poll_us,
		 "ivshmem-plain: ring0's first rx-usecs, the polling interval while traffic flows (default 50)");

static bool adaptive_rx;
module_param(adaptive_rx, bool, 0444);
MODULE_PARM_DESC(adaptive_rx,
		 "ivshmem-plain: ring0's first adaptive-rx, net_dim lengthening rx-usecs up to 16x (default off)");

static unsigned int poll_idle_us = 2000;
module_param(poll_idle_us, uint, 0644);
MODULE_PARM_DESC(poll_idle_us,
		 "ivshmem-plain: longest polling interval when idle, in microseconds (default 2000)");

/* ring0's ethtool -C settings from the module parameters. Before the device is registered. */
void ringnet_coalesce_init(struct ringnet_priv *priv)
{
	priv->poll_us = clamp(poll_us, 1U, (unsigned int)RINGNET_POLL_US_MAX);
	if (priv->poll_us != poll_us)
		pr_warn(RINGNET_DRV_NAME ": poll_us=%u is out of range, using %u: give 1 to %u\n",
			poll_us, priv->poll_us, RINGNET_POLL_US_MAX);
	priv->adaptive_rx = adaptive_rx;
}

/* ---- helpers ------------------------------------------------------------------ */

/*
 * The listed peer whose roster MAC is mac, alive or not (the roster gives
 * each slot its own). Under rcu_read_lock_bh(); the MACs are set before the
 * domain is published and never change while it is.
 */
static struct ringnet_peer *ringnet_peer_by_mac(struct ringnet_domain *d, const u8 *mac)
{
	struct ringnet_peer *p;
	unsigned int s;

	ringnet_for_each_peer(d, p, s)
		if (ether_addr_equal(p->m.mac, mac))
			return p;
	return NULL;
}

/*
 * The queue pair a frame to p takes: the one of the sending CPU (each CPU
 * its own producer lock and ring while there are channels for all), the
 * way XPS maps CPUs to queues. A socket keeps the queue it last used until
 * the stack says reordering is harmless (ooo_okay: nothing of the flow in
 * flight), so a flow whose sender moves to another CPU is not reordered.
 * Any queue below nqueues is served, whatever nchannels is meanwhile.
 */
static struct ringnet_queue *ringnet_tx_queue(struct ringnet_peer *p, struct sk_buff *skb)
{
	struct ringnet_domain *d = p->domain;
	u32 k = raw_smp_processor_id() % READ_ONCE(d->nchannels);
	struct sock *sk = skb ? skb->sk : NULL;

	/* Connected sockets only, as netdev_pick_tx(): one to many peers or CPUs keeps none. */
	if (sk && sk_fullsock(sk) && rcu_access_pointer(sk->sk_dst_cache)) {
		int old = sk_tx_queue_get(sk);

		if (old >= ringnet_txq(p->slot, 0) && old < ringnet_txq(p->slot, p->nqueues) &&
		    !skb->ooo_okay)
			k = old - ringnet_txq(p->slot, 0);
		else
			sk_tx_queue_set(sk, ringnet_txq(p->slot, k));
	}
	return &p->q[k];
}

/*
 * Rings the peer's doorbell through our doorbell device: the id is the
 * roster's, which the peer work may renumber (READ_ONCE: the old or the new).
 */
static void ringnet_kick(struct ringnet_queue *q)
{
	struct ringnet_peer *p = q->peer;
	struct ringnet_domain *d = p->domain;
	u32 id = READ_ONCE(p->m.doorbell_id);

	if (!d->doorbell || id > 0xffff)
		return;
	/*
	 * The peer's vector k for queue k: all it does is schedule the NAPI
	 * that serves the queue. Every guest of a host has the same vectors.
	 */
	writel(id << 16 | q->k, d->bell->regs + IVSHMEM_REG_DOORBELL);
	ringnet_stat_inc(&q->tx_stats, kicks);
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
 * Copies one frame, data (an XDP frame's) or else skb, into the ring of
 * queue q and commits it; the consumer sees it at the next
 * ringnet_tx_flush(). Caller holds q->tx_lock. (Tested the other way round,
 * gcc sees a memcpy() from NULL where skb is known only by its use.)
 * Returns 0 or a negative errno; the frame is the caller's either way.
 */
static int ringnet_tx_frame(struct ringnet_queue *q, const struct sk_buff *skb,
			    const void *data, u32 len, const struct ringnet_meta *meta)
{
	void *dst;
	int err;

	err = ringnet_tx_reserve(&q->tx, len, &dst);
	if (err) {
		ringnet_stat_inc(&q->tx_stats, dropped);
		return err;
	}
	if (data)
		memcpy(dst, data, len);
	else
		skb_copy_bits(skb, 0, dst, len);
	ringnet_tx_commit(&q->tx, meta);
	u64_stats_update_begin(&q->tx_stats.syncp);
	u64_stats_inc(&q->tx_stats.packets);
	u64_stats_add(&q->tx_stats.bytes, len);
	u64_stats_update_end(&q->tx_stats.syncp);
	return 0;
}

/*
 * Publishes what queue q has committed, one store for the whole batch, and
 * rings the peer's doorbell if it asked for one. Caller holds q->tx_lock.
 */
static void ringnet_tx_flush(struct ringnet_queue *q)
{
	ringnet_tx_publish(&q->tx);
	if (ringnet_tx_kick_needed(&q->tx))
		ringnet_kick(q);
}

/*
 * The queue pair that owns TX queue txq (ringnet_txq()), or NULL for queue
 * 0 and for a slot the roster does not list. Under rcu_read_lock_bh().
 */
static struct ringnet_queue *ringnet_txq_owner(struct ringnet_domain *d, u16 txq)
{
	u32 slot, k;

	if (!txq)
		return NULL;
	slot = (txq - 1) / RINGNET_QUEUES_MAX;
	k = (txq - 1) % RINGNET_QUEUES_MAX;
	if (slot >= d->max_peers || !d->peers[slot].listed || k >= d->peers[slot].nqueues)
		return NULL;
	return &d->peers[slot].q[k];
}

/*
 * Sends skb through queue q and, for the queue's own TX queue (txq not
 * NULL), stops it while the ring cannot take a maximal frame. Everything
 * that touches the producer end, the room check included, runs under
 * q->tx_lock: the check may look at the consumer's word and follow a reset,
 * which rewrites the producer's index and must not cross a locked producer
 * (a broadcast, ndo_xdp_xmit, XDP_TX) between its commit and its publish.
 *
 * more (netdev_xmit_more() on the queue's own TX queue): the stack sends
 * the next frame of its run on this TX queue at once, so the publish and
 * the doorbell wait for the run's last frame, or for a stop. Frames
 * committed and not yet published are lost if a reset comes first, as
 * frames in a ring are; another producer's flush publishes them early.
 */
static int ringnet_tx_skb(struct ringnet_queue *q, struct sk_buff *skb,
			  const struct ringnet_meta *meta, struct netdev_queue *txq, bool more)
{
	bool stopped = false;
	int err;

	spin_lock(&q->tx_lock);
	if (!READ_ONCE(q->peer->m.alive)) {
		/* Counted under the lock: tx_stats has one writer at a time. */
		ringnet_stat_inc(&q->tx_stats, dropped);
		ringnet_tx_flush(q);
		spin_unlock(&q->tx_lock);
		return -ENOTCONN;
	}
	err = ringnet_tx_frame(q, skb, NULL, skb->len, meta);
	if (txq && !ringnet_tx_has_room(&q->tx, KVMRING_FRAME_MAX)) {
		netif_tx_stop_queue(txq);
		/*
		 * The consumer may have made room since we looked: look once
		 * more after the stop is visible, so that a wake the NAPI poll
		 * decided on before our stop is not lost.
		 */
		smp_mb__after_atomic();
		if (ringnet_tx_has_room(&q->tx, KVMRING_FRAME_MAX))
			netif_tx_wake_queue(txq);
		else
			stopped = true;
	}
	/* A stopped queue ends the run early: the consumer must see it all. */
	if (!txq || !more || stopped)
		ringnet_tx_flush(q);
	spin_unlock(&q->tx_lock);
	/*
	 * NAPI wakes the queue when the peer has made room: make sure it looks.
	 * ndo_start_xmit runs with BH off, so the poll runs when it ends.
	 */
	if (stopped)
		napi_schedule(&ringnet_channel_of(q->peer->domain, q->k)->napi);
	return err;
}

u16 ringnet_select_queue(struct net_device *dev, struct sk_buff *skb,
			 struct net_device *sb_dev)
{
	struct ringnet_priv *priv = netdev_priv(dev);
	struct ringnet_domain *d;
	struct ringnet_peer *p;
	u16 txq = 0;

	if (skb_headlen(skb) < ETH_HLEN || is_multicast_ether_addr(skb->data))
		return 0;
	rcu_read_lock_bh();
	d = ringnet_domain_get(priv);
	p = d ? ringnet_peer_by_mac(d, skb->data) : NULL;
	if (p)
		txq = ringnet_tx_queue(p, skb)->txq;
	rcu_read_unlock_bh();
	return txq;
}

netdev_tx_t ringnet_start_xmit(struct sk_buff *skb, struct net_device *dev)
{
	struct ringnet_priv *priv = netdev_priv(dev);
	u16 mapping = skb_get_queue_mapping(skb);
	bool more = netdev_xmit_more(), to_owner = false;
	struct ringnet_queue *q, *owner;
	struct virtio_net_hdr vhdr;
	struct ringnet_meta meta;
	struct ringnet_domain *d;
	struct ringnet_peer *p;
	unsigned int s;

	rcu_read_lock_bh();
	d = ringnet_domain_get(priv);
	if (skb->len < ETH_HLEN || skb->len > KVMRING_FRAME_MAX ||
	    virtio_net_hdr_from_skb(skb, &vhdr, true, false, 0)) {
		dev_core_stats_tx_dropped_inc(dev);
		goto end_run;
	}
	ringnet_meta_from_hdr(&meta, &vhdr);
	if (!d) {
		atomic64_inc(&priv->tx_no_peer);
	} else if (is_multicast_ether_addr(skb->data)) {
		/* Broadcast and multicast (ARP, IPv6 ND) reach every live peer. */
		ringnet_for_each_peer(d, p, s)
			if (READ_ONCE(p->m.alive))
				ringnet_tx_skb(ringnet_tx_queue(p, NULL), skb, &meta, NULL, false);
	} else {
		p = ringnet_peer_by_mac(d, skb->data);
		if (!p) {
			atomic64_inc(&priv->tx_no_peer);
		} else {
			/*
			 * The queue pair of the TX queue the stack picked
			 * (ringnet_select_queue()), wherever its qdisc runs us.
			 */
			owner = ringnet_txq_owner(d, mapping);
			q = owner && owner->peer == p ? owner : ringnet_tx_queue(p, skb);
			to_owner = q == owner;
			ringnet_tx_skb(q, skb, &meta, to_owner ?
				       skb_get_tx_queue(dev, skb) : NULL, more);
		}
	}
end_run:
	/*
	 * The run on this TX queue ends with a frame that went elsewhere (or
	 * nowhere): publish what its own queue pair held back for it.
	 */
	if (d && !more && !to_owner) {
		owner = ringnet_txq_owner(d, mapping);
		if (owner) {
			spin_lock(&owner->tx_lock);
			ringnet_tx_flush(owner);
			spin_unlock(&owner->tx_lock);
		}
	}
	rcu_read_unlock_bh();
	dev_kfree_skb_any(skb);
	return NETDEV_TX_OK;
}

/*
 * Sends what it can of a bulk and returns how many frames it sent; the
 * caller frees frames[sent..n-1]. A frame for an unknown or full peer does
 * not hold back the frames after it: failed frames are moved to the tail.
 * Frames to one queue pair in a row share one lock hold and one publish
 * and doorbell, which come at the end of the bulk (XDP_XMIT_FLUSH or not:
 * nothing we hold outlives the call) or when the next frame goes elsewhere.
 */
int ringnet_xdp_xmit(struct net_device *dev, int n, struct xdp_frame **frames, u32 flags)
{
	struct ringnet_priv *priv = netdev_priv(dev);
	struct ringnet_queue *held = NULL;
	struct ringnet_meta meta = {};
	struct ringnet_domain *d;
	int i, failed = 0;

	if (unlikely(flags & ~XDP_XMIT_FLAGS_MASK))
		return -EINVAL;

	rcu_read_lock_bh();
	d = ringnet_domain_get(priv);
	for (i = 0; i < n; i++) {
		struct xdp_frame *f = frames[i];
		struct ringnet_peer *p = NULL;
		struct ringnet_queue *q = NULL;
		int err = -ENOTCONN;

		/* One linear frame per record: a multi-buffer frame is refused whole. */
		if (d && f->len >= ETH_HLEN && !xdp_frame_has_frags(f)) {
			p = ringnet_peer_by_mac(d, f->data);
			if (p && READ_ONCE(p->m.alive))
				q = ringnet_tx_queue(p, NULL);
		}
		if (q != held && held) {
			ringnet_tx_flush(held);
			spin_unlock(&held->tx_lock);
			held = NULL;
		}
		if (q) {
			if (!held) {
				spin_lock(&q->tx_lock);
				held = q;
			}
			err = ringnet_tx_frame(q, NULL, f->data, f->len, &meta);
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
	if (held) {
		ringnet_tx_flush(held);
		spin_unlock(&held->tx_lock);
	}
	rcu_read_unlock_bh();
	/* The caller frees the frames past what we report as sent. */
	if (failed)
		memmove(frames + n - failed, frames, failed * sizeof(*frames));
	return n - failed;
}

/* ---- receive ------------------------------------------------------------------ */

/*
 * Drops a received frame: counts why (a counter of c->napi_stats) and the
 * queue's rx dropped, once each. NAPI only.
 */
static void ringnet_rx_drop(struct ringnet_channel *c, struct ringnet_queue *q, u64_stats_t *why)
{
	ringnet_stat_add(&c->napi_stats.syncp, why, 1);
	ringnet_stat_inc(&q->rx_stats, dropped);
}

/*
 * Drops a record the peer got wrong (ringnet_rx_drop()) and leaves the
 * queue's ring alone for RINGNET_RX_QUIET_MS: what a neighbour gets wrong
 * it pays for in latency, and we do not pay for it in CPU. NAPI only.
 */
static void ringnet_rx_refuse(struct ringnet_channel *c, struct ringnet_queue *q, u64_stats_t *why)
{
	ringnet_rx_drop(c, q, why);
	q->rx_quiet_until = jiffies + max(msecs_to_jiffies(RINGNET_RX_QUIET_MS), 1UL);
}

static bool ringnet_rx_quiet(const struct ringnet_queue *q)
{
	return time_before(jiffies, q->rx_quiet_until);
}

/*
 * Checks a frame we copied out of the ring against its sender: the source
 * MAC must be the sending slot's roster MAC (nobody speaks for another peer
 * or for us, whatever it publishes), and its GSO/checksum metadata must
 * describe the frame's own headers (ringnet_meta_check()). headlen bytes of
 * data are linear. Counts and returns false for a frame to drop.
 */
static bool ringnet_rx_valid(struct ringnet_channel *c, struct ringnet_queue *q, const u8 *data,
			     u32 headlen, u32 len, const struct ringnet_meta *meta)
{
	if (!ether_addr_equal(((const struct ethhdr *)data)->h_source, q->peer->m.mac)) {
		ringnet_rx_refuse(c, q, &c->napi_stats.rx_bad_src);
		return false;
	}
	if (ringnet_meta_check(data, headlen, len, meta)) {
		ringnet_rx_refuse(c, q, &c->napi_stats.rx_bad_meta);
		return false;
	}
	return true;
}

/*
 * Copies len bytes of the peer's region at data into page fragments of skb,
 * pages of c's pool. The skb is marked for recycling first, so its pages go
 * back to the pool however it ends (a failure here included).
 */
static bool ringnet_copy_frags(struct ringnet_channel *c, struct sk_buff *skb, const u8 *data, u32 len)
{
	u32 off, chunk;

	/* The largest frame the ring carries fits: its head, then whole pages. */
	BUILD_BUG_ON(DIV_ROUND_UP(KVMRING_FRAME_MAX - RINGNET_RX_COPYBREAK, PAGE_SIZE) > MAX_SKB_FRAGS);
	skb_mark_for_recycle(skb);
	for (off = 0; off < len; off += chunk) {
		struct page *page;

		if (skb_shinfo(skb)->nr_frags >= MAX_SKB_FRAGS)
			return false;
		page = page_pool_dev_alloc_pages(c->pool);
		if (!page)
			return false;
		chunk = min_t(u32, len - off, PAGE_SIZE);
		memcpy(page_address(page), data + off, chunk);
		skb_add_rx_frag(skb, skb_shinfo(skb)->nr_frags, page, 0, chunk, PAGE_SIZE);
	}
	return true;
}

/*
 * Copies frame f of queue q out of the peer's region into a new skb: a
 * short head, the rest in pages. The head is checked (ringnet_rx_valid())
 * before the rest is copied, so a record a neighbour got wrong costs us its
 * headers, not up to 64 KiB of copying and page allocations. Returns NULL
 * for a frame dropped and counted.
 */
static struct sk_buff *ringnet_rx_skb(struct ringnet_channel *c, struct ringnet_queue *q,
				      const struct ringnet_frame *f)
{
	u32 len = f->len;
	u32 head = min_t(u32, len, len <= PAGE_SIZE / 2 ? len : RINGNET_RX_COPYBREAK);
	struct sk_buff *skb;

	skb = napi_alloc_skb(&c->napi, head);
	if (!skb) {
		ringnet_rx_drop(c, q, &c->napi_stats.rx_alloc_fail);
		return NULL;
	}
	skb_put_data(skb, f->data, head);
	if (!ringnet_rx_valid(c, q, skb->data, head, len, &f->meta)) {
		kfree_skb(skb);
		return NULL;
	}
	if (!ringnet_copy_frags(c, skb, f->data + head, len - head)) {
		ringnet_rx_drop(c, q, &c->napi_stats.rx_alloc_fail);
		kfree_skb(skb);
		return NULL;
	}
	return skb;
}

/* Metadata, protocol and GRO: the common end of every received frame. */
static void ringnet_deliver(struct ringnet_channel *c, struct ringnet_queue *q, struct sk_buff *skb,
			    const struct ringnet_meta *meta, struct bpf_prog *generic_prog)
{
	struct net_device *dev = c->d->priv->dev;
	struct virtio_net_hdr vhdr;
	u32 len = skb->len;

	ringnet_hdr_from_meta(&vhdr, meta);
	if (virtio_net_hdr_to_skb(skb, &vhdr, true)) {
		ringnet_rx_refuse(c, q, &c->napi_stats.rx_bad_meta);
		kfree_skb(skb);
		return;
	}
	skb->protocol = eth_type_trans(skb, dev);
	skb_record_rx_queue(skb, c->index);

	if (generic_prog) {
		/* A GSO super-frame or a frame too long for one page: XDP on the skb. */
		if (do_xdp_generic(generic_prog, skb) != XDP_PASS)
			return;
	}
	u64_stats_update_begin(&q->rx_stats.syncp);
	u64_stats_inc(&q->rx_stats.packets);
	u64_stats_add(&q->rx_stats.bytes, len);
	u64_stats_update_end(&q->rx_stats.syncp);
	napi_gro_receive(&c->napi, skb);
}

/* The native XDP path for a frame that fits a page. Returns true if XDP_REDIRECT. */
static bool ringnet_rx_xdp(struct ringnet_channel *c, struct ringnet_queue *q, struct bpf_prog *prog,
			   const struct ringnet_frame *f)
{
	struct net_device *dev = c->d->priv->dev;
	struct ringnet_meta meta = f->meta;
	struct xdp_buff xdp;
	struct sk_buff *skb;
	struct page *page;
	u8 *start;
	u32 act;

	page = page_pool_dev_alloc_pages(c->pool);
	if (!page) {
		ringnet_rx_drop(c, q, &c->napi_stats.rx_alloc_fail);
		return false;
	}
	start = page_address(page);
	memcpy(start + RINGNET_XDP_HEADROOM, f->data, f->len);
	if (!ringnet_rx_valid(c, q, start + RINGNET_XDP_HEADROOM, f->len, f->len, &meta)) {
		page_pool_recycle_direct(c->pool, page);
		return false;
	}
	/* XDP sees, and may change, a complete frame: fill in a partial checksum. */
	if (!ringnet_csum_finish(start + RINGNET_XDP_HEADROOM, f->len, &meta)) {
		ringnet_rx_refuse(c, q, &c->napi_stats.rx_bad_meta);
		page_pool_recycle_direct(c->pool, page);
		return false;
	}

	xdp_init_buff(&xdp, PAGE_SIZE, &c->xdp_rxq);
	xdp_prepare_buff(&xdp, start, RINGNET_XDP_HEADROOM, f->len, true);
	act = bpf_prog_run_xdp(prog, &xdp);

	switch (act) {
	case XDP_PASS:
		ringnet_stat_inc(&c->napi_stats, xdp_pass);
		skb = build_skb(start, PAGE_SIZE);
		if (!skb) {
			ringnet_rx_drop(c, q, &c->napi_stats.rx_alloc_fail);
			page_pool_recycle_direct(c->pool, page);
			return false;
		}
		skb_mark_for_recycle(skb);
		skb_reserve(skb, xdp.data - xdp.data_hard_start);
		skb_put(skb, xdp.data_end - xdp.data);
		if (xdp.data_meta != xdp.data)
			skb_metadata_set(skb, xdp.data - xdp.data_meta);
		ringnet_deliver(c, q, skb, &meta, NULL);
		return false;
	case XDP_TX:
		/* Back out of the interface it came in on: to the peer it came from. */
		ringnet_stat_inc(&c->napi_stats, xdp_tx);
		if (READ_ONCE(q->peer->m.alive)) {
			struct ringnet_meta none = {};

			spin_lock(&q->tx_lock);
			if (!ringnet_tx_frame(q, NULL, xdp.data, xdp.data_end - xdp.data, &none))
				q->xdp_tx_pending = true;
			spin_unlock(&q->tx_lock);
		}
		page_pool_recycle_direct(c->pool, page);
		return false;
	case XDP_REDIRECT:
		if (xdp_do_redirect(dev, &xdp, prog)) {
			ringnet_stat_inc(&c->napi_stats, xdp_aborted);
			page_pool_recycle_direct(c->pool, page);
			return false;
		}
		ringnet_stat_inc(&c->napi_stats, xdp_redirect);
		return true;
	default:
		bpf_warn_invalid_xdp_action(dev, prog, act);
		fallthrough;
	case XDP_ABORTED:
		trace_xdp_exception(dev, prog, act);
		ringnet_stat_inc(&c->napi_stats, xdp_aborted);
		page_pool_recycle_direct(c->pool, page);
		return false;
	case XDP_DROP:
		ringnet_stat_inc(&c->napi_stats, xdp_drop);
		page_pool_recycle_direct(c->pool, page);
		return false;
	}
}

static void ringnet_rx_frame(struct ringnet_channel *c, struct ringnet_queue *q,
			     struct bpf_prog *prog, const struct ringnet_frame *f, bool *redirected)
{
	struct sk_buff *skb;

	/* A slot that is not up (left, or not seen yet): nothing it says is taken. */
	if (!smp_load_acquire(&q->peer->m.present)) {
		ringnet_rx_refuse(c, q, &c->napi_stats.rx_no_peer);
		return;
	}
	if (prog && f->len <= RINGNET_XDP_MAX_FRAME && f->meta.gso_type == KVMRING_GSO_NONE) {
		*redirected |= ringnet_rx_xdp(c, q, prog, f);
		return;
	}
	skb = ringnet_rx_skb(c, q, f);
	if (!skb)
		return;
	ringnet_deliver(c, q, skb, &f->meta, prog);
}

/* Drains the ring of queue q, up to budget frames. Called from c's NAPI, which serves q. */
static int ringnet_rx_queue(struct ringnet_channel *c, struct ringnet_queue *q,
			    struct bpf_prog *prog, int budget, bool *redirected)
{
	struct ringnet_frame f;
	int done = 0;

	spin_lock(&q->rx_lock);
	if (q->rx_ready && !ringnet_rx_quiet(q)) {
		while (done < budget && !ringnet_rx_quiet(q) && ringnet_rx_peek(&q->rx, &f) == 1) {
			c->dim_bytes += f.len;
			ringnet_rx_frame(c, q, prog, &f, redirected);
			ringnet_rx_consume(&q->rx);
			done++;
		}
		ringnet_rx_publish(&q->rx);
	}
	spin_unlock(&q->rx_lock);
	/* XDP_TX in bulk: what this poll sent back to the peer, in one publish. */
	if (q->xdp_tx_pending) {
		q->xdp_tx_pending = false;
		spin_lock(&q->tx_lock);
		ringnet_tx_flush(q);
		spin_unlock(&q->tx_lock);
	}
	return done;
}

/* Each queue q of peer p that channel c serves, k its index. */
#define ringnet_for_each_served(c, p, k, q) \
	for ((k) = (c)->index; (k) < (p)->nqueues && ((q) = &(p)->q[k]); \
	     (k) += READ_ONCE((c)->d->nchannels))

/*
 * Wakes the TX queue of every queue pair that c serves whose ring has room
 * again. Returns how many it woke; *stopped says whether one is still
 * stopped.
 */
static unsigned int ringnet_wake_queues(struct ringnet_channel *c, bool *stopped)
{
	struct ringnet_domain *d = c->d;
	struct net_device *dev = d->priv->dev;
	struct ringnet_queue *q;
	struct ringnet_peer *p;
	unsigned int woken = 0, k;
	u32 s;

	*stopped = false;
	ringnet_for_each_peer(d, p, s) {
		ringnet_for_each_served(c, p, k, q) {
			struct netdev_queue *txq = netdev_get_tx_queue(dev, q->txq);
			bool room;

			if (!netif_tx_queue_stopped(txq))
				continue;
			/* The room check may follow a reset: under the producer's lock. */
			spin_lock(&q->tx_lock);
			room = ringnet_tx_has_room(&q->tx, KVMRING_FRAME_MAX);
			spin_unlock(&q->tx_lock);
			/* A dead peer frees nothing: wake, so its frames are dropped. */
			if (!READ_ONCE(p->m.alive) || room) {
				netif_tx_wake_queue(txq);
				woken++;
			} else {
				*stopped = true;
			}
		}
	}
	return woken;
}

/* net_dim's profiles: lib/dim/net_dim.c's NET_DIM_PARAMS_NUM_PROFILES, which no header has */
#define RINGNET_DIM_PROFILES	5

/*
 * Channel c's polling interval while frames flow, in microseconds: rx-usecs,
 * times 2^profile with adaptive-rx in plain mode. From c's NAPI, or from a
 * reader that can live with a stale profile (debugfs).
 */
u32 ringnet_poll_interval(const struct ringnet_channel *c)
{
	const struct ringnet_priv *priv = c->d->priv;
	u32 us = READ_ONCE(priv->poll_us);

	if (READ_ONCE(c->dim_on))
		us <<= min_t(u8, READ_ONCE(c->dim.profile_ix), RINGNET_DIM_PROFILES - 1);
	return us;
}

/*
 * The interval to arm c's timer with for the next poll. While frames flow
 * (busy: this poll took or freed something) ringnet_poll_interval(), which
 * adaptive-rx lengthens to gather batches. After an empty poll the flow has
 * paused, and its next frame is likely a request waiting for an answer:
 * rx-usecs again, doubled for each empty poll in a row. Never past
 * poll_idle_us (or rx-usecs if that is longer). From c's NAPI, before it
 * completes.
 */
static u64 ringnet_poll_next_us(struct ringnet_channel *c, bool busy)
{
	u32 base = READ_ONCE(c->d->priv->poll_us);
	u64 us;

	c->idle_polls = busy ? 0 : min(c->idle_polls + 1, 16U);
	if (busy) {
		us = ringnet_poll_interval(c);
		c->dim_armed_max_us = max_t(u32, c->dim_armed_max_us, us);
	} else {
		us = (u64)base << min(c->idle_polls, 10U);
	}
	return min_t(u64, us, max(poll_idle_us, base));
}

/* net_dim's state as at its start: profile 0 (rx-usecs), no earlier sample to compare with. From c's NAPI. */
static void ringnet_dim_reset(struct ringnet_channel *c)
{
	struct dim *dim = &c->dim;

	dim->state = DIM_START_MEASURE;
	dim->prev_stats = (struct dim_stats){};
	dim->profile_ix = 0;
	dim->tune_state = DIM_PARKING_ON_TOP;
	dim->steps_right = 0;
	dim->steps_left = 0;
	dim->tired = 0;
	c->dim_armed_max_us = 0;
}

/*
 * Whether net_dim moderates c's polls now: adaptive-rx in plain mode. Turned
 * on (ethtool -C, or a first poll after ringnet_napi_start()), net_dim
 * starts afresh rather than comparing with a sample from before. From c's
 * NAPI.
 */
static bool ringnet_dim_active(struct ringnet_channel *c)
{
	bool on = !c->d->doorbell && READ_ONCE(c->d->priv->adaptive_rx);

	if (on && !c->dim_on)
		ringnet_dim_reset(c);
	WRITE_ONCE(c->dim_on, on);
	return on;
}

/*
 * adaptive-rx: hands net_dim what c's polls received since the last sample,
 * one event per completed poll. net_dim compares rates over runs of events
 * and steps the profile towards fewer polls for the same bytes and packets,
 * back when they fall. From c's NAPI, before it completes: once completed,
 * another CPU may poll c.
 */
static void ringnet_dim_sample(struct ringnet_channel *c)
{
	struct dim_sample s = {};
	u8 ix = c->dim.profile_ix;

	dim_update_sample(++c->dim_events, c->dim_packets, c->dim_bytes, &s);
	net_dim(&c->dim, s);
	if (c->dim.profile_ix != ix)
		WRITE_ONCE(c->dim_changes, c->dim_changes + 1);
}

/* net_dim chose a profile, which the next arm reads: measure again. System workqueue. */
void ringnet_dim_work(struct work_struct *w)
{
	struct dim *dim = container_of(w, struct dim, work);

	WRITE_ONCE(dim->state, DIM_START_MEASURE);
}

/*
 * Unmasks the doorbell vectors whose queues c serves (vector k kicks queue
 * k) that their handler masked for NAPI. With c's NAPI completed.
 */
static void ringnet_unmask_vectors(struct ringnet_channel *c)
{
	struct ringnet_domain *d = c->d;
	unsigned int v;

	for (v = c->index; v < d->nqueues; v += READ_ONCE(d->nchannels))
		if (test_and_clear_bit(0, &d->ch[v].irq_masked))
			enable_irq(d->ch[v].irq);
}

int ringnet_poll(struct napi_struct *napi, int budget)
{
	struct ringnet_channel *c = container_of(napi, struct ringnet_channel, napi);
	struct ringnet_domain *d = c->d;
	bool redirected = false, stopped, more = false, quiet = false, arm;
	u32 i, s, n = d->max_peers;
	u64 next_us = 0;
	struct ringnet_queue *q;
	struct ringnet_peer *p;
	struct bpf_prog *prog;
	unsigned int woken, k;
	int done = 0;

	ringnet_stat_inc(&c->napi_stats, polls);
	rcu_read_lock();
	prog = rcu_dereference(d->priv->xdp_prog);
	for (i = 0; i < n && done < budget; i++) {
		p = &d->peers[(c->rr + i) % n];
		if (!p->listed)
			continue;
		ringnet_for_each_served(c, p, k, q) {
			if (done >= budget)
				break;
			done += ringnet_rx_queue(c, q, prog, budget - done, &redirected);
		}
	}
	c->rr = (c->rr + 1) % n;
	c->dim_packets += done;
	if (redirected)
		xdp_do_flush();
	rcu_read_unlock();

	woken = ringnet_wake_queues(c, &stopped);
	if (done >= budget)
		return budget;

	if (d->doorbell) {
		/*
		 * Ask every live producer for a kick, then look again (no lost
		 * wake-up). What a quiet peer left waits for the timer below.
		 */
		ringnet_for_each_peer(d, p, s) {
			ringnet_for_each_served(c, p, k, q) {
				spin_lock(&q->rx_lock);
				if (q->rx_ready && ringnet_rx_arm(&q->rx)) {
					if (ringnet_rx_quiet(q))
						quiet = true;
					else
						more = true;
				}
				spin_unlock(&q->rx_lock);
			}
		}
	}
	/*
	 * A stopped queue waits for a peer to consume, and no kick tells us
	 * when: poll for it, but a peer that takes nothing (no queue woken, no
	 * frame) lets the interval back off like idleness. So does a quiet
	 * queue's ring (ringnet_rx_refuse()). What the next poll needs (net_dim's
	 * sample, the interval) is decided while we own the NAPI.
	 */
	if (ringnet_dim_active(c))
		ringnet_dim_sample(c);
	arm = !more && (!d->doorbell || stopped || quiet);
	if (arm)
		next_us = ringnet_poll_next_us(c, done > 0 || woken > 0);
	if (napi_complete_done(napi, done)) {
		/* The doorbell may interrupt us again (see ringnet_irq()). */
		if (d->doorbell)
			ringnet_unmask_vectors(c);
		if (more)
			napi_schedule(napi);
		else if (arm)
			hrtimer_start(&c->poll_timer, ns_to_ktime(next_us * NSEC_PER_USEC),
				      HRTIMER_MODE_REL);
	}
	return done;
}

enum hrtimer_restart ringnet_poll_timer_fn(struct hrtimer *t)
{
	struct ringnet_channel *c = container_of(t, struct ringnet_channel, poll_timer);

	napi_schedule(&c->napi);
	return HRTIMER_NORESTART;
}

/*
 * Doorbell vector v (data: &d->ch[v], which holds the vector's IRQ, mask
 * bit and counter) only schedules the NAPI that serves queue v, and stays
 * masked until that NAPI completes: a neighbour ringing as fast as it can
 * costs us at most one interrupt per poll, not a livelock.
 */
irqreturn_t ringnet_irq(int irq, void *data)
{
	struct ringnet_channel *v = data;

	ringnet_stat_inc(&v->irq_stats, irqs);
	/*
	 * We run only while the line is enabled, so each run owes exactly one
	 * enable: masked first, then the bit that tells NAPI to unmask.
	 */
	disable_irq_nosync(irq);
	set_bit(0, &v->irq_masked);
	/* The bit before nchannels: a channel that polls after a change sees it. */
	smp_mb__after_atomic();
	napi_schedule(&ringnet_channel_of(v->d, v->index)->napi);
	return IRQ_HANDLED;
}
