/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ringnet.h - what the files of ringnet.ko share: constants, the state of
 * ring0, its regions and their peers, and the calls between the files.
 *
 *   ringnet_main.c      module init/exit, PCI probe/remove, net_device_ops
 *   ringnet_peer.c      our slot (claim, join, heartbeat, rejoin, leave), the
 *                       peer table scan, identities, address publishing
 *   ringnet_member.c    what a peer table entry says and what we make of it:
 *                       membership's decisions (also built into the harness)
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
#include <linux/etherdevice.h>
#include <linux/hrtimer.h>
#include <linux/if_vlan.h>
#include <linux/interrupt.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/pci.h>
#include <linux/u64_stats_sync.h>
#include <linux/workqueue.h>
#include <net/xdp.h>

#include "ringnet_member.h"
#include "ringnet_ring.h"

#define RINGNET_DRV_NAME	"ringnet"
#define RINGNET_DRV_VERSION	"0.1.0"
/* QEMU's ivshmem, plain and doorbell alike, under PCI_VENDOR_ID_REDHAT_QUMRANET */
#define RINGNET_PCI_DEVICE_IVSHMEM	0x1110

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

/* One peer's producer end: written under p->tx_lock only. */
struct ringnet_peer_tx_stats {
	struct u64_stats_sync	syncp;
	u64_stats_t		packets;
	u64_stats_t		bytes;
	/* peer not alive, ring full, frame too long, or a reset */
	u64_stats_t		dropped;
	u64_stats_t		kicks;		/* doorbells rung for this peer */
};

/* One peer's consumer end: written by the region's NAPI poll only. */
struct ringnet_peer_rx_stats {
	struct u64_stats_sync	syncp;
	u64_stats_t		packets;
	u64_stats_t		bytes;
	/* not a peer, bad source, bad metadata, or no memory */
	u64_stats_t		dropped;
};

/* A region's receive path: written by the region's NAPI poll only. */
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
	u64_stats_t		rx_bad_src;	/* frames whose source MAC is not their sender's */
	u64_stats_t		rx_no_peer;	/* frames from a slot we do not count as a peer */
};

/* A region's doorbell: written by its interrupt handler only (masked until NAPI runs). */
struct ringnet_irq_stats {
	struct u64_stats_sync	syncp;
	u64_stats_t		irqs;
};

/* A region's membership: written by the region's peer work only. */
struct ringnet_member_stats {
	struct u64_stats_sync	syncp;
	u64_stats_t		peer_joins;
	u64_stats_t		peer_deaths;
	u64_stats_t		peer_leaves;
	u64_stats_t		bad_peer_entries;
	/* generations refused: a MAC ours or a live peer's */
	u64_stats_t		mac_conflicts;
	/* doorbell ids refused: ours or another peer's */
	u64_stats_t		doorbell_conflicts;
	/* times our word was not ours and we joined again */
	u64_stats_t		rejoins;
};

static inline void ringnet_stat_add(struct u64_stats_sync *syncp, u64_stats_t *c, u64 n)
{
	u64_stats_update_begin(syncp);
	u64_stats_add(c, n);
	u64_stats_update_end(syncp);
}

/* ringnet_stat_inc(&p->rx_stats, dropped): one more, by the group's writer. */
#define ringnet_stat_inc(s, f)	ringnet_stat_add(&(s)->syncp, &(s)->f, 1)

/*
 * What we know of one remote slot. The state lives here, never in the region.
 *
 * Ownership: the identity fields of m (gen, mac, doorbell_id, last_hb*,
 * refused, refused_mac) are written only by the region's peer work, through
 * ringnet_member.c, under the region's peers_lock so that readers outside
 * it (netlink, debugfs) see one identity; m.addr_seq is the peer work's
 * alone. m.present and m.alive are written by the peer work (and by
 * remove/eviction under the same serialisation) and read locklessly by TX
 * and NAPI: present is released after mac is written and acquired before
 * mac is read, so a reader that sees a peer present sees its whole MAC.
 * m.last_hb_change is in jiffies. tx (with every call into the producer
 * end, has_room included) and tx_stats are owned by tx_lock; rx and
 * rx_ready by rx_lock; rx_stats and rx_quiet_until by the region's NAPI poll.
 */
struct ringnet_peer {
	struct ringnet_region	*region;
	u32			slot;
	u16			txq;		/* our TX queue for this peer */
	struct ringnet_member	m;		/* identity and liveness */

	spinlock_t		tx_lock;	/* serialises the producer end */
	struct ringnet_tx	tx;
	spinlock_t		rx_lock;	/* NAPI vs. re-attach by the peer work */
	struct ringnet_rx	rx;
	bool			rx_ready;
	/*
	 * jiffies until which NAPI takes nothing from p: p sent a record it
	 * got wrong (bad source, bad metadata, not a peer). A neighbour that
	 * fills its ring with bad records then costs us one record per
	 * RINGNET_RX_QUIET_MS, not a share of every poll. NAPI only.
	 */
	unsigned long		rx_quiet_until;
	struct ringnet_peer_tx_stats tx_stats;	/* under tx_lock */
	struct ringnet_peer_rx_stats rx_stats;	/* NAPI */
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

