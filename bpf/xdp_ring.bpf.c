// SPDX-License-Identifier: GPL-2.0-only
/*
 * xdp_ring: XDP on the ordinary NIC (eth1). A frame whose destination IP is a
 * co-resident peer's address is re-addressed to that peer's ring MAC and
 * redirected into ring0, if the frame was addressed to the NIC itself (a
 * promiscuous NIC also sees frames for its neighbours, which must not be
 * copied into the ring) and this guest forwards what arrives on the NIC (the
 * redirect is routing: see lib/forward.h); everything else, VLAN-tagged
 * frames included, passes
 * untouched. Every frame counts once under its verdict and once under its
 * reason (ring_maps.h).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "ring_maps.h"
#include "lib/parsing.h"
#include "lib/peers.h"
#include "lib/subnets.h"
#include "lib/stats.h"
#include "lib/config.h"
#include "lib/forward.h"
#include "lib/xdp_maps.h"

/*
 * Hand a peer's frame to ring0: rewrite both MACs, redirect. The frame is left
 * as it was unless the redirect is certain to be attempted. Returns the
 * verdict, sets *reason.
 */
static __always_inline __u32 ring_xdp_to_ring(struct ethhdr *eth, const struct ring_peer *peer,
					      __be16 proto, __u32 *reason)
{
	__u32 key = RING_DEV_KEY;

	if (!bpf_map_lookup_elem(&ring_dev, &key)) {
		*reason = RING_XDP_NO_RING;
		return XDP_PASS;
	}
	ring_rewrite_eth(eth, peer, proto);
	*reason = RING_XDP_PEER;
	/* ring_dev emptied since the lookup: the frame is no longer eth1's. */
	return bpf_redirect_map(&ring_dev, key, XDP_ABORTED);
}

SEC("xdp")
int xdp_ring(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ring_cursor c = { .pos = data, .end = data_end };
	__u64 bytes = data_end - data;
	struct ring_peer_key key = {};
	struct ipv6hdr *ip6h = NULL;
	struct iphdr *iph = NULL;
	struct ring_peer *peer;
	struct ethhdr *eth;
	__u32 action = XDP_PASS;
	__u32 reason;
	int proto, vlans, l4;

	proto = ring_parse_ethhdr(&c, &eth, &vlans);
	if (proto < 0) {
		reason = proto == RING_PARSE_VLAN_DEPTH ? RING_XDP_VLAN_DEPTH : RING_XDP_MALFORMED;
		goto out;
	}
	/*
	 * A tagged frame belongs to its VLAN. ring0 is one flat link with no VLANs
	 * of its own: redirecting the frame, tag stripped or kept, would carry it
	 * into another broadcast domain. The stack hands it to its VLAN device.
	 */
	if (vlans) {
		reason = RING_XDP_VLAN;
		goto out;
	}

	l4 = ring_parse_peer_key(&c, proto, &key, &iph, &ip6h);
	if (l4 < 0) {
		reason = l4 == RING_PARSE_NOT_IP ? RING_XDP_NOT_IP : RING_XDP_MALFORMED;
		goto out;
	}

	peer = ring_peer_lookup(&key);
	if (peer && !ring_to_nic(eth))
		reason = RING_XDP_NOT_TO_US;	/* the stack drops it as another host's */
	else if (peer && ring_forwarding_off(ctx, iph, ip6h))
		reason = RING_XDP_FORWARDING_OFF;	/* the stack drops it too */
	else if (peer)
		action = ring_xdp_to_ring(eth, peer, proto, &reason);
	else if (ring_subnet_match(&key))
		reason = RING_XDP_NO_PEER;	/* the kernel routes it */
	else
		reason = RING_XDP_NO_MATCH;

out:
	ring_stat_count(&xdp_stats, action, reason, bytes);
	return action;
}

char _license[] SEC("license") = "GPL";
