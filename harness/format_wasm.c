// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * format_wasm.c - kmod/kvmring_format.c's functions for ringctl, as
 * WebAssembly (build/native/kvmring_format.wasm; src/host/format.ts loads
 * it). Only glue: scalars in, bytes through one static buffer whose layout
 * src/host/format.ts knows:
 *
 *   buf + 0                        the roster or header being built
 *                                  (a live roster for ..._publish())
 *   buf + KVMRING_ROSTER_SIZE      a roster to publish
 *   buf + 2 * KVMRING_ROSTER_SIZE  arguments: mac (6 bytes) at +0,
 *                                  name (32) at +8, address (16) at +64
 */
#include "kvmring_format.h"

#define ARGS	(2 * KVMRING_ROSTER_SIZE)

/* wasm32 hides symbols by default; --export-dynamic exports exactly these. */
#define EXPORT	__attribute__((visibility("default")))

static __u8 buf[3 * KVMRING_ROSTER_SIZE] __attribute__((aligned(8)));

EXPORT __u8 *kvmring_wasm_buf(void)
{
	return buf;
}

EXPORT int kvmring_wasm_roster_init(__u32 self, __u32 max_peers, __u32 flags, __u32 nregions,
			     __u32 ring_size, __u32 queues, __u32 isolation,
			     __u32 doorbell_devfn, __u64 instance)
{
	struct kvmring_roster_desc d = {
		.instance = instance, .self = self, .max_peers = max_peers, .flags = flags,
		.nregions = nregions, .ring_size = ring_size, .queues = queues,
		.isolation = isolation, .doorbell_devfn = (__u16)doorbell_devfn,
	};

	return kvmring_roster_init(buf, &d);
}

EXPORT int kvmring_wasm_roster_set_region(__u32 i, __u32 owner, __u32 readers, __u32 devfn,
				   __u64 size, __u64 instance)
{
	return kvmring_roster_set_region(buf, i, owner, readers, (__u16)devfn, size, instance);
}

EXPORT int kvmring_wasm_roster_set_slot(__u32 slot, __u32 doorbell_id, __u32 name_len)
{
	return kvmring_roster_set_slot(buf, slot, doorbell_id, buf + ARGS,
				       (const char *)buf + ARGS + 8, name_len);
}

EXPORT int kvmring_wasm_roster_set_addr(__u32 slot, __u32 k, __u32 family, __u32 prefix_len)
{
	return kvmring_roster_set_addr(buf, slot, k, (__u8)family, (__u8)prefix_len, buf + ARGS + 64);
}

EXPORT int kvmring_wasm_roster_check(void)
{
	return kvmring_roster_check(buf);
}

EXPORT void kvmring_wasm_roster_publish(void)
{
	kvmring_roster_publish(buf, buf + KVMRING_ROSTER_SIZE);
}

EXPORT int kvmring_wasm_owned_hdr(__u32 owner, __u32 readers, __u32 ring_size, __u32 queues,
			   __u64 size, __u64 instance)
{
	struct kvmring_owned_desc d = {
		.size = size, .instance = instance, .owner = owner, .readers = readers,
		.ring_size = ring_size, .queues = queues,
	};

	kvmring_owned_hdr_fill((struct kvmring_owned_hdr *)buf, &d);
	return kvmring_owned_check(&d);
}
