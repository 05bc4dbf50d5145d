// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvmring_hostile.c - a hostile peer of our own, run inside a lab guest
 * (ABI v2) whose ivshmem devices no driver holds.
 *
 * Maps the roster the host gave this guest (BAR2 of 00:10.0 unless --roster
 * says otherwise) and reads it with ringnet.ko's rules
 * (guest-netdev/ringnet_roster.c, compiled in); maps every region the
 * roster lists, through the same read-write mmap of resourceN whether the
 * region is ours or another guest's (the hypervisor, not this program,
 * must keep the writes out of those); in doorbell mode maps the doorbell
 * device's registers (BAR0). Then, as slot `self` of the roster, joins by
 * ABI v2's rules (our entry in every region we own: a new generation, the
 * fields, our ring ends renewed, UP), keeps a heartbeat and, for the given
 * seconds, plays one scenario:
 *
 *   bad-meta      records with every bad metadata combination, and pad
 *                 records in the middle of the area, into our rings to each
 *                 peer (--victim SLOT: to it only), correctly published
 *   no-consume    never consumes what peers send us
 *   steal-mac     publishes --victim SLOT's roster MAC and its published
 *                 addresses as ours
 *   flip-gen      a new generation every beat in our entries
 *   stomp         every beat, writes the header, entry (state word,
 *                 heartbeat, MAC, addresses) and every ring half, kick and
 *                 first record of --victim SLOT's regions (without
 *                 --victim: every region of another guest) through their
 *                 read-only BARs, and in the roster our slot number and the
 *                 MACs of our slot and the victim's; each write read back
 *   scribble      random bytes over every BAR2 we map, the roster, our
 *                 regions and the others' (joins nothing; BAR0 of the
 *                 doorbell device is doorbell-flood's)
 *   doorbell-flood  rings --victim SLOT's doorbell (the roster's id for it,
 *                 or --doorbell-id N for a slot outside our groups) through
 *                 our doorbell device's doorbell register, as fast as it can
 *   honest        none of the above: joins, beats and consumes in the same
 *                 loop as the others (bench:hostile's baseline neighbour,
 *                 which costs the host what a hostile one does)
 *
 * Honest ring I/O goes through the ring core (guest-netdev/ringnet_ring.c)
 * with v2's halves, at the places ringnet_route_queue() gives; the hostile
 * parts are raw writes, each read back. Other scenarios consume what the
 * peers send, counting frames meant for the victim (its MAC or addresses).
 *
 * Messages go to stderr ("playing SCENARIO as slot N" when it starts); the
 * last line on stdout is a JSON summary: the counters, every BAR with what
 * was written there (64-bit words, and how many read back as written:
 * "stuck", or faulted in a read-only mapping; and the last word written,
 * what was there before and what was read back after), stomp's places
 * likewise, and whether the roster still holds the bytes it held at the
 * start.
 *
 * --pci DIR (default /sys/bus/pci/devices) is where the functions are, as
 * DIR/0000:00:SS.F/resourceN: the host tests lay out plain files there. A
 * file we may not open for writing is mapped PROT_READ; writes into it fault
 * and are counted as faults.
 *
 * This file holds the main loop and the command line; the BARs are in
 * hostile_bars.c, us and the peers in hostile_region.c, the scenarios in
 * hostile_scenarios.c, all declared in hostile.h.
 */
#define _GNU_SOURCE
#include "hostile.h"

static const char *const hostile_scenario_names[] = {
	[HOSTILE_BAD_META]	 = "bad-meta",
	[HOSTILE_NO_CONSUME]	 = "no-consume",
	[HOSTILE_STEAL_MAC]	 = "steal-mac",
	[HOSTILE_FLIP_GEN]	 = "flip-gen",
	[HOSTILE_STOMP]		 = "stomp",
	[HOSTILE_SCRIBBLE]	 = "scribble",
	[HOSTILE_DOORBELL_FLOOD] = "doorbell-flood",
	[HOSTILE_HONEST]	 = "honest",
};

