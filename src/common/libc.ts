// The one libc binding: the calls Node has no API for, loaded on first use
// (koffi is slow to load in a small guest, so only the verbs that need it pay).
// The raw functions are typed below; the wrappers at the end check results and
// throw SysError (sys-error.ts). File descriptors are plain numbers that node:fs
// can close. The structs are those of an LP64 Linux (x86_64, arm64).
import { closeSync, ftruncateSync } from 'node:fs';
import koffi, { type LibraryHandle } from 'koffi';

import { errnoValue } from './errno.js';
import { SysError } from './sys-error.js';

const ptr = 'void *';
const int = 'int';
const size_t = 'size_t';

const iovec = koffi.struct({ iov_base: ptr, iov_len: size_t });
const msghdr = koffi.struct({
  msg_name: ptr,
  msg_namelen: 'uint32_t',
  msg_iov: koffi.pointer(iovec),
  msg_iovlen: size_t,
  msg_control: ptr,
  msg_controllen: size_t,
  msg_flags: int,
});
const cmsghdr = koffi.struct({ cmsg_len: size_t, cmsg_level: int, cmsg_type: int });
/** struct ifaddrs; getifaddrs() hands out a list of them. */
export const ifaddrs = koffi.struct({
  ifa_next: ptr,
  ifa_name: 'const char *',
  ifa_flags: 'uint32_t',
  ifa_addr: ptr,
  ifa_netmask: ptr,
  ifa_ifu: ptr,
  ifa_data: ptr,
});

const decls = {
  // The region and the doorbell server (host side)
  mmap: [ptr, [ptr, size_t, int, int, int, 'int64_t']],
  munmap: [int, [ptr, size_t]],
  posix_fallocate: [int, [int, 'int64_t', 'int64_t']],
  eventfd: [int, ['uint32_t', int]],
  memfd_create: [int, ['const char *', 'uint32_t']],
  sendmsg: ['intptr_t', [int, koffi.pointer(msghdr), int]],
  // Network devices and addresses (guest side)
  if_nametoindex: ['uint32_t', ['const char *']],
  if_indextoname: [ptr, ['uint32_t', ptr]],
  socket: [int, [int, int, int]],
  ioctl: [int, [int, 'unsigned long', '...']],
  getifaddrs: [int, [koffi.out(koffi.pointer(ptr))]],
  freeifaddrs: ['void', [ptr]],
  setns: [int, [int, int]],
  // File descriptors and text
  close: [int, [int]],
  strerror: ['const char *', [int]],
  vsnprintf: [int, [ptr, size_t, ptr, ptr]],
} as const;

/** An address as koffi 3 hands it out (NULL comes as null, so nullable pointers are `Ptr | null`). */
export type Ptr = bigint;

/** The raw functions (plain functions: no `this`); nothing here checks errors. */
export interface Libc {
  mmap: (addr: null, length: number, prot: number, flags: number, fd: number, offset: number) => Ptr | null;
  munmap: (addr: bigint, length: number) => number;
  /** Returns the errno (0: done); leaves errno alone. */
  posix_fallocate: (fd: number, offset: number, length: number) => number;
  eventfd: (initval: number, flags: number) => number;
  memfd_create: (name: string, flags: number) => number;
  sendmsg: (sock: number, msg: object, flags: number) => number | bigint;
  if_nametoindex: (name: string) => number;
  if_indextoname: (index: number, buf: Buffer) => Ptr | null;
  socket: (domain: number, type: number, protocol: number) => number;
  /** Variadic: the third argument is given as a type and a value. */
  ioctl: (fd: number, request: number, argType: string, arg: Buffer) => number;
  getifaddrs: (head: [Ptr | null]) => number;
  freeifaddrs: (head: Ptr | null) => void;
  setns: (fd: number, nstype: number) => number;
  close: (fd: number) => number;
  strerror: (errno: number) => string;
  vsnprintf: (buf: Buffer, size: number, fmt: Ptr, ap: Buffer | Ptr) => number;
}

let bound: Libc | undefined;

