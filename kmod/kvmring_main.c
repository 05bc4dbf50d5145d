// SPDX-License-Identifier: GPL-2.0
/*
 * kvmring.ko - the host's region provider (ABI v2).
 *
 * `ringctl host up --provider kvmring` asks it, through ioctls on
 * /dev/kvmring/control (kvmring/kvmring_ioctl.h), for every roster and owned
 * region of a setup. Each region is memory of its own: physically contiguous
 * (and so huge-page aligned, for a region of 2 MiB and more) where the page
 * allocator can give it, otherwise in smaller chunks; on the NUMA node asked
 * for; zeroed; counted against max_bytes; an owned region formatted by
 * kvmring_format.c, the C that ringctl runs as WebAssembly for /dev/shm.
 * Each region is a character device, /dev/kvmring/NAME, that QEMU maps with
 * memory-backend-file,mem-path=/dev/kvmring/NAME,share=on (readonly=on for a
 * reader): it learns the size by seeking to the end, and a file opened
 * read-only never gets a writable mapping, whatever mprotect() is asked
 * later. A region that a file holds open or mapped is not destroyed (EBUSY;
 * the status says who); unloading frees them all (no file can be open then:
 * every open file holds the module).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cdev.h>
#include <linux/ctype.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/idr.h>
#include <linux/log2.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "kvmring/kvmring_ioctl.h"
#include "kvmring_format.h"

static_assert(KVMRING_IOC_ROSTER_SIZE == KVMRING_ROSTER_SIZE);

#define KVMRING_MINORS		1024
#define KVMRING_STATUS_MAX	(256 * 1024)

static unsigned long max_bytes = 1UL << 30;
module_param(max_bytes, ulong, 0644);
MODULE_PARM_DESC(max_bytes, "bytes all regions together may take (default 1 GiB, at least 1 MiB)");

/**
 * struct kvmring_mapper - one mapping of a region, for the status and EBUSY.
 * @list: in kvmring_region.mappers.
 * @vma: the mapping (its vm_ops open/close add and remove the entry).
 * @pid: the thread group that mapped it.
 * @comm: its command.
 * @writable: whether the mapping may write.
 */
struct kvmring_mapper {
	struct list_head	list;
	struct vm_area_struct	*vma;
	pid_t			pid;
	char			comm[TASK_COMM_LEN];
	bool			writable;
};

/**
 * struct kvmring_region - a roster or owned region and its character device.
 * @list: in kvmring_regions.
 * @name: the device's name under /dev/kvmring/.
 * @kind: KVMRING_KIND_*.
 * @size: bytes.
 * @node: the NUMA node asked for (NUMA_NO_NODE: any).
 * @pages: @size >> PAGE_SHIFT order-0 pages (split from larger chunks).
 * @vaddr: the kernel's mapping of @pages (vmap), for formatting and status.
 * @chunks: allocations the region took: 1 is physically contiguous.
 * @min_order: the smallest chunk's order.
 * @devt: the device number; its minor is in kvmring_minors.
 * @dev: /dev/kvmring/@name.
 * @openers: files open on the device.
 * @mappers: struct kvmring_mapper list.
 * @nr_mappers: entries in @mappers, and mappings it could not record.
 * @ready: memory, format and device are there (a region being created is
 *         listed, to reserve its name and bytes, but not yet usable).
 * @owned: what an owned region was formatted with (the status shows it).
 *
 * Everything here but the memory's contents is owned by kvmring_lock: the
 * region list, each region's counts and mappers, the minors, the total. The
 * contents belong to the guests, except what the host writes (an owned
 * region's header at creation, a roster), which is written under
 * kvmring_lock too, so that two writers of a roster cannot interleave.
 * Guest-written memory (an owner's entry) is only read, with READ_ONCE, for
 * the status, and never trusted.
 */
struct kvmring_region {
	struct list_head	list;
	char			name[KVMRING_NAME_MAX];
	u32			kind;
	u64			size;
	int			node;
	struct page		**pages;
	void			*vaddr;
	unsigned int		chunks;
	unsigned int		min_order;
	dev_t			devt;
	struct device		*dev;
	unsigned int		openers;
	struct list_head	mappers;
	unsigned int		nr_mappers;
	bool			ready;
	struct kvmring_owned_desc owned;
};

