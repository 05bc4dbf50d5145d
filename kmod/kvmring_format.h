/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kvmring_format.h - the bytes the host writes under ABI v2: an owned
 * region's header and a guest's roster, and the order they are written in.
 *
 * One implementation (kvmring_format.c), compiled into kvmring.ko, into
 * userspace C and into WebAssembly for ringctl, so that the module and
 * `ringctl host up --provider shm` cannot disagree on a byte.
 */
#ifndef KVMRING_FORMAT_H
#define KVMRING_FORMAT_H

#include "kvmring_shim.h"
#include "kvmring/abi.h"

/* An owned region as the host plans it. */
struct kvmring_owned_desc {
	__u64	size;		/* bytes, a power of two: the BAR's */
	__u64	instance;
	__u32	owner;		/* slot */
	__u32	readers;	/* bit s: slot s reads it */
	__u32	ring_size;
	__u32	queues;
};

/* The roster's header fields (seq is 0, magic and sizes are the ABI's). */
struct kvmring_roster_desc {
	__u64	instance;
	__u32	self;
	__u32	max_peers;
	__u32	flags;		/* KVMRING_ROSTER_F_* */
	__u32	nregions;
	__u32	ring_size;
	__u32	queues;
	__u32	isolation;	/* KVMRING_ISOLATION_* */
	__u16	doorbell_devfn;
	__u16	rsvd;
};

int kvmring_owned_check(const struct kvmring_owned_desc *d);
void kvmring_owned_hdr_fill(struct kvmring_owned_hdr *h, const struct kvmring_owned_desc *d);
void kvmring_owned_format(void *mem, const struct kvmring_owned_desc *d);

int kvmring_roster_init(void *roster, const struct kvmring_roster_desc *d);
int kvmring_roster_set_region(void *roster, __u32 i, __u32 owner, __u32 readers, __u16 devfn,
			      __u64 size, __u64 instance);
int kvmring_roster_set_slot(void *roster, __u32 slot, __u32 doorbell_id, const __u8 *mac,
			    const char *name, __u32 name_len);
int kvmring_roster_set_addr(void *roster, __u32 slot, __u32 k, __u8 family, __u8 prefix_len,
			    const __u8 *addr);
int kvmring_roster_check(const void *roster);
void kvmring_roster_publish(void *mem, const void *roster);

#endif /* KVMRING_FORMAT_H */
