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
 */
#ifndef RINGNET_SHIM_H
#define RINGNET_SHIM_H

#ifdef __KERNEL__

#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/stddef.h>
#include <linux/string.h>
#include <linux/types.h>
#include <asm/barrier.h>

#else /* !__KERNEL__ */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
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

#define likely(x)		__builtin_expect(!!(x), 1)
#define unlikely(x)		__builtin_expect(!!(x), 0)

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#endif

#endif /* __KERNEL__ */

#endif /* RINGNET_SHIM_H */