static DEFINE_MUTEX(kvmring_lock);
static LIST_HEAD(kvmring_regions);
static DEFINE_IDA(kvmring_minors);
static u64 kvmring_total;
static dev_t kvmring_devt;
static struct cdev kvmring_cdev;
static struct class *kvmring_class;

/* ---- memory --------------------------------------------------------------- */

static void kvmring_free_pages(struct kvmring_region *r, unsigned long n)
{
	while (n--)
		__free_page(r->pages[n]);
}

/*
 * Fills r->pages with zeroed pages on r->node: the whole region in one chunk
 * if the allocator has it, else in the largest chunks it has, down to single
 * pages. Chunks are split into order-0 pages, each with its own count, so
 * that vm_map_pages() can insert them.
 */
static int kvmring_alloc(struct kvmring_region *r)
{
	unsigned long npages = r->size >> PAGE_SHIFT, done = 0, i;
	unsigned int order = min_t(unsigned int, ilog2(npages), MAX_ORDER - 1);

	r->pages = kvcalloc(npages, sizeof(*r->pages), GFP_KERNEL);
	if (!r->pages)
		return -ENOMEM;
	r->min_order = order;
	while (done < npages) {
		unsigned int o = min_t(unsigned int, order, ilog2(npages - done));
		gfp_t gfp = GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN | (o ? __GFP_NORETRY : 0);
		struct page *page = alloc_pages_node(r->node, gfp, o);

		if (!page) {
			if (!o)
				goto err_free;
			order = o - 1;	/* smaller chunks from here on */
			continue;
		}
		if (o)
			split_page(page, o);
		for (i = 0; i < (1UL << o); i++)
			r->pages[done + i] = page + i;
		done += 1UL << o;
		r->chunks++;
		r->min_order = min(r->min_order, o);
	}
	r->vaddr = vmap(r->pages, npages, VM_MAP, PAGE_KERNEL);
	if (!r->vaddr)
		goto err_free;
	return 0;

err_free:
	kvmring_free_pages(r, done);
	kvfree(r->pages);
	r->pages = NULL;
	return -ENOMEM;
}

static void kvmring_release_memory(struct kvmring_region *r)
{
	vunmap(r->vaddr);
	kvmring_free_pages(r, r->size >> PAGE_SHIFT);
	kvfree(r->pages);
}

/* ---- regions (under kvmring_lock) ---------------------------------------- */

static struct kvmring_region *kvmring_find(const char *name)
{
	struct kvmring_region *r;

	lockdep_assert_held(&kvmring_lock);
	list_for_each_entry(r, &kvmring_regions, list)
		if (!strcmp(r->name, name))
			return r;
	return NULL;
}

static struct kvmring_region *kvmring_find_devt(dev_t devt)
{
	struct kvmring_region *r;

	lockdep_assert_held(&kvmring_lock);
	list_for_each_entry(r, &kvmring_regions, list)
		if (r->devt == devt)
			return r;
	return NULL;
}

/* A device name: [A-Za-z0-9._@+-], not empty, not starting with '.', NUL-terminated. */
static int kvmring_check_name(char *name)
{
	size_t i, n = strnlen(name, KVMRING_NAME_MAX);

	if (!n || n == KVMRING_NAME_MAX || name[0] == '.')
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (!isalnum(name[i]) && !strchr("._@+-", name[i]))
			return -EINVAL;
	return 0;
}

/* Tells the log who holds @r, for the EBUSY of a destroy. */
static void kvmring_log_holders(const struct kvmring_region *r)
{
	const struct kvmring_mapper *m;

	pr_info("%s is busy: %u open file(s), %u mapping(s)\n", r->name, r->openers, r->nr_mappers);
	list_for_each_entry(m, &r->mappers, list)
		pr_info("%s is mapped by pid %d (%s)%s\n", r->name, m->pid, m->comm,
			m->writable ? " read-write" : "");
}

