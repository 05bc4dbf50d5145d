// SPDX-License-Identifier: GPL-2.0-only
/*
 * ringnet_ring.c - the ring core; see ringnet_ring.h for the API and
 * include/kvmring/abi.h for the layout, the record format and the reset and
 * notification protocols.
 *
 * Each end keeps its own index privately and only publishes it, with its
 * epoch, in one 64-bit word in its own half of the ring; the other end's
 * word, the record headers and the epoch copies are read once per use into
 * locals and checked there. An end writes through its own half's pointer
 * only (the producer also into the data area); the others are const.
 */
#include "ringnet_ring.h"

/* Records one peek looks at, pads and dropped frames included: bounded work. */
#define RINGNET_PEEK_RECORDS	8

#define RINGNET_STAT(type, field)	{ #field, offsetof(struct type, field) }

/* Unsized: a table that misses a counter conflicts with the header's declaration. */
const struct ringnet_stat_desc ringnet_tx_stat_desc[] = {
	RINGNET_STAT(ringnet_tx_stats, frames),
	RINGNET_STAT(ringnet_tx_stats, bytes),
	RINGNET_STAT(ringnet_tx_stats, full),
	RINGNET_STAT(ringnet_tx_stats, bad_len),
	RINGNET_STAT(ringnet_tx_stats, kicks),
	RINGNET_STAT(ringnet_tx_stats, publishes),
	RINGNET_STAT(ringnet_tx_stats, bad_index),
	RINGNET_STAT(ringnet_tx_stats, resets),
	RINGNET_STAT(ringnet_tx_stats, reset_follows),
};

const struct ringnet_stat_desc ringnet_rx_stat_desc[] = {
	RINGNET_STAT(ringnet_rx_stats, frames),
	RINGNET_STAT(ringnet_rx_stats, bytes),
	RINGNET_STAT(ringnet_rx_stats, bad_desc),
	RINGNET_STAT(ringnet_rx_stats, bad_meta),
	RINGNET_STAT(ringnet_rx_stats, dropped),
	RINGNET_STAT(ringnet_rx_stats, dropped_bytes),
	RINGNET_STAT(ringnet_rx_stats, bad_index),
	RINGNET_STAT(ringnet_rx_stats, resets),
	RINGNET_STAT(ringnet_rx_stats, reset_follows),
};

/* ---- helpers -------------------------------------------------------------- */

static inline u32 ringnet_off(const struct ringnet_ring *r, u32 pos)
{
	return pos & (r->size - 1);
}

/*
 * Serial-number order on epochs, made total: of two different epochs exactly
 * one is newer, so two ends can never both wait for the other to follow.
 */
static inline bool ringnet_epoch_newer(u32 a, u32 b)
{
	u32 d = a - b;

	return (d && d < 0x80000000U) || (d == 0x80000000U && a > b);
}

/* Bytes in flight between two indices make sense for a ring of size bytes. */
static inline bool ringnet_span_ok(u32 front, u32 back, u32 size)
{
	return front - back <= size && !((front | back) % KVMRING_REC_ALIGN);
}

static int ringnet_ring_init(struct ringnet_ring *r, u32 size)
{
	if (size < KVMRING_RING_SIZE_MIN || size > KVMRING_RING_SIZE_MAX || (size & (size - 1)))
		return -EINVAL;
	r->size = size;
	r->epoch = 0;
	return 0;
}

/* ---- producer ------------------------------------------------------------- */

/*
 * Write our word and its copy if they are not what we last wrote: a third
 * party may have overwritten them, and a consumer that reads an old word
 * would leave a full ring full for ever. Our own line, read on the slow path.
 * The copy goes after the word, so a consumer it prompts finds the word new.
 */
