/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ringnet_member.h - what a peer's entry says, and what we make of it: the
 * decisions of membership without its plumbing.
 *
 * ABI v2: the host's roster decides who a slot is (its MAC, its doorbell id,
 * the addresses it may claim); the peer's entry, in the region the peer owns
 * and we only read, says whether it is there (state UP, a generation that
 * changes when it restarts, a heartbeat that moves). ringnet_peer.c reads
 * each peer's entry at every beat and keeps, for each remote slot, a struct
 * ringnet_member. The rules are here: when an entry is a join, a restart (a
 * new generation), a leave, a heartbeat or a death by timeout; when what it
 * publishes (its MAC, its addresses) is not what the roster gives it, which
 * is counted and ignored, never believed; whether its addresses settled.
 * Locks, logging, netlink events, carrier and ring attachment stay in
 * ringnet_peer.c.
 *
 * Nothing here claims, refuses or evicts: every slot has one writer, and the
 * host chose it.
 *
 * Pure functions: no locks, no allocation, no clock (the caller passes "now"
 * and the timeout, in jiffies in the kernel), no counters (callers count what
 * the results say). Compiled into ringnet.ko and, through ringnet_shim.h,
 * into the userspace harness (harness/member_test.c, member_fuzz.c).
 *
 * Shared memory is hostile: a function that takes a struct kvmring_peer
 * reads each word it needs once (READ_ONCE, the MAC and addresses with one
 * copy) and decides on that copy. A struct ringnet_member is private: its
 * one writer (the domain's peer work) calls the functions that change it,
 * under the domain's peers_lock when readers outside the work look at it;
 * present and alive are also read locklessly (the data path), hence
 * WRITE_ONCE, and present is released after the member's rings are attached.
 */
#ifndef RINGNET_MEMBER_H
#define RINGNET_MEMBER_H

#include "ringnet_shim.h"
#include "kvmring/abi.h"
#include "ringnet_roster.h"

/* What we know of one remote slot: see struct ringnet_peer for who reads it. */
struct ringnet_member {
	bool			present;	/* entry UP with a generation we attached to */
	bool			alive;		/* heartbeat moving */
	u32			gen;
	/* the roster's: the only MAC we send to and accept from, and its doorbell */
	u8			mac[ETH_ALEN];
	u32			doorbell_id;
	/* the entry publishes a MAC other than the roster's: claimed_mac */
	bool			claimed;
	u8			claimed_mac[ETH_ALEN];
	u64			last_hb;
	unsigned long		last_hb_change;	/* "now" when last_hb last moved */
	u32			addr_seq;	/* the entry's addr_seq we last took */
	u32			addrs_refused;	/* published, outside the roster's prefixes */
};

/* What one look at a slot's entry found (ringnet_member_sight()). */
enum ringnet_sight {
	RINGNET_SIGHT_DOWN,	/* not UP: a leave if the member was present */
	RINGNET_SIGHT_NEW,	/* not present, or a new generation: a (re)start */
	RINGNET_SIGHT_BEAT,	/* the heartbeat moved */
	RINGNET_SIGHT_DIED,	/* alive, and the heartbeat still for the timeout: a death */
	RINGNET_SIGHT_SAME,	/* nothing to do about liveness */
};

/* The words of one entry, each read once, as ringnet_member_sight() found them. */
struct ringnet_sighting {
	u32	state;
	u32	gen;
	u64	heartbeat;		/* unless DOWN */
	u8	mac[ETH_ALEN];		/* the MAC it publishes, unless DOWN */
};

/* A peer's published addresses, copied under its addr_seq. */
struct ringnet_peer_addrs {
	u32	seq;
	u8	v4[KVMRING_PEER_ADDRS][4];
	u8	v6[KVMRING_PEER_ADDRS][16];
};

/* "now" is after since + timeout (wrapping, as time_after()). */
static inline bool ringnet_member_timed_out(unsigned long since, unsigned long now,
					    unsigned long timeout)
{
	return time_after(now, since + timeout);
}

/* A settled address count (even) other than the one we last took: addresses moved. */
static inline bool ringnet_addr_seq_moved(u32 seq, u32 told)
{
	return !(seq & 1) && seq != told;
}

/*
 * Sets who m is, from the roster: its MAC and doorbell id. The MAC only
 * while m is not present (readers compare it locklessly); the doorbell id
 * at any time (the host renumbers a guest that reconnects).
 */
void ringnet_member_identity(struct ringnet_member *m, const u8 *mac, u32 doorbell_id);

/*
 * Reads e's state word once; if UP, then (after a read barrier pairing with
 * its owner's release of UP) its heartbeat once and its MAC, one copy.
 * Fills *s and says what m should make of it, given now and the heartbeat
 * timeout.
 */
enum ringnet_sight ringnet_member_sight(const struct ringnet_member *m,
					const struct kvmring_peer *e, struct ringnet_sighting *s,
					unsigned long now, unsigned long timeout);

/* Stops counting m as a peer: not alive, not present. */
void ringnet_member_forget(struct ringnet_member *m);

/* The slot went DOWN: forgotten. Returns whether m was present (a leave). */
bool ringnet_member_down(struct ringnet_member *m);

/*
 * Accepts generation gen with heartbeat hb, seen now: present (released
 * last) and alive, with no claim and no addresses taken yet. The caller
 * forgot m and attached its rings first.
 */
void ringnet_member_join(struct ringnet_member *m, u32 gen, u64 hb, unsigned long now);

/* The heartbeat moved to hb, now. Returns true if m was dead and is alive again. */
bool ringnet_member_beat(struct ringnet_member *m, u64 hb, unsigned long now);

/* The heartbeat stood still for the timeout: m is dead (still present). */
void ringnet_member_die(struct ringnet_member *m);

/*
 * The entry publishes mac: a conflict if it is not the roster's (m->mac).
 * Remembers it in claimed and claimed_mac; returns whether it is news (to
 * count, log and tell): a conflict m did not have, or another MAC.
 */
bool ringnet_member_claim(struct ringnet_member *m, const u8 *mac);

/*
 * Copies e's addresses into *a between two reads of one even addr_seq.
 * Returns false (and *a zeroed) while the owner is changing them.
 */
bool ringnet_member_read_addrs(const struct kvmring_peer *e, struct ringnet_peer_addrs *a);

/*
 * Clears from *a every address slot s may not claim (outside its roster
 * prefixes; zero ones are unused and stay); returns how many it cleared.
 */
u32 ringnet_member_filter_addrs(struct ringnet_peer_addrs *a, const struct ringnet_roster *ro,
				u32 s);

/*
 * Takes e's addresses if a settled addr_seq moved since m last took them:
 * reads them (ringnet_member_read_addrs()), counts those slot s may not
 * claim into m->addrs_refused and *refused, and returns true. False if
 * nothing moved or the owner is changing them (looked at again next time).
 */
bool ringnet_member_take_addrs(struct ringnet_member *m, const struct kvmring_peer *e,
			       const struct ringnet_roster *ro, u32 s, u32 *refused);

/*
 * Our generation for a new start: one past the largest generation in the
 * n state words our owned regions hold (what our last run left there), and
 * none of theirs, so that every peer takes it as a restart.
 */
u32 ringnet_member_next_gen(const u64 *words, u32 n);

#endif /* RINGNET_MEMBER_H */
