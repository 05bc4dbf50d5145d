/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * check.h - what the unit tests (ring_test, member_test, roster_test) share:
 * CHECK() and CHECK_EQ() count every check and report each failure with its
 * function and line, and the test prints "NAME: N checks, F failed" from the
 * counts.
 * A test of several files counts in one place: the file with main() defines
 * the counters, once.
 */
#ifndef RINGNET_HARNESS_CHECK_H
#define RINGNET_HARNESS_CHECK_H

#include <stdio.h>

extern unsigned long checks, failures;

#define CHECK(cond, ...) do {						\
	checks++;							\
	if (!(cond)) {							\
		failures++;						\
		fprintf(stderr, "FAIL %s:%d: %s: ", __func__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
	}								\
} while (0)

#define CHECK_EQ(a, b) do {						\
	unsigned long long _a = (a), _b = (b);				\
	CHECK(_a == _b, "%llu != %llu", _a, _b);			\
} while (0)

#endif /* RINGNET_HARNESS_CHECK_H */
