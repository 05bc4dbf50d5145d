/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Header parsing in the style of xdp-tools' parsing_helpers.h: a cursor walks
 * the frame, and every helper checks bounds against data_end before it
 * dereferences anything. Each helper returns the next protocol (in network
 * order) or a negative ring_parse_err, and leaves the cursor after its header.
 * Works for XDP (xdp_md) and TC (__sk_buff) alike: both hand us data/data_end.
 */
#ifndef RING_LIB_PARSING_H
#define RING_LIB_PARSING_H

#include <linux/types.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* 802.1Q and 802.1ad (QinQ): we look through this many tags, no more. */
#ifndef RING_VLAN_MAX_DEPTH
#define RING_VLAN_MAX_DEPTH 2
#endif /* RING_VLAN_MAX_DEPTH */

enum ring_parse_err {
	RING_PARSE_TRUNCATED = -1,	/* the header does not fit in the frame */
	RING_PARSE_INVALID = -2,	/* it fits, but its fields are impossible */
	RING_PARSE_VLAN_DEPTH = -3,	/* more tags than RING_VLAN_MAX_DEPTH */
	RING_PARSE_NOT_IP = -4,		/* neither IPv4 nor IPv6 (ring_parse_peer_key) */
};

struct ring_cursor {
	void *pos;
	void *end;
};

/* The 4 bytes of a VLAN tag after the MACs (linux/if_vlan.h is not uapi). */
struct ring_vlan_hdr {
	__be16 tci;
	__be16 encapsulated_proto;
};

static __always_inline int ring_proto_is_vlan(__be16 proto)
{
	return proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD);
}

/*
 * Ethernet plus up to RING_VLAN_MAX_DEPTH tags. On success *eth points at the
 * Ethernet header, *vlans holds the number of tags, and the cursor sits on the
 * network header. Returns the inner EtherType.
 */
static __always_inline int ring_parse_ethhdr(struct ring_cursor *c, struct ethhdr **eth,
					     int *vlans)
{
	struct ethhdr *h = c->pos;
	struct ring_vlan_hdr *vh;
	__be16 proto;
	int i;

	if ((void *)(h + 1) > c->end)
		return RING_PARSE_TRUNCATED;
	c->pos = h + 1;
	*eth = h;
	proto = h->h_proto;

	*vlans = 0;
#pragma unroll
	for (i = 0; i < RING_VLAN_MAX_DEPTH; i++) {
		if (!ring_proto_is_vlan(proto))
			break;
		vh = c->pos;
		if ((void *)(vh + 1) > c->end)
			return RING_PARSE_TRUNCATED;
		c->pos = vh + 1;
		proto = vh->encapsulated_proto;
		*vlans = i + 1;
	}
	if (ring_proto_is_vlan(proto))
		return RING_PARSE_VLAN_DEPTH;
	return proto;
}

/* IPv4: version 4, IHL at least 5 and the whole header (with options) present. */
static __always_inline int ring_parse_iphdr(struct ring_cursor *c, struct iphdr **iph)
{
	struct iphdr *h = c->pos;
	int hlen;

	if ((void *)(h + 1) > c->end)
		return RING_PARSE_TRUNCATED;
	if (h->version != 4 || h->ihl < 5)
		return RING_PARSE_INVALID;
	hlen = h->ihl * 4;
	if (c->pos + hlen > c->end)
		return RING_PARSE_TRUNCATED;
	c->pos += hlen;
	*iph = h;
	return h->protocol;
}

/* IPv6: version 6 and the fixed header present (extension headers are not ours). */
static __always_inline int ring_parse_ip6hdr(struct ring_cursor *c, struct ipv6hdr **ip6h)
{
	struct ipv6hdr *h = c->pos;

	if ((void *)(h + 1) > c->end)
		return RING_PARSE_TRUNCATED;
	if (h->version != 6)
		return RING_PARSE_INVALID;
	c->pos = h + 1;
	*ip6h = h;
	return h->nexthdr;
}

/* ICMPv6 types 133-137: router and neighbour solicitation and advertisement, redirect. */
#define RING_ICMPV6_ND_FIRST	133
#define RING_ICMPV6_ND_LAST	137

/* ICMPv6: its type (the cursor stays put: nothing after it is ours to parse). */
static __always_inline int ring_parse_icmp6_type(struct ring_cursor *c)
{
	__u8 *type = c->pos;

	if ((void *)(type + 1) > c->end)
		return RING_PARSE_TRUNCATED;
	return *type;
}

#endif /* RING_LIB_PARSING_H */
