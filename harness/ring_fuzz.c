// SPDX-License-Identifier: GPL-2.0-only
/*
 * ring_fuzz - libFuzzer target over the ring core's validation and dequeue
 * path (clang -fsanitize=fuzzer,address,undefined).
 *
 * The input is a script: a start state for the ring's two halves (in queue
 * blocks, as ABI v2 lays a ring out: harness.h), then operations of both
 * ends interleaved with hostile writes into the halves, the record headers
 * and the data.
 * Beyond memory safety it checks:
 *  - every frame handed out lies inside the ring and has a legal length;
 *  - without hostile writes, every frame arrives intact, in order, none
 *    lost (unless the script reset a ring end) and none counted bad;
 *  - after the hostile writes stop, the ring carries frames again.
 * An input whose first byte has both top bits set is a frame and metadata
 * for ringnet_meta_check() and ringnet_csum_finish() instead: no read
 * beyond the head they are given, and metadata the check accepts is
 * metadata the checksum can be finished with, correctly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cursor.h"
#include "harness.h"
#include "ringnet_meta.h"

#define FUZZ_RING	KVMRING_RING_SIZE_MIN
#define FUZZ_OPS	4096

static struct harness_ring ring;
static struct kvmring_ring_prod *ph;	/* the producer's half, in ring.prod_q */
static struct kvmring_ring_cons *ch;	/* the consumer's half, in ring.cons_q */
static u8 *data;
static u8 buf[KVMRING_FRAME_MAX];

struct state {
	struct ringnet_tx	tx;
	struct ringnet_rx	rx;
	u32			next_seq;	/* of the next frame enqueued */
	u32			want_seq;	/* of the next frame expected */
	bool			hostile;	/* a third party wrote to the ring */
	bool			lossy;		/* an end was reset: frames may be lost */
	bool			dup;		/* an end re-attached: frames may repeat */
};

static void fail(const char *what, u32 a, u32 b)
{
	fprintf(stderr, "ring_fuzz: %s (%u, %u)\n", what, a, b);
	abort();
}

static u32 frame_len(struct cursor *c)
{
	u8 k = take8(c);

	/* mostly small frames, so that the ring wraps often; sometimes huge */
	if (k < 192)
		return KVMRING_FRAME_MIN + (k * 13U + take8(c)) % 2000;
	return KVMRING_FRAME_MIN + (take32(c) % (KVMRING_FRAME_MAX - KVMRING_FRAME_MIN + 1));
}

/* Checks a copy of a frame against what was sent, when nobody interfered. */
static void check_copy(struct state *s, const u8 *p, u32 len)
{
	u32 seq;

	if (s->hostile)
		return;
	if (!harness_frame_intact(p, len, &seq))
		fail("frame damaged", len, 0);
	if (s->dup)
		return;
	if (s->lossy ? seq < s->want_seq : seq != s->want_seq)
		fail("frame out of order", seq, s->want_seq);
	s->want_seq = seq + 1;
}

static void check_frame(struct state *s, const struct ringnet_frame *f)
{
	if (f->data < data || f->data + f->len > data + FUZZ_RING ||
	    f->len < KVMRING_FRAME_MIN || f->len > KVMRING_FRAME_MAX)
		fail("frame outside the ring", (u32)(f->data - data), f->len);
	/* the metadata contract of ringnet_rx_peek(), which drivers rely on */
	if ((f->meta.flags & ~KVMRING_REC_F_FRAME_MASK) ||
	    ((f->meta.flags & KVMRING_REC_F_CSUM_PARTIAL) &&
	     (u32)f->meta.csum_start + f->meta.csum_offset + 2 > f->len) ||
	    (f->meta.gso_type == KVMRING_GSO_NONE ? f->meta.gso_size != 0 :
	     !f->meta.gso_size || f->meta.gso_size >= f->len))
		fail("metadata contradicts the frame", f->meta.flags, f->meta.gso_type);
	memcpy(buf, f->data, f->len);
	check_copy(s, buf, f->len);
}

static bool trace;	/* RING_FUZZ_TRACE=1: print each operation, to study a crash */

static void trace_state(const struct state *s, u8 op)
{
	fprintf(stderr, "op %2u.%x: tx prod %u cons %u epoch %u%s | rx cons %u avail %u epoch %u%s | "
		"words prod %u/%u cons %u/%u copies %u %u\n", op % 16, op >> 4,
		s->tx.prod, s->tx.cons, s->tx.ring.epoch, s->tx.resetting ? " resetting" : "",
		s->rx.cons, s->rx.avail, s->rx.ring.epoch, s->rx.resetting ? " resetting" : "",
		KVMRING_POS_EPOCH(ph->prod), KVMRING_POS_INDEX(ph->prod),
		KVMRING_POS_EPOCH(ch->cons), KVMRING_POS_INDEX(ch->cons),
		ph->prod_epoch, ch->cons_epoch);
}

