/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ringnet.h - what the files of ringnet.ko share: constants, the state of
 * ring0's domain (the roster, the regions it lists, the doorbell device and
 * the peers), and the calls between the files.
 *
 *   ringnet_main.c      module init/exit, PCI probe/remove of every ivshmem
 *                       device (its BARs), net_device_ops
 *   ringnet_domain.c    the domain: reading the roster at its PCI place,
 *                       finding and checking the regions and the doorbell
 *                       device it lists, assembling ring0's peers and rings,
 *                       tearing it all down when any of its devices goes
 *   ringnet_peer.c      our entry (join, heartbeat, leave) in the regions we
 *                       own, the scan of the peers' entries, claims checked
 *                       against the roster, address publishing
 *   ringnet_member.c    what a peer's entry says and what we make of it:
 *                       membership's decisions (also built into the harness)
 *   ringnet_roster.c    reading and checking the roster (likewise)
 *   ringnet_datapath.c  TX, RX, NAPI, XDP, ndo_xdp_xmit, the doorbell IRQ
 *   ringnet_ethtool.c   ethtool ops and the counters behind ethtool -S
 *   ringnet_netlink.c   the generic netlink family "ringnet" (peers, regions,
 *                       membership events) and the debugfs view of the same
 *   ringnet_ring.c      the ring core (also built into the userspace harness)
 *   ringnet_meta.c      GSO/checksum metadata checks (likewise)
 */
#ifndef RINGNET_H
#define RINGNET_H

#include <linux/bpf.h>
#include <linux/dim.h>
#include <linux/etherdevice.h>
#include <linux/hrtimer.h>
#include <linux/if_vlan.h>
#include <linux/interrupt.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/pci.h>
#include <linux/u64_stats_sync.h>
#include <linux/workqueue.h>
#include <net/page_pool.h>
#include <net/xdp.h>

#include "ringnet_member.h"
#include "ringnet_ring.h"

#define RINGNET_DRV_NAME	"ringnet"
#define RINGNET_DRV_VERSION	"0.1.0"
/* QEMU's ivshmem, plain and doorbell alike, under PCI_VENDOR_ID_REDHAT_QUMRANET */
#define RINGNET_PCI_DEVICE_IVSHMEM	0x1110

/*
 * Queue pairs per peer: as many as the roster offers (its queues), up to
 * this, and in doorbell mode no more than our doorbell device has vectors
 * (a peer kicks queue k's vector k). Queue k of every peer is served by
 * channel k % nchannels: a NAPI, a poll timer and a doorbell vector.
 */
#define RINGNET_QUEUES_MAX	KVMRING_QUEUES_MAX
/* TX queue 0 carries broadcast and multicast; ringnet_txq() one queue of a peer. */
#define RINGNET_TXQS		(1 + KVMRING_PEERS_MAX * RINGNET_QUEUES_MAX)
/* ethtool -C ring0 rx-usecs: the plain-mode poll interval's bounds, in microseconds */
#define RINGNET_POLL_US_MAX	10000
#define RINGNET_NAPI_WEIGHT	64
#define RINGNET_MAX_MTU		(KVMRING_FRAME_MAX - ETH_HLEN - VLAN_HLEN)
/* Frames up to this length take the native XDP path (one page each). */
#define RINGNET_XDP_HEADROOM	XDP_PACKET_HEADROOM
#define RINGNET_XDP_MAX_FRAME	(PAGE_SIZE - RINGNET_XDP_HEADROOM - \
				 SKB_DATA_ALIGN(sizeof(struct skb_shared_info)))
