// SPDX-License-Identifier: GPL-2.0
/*
 * kvmring.ko - the host-side region provider.
 *
 * Allocates the shared region once, at load, and offers it as /dev/kvmring so that
 * QEMU can map it into every guest (memory-backend-file,mem-path=/dev/kvmring,
 * share=on, behind an ivshmem-plain device). After that the host is out of the
 * data path: the guests format and use the region themselves.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/vmalloc.h>

#define KVMRING_MIN_SIZE	(1UL << 20)
#define KVMRING_MAX_SIZE	(1UL << 30)

static unsigned long size = 16UL << 20;
module_param(size, ulong, 0444);
MODULE_PARM_DESC(size, "region size in bytes, a power of two from 1 MiB to 1 GiB (default 16 MiB)");

static void *kvmring_region;

static int kvmring_mmap(struct file *file, struct vm_area_struct *vma)
{
	unsigned long len = vma->vm_end - vma->vm_start;

	if (vma->vm_pgoff || len > size)
		return -EINVAL;
	return remap_vmalloc_range(vma, kvmring_region, 0);
}

static loff_t kvmring_llseek(struct file *file, loff_t off, int whence)
{
	/* QEMU learns the region's size by seeking to its end. */
	return fixed_size_llseek(file, off, whence, size);
}

static const struct file_operations kvmring_fops = {
	.owner		= THIS_MODULE,
	.mmap		= kvmring_mmap,
	.llseek		= kvmring_llseek,
};

static struct miscdevice kvmring_misc = {
	.minor		= MISC_DYNAMIC_MINOR,
	.name		= "kvmring",
	.fops		= &kvmring_fops,
	.mode		= 0600,
};

static int __init kvmring_init(void)
{
	int err;

	if (size < KVMRING_MIN_SIZE || size > KVMRING_MAX_SIZE || !is_power_of_2(size)) {
		pr_err("kvmring: size=%lu is not a power of two from 1 MiB to 1 GiB\n", size);
		return -EINVAL;
	}

	kvmring_region = vmalloc_user(size);
	if (!kvmring_region)
		return -ENOMEM;

	err = misc_register(&kvmring_misc);
	if (err)
		goto err_free_region;

	pr_info("kvmring: %lu KiB region at /dev/kvmring\n", size >> 10);
	return 0;

err_free_region:
	vfree(kvmring_region);
	return err;
}

static void __exit kvmring_exit(void)
{
	misc_deregister(&kvmring_misc);
	vfree(kvmring_region);
}

module_init(kvmring_init);
module_exit(kvmring_exit);

MODULE_DESCRIPTION("kvmring shared region provider for inter-VM networking");
MODULE_LICENSE("GPL");
