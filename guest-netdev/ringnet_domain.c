// SPDX-License-Identifier: GPL-2.0-only
/*
 * ringnet_domain.c - ring0's domain (ABI v2): what the host's roster puts
 * together, and taking it apart again.
 *
 * ringnet probes every ivshmem PCI function (QEMU cannot give ours another
 * subsystem id) and keeps only ours (ringnet_domain_ours()): the one at
 * the roster's place, those whose BAR2 starts with an owned region's magic,
 * and those a roster read names (a region, the doorbell device). Any other,
 * such as another program's ivshmem device in the same guest, is left
 * unbound. Binding a function alone makes nothing of it. The function at the
 * roster's place (module parameter roster=, default 10.0 on the root bus)
 * holds the roster, which the host alone writes: our slot, the slots we may
 * talk to, and every region mapped into us with its PCI function. Its probe
 * assembles the domain: it reads and checks the roster, finds each listed
 * region's function on the same bus (waiting, with -EPROBE_DEFER, until
 * they are all bound, so that probe order does not matter), checks each
 * region against the roster and its header (ringnet_owned_check()), finds
 * the doorbell device in doorbell mode, lays out every peer's queue pairs at
 * the roster's offsets, and joins: our entry goes UP in every region we own.
 * A region function that binds later assembles a domain whose roster was
 * waiting (after a teardown). Removing any function of the domain tears the
 * whole domain down.
 *
 * Nothing of a neighbour's region is ever written: the roster says which
 * regions are ours, and the hypervisor drops writes to the others anyway.
 *
 * Locking: ringnet_domain_lock (a mutex) serialises binding, unbinding,
 * assembly and teardown, and owns the list of bound functions and their
 * domain pointers. It is taken before RTNL; the peer work never takes it.
 */
#include <linux/delay.h>
#include <linux/pci.h>
#include <linux/rtnetlink.h>
#include <linux/slab.h>

#include "ringnet.h"

static char *roster = "10.0";
module_param(roster, charp, 0444);
MODULE_PARM_DESC(roster,
		 "PCI slot.function of the roster on the root bus, in hex (default 10.0: 00:10.0)");

static unsigned int ringnet_roster_devfn = KVMRING_ROSTER_DEVFN;

static DEFINE_MUTEX(ringnet_domain_lock);
/* Every bound ivshmem function (struct ringnet_bar), under ringnet_domain_lock. */
static LIST_HEAD(ringnet_bars);

/*
 * What the last roster read at the roster's place names on the root bus
 * (its regions and doorbell device): nothing known until a roster function
 * was probed, then the devfns of the last read, none if it was refused.
 * Under ringnet_domain_lock.
 */
#define RINGNET_DEVFNS		256
static bool ringnet_roster_read_once;
static DECLARE_BITMAP(ringnet_named, RINGNET_DEVFNS);

/* What the log calls a function on the roster's bus: slot.function, as roster= takes it. */
#define RINGNET_DEVFN_FMT	"%02x.%x"

/* Reads roster=. At module init. */
int ringnet_domain_init(void)
{
	unsigned int slot, fn;
	char c;

	if (sscanf(roster, "%x.%x%c", &slot, &fn, &c) != 2 || slot > 0x1f || fn > 7) {
		pr_err(RINGNET_DRV_NAME ": roster=\"%s\" is not a PCI slot.function such as 10.0\n",
		       roster);
		return -EINVAL;
	}
	ringnet_roster_devfn = PCI_DEVFN(slot, fn);
	return 0;
}

static bool ringnet_is_roster(const struct pci_dev *pdev)
{
	return pci_is_root_bus(pdev->bus) && pdev->devfn == ringnet_roster_devfn;
}

/*
 * The bound function at devfn on bus, or NULL; *exists says whether there
 * is a PCI function there at all. Under ringnet_domain_lock.
 */
static struct ringnet_bar *ringnet_bar_at(struct pci_bus *bus, unsigned int devfn, bool *exists)
{
	struct pci_dev *pdev = pci_get_slot(bus, devfn);
	struct ringnet_bar *bar, *found = NULL;

	*exists = pdev;
	if (!pdev)
		return NULL;
	list_for_each_entry(bar, &ringnet_bars, node)
		if (bar->pdev == pdev)
			found = bar;
	pci_dev_put(pdev);
	return found;
}

