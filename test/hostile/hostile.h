/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * hostile.h - what the files of kvmring_hostile share: its state, the
 * helpers and the BARs (mapping the roster, the regions and the doorbell
 * device, and every raw write with what it read back; hostile_bars.c), the
 * peer plumbing (our entries, our rings, the peers' entries;
 * hostile_region.c), and the scenarios (hostile_scenarios.c) that the main
 * loop (kvmring_hostile.c) drives. Each file defines _GNU_SOURCE before
 * including it.
 */
#ifndef KVMRING_HOSTILE_H
#define KVMRING_HOSTILE_H

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ringnet_ring.h"
#include "ringnet_roster.h"

#define HOSTILE_BEAT_NS		(KVMRING_HEARTBEAT_MS * 1000000ULL)
#define HOSTILE_RX_BATCH	64	/* frames taken from one ring per pass */
#define HOSTILE_TX_BATCH	16	/* bad records written to one ring per pass */
#define HOSTILE_MTU		1500
#define HOSTILE_MAX_BARS	(KVMRING_ROSTER_REGIONS_MAX + 2)	/* + roster, doorbell */
#define HOSTILE_MAX_TARGETS	256
#define HOSTILE_CHUNK		4096	/* scribble: bytes written, then read back, at a time */
#define HOSTILE_SCRIBBLE_PASS	(256ULL << 10)	/* scribble: bytes of each BAR per pass */
#define HOSTILE_PCI		"/sys/bus/pci/devices"
#define HOSTILE_OVERRIDE	"kvmring-nodriver"	/* driver_override: no driver takes it */

/* ivshmem's BAR0 registers (QEMU hw/misc/ivshmem.c) */
#define IVSHMEM_REG_IVPOSITION	8
#define IVSHMEM_REG_DOORBELL	12
#define IVSHMEM_BAR0_SIZE	256

enum hostile_scenario {
	HOSTILE_BAD_META,
	HOSTILE_NO_CONSUME,
	HOSTILE_STEAL_MAC,
	HOSTILE_FLIP_GEN,
	HOSTILE_STOMP,
	HOSTILE_SCRIBBLE,
	HOSTILE_DOORBELL_FLOOD,
	HOSTILE_HONEST,
};

enum hbar_kind {
	HBAR_ROSTER,
	HBAR_REGION,
	HBAR_DOORBELL,
};

/*
 * What raw writes did, counted in 64-bit words: a word "stuck" when it read
 * back as written (and that differs from what was there before); a word
 * faulted when the mapping itself refused the store (mapped PROT_READ).
 * Other words were dropped, or their owner wrote them again meanwhile.
 */
struct hwrites {
	u64	words;
	u64	stuck;
	u64	faults;
	u64	last[3];	/* the last word written: before, written, read back after */
};

/* One PCI function we map: BAR2 of the roster and of each region, BAR0 of the doorbell device. */
struct hbar {
	enum hbar_kind	kind;
	u16		devfn;
	int		region;		/* index in the roster's region table, else -1 */
	u32		owner;		/* a region's owner slot */
	u32		readers;	/* a region's readers mask */
	bool		mine;		/* a region we own: ours to write */
	bool		writable;	/* mapped PROT_WRITE; else only PROT_READ */
	u8		*mem;
	u64		size;
	u64		cursor;		/* scribble: where the next chunk goes */
	struct hwrites	w;
};

/* A place the stomp scenario writes every beat, and what came of it. */
struct htarget {
	char		name[48];
	struct hbar	*bar;
	u64		off;
	u32		words;		/* 64-bit words at off */
	struct hwrites	w;
};

struct hostile_queue {
	struct ringnet_tx	tx;
	struct ringnet_rx	rx;
};

/* A slot the roster lets us talk to; as the driver, state lives here, not in the region. */
struct hostile_peer {
	bool			listed;		/* in the roster, not us: rings attached */
	bool			present;	/* its entry is UP */
	u32			gen;
	const struct kvmring_peer *entry;	/* in its region, mapped read-only */
	struct hostile_queue	q[KVMRING_QUEUES_MAX];
};