static void kvmring_free_region(struct kvmring_region *r)
{
	lockdep_assert_held(&kvmring_lock);
	device_destroy(kvmring_class, r->devt);
	ida_free(&kvmring_minors, MINOR(r->devt));
	list_del(&r->list);
	kvmring_total -= r->size;
	kvmring_release_memory(r);
	kfree(r);
}

static int kvmring_create(struct kvmring_ioc_create *c)
{
	struct kvmring_owned_desc d = {
		.size = c->size, .instance = c->instance, .owner = c->owner,
		.readers = c->readers, .ring_size = c->ring_size, .queues = c->queues,
	};
	struct kvmring_region *r;
	int minor, err;

	if (kvmring_check_name(c->name) || c->rsvd[0] || c->rsvd[1] || c->rsvd[2] || c->rsvd[3])
		return -EINVAL;
	if (c->size < PAGE_SIZE || !is_power_of_2(c->size) || c->size > max_bytes)
		return -EINVAL;
	if (c->node != NUMA_NO_NODE &&
	    (c->node < 0 || c->node >= MAX_NUMNODES || !node_online(c->node)))
		return -EINVAL;
	if (c->kind == KVMRING_KIND_OWNED) {
		err = kvmring_owned_check(&d);
		if (err)
			return err;
	} else if (c->kind != KVMRING_KIND_ROSTER || c->size < KVMRING_ROSTER_SIZE) {
		return -EINVAL;
	}

	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	strscpy(r->name, c->name, sizeof(r->name));
	r->kind = c->kind;
	r->size = c->size;
	r->node = c->node;
	r->owned = d;
	INIT_LIST_HEAD(&r->mappers);

	/* The name and the bytes are reserved first; allocating and zeroing run unlocked. */
	mutex_lock(&kvmring_lock);
	err = -EEXIST;
	if (kvmring_find(r->name))
		goto err_unlock;
	err = -EDQUOT;
	if (kvmring_total + r->size > max_bytes) {
		pr_info("%s: %llu bytes would pass max_bytes=%lu (%llu in use)\n", r->name,
			r->size, max_bytes, kvmring_total);
		goto err_unlock;
	}
	minor = ida_alloc_max(&kvmring_minors, KVMRING_MINORS - 1, GFP_KERNEL);
	if (minor < 0) {
		err = minor;
		goto err_unlock;
	}
	r->devt = MKDEV(MAJOR(kvmring_devt), minor);
	kvmring_total += r->size;
	list_add_tail(&r->list, &kvmring_regions);	/* no memory yet: open() refuses it */
	mutex_unlock(&kvmring_lock);

	err = kvmring_alloc(r);
	if (!err && r->kind == KVMRING_KIND_OWNED)
		kvmring_owned_format(r->vaddr, &d);

	mutex_lock(&kvmring_lock);
	if (err)
		goto err_unreserve;
	r->dev = device_create(kvmring_class, NULL, r->devt, r, "%s", r->name);
	if (IS_ERR(r->dev)) {
		err = PTR_ERR(r->dev);
		kvmring_release_memory(r);
		goto err_unreserve;
	}
	r->ready = true;
	mutex_unlock(&kvmring_lock);
	pr_debug("%s: %llu bytes on node %d in %u chunk(s)\n", r->name, r->size, r->node, r->chunks);
	return 0;

err_unreserve:
	list_del(&r->list);
	kvmring_total -= r->size;
	ida_free(&kvmring_minors, minor);
err_unlock:
	mutex_unlock(&kvmring_lock);
	kfree(r);
	return err;
}

static int kvmring_destroy(const char *name)
{
	struct kvmring_region *r;
	int err = 0;

	mutex_lock(&kvmring_lock);
	r = kvmring_find(name);
	if (!r) {
		err = -ENOENT;
	} else if (!r->ready || r->openers || r->nr_mappers) {
		kvmring_log_holders(r);
		err = -EBUSY;
	} else {
		kvmring_free_region(r);
	}
	mutex_unlock(&kvmring_lock);
	return err;
}

