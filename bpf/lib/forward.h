/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Whether this guest forwards what arrives on the NIC. A frame for a peer's
 * address that reached eth1's MAC is one this guest is asked to route, and
 * xdp_ring routing it into ring0 is forwarding: a guest with forwarding off
 * (net.ipv4.conf.eth1.forwarding, net.ipv6.conf.eth1.forwarding) must not do
 * it behind the stack's back.
 *
 * bpf_fib_lookup() answers with the kernel's own setting, read per packet:
 * BPF_FIB_LKUP_RET_FWD_DISABLED before it looks at any route. So a sysctl
 * change takes effect with the next frame and there is no copy of the setting
 * for ringctl to load or keep in step. Only that answer matters here; the
 * route it finds is ring0's, and BPF_FIB_LOOKUP_DIRECT (the main table, no
 * rules) keeps the lookup short. It costs one lookup per frame redirected
 * (bench:xdp, verdict mode: some 50 ns for IPv4, 150 ns for IPv6), which buys
 * a setting that cannot go stale: a copy in a map would be only as fresh as
 * the last time ringctl looked.
 */
#ifndef RING_LIB_FORWARD_H
#define RING_LIB_FORWARD_H

#include <linux/bpf.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* AF_INET and AF_INET6 (linux/socket.h does not build for BPF). */
#define RING_AF_INET	2
#define RING_AF_INET6	10

/* The flow label and traffic class of an IPv6 header, as bpf_fib_lookup wants them. */
#define RING_IPV6_FLOWINFO_MASK	bpf_htonl(0x0FFFFFFF)

/*
 * True when the kernel would not forward the packet that arrived on ctx's
 * device: exactly one of iph and ip6h is set.
 */
static __always_inline int ring_forwarding_off(struct xdp_md *ctx, const struct iphdr *iph,
					       const struct ipv6hdr *ip6h)
{
	struct bpf_fib_lookup p = {};

	p.ifindex = ctx->ingress_ifindex;
	if (iph) {
		p.family = RING_AF_INET;
		p.tos = iph->tos;
		p.l4_protocol = iph->protocol;
		p.tot_len = bpf_ntohs(iph->tot_len);
		p.ipv4_src = iph->saddr;
		p.ipv4_dst = iph->daddr;
	} else if (ip6h) {
		p.family = RING_AF_INET6;
		p.flowinfo = *(const __be32 *)ip6h & RING_IPV6_FLOWINFO_MASK;
		p.l4_protocol = ip6h->nexthdr;
		p.tot_len = bpf_ntohs(ip6h->payload_len);
		__builtin_memcpy(p.ipv6_src, &ip6h->saddr, sizeof(p.ipv6_src));
		__builtin_memcpy(p.ipv6_dst, &ip6h->daddr, sizeof(p.ipv6_dst));
	} else {
		return 0;
	}
	return bpf_fib_lookup(ctx, &p, sizeof(p), BPF_FIB_LOOKUP_DIRECT) == BPF_FIB_LKUP_RET_FWD_DISABLED;
}

#endif /* RING_LIB_FORWARD_H */