/*
 * NAPI on for d's channels, and a first poll each. Under RTNL, with d
 * published or being published.
 */
void ringnet_napi_start(struct ringnet_domain *d)
{
	unsigned int j;

	for (j = 0; j < d->nchannels; j++) {
		/* NAPI off: a channel that served other queues has net_dim start afresh. */
		WRITE_ONCE(d->ch[j].dim_on, false);
		napi_enable(&d->ch[j].napi);
	}
	ringnet_napi_schedule_bh(d);
}

/* NAPI off for d's channels. Under RTNL. */
void ringnet_napi_stop(struct ringnet_domain *d)
{
	unsigned int j;

	for (j = 0; j < d->nchannels; j++) {
		napi_disable(&d->ch[j].napi);
		/*
		 * Only a channel's poll arms its timer, so the cancel comes
		 * after napi_disable(): before it, a running poll could arm the
		 * timer again. A timer that fires meanwhile finds NAPI disabled
		 * and schedules nothing.
		 */
		hrtimer_cancel(&d->ch[j].poll_timer);
	}
}

/*
 * Serves d's queues with n channels (1..nqueues). Under RTNL. Which NAPI
 * owns a queue's consumer end changes only with every channel's NAPI
 * disabled; TX and the doorbell handlers that read nchannels meanwhile
 * schedule a NAPI that is off (nothing happens) or the right one, and the
 * first polls after the change look at every queue.
 */
int ringnet_domain_set_channels(struct ringnet_domain *d, unsigned int n)
{
	struct net_device *dev = d->priv->dev;
	bool running = netif_running(dev);
	int err;

	ASSERT_RTNL();
	if (n < 1 || n > d->nqueues)
		return -EINVAL;
	if (n == d->nchannels)
		return 0;
	/* No poll may deliver on an RX queue past the new count once it is set. */
	if (running)
		ringnet_napi_stop(d);
	err = netif_set_real_num_rx_queues(dev, n);
	if (!err)
		WRITE_ONCE(d->nchannels, n);
	if (running)
		ringnet_napi_start(d);
	return err;
}

/* ---- whose function ---------------------------------------------------------------- */

/*
 * Remembers the functions roster ro names (none: NULL, a roster refused).
 * ringnet_roster_read() refused any devfn past a PCI function's.
 */
static void ringnet_domain_name(const struct ringnet_roster *ro)
{
	u32 i;

	lockdep_assert_held(&ringnet_domain_lock);
	ringnet_roster_read_once = true;
	bitmap_zero(ringnet_named, RINGNET_DEVFNS);
	if (!ro)
		return;
	for (i = 0; i < ro->nregions; i++)
		__set_bit(ro->regions[i].devfn, ringnet_named);
	if (ro->flags & KVMRING_ROSTER_F_DOORBELL)
		__set_bit(ro->doorbell_devfn, ringnet_named);
}

/*
 * Is bar one of ours? 0 if so, -ENODEV (with one info line) if it is
 * someone else's ivshmem device, -EPROBE_DEFER if only the roster can say
 * and it has not been read yet. The function at the roster's place is
 * always ours to try: a foreign one there is refused by the roster's checks,
 * loudly. So is a function a roster names: a foreign one at a region's
 * place is refused by ringnet_owned_check(). A doorbell device's memory is
 * zeros (the doorbell server's page), so only the roster names it; it sits
 * below the roster (00:0f.0), probes first and waits for the roster's read.
 * Under ringnet_domain_lock.
 */