static void ringnet_tx_restate(struct ringnet_tx *tx)
{
	struct kvmring_ring_prod *mine = tx->prod_half;
	u64 pos = KVMRING_POS(tx->ring.epoch, tx->published);

	/* Release: the records up to our index are complete before it shows. */
	if (READ_ONCE(mine->prod) != pos)
		smp_store_release(&mine->prod, pos);
	if (READ_ONCE(mine->prod_epoch) != tx->ring.epoch)
		smp_store_release(&mine->prod_epoch, tx->ring.epoch);
}

/*
 * Restart the ring at index 0 in epoch: to follow the consumer's reset, or
 * (resetting) to start our own and wait for the consumer to follow.
 */
static void ringnet_tx_restart(struct ringnet_tx *tx, u32 epoch, bool resetting)
{
	tx->resetting = resetting;
	tx->prod = 0;
	tx->published = 0;
	tx->cons = 0;
	tx->reserved = 0;
	tx->ring.epoch = epoch;
	ringnet_tx_restate(tx);
}

/* Restart the ring in an epoch newer than both words; the consumer follows. */
static void ringnet_tx_new_epoch(struct ringnet_tx *tx)
{
	/* Peer-writable: any value only decides which epoch comes next. */
	u32 theirs = KVMRING_POS_EPOCH(READ_ONCE(tx->cons_half->cons));
	u32 newest = ringnet_epoch_newer(theirs, tx->ring.epoch) ? theirs : tx->ring.epoch;

	ringnet_tx_restart(tx, newest + 1, true);
}

void ringnet_tx_reset(struct ringnet_tx *tx)
{
	ringnet_tx_new_epoch(tx);
	tx->stats.resets++;
}

void ringnet_tx_renew(struct ringnet_tx *tx)
{
	ringnet_tx_new_epoch(tx);
}

/* Look at the consumer's word again; the slow path of reserve and publish. */
static void ringnet_tx_refresh(struct ringnet_tx *tx)
{
	u32 epoch, cons;
	u64 pos;

	/*
	 * Acquire, peer-writable, epoch and index in one read: pairs with the
	 * consumer's release of its word, so we write into the space it frees
	 * only after it has read it.
	 */
	pos = smp_load_acquire(&tx->cons_half->cons);
	epoch = KVMRING_POS_EPOCH(pos);
	cons = KVMRING_POS_INDEX(pos);
	if (unlikely(epoch != tx->ring.epoch)) {
		if (ringnet_epoch_newer(epoch, tx->ring.epoch)) {
			ringnet_tx_restart(tx, epoch, false);
			tx->stats.reset_follows++;
		} else if (!tx->resetting) {
			/* Neither our reset nor a newer one: the word was overwritten. */
			tx->stats.bad_index++;
			ringnet_tx_reset(tx);
		} else {
			/*
			 * Our reset is pending: the consumer will restart at 0,
			 * so count from there.
			 */
			tx->cons = 0;
			ringnet_tx_restate(tx);
		}
		return;
	}
	tx->resetting = false;
	if (unlikely(!ringnet_span_ok(tx->prod, cons, tx->ring.size))) {
		tx->stats.bad_index++;
		ringnet_tx_reset(tx);
		return;
	}
	tx->cons = cons;
	ringnet_tx_restate(tx);
}

/* Bytes of pad needed before a record of need bytes at the current index. */
static inline u32 ringnet_tx_pad(const struct ringnet_tx *tx, u32 need)
{
	u32 tail = tx->ring.size - ringnet_off(&tx->ring, tx->prod);

	return need > tail ? tail : 0;
}

static inline bool ringnet_tx_fits(const struct ringnet_tx *tx, u32 need)
{
	u32 free = tx->ring.size - (tx->prod - tx->cons);

	return ringnet_tx_pad(tx, need) + need <= free;
}

bool ringnet_tx_has_room(struct ringnet_tx *tx, u32 len)
{
	u32 need;

	if (len < KVMRING_FRAME_MIN || len > KVMRING_FRAME_MAX)
		return false;
	need = kvmring_rec_size(len);
	if (ringnet_tx_fits(tx, need))
		return true;
	ringnet_tx_refresh(tx);
	return ringnet_tx_fits(tx, need);
}