#define RINGNET_XDP_MAX_MTU	(RINGNET_XDP_MAX_FRAME - ETH_HLEN - VLAN_HLEN)
/* Copied into the skb head; the rest of a large frame goes into page frags. */
#define RINGNET_RX_COPYBREAK	256
/*
 * Pages a received frame's data is copied into come from the channel's page
 * pool, order 0 (a 64 KiB GSO frame takes sixteen, within MAX_SKB_FRAGS
 * with the head). A page the stack is done with goes back to the pool, not
 * to the allocator, so it is not zeroed again (init_on_alloc, Debian's
 * default, zeroes every page the allocator hands out: under TCG that was a
 * third of a receiving guest's instructions per byte, bench:profile). The
 * pool keeps up to this many pages for reuse, besides its per-NAPI cache.
 */
#define RINGNET_RX_POOL_SIZE	256
/* How long a peer's ring is left alone after a record it got wrong (at least a jiffy). */
#define RINGNET_RX_QUIET_MS	4

/* ivshmem BAR0 registers (QEMU docs/specs/ivshmem-spec.rst) */
#define IVSHMEM_REG_INTR_MASK	0
#define IVSHMEM_REG_INTR_STATUS	4
#define IVSHMEM_REG_IVPOSITION	8
#define IVSHMEM_REG_DOORBELL	12
#define IVSHMEM_BAR_REGS	0
#define IVSHMEM_BAR_SHMEM	2

/* ---- structures ---------------------------------------------------------- */

/*
 * Counters, the veth way: each group has one writer, named above it, which
 * changes its counters only between u64_stats_update_begin() and _end()
 * (ringnet_stat_add()); readers take a consistent copy with the
 * u64_stats_fetch_begin()/_retry() loops in ringnet_ethtool.c, which also
 * holds the descriptor tables that name them for ethtool -S.
 */

/* One queue's producer end: written under q->tx_lock only. */
struct ringnet_peer_tx_stats {
	struct u64_stats_sync	syncp;
	u64_stats_t		packets;
	u64_stats_t		bytes;
	/* peer not alive, ring full, frame too long, or a reset */
	u64_stats_t		dropped;
	u64_stats_t		kicks;		/* doorbells rung for this peer */
};

/* One queue's consumer end: written by the NAPI poll of its channel only. */
struct ringnet_peer_rx_stats {
	struct u64_stats_sync	syncp;
	u64_stats_t		packets;
	u64_stats_t		bytes;
	/* not a peer, bad source, bad metadata, or no memory */
	u64_stats_t		dropped;
};

/* A channel's receive path: written by its NAPI poll only. */
struct ringnet_napi_stats {
	struct u64_stats_sync	syncp;
	u64_stats_t		polls;
	u64_stats_t		xdp_pass;
	u64_stats_t		xdp_drop;
	u64_stats_t		xdp_tx;
	u64_stats_t		xdp_redirect;
	u64_stats_t		xdp_aborted;
	u64_stats_t		rx_bad_meta;
	u64_stats_t		rx_alloc_fail;
	u64_stats_t		rx_bad_src;	/* frames whose source is not the sender's roster MAC */
	u64_stats_t		rx_no_peer;	/* frames from a slot that is not up */
};

/* A channel's doorbell vector: written by its interrupt handler only (masked until NAPI runs). */
struct ringnet_irq_stats {
	struct u64_stats_sync	syncp;
	u64_stats_t		irqs;
};

/* The domain's membership: written by its peer work only. */
struct ringnet_member_stats {
	struct u64_stats_sync	syncp;
	u64_stats_t		peer_joins;	/* a peer came up or restarted (new generation) */
	u64_stats_t		peer_deaths;
	u64_stats_t		peer_leaves;
	/* a peer publishes a MAC other than its roster MAC (once per MAC it publishes) */
	u64_stats_t		mac_conflicts;
	/* addresses a peer publishes outside its roster prefixes (each time they change) */
	u64_stats_t		addr_conflicts;
};

static inline void ringnet_stat_add(struct u64_stats_sync *syncp, u64_stats_t *c, u64 n)
{
	u64_stats_update_begin(syncp);
	u64_stats_add(c, n);
	u64_stats_update_end(syncp);
}

