// SPDX-License-Identifier: GPL-2.0-only
/*
 * member_fuzz - libFuzzer target over peer membership (ringnet_member.c):
 * one guest's scans (member_sim.h, the driver's order of calls) of a peer
 * table that the input rewrites between steps, byte by byte or a field at
 * a time from small sets of MACs, doorbell ids and words so that they
 * collide often. The table is allocated to its exact size, so ASan sees
 * any access beyond it. After every step:
 *  - a present member has a valid MAC that is not ours, is alive only if
 *    present, and is not refused; our own slot is never present;
 *  - a member that just joined holds a MAC no other present, live member
 *    holds, and its generation is the entry's; whether it joined or was
 *    refused is what an independent statement of the rule says;
 *  - doorbell ids of present members are NONE or unique, 16-bit, not ours
 *    (and NONE without doorbells);
 *  - events agree with the state: a leave leaves nothing present, a death
 *    a present dead member, a refusal a refused one;
 *  - the check of our own entry says yes exactly when its word and
 *    everything after its heartbeat are what we wrote.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cursor.h"
#include "member_sim.h"

#define FUZZ_TIMEOUT	50UL
#define FUZZ_OPS	2048
#define FUZZ_IVPOS	5

static const u8 macs[][ETH_ALEN] = {
	{ 0x52, 0x54, 0x00, 0x00, 0x00, 0x01 },	/* ours */
	{ 0x52, 0x54, 0x00, 0x00, 0x00, 0x0a },
	{ 0x52, 0x54, 0x00, 0x00, 0x00, 0x0b },
	{ 0x52, 0x54, 0x00, 0x00, 0x00, 0x0c },
	{ 0 },
	{ 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 },
	{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
	{ 0x03, 0x54, 0x00, 0x00, 0x00, 0x0a },
};

static const u32 doorbell_ids[] = {
	FUZZ_IVPOS, 0, 1, 2, 3, 0xffff, 0x10000, KVMRING_DOORBELL_NONE,
};

static void fail(const char *what, u32 slot)
{
	fprintf(stderr, "member_fuzz: %s (slot %u)\n", what, slot);
	abort();
}

/* The refusal rule, stated again: what the scan of slot must decide for mac. */
static bool should_refuse(const struct sim *s, u32 slot, const u8 *mac)
{
	u32 i;

	if ((mac[0] & 1) || !memcmp(mac, macs[4], ETH_ALEN) || !memcmp(mac, s->own, ETH_ALEN))
		return true;
	for (i = 0; i < s->n; i++)
		if (i != slot && s->m[i].present && s->m[i].alive &&
		    !memcmp(s->m[i].mac, mac, ETH_ALEN))
			return true;
	return false;
}

static void check_table(const struct sim *s)
{
	const struct ringnet_member *m, *q;
	u32 i, j;

	if (s->m[s->self].present || s->m[s->self].alive)
		fail("our own slot is a peer", s->self);
	for (i = 0; i < s->n; i++) {
		m = &s->m[i];
		if (m->alive && !m->present)
			fail("alive but not present", i);
		if (m->refused && m->present)
			fail("refused but present", i);
		if (!m->present)
			continue;
		if ((m->mac[0] & 1) || !memcmp(m->mac, macs[4], ETH_ALEN))
			fail("present with an invalid MAC", i);
		if (!memcmp(m->mac, s->own, ETH_ALEN))
			fail("present with our MAC", i);
		if (m->doorbell_id == KVMRING_DOORBELL_NONE)
			continue;
		if (!s->doorbell || m->doorbell_id > 0xffff || m->doorbell_id == s->ivposition)
			fail("a doorbell id it may not have", i);
		for (j = 0; j < s->n; j++) {
			q = &s->m[j];
			if (j != i && q->present && q->doorbell_id == m->doorbell_id)
				fail("two present peers share a doorbell id", i);
		}
	}
}

