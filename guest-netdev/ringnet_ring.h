/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ringnet_ring.h - the ring core: one end of one kvmring ring.
 *
 * The core moves frames through a single-producer single-consumer ring laid
 * out by include/kvmring/abi.h. It is compiled into ringnet.ko and into the
 * userspace harness (harness/), so it allocates nothing, never sleeps, takes
 * no locks and uses only what ringnet_shim.h provides. Build with the
 * repository's include/ on the include path.
 *
 * Ownership. A ring is three pieces (include/kvmring/abi.h): the producer's
 * half, the consumer's half and the data area. The producer writes only its
 * half and the data, the consumer only its half; each end takes the pieces
 * as separate pointers, and those it must not write are const, so the
 * compiler holds each end to its own. The pieces may lie in different
 * mappings, and each end works with the other's pieces mapped read-only.
 *
 * Trust. Nothing in the ring is trusted. The other end's half and, for the
 * consumer, the data are the other guest's to write at any time; our own
 * half lies in memory the host can write too, and holds whatever an
 * earlier owner of our slot left there. The core reads each index, length
 * and flag once, checks it, and answers a bad value with a counted drop or
 * a reset of this one ring; it never reads or writes outside the ring and
 * every call does a bounded amount of work. Frame payloads are not
 * checked: a frame returned by ringnet_rx_peek() points into the data area
 * and may change while the caller looks at it, so copy it before parsing
 * it.
 *
 * Concurrency. A struct ringnet_tx is used by one thread at a time, and so is
 * a struct ringnet_rx; the two ends of a ring may run on different CPUs or
 * in different guests. The caller serialises each end (a TX queue lock, NAPI).
 *
 * The memory. Map the regions write-back cacheable (memremap(MEMREMAP_WB)
 * in the kernel); where each piece of a ring lies in them is the roster's
 * business (ringnet_roster.h: ringnet_route_queue()). Stats live in the
 * ring-end structs, which the caller owns: attach keeps them, so zero each
 * struct once before its first attach.
 *
 * Producer (writes its half and the data; reads the consumer's half):
 *   ringnet_tx_attach()       take the producer end of a ring
 *   ringnet_tx_reserve()      room for one frame; returns where to write it
 *   ringnet_tx_commit()       finish the reserved record (not yet visible)
 *   ringnet_tx_publish()      make committed records visible to the consumer
 *   ringnet_tx_kick_needed()  after publish, in doorbell mode: ring the doorbell?
 *   ringnet_tx_enqueue()      reserve + copy + commit + publish
 *   ringnet_tx_has_room()     would a frame of this length fit now?
 *   ringnet_tx_reset()        give up on the ring's contents, restart it
 *   ringnet_tx_renew()        a new owner of this end: restart, not an error
 * Consumer (writes its half; reads the producer's half and the data):
 *   ringnet_rx_attach()       take the consumer end of a ring
 *   ringnet_rx_peek()         next frame, in place, validated
 *   ringnet_rx_consume()      done with the peeked frame (not yet visible)
 *   ringnet_rx_publish()      hand consumed space back to the producer
 *   ringnet_rx_dequeue()      peek + copy + consume + publish
 *   ringnet_rx_arm()          going idle in doorbell mode: ask to be kicked
 *   ringnet_rx_disarm()       polling again: no kicks needed
 *   ringnet_rx_reset()        give up on the ring's contents, restart it
 *   ringnet_rx_renew()        a new owner of this end: restart, not an error
 */
#ifndef RINGNET_RING_H
#define RINGNET_RING_H

#include "ringnet_shim.h"
#include "kvmring/abi.h"

/* Per-frame metadata carried in the record (struct kvmring_rec). */
struct ringnet_meta {
	u16	flags;			/* KVMRING_REC_F_CSUM_PARTIAL, KVMRING_REC_F_DATA_VALID */
	u16	gso_size;		/* MSS when gso_type != KVMRING_GSO_NONE */
	u16	csum_start;		/* with KVMRING_REC_F_CSUM_PARTIAL */
	u16	csum_offset;
	u8	gso_type;		/* KVMRING_GSO_*, optionally | KVMRING_GSO_ECN */
};

/* A frame in the ring, as ringnet_rx_peek() found it. */
struct ringnet_frame {
	const u8		*data;	/* in the shared region: copy before parsing */
	u32			len;	/* KVMRING_FRAME_MIN..KVMRING_FRAME_MAX */
	struct ringnet_meta	meta;	/* validated against len */
};

/* What both ends keep of a ring; where its pieces are is in each end's struct. */
struct ringnet_ring {
	u32	size;			/* data bytes, a power of two */
	u32	epoch;			/* the reset epoch this end works in */
};

/*
 * A batch is published early, in the middle, once it holds this share of the
 * ring (size >> shift bytes), on either end: otherwise a batch of large
 * frames fills the ring before the consumer sees any of it, and a consumer
 * empties it before the producer gets any space back, and the two ends copy
 * by turns instead of at once (64 KiB frames in a 256 KiB ring, bench:ring).
 * Small frames never reach it: their batches end first.
 */
#define RINGNET_PUBLISH_EARLY_SHIFT	2

struct ringnet_tx_stats {
	u64	frames;			/* committed */
	u64	bytes;
	u64	full;			/* reserve refused: no room */
	u64	bad_len;		/* reserve refused: length out of range */
	u64	kicks;			/* doorbells asked for */
	u64	publishes;		/* stores of the producer's word: one per batch, more in a batch past a quarter of the ring */
	u64	bad_index;		/* consumer index or epoch out of range: ring reset */
	u64	resets;			/* resets this end started: repairs, ringnet_*_reset(); not renewals */
	u64	reset_follows;		/* resets the consumer started */
};

struct ringnet_rx_stats {
	u64	frames;			/* consumed */
	u64	bytes;
	u64	bad_desc;		/* record header out of range: pending bytes dropped */
	u64	bad_meta;		/* record metadata inconsistent: that frame dropped */
	u64	dropped;		/* frames dropped: bad metadata or no room in the buffer */
	u64	dropped_bytes;		/* bytes skipped after a bad record header */
	u64	bad_index;		/* producer index or epoch out of range: ring reset */
	u64	resets;			/* resets this end started: repairs, ringnet_*_reset(); not renewals */
	u64	reset_follows;		/* resets the producer started */
};

struct ringnet_tx {
	/* Where the ring is: we write our half and the data, and only read the consumer's half. */
	struct kvmring_ring_prod	*prod_half;
	const struct kvmring_ring_cons	*cons_half;
	u8				*data;		/* ring.size bytes */

	struct ringnet_ring	ring;
	u32			prod;		/* private; published to prod_half->prod */
	u32			published;	/* last index written to prod_half->prod */
	u32			cons;		/* consumer index, last checked value */
	u32			reserved;	/* record bytes held by reserve, 0 if none */
	u32			reserved_len;	/* frame length held by reserve */
	u32			kicked;		/* last kick value a doorbell was asked for */
	bool			resetting;	/* our reset waits for the consumer to follow */
	struct ringnet_tx_stats	stats;
};

struct ringnet_rx {
	/* Where the ring is: we write our half, and only read the producer's half and the data. */
	struct kvmring_ring_cons	*cons_half;
	const struct kvmring_ring_prod	*prod_half;
	const u8			*data;		/* ring.size bytes */

	struct ringnet_ring	ring;
	u32			cons;		/* private; published to cons_half->cons */
	u32			published;	/* last index written to cons_half->cons */
	u32			avail;		/* bytes from cons up to the checked producer index */
	u32			peeked;		/* record bytes of the peeked frame, 0 if none */
	u32			peeked_len;
	u32			kick;		/* our kick value; odd while armed */
	bool			resetting;	/* our reset waits for the producer to follow */
	struct ringnet_rx_stats	stats;
};

/* Stats as a table, for ethtool -S and the controller. */
struct ringnet_stat_desc {
	const char	*name;
	size_t		offset;		/* of a u64 in the stats struct */
};

#define RINGNET_TX_NSTATS	(sizeof(struct ringnet_tx_stats) / sizeof(u64))
#define RINGNET_RX_NSTATS	(sizeof(struct ringnet_rx_stats) / sizeof(u64))
extern const struct ringnet_stat_desc ringnet_tx_stat_desc[RINGNET_TX_NSTATS];
extern const struct ringnet_stat_desc ringnet_rx_stat_desc[RINGNET_RX_NSTATS];

/*
 * Producer.
 *
 * ringnet_tx_attach(): become the producer of the ring whose producer's half
 * is mine, consumer's half theirs and data area the ring_size bytes at data.
 * Only mine and the data are ever written. If the ring is consistent the
 * producer resumes where its index stands; if the consumer started a reset
 * it follows it; if our word is in a newer epoch than the consumer's and its
 * index makes sense from 0, that is a reset of this end the consumer has not
 * followed yet, and it resumes waiting for it (none of these counts a
 * reset). Only a pair of words that cannot be explained resets the ring
 * (counted in resets).
 * Attach may be repeated at any time, e.g. when the peer (re)appears.
 * Returns 0, or -EINVAL for a ring_size that is not a power of two in the
 * ABI's range.
 *
 * ringnet_tx_reserve(): make room for a frame of len bytes (writing a pad
 * record first if it would straddle the end) and set *frame to where its
 * bytes go; the room is the caller's until commit. Returns 0, -EMSGSIZE for
 * a length outside KVMRING_FRAME_MIN..KVMRING_FRAME_MAX, or -ENOSPC when
 * the ring is full (both counted).
 *
 * ringnet_tx_commit(): write the record header for the reserved frame with
 * meta (NULL: none). The record is visible after the next publish, which
 * the commit does itself once a quarter of the ring waits unpublished. A
 * commit with nothing reserved (a reset intervened) does nothing.
 *
 * ringnet_tx_publish(): release every committed record to the consumer with
 * one index store (none if nothing is new), and notice a reset the consumer
 * asked for (which drops the records not yet consumed). Call it once per
 * batch.
 *
 * ringnet_tx_kick_needed(): call after publish in doorbell mode; true once
 * per request of the consumer for a kick: then ring its doorbell.
 *
 * ringnet_tx_enqueue(): reserve, copy len bytes from frame, commit, publish.
 * Returns 0, -EMSGSIZE or -ENOSPC.
 *
 * ringnet_tx_has_room(): whether a frame of len bytes would fit now; looks
 * at the consumer index again when the cached one says no (for waking a
 * stopped queue).
 *
 * ringnet_tx_reset(): drop everything in the ring and restart it at index 0;
 * the consumer follows when it next looks. Counted in resets: it is the
 * answer to an error.
 *
 * ringnet_tx_renew(): after ringnet_tx_attach(), when this end has a new
 * owner (a new generation of our slot joins): drop whatever a former owner
 * left and restart the ring in a new epoch exactly as ringnet_tx_reset()
 * does, but without counting it, since nothing went wrong. A later attach
 * by the same owner resumes the renewal if the consumer has not followed
 * yet.
 */
int ringnet_tx_attach(struct ringnet_tx *tx, struct kvmring_ring_prod *mine,
		      const struct kvmring_ring_cons *theirs, u8 *data, u32 ring_size);
int ringnet_tx_reserve(struct ringnet_tx *tx, u32 len, void **frame);
void ringnet_tx_commit(struct ringnet_tx *tx, const struct ringnet_meta *meta);
void ringnet_tx_publish(struct ringnet_tx *tx);
bool ringnet_tx_kick_needed(struct ringnet_tx *tx);
int ringnet_tx_enqueue(struct ringnet_tx *tx, const void *frame, u32 len,
		       const struct ringnet_meta *meta);
bool ringnet_tx_has_room(struct ringnet_tx *tx, u32 len);
void ringnet_tx_reset(struct ringnet_tx *tx);
void ringnet_tx_renew(struct ringnet_tx *tx);

/*
 * Consumer.
 *
 * ringnet_rx_attach(): become the consumer of the ring whose consumer's half
 * is mine, producer's half theirs and data area the ring_size bytes at data.
 * Only mine is ever written. Otherwise like ringnet_tx_attach() (a pending
 * reset of this end is resumed when our word is in the newer epoch and still
 * at index 0). Starts disarmed (polling).
 *
 * ringnet_rx_peek(): find the next frame and describe it in *f. Returns 1,
 * or 0 when there is nothing (more) to deliver now. Pad records are skipped.
 * A record whose header is out of range makes the consumer skip everything
 * published so far (bad_desc, dropped_bytes); one whose metadata contradicts
 * its length is dropped alone (bad_meta); a producer index out of range
 * resets the ring (bad_index). Each call does a bounded amount of work, so
 * 0 does not promise the ring is empty: poll again later.
 *
 * ringnet_rx_consume(): advance past the frame of the last successful peek.
 * The space goes back to the producer at the next publish, which the
 * consume does itself once a quarter of the ring waits unpublished.
 *
 * ringnet_rx_publish(): release consumed space to the producer (one index
 * store, skipped when nothing changed). Call it once per batch; until then
 * the producer cannot reuse the space.
 *
 * ringnet_rx_dequeue(): peek, copy the frame into buf (size bytes), consume,
 * publish. Returns the frame length, 0 if nothing, or -EMSGSIZE if the frame
 * did not fit in buf (it is dropped and counted).
 *
 * ringnet_rx_arm(): before sleeping in doorbell mode: publish, ask the
 * producer for a kick, then look again. Returns true if frames arrived
 * meanwhile: keep polling (and disarm) instead of sleeping.
 *
 * ringnet_rx_disarm(): when polling again, so producers stop kicking.
 *
 * ringnet_rx_reset(): drop everything in the ring and restart it at index 0;
 * the producer follows when it next looks. Counted in resets.
 *
 * ringnet_rx_renew(): as ringnet_tx_renew(), for a new owner of the
 * consumer end; not counted.
 */
int ringnet_rx_attach(struct ringnet_rx *rx, struct kvmring_ring_cons *mine,
		      const struct kvmring_ring_prod *theirs, const u8 *data, u32 ring_size);
int ringnet_rx_peek(struct ringnet_rx *rx, struct ringnet_frame *f);
void ringnet_rx_consume(struct ringnet_rx *rx);
void ringnet_rx_publish(struct ringnet_rx *rx);
int ringnet_rx_dequeue(struct ringnet_rx *rx, void *buf, u32 size, struct ringnet_meta *meta);
bool ringnet_rx_arm(struct ringnet_rx *rx);
void ringnet_rx_disarm(struct ringnet_rx *rx);
void ringnet_rx_reset(struct ringnet_rx *rx);
void ringnet_rx_renew(struct ringnet_rx *rx);

/*
 * Occupancy, for monitoring: the bytes published into the ring and not yet
 * taken by the consumer, as this end sees them now (records with their
 * headers and padding, 0..ring size). Each reads the other end's word once
 * and acts on nothing: a word from another epoch or out of range reads as 0,
 * and the datapath counts and repairs it when it next looks. May run while
 * the datapath works on another CPU; the answer is a snapshot.
 */
u32 ringnet_tx_used(const struct ringnet_tx *tx);
u32 ringnet_rx_used(const struct ringnet_rx *rx);

#endif /* RINGNET_RING_H */