/* ringnet_stat_inc(&q->rx_stats, dropped): one more, by the group's writer. */
#define ringnet_stat_inc(s, f)	ringnet_stat_add(&(s)->syncp, &(s)->f, 1)

/*
 * One ivshmem PCI function bound to ringnet: its BARs, mapped at probe for
 * as long as it is bound. node and domain are under ringnet_domain_lock
 * (ringnet_domain.c); domain is set while an assembled domain uses it.
 */
struct ringnet_bar {
	struct pci_dev		*pdev;
	void __iomem		*regs;		/* BAR0: ivshmem registers */
	void			*shm;		/* BAR2, mapped write-back */
	u64			shm_size;
	struct list_head	node;		/* in ringnet_bars */
	struct ringnet_domain	*domain;
};

/*
 * One queue pair with one peer (queue q of the lanes of both regions): our
 * producer end of ring self -> peer and our consumer end of ring peer ->
 * self. The parts of both rings are set when the domain is assembled and
 * never change: those we write (tx_prod, tx_data, rx_cons) are in the
 * region we own, the others in the peer's region, read-only to us.
 *
 * tx (every call into the producer end, has_room included) and tx_stats are
 * owned by tx_lock; rx and rx_ready by rx_lock; rx_stats, rx_quiet_until
 * and xdp_tx_pending by the NAPI poll of the channel that serves queue
 * index k (ringnet_channel_of()), which changes only with every NAPI of
 * the domain disabled (ethtool -L). TX may leave frames
 * committed and not yet published (a netdev_xmit_more() run): the next
 * flush under tx_lock, whoever does it, publishes them.
 */
struct ringnet_queue {
	struct ringnet_peer	*peer;
	u16			k;		/* its index among the peer's queue pairs */
	u16			txq;		/* our TX queue for it: ringnet_txq() */
	struct kvmring_ring_prod *tx_prod;
	const struct kvmring_ring_cons *tx_cons;
	u8			*tx_data;
	struct kvmring_ring_cons *rx_cons;
	const struct kvmring_ring_prod *rx_prod;
	const u8		*rx_data;

	spinlock_t		tx_lock;	/* serialises the producer end */
	struct ringnet_tx	tx;
	spinlock_t		rx_lock;	/* NAPI vs. re-attach by the peer work */
	struct ringnet_rx	rx;
	bool			rx_ready;
	/*
	 * jiffies until which NAPI takes nothing from this queue: the peer
	 * sent a record it got wrong (bad source, bad metadata, not up). A
	 * neighbour that fills its ring with bad records then costs us one
	 * record per RINGNET_RX_QUIET_MS, not a share of every poll. NAPI only.
	 */
	unsigned long		rx_quiet_until;
	/* XDP_TX committed frames to tx that this poll publishes at its end. NAPI only. */
	bool			xdp_tx_pending;
	struct ringnet_peer_tx_stats tx_stats;	/* under tx_lock */
	struct ringnet_peer_rx_stats rx_stats;	/* NAPI */
};

/*
 * What we know of one remote slot. Its identity is the roster's; its state
 * is ours, never the region's.
 *
 * listed, entry, region, nqueues and the queues' places are set when the
 * domain is assembled and never change. Ownership of m: the liveness and
 * claim fields (gen, last_hb*, claimed, claimed_mac, addr_seq,
 * addrs_refused) and doorbell_id are written only by the domain's peer
 * work, through ringnet_member.c, under the domain's peers_lock so that
 * readers outside it (netlink, debugfs) see one state;
 * m.mac is the roster's, written before the domain is published. m.present
 * and m.alive are written by the peer work (and by teardown under the same
 * serialisation) and read locklessly by TX and NAPI: present is released
 * after the rings are attached. m.doorbell_id is read locklessly by TX
 * (READ_ONCE): a kick goes to the old or the new id. m.last_hb_change is in
 * jiffies.
 */
