/* SPDX-License-Identifier: GPL-2.0-only */
/* Per-CPU counters: no atomics, the controller sums the CPUs. */
#ifndef RING_LIB_STATS_H
#define RING_LIB_STATS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "ring_maps.h"

/*
 * The type of a per-CPU stats array of max slots (enum ring_xdp_stat or
 * enum ring_tc_stat): RING_STATS_MAP(RING_XDP_STAT_MAX) xdp_stats SEC(".maps");
 */
#define RING_STATS_MAP(max)					\
	struct {						\
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);	\
		__uint(max_entries, max);			\
		__type(key, __u32);				\
		__type(value, struct ring_stat);		\
	}

static __always_inline void ring_stat_add(void *map, __u32 idx, __u64 bytes)
{
	struct ring_stat *s = bpf_map_lookup_elem(map, &idx);

	if (s) {
		s->packets++;
		s->bytes += bytes;
	}
}

/* A program's one exit: every packet counts once under its verdict, once under its reason. */
static __always_inline void ring_stat_count(void *map, __u32 verdict, __u32 reason, __u64 bytes)
{
	ring_stat_add(map, verdict, bytes);
	ring_stat_add(map, reason, bytes);
}

#endif /* RING_LIB_STATS_H */
