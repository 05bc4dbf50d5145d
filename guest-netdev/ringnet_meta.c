// SPDX-License-Identifier: GPL-2.0-only
/*
 * ringnet_meta.c - GSO and checksum metadata of a received frame; see
 * ringnet_meta.h for the rules.
 *
 * Everything here works on the receiver's private copy of the frame's head,
 * never on the shared region, so plain reads will do; every read is still
 * bounds-checked against headlen first, since the bytes came from another
 * guest.
 */
#include <linux/if_ether.h>
#include <linux/in.h>

#include "ringnet_meta.h"

#define RINGNET_VLAN_HLEN	4
#define RINGNET_VLAN_TAGS_MAX	2
#define RINGNET_IPV4_HLEN	20
#define RINGNET_IPV6_HLEN	40
#define RINGNET_TCP_HLEN	20
#define RINGNET_UDP_HLEN	8
#define RINGNET_TCP_CSUM_OFF	16	/* offsetof(struct tcphdr, check) */
#define RINGNET_UDP_CSUM_OFF	6	/* offsetof(struct udphdr, check) */

/* The largest headers the check needs must fit in the head the caller copies. */
_Static_assert(ETH_HLEN + RINGNET_VLAN_TAGS_MAX * RINGNET_VLAN_HLEN + 60 + 60 <= RINGNET_META_HEADLEN,
	       "Ethernet, two tags, IPv4 and TCP with options exceed RINGNET_META_HEADLEN");

/* Where the headers of a frame are, as far as the head shows them. */
struct ringnet_hdrs {
	u16	proto;		/* EtherType after the tags, host order */
	u32	l4;		/* end of the IPv4/IPv6 header, or of Ethernet and tags */
	u8	l4proto;	/* IPPROTO_* right after the IP header, else 0 */
	bool	ip;		/* proto is IPv4 or IPv6 and its header is sound */
};

static inline u16 ringnet_get_be16(const u8 *p)
{
	return (u16)(p[0] << 8 | p[1]);
}

/*
 * Ethernet, up to two VLAN tags, and an IPv4 or IPv6 header if the EtherType
 * announces one. Returns 0, or -EINVAL for a header that is malformed or not
 * in the head.
 */
static int ringnet_parse(const u8 *data, u32 headlen, struct ringnet_hdrs *h)
{
	u32 off = ETH_HLEN, ihl;
	int tags;

	h->ip = false;
	h->l4proto = 0;
	if (headlen < ETH_HLEN)
		return -EINVAL;
	h->proto = ringnet_get_be16(data + ETH_HLEN - 2);
	for (tags = 0; tags < RINGNET_VLAN_TAGS_MAX &&
	     (h->proto == ETH_P_8021Q || h->proto == ETH_P_8021AD); tags++) {
		if (headlen < off + RINGNET_VLAN_HLEN)
			return -EINVAL;
		h->proto = ringnet_get_be16(data + off + 2);
		off += RINGNET_VLAN_HLEN;
	}
	h->l4 = off;

	if (h->proto == ETH_P_IP) {
		if (headlen < off + RINGNET_IPV4_HLEN || data[off] >> 4 != 4)
			return -EINVAL;
		ihl = (data[off] & 0xf) * 4U;
		if (ihl < RINGNET_IPV4_HLEN || headlen < off + ihl)
			return -EINVAL;
		/* A fragment other than a whole datagram carries no L4 header we know of. */
		if (!(ringnet_get_be16(data + off + 6) & 0x3fff))
			h->l4proto = data[off + 9];
		h->l4 = off + ihl;
		h->ip = true;
	} else if (h->proto == ETH_P_IPV6) {
		if (headlen < off + RINGNET_IPV6_HLEN || data[off] >> 4 != 6)
			return -EINVAL;
		/* Extension headers are not walked: only TCP or UDP right after counts. */
		h->l4proto = data[off + 6];
		h->l4 = off + RINGNET_IPV6_HLEN;
		h->ip = true;
	}
	return 0;
}

/* The offset of the checksum field in an L4 header we know, else 0. */
static u32 ringnet_l4_csum_off(u8 l4proto)
{
	if (l4proto == IPPROTO_TCP)
		return RINGNET_TCP_CSUM_OFF;
	if (l4proto == IPPROTO_UDP)
		return RINGNET_UDP_CSUM_OFF;
	return 0;
}

