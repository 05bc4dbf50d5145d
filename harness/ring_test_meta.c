// SPDX-License-Identifier: GPL-2.0-only
/*
 * ring_test: ringnet_meta_check() against rules stated from how each frame
 * was built, and ringnet_csum_finish() against an independent RFC 1071 sum.
 */
#define _GNU_SOURCE
#include "ring_test.h"
#include "ringnet_meta.h"

/* ---- metadata: ringnet_meta_check() and ringnet_csum_finish() ------------------ */

#define T_TCP	6
#define T_UDP	17
#define T_ICMP	1
#define T_ETH_HLEN	14

/* A frame's headers, written by pkt_build(), and where they end. */
struct pkt {
	const char	*what;
	u32		tags;		/* VLAN tags; a third one hides the EtherType */
	u16		proto;		/* EtherType after the tags */
	u32		ip_opts;	/* IPv4 option bytes */
	u8		l4proto;	/* IPv4 protocol or IPv6 next header */
	u32		tcp_opts;	/* TCP option bytes */
	bool		frag;		/* IPv4: a later fragment */
	bool		bad_ihl;	/* IPv4: ihl 4 */
	/* filled in by pkt_build() */
	u8		hdr[RINGNET_META_HEADLEN];
	u32		hdrlen;		/* bytes of hdr written */
	u32		l2end, l3end, l4len;	/* as far as two tags let a parser see */
	bool		ip;		/* an IPv4/IPv6 header the check must accept */
	u8		l4;		/* T_TCP or T_UDP right after the IP header, else 0 */
};

static void put16(u8 *p, u16 v)
{
	p[0] = v >> 8;
	p[1] = (u8)v;
}