static const char *const hbar_kind_names[] = {
	[HBAR_ROSTER]	= "roster",
	[HBAR_REGION]	= "region",
	[HBAR_DOORBELL]	= "doorbell",
};

volatile sig_atomic_t hostile_stop;

/* ---- main loop ---------------------------------------------------------------- */

static void beat(struct hostile *h)
{
	beat_entries(h);
	h->stats.beats++;
	switch (h->scenario) {
	case HOSTILE_FLIP_GEN:
		rejoin(h);
		break;
	case HOSTILE_STOMP:
		stomp_step(h);
		break;
	default:
		break;
	}
	steal_step(h);
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
			for (s = 0; s < h->ro.max_peers; s++)
				if (h->peers[s].present && (h->victim < 0 || (u32)h->victim == s))
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
		"usage: kvmring_hostile [--roster 00:10.0] [--pci DIR] [--seconds N] [--victim SLOT]\n"
		"                       [--doorbell-id N] [--seed N] SCENARIO\n"
		"scenarios: bad-meta [--victim SLOT: only it], no-consume, steal-mac --victim SLOT,\n"
		"           flip-gen, stomp [--victim SLOT], scribble,\n"
		"           doorbell-flood --victim SLOT | --doorbell-id N (doorbell mode),\n"
		"           honest (joins, beats and consumes: a baseline)\n");
}

static void on_signal(int sig)
{
	(void)sig;
	hostile_stop = 1;
}

/* "00:10.0", "10.0" or a devfn number. */
static u16 parse_devfn(const char *s)
{
	unsigned int bus = 0, slot, fn;
	char *end;
	long v;

	if (sscanf(s, "%x:%x.%u", &bus, &slot, &fn) == 3 || sscanf(s, "%x.%u", &slot, &fn) == 2) {
		if (bus || slot > 0x1f || fn > 7)
			die("--roster %s: a function on the root bus, 00:SS.F", s);
		return (u16)(slot << 3 | fn);
	}
	v = strtol(s, &end, 0);
	if (*end || v < 0 || v > 0xff)
		die("--roster %s: give 00:SS.F", s);
	return (u16)v;
}

static void json_str(const char *key, const char *s)
{
	printf(",\"%s\":\"", key);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar((unsigned char)*s < 0x20 ? '?' : *s);
	}
	putchar('"');
}

/* The tally, and the last word written as hex: before, written, read back after. */
static void json_writes(const struct hwrites *w)
{
	printf(",\"words\":%llu,\"stuck\":%llu,\"faults\":%llu", (unsigned long long)w->words,
	       (unsigned long long)w->stuck, (unsigned long long)w->faults);
	if (w->words > w->faults)
		printf(",\"last\":{\"before\":\"%#llx\",\"wrote\":\"%#llx\",\"after\":\"%#llx\"}",
		       (unsigned long long)w->last[0], (unsigned long long)w->last[1],
		       (unsigned long long)w->last[2]);
}

