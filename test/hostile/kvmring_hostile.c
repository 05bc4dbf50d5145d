// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvmring_hostile.c - a hostile peer of our own, run on the host against a lab.
 *
 * Maps a region that `ringctl host up` made, claims a free slot with the
 * ABI's protocol (include/kvmring/abi.h: CLAIMED with generation + 1 by
 * compare-and-swap, entry filled in, then UP), keeps a heartbeat and, for the
 * given seconds, plays one scenario against the guests:
 *
 *   bad-meta      records with every bad metadata combination, and pad
 *                 records in the middle of the area, into its ring to each
 *                 peer, correctly published
 *   no-consume    never consumes what peers send it
 *   steal-mac     publishes the MAC and addresses of --victim SLOT, once the
 *                 peers know the victim by it (again under a new generation
 *                 whenever the victim's MAC changes)
 *   flip-gen      rejoins under a new generation every beat
 *   stomp-state   writes the state word of --victim SLOT every beat
 *   scribble      random bytes over the whole region, header and peer table
 *                 included (claims no slot)
 *   doorbell-flood  connects to the doorbell server (--doorbell SOCKET) as a
 *                 QEMU does and rings the eventfds of --victim SLOT's doorbell
 *                 id as fast as it can
 *
 * Honest ring I/O goes through the ring core (guest-netdev/ringnet_ring.c),
 * the code the guests run; the hostile parts are raw writes. Other scenarios
 * consume what the peers send, counting frames addressed to the victim's MAC.
 * Messages go to stderr; the last line on stdout is a JSON summary.
 *
 * This file holds the main loop and the command line; the region plumbing
 * is in hostile_region.c, the scenarios in hostile_scenarios.c, both
 * declared in hostile.h.
 */
#define _GNU_SOURCE
#include "hostile.h"

static const char *const hostile_scenario_names[] = {
	[HOSTILE_BAD_META]	 = "bad-meta",
	[HOSTILE_NO_CONSUME]	 = "no-consume",
	[HOSTILE_STEAL_MAC]	 = "steal-mac",
	[HOSTILE_FLIP_GEN]	 = "flip-gen",
	[HOSTILE_STOMP_STATE]	 = "stomp-state",
	[HOSTILE_SCRIBBLE]	 = "scribble",
	[HOSTILE_DOORBELL_FLOOD] = "doorbell-flood",
};

volatile sig_atomic_t hostile_stop;

/* ---- main loop ---------------------------------------------------------------- */

static void beat(struct hostile *h)
{
	u64 word = __atomic_load_n(&h->me->state, __ATOMIC_ACQUIRE);

	if (word != KVMRING_PEER_WORD(h->gen, KVMRING_PEER_UP))
		h->stats.evicted++;
	WRITE_ONCE(h->me->heartbeat, ++h->heartbeat);
	h->stats.beats++;
	switch (h->scenario) {
	case HOSTILE_FLIP_GEN:
		rejoin(h, h->mac);
		break;
	case HOSTILE_STEAL_MAC:
		steal_step(h);
		break;
	case HOSTILE_STOMP_STATE:
		stomp_step(h);
		break;
	default:
		break;
	}
	scan_peers(h);
}

static void run(struct hostile *h, u64 deadline)
{
	u64 next_beat = 0, t;
	bool busy;
	u32 s;

	while (!hostile_stop && (t = now_ns()) < deadline) {
		if (t >= next_beat) {
			beat(h);
			next_beat = t + HOSTILE_BEAT_NS;
		}
		busy = false;
		if (h->scenario == HOSTILE_BAD_META) {
			for (s = 0; s < h->geom.max_peers; s++)
				if (s != h->self && h->peers[s].present &&
				    (h->victim < 0 || (u32)h->victim == s))
					bad_meta_step(h, s);
		}
		if (h->scenario != HOSTILE_NO_CONSUME)
			busy = consume(h);
		if (!busy)
			usleep(200);
	}
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: kvmring_hostile --region PATH [--seconds N] [--victim SLOT] [--doorbell SOCKET]\n"
		"                       [--seed N] SCENARIO\n"
		"scenarios: bad-meta [--victim SLOT: only it], no-consume, steal-mac --victim SLOT,\n"
		"           flip-gen, stomp-state --victim SLOT, scribble,\n"
		"           doorbell-flood --victim SLOT --doorbell SOCKET\n");
}

