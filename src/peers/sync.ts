// The peers one attached interface should have, from its ring device's peer
// table: what `ringctl attach` fills in once and PeerFollower keeps in sync.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { attach } from '../xdp/attach.js';
import { formatIp, type Cidr } from '../xdp/cidr.js';
import { syncInterfacePeers, updateInterfacePeers, type PeerSyncResult, type RedirectPeer } from '../xdp/maps.js';
import { ifNameToIndex } from '../xdp/netdev.js';
import { pinnedInterfaces, pinPaths } from '../xdp/pins.js';
import { inspect } from '../xdp/state.js';
import { classifyPeers, contextFor } from './classify.js';
import { localAddresses, type LocalAddress } from './local.js';
import { monitorPeers, type PeerEvent } from '../netlink/ringnet.js';
import { DEFAULT_SYSFS_NET, findPeerTable, peerTablePath, readPeerTable, type PeerTable } from './table.js';

/** An attached interface as the peer sync sees it. */
export interface SyncTarget {
  ifname: string;
  /** Its ring device, or undefined when that device is gone (ring_dev emptied). */
  ring?: string;
  subnets: readonly Cidr[];
  transparent: boolean;
}

export interface InterfacePeers {
  peers: RedirectPeer[];
  /** Problems with the table and peers left out, one line each. */
  notes: string[];
}

/** The peers `t` should have, from `table`; ring-less targets get none. */
export function peersFor(t: SyncTarget, table: PeerTable, local: readonly LocalAddress[]): InterfacePeers {
  if (t.ring === undefined) return { peers: [], notes: [] };
  const ctx = contextFor(local, { ifname: t.ifname, ring: t.ring, subnets: t.subnets, transparent: t.transparent });
  const c = classifyPeers(table.peers, ctx);
  return { peers: c.peers, notes: [...table.problems.map((p) => `${t.ring}'s peer table ${p}`), ...c.skipped] };
}

/**
 * The peers for interface `ifname` about to be attached with these settings,
 * or undefined when `ring` has no peer table (not a ringnet device: a stand-in).
 */
export function initialPeers(t: SyncTarget & { ring: string }, sysfs: string): InterfacePeers | undefined {
  const table = findPeerTable(t.ring, sysfs);
  return table && peersFor(t, table, localAddresses());
}

/** What PeerFollower needs from the system; tests substitute their own. */
export interface FollowerDeps {
  /** Every interface ringctl has attached (stale and gone ones left out). */
  targets(): SyncTarget[];
  /** The ring device's peer table, or undefined if it has none (a stand-in). Throws RingctlError. */
  readTable(ring: string): PeerTable | undefined;
  localAddresses(): LocalAddress[];
  sync(ifname: string, peers: readonly RedirectPeer[]): PeerSyncResult;
  /**
   * Brings `ifname`'s map, which holds what sync() or update() last made of
   * `before`, to `peers`, writing only the entries that differ (no read of
   * the map). Optional: without it an event's round calls sync().
   */
  update?(ifname: string, before: readonly RedirectPeer[], peers: readonly RedirectPeer[]): PeerSyncResult;
  /**
   * A cheap summary of what a poll depends on (pins, interfaces, the tables of
   * `rings` without their heartbeat ages, this guest's addresses). Optional:
   * without it every poll is a full one.
   */
  signature?(rings: readonly string[]): string;
  /**
   * Attaches `ifname`, whose ring device went away, to `ring` again with its
   * settings if `ring` is back with a peer table (ringnet reloaded: a new
   * ifindex; its MAC stays the roster's): the lines attach printed, or
   * undefined when `ring` is not back. Throws RingctlError or LibbpfError.
   * Optional: without it such an interface keeps no peers until attached again
   * by hand.
   */
  reattach?(ifname: string, ring: string): string[] | undefined;
  /**
   * Calls `onEvent` for each membership event of the ring devices (ringnet's
   * genetlink monitor group) and `onLost` when some were lost, until stop():
   * or undefined when there are no events to listen to (no ringnet.ko, a test's
   * text tables). While it runs, the signature leaves the tables out.
   */
  watch?(onEvent: (e: PeerEvent) => void, onLost: (why: string) => void): { stop(): Promise<void> } | undefined;
}

