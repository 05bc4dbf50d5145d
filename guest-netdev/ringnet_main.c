// SPDX-License-Identifier: GPL-2.0-only
/*
 * ringnet.ko - the kvmring guest driver: the network device ring0.
 *
 * ABI v2 (include/kvmring/abi.h): the host maps into each guest a roster it
 * alone writes and the regions the roster lists, each written by one guest
 * only (its owner; read-only to its readers). Every ivshmem PCI function
 * (1af4:1110, plain or doorbell) binds here and has its BARs mapped; the
 * one at the roster's place assembles ring0's domain (ringnet_domain.c):
 * our slot, our peers and their MACs, addresses and doorbell ids, and for
 * each peer the queue pairs the roster offers, each a single-producer
 * single-consumer ring each way whose halves lie in the two guests'
 * regions (the ring core, ringnet_ring.c). ring0 is one netdev; the module
 * parameter ifname names it otherwise.
 *
 * TX picks the peer by destination MAC among the roster's (broadcast and
 * multicast go to every live peer) and the queue pair of the sending CPU;
 * each queue pair has a TX queue of its own, so a full ring stops only the
 * traffic on it. RX is NAPI per channel (ethtool -L), fed by the doorbell
 * device's vector of each queue or, without doorbells, by a polling timer;
 * frames are copied out of the peer's region (which its owner may rewrite
 * at any time) before anyone parses them.
 *
 * Everything a peer wrote is hostile: the ring core checks indices and
 * lengths, ringnet_peer.c reads each peer's entry once and believes only
 * what the roster confirms, and GSO/checksum metadata goes through
 * ringnet_meta_check() and virtio_net_hdr_to_skb() (ringnet_datapath.c).
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

static bool napi_threaded = true;
module_param(napi_threaded, bool, 0444);
MODULE_PARM_DESC(napi_threaded,
		 "poll ring0's channels in kernel threads (napi/ring0-N) rather than in softirq; /sys/class/net/ring0/threaded changes it later (default on)");

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

static int ringnet_open(struct net_device *dev)
{
	struct ringnet_priv *priv = netdev_priv(dev);
	struct ringnet_domain *d = rtnl_dereference(priv->domain);

	/* Queues first: the first poll only wakes queues whose peer cannot take more. */
	netif_tx_start_all_queues(dev);
	if (d)
		ringnet_napi_start(d);
	ringnet_update_carrier(priv);
	WRITE_ONCE(priv->announce, true);
	return 0;
}

static int ringnet_stop(struct net_device *dev)
{
	struct ringnet_priv *priv = netdev_priv(dev);
	struct ringnet_domain *d = rtnl_dereference(priv->domain);

	/*
	 * Each TX queue's lock, not just its bit: a sender holding it (pktgen in
	 * a burst) finishes its run, and with it the run's publish, first.
	 */
	netif_tx_disable(dev);
	if (d)
		ringnet_napi_stop(d);
	return 0;
}

static int ringnet_change_mtu(struct net_device *dev, int mtu)
{
	struct ringnet_priv *priv = netdev_priv(dev);
	struct ringnet_domain *d;

	if (rtnl_dereference(priv->xdp_prog) && mtu > RINGNET_XDP_MAX_MTU) {
		netdev_err(dev, "MTU %d is too large for XDP (at most %lu): detach the program first\n",
			   mtu, (unsigned long)RINGNET_XDP_MAX_MTU);
		return -EINVAL;
	}
	dev->mtu = mtu;
	d = rtnl_dereference(priv->domain);
	if (d)
		ringnet_publish_mtu(d);
	return 0;
}

/*
 * ring0's MAC is the host's: the roster gives it, and peers accept frames
 * from us only with it as their source. Setting the one it has is no change.
 */