/* Writes p->hdr and the offsets; the L4 header's checksum field holds seed. */
static void pkt_build(struct pkt *p, u16 seed, u32 len)
{
	u8 *h = p->hdr;
	u32 off = 12, i, iphl, l4off;

	memset(h, 0, sizeof(p->hdr));
	memcpy(h, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	for (i = 0; i < p->tags; i++, off += 4) {
		put16(h + off, p->tags > 1 && i == 0 ? 0x88a8 : 0x8100);
		put16(h + off + 2, 100 + i);
	}
	put16(h + off, p->proto);
	off += 2;
	p->hdrlen = off;
	p->l2end = T_ETH_HLEN + 4 * (p->tags < 2 ? p->tags : 2);
	p->l3end = p->l2end;
	p->ip = false;
	p->l4 = 0;
	p->l4len = 0;
	if (p->proto == 0x0800) {
		iphl = 20 + p->ip_opts;
		h[off] = 0x40 | (p->bad_ihl ? 4 : iphl / 4);
		put16(h + off + 2, (u16)(len - off));
		put16(h + off + 6, p->frag ? 185 : 0x4000);	/* offset 1480, or DF */
		h[off + 8] = 64;
		h[off + 9] = p->l4proto;
		memcpy(h + off + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
		memset(h + off + 20, 1, p->ip_opts);		/* NOPs */
		l4off = off + iphl;
		p->ip = !p->bad_ihl;
	} else if (p->proto == 0x86dd) {
		h[off] = 0x60;
		put16(h + off + 4, (u16)(len - off - 40));
		h[off + 6] = p->l4proto;
		h[off + 7] = 64;
		memcpy(h + off + 8, "\xfd\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
		       "\xfd\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02", 32);
		l4off = off + 40;
		p->ip = true;
	} else {
		return;
	}
	p->hdrlen = l4off;
	if (p->tags > 2)
		p->ip = false;		/* behind a third tag: not for a parser to see */
	else
		p->l3end = l4off;
	if (p->ip && !p->frag && (p->l4proto == T_TCP || p->l4proto == T_UDP))
		p->l4 = p->l4proto;
	if (p->l4proto == T_TCP) {
		put16(h + l4off, 40000);
		put16(h + l4off + 2, 5201);
		h[l4off + 12] = (u8)((20 + p->tcp_opts) / 4 << 4);
		h[l4off + 13] = 0x10;				/* ACK */
		put16(h + l4off + 14, 512);
		put16(h + l4off + 16, seed);
		memset(h + l4off + 20, 1, p->tcp_opts);
		p->hdrlen += 20 + p->tcp_opts;
	} else if (p->l4proto == T_UDP) {
		put16(h + l4off, 40000);
		put16(h + l4off + 2, 4789);
		put16(h + l4off + 4, (u16)(len - l4off));
		put16(h + l4off + 6, seed);
		p->hdrlen += 8;
	}
	if (p->l4)
		p->l4len = p->hdrlen - l4off;
}

/* A frame of len bytes: the headers, cut short if need be, then a pattern. */
static void pkt_frame(const struct pkt *p, u8 *buf, u32 len)
{
	u32 i;

	memcpy(buf, p->hdr, len < p->hdrlen ? len : p->hdrlen);
	for (i = p->hdrlen; i < len; i++)
		buf[i] = (u8)(i * 7 + 3);
}

/*
 * What ringnet_meta_check() must answer, stated from what the frame is
 * (pkt_build() knows), not parsed from its bytes.
 */
static bool meta_expect(const struct pkt *p, u32 len, u32 headlen, const struct ringnet_meta *m)
{
	u8 kind = m->gso_type & ~KVMRING_GSO_ECN, want;
	bool ecn = m->gso_type & KVMRING_GSO_ECN, gso = m->gso_type != KVMRING_GSO_NONE;
	u32 start = m->csum_start, off = m->csum_offset, payload, segs;

	if (m->flags & ~(KVMRING_REC_F_CSUM_PARTIAL | KVMRING_REC_F_DATA_VALID))
		return false;
	if (!gso && m->gso_size)
		return false;
	if (gso && kind != KVMRING_GSO_TCPV4 && kind != KVMRING_GSO_TCPV6 && kind != KVMRING_GSO_UDP_L4)
		return false;
	if (ecn && kind == KVMRING_GSO_UDP_L4)
		return false;
	if (!(m->flags & KVMRING_REC_F_CSUM_PARTIAL))
		return !gso;

	/* the Ethernet header, its tags and an announced IP header, whole */
	if (len < p->l2end)
		return false;
	if ((p->proto == 0x0800 || p->proto == 0x86dd) && p->tags <= 2 && (!p->ip || len < p->l3end))
		return false;
	if (start < p->l3end || off % 2 || start + off + 2 > headlen)
		return false;
	if (!gso)
		return !(p->l4 && start == p->l3end && off != (p->l4 == T_TCP ? 16U : 6U));

	want = kind == KVMRING_GSO_UDP_L4 ? T_UDP : T_TCP;
	if ((kind == KVMRING_GSO_TCPV4 && p->proto != 0x0800) ||
	    (kind == KVMRING_GSO_TCPV6 && p->proto != 0x86dd) || p->tags > 2)
		return false;
	if (p->l4 != want || start != p->l3end || off != (want == T_TCP ? 16U : 6U) ||
	    len < p->l3end + p->l4len)
		return false;
	if (m->gso_size < 64 || m->gso_size == 0xffff)
		return false;
	payload = len - p->l3end - p->l4len;
	segs = (payload + m->gso_size - 1) / m->gso_size;
	return segs <= (want == T_UDP ? 128U : 1024U);
}

static struct pkt meta_pkts[] = {
	{ .what = "IPv4 TCP", .proto = 0x0800, .l4proto = T_TCP },
	{ .what = "IPv4 UDP", .proto = 0x0800, .l4proto = T_UDP },
	{ .what = "IPv6 TCP", .proto = 0x86dd, .l4proto = T_TCP },
	{ .what = "IPv6 UDP", .proto = 0x86dd, .l4proto = T_UDP },
	{ .what = "802.1Q IPv4 TCP, options", .tags = 1, .proto = 0x0800, .ip_opts = 8,
	  .l4proto = T_TCP, .tcp_opts = 12 },
	{ .what = "802.1ad+802.1Q IPv6 UDP", .tags = 2, .proto = 0x86dd, .l4proto = T_UDP },
	{ .what = "802.1ad+802.1Q IPv4 TCP", .tags = 2, .proto = 0x0800, .l4proto = T_TCP },
	{ .what = "three tags, IPv4 TCP", .tags = 3, .proto = 0x0800, .l4proto = T_TCP },
	{ .what = "IPv4 ICMP", .proto = 0x0800, .l4proto = T_ICMP },
	{ .what = "IPv4 fragment of TCP", .proto = 0x0800, .l4proto = T_TCP, .frag = true },
	{ .what = "IPv4 ihl 4", .proto = 0x0800, .l4proto = T_TCP, .bad_ihl = true },
	{ .what = "IPv6 hop-by-hop, then TCP", .proto = 0x86dd, .l4proto = 0 },
	{ .what = "ARP", .proto = 0x0806 },
};

/*
 * Every combination of the listed values, on every kind of frame and length,
 * with the head as short as the caller may copy it and as long as the frame.
 * The copy handed over is exactly headlen bytes, so a read beyond it is an
 * ASan report.
 */
void test_meta_check(void)
{
	static const u32 lens[] = { 14, 15, 17, 18, 21, 22, 30, 33, 34, 38, 42, 53, 54, 55, 62,
				    66, 74, 75, 100, 1514, 9014, 65000, 65535, 65600 };
	static const u16 flagss[] = { 0, KVMRING_REC_F_CSUM_PARTIAL, KVMRING_REC_F_DATA_VALID,
				      KVMRING_REC_F_CSUM_PARTIAL | KVMRING_REC_F_DATA_VALID,
				      KVMRING_REC_F_PAD | KVMRING_REC_F_CSUM_PARTIAL, 1 << 7 };
	static const u8 gsos[] = { KVMRING_GSO_NONE, KVMRING_GSO_TCPV4, KVMRING_GSO_TCPV6,
				   KVMRING_GSO_UDP_L4, KVMRING_GSO_TCPV4 | KVMRING_GSO_ECN,
				   KVMRING_GSO_TCPV6 | KVMRING_GSO_ECN, KVMRING_GSO_UDP_L4 | KVMRING_GSO_ECN,
				   KVMRING_GSO_ECN, 2, 3 };
	static const u16 sizes[] = { 0, 1, 8, 63, 64, 536, 1448, 65535 };
	static const u16 offs[] = { 0, 6, 7, 16, 0xffff };
	u64 judged = 0, accepted = 0, wrong = 0, gso_ok = 0, partial_ok = 0;
	u32 t, l, h, len, headlen, starts[6], s, i;
	struct ringnet_meta m;
	u8 *frame, *head;
	bool want;
	int got;

	frame = malloc(KVMRING_FRAME_MAX);
	if (!frame)
		abort();
	for (t = 0; t < ARRAY_SIZE(meta_pkts); t++) {
		for (l = 0; l < ARRAY_SIZE(lens); l++) {
			len = lens[l];
			pkt_build(&meta_pkts[t], 0x1234, len);
			pkt_frame(&meta_pkts[t], frame, len);
			starts[0] = 0;
			starts[1] = T_ETH_HLEN;
			starts[2] = meta_pkts[t].l3end;
			starts[3] = meta_pkts[t].l3end + 2;
			starts[4] = len - 2 < 0xffff ? len - 2 : 0xffff;
			starts[5] = 0xffff;
			for (h = 0; h < 2; h++) {
				headlen = h ? len : len < RINGNET_META_HEADLEN ? len : RINGNET_META_HEADLEN;
				if (h && headlen == len && len <= RINGNET_META_HEADLEN)
					continue;	/* the same as the first */
				head = malloc(headlen);
				if (!head)
					abort();
				memcpy(head, frame, headlen);
				for (i = 0; i < ARRAY_SIZE(flagss) * ARRAY_SIZE(gsos) * ARRAY_SIZE(sizes) *
					     ARRAY_SIZE(offs) * 6; i++) {
					u32 k = i;

					memset(&m, 0, sizeof(m));
					m.flags = flagss[k % ARRAY_SIZE(flagss)];
					k /= ARRAY_SIZE(flagss);
					m.gso_type = gsos[k % ARRAY_SIZE(gsos)];
					k /= ARRAY_SIZE(gsos);
					m.gso_size = sizes[k % ARRAY_SIZE(sizes)];
					k /= ARRAY_SIZE(sizes);
					m.csum_offset = offs[k % ARRAY_SIZE(offs)];
					k /= ARRAY_SIZE(offs);
					s = starts[k];
					m.csum_start = (u16)s;

					got = ringnet_meta_check(head, headlen, len, &m);
					want = meta_expect(&meta_pkts[t], len, headlen, &m);
					judged++;
					accepted += !got;
					gso_ok += !got && m.gso_type;
					partial_ok += !got && !m.gso_type && (m.flags & KVMRING_REC_F_CSUM_PARTIAL);
					if ((got == 0) == want && (got == 0 || got == -EINVAL))
						continue;
					if (++wrong <= 20)
						fprintf(stderr, "FAIL %s: %s, len %u, head %u: flags %#x gso %#x/%u "
							"csum %u+%u: got %d, want %s\n", __func__,
							meta_pkts[t].what, len, headlen, m.flags, m.gso_type,
							m.gso_size, m.csum_start, m.csum_offset, got,
							want ? "0" : "-EINVAL");
				}
				free(head);
			}
		}
	}
	checks += judged;
	failures += wrong;
	/* the good ones are there, and accepted */
	CHECK(gso_ok > 500 && partial_ok > 1000 && accepted < judged / 2,
	      "%llu of %llu accepted, %llu GSO, %llu partial", (unsigned long long)accepted,
	      (unsigned long long)judged, (unsigned long long)gso_ok, (unsigned long long)partial_ok);
	free(frame);
}

/* Named cases: what a sender really produces is accepted, each rule on its own rejects. */
void test_meta_cases(void)
{
	const u16 P = KVMRING_REC_F_CSUM_PARTIAL;
	static const struct {
		const char *what;
		u32 pkt, len;		/* meta_pkts[pkt] */
		struct ringnet_meta m;	/* csum_start 1 means the L4 header */
		int want;
	} cases[] = {
		{ "TCPv4 super-frame", 0, 65000, { P, 1448, 1, 16, KVMRING_GSO_TCPV4 }, 0 },
		{ "TCPv4 with ECN", 0, 9014, { P, 1448, 1, 16, KVMRING_GSO_TCPV4 | KVMRING_GSO_ECN }, 0 },
		{ "TCPv6 with ECN", 2, 65600, { P, 1428, 1, 16, KVMRING_GSO_TCPV6 | KVMRING_GSO_ECN }, 0 },
		{ "UDP_L4 over IPv6", 3, 9014, { P, 1400, 1, 6, KVMRING_GSO_UDP_L4 }, 0 },
		{ "UDP_L4 over IPv4", 1, 30000, { P, 1472, 1, 6, KVMRING_GSO_UDP_L4 }, 0 },
		{ "tagged TCPv4, options", 4, 20000, { P, 1448, 1, 16, KVMRING_GSO_TCPV4 }, 0 },
		{ "QinQ UDP_L4", 5, 8000, { P, 1000, 1, 6, KVMRING_GSO_UDP_L4 }, 0 },
		{ "smaller than one segment", 0, 100, { P, 1448, 1, 16, KVMRING_GSO_TCPV4 }, 0 },
		{ "1024 segments of 64", 0, 54 + 65536, { P, 64, 1, 16, KVMRING_GSO_TCPV4 }, 0 },
		{ "128 UDP segments of 512", 1, 42 + 65536, { P, 512, 1, 6, KVMRING_GSO_UDP_L4 }, 0 },
		{ "partial TCPv4", 0, 1514, { P, 0, 1, 16, 0 }, 0 },
		{ "partial, inner checksum", 1, 1514, { P, 0, 50, 16, 0 }, 0 },
		{ "partial ARP", 12, 60, { P, 0, 14, 0, 0 }, 0 },
		{ "data valid alone", 12, 60, { KVMRING_REC_F_DATA_VALID, 0, 0, 0, 0 }, 0 },
		{ "nothing", 7, 14, { 0, 0, 0, 0, 0 }, 0 },
		{ "GSO without partial", 0, 9014, { KVMRING_REC_F_DATA_VALID, 1448, 1, 16, KVMRING_GSO_TCPV4 }, -EINVAL },
		{ "TCPV4 on IPv6", 2, 9014, { P, 1448, 1, 16, KVMRING_GSO_TCPV4 }, -EINVAL },
		{ "TCPV6 on IPv4", 0, 9014, { P, 1448, 1, 16, KVMRING_GSO_TCPV6 }, -EINVAL },
		{ "TCPV4 on UDP", 1, 9014, { P, 1448, 1, 16, KVMRING_GSO_TCPV4 }, -EINVAL },
		{ "UDP_L4 on TCP", 0, 9014, { P, 1448, 1, 6, KVMRING_GSO_UDP_L4 }, -EINVAL },
		{ "UDP_L4 with ECN", 1, 9014, { P, 1448, 1, 6, KVMRING_GSO_UDP_L4 | KVMRING_GSO_ECN }, -EINVAL },
		{ "ECN alone", 0, 9014, { P, 1448, 1, 16, KVMRING_GSO_ECN }, -EINVAL },
		{ "csum_start not the TCP header", 0, 9014, { P, 1448, 38, 16, KVMRING_GSO_TCPV4 }, -EINVAL },
		{ "csum_offset not TCP's", 0, 9014, { P, 1448, 1, 6, KVMRING_GSO_TCPV4 }, -EINVAL },
		{ "gso_size 63", 0, 9014, { P, 63, 1, 16, KVMRING_GSO_TCPV4 }, -EINVAL },
		{ "GSO_BY_FRAGS", 0, 65600, { P, 0xffff, 1, 16, KVMRING_GSO_TCPV4 }, -EINVAL },
		{ "1025 segments", 0, 54 + 65537, { P, 64, 1, 16, KVMRING_GSO_TCPV4 }, -EINVAL },
		{ "129 UDP segments", 1, 42 + 65537, { P, 512, 1, 6, KVMRING_GSO_UDP_L4 }, -EINVAL },
		{ "GSO of a fragment", 9, 9014, { P, 1448, 1, 16, KVMRING_GSO_TCPV4 }, -EINVAL },
		{ "GSO past an extension header", 11, 9014, { P, 1448, 1, 16, KVMRING_GSO_TCPV6 }, -EINVAL },
		{ "GSO behind three tags", 7, 9014, { P, 1448, 1, 16, KVMRING_GSO_TCPV4 }, -EINVAL },
		{ "TCP header cut short", 0, 50, { P, 0, 1, 16, 0 }, -EINVAL },
		{ "partial TCP, UDP's offset", 0, 1514, { P, 0, 1, 6, 0 }, -EINVAL },
		{ "partial UDP, TCP's offset", 1, 1514, { P, 0, 1, 16, 0 }, -EINVAL },
		{ "partial inside the IP header", 0, 1514, { P, 0, 14, 10, 0 }, -EINVAL },
		{ "partial inside the tags", 12, 60, { P, 0, 12, 0, 0 }, -EINVAL },
		{ "partial, bad ihl", 10, 1514, { P, 0, 34, 16, 0 }, -EINVAL },
		{ "field past the head", 0, 1514, { P, 0, 300, 0, 0 }, -EINVAL },
		{ "field at an odd offset", 1, 1514, { P, 0, 50, 7, 0 }, -EINVAL },
		{ "gso_size without GSO", 0, 1514, { P, 1448, 1, 16, 0 }, -EINVAL },
		{ "the pad flag", 0, 1514, { KVMRING_REC_F_PAD, 0, 0, 0, 0 }, -EINVAL },
	};
	struct ringnet_meta m;
	struct pkt *p;
	u8 *frame;
	u32 i, headlen;
	int got;

	frame = malloc(KVMRING_FRAME_MAX);
	if (!frame)
		abort();
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		p = &meta_pkts[cases[i].pkt];
		pkt_build(p, 0, cases[i].len);
		pkt_frame(p, frame, cases[i].len);
		m = cases[i].m;
		if (m.csum_start == 1)
			m.csum_start = (u16)p->l3end;
		headlen = cases[i].len < RINGNET_META_HEADLEN ? cases[i].len : RINGNET_META_HEADLEN;
		got = ringnet_meta_check(frame, headlen, cases[i].len, &m);
		CHECK(got == cases[i].want, "%s: got %d, want %d", cases[i].what, got, cases[i].want);
		CHECK(meta_expect(p, cases[i].len, headlen, &m) == !cases[i].want,
		      "%s: the table's rules disagree", cases[i].what);
	}
	free(frame);
}

/* RFC 1071, big-endian and independent of the shim: the folded sum, not complemented. */
static u16 ref_sum(const u8 *p, u32 n, u32 sum)
{
	u32 i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (u32)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (u32)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (u16)sum;
}

/* The pseudo-header's folded sum for the L4 segment of a frame built by pkt_build(). */
static u16 ref_pseudo(const struct pkt *p, const u8 *frame, u32 len)
{
	u32 l3 = p->l3end - (p->proto == 0x0800 ? 20 + p->ip_opts : 40), seg = len - p->l3end;
	u32 sum = p->l4proto + (seg >> 16) + (seg & 0xffff);

	if (p->proto == 0x0800)
		return ref_sum(frame + l3 + 12, 8, sum);
	return ref_sum(frame + l3 + 8, 32, sum);
}

/* Does the segment's checksum verify, as a receiver checks it? */
static bool ref_verifies(const struct pkt *p, const u8 *frame, u32 len)
{
	return ref_sum(frame + p->l3end, len - p->l3end, ref_pseudo(p, frame, len)) == 0xffff;
}

/* What the driver did before: zero the field, then sum. */
static void old_csum_finish(u8 *data, u32 len, const struct ringnet_meta *m)
{
	__sum16 sum;

	memset(data + m->csum_start + m->csum_offset, 0, 2);
	sum = csum_fold(csum_partial(data + m->csum_start, len - m->csum_start, 0));
	memcpy(data + m->csum_start + m->csum_offset, &sum, 2);
}

void test_csum_finish(void)
{
	static const u32 pkts[] = { 0, 1, 2, 3, 4, 5 };
	static const u32 payloads[] = { 0, 1, 2, 3, 17, 100, 1001, 1460, 8999, 65000 };
	struct ringnet_meta m, before;
	u32 i, j, len, hl, field;
	u16 ref, got, seed;
	struct pkt *p;
	u8 *frame, *copy;

	for (i = 0; i < ARRAY_SIZE(pkts); i++) {
		p = &meta_pkts[pkts[i]];
		for (j = 0; j < ARRAY_SIZE(payloads); j++) {
			pkt_build(p, 0, 0);
			hl = p->hdrlen;
			len = hl + payloads[j];
			frame = malloc(len);
			copy = malloc(len);
			if (!frame || !copy)
				abort();
			/* the sender seeds the field with the pseudo-header sum (CHECKSUM_PARTIAL) */
			pkt_build(p, 0, len);
			pkt_frame(p, frame, len);
			for (field = hl; field < len; field++)
				frame[field] = (u8)rng();
			seed = ref_pseudo(p, frame, len);
			field = p->l3end + (p->l4 == T_TCP ? 16 : 6);
			put16(frame + field, seed);
			/* the reference: a zeroed field, the pseudo-header, the segment */
			memcpy(copy, frame, len);
			put16(copy + field, 0);
			ref = (u16)~ref_sum(copy + p->l3end, len - p->l3end, ref_pseudo(p, copy, len));

			memcpy(copy, frame, len);
			m = (struct ringnet_meta){ .flags = KVMRING_REC_F_CSUM_PARTIAL,
						   .csum_start = (u16)p->l3end,
						   .csum_offset = p->l4 == T_TCP ? 16 : 6 };
			CHECK(ringnet_csum_finish(copy, len, &m), "%s + %u", p->what, payloads[j]);
			got = (u16)(copy[field] << 8 | copy[field + 1]);
			CHECK(got == ref || (!ref && got == 0xffff), "%s + %u: %#x, want %#x", p->what,
			      payloads[j], got, ref);
			CHECK(ref_verifies(p, copy, len), "%s + %u: does not verify", p->what, payloads[j]);
			CHECK_EQ(m.flags, KVMRING_REC_F_DATA_VALID);
			/* only the field changed */
			put16(copy + field, seed);
			CHECK(!memcmp(copy, frame, len), "%s + %u: more than the field changed", p->what,
			      payloads[j]);

			/* zeroing the field first loses the pseudo-header */
			memcpy(copy, frame, len);
			old_csum_finish(copy, len, &m);
			CHECK(!ref_verifies(p, copy, len), "%s + %u: the old way verifies", p->what,
			      payloads[j]);

			/* out of range: false, and nothing changes */
			memcpy(copy, frame, len);
			before = (struct ringnet_meta){ .flags = KVMRING_REC_F_CSUM_PARTIAL,
							.csum_start = (u16)(len - 1), .csum_offset = 0 };
			m = before;
			CHECK(!ringnet_csum_finish(copy, len, &m), "field straddles the end");
			before.csum_start = len - 2 > 0xffff ? 0xffff : (u16)(len - 2);
			before.csum_offset = 2;
			m = before;
			CHECK(!ringnet_csum_finish(copy, len, &m), "field beyond the end");
			before.csum_start = 0xffff;
			before.csum_offset = 0xffff;
			m = before;
			CHECK(!ringnet_csum_finish(copy, len, &m), "field far beyond the end");
			CHECK(!memcmp(copy, frame, len) && !memcmp(&m, &before, sizeof(m)), "changed");
			m = (struct ringnet_meta){ .flags = KVMRING_REC_F_DATA_VALID, .csum_start = 0xffff };
			CHECK(ringnet_csum_finish(copy, len, &m), "no partial checksum");
			CHECK(!memcmp(copy, frame, len) && m.flags == KVMRING_REC_F_DATA_VALID, "changed");
			free(frame);
			free(copy);
		}
	}

	/* an odd csum_start and the last two bytes: the sum pairs bytes from csum_start */
	for (i = 0; i < 64; i++) {
		len = 14 + (u32)rng() % 3000;
		frame = malloc(len);
		if (!frame)
			abort();
		for (j = 0; j < len; j++)
			frame[j] = (u8)rng();
		m = (struct ringnet_meta){ .flags = KVMRING_REC_F_CSUM_PARTIAL,
					   .csum_start = (u16)(i & 1 ? 13 + rng() % (len - 15) : len - 2),
					   .csum_offset = 0 };
		if (m.csum_start + 2 < len)
			m.csum_offset = (u16)(rng() % (len - m.csum_start - 1));
		field = m.csum_start + m.csum_offset;
		ref = (u16)~ref_sum(frame + m.csum_start, len - m.csum_start, 0);
		CHECK(ringnet_csum_finish(frame, len, &m), "start %u offset %u", m.csum_start, m.csum_offset);
		got = (u16)(frame[field] << 8 | frame[field + 1]);
		CHECK(got == (ref ? ref : 0xffff), "start %u: %#x, want %#x", m.csum_start, got, ref);
		free(frame);
	}
}
