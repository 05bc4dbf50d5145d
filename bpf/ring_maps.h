/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The contract between the BPF programs (xdp_ring, tc_transparent) and ringctl:
 * map names, key and value layouts, load-time settings and stat indices. The
 * controller's codecs (src/xdp/codecs.ts) mirror this file; a compiled test
 * (test/native/ring_maps_layout.c) prints every size and offset for the unit
 * test that compares them. Change both sides together.
 *
 * Byte order: addresses and MACs are in network order (as on the wire); every
 * other integer is in host order.
 */
#ifndef RING_MAPS_H
#define RING_MAPS_H

#include <linux/types.h>

/*
 * Map names (BPF object names are at most 15 characters). The controller pins
 * each under /sys/fs/bpf/ringctl/<ifname>/ with the same name.
 */
#define RING_MAP_PEERS		"ring_peers"	/* hash: ring_peer_key -> ring_peer */
#define RING_MAP_SUBNETS4	"ring_subnets4"	/* LPM trie: ring_subnet4_key -> __u32 */
#define RING_MAP_SUBNETS6	"ring_subnets6"	/* LPM trie: ring_subnet6_key -> __u32 */
#define RING_MAP_DEV		"ring_dev"	/* devmap: key 0 -> ring0's ifindex */
#define RING_MAP_XDP_STATS	"xdp_stats"	/* per-CPU array: enum ring_xdp_stat -> ring_stat */
#define RING_MAP_TC_STATS	"tc_stats"	/* per-CPU array: enum ring_tc_stat -> ring_stat */

#define RING_PEERS_MAX		1024
#define RING_SUBNETS_MAX	64
#define RING_DEV_KEY		0

/* Address families in ring_peer_key.family (not AF_*: these are the IP versions). */
#define RING_FAMILY_IPV4	4
#define RING_FAMILY_IPV6	6

/* A peer's address: IPv4 in addr[0..3] with addr[4..15] zero, or IPv6. */
struct ring_peer_key {
	__u32 family;
	__u8 addr[16];
};

/* The address is reachable over the ring (its ring0 address, inter-domain subnet). */
#define RING_PEER_F_RING	(1U << 0)
/*
 * The address is the peer's ordinary (eth1) address: transparent mode sends
 * locally originated traffic for it into ring0.
 */
#define RING_PEER_F_ORDINARY	(1U << 1)

struct ring_peer {
	__u8 ring_mac[6];	/* the peer's MAC on ring0: the rewritten destination */
	__u16 flags;		/* RING_PEER_F_* */
	__u32 slot;		/* the peer's slot in the region's peer table */
};

/* LPM trie keys: prefixlen counts bits of addr. Values are a __u32, reserved (0). */
struct ring_subnet4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct ring_subnet6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/*
 * Load-time settings: `const volatile struct ring_config ring_cfg` in each
 * program's .rodata, written by the controller before load.
 */
struct ring_config {
	__u8 ring_mac[6];	/* ring0's own MAC: the rewritten source */
	__u16 flags;		/* reserved, 0 */
	__u32 ring_ifindex;	/* ring0's ifindex (tc_transparent's bpf_redirect target) */
	/*
	 * The NIC's own MAC (xdp_ring): only frames addressed to it are
	 * redirected, so a promiscuous NIC does not copy a neighbour's frames
	 * into the ring.
	 */
	__u8 nic_mac[6];
	__u16 rsvd;		/* 0 */
};

/* One counter in a per-CPU stats array. */
struct ring_stat {
	__u64 packets;
	__u64 bytes;
};

/*
 * XDP stats: every frame counts once under its verdict (the first five slots
 * are the XDP action codes, so the verdict indexes directly) and once under
 * its reason. X(name-in-C, name-for-humans).
 */
#define RING_XDP_STATS(X)						\
	X(ABORTED,	"aborted")	/* verdict XDP_ABORTED */	\
	X(DROP,		"drop")		/* verdict XDP_DROP */		\
	X(PASS,		"pass")		/* verdict XDP_PASS */		\
	X(TX,		"tx")		/* verdict XDP_TX */		\
	X(REDIRECT,	"redirect")	/* verdict XDP_REDIRECT */	\
	X(NOT_IP,	"not_ip")	/* ARP, LLDP, ...: neither IPv4 nor IPv6 */ \
	X(MALFORMED,	"malformed")	/* truncated or invalid header */ \
	X(VLAN_DEPTH,	"vlan_depth")	/* more VLAN tags than we parse */ \
	X(NO_MATCH,	"no_match")	/* IP, neither a subnet nor a peer */ \
	X(NO_PEER,	"no_peer")	/* in an inter-domain subnet, no peer has it */ \
	X(PEER,		"peer")		/* a peer's address: redirected */ \
	X(NO_RING,	"no_ring")	/* a peer's address, but ring_dev is empty */ \
	X(NOT_TO_US,	"not_to_us")	/* a peer's address, in a frame for another MAC */ \
	X(VLAN,		"vlan")		/* VLAN-tagged: ring0 has no VLANs to carry it in */ \
	X(FORWARDING_OFF, "forwarding_off") /* a peer's address, but the NIC does not forward */

#define RING_STAT_ENUM_XDP(name, str) RING_XDP_##name,
enum ring_xdp_stat {
	RING_XDP_STATS(RING_STAT_ENUM_XDP)
	RING_XDP_STAT_MAX
};
#undef RING_STAT_ENUM_XDP

/* TC stats (transparent mode, eth1 egress): a verdict and a reason per packet. */
#define RING_TC_STATS(X)						\
	X(OK,		"ok")		/* verdict TC_ACT_OK: leaves on eth1 */ \
	X(SHOT,		"shot")		/* verdict TC_ACT_SHOT: bpf_redirect refused */ \
	X(REDIRECT,	"redirect")	/* verdict TC_ACT_REDIRECT: into ring0 */ \
	X(NOT_IP,	"not_ip")	/* neither IPv4 nor IPv6 */	\
	X(MALFORMED,	"malformed")	/* truncated or invalid header */ \
	X(VLAN,		"vlan")		/* VLAN-tagged: not ours to divert */ \
	X(FORWARDED,	"forwarded")	/* not locally originated */	\
	X(NO_PEER,	"no_peer")	/* not a peer's ordinary address */ \
	X(PEER,		"peer")		/* a peer's ordinary address: redirected */ \
	X(NO_RING,	"no_ring")	/* a peer's address, but no ring ifindex */ \
	X(ND,		"nd")		/* IPv6 neighbour discovery: belongs to eth1's link */

#define RING_STAT_ENUM_TC(name, str) RING_TC_##name,
enum ring_tc_stat {
	RING_TC_STATS(RING_STAT_ENUM_TC)
	RING_TC_STAT_MAX
};
#undef RING_STAT_ENUM_TC

#endif /* RING_MAPS_H */
