/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ringnet_member.h - what a peer table entry says, and what we make of it:
 * the decisions of membership without its plumbing.
 *
 * ringnet_peer.c scans the peer table at every beat and keeps, for each
 * remote slot, a struct ringnet_member: the identity of the generation we
 * accepted (or refused) and whether its heartbeat moves. The rules are here:
 * when an entry is a join, a new generation, a leave, a heartbeat or a death
 * by timeout; which MACs and doorbell ids a peer may not have; whether its
 * addresses settled; whether our own entry is still what we wrote. Locks,
 * logging, netlink events, carrier and ring attachment stay in
 * ringnet_peer.c, which calls these in the order it always did.
 *
 * Pure functions: no locks, no allocation, no clock (the caller passes "now"
 * and the timeout, in jiffies in the kernel), no counters (callers count what
 * the results say). Compiled into ringnet.ko and, through ringnet_shim.h,
 * into the userspace harness (harness/member_test.c, member_fuzz.c).
 *
 * Shared memory is hostile: a function that takes a struct kvmring_peer
 * reads each word it needs once (READ_ONCE, the MAC with one copy) and
 * decides on that copy. A struct ringnet_member is private: its one writer
 * (the region's peer work) calls the functions that change it, under the
 * region's peers_lock when readers outside the work look at it; present and
 * alive are also read locklessly (the data path), hence WRITE_ONCE, and
 * present is released after the MAC is written.
 */
#ifndef RINGNET_MEMBER_H
#define RINGNET_MEMBER_H

#include "ringnet_shim.h"
#include "kvmring/abi.h"

/* The part of an entry after state and heartbeat: its owner's to write, everyone's to read. */
#define RINGNET_ENTRY_OFF	offsetof(struct kvmring_peer, doorbell_id)
#define RINGNET_ENTRY_TAIL	(sizeof(struct kvmring_peer) - RINGNET_ENTRY_OFF)
#define ringnet_entry_tail(e)	((u8 *)(e) + RINGNET_ENTRY_OFF)

/* What we know of one remote slot: see struct ringnet_peer for who reads it. */
struct ringnet_member {
	bool			present;	/* slot UP with a generation we attached to */
	bool			alive;		/* heartbeat moving */
	/* this generation claims a MAC someone else holds */
	bool			refused;
	u32			gen;
	u8			mac[ETH_ALEN];
	/* what a refused generation claims, to show */
	u8			refused_mac[ETH_ALEN];
	u32			doorbell_id;
	u64			last_hb;
	unsigned long		last_hb_change;	/* "now" when last_hb last moved */
	u32			addr_seq;	/* the entry's addr_seq we last told of */
};

/*
 * A region's members, slot by slot: members[s] for s < n. Ours is among
 * them, never present (nothing makes our own slot present).
 */
struct ringnet_members {
	struct ringnet_member	*const *members;
	u32			n;
};

/* What one look at a slot's entry found (ringnet_member_sight()). */
enum ringnet_sight {
	RINGNET_SIGHT_DOWN,	/* not UP: a leave if the member was present */
	RINGNET_SIGHT_NEW,	/* not present, or a new generation: judge its identity */
	RINGNET_SIGHT_BEAT,	/* the heartbeat moved */
	RINGNET_SIGHT_DIED,	  /* alive, and the heartbeat still for the timeout: a death */
	RINGNET_SIGHT_SAME,	/* nothing to do about identity or liveness */
};

/* The words of one entry, each read once, as ringnet_member_sight() found them. */
struct ringnet_sighting {
	u32	state;
	u32	gen;
	u64	heartbeat;		/* unless DOWN */
	u8	mac[ETH_ALEN];		/* NEW only */
};

/* "now" is after since + timeout (wrapping, as time_after()). */
static inline bool ringnet_member_timed_out(unsigned long since, unsigned long now,
					    unsigned long timeout)
{
	return time_after(now, since + timeout);
}

/* A settled address count (even) other than the one we last told of: addresses moved. */
static inline bool ringnet_addr_seq_moved(u32 seq, u32 told)
{
	return !(seq & 1) && seq != told;
}

/* A word that holds a claim on its slot: CLAIMED or UP, whatever the generation. */
static inline bool ringnet_word_claimed(u64 word)
{
	u32 st = KVMRING_PEER_STATE(word);

	return st == KVMRING_PEER_CLAIMED || st == KVMRING_PEER_UP;
}

/*
 * Reads e's state word once; if UP, then (after a read barrier pairing with
 * its owner's release of UP) its heartbeat once, and for a NEW sighting its
 * MAC, one copy. Fills *s and says what m should make of it, given now and
 * the heartbeat timeout.
 */
enum ringnet_sight ringnet_member_sight(const struct ringnet_member *m,
					const struct kvmring_peer *e, struct ringnet_sighting *s,
					unsigned long now, unsigned long timeout);

/*
 * Whether mac may be m's identity: NULL, or why not ("an invalid MAC", "our
 * own MAC" (own), "the MAC of a live peer"). Only present and alive holders
 * other than m count: the first to hold an address keeps it, a dead holder
 * keeps no claim.
 */
const char *ringnet_member_mac_refusal(const struct ringnet_members *t,
				       const struct ringnet_member *m, const u8 *mac,
				       const u8 *own);

/*
 * The doorbell id m may be kicked at: id, or KVMRING_DOORBELL_NONE when the
 * region has no doorbells (doorbell false) or id is beyond 16 bits, and also
 * (with *conflict set) when id is ours (ivposition) or another present
 * member's. *conflict is false otherwise.
 */
u32 ringnet_member_doorbell(const struct ringnet_members *t, const struct ringnet_member *m,
			    u32 id, bool doorbell, u32 ivposition, bool *conflict);

/* Stops counting m as a peer: not alive, not present. */
void ringnet_member_forget(struct ringnet_member *m);

/* The slot went DOWN: no longer refused, forgotten. Returns whether m was present (a leave). */
bool ringnet_member_down(struct ringnet_member *m);

/*
 * Whether refusing generation gen is news (to count, log and tell): m was
 * present, the generation is another, or it was not refused yet. A refused
 * generation is judged again at each beat, its rival may have left; the
 * same refusal again is no news.
 */
bool ringnet_member_refusal_news(const struct ringnet_member *m, u32 gen);

/* Refuses generation gen, which claims mac: forgets m and remembers both. */
void ringnet_member_refuse(struct ringnet_member *m, u32 gen, const u8 *mac);

/*
 * Accepts generation gen with mac, doorbell id and heartbeat hb, seen now:
 * present (released after the MAC) and alive. The caller forgot m and
 * attached its rings first.
 */
void ringnet_member_join(struct ringnet_member *m, u32 gen, const u8 *mac, u32 doorbell_id,
			 u64 hb, unsigned long now);

/* The heartbeat moved to hb, now. Returns true if m was dead and is alive again. */
bool ringnet_member_beat(struct ringnet_member *m, u64 hb, unsigned long now);

/* The heartbeat stood still for the timeout: m is dead (still present). */
void ringnet_member_die(struct ringnet_member *m);

/* Takes a settled addr_seq that moved (ringnet_addr_seq_moved()); returns whether it did. */
bool ringnet_member_addrs(struct ringnet_member *m, u32 seq);

/*
 * Whether our entry me is still ours: its state word is exactly want (our
 * generation, UP) and everything after state and heartbeat equals mine,
 * what we last wrote. Reads the word once and the rest with one copy.
 */
bool ringnet_member_self_ok(const struct kvmring_peer *me, const struct kvmring_peer *mine,
			    u64 want);

/*
 * After an eviction: whether to take our old slot again, whose word is now
 * word. Yes if it is our own word (our generation, UP: a new generation of
 * ours, not our entry), if nobody holds a claim in it, or if the claim's
 * heartbeat (read once from me, only then) is still evicted_hb, what it was
 * when we were evicted at evicted_at, and the timeout has passed since.
 */
bool ringnet_member_retake_own(const struct kvmring_peer *me, u64 word, u64 own_word,
			       u64 evicted_hb, unsigned long evicted_at, unsigned long now,
			       unsigned long timeout);

/*
 * After an eviction, failing our own slot and a free one: whether slot e,
 * of which we know m, is nobody's: its heartbeat (read once) is still the
 * one we last saw move, and the timeout has passed since it did.
 */
bool ringnet_member_abandoned(const struct ringnet_member *m, const struct kvmring_peer *e,
			      unsigned long now, unsigned long timeout);

#endif /* RINGNET_MEMBER_H */