static void check_state(const struct state *s)
{
	if (s->rx.avail > FUZZ_RING || s->tx.prod - s->tx.cons > FUZZ_RING)
		fail("index state", s->rx.avail, s->tx.prod - s->tx.cons);
	if ((s->rx.cons | s->tx.prod) % KVMRING_REC_ALIGN)
		fail("misaligned index", s->rx.cons, s->tx.prod);
	if (!s->hostile && (s->rx.stats.bad_desc || s->rx.stats.bad_meta || s->rx.stats.bad_index ||
			    s->tx.stats.bad_index))
		fail("clean ring counted bad input", 0, 0);
}

static void enqueue(struct state *s, struct cursor *c, bool publish)
{
	struct ringnet_meta meta = { 0 };
	u32 len = frame_len(c);
	void *p;

	if (take8(c) < 32) {	/* metadata; sound so that clean runs stay clean */
		meta.flags = KVMRING_REC_F_DATA_VALID;
		if (len > 100) {
			meta.gso_type = KVMRING_GSO_TCPV6;
			meta.gso_size = 1 + take8(c) % 90;
			meta.flags |= KVMRING_REC_F_CSUM_PARTIAL;
			meta.csum_start = 50;
			meta.csum_offset = 16;
		}
	}
	if (ringnet_tx_reserve(&s->tx, len, &p))
		return;
	if ((u8 *)p < data || (u8 *)p + len > data + FUZZ_RING)
		fail("reservation outside the ring", (u32)((u8 *)p - data), len);
	harness_frame_fill(p, len, s->next_seq++);
	ringnet_tx_commit(&s->tx, &meta);
	if (publish)
		ringnet_tx_publish(&s->tx);
}

static void dequeue(struct state *s, struct cursor *c)
{
	u32 n = 1 + take8(c) % 16, i;
	struct ringnet_frame f;

	for (i = 0; i < n; i++) {
		if (ringnet_rx_peek(&s->rx, &f) != 1)
			break;
		check_frame(s, &f);
		ringnet_rx_consume(&s->rx);
	}
	if (take8(c) & 1)
		ringnet_rx_publish(&s->rx);
}

/* A third party writes bytes somewhere in the ring. */
static void vandalise(struct state *s, struct cursor *c, u8 op)
{
	struct kvmring_rec *rec;
	u32 off, n, i;

	s->hostile = true;
	switch (op % 4) {
	case 0:	/* a few bytes anywhere: the halves, then the data */
		off = take32(c) % (u32)(HARNESS_RING_HALVES + FUZZ_RING);
		n = 1 + take8(c) % 16;
		for (i = 0; i < n && off + i < HARNESS_RING_HALVES + FUZZ_RING; i++)
			*harness_ring_byte(&ring, off + i) = take8(c);
		break;
	case 1:	/* one of the words */
		switch (take8(c) % 5) {
		case 0: ph->prod = take64(c); break;
		case 1: ch->cons = take64(c); break;
		case 2: ph->prod_epoch = take32(c); break;
		case 3: ch->cons_epoch = take32(c); break;
		default: ch->kick = take32(c); break;
		}
		break;
	case 2:	/* the producer index, a little off */
		ph->prod = KVMRING_POS(KVMRING_POS_EPOCH(ph->prod),
				       KVMRING_POS_INDEX(ph->prod) + (int8_t)take8(c));
		break;
	default:	/* the record header the consumer reads next */
		rec = (struct kvmring_rec *)(data + (s->rx.cons & (FUZZ_RING - 1)));
		rec->len = take8(c) & 1 ? take32(c) : take8(c) * 41U;
		rec->flags = take8(c) & 7;
		if ((s->rx.cons & (FUZZ_RING - 1)) + sizeof(*rec) <= FUZZ_RING) {
			rec->gso_size = (u16)take32(c);
			rec->gso_type = take8(c);
			rec->csum_start = (u16)take32(c);
			rec->csum_offset = (u16)take32(c);
		}
		break;
	}
}

