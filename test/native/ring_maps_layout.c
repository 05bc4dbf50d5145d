// SPDX-License-Identifier: GPL-2.0-only
/*
 * Prints the layout of bpf/ring_maps.h for the unit test that checks the
 * controller's codecs (src/xdp/codecs.ts) against it: sizes, offsets, flags,
 * stat indices with their names, and map names.
 *
 *   struct <name> <size>
 *   member <struct> <member> <offset> <size>
 *   const <name> <value>
 *   stat <xdp|tc> <index> <name>
 *   map <name>
 */
#include <stddef.h>
#include <stdio.h>

#include "ring_maps.h"

#define S(t) printf("struct %s %zu\n", #t, sizeof(struct t))
#define M(t, f) printf("member %s %s %zu %zu\n", #t, #f, offsetof(struct t, f), sizeof(((struct t *)0)->f))
#define C(name) printf("const %s %lld\n", #name, (long long)(name))
#define STAT_XDP(name, str) printf("stat xdp %d %s\n", RING_XDP_##name, str);
#define STAT_TC(name, str) printf("stat tc %d %s\n", RING_TC_##name, str);

int main(void)
{
	S(ring_peer_key);
	M(ring_peer_key, family);
	M(ring_peer_key, addr);

	S(ring_peer);
	M(ring_peer, ring_mac);
	M(ring_peer, flags);
	M(ring_peer, slot);

	S(ring_subnet4_key);
	M(ring_subnet4_key, prefixlen);
	M(ring_subnet4_key, addr);

	S(ring_subnet6_key);
	M(ring_subnet6_key, prefixlen);
	M(ring_subnet6_key, addr);

	S(ring_config);
	M(ring_config, ring_mac);
	M(ring_config, flags);
	M(ring_config, ring_ifindex);
	M(ring_config, nic_mac);
	M(ring_config, rsvd);

	S(ring_stat);
	M(ring_stat, packets);
	M(ring_stat, bytes);

	C(RING_PEERS_MAX);
	C(RING_SUBNETS_MAX);
	C(RING_DEV_KEY);
	C(RING_FAMILY_IPV4);
	C(RING_FAMILY_IPV6);
	C(RING_PEER_F_RING);
	C(RING_PEER_F_ORDINARY);
	C(RING_XDP_STAT_MAX);
	C(RING_TC_STAT_MAX);

	RING_XDP_STATS(STAT_XDP)
	RING_TC_STATS(STAT_TC)

	printf("map %s\n", RING_MAP_PEERS);
	printf("map %s\n", RING_MAP_SUBNETS4);
	printf("map %s\n", RING_MAP_SUBNETS6);
	printf("map %s\n", RING_MAP_DEV);
	printf("map %s\n", RING_MAP_XDP_STATS);
	printf("map %s\n", RING_MAP_TC_STATS);
	return 0;
}