static int ringnet_set_mac_address(struct net_device *dev, void *addr)
{
	const struct sockaddr *sa = addr;

	if (ether_addr_equal((const u8 *)sa->sa_data, dev->dev_addr))
		return 0;
	netdev_err(dev, "the host decides ring0's MAC (%pM): run `ringctl host up --guest gN,mac=...` on the host instead\n",
		   dev->dev_addr);
	return -EPERM;
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

/*
 * Every ivshmem function is probed and has its BARs mapped: BAR0
 * (registers) and BAR2 (memory, write-back; read-only ones too, which we
 * only read). Whether it is ours, and what it is for, the roster and
 * BAR2's magic say (ringnet_domain_bind()); another program's ivshmem
 * device is left unbound.
 */
static int ringnet_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct device *d = &pdev->dev;
	struct ringnet_bar *bar;
	resource_size_t start, len;
	int err;

	err = pcim_enable_device(pdev);
	if (err)
		return dev_err_probe(d, err, "cannot enable the ivshmem device\n");

	bar = devm_kzalloc(d, sizeof(*bar), GFP_KERNEL);
	if (!bar)
		return -ENOMEM;
	bar->pdev = pdev;

	err = pcim_iomap_regions(pdev, BIT(IVSHMEM_BAR_REGS), RINGNET_DRV_NAME);
	if (err)
		return dev_err_probe(d, err, "cannot map BAR0 (registers)\n");
	bar->regs = pcim_iomap_table(pdev)[IVSHMEM_BAR_REGS];

	start = pci_resource_start(pdev, IVSHMEM_BAR_SHMEM);
	len = pci_resource_len(pdev, IVSHMEM_BAR_SHMEM);
	if (!start || !len)
		return dev_err_probe(d, -ENODEV, "no shared memory in BAR2\n");
	if (!devm_request_mem_region(d, start, len, RINGNET_DRV_NAME))
		return dev_err_probe(d, -EBUSY, "BAR2 is in use\n");
	bar->shm = devm_memremap(d, start, len, MEMREMAP_WB);
	if (IS_ERR(bar->shm))
		return dev_err_probe(d, PTR_ERR(bar->shm), "cannot map BAR2\n");
	bar->shm_size = len;

	pci_set_drvdata(pdev, bar);
	return ringnet_domain_bind(bar);
}

/* Mirrors ringnet_probe(); devres unmaps the BARs after it. */
static void ringnet_remove(struct pci_dev *pdev)
{
	ringnet_domain_unbind(pci_get_drvdata(pdev));
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
	dev->priv_flags |= IFF_DISABLE_NETPOLL;
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
	err = ringnet_domain_init();
	if (err)
		return err;
	dev = alloc_netdev_mqs(sizeof(*priv), ifname, NET_NAME_PREDICTABLE, ringnet_setup,
			       RINGNET_TXQS, RINGNET_QUEUES_MAX);
	if (!dev)
		return -ENOMEM;
	priv = netdev_priv(dev);
	priv->dev = dev;
	INIT_WORK(&priv->addr_work, ringnet_addr_work);
	mutex_init(&priv->carrier_lock);
	ringnet_coalesce_init(priv);
	/* Until a roster gives ring0 its MAC. */
	eth_hw_addr_random(dev);

	err = register_netdev(dev);
	if (err)
		goto err_free_netdev;
	netif_carrier_off(dev);
	/*
	 * Threaded NAPI: the scheduler weighs each channel's poll against the
	 * tasks that read what it receives. In softirq a poll runs ahead of
	 * them, and a flood of small datagrams fills sockets that their reader
	 * never gets the CPU to empty (design.md, data path). No channel
	 * exists yet: each one's kthread starts with netif_napi_add_weight().
	 */
	if (napi_threaded) {
		rtnl_lock();
		err = dev_set_threaded(dev, true);
		rtnl_unlock();
		if (err)
			pr_warn(RINGNET_DRV_NAME ": threaded NAPI is off (%d): ring0 polls in softirq\n", err);
	}
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