struct ringnet_peer {
	struct ringnet_domain	*domain;
	u32			slot;
	bool			listed;		/* the roster lets us talk to it */
	u32			region;		/* the roster's index of its region that we read */
	const struct kvmring_peer *entry;	/* its entry there: read each word once */
	struct ringnet_member	m;		/* identity and liveness */
	unsigned int		nqueues;	/* the domain's */
	struct ringnet_queue	q[RINGNET_QUEUES_MAX];
};

/*
 * A region the roster maps into us: its PCI function, what the roster says
 * of it and, if ours, our entry in it. Set when the domain is assembled,
 * never changed: readers need no lock.
 */
struct ringnet_region {
	struct ringnet_bar	*bar;
	u32			owner;
	u32			readers;
	u64			instance;
	bool			owned;		/* we are its owner: mapped read-write */
	struct kvmring_peer	*entry;		/* our entry, if owned */
};

/*
 * d->ch[j]: channel j, one NAPI that serves queue index k of every peer
 * for each k with k % nchannels == j, with its poll timer (plain mode, and
 * for queues waiting for room) and its XDP RX queue; and doorbell vector
 * j, which kicks queue j and so wakes channel j % nchannels.
 *
 * d, index, irq and irq_name are set when the domain is assembled or
 * started and never change. rr, idle_polls, napi_stats and poll_timer
 * belong to the channel's NAPI poll (only it arms the timer); irq_masked's
 * bit and irq_stats to vector j's handler, which hands the bit to the
 * serving channel's NAPI to clear.
 */
struct ringnet_channel {
	struct ringnet_domain	*d;
	unsigned int		index;
	struct napi_struct	napi;
	struct xdp_rxq_info	xdp_rxq;
	struct page_pool	*pool;		/* RX pages; see RINGNET_RX_POOL_SIZE */
	struct hrtimer		poll_timer;
	unsigned int		idle_polls;
	/*
	 * adaptive-rx in plain mode, owned by this channel's NAPI while it
	 * polls (not after napi_complete_done(): another CPU may poll next):
	 * net_dim's state and the totals it samples before each completion.
	 * net_dim moves dim.profile_ix (the interval while frames flow is
	 * rx-usecs << profile_ix) and queues dim.work, which only sets
	 * dim.state back to measuring. dim_on says whether net_dim runs (reset
	 * when it starts again: ringnet_dim_active()); dim_changes counts its
	 * profile changes and dim_armed_max_us is the longest interval armed
	 * while frames flowed since it started (debugfs reads both, and dim_on).
	 */
	struct dim		dim;
	bool			dim_on;
	u16			dim_events;
	u64			dim_packets;
	u64			dim_bytes;
	u64			dim_changes;
	u32			dim_armed_max_us;
	unsigned int		rr;		/* RX round-robin start among the peers */
	int			irq;		/* vector j's IRQ, 0 without */
	char			irq_name[16];	/* "ringnet-qJ" in /proc/interrupts */
	unsigned long		irq_masked;	/* bit 0: vector j waits for NAPI to unmask it */
	struct ringnet_napi_stats napi_stats;	/* channel j's NAPI */
	struct ringnet_irq_stats irq_stats;	/* vector j's handler */
};

/*
 * ring0's domain: what one roster puts together. Set up by
 * ringnet_domain_assemble() and torn down by ringnet_domain_teardown() (both
 * under ringnet_domain_lock), published in priv->domain in between.
 */
struct ringnet_domain {
	struct ringnet_priv	*priv;
	struct ringnet_bar	*roster_bar;
	/*
	 * The validated copy of the roster. Replaced only by the peer work
	 * (ringnet_peer.c, when the host rewrites the doorbell ids) under
	 * peers_lock; readers outside the peer work take peers_lock.
	 */
	struct ringnet_roster	*ro;
	u32			ro_seq_seen;	/* the roster seq the peer work last read */
	u32			self;		/* our slot: the roster's, fixed */
	u32			max_peers;
	u32			ring_size;
	u32			nregions;
	struct ringnet_region	regions[KVMRING_ROSTER_REGIONS_MAX];