int ringnet_tx_reserve(struct ringnet_tx *tx, u32 len, void **frame)
{
	struct kvmring_rec *rec;
	u32 need, pad;

	if (unlikely(len < KVMRING_FRAME_MIN || len > KVMRING_FRAME_MAX)) {
		tx->stats.bad_len++;
		return -EMSGSIZE;
	}
	need = kvmring_rec_size(len);
	if (unlikely(!ringnet_tx_fits(tx, need))) {
		ringnet_tx_refresh(tx);
		if (!ringnet_tx_fits(tx, need)) {
			tx->stats.full++;
			return -ENOSPC;
		}
	}

	/*
	 * The space up to the consumer is ours until we publish, so plain
	 * stores will do; the release in publish orders them. A pad may be
	 * only 8 bytes long: write its len and flags, nothing beyond.
	 */
	pad = ringnet_tx_pad(tx, need);
	if (pad) {
		rec = (struct kvmring_rec *)(tx->data + ringnet_off(&tx->ring, tx->prod));
		rec->len = 0;
		rec->flags = KVMRING_REC_F_PAD;
		tx->prod += pad;
	}
	tx->reserved = need;
	tx->reserved_len = len;
	rec = (struct kvmring_rec *)(tx->data + ringnet_off(&tx->ring, tx->prod));
	*frame = rec + 1;
	return 0;
}

void ringnet_tx_commit(struct ringnet_tx *tx, const struct ringnet_meta *meta)
{
	struct kvmring_rec *rec;

	if (unlikely(!tx->reserved))
		return;
	rec = (struct kvmring_rec *)(tx->data + ringnet_off(&tx->ring, tx->prod));
	rec->len = tx->reserved_len;
	rec->flags = meta ? meta->flags & KVMRING_REC_F_FRAME_MASK : 0;
	rec->gso_size = meta ? meta->gso_size : 0;
	rec->csum_start = meta ? meta->csum_start : 0;
	rec->csum_offset = meta ? meta->csum_offset : 0;
	rec->gso_type = meta ? meta->gso_type : KVMRING_GSO_NONE;
	memset(rec->rsvd, 0, sizeof(rec->rsvd));
	tx->prod += tx->reserved;
	tx->stats.frames++;
	tx->stats.bytes += tx->reserved_len;
	tx->reserved = 0;
	if (tx->prod - tx->published >= tx->ring.size >> RINGNET_PUBLISH_EARLY_SHIFT)
		ringnet_tx_publish(tx);
}

void ringnet_tx_publish(struct ringnet_tx *tx)
{
	/*
	 * Release: the records are complete before the word that covers them.
	 * No store when nothing is new: it would only pull the line away from
	 * the consumer.
	 */
	if (tx->prod != tx->published) {
		smp_store_release(&tx->prod_half->prod, KVMRING_POS(tx->ring.epoch, tx->prod));
		tx->published = tx->prod;
		tx->stats.publishes++;
	}
	/*
	 * Peer-writable, on a line the consumer rarely writes: a changed epoch
	 * copy prompts a look at the consumer's word.
	 */
	if (unlikely(READ_ONCE(tx->cons_half->cons_epoch) != tx->ring.epoch))
		ringnet_tx_refresh(tx);
}

bool ringnet_tx_kick_needed(struct ringnet_tx *tx)
{
	u32 kick;

	/*
	 * Full barrier: the published word must be visible before we read the
	 * consumer's arm, or both could miss each other and the consumer
	 * sleeps on a full ring. Pairs with smp_mb() in ringnet_rx_arm().
	 */
	smp_mb();
	/* Peer-writable: a bad value costs one spurious or one missing doorbell. */
	kick = READ_ONCE(tx->cons_half->kick);
	if (!(kick & 1) || kick == tx->kicked)
		return false;
	tx->kicked = kick;
	tx->stats.kicks++;
	return true;
}