static int ringnet_domain_ours(struct ringnet_bar *bar)
{
	struct pci_dev *pdev = bar->pdev, *rp;
	bool roster_pending;
	u64 magic;

	lockdep_assert_held(&ringnet_domain_lock);
	if (ringnet_is_roster(pdev))
		return 0;
	/*
	 * Read once: a region's magic, which the host writes last. Anyone
	 * who can write this memory can write the magic too; it only decides
	 * whether to look further, and a region is still checked whole
	 * against the roster before it is used.
	 */
	if (bar->shm_size >= sizeof(magic)) {
		magic = le64_to_cpu(READ_ONCE(*(const __le64 *)bar->shm));
		if (magic == KVMRING_OWNED_MAGIC)
			return 0;
	}
	if (pci_is_root_bus(pdev->bus)) {
		if (ringnet_roster_read_once) {
			if (test_bit(pdev->devfn, ringnet_named))
				return 0;
		} else {
			/* An ivshmem function at the roster's place that we have not probed yet. */
			rp = pci_get_slot(pdev->bus, ringnet_roster_devfn);
			roster_pending = rp && rp->vendor == PCI_VENDOR_ID_REDHAT_QUMRANET &&
					 rp->device == RINGNET_PCI_DEVICE_IVSHMEM && !rp->dev.driver;
			pci_dev_put(rp);
			if (roster_pending)
				return dev_err_probe(&pdev->dev, -EPROBE_DEFER,
						     "waiting for the roster to say whether this is ours\n");
		}
	}
	dev_info(&pdev->dev, "not a kvmring device (no region magic, not in the roster): left alone\n");
	return -ENODEV;
}

/* ---- assembling ------------------------------------------------------------------- */

/*
 * The function at devfn on the roster's bus, bound to us: -ENODEV (with
 * the reason logged) if there is none, -EPROBE_DEFER until it is bound.
 */
static int ringnet_domain_find(struct ringnet_bar *rb, unsigned int devfn, const char *what,
			       struct ringnet_bar **out)
{
	struct device *dev = &rb->pdev->dev;
	struct ringnet_bar *bar;
	bool exists;

	bar = ringnet_bar_at(rb->pdev->bus, devfn, &exists);
	if (!exists) {
		dev_err(dev, "the roster puts %s at PCI " RINGNET_DEVFN_FMT " and nothing is there: start the guest with the devices `ringctl host qemu-args` gives\n",
			what, PCI_SLOT(devfn), PCI_FUNC(devfn));
		return -ENODEV;
	}
	if (!bar)
		return dev_err_probe(dev, -EPROBE_DEFER, "waiting for %s at " RINGNET_DEVFN_FMT " to bind to ringnet\n",
				     what, PCI_SLOT(devfn), PCI_FUNC(devfn));
	if (bar == rb || bar->domain) {
		dev_err(dev, "the roster puts %s at PCI " RINGNET_DEVFN_FMT ", which is the roster's or another domain's: run `ringctl host up` again\n",
			what, PCI_SLOT(devfn), PCI_FUNC(devfn));
		return -EINVAL;
	}
	*out = bar;
	return 0;
}

/* Finds and checks every region of the roster. */
static int ringnet_domain_regions(struct ringnet_domain *d)
{
	const struct ringnet_roster *ro = d->ro;
	struct device *dev = &d->roster_bar->pdev->dev;
	struct ringnet_why why;
	struct ringnet_bar *bar;
	char what[48];
	int err;
	u32 i, j;

	for (i = 0; i < ro->nregions; i++) {
		const struct ringnet_roster_region *e = &ro->regions[i];

		snprintf(what, sizeof(what), "region %u (owner slot %u)", i, e->owner);
		err = ringnet_domain_find(d->roster_bar, e->devfn, what, &bar);
		if (err)
			return err;
		for (j = 0; j < i; j++)
			if (d->regions[j].bar == bar)
				return -EINVAL;	/* ringnet_roster_read() refuses two at one devfn */
		err = ringnet_owned_check(bar->shm, bar->shm_size, ro, i, &why);
		if (err) {
			dev_err(dev, "%s at %s refused: %s: run `ringctl host up` on the host again, then reload ringnet\n",
				what, pci_name(bar->pdev), why.msg);
			return err;
		}
		d->regions[i].bar = bar;
		d->regions[i].owner = e->owner;
		d->regions[i].readers = e->readers;
		d->regions[i].instance = e->instance;
		d->regions[i].owned = e->owner == ro->self;
		if (d->regions[i].owned)
			d->regions[i].entry = (struct kvmring_peer *)
				((u8 *)bar->shm + KVMRING_OWNED_ENTRY_OFF);
	}
	return 0;
}

