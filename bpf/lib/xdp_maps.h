/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xdp_ring's own maps: ring0 as a redirect target and its stats. A header so
 * that the test stand-in for xdp_ring (test/fixtures/bpf/xdp_ring_reject.bpf.c)
 * has the very same maps.
 */
#ifndef RING_LIB_XDP_MAPS_H
#define RING_LIB_XDP_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "ring_maps.h"
#include "lib/stats.h"

/* Key RING_DEV_KEY -> ring0's ifindex. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} ring_dev SEC(".maps");

RING_STATS_MAP(RING_XDP_STAT_MAX) xdp_stats SEC(".maps");

#endif /* RING_LIB_XDP_MAPS_H */
