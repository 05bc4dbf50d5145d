// `ringctl attach`: load xdp_ring (and tc_transparent), fill and pin the maps,
// attach through a pinned XDP link. All or nothing: every step registers its
// undo, and a failure unwinds them in reverse, so an error leaves the interface
// as it was (save a foreign program replaced with --force through a link, which
// cannot be re-created).
import { mkdirSync } from 'node:fs';

import {
  BpfLink,
  BpfObject,
  closeFd,
  LibbpfError,
  linkIds,
  progFdById,
  BPF_LINK_TYPE_XDP,
  BPF_TC_F_REPLACE,
  tcAttach,
  tcDetach,
  tcHookCreate,
  tcHookDestroy,
  xdpAttach,
  xdpDetach,
  XDP_FLAGS_DRV_MODE,
  XDP_FLAGS_REPLACE,
  XDP_FLAGS_SKB_MODE,
} from '../libbpf/index.js';
import { formatCidr, type Cidr } from './cidr.js';
import { MAPS, OBJECTS } from './codecs.js';
import { detachState } from './detach.js';
import { RingctlError } from '../common/errors.js';
import { setRingDevice, syncInterfacePeers, syncPeers, syncSubnets, type PeerSyncResult, type RedirectPeer } from './maps.js';
import { hwAddr, ifNameToIndex } from './netdev.js';
import { makePinDir, removePins, requireBpffs } from './pins.js';
import { openTcObject, openXdpObject } from './programs.js';
import { foreignXdpId, inspect, TC_FILTER, type IfaceState } from './state.js';

export type XdpMode = 'native' | 'generic';

export interface AttachOptions {
  ifname: string;
  ring: string;
  subnets: Cidr[];
  mode: XdpMode;
  transparent: boolean;
  force: boolean;
  pinRoot: string;
  bpfDir: string;
  /**
   * The peers to fill ring_peers with (from ring0's peer table), or undefined
   * to leave it as it is (a ring device without a peer table).
   */
  peers?: readonly RedirectPeer[];
}

const MODE_FLAGS: Record<XdpMode, number> = { native: XDP_FLAGS_DRV_MODE, generic: XDP_FLAGS_SKB_MODE };

/** Why the current attachment differs from the one asked for, or [] if it does not. */
function differences(s: IfaceState, o: AttachOptions, ringIfindex: number): string[] {
  const d: string[] = [];
  if (s.mode !== o.mode) d.push(`mode ${s.mode} -> ${o.mode}`);
  if (s.ringIfindex !== ringIfindex) d.push(`ring ${s.ringName ?? s.ringIfindex ?? 'none'} -> ${o.ring}`);
  const have = s.subnets.map(formatCidr).join(',');
  const want = o.subnets.map(formatCidr).join(',');
  if (have !== want) d.push(`subnets ${have || 'none'} -> ${want || 'none'}`);
  const transparent = s.tcProgId !== undefined && s.tcAttached;
  if (transparent !== o.transparent) d.push(o.transparent ? 'transparent mode on' : 'transparent mode off');
  return d;
}

function summary(s: IfaceState): string {
  return `xdp_ring program ${s.xdpProgId}, ${s.mode}`;
}

/** A verifier rejection with its log's tail, anything else as it came. */
function loadError(ifname: string, prog: string, err: unknown): never {
  if (err instanceof LibbpfError) {
    const tail = err.verifierLogTail(15);
    if (tail !== undefined) {
      throw new RingctlError(`${ifname}: the kernel's verifier rejected ${prog} (${err.code})`, { detail: tail, cause: err });
    }
    throw new RingctlError(`${ifname}: cannot load ${prog}: ${err.libbpfMessage} (${err.code})`, { detail: err.log.trim() || undefined, cause: err });
  }
  throw err;
}

interface Removed {
  /** The program's fd (to put it back on failure), if it was attached through netlink. */
  fd?: number;
  flags: number;
}