/* In doorbell mode, the doorbell device: MSI-X, and our IVPosition in it. */
static int ringnet_domain_doorbell(struct ringnet_domain *d)
{
	const struct ringnet_roster *ro = d->ro;
	struct device *dev = &d->roster_bar->pdev->dev;
	struct ringnet_bar *bar;
	u32 id;
	int err;

	if (!(ro->flags & KVMRING_ROSTER_F_DOORBELL))
		return 0;
	err = ringnet_domain_find(d->roster_bar, ro->doorbell_devfn, "the doorbell device", &bar);
	if (err)
		return err;
	/* ivshmem-doorbell has MSI-X (BAR1) and the IVPosition the server gave us. */
	if (!pci_resource_len(bar->pdev, 1)) {
		dev_err(dev, "the doorbell device %s has no MSI-X: is it ivshmem-doorbell?\n",
			pci_name(bar->pdev));
		return -ENODEV;
	}
	id = readl(bar->regs + IVSHMEM_REG_IVPOSITION);
	if (id > 0xffff) {
		dev_err(dev, "the doorbell device %s has no IVPosition (%d): is the doorbell server up?\n",
			pci_name(bar->pdev), (int)id);
		return -ENODEV;
	}
	if (ro->slots[ro->self].doorbell_id != id)
		dev_warn(dev, "the roster gives us doorbell id %u, the doorbell device %u: peers ring the roster's until the host updates it\n",
			 ro->slots[ro->self].doorbell_id, id);
	err = pci_msix_vec_count(bar->pdev);
	if (err <= 0) {
		dev_err(dev, "the doorbell device %s has no MSI-X vectors (%d): is it ivshmem-doorbell?\n",
			pci_name(bar->pdev), err);
		return -ENODEV;
	}
	d->nvectors = err;
	d->bell = bar;
	d->doorbell = true;
	d->ivposition = id;
	return 0;
}

/*
 * The queue pairs per peer: the roster's, up to RINGNET_QUEUES_MAX, the
 * same for every guest of the roster. In doorbell mode a peer kicks queue
 * k through vector k: a doorbell device with fewer vectors is refused
 * rather than leaving a peer's queues undrained.
 */
static int ringnet_domain_queues(struct ringnet_domain *d)
{
	u32 n = min_t(u32, d->ro->queues, RINGNET_QUEUES_MAX);

	if (d->doorbell && d->nvectors < n) {
		dev_err(&d->roster_bar->pdev->dev,
			"the roster offers %u queue pairs and the doorbell device has %u vectors: a peer kicks queue k through vector k; give every guest's ivshmem-doorbell vectors=%u (ringctl host qemu-args does)\n",
			n, d->nvectors, n);
		return -EINVAL;
	}
	d->nqueues = max(n, 1U);
	return 0;
}

/* Channels by default: one per online CPU, as many as there are queue pairs. */
unsigned int ringnet_default_channels(const struct ringnet_domain *d)
{
	return clamp_t(unsigned int, num_online_cpus(), 1, d->nqueues);
}

/* Where a part of a ring is: its place in the mapping of the roster's region. */
static u8 *ringnet_domain_at(struct ringnet_domain *d, const struct ringnet_place *pl)
{
	return (u8 *)d->regions[pl->region].bar->shm + pl->off;
}

/*
 * Every slot's peer: identity from the roster, its entry and each queue
 * pair's parts at the places the roster's geometry gives
 * (ringnet_route_queue()). In range: ringnet_roster_read() checked each
 * region's size against its lanes, ringnet_owned_check() the mapping
 * against that size. Of the parts, ours (the producer half and data of our
 * ring to the peer, the consumer half of its ring to us) are in our region;
 * the others in the peer's, read-only.
 */