/** libc's functions, loaded on first call. */
export function libc(): Libc {
  if (bound) return bound;
  if (process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch)) {
    throw new Error(`ringctl's libc binding is for 64-bit Linux, not ${process.platform}/${process.arch}`);
  }
  let handle: LibraryHandle;
  try {
    handle = koffi.load('libc.so.6');
  } catch (err) {
    throw new Error(`cannot load libc.so.6 (install libc6): ${(err as Error).message}`, { cause: err });
  }
  const out: Record<string, unknown> = {};
  for (const [name, [ret, args]] of Object.entries(decls)) out[name] = handle.func(name, ret, args as unknown as string[]);
  bound = out as unknown as Libc;
  return bound;
}

export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const MAP_SHARED = 0x01;
const MAP_FAILED = 0xffffffffffffffffn;
const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;
const MFD_CLOEXEC = 0x0001;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_NOSIGNAL = 0x4000;
const MSG_DONTWAIT = 0x40;

/** The system's text for an errno. */
export function strerror(errno: number): string {
  try {
    return libc().strerror(errno);
  } catch {
    return `error ${errno}`;
  }
}

/** mmap(NULL, size, prot, MAP_SHARED, fd, 0). */
export function mmap(fd: number, size: number, prot: number, what: string): bigint {
  koffi.errno(0);
  const p = libc().mmap(null, size, prot, MAP_SHARED, fd, 0);
  if (p === null || p === MAP_FAILED) throw new SysError(`mmap(${what})`, koffi.errno());
  return p;
}

export function munmap(p: bigint, size: number, what: string): void {
  koffi.errno(0);
  if (libc().munmap(p, size) !== 0) throw new SysError(`munmap(${what})`, koffi.errno());
}

/** Allocates the file's blocks now, so that a full tmpfs fails here, not in a guest. */
export function fallocate(fd: number, size: number, what: string, hint?: string): void {
  const err = libc().posix_fallocate(fd, 0, size);
  if (err !== 0) throw new SysError(`posix_fallocate(${what})`, err, { hint });
}

/** A new eventfd, counter 0, close-on-exec and non-blocking (as QEMU's server makes them). */
export function eventfd(): number {
  koffi.errno(0);
  const fd = libc().eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) throw new SysError('eventfd', koffi.errno());
  return fd;
}

/** A new anonymous memory file (memfd) of `size` zero bytes, close-on-exec; `name` shows in /proc/PID/fd. */
export function memfd(name: string, size: number): number {
  koffi.errno(0);
  const fd = libc().memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) throw new SysError(`memfd_create(${name})`, koffi.errno());
  try {
    ftruncateSync(fd, size);
  } catch (err) {
    closeSync(fd);
    throw SysError.fromNode(`ftruncate(memfd ${name}, ${size})`, err);
  }
  return fd;
}

const cmsgAlign = (n: number) => (n + 7) & ~7;
const CMSG_HDR = cmsgAlign(koffi.sizeof(cmsghdr));

/**
 * Sends one message of the ivshmem-server protocol on a connected UNIX socket: a
 * little-endian int64 and, if `fd` >= 0, that descriptor via SCM_RIGHTS. Never
 * blocks: a socket that cannot take 8 bytes now fails with EAGAIN.
 */
export function sendInt64WithFd(sock: number, value: bigint, fd: number, what: string): void {
  const data = Buffer.alloc(8);
  data.writeBigInt64LE(value);
  let control: Buffer | null = null;
  if (fd >= 0) {
    control = Buffer.alloc(CMSG_HDR + cmsgAlign(4)); // CMSG_SPACE(sizeof(int))
    koffi.encode(control, 0, cmsghdr, { cmsg_len: CMSG_HDR + 4, cmsg_level: SOL_SOCKET, cmsg_type: SCM_RIGHTS });
    control.writeInt32LE(fd, CMSG_HDR);
  }
  const msg = {
    msg_name: null,
    msg_namelen: 0,
    msg_iov: { iov_base: data, iov_len: data.length },
    msg_iovlen: 1,
    msg_control: control,
    msg_controllen: control ? control.length : 0,
    msg_flags: 0,
  };
  koffi.errno(0);
  const n = Number(libc().sendmsg(sock, msg, MSG_NOSIGNAL | MSG_DONTWAIT));
  if (n < 0) throw new SysError(`sendmsg(${what})`, koffi.errno());
  if (n !== data.length) throw new SysError(`sendmsg(${what}): short write of ${n} bytes`, errnoValue('EIO'));
}