static void scan_slot(struct sim *s, u32 slot, unsigned long now)
{
	const struct kvmring_peer *e = &s->table[slot];
	const struct ringnet_member *m = &s->m[slot];
	bool fresh, refuse = false;
	unsigned int ev;
	u32 i, gen;

	/* Nobody writes during the scan: the words it will read, read first. */
	gen = KVMRING_PEER_GEN(e->state);
	fresh = KVMRING_PEER_STATE(e->state) == KVMRING_PEER_UP && (!m->present || m->gen != gen);
	if (fresh)
		refuse = should_refuse(s, slot, e->mac);
	sim_scan(s, slot, now, &ev);
	if (fresh && !(ev & SIM_JOIN) != refuse)
		fail(refuse ? "joined against the rule" : "refused against the rule", slot);
	if (fresh && refuse && !m->refused)
		fail("refused but not marked", slot);
	if ((ev & SIM_JOIN) && (!m->present || !m->alive || m->gen != gen))
		fail("joined but not present, alive and of the entry's generation", slot);
	if (ev & SIM_JOIN)
		for (i = 0; i < s->n; i++)
			if (i != slot && s->m[i].present && s->m[i].alive &&
			    !memcmp(s->m[i].mac, m->mac, ETH_ALEN))
				fail("joined with a live peer's MAC", slot);
	if ((ev & SIM_LEAVE) && m->present)
		fail("left but present", slot);
	if ((ev & SIM_DEATH) && (!m->present || m->alive))
		fail("died but not a present dead peer", slot);
	if ((ev & SIM_REFUSED) && !m->refused)
		fail("refusal told but not refused", slot);
}

/* The self check against its rule: our word, and the bytes after the heartbeat. */
static void check_self(const struct kvmring_peer *me, const struct kvmring_peer *mine, u64 own)
{
	bool want = me->state == own &&
		    !memcmp((const u8 *)me + RINGNET_ENTRY_OFF, (const u8 *)mine + RINGNET_ENTRY_OFF,
			    RINGNET_ENTRY_TAIL);

	if (ringnet_member_self_ok(me, mine, own) != want)
		fail("self check disagrees with its rule", 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	struct cursor c = { in, size };
	static struct sim s;
	struct kvmring_peer *table, mine;
	unsigned long now;
	u32 n, self, slot, ops, i;
	u64 own;
	u8 op, b;

	b = take8(&c);
	n = 2 + b % (KVMRING_PEERS_MAX - 1);
	self = take8(&c) % n;
	table = calloc(n, sizeof(*table));
	if (!table)
		abort();
	now = (unsigned long)take8(&c) << (8 * (sizeof(long) - 1));	/* near the wrap, often */
	sim_init(&s, table, n, self, macs[0], b & 0x80, FUZZ_IVPOS, FUZZ_TIMEOUT);
	own = KVMRING_PEER_WORD(3, KVMRING_PEER_UP);
	table[self].state = own;
	table[self].doorbell_id = FUZZ_IVPOS;
	memcpy(table[self].mac, macs[0], ETH_ALEN);
	mine = table[self];

	for (ops = 0; c.left && ops < FUZZ_OPS; ops++) {
		op = take8(&c);
		slot = take8(&c) % n;
		b = take8(&c);
		switch (op % 10) {
		case 0:		/* any byte of the table */
			i = (u32)(slot * sizeof(*table) + b * 4U + take8(&c) % 4);
			if (i < n * sizeof(*table))
				((u8 *)table)[i] = take8(&c);
			break;
		case 1:		/* a state word, from the states there are and a few others */
			table[slot].state = KVMRING_PEER_WORD(b >> 4, b & 3 ? b & 3 : b & 0xf);
			break;
		case 2:
			memcpy(table[slot].mac, macs[b % ARRAY_SIZE(macs)], ETH_ALEN);
			break;
		case 3:
			table[slot].doorbell_id = doorbell_ids[b % ARRAY_SIZE(doorbell_ids)];
			break;
		case 4:
			table[slot].heartbeat += 1 + b % 2;
			break;
		case 5:
			table[slot].addr_seq = b;
			break;
		case 6:
			now += b;
			break;
		case 7:
		case 8:
			if (slot != self)
				scan_slot(&s, slot, now);
			break;
		case 9:
			for (i = 0; i < n; i++)
				if (i != self)
					scan_slot(&s, i, now);
			now += 1 + b % 8;
			break;
		}
		check_table(&s);
		check_self(&table[self], &mine, own);
	}
	free(table);
	return 0;
}
