// SPDX-License-Identifier: GPL-2.0-only
/*
 * xdp_verdict: one program per XDP verdict, for testing a driver's native XDP
 * (the ring0 lab tests attach each in turn with bpftool). Not loaded by ringctl.
 *   xdp_pass      every frame goes up the stack
 *   xdp_drop      every frame is dropped
 *   xdp_tx        every frame goes back out with its MACs swapped
 *   xdp_redirect  every frame goes to the device in redirect_to[0]
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} redirect_to SEC(".maps");

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("xdp")
int xdp_tx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	unsigned char tmp[ETH_ALEN];

	if ((void *)(eth + 1) > end)
		return XDP_DROP;
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	return XDP_TX;
}

SEC("xdp")
int xdp_redirect(struct xdp_md *ctx)
{
	return bpf_redirect_map(&redirect_to, 0, XDP_DROP);
}

char LICENSE[] SEC("license") = "GPL";