static int kvmring_set_roster(void __user *u)
{
	struct kvmring_ioc_roster *a;
	struct kvmring_region *r;
	int err;

	a = memdup_user(u, sizeof(*a));
	if (IS_ERR(a))
		return PTR_ERR(a);
	a->name[KVMRING_NAME_MAX - 1] = '\0';
	err = kvmring_roster_check(a->roster);
	if (err)
		goto out;
	mutex_lock(&kvmring_lock);
	r = kvmring_find(a->name);
	if (!r || !r->ready)
		err = -ENOENT;
	else if (r->kind != KVMRING_KIND_ROSTER)
		err = -EINVAL;
	else
		kvmring_roster_publish(r->vaddr, a->roster);
	mutex_unlock(&kvmring_lock);
out:
	kfree(a);
	return err;
}

/* ---- status ---------------------------------------------------------------- */

static const char *kvmring_kind_name(u32 kind)
{
	return kind == KVMRING_KIND_ROSTER ? "roster" : "owned";
}

/* The owner's entry, as the guest wrote it: numbers only, nothing trusted. */
static int kvmring_show_entry(char *buf, size_t len, const struct kvmring_region *r)
{
	struct kvmring_peer *e = r->vaddr + KVMRING_OWNED_ENTRY_OFF;
	u64 state = READ_ONCE(e->state);
	u8 mac[6];

	memcpy(mac, e->mac, sizeof(mac));
	return scnprintf(buf, len,
			 "  entry owner=%u readers=0x%x state=%s gen=%u heartbeat=%llu doorbell_id=%u mac=%pM\n",
			 r->owned.owner, r->owned.readers,
			 KVMRING_PEER_STATE(state) == KVMRING_PEER_UP ? "up" : "free",
			 KVMRING_PEER_GEN(state), READ_ONCE(e->heartbeat), READ_ONCE(e->doorbell_id), mac);
}

/* The roster's header and slots, as the host wrote them. */
static int kvmring_show_roster(char *buf, size_t len, const struct kvmring_region *r)
{
	const struct kvmring_roster_hdr *h = r->vaddr;
	const struct kvmring_roster_slot *s = r->vaddr + KVMRING_ROSTER_SLOTS_OFF;
	u32 i, n = min_t(u32, h->max_peers, KVMRING_PEERS_MAX);
	int at;

	if (h->magic != KVMRING_ROSTER_MAGIC)
		return scnprintf(buf, len, "  roster not written yet\n");
	at = scnprintf(buf, len, "  roster self=%u max_peers=%u nregions=%u seq=%u\n",
		       h->self, h->max_peers, h->nregions, h->seq);
	for (i = 0; i < n; i++, s++)
		if (s->flags & KVMRING_ROSTER_SLOT_F_PRESENT)
			at += scnprintf(buf + at, len - at, "  slot %u name=%.32s mac=%pM doorbell_id=%u\n",
					i, s->name, s->mac, s->doorbell_id);
	return at;
}

/* The whole status as text; the caller frees it. */
static char *kvmring_status(size_t *len)
{
	const size_t max = KVMRING_STATUS_MAX;
	const struct kvmring_mapper *m;
	struct kvmring_region *r;
	unsigned int n = 0;
	char *buf;
	int at;

	buf = kvmalloc(max, GFP_KERNEL);
	if (!buf)
		return NULL;
	mutex_lock(&kvmring_lock);
	list_for_each_entry(r, &kvmring_regions, list)
		n += r->ready;
	at = scnprintf(buf, max, "kvmring regions=%u bytes=%llu max_bytes=%lu\n", n, kvmring_total,
		       max_bytes);
	list_for_each_entry(r, &kvmring_regions, list) {
		if (!r->ready)
			continue;
		at += scnprintf(buf + at, max - at,
				"region %s kind=%s size=%llu node=%d actual_node=%d contiguous=%s chunks=%u min_order=%u openers=%u mappers=%u",
				r->name, kvmring_kind_name(r->kind), r->size, r->node,
				page_to_nid(r->pages[0]), r->chunks == 1 ? "yes" : "no", r->chunks,
				r->min_order, r->openers, r->nr_mappers);
		list_for_each_entry(m, &r->mappers, list)
			at += scnprintf(buf + at, max - at, " %d:%s:%s", m->pid, m->comm,
					m->writable ? "rw" : "ro");
		at += scnprintf(buf + at, max - at, "\n");
		if (r->kind == KVMRING_KIND_OWNED)
			at += kvmring_show_entry(buf + at, max - at, r);
		else
			at += kvmring_show_roster(buf + at, max - at, r);
	}
	mutex_unlock(&kvmring_lock);
	*len = at;
	return buf;
}

