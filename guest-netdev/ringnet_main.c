// SPDX-License-Identifier: GPL-2.0-only
/*
 * ringnet.ko - the kvmring guest driver: the network device ring0.
 *
 * Each ivshmem PCI device (1af4:1110, plain or doorbell) is a region that the
 * host maps into every co-resident guest (layout: include/kvmring/abi.h). The
 * driver joins a region by claiming a slot in its peer table, publishes its
 * MAC and addresses, keeps a heartbeat, and moves Ethernet frames through one
 * single-producer single-consumer ring per ordered pair of peers (the ring
 * core, ringnet_ring.c). ring0 is one netdev for the peers of every region;
 * the module parameter ifname names it otherwise.
 *
 * TX picks the peer by destination MAC (broadcast and multicast go to every
 * live peer); each peer has a TX queue of its own, so a full ring stops only
 * the traffic for that peer. RX is NAPI, fed by doorbell interrupts or, on
 * ivshmem-plain, by a polling timer; frames are copied out of the region
 * (which other guests may rewrite at any time) before anyone parses them.
 *
 * Everything read from the region is hostile: the ring core checks indices
 * and lengths, ringnet_peer.c checks the peer table (read each word once,
 * then validate), and GSO/checksum metadata goes through ringnet_meta_check()
 * and virtio_net_hdr_to_skb() (ringnet_datapath.c).
 */
#include <linux/inetdevice.h>
#include <linux/module.h>
#include <linux/rtnetlink.h>
#include <net/addrconf.h>

#include "ringnet.h"

static char *ifname = "ring%d";
module_param(ifname, charp, 0444);
MODULE_PARM_DESC(ifname,
		 "name of the network device; %d takes the first free number (default ring%d)");

struct net_device *ringnet_dev;

static int ringnet_inetaddr_event(struct notifier_block *nb, unsigned long ev, void *ptr)
{
	if (ringnet_dev)
		schedule_work(&((struct ringnet_priv *)netdev_priv(ringnet_dev))->addr_work);
	return NOTIFY_DONE;
}

static struct notifier_block ringnet_inetaddr_nb = { .notifier_call = ringnet_inetaddr_event };
static struct notifier_block ringnet_inet6addr_nb = { .notifier_call = ringnet_inetaddr_event };

/* Our device renamed: its debugfs directory follows. Under RTNL. */
static int ringnet_netdev_event(struct notifier_block *nb, unsigned long ev, void *ptr)
{
	struct net_device *dev = netdev_notifier_info_to_dev(ptr);

	if (ev == NETDEV_CHANGENAME && dev == ringnet_dev)
		ringnet_debugfs_rename(netdev_priv(dev));
	return NOTIFY_DONE;
}

static struct notifier_block ringnet_netdev_nb = { .notifier_call = ringnet_netdev_event };

/* ---- net_device_ops ------------------------------------------------------------ */

/* NAPI on for r, and a first poll. Under RTNL, with r published or being published. */
static void ringnet_napi_start(struct ringnet_region *r)
{
	napi_enable(&r->napi);
	ringnet_napi_schedule_bh(r);
}

/* NAPI off for r. Under RTNL. */
static void ringnet_napi_stop(struct ringnet_region *r)
{
	napi_disable(&r->napi);
	/*
	 * Only a poll arms the timer, so the cancel comes after napi_disable():
	 * before it, a running poll could arm the timer again. A timer that
	 * fires meanwhile finds NAPI disabled and schedules nothing.
	 */
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
		netdev_warn(dev, "XDP needs an MTU of at most %lu, the device has %u\n",
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
		r->member[s] = &p->m;
		spin_lock_init(&p->tx_lock);
		spin_lock_init(&p->rx_lock);
		u64_stats_init(&p->tx_stats.syncp);
		u64_stats_init(&p->rx_stats.syncp);
	}
	u64_stats_init(&r->napi_stats.syncp);
	u64_stats_init(&r->irq_stats.syncp);
	u64_stats_init(&r->member_stats.syncp);
	mutex_init(&r->self_lock);
	spin_lock_init(&r->peers_lock);
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
		dev_err(d, "%s already serves %d regions\n", dev->name, RINGNET_MAX_REGIONS);
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
	{ PCI_DEVICE(PCI_VENDOR_ID_REDHAT_QUMRANET, RINGNET_PCI_DEVICE_IVSHMEM) },
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
}

static int __init ringnet_init(void)
{
	struct ringnet_priv *priv;
	struct net_device *dev;
	int err;

	/* alloc_netdev_mqs() takes a name that fits IFNAMSIZ on trust. */
	if (!dev_valid_name(ifname)) {
		pr_err(RINGNET_DRV_NAME ": ifname \"%s\" is not a valid interface name\n", ifname);
		return -EINVAL;
	}
	dev = alloc_netdev_mqs(sizeof(*priv), ifname, NET_NAME_PREDICTABLE, ringnet_setup,
			       RINGNET_TXQS, 1);
	if (!dev)
		return -ENOMEM;
	priv = netdev_priv(dev);
	priv->dev = dev;
	INIT_WORK(&priv->addr_work, ringnet_addr_work);
	mutex_init(&priv->carrier_lock);
	eth_hw_addr_random(dev);

	err = register_netdev(dev);
	if (err)
		goto err_free_netdev;
	netif_carrier_off(dev);
	ringnet_dev = dev;

	register_inetaddr_notifier(&ringnet_inetaddr_nb);
	register_inet6addr_notifier(&ringnet_inet6addr_nb);

	err = ringnet_nl_init();
	if (err)
		goto err_unregister_netdev;
	ringnet_debugfs_init(priv);
	err = register_netdevice_notifier(&ringnet_netdev_nb);
	if (err)
		goto err_debugfs_exit;

	err = pci_register_driver(&ringnet_pci_driver);
	if (err)
		goto err_netdev_nb;
	return 0;

err_netdev_nb:
	unregister_netdevice_notifier(&ringnet_netdev_nb);
err_debugfs_exit:
	ringnet_debugfs_exit();
	ringnet_nl_exit();
err_unregister_netdev:
	unregister_inet6addr_notifier(&ringnet_inet6addr_nb);
	unregister_inetaddr_notifier(&ringnet_inetaddr_nb);
	cancel_work_sync(&priv->addr_work);
	ringnet_dev = NULL;
	unregister_netdev(dev);
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
	/* No peer work notifies any more; dumps and readers finish here. */
	unregister_netdevice_notifier(&ringnet_netdev_nb);
	ringnet_debugfs_exit();
	ringnet_nl_exit();
	unregister_inet6addr_notifier(&ringnet_inet6addr_nb);
	unregister_inetaddr_notifier(&ringnet_inetaddr_nb);
	cancel_work_sync(&priv->addr_work);
	ringnet_dev = NULL;
	unregister_netdev(dev);
	prog = rcu_dereference_protected(priv->xdp_prog, true);
	if (prog)
		bpf_prog_put(prog);
	free_netdev(dev);
}

module_init(ringnet_init);
module_exit(ringnet_exit);

MODULE_DESCRIPTION("kvmring: shared-memory network device ring0 between co-resident VMs");
MODULE_AUTHOR("The kvmring authors");
MODULE_LICENSE("GPL");
MODULE_VERSION(RINGNET_DRV_VERSION);