static int ringnet_domain_peers(struct ringnet_domain *d)
{
	const struct ringnet_roster *ro = d->ro;
	struct ringnet_ring_places out, in;
	struct ringnet_route rt;
	unsigned int k;
	int err;
	u32 s;

	for (s = 0; s < KVMRING_PEERS_MAX; s++) {
		struct ringnet_peer *p = &d->peers[s];

		p->domain = d;
		p->slot = s;
		p->m.doorbell_id = KVMRING_DOORBELL_NONE;
		for (k = 0; k < RINGNET_QUEUES_MAX; k++) {
			struct ringnet_queue *q = &p->q[k];

			q->peer = p;
			q->k = k;
			spin_lock_init(&q->tx_lock);
			spin_lock_init(&q->rx_lock);
			u64_stats_init(&q->tx_stats.syncp);
			u64_stats_init(&q->rx_stats.syncp);
		}
		if (ringnet_roster_route(ro, s, &rt))
			continue;
		p->listed = true;
		p->region = rt.rx.region;
		p->entry = (const struct kvmring_peer *)
			((u8 *)d->regions[rt.rx.region].bar->shm + KVMRING_OWNED_ENTRY_OFF);
		ringnet_member_identity(&p->m, ro->slots[s].mac, d->doorbell ?
					ro->slots[s].doorbell_id : KVMRING_DOORBELL_NONE);
		p->nqueues = d->nqueues;
		for (k = 0; k < p->nqueues; k++) {
			struct ringnet_queue *q = &p->q[k];

			err = ringnet_route_queue(ro, &rt, k, &out, &in);
			if (err)
				return err;
			/* Ours to write: the parts in the region we own. */
			if (!d->regions[out.prod.region].owned ||
			    !d->regions[out.data.region].owned ||
			    !d->regions[in.cons.region].owned)
				return -EINVAL;
			q->txq = ringnet_txq(s, k);
			q->tx_prod = (void *)ringnet_domain_at(d, &out.prod);
			q->tx_cons = (const void *)ringnet_domain_at(d, &out.cons);
			q->tx_data = ringnet_domain_at(d, &out.data);
			q->rx_cons = (void *)ringnet_domain_at(d, &in.cons);
			q->rx_prod = (const void *)ringnet_domain_at(d, &in.prod);
			q->rx_data = ringnet_domain_at(d, &in.data);
		}
	}
	return 0;
}

/* Undoes ringnet_channels_add() for the first n channels, their NAPI off. Under RTNL. */
static void ringnet_channels_del(struct ringnet_domain *d, unsigned int n)
{
	unsigned int j;

	for (j = 0; j < n; j++) {
		/* The XDP RX queue's hold on the pool, then ours: pages still in skbs or XDP frames keep it until they come back. */
		xdp_rxq_info_unreg(&d->ch[j].xdp_rxq);
		page_pool_destroy(d->ch[j].pool);
		d->ch[j].pool = NULL;
		/*
		 * Armed only by its poll, and NAPI is off: this cancel is the
		 * last. So is the work, queued only by its poll's net_dim before
		 * completing, and every poll is over (synchronize_net() in
		 * ringnet_domain_stop()).
		 */
		hrtimer_cancel(&d->ch[j].poll_timer);
		cancel_work_sync(&d->ch[j].dim.work);
		netif_napi_del(&d->ch[j].napi);
	}
}

/*
 * Channel c's page pool: order-0 pages for what its NAPI receives, from the
 * node of the CPU that allocates. No DMA (the CPU copies), so no device.
 */
static int ringnet_pool_create(struct ringnet_channel *c)
{
	struct page_pool_params pp = {
		.order = 0,
		.pool_size = RINGNET_RX_POOL_SIZE,
		.nid = NUMA_NO_NODE,
	};
	struct page_pool *pool = page_pool_create(&pp);

	if (IS_ERR(pool))
		return PTR_ERR(pool);
	c->pool = pool;
	return 0;
}

/*
 * A channel per queue index: its NAPI (disabled until ringnet_napi_start()),
 * its page pool and its XDP RX queue, whose frames' pages the pool takes
 * back. Only the first nchannels are ever enabled. Under RTNL.
 */
static int ringnet_channels_add(struct ringnet_domain *d)
{
	struct net_device *dev = d->priv->dev;
	unsigned int j;
	int err;

	for (j = 0; j < d->nqueues; j++) {
		struct ringnet_channel *c = &d->ch[j];

		netif_napi_add_weight(dev, &c->napi, ringnet_poll, RINGNET_NAPI_WEIGHT);
		err = ringnet_pool_create(c);
		if (err)
			goto fail_napi;
		err = xdp_rxq_info_reg(&c->xdp_rxq, dev, j, c->napi.napi_id);
		if (err)
			goto fail_pool;
		err = xdp_rxq_info_reg_mem_model(&c->xdp_rxq, MEM_TYPE_PAGE_POOL, c->pool);
		if (err)
			goto fail_rxq;
		continue;
fail_rxq:
		xdp_rxq_info_unreg(&c->xdp_rxq);
fail_pool:
		page_pool_destroy(c->pool);
		c->pool = NULL;
fail_napi:
		netif_napi_del(&c->napi);
		ringnet_channels_del(d, j);
		return err;
	}
	return 0;
}

