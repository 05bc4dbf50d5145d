/* SPDX-License-Identifier: (GPL-2.0-only WITH Linux-syscall-note OR BSD-2-Clause) */
/*
 * kvmring/kvmring_ioctl.h - the host module's interface (kvmring.ko).
 *
 * /dev/kvmring/control takes these ioctls from root (the node is 0600):
 *
 *   KVMRING_IOC_CREATE   a region: allocated on a NUMA node, zeroed, counted
 *                        against the module's max_bytes, an owned region
 *                        formatted (header, magic last), a roster left all
 *                        zero until KVMRING_IOC_ROSTER; it appears as
 *                        /dev/kvmring/NAME, a file QEMU maps with
 *                        memory-backend-file,mem-path=...,share=on (and
 *                        readonly=on for a reader).
 *   KVMRING_IOC_ROSTER   writes a roster's KVMRING_ROSTER_SIZE bytes into a
 *                        roster region: magic last the first time, under an
 *                        odd seq after that (kvmring_roster_publish()).
 *   KVMRING_IOC_DESTROY  removes a region; EBUSY while any file has it open
 *                        or mapped (the status names who).
 *
 * read() of the control node returns the status as text: one "region" line
 * per region and, indented under it, what its memory says (the owner's entry,
 * the roster's slots). Errors are the ioctl's errno; the kernel log says why.
 */
#ifndef KVMRING_IOCTL_H
#define KVMRING_IOCTL_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define KVMRING_NAME_MAX	192	/* with the NUL: [A-Za-z0-9._@+-], not starting with '.' */
#define KVMRING_IOC_ROSTER_SIZE	8192	/* KVMRING_ROSTER_SIZE, which abi.h checks */

#define KVMRING_KIND_ROSTER	1
#define KVMRING_KIND_OWNED	2

struct kvmring_ioc_create {
	char	name[KVMRING_NAME_MAX];
	__u64	size;		/* bytes, a power of two, at least a page */
	__s32	node;		/* NUMA node, or -1 for any */
	__u32	kind;		/* KVMRING_KIND_* */
	/* KVMRING_KIND_OWNED: the header kvmring_owned_format() writes */
	__u64	instance;
	__u32	owner;
	__u32	readers;
	__u32	ring_size;
	__u32	queues;
	__u64	rsvd[4];	/* zero */
};

/* The roster inline: no pointer, so the same layout for 32- and 64-bit callers. */
struct kvmring_ioc_roster {
	char	name[KVMRING_NAME_MAX];
	__u8	roster[KVMRING_IOC_ROSTER_SIZE];
};

struct kvmring_ioc_destroy {
	char	name[KVMRING_NAME_MAX];
};

#define KVMRING_IOC_MAGIC	0xc5
#define KVMRING_IOC_CREATE	_IOW(KVMRING_IOC_MAGIC, 1, struct kvmring_ioc_create)
#define KVMRING_IOC_ROSTER	_IOW(KVMRING_IOC_MAGIC, 2, struct kvmring_ioc_roster)
#define KVMRING_IOC_DESTROY	_IOW(KVMRING_IOC_MAGIC, 3, struct kvmring_ioc_destroy)

#endif /* KVMRING_IOCTL_H */
