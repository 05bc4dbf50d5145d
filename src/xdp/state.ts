// What is attached to an interface, from its pins and from the kernel: the one
// place attach, detach and status learn the current state.
import { existsSync } from 'node:fs';

import {
  BpfLink,
  BpfMapFd,
  closeFd,
  LibbpfError,
  objGet,
  progInfoByFd,
  tcQuery,
  xdpQuery,
  type XdpQuery,
} from '../libbpf/index.js';
import { formatCidr, type Cidr } from './cidr.js';
import { readPeers, readRingDevice, readSubnets } from './maps.js';
import { ifIndexToName, ifNameToIndex } from './netdev.js';
import { pinPaths, type PinPaths } from './pins.js';

/** Where tc_transparent sits on eth1's egress hook ("RI"). */
export const TC_FILTER = { handle: 0x5249, priority: 0x5249 } as const;

export type AttachState =
  /** Our program is attached and pinned. */
  | 'attached'
  /** Pins remain, but our program is no longer attached (a crash, the link detached). */
  | 'stale'
  /** Pins remain for an interface that no longer exists. */
  | 'gone'
  /** No pins: ringctl has nothing here. */
  | 'none';

export interface IfaceState {
  ifname: string;
  ifindex?: number;
  paths: PinPaths;
  state: AttachState;
  /** Our pinned XDP program's id. */
  xdpProgId?: number;
  xdpLinkId?: number;
  /** What the kernel reports on the interface (ours or not). */
  xdp?: XdpQuery;
  mode?: 'native' | 'generic';
  /** Our pinned TC program's id, and whether it is on the egress hook. */
  tcProgId?: number;
  tcAttached: boolean;
  ringIfindex?: number;
  ringName?: string;
  subnets: Cidr[];
  peers: number;
}

function pinnedProgId(path: string): number | undefined {
  if (!existsSync(path)) return undefined;
  const fd = objGet(path);
  try {
    return progInfoByFd(fd).id;
  } finally {
    closeFd(fd);
  }
}

function withPinnedMap<T>(path: string, fn: (m: BpfMapFd) => T, fallback: T): T {
  if (!existsSync(path)) return fallback;
  const m = BpfMapFd.openPinned(path);
  try {
    return fn(m);
  } finally {
    m.close();
  }
}

/** Any program on the interface, whatever its mode. */
export function foreignXdpId(q: XdpQuery | undefined): number {
  return q ? q.progId || q.drvProgId || q.skbProgId || q.hwProgId : 0;
}

export function inspect(root: string, ifname: string): IfaceState {
  const paths = pinPaths(root, ifname);
  const ifindex = ifNameToIndex(ifname);
  const xdp = ifindex === undefined ? undefined : xdpQuery(ifindex);
  const s: IfaceState = { ifname, ifindex, paths, xdp, state: 'none', tcAttached: false, subnets: [], peers: 0 };
  if (!existsSync(paths.dir)) return s;

  s.xdpProgId = pinnedProgId(paths.xdpProg);
  s.tcProgId = pinnedProgId(paths.tcProg);
  if (existsSync(paths.xdpLink)) {
    const link = BpfLink.openPinned(paths.xdpLink);
    try {
      const info = link.info();
      if (info.xdpIfindex !== 0 && info.xdpIfindex === ifindex) s.xdpLinkId = info.id;
    } finally {
      link.close();
    }
  }
  if (ifindex === undefined) s.state = 'gone';
  else if (s.xdpProgId !== undefined && xdp && [xdp.drvProgId, xdp.skbProgId].includes(s.xdpProgId)) {
    s.state = 'attached';
    s.mode = xdp.drvProgId === s.xdpProgId ? 'native' : 'generic';
  } else s.state = 'stale';

  if (ifindex !== undefined && s.tcProgId !== undefined) {
    try {
      s.tcAttached = tcQuery({ ifindex, direction: 'egress' }, TC_FILTER) === s.tcProgId;
    } catch (err) {
      // No clsact qdisc at all: EINVAL from the kernel. Not attached, then.
      if (!(err instanceof LibbpfError)) throw err;
    }
  }
  s.ringIfindex = withPinnedMap(paths.maps.dev, readRingDevice, undefined);
  if (s.ringIfindex !== undefined) s.ringName = ifIndexToName(s.ringIfindex);
  s.subnets = existsSync(paths.maps.subnets4)
    ? withPinnedMap(paths.maps.subnets4, (v4) => withPinnedMap(paths.maps.subnets6, (v6) => readSubnets(v4, v6), []), [])
    : [];
  s.peers = withPinnedMap(paths.maps.peers, (m) => readPeers(m).length, 0);
  return s;
}

/** The state as `ringctl status --json` prints it. */
export function stateJson(s: IfaceState) {
  return {
    interface: s.ifname,
    ifindex: s.ifindex ?? null,
    state: s.state,
    xdp: s.xdpProgId === undefined ? null : { program: s.xdpProgId, link: s.xdpLinkId ?? null, mode: s.mode ?? null },
    transparent: s.tcProgId === undefined ? null : { program: s.tcProgId, attached: s.tcAttached },
    ring: s.ringIfindex === undefined ? null : { name: s.ringName ?? null, ifindex: s.ringIfindex },
    subnets: s.subnets.map(formatCidr),
    peers: s.peers,
    pins: s.paths.dir,
  };
}