/* ---- the control node ------------------------------------------------------ */

static long kvmring_ctl_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *u = (void __user *)arg;
	union {
		struct kvmring_ioc_create	create;
		struct kvmring_ioc_destroy	destroy;
	} a;

	if (cmd == KVMRING_IOC_ROSTER)
		return kvmring_set_roster(u);	/* 8 KiB: not on the stack */
	if (_IOC_SIZE(cmd) > sizeof(a) || copy_from_user(&a, u, _IOC_SIZE(cmd)))
		return -EFAULT;
	switch (cmd) {
	case KVMRING_IOC_CREATE:
		return kvmring_create(&a.create);
	case KVMRING_IOC_DESTROY:
		a.destroy.name[KVMRING_NAME_MAX - 1] = '\0';
		return kvmring_destroy(a.destroy.name);
	default:
		return -ENOTTY;
	}
}

/* The status, built anew at each read(): one read() of 256 KiB sees one snapshot. */
static ssize_t kvmring_ctl_read(struct file *file, char __user *ubuf, size_t count, loff_t *pos)
{
	size_t len;
	char *buf = kvmring_status(&len);
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	n = simple_read_from_buffer(ubuf, count, pos, buf, len);
	kvfree(buf);
	return n;
}

/* ---- region devices -------------------------------------------------------- */

static void kvmring_vm_open(struct vm_area_struct *vma)
{
	struct kvmring_region *r = vma->vm_private_data;
	struct kvmring_mapper *m = kzalloc(sizeof(*m), GFP_KERNEL);

	mutex_lock(&kvmring_lock);
	r->nr_mappers++;
	if (m) {
		m->vma = vma;
		m->pid = task_tgid_nr(current);
		get_task_comm(m->comm, current);
		m->writable = vma->vm_flags & VM_MAYWRITE;
		list_add_tail(&m->list, &r->mappers);
	}
	mutex_unlock(&kvmring_lock);
}

static void kvmring_vm_close(struct vm_area_struct *vma)
{
	struct kvmring_region *r = vma->vm_private_data;
	struct kvmring_mapper *m;

	mutex_lock(&kvmring_lock);
	r->nr_mappers--;
	list_for_each_entry(m, &r->mappers, list) {
		if (m->vma == vma) {
			list_del(&m->list);
			kfree(m);
			break;
		}
	}
	mutex_unlock(&kvmring_lock);
}

static const struct vm_operations_struct kvmring_vm_ops = {
	.open	= kvmring_vm_open,
	.close	= kvmring_vm_close,
};

static int kvmring_open(struct inode *inode, struct file *file)
{
	struct kvmring_region *r;

	mutex_lock(&kvmring_lock);
	r = kvmring_find_devt(inode->i_rdev);
	if (r && !r->ready)
		r = NULL;
	if (r)
		r->openers++;
	mutex_unlock(&kvmring_lock);
	if (!r)
		return -ENODEV;
	file->private_data = r;
	return 0;
}

static int kvmring_release(struct inode *inode, struct file *file)
{
	struct kvmring_region *r = file->private_data;

	mutex_lock(&kvmring_lock);
	r->openers--;
	mutex_unlock(&kvmring_lock);
	return 0;
}

/*
 * A file opened without write access never maps the region writable: not
 * now (EACCES) and not after an mprotect() (VM_MAYWRITE cleared). The VFS
 * does the same for MAP_SHARED; this keeps the guarantee the module's own.
 */