	/* the peers' identities: the peer work writes, netlink and debugfs read */
	spinlock_t		peers_lock;
	struct ringnet_peer	peers[KVMRING_PEERS_MAX];
	/* &peers[s].m for every s, as ringnet_member.c's table of them */
	struct ringnet_member	*member[KVMRING_PEERS_MAX];
	unsigned int		rr;		/* RX round-robin start */

	struct napi_struct	napi;
	struct xdp_rxq_info	xdp_rxq;
	struct hrtimer		poll_timer;
	unsigned int		idle_polls;
	struct delayed_work	peer_work;

	struct ringnet_napi_stats napi_stats;	/* NAPI */
	struct ringnet_irq_stats irq_stats;	/* the doorbell handler */
	struct ringnet_member_stats member_stats; /* the peer work */
};

/*
 * priv->regions[] is written under RTNL only; it is read under RTNL or, on
 * the data path, in ethtool, netlink and debugfs, under rcu_read_lock_bh().
 */
struct ringnet_priv {
	struct net_device	*dev;
	struct ringnet_region __rcu *regions[RINGNET_MAX_REGIONS];
	struct bpf_prog __rcu	*xdp_prog;
	atomic64_t		tx_no_peer;
	struct work_struct	addr_work;	/* republish addresses */
	bool			announce;	/* tell peers our MAC at the next peer work */
	unsigned long		last_announce;	/* jiffies; announcements are rate-limited */
	/* reading the peers' liveness and setting carrier */
	struct mutex		carrier_lock;
};

/* ---- helpers shared by the files ------------------------------------------------ */

static inline struct ringnet_region *ringnet_region_get(struct ringnet_priv *priv, unsigned int i)
{
	return rcu_dereference_bh(priv->regions[i]);
}

/* The first region at index *i or after it, with *i moved there; NULL past the end. */
static inline struct ringnet_region *ringnet_region_next(struct ringnet_priv *priv, unsigned int *i)
{
	struct ringnet_region *r;

	for (; *i < RINGNET_MAX_REGIONS; (*i)++) {
		r = ringnet_region_get(priv, *i);
		if (r)
			return r;
	}
	return NULL;
}

/* Each region r of priv, with i its index. Under rcu_read_lock_bh(). */
#define ringnet_for_each_region(priv, r, i) \
	for ((i) = 0; ((r) = ringnet_region_next((priv), &(i))); (i)++)

/*
 * Schedules r's NAPI from process context. napi_schedule() only raises the
 * softirq; with BH off around it, the poll runs at local_bh_enable() on this
 * CPU instead of waiting for the next interrupt or ksoftirqd.
 */
static inline void ringnet_napi_schedule_bh(struct ringnet_region *r)
{
	local_bh_disable();
	napi_schedule(&r->napi);
	local_bh_enable();
}

/* Slot's entry in the peer table: shared memory, read each word once. */
static inline struct kvmring_peer *ringnet_entry(struct ringnet_region *r, u32 slot)
{
	return (struct kvmring_peer *)((u8 *)r->shm + kvmring_peer_offset(slot));
}

/* ringnet_datapath.c */
u16 ringnet_select_queue(struct net_device *dev, struct sk_buff *skb, struct net_device *sb_dev);
netdev_tx_t ringnet_start_xmit(struct sk_buff *skb, struct net_device *dev);
int ringnet_xdp_xmit(struct net_device *dev, int n, struct xdp_frame **frames, u32 flags);
int ringnet_poll(struct napi_struct *napi, int budget);
enum hrtimer_restart ringnet_poll_timer_fn(struct hrtimer *t);
irqreturn_t ringnet_irq(int irq, void *data);

/* ringnet_peer.c */
void ringnet_peer_work(struct work_struct *work);
void ringnet_addr_work(struct work_struct *work);
void ringnet_update_carrier(struct ringnet_priv *priv);
void ringnet_peer_forget(struct ringnet_peer *p);
int ringnet_claim_slot(struct ringnet_region *r);
void ringnet_join(struct ringnet_region *r);
void ringnet_leave(struct ringnet_region *r);
void ringnet_new_generation(struct ringnet_region *r);

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
void ringnet_nl_notify(struct ringnet_region *r, struct ringnet_peer *p, u8 cmd);
void ringnet_debugfs_init(struct ringnet_priv *priv);
void ringnet_debugfs_rename(struct ringnet_priv *priv);
void ringnet_debugfs_exit(void);

#endif /* RINGNET_H */
