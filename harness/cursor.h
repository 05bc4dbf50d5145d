/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cursor.h - what the libFuzzer targets (ring_fuzz, member_fuzz, roster_fuzz)
 * share: an input read a byte or a little-endian word at a time, zeros past
 * its end.
 */
#ifndef RINGNET_HARNESS_CURSOR_H
#define RINGNET_HARNESS_CURSOR_H

#include <stddef.h>

#include "ringnet_shim.h"

struct cursor {
	const u8	*p;
	size_t		left;
};

static inline u8 take8(struct cursor *c)
{
	if (!c->left)
		return 0;
	c->left--;
	return *c->p++;
}

static inline u32 take32(struct cursor *c)
{
	u32 v = 0;
	int i;

	for (i = 0; i < 4; i++)
		v |= (u32)take8(c) << (8 * i);
	return v;
}

static inline u64 take64(struct cursor *c)
{
	u64 lo = take32(c);

	return lo | (u64)take32(c) << 32;
}

#endif /* RINGNET_HARNESS_CURSOR_H */