int ringnet_tx_enqueue(struct ringnet_tx *tx, const void *frame, u32 len,
		       const struct ringnet_meta *meta)
{
	void *dst;
	int err;

	err = ringnet_tx_reserve(tx, len, &dst);
	if (err)
		return err;
	memcpy(dst, frame, len);
	ringnet_tx_commit(tx, meta);
	ringnet_tx_publish(tx);
	return 0;
}

int ringnet_tx_attach(struct ringnet_tx *tx, struct kvmring_ring_prod *mine,
		      const struct kvmring_ring_cons *theirs, u8 *data, u32 ring_size)
{
	struct ringnet_tx_stats stats = tx->stats;
	u64 our_pos, their_pos;
	int err;

	memset(tx, 0, sizeof(*tx));
	tx->stats = stats;
	err = ringnet_ring_init(&tx->ring, ring_size);
	if (err)
		return err;
	tx->prod_half = mine;
	tx->cons_half = theirs;
	tx->data = data;

	/*
	 * Peer-writable, both words, each read once. If their epochs agree and
	 * the indices make sense, resume where our predecessor stopped; follow
	 * a reset the consumer started; resume a reset of our own that the
	 * consumer has not followed yet (it will restart at index 0, so our
	 * index must make sense from there); restart the ring in any other
	 * case. Acquire on the consumer's word as in ringnet_tx_refresh().
	 */
	our_pos = READ_ONCE(mine->prod);
	their_pos = smp_load_acquire(&theirs->cons);
	tx->ring.epoch = KVMRING_POS_EPOCH(our_pos);
	tx->prod = KVMRING_POS_INDEX(our_pos);
	if (KVMRING_POS_EPOCH(their_pos) == tx->ring.epoch) {
		if (ringnet_span_ok(tx->prod, KVMRING_POS_INDEX(their_pos), ring_size)) {
			tx->published = tx->prod;
			tx->cons = KVMRING_POS_INDEX(their_pos);
			WRITE_ONCE(mine->prod_epoch, tx->ring.epoch);
			return 0;
		}
	} else if (ringnet_epoch_newer(KVMRING_POS_EPOCH(their_pos), tx->ring.epoch)) {
		ringnet_tx_restart(tx, KVMRING_POS_EPOCH(their_pos), false);
		tx->stats.reset_follows++;
		return 0;
	} else if (ringnet_span_ok(tx->prod, 0, ring_size)) {
		tx->resetting = true;
		tx->published = tx->prod;
		tx->cons = 0;
		ringnet_tx_restate(tx);
		return 0;
	}
	ringnet_tx_reset(tx);
	return 0;
}

/* ---- consumer ------------------------------------------------------------- */

/*
 * As ringnet_tx_restate(): a producer waiting for our epoch would wait for
 * ever. Our own line, read only when idle or waiting.
 */
static void ringnet_rx_restate(struct ringnet_rx *rx)
{
	struct kvmring_ring_cons *mine = rx->cons_half;
	u64 pos = KVMRING_POS(rx->ring.epoch, rx->published);

	/* Release: our reads of the records end before the producer may reuse them. */
	if (READ_ONCE(mine->cons) != pos)
		smp_store_release(&mine->cons, pos);
	if (READ_ONCE(mine->cons_epoch) != rx->ring.epoch)
		smp_store_release(&mine->cons_epoch, rx->ring.epoch);
}

/* As ringnet_tx_restart(), for the consumer. */
static void ringnet_rx_restart(struct ringnet_rx *rx, u32 epoch, bool resetting)
{
	rx->resetting = resetting;
	rx->cons = 0;
	rx->published = 0;
	rx->avail = 0;
	rx->peeked = 0;
	rx->ring.epoch = epoch;
	ringnet_rx_restate(rx);
}

/* As ringnet_tx_new_epoch(), for the consumer. */
static void ringnet_rx_new_epoch(struct ringnet_rx *rx)
{
	/* Peer-writable: any value only decides which epoch comes next. */
	u32 theirs = KVMRING_POS_EPOCH(READ_ONCE(rx->prod_half->prod));
	u32 newest = ringnet_epoch_newer(theirs, rx->ring.epoch) ? theirs : rx->ring.epoch;

	ringnet_rx_restart(rx, newest + 1, true);
}

