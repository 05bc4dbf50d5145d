// The few libc calls Node has no API for: mmap/munmap and posix_fallocate for the
// region, eventfd and sendmsg with SCM_RIGHTS for the doorbell server. Loaded on
// first use. The wrappers check results and throw SysError (errors.ts); file
// descriptors are plain numbers that node:fs can close.
import koffi, { type LibraryHandle } from 'koffi';

import { SysError } from './errors.js';

type Fn = (...args: any[]) => any; // eslint-disable-line @typescript-eslint/no-explicit-any

const ptr = 'void *';
const int = 'int';
const size_t = 'size_t';

// struct iovec, struct msghdr, struct cmsghdr of an LP64 Linux (x86_64, arm64).
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

const decls = {
  mmap: [ptr, [ptr, size_t, int, int, int, 'int64_t']],
  munmap: [int, [ptr, size_t]],
  posix_fallocate: [int, [int, 'int64_t', 'int64_t']],
  eventfd: [int, ['uint32_t', int]],
  sendmsg: ['intptr_t', [int, koffi.pointer(msghdr), int]],
  strerror: ['const char *', [int]],
} as const;

export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const MAP_SHARED = 0x01;
const MAP_FAILED = 0xffffffffffffffffn;
const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_NOSIGNAL = 0x4000;
const MSG_DONTWAIT = 0x40;

let libc: { [K in keyof typeof decls]: Fn } | undefined;

function lib() {
  if (libc) return libc;
  if (process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch)) {
    throw new Error(`the host side of kvmring runs on 64-bit Linux, not ${process.platform}/${process.arch}`);
  }
  const handle: LibraryHandle = koffi.load('libc.so.6');
  const out = {} as { [K in keyof typeof decls]: Fn };
  for (const [name, [ret, args]] of Object.entries(decls)) {
    (out as Record<string, Fn>)[name] = handle.func(name, ret, args as unknown as string[]);
  }
  libc = out;
  return libc;
}

/** The system's text for an errno. */
export function strerror(errno: number): string {
  try {
    return String(lib().strerror(errno));
  } catch {
    return `error ${errno}`;
  }
}

/** mmap(NULL, size, prot, MAP_SHARED, fd, 0). */
export function mmap(fd: number, size: number, prot: number, what: string): bigint {
  koffi.errno(0);
  const p = lib().mmap(null, size, prot, MAP_SHARED, fd, 0) as bigint | null;
  if (p === null || BigInt(p) === MAP_FAILED) throw new SysError(`mmap(${what})`, koffi.errno());
  return BigInt(p);
}

export function munmap(p: bigint, size: number, what: string): void {
  koffi.errno(0);
  if (lib().munmap(p, size) !== 0) throw new SysError(`munmap(${what})`, koffi.errno());
}

/** Allocates the file's blocks now, so that a full tmpfs fails here, not in a guest. */
export function fallocate(fd: number, size: number, what: string, hint?: string): void {
  const err = lib().posix_fallocate(fd, 0, size) as number; // returns the errno
  if (err !== 0) throw new SysError(`posix_fallocate(${what})`, err, { hint });
}

/** A new eventfd, counter 0, close-on-exec and non-blocking (as QEMU's server makes them). */
export function eventfd(): number {
  koffi.errno(0);
  const fd = lib().eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) as number;
  if (fd < 0) throw new SysError('eventfd', koffi.errno());
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
  const n = Number(lib().sendmsg(sock, msg, MSG_NOSIGNAL | MSG_DONTWAIT));
  if (n < 0) throw new SysError(`sendmsg(${what})`, koffi.errno());
  if (n !== data.length) throw new SysError(`sendmsg(${what}): short write of ${n} bytes`, 5 /* EIO */);
}