/* The GSO part, for a frame whose partial checksum passed; see ringnet_meta_check(). */
static int ringnet_gso_check(const u8 *data, u32 headlen, u32 len, const struct ringnet_meta *m,
			     const struct ringnet_hdrs *h)
{
	u8 gso = m->gso_type & ~KVMRING_GSO_ECN;
	u32 start = m->csum_start, l4len, payload, segs_max;
	u8 l4proto;

	if (gso == KVMRING_GSO_TCPV4 && h->proto != ETH_P_IP)
		return -EINVAL;
	if (gso == KVMRING_GSO_TCPV6 && h->proto != ETH_P_IPV6)
		return -EINVAL;
	l4proto = gso == KVMRING_GSO_UDP_L4 ? IPPROTO_UDP : IPPROTO_TCP;
	if (!h->ip || h->l4proto != l4proto || start != h->l4 ||
	    m->csum_offset != ringnet_l4_csum_off(l4proto))
		return -EINVAL;

	if (l4proto == IPPROTO_TCP) {
		if (headlen < start + RINGNET_TCP_HLEN)
			return -EINVAL;
		l4len = (data[start + 12] >> 4) * 4U;	/* doff */
		if (l4len < RINGNET_TCP_HLEN || headlen < start + l4len)
			return -EINVAL;
		segs_max = RINGNET_GSO_SEGS_MAX;
	} else {
		if (headlen < start + RINGNET_UDP_HLEN)
			return -EINVAL;
		l4len = RINGNET_UDP_HLEN;
		segs_max = RINGNET_GSO_UDP_SEGS_MAX;
	}

	if (m->gso_size < RINGNET_GSO_SIZE_MIN || m->gso_size == RINGNET_GSO_SIZE_BY_FRAGS)
		return -EINVAL;
	/* headlen <= len, so the headers end inside the frame; u32 holds 0xffff * 1024. */
	payload = len - start - l4len;
	if (payload > (u32)m->gso_size * segs_max)
		return -EINVAL;
	return 0;
}

int ringnet_meta_check(const u8 *data, u32 headlen, u32 len, const struct ringnet_meta *m)
{
	u8 gso = m->gso_type & ~KVMRING_GSO_ECN;
	u32 start = m->csum_start, off = m->csum_offset;
	struct ringnet_hdrs h;

	if (headlen > len || (m->flags & ~KVMRING_REC_F_FRAME_MASK))
		return -EINVAL;
	if (m->gso_type == KVMRING_GSO_NONE) {
		if (m->gso_size)
			return -EINVAL;
	} else if (gso != KVMRING_GSO_TCPV4 && gso != KVMRING_GSO_TCPV6 &&
		   m->gso_type != KVMRING_GSO_UDP_L4) {
		/* unknown kinds, ECN alone, ECN on UDP */
		return -EINVAL;
	}
	if (!(m->flags & KVMRING_REC_F_CSUM_PARTIAL))
		return m->gso_type == KVMRING_GSO_NONE ? 0 : -EINVAL;

	if (ringnet_parse(data, headlen, &h))
		return -EINVAL;
	/*
	 * After the network header, and the 16-bit field in the head (u32: no
	 * overflow). An Internet checksum sums 16-bit words from csum_start,
	 * so a field at an odd offset could never be right.
	 */
	if (start < h.l4 || (off & 1) || start + off + sizeof(u16) > headlen)
		return -EINVAL;
	if (m->gso_type != KVMRING_GSO_NONE)
		return ringnet_gso_check(data, headlen, len, m, &h);
	/*
	 * Without GSO the checksum may be an inner one (a tunnel), so
	 * csum_start need not be the outer L4 header; when it is, the field
	 * must be that header's checksum.
	 */
	if (h.ip && start == h.l4 && ringnet_l4_csum_off(h.l4proto) &&
	    off != ringnet_l4_csum_off(h.l4proto))
		return -EINVAL;
	return 0;
}

bool ringnet_csum_finish(u8 *data, u32 len, struct ringnet_meta *m)
{
	u32 start = m->csum_start, off = m->csum_offset;
	__sum16 sum;

	if (!(m->flags & KVMRING_REC_F_CSUM_PARTIAL))
		return true;
	if (len > KVMRING_FRAME_MAX || start > len || off + sizeof(sum) > len - start)
		return false;
	/*
	 * Not zeroed first: the sender seeded the field with the pseudo-header
	 * sum (CHECKSUM_PARTIAL), which belongs in the result.
	 */
	sum = csum_fold(csum_partial(data + start, len - start, 0)) ?: CSUM_MANGLED_0;
	memcpy(data + start + off, &sum, sizeof(sum));	/* any alignment */
	m->flags &= ~KVMRING_REC_F_CSUM_PARTIAL;
	m->flags |= KVMRING_REC_F_DATA_VALID;
	return true;
}