/* Frees the first n doorbell vectors' handlers. */
static void ringnet_irqs_free(struct ringnet_domain *d, unsigned int n)
{
	unsigned int v;

	for (v = 0; v < n; v++) {
		irq_update_affinity_hint(d->ch[v].irq, NULL);
		free_irq(d->ch[v].irq, &d->ch[v]);
	}
}

/*
 * A handler per doorbell vector, vector v on the v-th CPU near the device
 * (an affinity and a hint for irqbalance): each channel's NAPI runs where
 * its vector lands. Until NAPI runs, a doorbell only masks itself (see
 * ringnet_irq()).
 */
static int ringnet_irqs_request(struct ringnet_domain *d)
{
	int node = dev_to_node(&d->bell->pdev->dev);
	unsigned int v;
	int err;

	for (v = 0; v < d->nqueues; v++) {
		struct ringnet_channel *c = &d->ch[v];

		snprintf(c->irq_name, sizeof(c->irq_name), RINGNET_DRV_NAME "-q%u", v);
		err = request_irq(c->irq, ringnet_irq, 0, c->irq_name, c);
		if (err) {
			ringnet_irqs_free(d, v);
			return err;
		}
		irq_set_affinity_and_hint(c->irq, cpumask_of(cpumask_local_spread(v, node)));
	}
	return 0;
}

/*
 * Starts d: the doorbell IRQ, ring0's MAC, NAPI, our entry UP, published.
 * Mirrored by ringnet_domain_stop().
 */
static int ringnet_domain_start(struct ringnet_domain *d)
{
	struct ringnet_priv *priv = d->priv;
	struct net_device *dev = priv->dev;
	struct pci_dev *bell = d->doorbell ? d->bell->pdev : NULL;
	const u8 *mac = d->ro->slots[d->self].mac;
	unsigned int v;
	int err;

	if (bell) {
		/* An MSI-X message is a write by the device: it needs bus mastering. */
		pci_set_master(bell);
		/*
		 * Not managed (PCI_IRQ_AFFINITY): a managed vector is shut down
		 * with its CPU, which our disable/enable pairing cannot follow.
		 * ringnet_irqs_request() spreads them instead.
		 */
		err = pci_alloc_irq_vectors(bell, d->nqueues, d->nqueues, PCI_IRQ_MSIX);
		if (err < 0)
			return dev_err_probe(&bell->dev, err,
					     "cannot allocate %u doorbell interrupts\n", d->nqueues);
		for (v = 0; v < d->nqueues; v++)
			d->ch[v].irq = pci_irq_vector(bell, v);
	}

	rtnl_lock();
	if (rtnl_dereference(priv->domain)) {
		dev_err(&d->roster_bar->pdev->dev, "%s already has a domain\n", dev->name);
		err = -EBUSY;
		goto err_unlock;
	}
	/* ring0's MAC is the host's: the one source and destination peers accept. */
	if (!ether_addr_equal(dev->dev_addr, mac)) {
		eth_hw_addr_set(dev, mac);
		call_netdevice_notifiers(NETDEV_CHANGEADDR, dev);
	}
	d->nchannels = priv->channels ? min(priv->channels, d->nqueues) :
		ringnet_default_channels(d);
	err = netif_set_real_num_rx_queues(dev, d->nchannels);
	if (err)
		goto err_unlock;
	err = ringnet_channels_add(d);
	if (err)
		goto err_unlock;
	if (bell) {
		err = ringnet_irqs_request(d);
		if (err)
			goto err_del_channels;
	}
	mutex_lock(&d->self_lock);
	err = ringnet_join(d);
	mutex_unlock(&d->self_lock);
	if (err)
		goto err_free_irq;
	/*
	 * Published and, if ring0 is up, polling in one RTNL section: ndo_open
	 * and ndo_stop find d with its NAPI in step, or do not find it at all.
	 */
	rcu_assign_pointer(priv->domain, d);
	if (netif_running(dev))
		ringnet_napi_start(d);
	rtnl_unlock();
	schedule_delayed_work(&d->peer_work, 0);
	return 0;

err_free_irq:
	if (bell)
		ringnet_irqs_free(d, d->nqueues);
err_del_channels:
	ringnet_channels_del(d, d->nqueues);
err_unlock:
	rtnl_unlock();
	if (bell)
		pci_free_irq_vectors(bell);
	return err;
}

