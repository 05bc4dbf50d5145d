/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * hostile.h - what the files of kvmring_hostile share: its state, the
 * helpers and the region plumbing (claiming a slot, attaching to peers;
 * hostile_region.c), and the scenarios and the doorbell client
 * (hostile_scenarios.c) that the main loop (kvmring_hostile.c) drives.
 * Each file defines _GNU_SOURCE before including it.
 */
#ifndef KVMRING_HOSTILE_H
#define KVMRING_HOSTILE_H

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ringnet_ring.h"

#define HOSTILE_BEAT_NS		(KVMRING_HEARTBEAT_MS * 1000000ULL)
#define HOSTILE_RX_BATCH	64	/* frames taken from one ring per pass */
#define HOSTILE_TX_BATCH	16	/* bad records written to one ring per pass */
#define HOSTILE_MTU		1500
#define HOSTILE_MAX_EVENTFDS	64

enum hostile_scenario {
	HOSTILE_BAD_META,
	HOSTILE_NO_CONSUME,
	HOSTILE_STEAL_MAC,
	HOSTILE_FLIP_GEN,
	HOSTILE_STOMP_STATE,
	HOSTILE_SCRIBBLE,
	HOSTILE_DOORBELL_FLOOD,
};

/* What we know of one other slot; as the driver, state lives here, not in the region. */
struct hostile_peer {
	bool			present;	/* UP with a valid MAC, rings attached */
	u32			gen;
	u8			mac[6];
	struct ringnet_tx	tx;
	struct ringnet_rx	rx;
};

struct hostile_stats {
	u64	beats;
	u64	records;		/* bad-meta: records published */
	u64	pads;			/* ... of which pads in the middle of the area */
	u64	full;			/* ... refused for want of room */
	u64	received;		/* frames consumed from the peers */
	u64	victim_frames;		/* ... addressed to the victim's MAC */
	u64	generations;		/* generations we went through */
	u64	stomps;			/* victim state words written */
	u64	scribbled;		/* bytes of random written */
	u64	doorbells;		/* eventfd writes */
	u64	evicted;		/* beats on which our slot was not ours */
};

struct hostile {
	enum hostile_scenario	scenario;
	int			victim;		/* slot, -1 if none */
	const char		*doorbell;	/* server socket */
	u8			*shm;
	u64			size;
	struct kvmring_geom	geom;
	bool			claimed;
	u32			self;
	u32			gen;
	u64			heartbeat;
	struct kvmring_peer	*me;
	u8			mac[6];		/* our own, before any stealing */
	u8			victim_mac[6];	/* what steal-mac publishes, zero before */
	u8			victim_seen[6];	/* steal-mac: the victim's MAC we wait to take */
	u64			victim_seen_hb;	/* ... and its heartbeat when we first saw it */
	u32			ivposition;	/* doorbell id, KVMRING_DOORBELL_NONE without */
	int			eventfds[HOSTILE_MAX_EVENTFDS];
	unsigned int		n_eventfds;
	u64			rng;
	u64			combo;		/* bad-meta: next combination */
	struct hostile_peer	peers[KVMRING_PEERS_MAX];
	u8			buf[KVMRING_FRAME_MAX];
	struct hostile_stats	stats;
};
extern volatile sig_atomic_t hostile_stop;

/* hostile_region.c: helpers */
void say(const char *fmt, ...);
void die(const char *fmt, ...);
u64 now_ns(void);
u64 rnd(struct hostile *h);
void rnd_fill(struct hostile *h, u8 *p, u64 n);
struct kvmring_peer *entry(struct hostile *h, u32 slot);
bool mac_valid(const u8 *mac);
void put_be16(u8 *p, u16 v);
u16 ip_csum(const u8 *p, u32 n);

/* hostile_region.c: the region */
void region_map(struct hostile *h, const char *path);
void publish_addrs(struct hostile *h, const u8 (*v4)[4], const u8 (*v6)[16]);
void rejoin(struct hostile *h, const u8 *mac);
void claim(struct hostile *h);
void leave(struct hostile *h);
void scan_peers(struct hostile *h);

/* hostile_scenarios.c: scenarios and doorbells */
void bad_meta_step(struct hostile *h, u32 s);
bool consume(struct hostile *h);
void steal_step(struct hostile *h);
void stomp_step(struct hostile *h);
void scribble_pass(struct hostile *h);
int doorbell_connect(struct hostile *h);
void doorbell_collect(struct hostile *h, int sock, u32 target);
void doorbell_flood(struct hostile *h, u64 deadline);

#endif /* KVMRING_HOSTILE_H */