	/* doorbell mode: the doorbell device, its MSI-X vectors and our id in it; set when assembled */
	struct ringnet_bar	*bell;
	bool			doorbell;
	u32			ivposition;
	unsigned int		nvectors;

	/*
	 * Our entry, the same in every region we own. self_lock owns
	 * self_gen, heartbeat, mine, leaving and every write into our
	 * entries: the peer work (heartbeat) and the address work (under
	 * RTNL) take it. Nobody else can write our regions, so there is no
	 * claim, no check of our own entry and no rejoin.
	 */
	struct mutex		self_lock;
	u32			self_gen;
	u64			heartbeat;	/* our private count, written to the regions */
	struct kvmring_peer	mine;		/* what we write into each entry */
	bool			leaving;	/* being torn down: set under RTNL */

	/* the peers' state: the peer work writes, netlink and debugfs read */
	spinlock_t		peers_lock;
	struct ringnet_peer	peers[KVMRING_PEERS_MAX];

	/*
	 * Queue pairs per peer (fixed when assembled) and the channels that
	 * serve them: nchannels is written under RTNL with every channel's
	 * NAPI disabled (ringnet_domain_set_channels()) and read with
	 * READ_ONCE by TX, the doorbell handlers, the peer work and the polls
	 * (any queue below nqueues is served either way, and the first polls
	 * after a change look at every queue).
	 */
	unsigned int		nqueues;
	unsigned int		nchannels;
	struct ringnet_channel	ch[RINGNET_QUEUES_MAX];
	struct delayed_work	peer_work;

	struct ringnet_member_stats member_stats; /* the peer work */
};

/*
 * priv->domain is written under RTNL only; it is read under RTNL or, on
 * the data path, in ethtool, netlink and debugfs, under rcu_read_lock_bh().
 */
struct ringnet_priv {
	struct net_device	*dev;
	struct ringnet_domain __rcu *domain;
	struct bpf_prog __rcu	*xdp_prog;
	atomic64_t		tx_no_peer;
	unsigned int		channels;	/* ethtool -L's, 0 for the default; under RTNL */
	/*
	 * ethtool -C: the plain-mode poll interval while frames flow (rx-usecs)
	 * and whether net_dim lengthens it (adaptive-rx). Written under RTNL,
	 * read by the polls with READ_ONCE().
	 */
	u32			poll_us;
	bool			adaptive_rx;
	struct work_struct	addr_work;	/* republish addresses */
	bool			announce;	/* tell peers our MAC at the next peer work */
	unsigned long		last_announce;	/* jiffies; announcements are rate-limited */
	/* reading the peers' liveness and setting carrier */
	struct mutex		carrier_lock;
};

/* ---- helpers shared by the files ------------------------------------------------ */

/* ring0's domain, or NULL. Under rcu_read_lock_bh(). */
static inline struct ringnet_domain *ringnet_domain_get(struct ringnet_priv *priv)
{
	return rcu_dereference_bh(priv->domain);
}

/* The first listed peer of d at slot *s or after it, with *s moved there; NULL past the end. */
static inline struct ringnet_peer *ringnet_peer_next(struct ringnet_domain *d, unsigned int *s)
{
	for (; *s < d->max_peers; (*s)++)
		if (d->peers[*s].listed)
			return &d->peers[*s];
	return NULL;
}

/* Each listed peer p of domain d, with s its slot. */
#define ringnet_for_each_peer(d, p, s) \
	for ((s) = 0; ((p) = ringnet_peer_next((d), &(s))); (s)++)

/* Our TX queue for queue pair k of the peer in slot. */
static inline u16 ringnet_txq(u32 slot, u32 k)
{
	return 1 + slot * RINGNET_QUEUES_MAX + k;
}

