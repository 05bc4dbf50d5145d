/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * harness.h - what the userspace programs around the ring core share: a
 * clock, and frames that carry their sequence number and length followed by
 * a pattern derived from them, so that a receiver can tell an intact frame
 * from a damaged one without knowing what was sent.
 */
#ifndef RINGNET_HARNESS_H
#define RINGNET_HARNESS_H

#include <time.h>

#include "ringnet_ring.h"

static inline u64 harness_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

/* len >= 8: seq, len, then the pattern. */
static inline void harness_frame_fill(u8 *p, u32 len, u32 seq)
{
	u32 i;

	memcpy(p, &seq, 4);
	memcpy(p + 4, &len, 4);
	for (i = 8; i < len; i++)
		p[i] = (u8)(seq * 131 + i);
}

/* True if p holds a frame of len bytes as harness_frame_fill() made it. */
static inline bool harness_frame_intact(const u8 *p, u32 len, u32 *seq)
{
	u32 i, l;

	memcpy(seq, p, 4);
	memcpy(&l, p + 4, 4);
	if (l != len)
		return false;
	for (i = 8; i < len; i++)
		if (p[i] != (u8)(*seq * 131 + i))
			return false;
	return true;
}

#endif /* RINGNET_HARNESS_H */