void ringnet_rx_reset(struct ringnet_rx *rx)
{
	ringnet_rx_new_epoch(rx);
	rx->stats.resets++;
}

void ringnet_rx_renew(struct ringnet_rx *rx)
{
	ringnet_rx_new_epoch(rx);
}

/* Look at the producer's word again; true if bytes are waiting. */
static bool ringnet_rx_refill(struct ringnet_rx *rx)
{
	u32 epoch, prod;
	u64 pos;

	/*
	 * Acquire, peer-writable, epoch and index in one read: pairs with the
	 * producer's release of its word, so the records it covers are
	 * complete before we read them.
	 */
	pos = smp_load_acquire(&rx->prod_half->prod);
	epoch = KVMRING_POS_EPOCH(pos);
	prod = KVMRING_POS_INDEX(pos);
	if (unlikely(epoch != rx->ring.epoch)) {
		if (ringnet_epoch_newer(epoch, rx->ring.epoch)) {
			/* prod came with the epoch: it counts from the new 0 */
			ringnet_rx_restart(rx, epoch, false);
			rx->stats.reset_follows++;
		} else if (!rx->resetting) {
			/* Neither our reset nor a newer one: the word was overwritten. */
			rx->stats.bad_index++;
			ringnet_rx_reset(rx);
			return false;
		} else {
			/* Our reset is pending: the producer has not followed yet. */
			ringnet_rx_restate(rx);
			return false;
		}
	}
	rx->resetting = false;
	if (unlikely(!ringnet_span_ok(prod, rx->cons, rx->ring.size))) {
		rx->stats.bad_index++;
		ringnet_rx_reset(rx);
		return false;
	}
	rx->avail = prod - rx->cons;
	if (!rx->avail)
		ringnet_rx_restate(rx);
	return rx->avail != 0;
}

void ringnet_rx_publish(struct ringnet_rx *rx)
{
	if (rx->cons == rx->published)
		return;
	/* Release: our reads of the records end before the producer may reuse them. */
	smp_store_release(&rx->cons_half->cons, KVMRING_POS(rx->ring.epoch, rx->cons));
	rx->published = rx->cons;
}

/*
 * A record header we cannot trust leaves no way to find the next one, except
 * the producer index itself, which always lies on a record boundary: skip
 * to it and hand the space back at once.
 */
static void ringnet_rx_resync(struct ringnet_rx *rx)
{
	rx->stats.bad_desc++;
	rx->stats.dropped_bytes += rx->avail;
	rx->cons += rx->avail;
	rx->avail = 0;
	rx->peeked = 0;
	ringnet_rx_publish(rx);
}

/* Metadata of a frame record that fits; false if it contradicts len. */
static bool ringnet_rx_read_meta(const struct kvmring_rec *rec, u32 len, u16 flags,
				 struct ringnet_meta *meta)
{
	u8 gso;

	/* Peer-writable: each field read once into *meta, then checked there. */
	meta->flags = flags;
	meta->gso_type = READ_ONCE(rec->gso_type);
	meta->gso_size = READ_ONCE(rec->gso_size);
	meta->csum_start = 0;
	meta->csum_offset = 0;

	gso = meta->gso_type & ~KVMRING_GSO_ECN;
	if (gso == KVMRING_GSO_NONE) {
		if (meta->gso_type != KVMRING_GSO_NONE || meta->gso_size)
			return false;
	} else if (gso != KVMRING_GSO_TCPV4 && gso != KVMRING_GSO_TCPV6 &&
		   gso != KVMRING_GSO_UDP_L4) {
		return false;
	} else if (!meta->gso_size || meta->gso_size >= len) {
		return false;
	}