struct hostile_stats {
	u64	beats;
	u64	records;		/* bad-meta: records published */
	u64	pads;			/* ... of which pads in the middle of the area */
	u64	full;			/* ... refused for want of room */
	u64	received;		/* frames consumed from the peers */
	u64	victim_frames;		/* ... addressed to the victim's MAC or addresses */
	u64	generations;		/* generations we went through */
	u64	stomps;			/* stomp: beats on which the targets were written */
	u64	scribbled;		/* scribble: bytes of random written */
	u64	doorbells;		/* doorbell register writes */
};

struct hostile {
	enum hostile_scenario	scenario;
	int			victim;		/* slot, -1 if none */
	int			doorbell_id;	/* doorbell-flood: the id to ring, -1: the roster's */
	const char		*pci;		/* where the PCI functions are (sysfs) */
	u16			roster_devfn;
	struct ringnet_roster	ro;
	u8			roster_raw[KVMRING_ROSTER_SIZE];	/* its bytes when we read it */
	struct ringnet_why	why;
	struct hbar		bars[HOSTILE_MAX_BARS];
	unsigned int		nbars;
	struct hbar		*roster;
	struct hbar		*doorbell;	/* NULL in plain mode */
	struct hbar		*by_region[KVMRING_ROSTER_REGIONS_MAX];
	struct kvmring_peer	*mine[KVMRING_ROSTER_REGIONS_MAX];	/* our entries */
	unsigned int		nmine;
	u32			self;
	u32			gen;
	u64			heartbeat;
	bool			joined;
	u8			mac[6];		/* the roster's for us, before any stealing */
	u8			victim_mac[6];	/* steal-mac: what we publish; the victim's roster MAC */
	u32			victim_seq;	/* steal-mac: the victim's addr_seq we copied */
	u8			victim_v4[KVMRING_PEER_ADDRS][4];	/* the victim's published addresses */
	u8			victim_v6[KVMRING_PEER_ADDRS][16];
	u32			ivposition;	/* our doorbell id, KVMRING_DOORBELL_NONE without */
	u64			rng;
	u64			combo;		/* bad-meta: next combination */
	struct hostile_peer	peers[KVMRING_PEERS_MAX];
	struct htarget		targets[HOSTILE_MAX_TARGETS];
	unsigned int		ntargets;
	u8			buf[KVMRING_FRAME_MAX];
	u8			chunk[3][HOSTILE_CHUNK];	/* scribble: before, written, after */
	struct hostile_stats	stats;
};
extern volatile sig_atomic_t hostile_stop;

/* hostile_bars.c: helpers */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
u64 now_ns(void);
u64 rnd(struct hostile *h);
void rnd_fill(struct hostile *h, u8 *p, u64 n);
bool mac_valid(const u8 *mac);
void put_be16(u8 *p, u16 v);
u16 ip_csum(const u8 *p, u32 n);
const char *devfn_str(u16 devfn);

/* hostile_bars.c: the PCI functions and raw writes */
void bars_map(struct hostile *h);
bool roster_intact(struct hostile *h);
void poke(struct hbar *b, u64 off, const u64 *words, u32 n, struct hwrites *w);
void bar_scribble(struct hostile *h, struct hbar *b, u64 budget, u64 deadline);
void doorbell_ring(struct hostile *h, u32 id, u32 vector);
u32 doorbell_ivposition(struct hostile *h);

/* hostile_region.c: us and the peers */
void join(struct hostile *h);
void rejoin(struct hostile *h);
void leave(struct hostile *h);
void beat_entries(struct hostile *h);
void publish_addrs(struct hostile *h, const u8 (*v4)[4], const u8 (*v6)[16]);
void publish_mac(struct hostile *h, const u8 *mac);
void scan_peers(struct hostile *h);
const struct kvmring_peer *victim_entry(struct hostile *h);

/* hostile_scenarios.c: the scenarios */
void bad_meta_step(struct hostile *h, u32 s);
bool consume(struct hostile *h);
void steal_step(struct hostile *h);
void stomp_targets(struct hostile *h);
void stomp_step(struct hostile *h);
void scribble_pass(struct hostile *h, u64 deadline);
void doorbell_flood(struct hostile *h, u64 deadline);

#endif /* KVMRING_HOSTILE_H */
