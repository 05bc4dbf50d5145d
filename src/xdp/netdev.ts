// Network devices by name in the calling thread's network namespace: index and
// MAC address through libc (if_nametoindex, SIOCGIFHWADDR), not /sys, whose view
// belongs to whoever mounted it.
import koffi from 'koffi';

import { libc } from '../common/libc.js';
import { IFNAMSIZ, isValidIfname } from './ifname.js';

export { isValidIfname };

/** sizeof(struct ifreq). */
export const IFREQ_SIZE = 40;
const SIOCGIFHWADDR = 0x8927;
const SIOCGIFFLAGS = 0x8913;
const IFF_UP = 0x1;
const IFF_RUNNING = 0x40;
const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const ARPHRD_ETHER = 1;

/** The device's ifindex, or undefined if there is no such device. */
export function ifNameToIndex(name: string): number | undefined {
  if (!isValidIfname(name)) return undefined;
  const idx = libc().if_nametoindex(name);
  return idx === 0 ? undefined : idx;
}

/** The device's name, or undefined if no device has that index. */
export function ifIndexToName(index: number): string | undefined {
  const buf = Buffer.alloc(IFNAMSIZ);
  const p = libc().if_indextoname(index, buf);
  if (!p) return undefined;
  return buf.toString('utf8', 0, buf.indexOf(0));
}

/** A device ioctl with a struct ifreq: its result, below 0 on failure (then koffi.errno() says why). */
export type DeviceIoctl = (request: number, ifr: Buffer) => number;

/**
 * Runs `fn` with device ioctls on an AF_INET datagram socket of the calling
 * thread's network namespace, closed afterwards. A socket() failure throws
 * `socketError(errno)`.
 */
export function withIoctlSocket<T>(fn: (ioctl: DeviceIoctl) => T, socketError = (errno: number): Error => new Error(`socket(): errno ${errno}`)): T {
  const lib = libc();
  const fd = lib.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw socketError(koffi.errno());
  try {
    return fn((request, ifr) => lib.ioctl(fd, request, 'void *', ifr));
  } finally {
    lib.close(fd);
  }
}

/** Runs one SIOCGIF* ioctl on the device; its struct ifreq, or undefined if it failed (no such device). */
function ifreq(name: string, request: number): Buffer | undefined {
  if (!isValidIfname(name)) return undefined;
  return withIoctlSocket((ioctl) => {
    const ifr = Buffer.alloc(IFREQ_SIZE);
    ifr.write(name, 0, 'utf8');
    return ioctl(request, ifr) < 0 ? undefined : ifr;
  });
}

/** The device's Ethernet address (6 bytes), or undefined if it has none. */
export function hwAddr(name: string): Buffer | undefined {
  const ifr = ifreq(name, SIOCGIFHWADDR);
  if (!ifr || ifr.readUInt16LE(IFNAMSIZ) !== ARPHRD_ETHER) return undefined;
  return Buffer.from(ifr.subarray(IFNAMSIZ + 2, IFNAMSIZ + 2 + 6));
}

/** Whether the device is administratively up and whether it runs (has carrier), or undefined if there is no such device. */
export function linkFlags(name: string): { up: boolean; running: boolean } | undefined {
  const ifr = ifreq(name, SIOCGIFFLAGS);
  if (!ifr) return undefined;
  const flags = ifr.readUInt16LE(IFNAMSIZ);
  return { up: (flags & IFF_UP) !== 0, running: (flags & IFF_RUNNING) !== 0 };
}