	if (flags & KVMRING_REC_F_CSUM_PARTIAL) {
		meta->csum_start = READ_ONCE(rec->csum_start);
		meta->csum_offset = READ_ONCE(rec->csum_offset);
		/* The 16-bit checksum field must lie inside the frame. */
		if ((u32)meta->csum_start + meta->csum_offset + 2 > len)
			return false;
	}
	return true;
}

int ringnet_rx_peek(struct ringnet_rx *rx, struct ringnet_frame *f)
{
	const struct kvmring_rec *rec;
	u32 off, len, need;
	u16 flags;
	int i;

	rx->peeked = 0;
	for (i = 0; i < RINGNET_PEEK_RECORDS; i++) {
		/*
		 * Peer-writable, on a line the producer rarely writes: once the
		 * producer has reset, what we counted as available is being
		 * overwritten; forget it and let refill follow the reset.
		 */
		if (unlikely(READ_ONCE(rx->prod_half->prod_epoch) != rx->ring.epoch))
			rx->avail = 0;
		if (!rx->avail && !ringnet_rx_refill(rx))
			return 0;
		off = ringnet_off(&rx->ring, rx->cons);
		rec = (const struct kvmring_rec *)(rx->data + off);
		/*
		 * Peer-writable: len and flags once each. They are the record's
		 * first 8 bytes, which lie inside the area at any aligned offset;
		 * nothing beyond them is read before the record is known to fit.
		 */
		len = READ_ONCE(rec->len);
		flags = READ_ONCE(rec->flags);

		if (flags == KVMRING_REC_F_PAD) {
			need = rx->ring.size - off;
			if (len || !off || need > rx->avail)
				goto bad;
			rx->cons += need;
			rx->avail -= need;
			continue;
		}
		if ((flags & ~KVMRING_REC_F_FRAME_MASK) ||
		    len < KVMRING_FRAME_MIN || len > KVMRING_FRAME_MAX)
			goto bad;
		need = kvmring_rec_size(len);
		if (need > rx->avail || need > rx->ring.size - off)
			goto bad;

		if (unlikely(!ringnet_rx_read_meta(rec, len, flags, &f->meta))) {
			/* The length is sound, so only this frame is lost. */
			rx->stats.bad_meta++;
			rx->stats.dropped++;
			rx->cons += need;
			rx->avail -= need;
			continue;
		}
		f->data = (const u8 *)(rec + 1);
		f->len = len;
		rx->peeked = need;
		rx->peeked_len = len;
		return 1;
	}
	return 0;

bad:
	ringnet_rx_resync(rx);
	return 0;
}

void ringnet_rx_consume(struct ringnet_rx *rx)
{
	if (!rx->peeked)
		return;
	rx->cons += rx->peeked;
	rx->avail -= rx->peeked;
	rx->stats.frames++;
	rx->stats.bytes += rx->peeked_len;
	rx->peeked = 0;
	if (rx->cons - rx->published >= rx->ring.size >> RINGNET_PUBLISH_EARLY_SHIFT)
		ringnet_rx_publish(rx);
}

int ringnet_rx_dequeue(struct ringnet_rx *rx, void *buf, u32 size, struct ringnet_meta *meta)
{
	struct ringnet_frame f;
	int ret;

	ret = ringnet_rx_peek(rx, &f);
	if (ret > 0) {
		if (f.len <= size) {
			memcpy(buf, f.data, f.len);
			if (meta)
				*meta = f.meta;
			ringnet_rx_consume(rx);
			ret = f.len;
		} else {
			rx->stats.dropped++;
			rx->cons += rx->peeked;
			rx->avail -= rx->peeked;
			rx->peeked = 0;
			ret = -EMSGSIZE;
		}
	}
	/* Pads and dropped frames free space too, even when nothing is returned. */
	ringnet_rx_publish(rx);
	return ret;
}