/** Takes the foreign XDP program `id` off the interface. */
function removeForeign(ifname: string, ifindex: number, s: IfaceState, id: number): Removed {
  const flags = s.xdp?.drvProgId === id ? XDP_FLAGS_DRV_MODE : s.xdp?.skbProgId === id ? XDP_FLAGS_SKB_MODE : 0;
  const fd = progFdById(id);
  try {
    xdpDetach(ifindex, flags | XDP_FLAGS_REPLACE, fd);
    return { fd, flags };
  } catch (err) {
    closeFd(fd);
    if (!(err instanceof LibbpfError) || err.code !== 'EBUSY') throw err;
  }
  // Attached through someone's BPF link: find the link and cut it loose.
  for (const lid of linkIds()) {
    let link: BpfLink;
    try {
      link = BpfLink.fromId(lid);
    } catch {
      continue; // gone meanwhile
    }
    try {
      const info = link.info();
      if (info.type === BPF_LINK_TYPE_XDP && info.xdpIfindex === ifindex && info.progId === id) {
        link.detach();
        return { flags }; // a detached link cannot be re-attached
      }
    } finally {
      link.close();
    }
  }
  throw new RingctlError(`${ifname}: cannot remove XDP program ${id} (EBUSY)`);
}

/** Detaches the link pinned at `path`, if any. */
function detachPinnedLink(path: string): void {
  const link = BpfLink.openPinned(path);
  try {
    link.detach();
  } finally {
    link.close();
  }
}

export interface AttachResult {
  changed: boolean;
  lines: string[];
  /** Peers' map entries left out (bad, claimed twice, no room), one line each. */
  rejected: string[];
}

/** The line saying what the peer sync did, when it did anything worth saying. */
function peerLine(o: AttachOptions, r: PeerSyncResult, fresh: boolean): string | undefined {
  if (!o.peers) return undefined;
  const n = o.peers.filter((p) => p.addresses.length || p.ordinaryAddresses?.length).length;
  if (fresh) {
    if (!n) return `${o.ifname}: no live peers in ${o.ring}'s peer table yet`;
    return `${o.ifname}: ${n} peer${n === 1 ? '' : 's'} from ${o.ring}'s peer table (${r.added} address${r.added === 1 ? '' : 'es'})`;
  }
  if (!r.added && !r.updated && !r.removed) return undefined;
  return `${o.ifname}: peers synced from ${o.ring}'s peer table: ${r.added} added, ${r.updated} updated, ${r.removed} removed`;
}