/* Hostility over: the ring must carry a frame again within a few rounds. */
static void heal(struct state *s)
{
	u32 round, i, seq;
	void *p;
	int ret;

	for (round = 0; round < 8; round++) {
		if (trace)
			trace_state(s, 0xff);
		if (!ringnet_tx_reserve(&s->tx, 100, &p)) {
			harness_frame_fill(p, 100, 0xfeed0000U + round);
			ringnet_tx_commit(&s->tx, NULL);
		}
		ringnet_tx_publish(&s->tx);
		/* dequeue publishes what it consumed, as a driver does after each poll */
		for (i = 0; i < 2 * FUZZ_RING / 32; i++) {
			ret = ringnet_rx_dequeue(&s->rx, buf, sizeof(buf), NULL);
			if (ret == 100 && harness_frame_intact(buf, 100, &seq) && seq == 0xfeed0000U + round)
				return;
			/* 0 after bounded work may leave bytes: a driver polls on then */
			if (!ret && !ringnet_rx_arm(&s->rx))
				break;
			ringnet_rx_disarm(&s->rx);
		}
	}
	fail("ring did not recover", s->rx.ring.epoch, s->tx.ring.epoch);
}

/* Ethernet, a tag or two, IPv4 or IPv6, TCP or UDP: a start the mutations can work from. */
static u32 meta_headers(struct cursor *c, u8 *f, u32 len, u32 *l4)
{
	u8 shape = take8(c);
	u32 off = 12, i, tags = shape & 3, l4len;
	bool v6 = shape & 4, udp = shape & 8;

	memset(f, 0, len < 128 ? len : 128);
	for (i = 0; i < tags && off + 4 <= len; i++, off += 4) {
		f[off] = i || tags < 2 ? 0x81 : 0x88;
		f[off + 1] = i || tags < 2 ? 0x00 : 0xa8;
	}
	if (off + 2 + 40 + 20 > len)
		return 0;
	f[off] = v6 ? 0x86 : 0x08;
	f[off + 1] = v6 ? 0xdd : 0x00;
	off += 2;
	if (v6) {
		f[off] = 0x60;
		f[off + 6] = udp ? 17 : 6;
		off += 40;
	} else {
		f[off] = 0x45;
		f[off + 9] = udp ? 17 : 6;
		off += 20;
	}
	*l4 = off;
	l4len = udp ? 8 : 20;
	if (!udp)
		f[off + 12] = 0x50;
	f[off + (udp ? 6 : 16)] = take8(c);	/* a pseudo-header seed */
	return off + l4len;
}