/* Mirrors ringnet_domain_start(). */
static void ringnet_domain_stop(struct ringnet_domain *d)
{
	struct ringnet_priv *priv = d->priv;
	struct net_device *dev = priv->dev;
	u32 s;

	/* No address publishing or heartbeat from here on. */
	rtnl_lock();
	mutex_lock(&d->self_lock);
	d->leaving = true;
	mutex_unlock(&d->self_lock);
	rtnl_unlock();
	/* Not under RTNL: the peer work takes it (an announcement). */
	cancel_delayed_work_sync(&d->peer_work);

	rtnl_lock();
	if (netif_running(dev))
		ringnet_napi_stop(d);
	spin_lock_bh(&d->peers_lock);
	for (s = 0; s < KVMRING_PEERS_MAX; s++)
		ringnet_peer_forget(&d->peers[s]);
	spin_unlock_bh(&d->peers_lock);
	RCU_INIT_POINTER(priv->domain, NULL);
	/* A queue stopped for a peer of d would hold its frames for good. */
	if (netif_running(dev))
		netif_tx_wake_all_queues(dev);
	rtnl_unlock();
	/* No TX path or reader still holds d after this. */
	synchronize_net();
	/* Our rings are idle now. */
	ringnet_leave(d);

	if (d->doorbell) {
		ringnet_irqs_free(d, d->nqueues);
		pci_free_irq_vectors(d->bell->pdev);
	}
	rtnl_lock();
	ringnet_channels_del(d, d->nqueues);
	ringnet_update_carrier(priv);
	rtnl_unlock();
}

/* Marks every function of d as d's (or nobody's, with NULL). */
static void ringnet_domain_claim_bars(struct ringnet_domain *d, struct ringnet_domain *owner)
{
	u32 i;

	d->roster_bar->domain = owner;
	for (i = 0; i < d->nregions; i++)
		d->regions[i].bar->domain = owner;
	if (d->bell)
		d->bell->domain = owner;
}

/*
 * Assembles the domain whose roster is at rb. Returns 0, -EPROBE_DEFER
 * while a function it lists is not bound yet, or another error, logged
 * with what to do about it. Under ringnet_domain_lock.
 */
