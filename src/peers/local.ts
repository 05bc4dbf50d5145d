// This guest's own addresses with their prefixes, from getifaddrs(3) (netlink,
// in the calling thread's network namespace). The peer classification needs
// them: which subnets ring0 and eth1 are on, and which addresses are ours (a
// peer that claims one of them is ignored).
import koffi from 'koffi';

import { ifaddrs, libc, type Ptr } from '../common/libc.js';
import type { Cidr } from '../xdp/cidr.js';

const AF_INET = 2;
const AF_INET6 = 10;
/** Enough of a sockaddr_in6 (28 bytes) to read either family. */
const SOCKADDR_READ = 28;

export interface LocalAddress extends Cidr {
  ifname: string;
}

function prefixOf(mask: Uint8Array): number {
  let n = 0;
  for (const b of mask) {
    if (b === 0xff) n += 8;
    else {
      n += Math.clz32(~b & 0xff) - 24;
      break;
    }
  }
  return n;
}

function sockaddr(p: unknown): Buffer {
  return Buffer.from(koffi.decode(p, koffi.array('uint8_t', SOCKADDR_READ)) as number[]);
}

/** Every IPv4 and IPv6 address on every interface, with its prefix length. */
export function localAddresses(): LocalAddress[] {
  const lib = libc();
  const head: [Ptr | null] = [null];
  if (lib.getifaddrs(head) !== 0) throw new Error(`getifaddrs: errno ${koffi.errno()}`);
  const out: LocalAddress[] = [];
  try {
    for (let p = head[0]; p; ) {
      const e = koffi.decode(p, ifaddrs) as { ifa_next: Ptr | null; ifa_name: string; ifa_addr: Ptr | null; ifa_netmask: Ptr | null };
      if (e.ifa_addr) {
        const a = sockaddr(e.ifa_addr);
        const family = a.readUInt16LE(0);
        if (family === AF_INET || family === AF_INET6) {
          const [off, len] = family === AF_INET ? [4, 4] : [8, 16];
          const bytes = Uint8Array.from(a.subarray(off, off + len));
          const prefix = e.ifa_netmask ? prefixOf(sockaddr(e.ifa_netmask).subarray(off, off + len)) : len * 8;
          out.push({ ifname: e.ifa_name, family: family === AF_INET ? 4 : 6, bytes, prefix });
        }
      }
      p = e.ifa_next;
    }
  } finally {
    lib.freeifaddrs(head[0]);
  }
  return out;
}
