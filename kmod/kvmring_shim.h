/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kvmring_shim.h - what the formatter (kvmring_format.c) needs from its
 * environment: fixed-width types, memset/memcpy, errno values and a store
 * the compiler keeps in program order (the magic last, seq odd first).
 *
 * kvmring_format.c is compiled into kvmring.ko (__KERNEL__) and into
 * WebAssembly for ringctl (KVMRING_WASM: no libc at all, so memset/memcpy are
 * our own). One implementation of the bytes the host writes, two builds.
 */
#ifndef KVMRING_SHIM_H
#define KVMRING_SHIM_H

#if defined(__KERNEL__)

#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/string.h>
#include <linux/types.h>
#include <asm/barrier.h>

#elif defined(KVMRING_WASM)

/* abi.h includes <linux/types.h> unless this is defined (as for BPF). */
#define __VMLINUX_H__
typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __SIZE_TYPE__ size_t;

#define EINVAL		22
#define ERANGE		34

void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

#else
#error "kvmring_format.c is built into kvmring.ko (__KERNEL__) or WebAssembly (KVMRING_WASM)"
#endif

#ifndef __KERNEL__
/*
 * WebAssembly runs ringctl's formatter on one thread over its own memory
 * (ringctl copies the result into a mapping itself): program order is all
 * there is, and these only keep the compiler from tearing or merging stores.
 */
#define WRITE_ONCE(x, val)	__atomic_store_n(&(x), (val), __ATOMIC_RELAXED)
#define READ_ONCE(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define smp_wmb()		__atomic_thread_fence(__ATOMIC_RELEASE)
#endif

#endif /* KVMRING_SHIM_H */