/** The system's dependencies; with `bpfDir`, also reattach(). */
export function systemDeps(pinRoot: string, sysfs: string, bpfDir?: string): FollowerDeps {
  const reattach = (ifname: string, ring: string): string[] | undefined => {
    if (bpfDir === undefined) return undefined;
    const s = inspect(pinRoot, ifname);
    if (s.state !== 'attached' || s.ringIfindex !== undefined) return undefined;
    const transparent = s.tcProgId !== undefined;
    // Undefined until `ring` is back with a peer table.
    const peers = initialPeers({ ifname, ring, subnets: s.subnets, transparent }, sysfs);
    if (!peers) return undefined;
    const mode = s.mode ?? 'native';
    return attach({ ifname, ring, subnets: s.subnets, mode, transparent, force: true, pinRoot, bpfDir, peers: peers.peers }).lines;
  };
  const live = sysfs === DEFAULT_SYSFS_NET;
  let watching = false;
  return {
    ...(bpfDir === undefined ? {} : { reattach }),
    watch(onEvent, onLost) {
      if (!live) return undefined;
      const m = monitorPeers(onEvent, () => onLost('the kernel dropped events (socket overrun)'), (err) => onLost(err.message));
      if (!m) return undefined;
      watching = true;
      return {
        async stop() {
          watching = false;
          await m.stop();
        },
      };
    },
    targets() {
      const out: SyncTarget[] = [];
      for (const ifname of pinnedInterfaces(pinRoot)) {
        const s = inspect(pinRoot, ifname);
        if (s.state !== 'attached') continue;
        out.push({
          ifname,
          ring: s.ringIfindex === undefined ? undefined : s.ringName,
          subnets: s.subnets,
          transparent: s.tcProgId !== undefined,
        });
      }
      return out;
    },
    readTable(ring) {
      // Gone between inspect() and now: no peers. There without a table: a stand-in.
      if (!existsSync(join(sysfs, ring))) return { peers: [], problems: [] };
      return findPeerTable(ring, sysfs);
    },
    localAddresses,
    sync: (ifname, peers) => syncInterfacePeers(pinRoot, ifname, peers),
    update: (ifname, before, peers) => updateInterfacePeers(pinRoot, ifname, before, peers),
    signature(rings) {
      const parts: string[] = [];
      for (const ifname of pinnedInterfaces(pinRoot)) {
        const paths = pinPaths(pinRoot, ifname);
        const pins = [paths.xdpLink, paths.maps.peers, paths.maps.dev, paths.tcProg].map((p) => {
          const st = statSync(p, { throwIfNoEntry: false });
          return st ? `${st.ino}` : '-';
        });
        parts.push(`${ifname}@${ifNameToIndex(ifname) ?? '-'}:${pins.join(',')}`);
      }
      for (const ring of rings) {
        let text: string;
        if (watching) {
          // The events tell of every change of the table: only the device itself here.
          text = 'events';
        } else if (live) {
          try {
            const t = readPeerTable(ring, sysfs);
            // Every slot but its heartbeat age, which moves all the time.
            text = JSON.stringify([t.peers.map((p) => ({ ...p, ageMs: 0 })), t.problems]);
          } catch (err) {
            text = err instanceof Error ? err.message : 'error';
          }
        } else {
          try {
            // Every line but its heartbeat age (the 6th field), which moves all the time.
            text = readFileSync(peerTablePath(ring, sysfs), 'utf8')
              .split('\n')
              .map((l) => l.split(' ').filter((_, i) => i !== 5).join(' '))
              .join('\n');
          } catch (err) {
            text = (err as NodeJS.ErrnoException).code ?? 'error';
          }
        }
        parts.push(`${ring}@${ifNameToIndex(ring) ?? '-'}:${text}`);
      }
      parts.push(localAddresses().map((a) => `${a.ifname}=${formatIp(a)}/${a.prefix}`).join(' '));
      return parts.join('\n');
    },
  };
}