static void meta_fuzz(struct cursor *c)
{
	static const u8 gsos[] = { KVMRING_GSO_NONE, KVMRING_GSO_TCPV4, KVMRING_GSO_TCPV6,
				   KVMRING_GSO_UDP_L4, KVMRING_GSO_TCPV4 | KVMRING_GSO_ECN };
	struct ringnet_meta m, done;
	u32 len = frame_len(c), headlen, min, l4 = 0, hl, i, n, field;
	u8 *frame, *head, how = take8(c);
	u16 seed;
	int ret;

	frame = malloc(len);
	if (!frame)
		abort();
	for (i = 0; i < len; i++)
		frame[i] = (u8)(i * 13 + 1);
	hl = how & 1 ? meta_headers(c, frame, len, &l4) : 0;
	/* then bytes from the input anywhere in the first 256 */
	n = take8(c) % 32;
	for (i = 0; i < n; i++)
		frame[take8(c) % (len < 256 ? len : 256)] = take8(c);

	m.flags = take8(c) & (how & 2 ? 0xff : KVMRING_REC_F_FRAME_MASK);
	m.gso_type = how & 4 ? take8(c) : gsos[take8(c) % sizeof(gsos)];
	m.gso_size = how & 8 ? (u16)take32(c) : (u16)(take8(c) * 16U);
	if ((how & 16) && hl) {		/* the L4 header's checksum, mostly */
		m.csum_start = (u16)(l4 + (int8_t)take8(c) % 4);
		m.csum_offset = take8(c) % 2 ? 16 : 6;
	} else {
		m.csum_start = (u16)take32(c);
		m.csum_offset = (u16)take32(c);
	}

	min = len < RINGNET_META_HEADLEN ? len : RINGNET_META_HEADLEN;
	headlen = min + take32(c) % (len - min + 1);
	head = malloc(headlen);		/* exactly: ASan sees a read beyond it */
	if (!head)
		abort();
	memcpy(head, frame, headlen);
	ret = ringnet_meta_check(head, headlen, len, &m);
	free(head);
	if (ret && ret != -EINVAL)
		fail("meta_check: unexpected error", (u32)-ret, 0);

	if (!ret && m.gso_type != KVMRING_GSO_NONE &&
	    (!(m.flags & KVMRING_REC_F_CSUM_PARTIAL) || m.gso_size < RINGNET_GSO_SIZE_MIN))
		fail("accepted GSO without its checksum or with a tiny MSS", m.flags, m.gso_size);

	/* the frame is exactly len bytes: ASan sees a write beyond it */
	field = (u32)m.csum_start + m.csum_offset;
	if (field + 2 <= len)
		memcpy(&seed, frame + field, 2);
	done = m;
	if (!ringnet_csum_finish(frame, len, &done)) {
		if (!ret && (m.flags & KVMRING_REC_F_CSUM_PARTIAL))
			fail("accepted metadata, but no checksum", m.csum_start, m.csum_offset);
		if (memcmp(&done, &m, sizeof(m)))
			fail("csum_finish failed and changed the metadata", done.flags, m.flags);
	} else if (m.flags & KVMRING_REC_F_CSUM_PARTIAL) {
		if (!ret && (field + 2 > headlen || (m.csum_offset & 1)))
			fail("accepted a field outside the head or at an odd offset", field, headlen);
		if ((done.flags & KVMRING_REC_F_CSUM_PARTIAL) || !(done.flags & KVMRING_REC_F_DATA_VALID))
			fail("csum_finish left the flags", done.flags, 0);
		/*
		 * The seed the field held, plus the finished sum: one's-complement
		 * zero, if the field is a 16-bit word of the sum (an even offset).
		 */
		if (!(m.csum_offset & 1) &&
		    csum_fold(csum_partial(frame + m.csum_start, len - m.csum_start, (__wsum)seed)))
			fail("finished checksum does not verify", m.csum_start, m.csum_offset);
	}
	free(frame);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	struct cursor c = { in, size };
	struct state s;
	u32 ops = 0, start;
	int ret;
	u8 op;

	if (!data) {
		trace = getenv("RING_FUZZ_TRACE");
		if (harness_ring_alloc(&ring, FUZZ_RING))
			abort();
		ph = &ring.prod_q->tx;
		ch = &ring.cons_q->rx;
		data = harness_queue_data(ring.prod_q);
	}
	op = take8(&c);
	if ((op & 0xc0) == 0xc0) {
		meta_fuzz(&c);
		return 0;
	}
	memset(&s, 0, sizeof(s));
	memset(ph, 0, sizeof(*ph));
	memset(ch, 0, sizeof(*ch));
	memset(data, 0, FUZZ_RING);
	if (op & 1) {		/* a ring found in any state */
		s.hostile = true;
		ph->prod = take64(&c);
		ch->cons = take64(&c);
		ph->prod_epoch = take32(&c);
		ch->cons_epoch = take32(&c);
		ch->kick = take32(&c);
	} else if (op & 2) {	/* an empty ring left at any index, in any epoch */
		start = take32(&c) * KVMRING_REC_ALIGN;
		if (op & 4)	/* close to the end of the data area */
			start = (start & ~(FUZZ_RING - 1)) - (start & 0x7ff);
		ph->prod = ch->cons = KVMRING_POS(take32(&c), start);
	}
	if (harness_tx_attach(&s.tx, &ring, FUZZ_RING) || harness_rx_attach(&s.rx, &ring, FUZZ_RING))
		fail("attach", 0, 0);

	while (c.left && ops++ < FUZZ_OPS) {
		op = take8(&c);
		switch (op % 16) {
		case 0: case 1: case 2:
			enqueue(&s, &c, true);
			break;
		case 3:
			enqueue(&s, &c, false);
			break;
		case 4:
			ringnet_tx_publish(&s.tx);
			break;
		case 5: case 6:
			dequeue(&s, &c);
			break;
		case 7:
			ret = ringnet_rx_dequeue(&s.rx, buf, take8(&c) & 1 ? sizeof(buf) : 100, NULL);
			if (ret > 0)
				check_copy(&s, buf, (u32)ret);
			else if (ret == -EMSGSIZE)
				s.lossy = true;	/* dropped for want of room */
			break;
		case 8:
			if (op & 16)
				ringnet_rx_arm(&s.rx);
			else
				ringnet_rx_disarm(&s.rx);
			ringnet_tx_kick_needed(&s.tx);
			break;
		case 9:
			s.lossy = true;
			if (op & 32) {		/* a new owner of one end */
				if (op & 16)
					ringnet_tx_renew(&s.tx);
				else
					ringnet_rx_renew(&s.rx);
			} else if (op & 16) {
				ringnet_tx_reset(&s.tx);
			} else {
				ringnet_rx_reset(&s.rx);
			}
			break;
		case 10:
			s.lossy = s.dup = true;
			if (op & 16)
				harness_tx_attach(&s.tx, &ring, FUZZ_RING);
			else
				harness_rx_attach(&s.rx, &ring, FUZZ_RING);
			break;
		case 11:
			ringnet_tx_has_room(&s.tx, frame_len(&c));
			break;
		default:
			vandalise(&s, &c, op >> 4);
			break;
		}
		check_state(&s);
		if (trace)
			trace_state(&s, op);
	}
	heal(&s);
	return 0;
}