bool ringnet_rx_arm(struct ringnet_rx *rx)
{
	ringnet_rx_publish(rx);
	/* A new odd value: the producer kicks once per value it has not seen. */
	rx->kick = (rx->kick + 2) | 1;
	WRITE_ONCE(rx->cons_half->kick, rx->kick);
	/*
	 * Full barrier: the arm must be visible before we look at prod again,
	 * or a producer that published just before it would not kick while we
	 * go to sleep. Pairs with smp_mb() in ringnet_tx_kick_needed().
	 */
	smp_mb();
	return rx->avail || ringnet_rx_refill(rx);
}

void ringnet_rx_disarm(struct ringnet_rx *rx)
{
	if (!(rx->kick & 1))
		return;
	rx->kick++;
	WRITE_ONCE(rx->cons_half->kick, rx->kick);
}

int ringnet_rx_attach(struct ringnet_rx *rx, struct kvmring_ring_cons *mine,
		      const struct kvmring_ring_prod *theirs, const u8 *data, u32 ring_size)
{
	struct ringnet_rx_stats stats = rx->stats;
	u64 our_pos, their_pos;
	u32 kick;
	int err;

	memset(rx, 0, sizeof(*rx));
	rx->stats = stats;
	err = ringnet_ring_init(&rx->ring, ring_size);
	if (err)
		return err;
	rx->cons_half = mine;
	rx->prod_half = theirs;
	rx->data = data;

	/*
	 * Peer-writable: start disarmed from the value found, so our next arm is
	 * a value no producer has kicked for yet.
	 */
	kick = READ_ONCE(mine->kick);
	rx->kick = kick + (kick & 1);
	WRITE_ONCE(mine->kick, rx->kick);

	/*
	 * As in ringnet_tx_attach(): resume, follow, resume our own pending
	 * reset, or restart. A consumer whose reset is pending has consumed
	 * nothing in its epoch yet: its index must be 0.
	 */
	our_pos = READ_ONCE(mine->cons);
	their_pos = smp_load_acquire(&theirs->prod);
	rx->ring.epoch = KVMRING_POS_EPOCH(our_pos);
	if (KVMRING_POS_EPOCH(their_pos) == rx->ring.epoch) {
		if (ringnet_span_ok(KVMRING_POS_INDEX(their_pos), KVMRING_POS_INDEX(our_pos),
				    ring_size)) {
			rx->cons = KVMRING_POS_INDEX(our_pos);
			rx->published = rx->cons;
			WRITE_ONCE(mine->cons_epoch, rx->ring.epoch);
			return 0;
		}
	} else if (ringnet_epoch_newer(KVMRING_POS_EPOCH(their_pos), rx->ring.epoch)) {
		ringnet_rx_restart(rx, KVMRING_POS_EPOCH(their_pos), false);
		rx->stats.reset_follows++;
		return 0;
	} else if (!KVMRING_POS_INDEX(our_pos)) {
		ringnet_rx_restart(rx, rx->ring.epoch, true);
		return 0;
	}
	ringnet_rx_reset(rx);
	return 0;
}

/* ---- occupancy ------------------------------------------------------------ */

/* front - back if the other end's word (pos) is in our epoch and in range, else 0. */
static u32 ringnet_used(const struct ringnet_ring *r, u64 pos, u32 ours, bool producer)
{
	u32 theirs = KVMRING_POS_INDEX(pos);
	u32 front = producer ? ours : theirs, back = producer ? theirs : ours;

	if (KVMRING_POS_EPOCH(pos) != READ_ONCE(r->epoch) ||
	    !ringnet_span_ok(front, back, r->size))
		return 0;
	return front - back;
}

u32 ringnet_tx_used(const struct ringnet_tx *tx)
{
	if (!tx->cons_half)
		return 0;
	return ringnet_used(&tx->ring, READ_ONCE(tx->cons_half->cons), READ_ONCE(tx->published), true);
}

u32 ringnet_rx_used(const struct ringnet_rx *rx)
{
	if (!rx->prod_half)
		return 0;
	return ringnet_used(&rx->ring, READ_ONCE(rx->prod_half->prod), READ_ONCE(rx->cons), false);
}
