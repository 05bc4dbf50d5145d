/* SPDX-License-Identifier: GPL-2.0-only */
/* Per-CPU counters: no atomics, the controller sums the CPUs. */
#ifndef RING_LIB_STATS_H
#define RING_LIB_STATS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "ring_maps.h"

static __always_inline void ring_stat_add(void *map, __u32 idx, __u64 bytes)
{
	struct ring_stat *s = bpf_map_lookup_elem(map, &idx);

	if (s) {
		s->packets++;
		s->bytes += bytes;
	}
}

#endif /* RING_LIB_STATS_H */
