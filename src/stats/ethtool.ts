// A driver's private counters, as `ethtool -S` and `ethtool -i` read them: the
// SIOCETHTOOL ioctl (ETHTOOL_GDRVINFO, ETHTOOL_GSSET_INFO, ETHTOOL_GSTRINGS,
// ETHTOOL_GSTATS) on a socket of the calling thread's network namespace. The
// kernel's ethtool netlink has no request for private counters, so this is
// what ethtool(8) itself does.
import koffi from 'koffi';

import { errnoName, errnoValue } from '../common/errno.js';
import { IFNAMSIZ } from '../xdp/ifname.js';
import { IFREQ_SIZE, isValidIfname, withIoctlSocket, type DeviceIoctl } from '../xdp/netdev.js';

const SIOCETHTOOL = 0x8946;
const ETHTOOL_GDRVINFO = 0x03;
const ETHTOOL_GSTRINGS = 0x1b;
const ETHTOOL_GSTATS = 0x1d;
const ETHTOOL_GSSET_INFO = 0x37;
const ETH_SS_STATS = 1;
const ETH_GSTRING_LEN = 32;
/** struct ethtool_drvinfo: cmd, then driver[32], version[32], ... */
const DRVINFO_SIZE = 196;
/** A driver that reports more counters than this is not one we can trust. */
const MAX_STATS = 1 << 16;

const ENODEV = errnoValue('ENODEV');
const EOPNOTSUPP = errnoValue('EOPNOTSUPP');

/** An ethtool request that failed: the device is gone, or its driver has no such counters. */
export class EthtoolError extends Error {
  override readonly name = 'EthtoolError';
  constructor(
    message: string,
    readonly errno: number,
  ) {
    super(message);
  }

  get code(): string {
    return errnoName(this.errno);
  }
}

/**
 * Runs one SIOCETHTOOL request: `request` is the ethtool struct (its first u32
 * the command) and comes back as the kernel filled it.
 */
function ethtool(ioctl: DeviceIoctl, ifname: string, request: Buffer, what: string): Buffer {
  // ifr_data must point at memory the kernel reads and writes: native memory, so
  // its address stays put for the call.
  const mem: unknown = koffi.alloc('uint8_t', request.length);
  try {
    const view = Buffer.from(koffi.view(mem, request.length));
    request.copy(view);
    const ifr = Buffer.alloc(IFREQ_SIZE);
    ifr.write(ifname, 0, 'utf8');
    ifr.writeBigUInt64LE(koffi.address(mem), IFNAMSIZ);
    koffi.errno(0);
    if (ioctl(SIOCETHTOOL, ifr) < 0) {
      const errno = koffi.errno();
      const why = errno === ENODEV ? 'no such device' : errno === EOPNOTSUPP ? `its driver has no ${what}` : errnoName(errno);
      throw new EthtoolError(`${ifname}: cannot read ${what} (${why})`, errno);
    }
    return Buffer.from(view);
  } finally {
    koffi.free(mem);
  }
}

function cstring(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const end = s.indexOf(0);
  return s.toString('utf8', 0, end < 0 ? len : end);
}

export interface DriverInfo {
  driver: string;
  version: string;
  busInfo: string;
}

function drvinfo(ioctl: DeviceIoctl, ifname: string): DriverInfo {
  const req = Buffer.alloc(DRVINFO_SIZE);
  req.writeUInt32LE(ETHTOOL_GDRVINFO, 0);
  const r = ethtool(ioctl, ifname, req, 'driver information');
  return { driver: cstring(r, 4, 32), version: cstring(r, 36, 32), busInfo: cstring(r, 4 + 3 * 32, 32) };
}

function statCount(ioctl: DeviceIoctl, ifname: string): number {
  const req = Buffer.alloc(20);
  req.writeUInt32LE(ETHTOOL_GSSET_INFO, 0);
  req.writeBigUInt64LE(1n << BigInt(ETH_SS_STATS), 8);
  const r = ethtool(ioctl, ifname, req, 'statistics');
  if ((r.readBigUInt64LE(8) & (1n << BigInt(ETH_SS_STATS))) === 0n) return 0;
  const n = r.readUInt32LE(16);
  if (n > MAX_STATS) throw new EthtoolError(`${ifname}: its driver reports ${n} statistics`, 22);
  return n;
}

function statNames(ioctl: DeviceIoctl, ifname: string, n: number): string[] {
  const req = Buffer.alloc(12 + n * ETH_GSTRING_LEN);
  req.writeUInt32LE(ETHTOOL_GSTRINGS, 0);
  req.writeUInt32LE(ETH_SS_STATS, 4);
  req.writeUInt32LE(n, 8);
  const r = ethtool(ioctl, ifname, req, 'statistics names');
  const len = Math.min(r.readUInt32LE(8), n);
  return Array.from({ length: len }, (_, i) => cstring(r, 12 + i * ETH_GSTRING_LEN, ETH_GSTRING_LEN));
}

function statValues(ioctl: DeviceIoctl, ifname: string, n: number): bigint[] {
  // GSTATS writes as many values as the driver counts now, whatever we asked
  // for: leave room for a region that appeared since GSSET_INFO, and compare.
  const room = n + 1024;
  const req = Buffer.alloc(8 + room * 8);
  req.writeUInt32LE(ETHTOOL_GSTATS, 0);
  req.writeUInt32LE(n, 4);
  const r = ethtool(ioctl, ifname, req, 'statistics');
  const got = r.readUInt32LE(4);
  if (got !== n) return [];
  return Array.from({ length: n }, (_, i) => r.readBigUInt64LE(8 + i * 8));
}

export interface EthtoolStats {
  driver: DriverInfo;
  /** `ethtool -S`: name -> value, in the driver's order. */
  stats: Map<string, bigint>;
}

/**
 * `ethtool -i` and `ethtool -S` of a device. Throws EthtoolError when the
 * device is gone or the request fails; a device whose driver has no counters
 * gives an empty map.
 */
export function readEthtoolStats(ifname: string): EthtoolStats {
  if (!isValidIfname(ifname)) throw new EthtoolError(`${JSON.stringify(ifname)}: not an interface name`, 22);
  const socketError = (errno: number) => new EthtoolError(`socket(): errno ${errno}`, errno);
  return withIoctlSocket((ioctl) => {
    const driver = drvinfo(ioctl, ifname);
    // The set of counters changes when the driver gains or loses a region: read
    // names and values again until both agree on the count.
    for (let attempt = 0; attempt < 5; attempt++) {
      const n = statCount(ioctl, ifname);
      if (n === 0) return { driver, stats: new Map() };
      const names = statNames(ioctl, ifname, n);
      const values = statValues(ioctl, ifname, n);
      if (names.length !== n || values.length !== n) continue;
      return { driver, stats: new Map(names.map((name, i) => [name, values[i]])) };
    }
    throw new EthtoolError(`${ifname}: its counters kept changing while being read`, 11);
  }, socketError);
}
