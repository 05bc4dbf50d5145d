// One snapshot of every counter source: the interfaces (ring0 and each one
// ringctl attached to), the programs' stats maps, ring0's ethtool counters,
// regions and peer table. Never throws for a source that is missing or went
// away: its entry carries the error and the rest is read as usual.
import { readdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';

import type { StatsSnapshot } from '../gen/kvmring/v1/stats.js';
import { dumpRegions } from '../netlink/ringnet.js';
import { guestConflicts, type Conflict } from '../peers/classify.js';
import { localAddresses, type LocalAddress } from '../peers/local.js';
import { DEFAULT_SYSFS_NET, readPeerTable } from '../peers/table.js';
import { ifNameToIndex } from '../xdp/netdev.js';
import { VERSION } from '../version.js';
import { EthtoolError, readEthtoolStats, type EthtoolStats } from './ethtool.js';
import { ringStats } from './ring.js';
import {
  interfaceStats,
  parseRegions,
  pinnedProgramStats,
  PROC_NET_DEV,
  readProcNetDev,
  regionsPath,
  StatsSourceError,
  type RegionInfo,
} from './sources.js';

export interface CollectOptions {
  /** The ring device (ring0). */
  ring: string;
  /** More interfaces to report, beside the ring device and the attached ones. */
  interfaces?: readonly string[];
  /** ringctl's pin root (/sys/fs/bpf/ringctl): its directories are the attached interfaces. */
  pinRoot: string;
  /** /sys/class/net, where ring0's peer table and regions are. */
  sysfsNet: string;
  procNetDev?: string;
  /** Stand-in for the SIOCETHTOOL reader (tests). */
  ethtool?: (ifname: string) => EthtoolStats;
  /** Stand-in for the clock (tests): nanoseconds since the epoch. */
  now?: () => bigint;
  /** Stand-in for this guest's addresses (tests), which the peer table's conflicts depend on. */
  localAddresses?: () => LocalAddress[];
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The interfaces ringctl has pins for, and a problem if the pin root cannot be listed. */
function attached(pinRoot: string): { names: string[]; problem?: string } {
  try {
    return {
      names: readdirSync(pinRoot, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name)
        .sort(),
    };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { names: [] };
    return { names: [], problem: `cannot list the attached interfaces in ${pinRoot} (${code ?? message(err)})` };
  }
}

function readRegions(ring: string, sysfsNet: string, errors: string[]): RegionInfo[] | Error {
  if (sysfsNet === DEFAULT_SYSFS_NET) {
    // ringnet's genetlink family; a test's text file otherwise.
    try {
      const r = dumpRegions(ring);
      errors.push(...r.problems.map((p) => `${ring}: regions: ${p}`));
      return r.regions;
    } catch (err) {
      return new StatsSourceError(`${ring}: cannot read its regions (${message(err)})`);
    }
  }
  const path = regionsPath(ring, sysfsNet);
  try {
    const r = parseRegions(readFileSync(path, 'utf8'));
    errors.push(...r.problems.map((p) => `${ring}: ${p}`));
    return r.regions;
  } catch (err) {
    return new StatsSourceError(`${ring}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? message(err)})`);
  }
}

export function collectStats(o: CollectOptions): StatsSnapshot {
  const now = o.now ?? (() => BigInt(Date.now()) * 1_000_000n);
  const errors: string[] = [];
  const pins = attached(o.pinRoot);
  if (pins.problem) errors.push(pins.problem);
  const devices = [...new Set([o.ring, ...pins.names, ...(o.interfaces ?? [])])];

  let table;
  try {
    table = readProcNetDev(o.procNetDev ?? PROC_NET_DEV);
  } catch (err) {
    table = err instanceof Error ? err : new Error(String(err));
  }
  const time = now();
  const ringMissing = ifNameToIndex(o.ring) === undefined && !o.ethtool;
  const missing = `${o.ring}: no such device (is ringnet.ko loaded?)`;
  const interfaces = interfaceStats(devices, table).map((i) => (i.device === o.ring && ringMissing && i.error ? { ...i, error: missing } : i));
  const programs = pins.names.flatMap((name) => pinnedProgramStats(o.pinRoot, name));

  let ring;
  if (ringMissing) {
    ring = ringStats({
      device: o.ring,
      ethtool: new StatsSourceError(missing),
      peers: [],
      regions: [],
    });
  } else {
    let eth: EthtoolStats | Error;
    try {
      eth = (o.ethtool ?? readEthtoolStats)(o.ring);
    } catch (err) {
      if (!(err instanceof EthtoolError)) throw err;
      eth = err;
    }
    let peers;
    let conflicts: Conflict[] = [];
    try {
      const t = readPeerTable(o.ring, o.sysfsNet);
      errors.push(...t.problems.map((p) => `${o.ring}'s peer table: ${p}`));
      peers = t.peers;
    } catch (err) {
      peers = new StatsSourceError(message(err));
    }
    if (!(peers instanceof Error)) {
      try {
        conflicts = guestConflicts(peers, (o.localAddresses ?? localAddresses)());
      } catch (err) {
        errors.push(`${o.ring}'s peer table: conflicts not checked: this guest's addresses (${message(err)})`);
      }
    }
    ring = ringStats({
      device: o.ring,
      ethtool: eth instanceof Error ? eth : { driver: eth.driver.driver, stats: eth.stats },
      peers,
      regions: readRegions(o.ring, o.sysfsNet, errors),
      conflicts,
    });
  }
  return { timeUnixNano: time, hostname: hostname(), version: VERSION, interfaces, programs, ring, errors };
}
