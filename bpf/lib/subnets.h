/* SPDX-License-Identifier: GPL-2.0-only */
/* The inter-domain subnets: one LPM trie per IP version. */
#ifndef RING_LIB_SUBNETS_H
#define RING_LIB_SUBNETS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "ring_maps.h"

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, RING_SUBNETS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ring_subnet4_key);
	__type(value, __u32);
} ring_subnets4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, RING_SUBNETS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ring_subnet6_key);
	__type(value, __u32);
} ring_subnets6 SEC(".maps");

/* Is the address in a peer key inside one of the subnets? */
static __always_inline int ring_subnet_match(const struct ring_peer_key *k)
{
	struct ring_subnet4_key k4 = { .prefixlen = 32 };
	struct ring_subnet6_key k6 = { .prefixlen = 128 };

	if (k->family == RING_FAMILY_IPV4) {
		__builtin_memcpy(k4.addr, k->addr, sizeof(k4.addr));
		return bpf_map_lookup_elem(&ring_subnets4, &k4) != NULL;
	}
	__builtin_memcpy(k6.addr, k->addr, sizeof(k6.addr));
	return bpf_map_lookup_elem(&ring_subnets6, &k6) != NULL;
}

#endif /* RING_LIB_SUBNETS_H */
