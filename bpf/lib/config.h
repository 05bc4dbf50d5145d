/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Load-time settings and the MAC rewrite that uses them. ringctl writes
 * ring_cfg into .rodata before load; the verifier then sees constants.
 */
#ifndef RING_LIB_CONFIG_H
#define RING_LIB_CONFIG_H

#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

#include "ring_maps.h"

const volatile struct ring_config ring_cfg = {};

/* Whether the frame is addressed to the NIC's own MAC (ring_cfg.nic_mac). */
static __always_inline int ring_to_nic(const struct ethhdr *eth)
{
	__u8 diff = 0;
	int i;

	/* Byte by byte, volatile reads: see ring_rewrite_eth(). */
#pragma unroll
	for (i = 0; i < ETH_ALEN; i++)
		diff |= eth->h_dest[i] ^ ring_cfg.nic_mac[i];
	return !diff;
}

/* Address a frame to a peer on ring0: its ring MAC, from ring0's MAC. */
static __always_inline void ring_rewrite_eth(struct ethhdr *eth, const struct ring_peer *peer,
					     __be16 proto)
{
	int i;

	__builtin_memcpy(eth->h_dest, peer->ring_mac, ETH_ALEN);
	/* Byte by byte: a volatile read each, so clang cannot fold in the {} default. */
#pragma unroll
	for (i = 0; i < ETH_ALEN; i++)
		eth->h_source[i] = ring_cfg.ring_mac[i];
	eth->h_proto = proto;
}

#endif /* RING_LIB_CONFIG_H */