export function attach(o: AttachOptions): AttachResult {
  const ifindex = ifNameToIndex(o.ifname);
  const ringIfindex = ifNameToIndex(o.ring);
  const ringMac = hwAddr(o.ring);
  if (ifindex === undefined || ringIfindex === undefined || !ringMac) {
    throw new Error('attach: interfaces must be checked by the caller');
  }
  requireBpffs(o.pinRoot);

  const lines: string[] = [];
  let s = inspect(o.pinRoot, o.ifname);
  if (s.state === 'attached') {
    const diff = differences(s, o, ringIfindex);
    if (!diff.length && !o.force) {
      const out = [`${o.ifname}: already attached (${summary(s)}); nothing to do`];
      let rejected: string[] = [];
      if (o.peers) {
        const r = syncInterfacePeers(o.pinRoot, o.ifname, o.peers);
        rejected = r.rejected;
        const line = peerLine(o, r, false);
        if (line) out.push(line);
      }
      return { changed: false, lines: out, rejected };
    }
    if (!o.force) {
      throw new RingctlError(
        `${o.ifname}: already attached by ringctl with other settings (${diff.join('; ')}); run ringctl detach ${o.ifname} first, or use --force`,
      );
    }
    detachState(s);
    lines.push(`${o.ifname}: detached the previous attachment (${summary(s)})`);
    s = inspect(o.pinRoot, o.ifname);
  } else if (s.state !== 'none') {
    detachState(s);
    lines.push(`${o.ifname}: removed stale pins left by an earlier run`);
    s = inspect(o.pinRoot, o.ifname);
  }

  const foreign = foreignXdpId(s.xdp);
  if (foreign && !o.force) {
    throw new RingctlError(`${o.ifname}: XDP program ${foreign} already attached (EBUSY); use --force to replace it`);
  }

  // Frames on lo carry zero MACs, and so does a device without an Ethernet address.
  const cfg = { ringMac, ringIfindex, nicMac: hwAddr(o.ifname) ?? Buffer.alloc(6) };
  const undo: Array<() => void> = [];
  const objects: BpfObject[] = [];
  let removed: Removed | undefined;
  try {
    const xdpObj = openXdpObject(o.bpfDir, cfg);
    objects.push(xdpObj);
    try {
      xdpObj.load();
    } catch (err) {
      loadError(o.ifname, OBJECTS.xdp.program, err);
    }
    let tcObj: BpfObject | undefined;
    if (o.transparent) {
      tcObj = openTcObject(o.bpfDir, cfg, xdpObj.map(MAPS.peers).fd);
      objects.push(tcObj);
      try {
        tcObj.load();
      } catch (err) {
        loadError(o.ifname, OBJECTS.tc.program, err);
      }
    }

    setRingDevice(xdpObj.map(MAPS.dev).handle, ringIfindex);
    syncSubnets(xdpObj.map(MAPS.subnets4).handle, xdpObj.map(MAPS.subnets6).handle, o.subnets);
    // The peers go in before the program goes live: no window where they are missing.
    const peerSync = o.peers ? syncPeers(xdpObj.map(MAPS.peers).handle, o.peers) : undefined;

    const paths = s.paths;
    makePinDir(paths);
    undo.push(() => removePins(paths));
    const xdpProg = xdpObj.program(OBJECTS.xdp.program);
    xdpProg.pin(paths.xdpProg);
    for (const key of ['peers', 'subnets4', 'subnets6', 'dev', 'xdpStats'] as const) {
      xdpObj.map(MAPS[key]).pin(paths.maps[key]);
    }
    if (tcObj) {
      tcObj.program(OBJECTS.tc.program).pin(paths.tcProg);
      tcObj.map(MAPS.tcStats).pin(paths.maps.tcStats);
    }

    if (foreign) {
      removed = removeForeign(o.ifname, ifindex, s, foreign);
      const { fd, flags } = removed;
      if (fd !== undefined) undo.push(() => xdpAttach(ifindex, fd, flags));
      lines.push(`${o.ifname}: replaced XDP program ${foreign} (--force)`);
    }

    let link: BpfLink;
    try {
      link = BpfLink.attachXdp(xdpProg.fd, ifindex, MODE_FLAGS[o.mode]);
    } catch (err) {
      if (err instanceof LibbpfError && err.code === 'EOPNOTSUPP' && o.mode === 'native') {
        throw new RingctlError(`${o.ifname}: its driver has no native XDP (EOPNOTSUPP); use --mode generic`, { cause: err });
      }
      if (err instanceof LibbpfError && (err.code === 'EBUSY' || err.code === 'EEXIST')) {
        throw new RingctlError(`${o.ifname}: XDP program already attached (${err.code}); use --force to replace it`, { cause: err });
      }
      throw err;
    }
    try {
      link.pin(paths.xdpLink);
    } finally {
      link.close(); // unpinned, this was the last reference: the program is off again
    }
    undo.push(() => detachPinnedLink(paths.xdpLink));

    let tcProgId: number | undefined;
    if (tcObj) {
      const hook = { ifindex, direction: 'egress' as const };
      if (tcHookCreate(hook)) {
        undo.push(() => tcHookDestroy(ifindex));
        mkdirSync(paths.clsactOwned);
      }
      // BPF_TC_F_REPLACE: a filter of ours left behind by a crash is simply replaced.
      tcProgId = tcAttach(hook, tcObj.program(OBJECTS.tc.program).fd, TC_FILTER, BPF_TC_F_REPLACE);
      undo.push(() => void tcDetach(hook, TC_FILTER));
    }

    const progId = xdpProg.info().id;
    lines.push(`${o.ifname}: attached xdp_ring (program ${progId}, ${o.mode}), redirecting into ${o.ring}`);
    lines.push(
      o.subnets.length
        ? `${o.ifname}: inter-domain subnets ${o.subnets.map(formatCidr).join(', ')}`
        : `${o.ifname}: no inter-domain subnets; only peers' addresses are redirected`,
    );
    const pl = peerSync && peerLine(o, peerSync, true);
    if (pl) lines.push(pl);
    if (tcProgId !== undefined) lines.push(`${o.ifname}: transparent mode: tc_transparent on egress (program ${tcProgId})`);
    lines.push(`${o.ifname}: pinned under ${paths.dir}`);
    undo.length = 0;
    return { changed: true, lines, rejected: peerSync?.rejected ?? [] };
  } catch (err) {
    for (const step of undo.reverse()) {
      try {
        step();
      } catch {
        // Keep unwinding: the rest still has to go.
      }
    }
    throw err;
  } finally {
    for (const obj of objects) obj.close();
    if (removed?.fd !== undefined) closeFd(removed.fd);
  }
}