static void summary(struct hostile *h)
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
	};
	unsigned int i;

	printf("{\"scenario\":\"%s\",\"slot\":%u", hostile_scenario_names[h->scenario], h->self);
	json_str("name", h->ro.slots[h->self].name);
	printf(",\"victim\":%d,\"isolation\":\"%s\",\"doorbell\":%s,\"queues\":%u,\"generation\":%u",
	       h->victim, h->ro.isolation == KVMRING_ISOLATION_PAIR ? "pair" : "owner",
	       h->doorbell ? "true" : "false", h->ro.queues, h->gen);
	for (i = 0; i < ARRAY_SIZE(counters); i++)
		printf(",\"%s\":%llu", counters[i].name, (unsigned long long)counters[i].value);
	printf(",\"rosterIntact\":%s,\"bars\":[", roster_intact(h) ? "true" : "false");
	for (i = 0; i < h->nbars; i++) {
		const struct hbar *b = &h->bars[i];

		printf("%s{\"devfn\":\"%s\",\"kind\":\"%s\"", i ? "," : "", devfn_str(b->devfn),
		       hbar_kind_names[b->kind]);
		if (b->kind == HBAR_REGION)
			printf(",\"region\":%d,\"owner\":%u,\"readers\":%u", b->region, b->owner, b->readers);
		printf(",\"mine\":%s,\"writable\":%s,\"size\":%llu", b->mine ? "true" : "false",
		       b->writable ? "true" : "false", (unsigned long long)b->size);
		json_writes(&b->w);
		printf("}");
	}
	printf("],\"targets\":[");
	for (i = 0; i < h->ntargets; i++) {
		const struct htarget *t = &h->targets[i];

		printf("%s{", i ? "," : "");
		printf("\"devfn\":\"%s\",\"offset\":%llu", devfn_str(t->bar->devfn), (unsigned long long)t->off);
		json_str("name", t->name);
		json_writes(&t->w);
		printf("}");
	}
	printf("]}\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "roster", required_argument, NULL, 'r' },
		{ "pci", required_argument, NULL, 'p' },
		{ "seconds", required_argument, NULL, 's' },
		{ "victim", required_argument, NULL, 'v' },
		{ "doorbell-id", required_argument, NULL, 'd' },
		{ "seed", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct hostile h;	/* large: the receive buffer */
	double seconds = 10;
	unsigned int i;
	u64 deadline;
	char *end;
	int c;

	h.victim = -1;
	h.doorbell_id = -1;
	h.pci = HOSTILE_PCI;
	h.roster_devfn = KVMRING_ROSTER_DEVFN;
	h.rng = (u64)time(NULL) ^ ((u64)getpid() << 32);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			h.roster_devfn = parse_devfn(optarg);
			break;
		case 'p':
			h.pci = optarg;
			break;
		case 's':
			seconds = strtod(optarg, NULL);
			break;
		case 'v':
			h.victim = (int)strtol(optarg, &end, 10);
			if (*end || end == optarg || h.victim < 0 || h.victim >= KVMRING_PEERS_MAX)
				die("--victim %s: a slot, 0..%d", optarg, KVMRING_PEERS_MAX - 1);
			break;
		case 'd':
			h.doorbell_id = (int)strtol(optarg, &end, 0);
			if (*end || end == optarg || h.doorbell_id < 0 || h.doorbell_id > 0xffff)
				die("--doorbell-id %s: 0..65535", optarg);
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
	if (optind != argc - 1 || !(seconds > 0)) {
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
	if (h.scenario == HOSTILE_STEAL_MAC && h.victim < 0)
		die("steal-mac needs --victim SLOT");
	if (h.scenario == HOSTILE_DOORBELL_FLOOD && h.victim < 0 && h.doorbell_id < 0)
		die("doorbell-flood needs --victim SLOT or --doorbell-id N");
	if (!h.rng)
		h.rng = 1;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	bars_map(&h);
	deadline = now_ns() + (u64)(seconds * 1e9);

	if (h.scenario == HOSTILE_SCRIBBLE) {
		say("playing scribble as slot %u", h.self);
		while (!hostile_stop && now_ns() < deadline) {
			scribble_pass(&h, deadline);
			usleep(1000);
		}
		summary(&h);
		return 0;
	}

	if (h.scenario == HOSTILE_STEAL_MAC) {
		if (!h.ro.slots[h.victim].present)
			die("slot %d is not in our roster: there is no MAC of it to steal", h.victim);
		memcpy(h.victim_mac, h.ro.slots[h.victim].mac, 6);
	}
	if (h.scenario == HOSTILE_STOMP)
		stomp_targets(&h);
	join(&h);
	steal_step(&h);
	scan_peers(&h);
	say("playing %s as slot %u", hostile_scenario_names[h.scenario], h.self);
	if (h.scenario == HOSTILE_DOORBELL_FLOOD)
		doorbell_flood(&h, deadline);
	else
		run(&h, deadline);
	leave(&h);
	summary(&h);
	return 0;
}