static void on_signal(int sig)
{
	(void)sig;
	hostile_stop = 1;
}

static void summary(const struct hostile *h)
{
	const struct hostile_stats *st = &h->stats;
	const struct { const char *name; u64 value; } counters[] = {
		{ "beats", st->beats },
		{ "records", st->records },
		{ "pads", st->pads },
		{ "full", st->full },
		{ "received", st->received },
		{ "victimFrames", st->victim_frames },
		{ "generations", st->generations },
		{ "stomps", st->stomps },
		{ "scribbled", st->scribbled },
		{ "doorbells", st->doorbells },
		{ "evicted", st->evicted },
	};
	unsigned int i;

	printf("{\"scenario\":\"%s\",\"slot\":%d,\"victim\":%d", hostile_scenario_names[h->scenario],
	       h->claimed ? (int)h->self : -1, h->victim);
	for (i = 0; i < ARRAY_SIZE(counters); i++)
		printf(",\"%s\":%llu", counters[i].name, (unsigned long long)counters[i].value);
	printf("}\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "region", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 's' },
		{ "victim", required_argument, NULL, 'v' },
		{ "doorbell", required_argument, NULL, 'd' },
		{ "seed", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct hostile h;	/* large: the receive buffer */
	const char *region = NULL;
	double seconds = 10;
	unsigned int i;
	u64 deadline;
	int c, sock = -1;

	h.victim = -1;
	h.ivposition = KVMRING_DOORBELL_NONE;
	h.rng = (u64)time(NULL) ^ ((u64)getpid() << 32);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			region = optarg;
			break;
		case 's':
			seconds = strtod(optarg, NULL);
			break;
		case 'v':
			h.victim = atoi(optarg);
			break;
		case 'd':
			h.doorbell = optarg;
			break;
		case 'S':
			h.rng = strtoull(optarg, NULL, 0);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!region || optind != argc - 1 || !(seconds > 0)) {
		usage(stderr);
		return 2;
	}
	for (i = 0; i < ARRAY_SIZE(hostile_scenario_names); i++)
		if (!strcmp(argv[optind], hostile_scenario_names[i]))
			break;
	if (i == ARRAY_SIZE(hostile_scenario_names)) {
		fprintf(stderr, "kvmring_hostile: unknown scenario %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	h.scenario = i;
	if ((h.scenario == HOSTILE_STEAL_MAC || h.scenario == HOSTILE_STOMP_STATE ||
	     h.scenario == HOSTILE_DOORBELL_FLOOD) && h.victim < 0)
		die("%s needs --victim SLOT", argv[optind]);
	if (h.scenario == HOSTILE_DOORBELL_FLOOD && !h.doorbell)
		die("doorbell-flood needs --doorbell SOCKET (the lab's doorbell server)");
	if (!h.rng)
		h.rng = 1;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	region_map(&h, region);
	if (h.doorbell)
		sock = doorbell_connect(&h);
	deadline = now_ns() + (u64)(seconds * 1e9);

	if (h.scenario == HOSTILE_SCRIBBLE) {
		while (!hostile_stop && now_ns() < deadline) {
			scribble_pass(&h);
			usleep(20000);
		}
		summary(&h);
		return 0;
	}

	claim(&h);
	scan_peers(&h);
	if (h.scenario == HOSTILE_DOORBELL_FLOOD) {
		u64 word = __atomic_load_n(&entry(&h, (u32)h.victim)->state, __ATOMIC_ACQUIRE);
		u32 target = READ_ONCE(entry(&h, (u32)h.victim)->doorbell_id);

		if (KVMRING_PEER_STATE(word) != KVMRING_PEER_UP || target > 0xffff)
			die("slot %d is not up with a doorbell id", h.victim);
		doorbell_collect(&h, sock, target);
		doorbell_flood(&h, deadline);
	} else {
		run(&h, deadline);
	}
	leave(&h);
	summary(&h);
	if (sock >= 0)
		close(sock);
	return 0;
}