static int ringnet_domain_assemble(struct ringnet_bar *rb)
{
	struct ringnet_priv *priv = netdev_priv(ringnet_dev);
	struct device *dev = &rb->pdev->dev;
	struct ringnet_roster *ro;
	struct ringnet_domain *d;
	struct ringnet_why why;
	unsigned int j;
	int err, tries;

	lockdep_assert_held(&ringnet_domain_lock);
	ro = kzalloc(sizeof(*ro), GFP_KERNEL);
	if (!ro)
		return -ENOMEM;
	/* The host rewrites it only when a guest reconnects: a short wait is enough. */
	for (tries = 0; ; tries++) {
		err = ringnet_roster_read(rb->shm, rb->shm_size, rb->pdev->devfn, ro, &why);
		if (err != -EAGAIN || tries == 5)
			break;
		msleep(20);
	}
	ringnet_domain_name(err ? NULL : ro);
	if (err) {
		dev_err(dev, "roster refused: %s: run `ringctl host up` on the host (it writes every guest's roster), then load ringnet again\n",
			why.msg);
		err = err == -EAGAIN ? -EBUSY : err;
		goto err_free_ro;
	}

	d = kvzalloc(sizeof(*d), GFP_KERNEL);
	if (!d) {
		err = -ENOMEM;
		goto err_free_ro;
	}
	d->priv = priv;
	d->roster_bar = rb;
	d->ro = ro;
	d->ro_seq_seen = ro->seq;
	d->self = ro->self;
	d->max_peers = ro->max_peers;
	d->ring_size = ro->ring_size;
	d->nregions = ro->nregions;
	mutex_init(&d->self_lock);
	spin_lock_init(&d->peers_lock);
	u64_stats_init(&d->member_stats.syncp);
	INIT_DELAYED_WORK(&d->peer_work, ringnet_peer_work);
	for (j = 0; j < RINGNET_QUEUES_MAX; j++) {
		struct ringnet_channel *c = &d->ch[j];

		c->d = d;
		c->index = j;
		u64_stats_init(&c->napi_stats.syncp);
		u64_stats_init(&c->irq_stats.syncp);
		hrtimer_init(&c->poll_timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
		c->poll_timer.function = ringnet_poll_timer_fn;
		INIT_WORK(&c->dim.work, ringnet_dim_work);
	}

	err = ringnet_domain_regions(d);
	if (err)
		goto err_free_d;
	err = ringnet_domain_doorbell(d);
	if (err)
		goto err_free_d;
	err = ringnet_domain_queues(d);
	if (err)
		goto err_free_d;
	err = ringnet_domain_peers(d);
	if (err)
		goto err_free_d;
	err = ringnet_domain_start(d);
	if (err)
		goto err_free_d;
	ringnet_domain_claim_bars(d, d);

	netdev_info(priv->dev, "joined as slot %u (%s) of %u, generation %u: %u regions, %u KiB rings, %u queue pairs on %u channels, isolation %s, %s\n",
		    d->self, ro->slots[d->self].name, ro->max_peers, d->self_gen, ro->nregions,
		    ro->ring_size >> 10, d->nqueues, d->nchannels,
		    ro->isolation == KVMRING_ISOLATION_PAIR ? "pair" : "owner",
		    d->doorbell ? "doorbell" : "plain");
	return 0;

err_free_d:
	kvfree(d);
err_free_ro:
	kfree(ro);
	return err;
}

/* Takes d apart: every function of it stays bound, nobody's. Under ringnet_domain_lock. */
static void ringnet_domain_teardown(struct ringnet_domain *d, struct ringnet_bar *gone)
{
	struct net_device *dev = d->priv->dev;

	lockdep_assert_held(&ringnet_domain_lock);
	ringnet_domain_stop(d);
	ringnet_domain_claim_bars(d, NULL);
	netdev_info(dev, "left the domain (slot %u): %s is going\n", d->self,
		    pci_name(gone->pdev));
	kfree(d->ro);
	kvfree(d);
}

/* ---- binding ------------------------------------------------------------------------ */

/*
 * A function was bound and its BARs mapped. One that is not ours fails the
 * probe (ringnet_domain_ours()). The roster's function assembles its
 * domain and fails the probe if it cannot (-EPROBE_DEFER until the rest is
 * bound); any other may complete a domain whose roster waits. Returns 0 or
 * the probe's error.
 */
int ringnet_domain_bind(struct ringnet_bar *bar)
{
	struct ringnet_bar *rb, *waiting = NULL;
	int err = 0;

	mutex_lock(&ringnet_domain_lock);
	err = ringnet_domain_ours(bar);
	if (err)
		goto out;
	list_add_tail(&bar->node, &ringnet_bars);
	if (ringnet_is_roster(bar->pdev)) {
		err = ringnet_domain_assemble(bar);
		if (err)
			list_del(&bar->node);
		goto out;
	}
	/* A roster bound before a teardown waits for its functions to come back. */
	list_for_each_entry(rb, &ringnet_bars, node)
		if (ringnet_is_roster(rb->pdev) && !rb->domain)
			waiting = rb;
	if (waiting)
		ringnet_domain_assemble(waiting);	/* logs why not, if not */
out:
	mutex_unlock(&ringnet_domain_lock);
	return err;
}

/* A function is being unbound: its domain, if any, goes first. */
void ringnet_domain_unbind(struct ringnet_bar *bar)
{
	mutex_lock(&ringnet_domain_lock);
	if (bar->domain)
		ringnet_domain_teardown(bar->domain, bar);
	list_del(&bar->node);
	mutex_unlock(&ringnet_domain_lock);
}
