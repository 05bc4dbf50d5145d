/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Co-resident peers by address: the ring_peers hash map, filled by ringctl
 * from ring0's peer table, and the lookup both programs share. tc_transparent
 * reuses xdp_ring's map (the controller hands it the same fd before load).
 */
#ifndef RING_LIB_PEERS_H
#define RING_LIB_PEERS_H

#include <linux/bpf.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>

#include "ring_maps.h"
#include "lib/parsing.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RING_PEERS_MAX);
	__type(key, struct ring_peer_key);
	__type(value, struct ring_peer);
} ring_peers SEC(".maps");

/* The destination of an IPv4 header as a peer key; *k must be zeroed. */
static __always_inline void ring_key_from_ip4(struct ring_peer_key *k, const struct iphdr *iph)
{
	k->family = RING_FAMILY_IPV4;
	__builtin_memcpy(k->addr, &iph->daddr, sizeof(iph->daddr));
}

static __always_inline void ring_key_from_ip6(struct ring_peer_key *k, const struct ipv6hdr *ip6h)
{
	k->family = RING_FAMILY_IPV6;
	__builtin_memcpy(k->addr, &ip6h->daddr, sizeof(ip6h->daddr));
}

/*
 * The network header at the cursor, of EtherType proto (network order): IPv4
 * or IPv6. Sets *iph or *ip6h (the other is left alone), fills *k (zeroed) with
 * its destination and leaves the cursor after it. Returns the L4 protocol, or
 * a negative ring_parse_err: RING_PARSE_NOT_IP for any other EtherType.
 */
static __always_inline int ring_parse_peer_key(struct ring_cursor *c, int proto,
					       struct ring_peer_key *k, struct iphdr **iph,
					       struct ipv6hdr **ip6h)
{
	int l4;

	if (proto == bpf_htons(ETH_P_IP)) {
		l4 = ring_parse_iphdr(c, iph);
		if (l4 >= 0)
			ring_key_from_ip4(k, *iph);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		l4 = ring_parse_ip6hdr(c, ip6h);
		if (l4 >= 0)
			ring_key_from_ip6(k, *ip6h);
	} else {
		l4 = RING_PARSE_NOT_IP;
	}
	return l4;
}

static __always_inline struct ring_peer *ring_peer_lookup(const struct ring_peer_key *k)
{
	return bpf_map_lookup_elem(&ring_peers, k);
}

#endif /* RING_LIB_PEERS_H */
