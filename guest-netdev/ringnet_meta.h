/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ringnet_meta.h - GSO and checksum metadata of a received frame: checked
 * against the frame's own headers before anything trusts it, and a partial
 * checksum filled in.
 *
 * The ring core checks only that a record's metadata fits its length
 * (ringnet_rx_peek()). What the metadata claims about the frame (a TCP
 * super-frame of this MSS, a checksum to fill in at that offset) comes from
 * another guest and is checked here, on the receiver's private copy of the
 * frame's head, as strictly as the strictest in-tree receivers (mainline
 * virtio_net_hdr_to_skb(), tun): whatever passes is a frame the stack can
 * segment and checksum without surprises. Pure functions: no state, no
 * locks, no allocation; compiled into ringnet.ko and the harness.
 */
#ifndef RINGNET_META_H
#define RINGNET_META_H

#include "ringnet_ring.h"

/* The caller copies at least min(len, RINGNET_META_HEADLEN) bytes of the head. */
#define RINGNET_META_HEADLEN	256

/*
 * Bounds of a GSO super-frame. An MSS below 64 bytes only multiplies
 * segments (TCP's own floor is 8, IPv4's minimum MTU 68), and 0xffff is the
 * kernel's GSO_BY_FRAGS, which means something else. A 64 KiB frame at the
 * minimum MSS is 1024 segments; UDP_L4 is held to mainline's
 * UDP_MAX_SEGMENTS (128), which virtio_net_hdr_to_skb() enforces too.
 */
#define RINGNET_GSO_SIZE_MIN		64
#define RINGNET_GSO_SIZE_BY_FRAGS	0xffff
#define RINGNET_GSO_SEGS_MAX		1024
#define RINGNET_GSO_UDP_SEGS_MAX	128

/*
 * ringnet_meta_check(): whether metadata m is acceptable for a frame of len
 * bytes whose first headlen bytes (headlen <= len, headlen >= min(len,
 * RINGNET_META_HEADLEN)) are at data, a copy nobody else can change. Reads
 * only data[0..headlen). Returns 0, or -EINVAL when:
 *  - flags has bits beyond KVMRING_REC_F_FRAME_MASK, or gso_type is not
 *    NONE, TCPV4, TCPV6 or UDP_L4 (KVMRING_GSO_ECN only with TCP), or
 *    gso_size is not 0 without GSO;
 *  - GSO without KVMRING_REC_F_CSUM_PARTIAL;
 *  - with CSUM_PARTIAL: the Ethernet header (and up to two 802.1Q/802.1ad
 *    tags) or an IPv4/IPv6 header it announces is malformed or not in the
 *    head; csum_start lies before the end of the IP header (of the Ethernet
 *    header and tags when not IP); csum_offset is odd; the 16-bit field at
 *    csum_start + csum_offset is not in the head; or csum_start is the
 *    frame's TCP (UDP) header and csum_offset is not 16 (6);
 *  - with GSO: the EtherType is not the kind's (IPv4 for TCPV4, IPv6 for
 *    TCPV6, either for UDP_L4); the IP header is not directly followed by
 *    the kind's protocol (an IPv4 fragment or an IPv6 extension header is
 *    not); csum_start is not that header or csum_offset is not its checksum;
 *    the TCP header (doff >= 5) or UDP header is not in the head; gso_size
 *    is below RINGNET_GSO_SIZE_MIN or RINGNET_GSO_SIZE_BY_FRAGS; or the
 *    payload after the headers needs more than RINGNET_GSO_SEGS_MAX
 *    (RINGNET_GSO_UDP_SEGS_MAX for UDP_L4) segments of gso_size bytes.
 * KVMRING_REC_F_DATA_VALID alone, or no metadata, is always acceptable.
 *
 * ringnet_csum_finish(): fill in the partial checksum of a frame of len
 * bytes in a private buffer, as skb_checksum_help() does: the field already
 * holds the sender's pseudo-header sum, so everything from csum_start to
 * the end is summed with the field as it is, and the folded result stored
 * there (0 as 0xffff, CSUM_MANGLED_0); then CSUM_PARTIAL is replaced by
 * DATA_VALID in *m. Nothing to do without CSUM_PARTIAL. Returns false,
 * changing nothing, if the field does not lie inside the frame (or len is
 * beyond KVMRING_FRAME_MAX).
 */
int ringnet_meta_check(const u8 *data, u32 headlen, u32 len, const struct ringnet_meta *m);
bool ringnet_csum_finish(u8 *data, u32 len, struct ringnet_meta *m);

#endif /* RINGNET_META_H */
