// SPDX-License-Identifier: GPL-2.0-only
/*
 * tc_transparent: TC egress on eth1 for transparent mode. Locally originated
 * traffic for a co-resident peer's ordinary (eth1) address is re-addressed to
 * the peer's ring MAC and sent out of ring0 instead; anything else leaves on
 * eth1 as before, and so does IPv6 neighbour discovery, whoever it is for.
 * When the peer leaves, ringctl deletes its entry and the traffic falls back
 * to eth1 (same addresses: open connections survive).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "ring_maps.h"
#include "lib/parsing.h"
#include "lib/peers.h"
#include "lib/stats.h"
#include "lib/config.h"

RING_STATS_MAP(RING_TC_STAT_MAX) tc_stats SEC(".maps");

SEC("tc")
int tc_transparent(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ring_cursor c = { .pos = data, .end = data_end };
	struct ring_peer_key key = {};
	__u32 verdict = RING_TC_OK;
	__u64 bytes = skb->len;
	struct ring_peer *peer;
	struct ipv6hdr *ip6h;
	struct ethhdr *eth;
	struct iphdr *iph;
	int action = TC_ACT_OK;
	__u32 reason;
	int proto, vlans, l4, icmp6_type;

	/* A tag in the skb (offloaded) or in the frame: a VLAN device's traffic. */
	if (skb->vlan_present) {
		reason = RING_TC_VLAN;
		goto out;
	}
	proto = ring_parse_ethhdr(&c, &eth, &vlans);
	if (proto < 0 || vlans) {
		reason = proto < 0 && proto != RING_PARSE_VLAN_DEPTH ? RING_TC_MALFORMED : RING_TC_VLAN;
		goto out;
	}

	l4 = ring_parse_peer_key(&c, proto, &key, &iph, &ip6h);
	if (l4 < 0) {
		reason = l4 == RING_PARSE_NOT_IP ? RING_TC_NOT_IP : RING_TC_MALFORMED;
		goto out;
	}
	/*
	 * Neighbour discovery is about eth1's link: a unicast solicitation
	 * probing a peer's eth1 address (NUD) must reach it there, or the
	 * answer never comes and the neighbour entry fails.
	 */
	if (proto == bpf_htons(ETH_P_IPV6) && l4 == IPPROTO_ICMPV6) {
		icmp6_type = ring_parse_icmp6_type(&c);
		if (icmp6_type < 0) {
			reason = RING_TC_MALFORMED;
			goto out;
		}
		if (icmp6_type >= RING_ICMPV6_ND_FIRST && icmp6_type <= RING_ICMPV6_ND_LAST) {
			reason = RING_TC_ND;
			goto out;
		}
	}

	/* Forwarded traffic entered through another device: leave it alone. */
	if (skb->ingress_ifindex) {
		reason = RING_TC_FORWARDED;
		goto out;
	}
	peer = ring_peer_lookup(&key);
	if (!peer || !(peer->flags & RING_PEER_F_ORDINARY)) {
		reason = RING_TC_NO_PEER;
		goto out;
	}
	if (!ring_cfg.ring_ifindex) {
		reason = RING_TC_NO_RING;
		goto out;
	}
	ring_rewrite_eth(eth, peer, proto);
	action = bpf_redirect(ring_cfg.ring_ifindex, 0);
	verdict = action == TC_ACT_REDIRECT ? RING_TC_REDIRECT : RING_TC_SHOT;
	reason = RING_TC_PEER;

out:
	ring_stat_count(&tc_stats, verdict, reason, bytes);
	return action;
}

char _license[] SEC("license") = "GPL";