static int kvmring_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct kvmring_region *r = file->private_data;
	int err;

	/*
	 * VM_MAYSHARE, not VM_SHARED: do_mmap() clears VM_SHARED (and
	 * VM_MAYWRITE) for MAP_SHARED of a file opened read-only, QEMU's
	 * readonly=on. A MAP_PRIVATE copy of a region would share nothing.
	 */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (!(file->f_mode & FMODE_WRITE)) {
		if (vma->vm_flags & VM_WRITE)
			return -EACCES;
		vma->vm_flags &= ~VM_MAYWRITE;
	}
	vma->vm_flags |= VM_DONTEXPAND | VM_DONTDUMP;
	err = vm_map_pages(vma, r->pages, r->size >> PAGE_SHIFT);
	if (err)
		return err;
	vma->vm_private_data = r;
	vma->vm_ops = &kvmring_vm_ops;
	kvmring_vm_open(vma);
	return 0;
}

static loff_t kvmring_llseek(struct file *file, loff_t off, int whence)
{
	struct kvmring_region *r = file->private_data;

	/* QEMU learns the region's size by seeking to its end. */
	return fixed_size_llseek(file, off, whence, r->size);
}

static const struct file_operations kvmring_region_fops = {
	.owner		= THIS_MODULE,
	.open		= kvmring_open,
	.release	= kvmring_release,
	.mmap		= kvmring_mmap,
	.llseek		= kvmring_llseek,
};

static const struct file_operations kvmring_ctl_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= kvmring_ctl_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.read		= kvmring_ctl_read,
	.llseek		= noop_llseek,
};

static struct miscdevice kvmring_misc = {
	.minor		= MISC_DYNAMIC_MINOR,
	.name		= "kvmring",
	.nodename	= "kvmring/control",
	.fops		= &kvmring_ctl_fops,
	.mode		= 0600,
};

static char *kvmring_devnode(struct device *dev, umode_t *mode)
{
	if (mode)
		*mode = 0600;
	return kasprintf(GFP_KERNEL, "kvmring/%s", dev_name(dev));
}

/* ---- module ------------------------------------------------------------------ */

static int __init kvmring_init(void)
{
	int err;

	if (max_bytes < (1UL << 20)) {
		pr_err("max_bytes=%lu is below 1 MiB\n", max_bytes);
		return -EINVAL;
	}
	err = alloc_chrdev_region(&kvmring_devt, 0, KVMRING_MINORS, "kvmring");
	if (err)
		return err;
	cdev_init(&kvmring_cdev, &kvmring_region_fops);
	kvmring_cdev.owner = THIS_MODULE;
	err = cdev_add(&kvmring_cdev, kvmring_devt, KVMRING_MINORS);
	if (err)
		goto err_chrdev;
	kvmring_class = class_create(THIS_MODULE, "kvmring");
	if (IS_ERR(kvmring_class)) {
		err = PTR_ERR(kvmring_class);
		goto err_cdev;
	}
	kvmring_class->devnode = kvmring_devnode;
	err = misc_register(&kvmring_misc);
	if (err)
		goto err_class;
	pr_info("/dev/kvmring/control: up to %lu MiB of regions\n", max_bytes >> 20);
	return 0;

err_class:
	class_destroy(kvmring_class);
err_cdev:
	cdev_del(&kvmring_cdev);
err_chrdev:
	unregister_chrdev_region(kvmring_devt, KVMRING_MINORS);
	return err;
}

static void __exit kvmring_exit(void)
{
	struct kvmring_region *r, *tmp;

	misc_deregister(&kvmring_misc);
	/* No file is open: each would hold the module. */
	mutex_lock(&kvmring_lock);
	list_for_each_entry_safe(r, tmp, &kvmring_regions, list)
		kvmring_free_region(r);
	mutex_unlock(&kvmring_lock);
	class_destroy(kvmring_class);
	cdev_del(&kvmring_cdev);
	unregister_chrdev_region(kvmring_devt, KVMRING_MINORS);
	ida_destroy(&kvmring_minors);
}

module_init(kvmring_init);
module_exit(kvmring_exit);

MODULE_DESCRIPTION("kvmring: the host's shared regions for inter-VM networking (ABI v2)");
MODULE_LICENSE("GPL");