/* The channel that serves queue index k now. */
static inline struct ringnet_channel *ringnet_channel_of(struct ringnet_domain *d, u32 k)
{
	return &d->ch[k % READ_ONCE(d->nchannels)];
}

/*
 * Schedules every channel's NAPI from process context. napi_schedule() only
 * raises the softirq; with BH off around it, the polls run at
 * local_bh_enable() on this CPU instead of waiting for the next interrupt
 * or ksoftirqd.
 */
static inline void ringnet_napi_schedule_bh(struct ringnet_domain *d)
{
	unsigned int j;

	local_bh_disable();
	for (j = 0; j < READ_ONCE(d->nchannels); j++)
		napi_schedule(&d->ch[j].napi);
	local_bh_enable();
}

/* ringnet_datapath.c */
u16 ringnet_select_queue(struct net_device *dev, struct sk_buff *skb, struct net_device *sb_dev);
netdev_tx_t ringnet_start_xmit(struct sk_buff *skb, struct net_device *dev);
int ringnet_xdp_xmit(struct net_device *dev, int n, struct xdp_frame **frames, u32 flags);
int ringnet_poll(struct napi_struct *napi, int budget);
void ringnet_coalesce_init(struct ringnet_priv *priv);
void ringnet_dim_work(struct work_struct *w);
u32 ringnet_poll_interval(const struct ringnet_channel *c);
enum hrtimer_restart ringnet_poll_timer_fn(struct hrtimer *t);
irqreturn_t ringnet_irq(int irq, void *data);

/* ringnet_peer.c */
void ringnet_peer_work(struct work_struct *work);
void ringnet_addr_work(struct work_struct *work);
void ringnet_update_carrier(struct ringnet_priv *priv);
void ringnet_peer_attach(struct ringnet_domain *d, struct ringnet_peer *p, bool renew);
void ringnet_peer_forget(struct ringnet_peer *p);
int ringnet_join(struct ringnet_domain *d);
void ringnet_leave(struct ringnet_domain *d);
void ringnet_publish_mtu(struct ringnet_domain *d);

/* ringnet_domain.c */
int ringnet_domain_init(void);
int ringnet_domain_bind(struct ringnet_bar *bar);
void ringnet_domain_unbind(struct ringnet_bar *bar);
void ringnet_napi_start(struct ringnet_domain *d);
void ringnet_napi_stop(struct ringnet_domain *d);
unsigned int ringnet_default_channels(const struct ringnet_domain *d);
int ringnet_domain_set_channels(struct ringnet_domain *d, unsigned int n);

/* ringnet_ethtool.c */

/*
 * A peer's counters as ethtool -S and the genetlink dump give them, copied out
 * of struct ringnet_peer_tx_stats and _rx_stats by ringnet_peer_stats_read().
 * The field names are the ethtool names.
 */
struct ringnet_peer_stats {
	u64	rx_packets;
	u64	rx_bytes;
	u64	tx_packets;
	u64	tx_bytes;
	u64	tx_dropped;
	u64	rx_dropped;
	u64	kicks;
};

extern const struct ethtool_ops ringnet_ethtool_ops;
void ringnet_get_stats64(struct net_device *dev, struct rtnl_link_stats64 *s);
void ringnet_peer_stats_read(const struct ringnet_peer *p, struct ringnet_peer_stats *s);

/* ringnet_main.c: the one ringnet device, set for the module's lifetime */
extern struct net_device *ringnet_dev;

/* ringnet_netlink.c */
int ringnet_nl_init(void);
void ringnet_nl_exit(void);
void ringnet_nl_notify(struct ringnet_domain *d, struct ringnet_peer *p, u8 cmd);
void ringnet_debugfs_init(struct ringnet_priv *priv);
void ringnet_debugfs_rename(struct ringnet_priv *priv);
void ringnet_debugfs_exit(void);

#endif /* RINGNET_H */
