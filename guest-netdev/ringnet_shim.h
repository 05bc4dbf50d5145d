/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ringnet_shim.h - what the ring core needs from its environment.
 *
 * The ring core (ringnet_ring.c) is compiled into ringnet.ko and into the
 * userspace harness. In the kernel this header only includes the real
 * primitives; in userspace it maps them onto the C11 memory model (GCC/Clang
 * __atomic builtins on plain objects), with the same ordering guarantees:
 *
 *   READ_ONCE/WRITE_ONCE    one untorn access the compiler may not repeat,
 *                           merge or invent (relaxed atomic)
 *   smp_load_acquire        later accesses stay after it
 *   smp_store_release       earlier accesses stay before it
 *   smp_mb                  full barrier, also store -> load
 *
 * and, for ringnet_meta.c, the Internet checksum: csum_partial() (a 32-bit
 * one's-complement sum of 16-bit words in memory order) and csum_fold()
 * (folded to 16 bits and complemented), as in <net/checksum.h>.
 *
 * For ringnet_member.c: smp_rmb (earlier loads before later ones), the
 * Ethernet address helpers of <linux/etherdevice.h> (is_valid_ether_addr,
 * ether_addr_equal, ether_addr_copy) and time_after() of <linux/jiffies.h>,
 * on whatever unsigned long clock the caller passes.
 *
 * For ringnet_roster.c: vsnprintf() (<linux/kernel.h>) and the __printf()
 * attribute, to say in words why a roster or region was refused.
 */
#ifndef RINGNET_SHIM_H
#define RINGNET_SHIM_H

#ifdef __KERNEL__

#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/stddef.h>
#include <linux/string.h>
#include <linux/types.h>
#include <linux/etherdevice.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <asm/barrier.h>
#include <net/checksum.h>

#else /* !__KERNEL__ */

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <linux/if_ether.h>
#include <linux/types.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s32 s32;

#define READ_ONCE(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, val)	__atomic_store_n(&(x), (val), __ATOMIC_RELAXED)
#define smp_load_acquire(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define smp_store_release(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define smp_mb()		__atomic_thread_fence(__ATOMIC_SEQ_CST)
#define smp_rmb()		__atomic_thread_fence(__ATOMIC_ACQUIRE)

#define __printf(a, b)		__attribute__((format(printf, a, b)))

#define likely(x)		__builtin_expect(!!(x), 1)
#define unlikely(x)		__builtin_expect(!!(x), 0)

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#endif

#define time_after(a, b)	((long)((b) - (a)) < 0)

static inline bool is_valid_ether_addr(const u8 *a)
{
	/* Not multicast (nor broadcast), not 00:00:00:00:00:00. */
	return !(a[0] & 1) && (a[0] | a[1] | a[2] | a[3] | a[4] | a[5]);
}

static inline bool ether_addr_equal(const u8 *a, const u8 *b)
{
	return !memcmp(a, b, ETH_ALEN);
}

static inline void ether_addr_copy(u8 *dst, const u8 *src)
{
	memcpy(dst, src, ETH_ALEN);
}

#define CSUM_MANGLED_0		((__sum16)0xffff)

/*
 * Plain and byte by byte, so any alignment and length will do; the partial
 * sums differ from the kernel's, the folded results do not.
 */
static inline __wsum csum_partial(const void *buf, int len, __wsum sum)
{
	const u8 *p = buf;
	u64 acc = (u32)sum;
	int i;

	for (i = 0; i + 1 < len; i += 2)
		acc += (u32)p[i] | (u32)p[i + 1] << 8;	/* little-endian, as the machine */
	if (len > 0 && (len & 1))
		acc += p[len - 1];
	while (acc >> 32)
		acc = (acc & 0xffffffffU) + (acc >> 32);
	return (__wsum)acc;
}

static inline __sum16 csum_fold(__wsum csum)
{
	u32 sum = (u32)csum;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__sum16)~sum;
}

#endif /* __KERNEL__ */

#endif /* RINGNET_SHIM_H */
