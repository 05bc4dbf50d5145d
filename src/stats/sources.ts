// The counter sources other than ring0's own: an interface's counters, the BPF
// programs' per-CPU stats maps, and ring0's region list (a test's text file). Each reader throws a
// StatsSourceError saying what is missing; collect.ts turns that into an entry's
// `error` and carries on.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { BpfMapFd, LibbpfError } from '../libbpf/index.js';
import { readerSlots } from '../ring/geometry.js';
import { readStats } from '../xdp/maps.js';
import { TC_STATS, XDP_STATS, type Stat } from '../xdp/codecs.js';
import { pinPaths } from '../xdp/pins.js';
import type { Hook, InterfaceStats, PacketCounter, ProgramStats, RingRegion } from '../gen/kvmring/v1/stats.js';

/** A counter source that could not be read: the message is the entry's `error`. */
export class StatsSourceError extends Error {
  override readonly name = 'StatsSourceError';
}

/**
 * Interface counters come from /proc/self/net/dev, which is
 * /sys/class/net/DEV/statistics in one file and, unlike /sys (whose view belongs
 * to the namespace that mounted it), follows the reader's network namespace.
 * Its columns: rx bytes packets errs drop fifo frame compressed multicast, tx
 * bytes packets errs drop fifo colls carrier compressed.
 */
export const PROC_NET_DEV = '/proc/self/net/dev';

type InterfaceCounters = Omit<InterfaceStats, 'device' | 'error'>;

/** Parses /proc/net/dev: device -> counters. Lines it cannot read are left out. */
export function parseProcNetDev(text: string): Map<string, InterfaceCounters> {
  const out = new Map<string, InterfaceCounters>();
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^\s:]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const f = m[2].trim().split(/\s+/);
    if (f.length < 16 || !f.every((v) => /^\d+$/.test(v))) continue;
    const n = f.map((v) => BigInt(v));
    out.set(m[1], {
      rxBytes: n[0],
      rxPackets: n[1],
      rxErrors: n[2],
      rxDropped: n[3],
      txBytes: n[8],
      txPackets: n[9],
      txErrors: n[10],
      txDropped: n[11],
    });
  }
  return out;
}

export function readProcNetDev(path = PROC_NET_DEV): Map<string, InterfaceCounters> {
  try {
    return parseProcNetDev(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new StatsSourceError(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

export function emptyInterface(device: string): InterfaceStats {
  return {
    device,
    rxPackets: 0n,
    rxBytes: 0n,
    rxDropped: 0n,
    rxErrors: 0n,
    txPackets: 0n,
    txBytes: 0n,
    txDropped: 0n,
    txErrors: 0n,
    error: '',
  };
}

/** The entries for `devices`, from a /proc/net/dev read (or the error reading it). */
export function interfaceStats(devices: readonly string[], table: Map<string, InterfaceCounters> | Error): InterfaceStats[] {
  return devices.map((device) => {
    const s = emptyInterface(device);
    if (table instanceof Error) return { ...s, error: table.message };
    const c = table.get(device);
    if (!c) return { ...s, error: `${device}: no such device` };
    return { ...s, ...c };
  });
}

/** Where each slot of a stats map counts: the first `verdicts` slots are the program's actions. */
interface ProgramKind {
  hook: Hook;
  program: string;
  names: readonly string[];
  verdicts: number;
}

/**
 * bpf/ring_maps.h: the first five XDP stats are the XDP action codes (aborted,
 * drop, pass, tx, redirect), the first three TC stats the TC verdicts (ok,
 * shot, redirect); the rest are reasons.
 */
export const PROGRAM_KINDS = {
  xdp: { hook: 'HOOK_XDP', program: 'xdp_ring', names: XDP_STATS, verdicts: 5 },
  tc: { hook: 'HOOK_TC_EGRESS', program: 'tc_transparent', names: TC_STATS, verdicts: 3 },
} as const satisfies Record<string, ProgramKind>;

/** A per-CPU stats map's counters (summed over CPUs) as verdicts and reasons. */
export function programStats(device: string, kind: ProgramKind, counters: Record<string, Stat | undefined> | Error): ProgramStats {
  const base: ProgramStats = { device, hook: kind.hook, program: kind.program, verdicts: [], reasons: [], error: '' };
  if (counters instanceof Error) return { ...base, error: counters.message };
  const list: PacketCounter[] = kind.names.map((name) => ({
    name,
    packets: counters[name]?.packets ?? 0n,
    bytes: counters[name]?.bytes ?? 0n,
  }));
  return { ...base, verdicts: list.slice(0, kind.verdicts), reasons: list.slice(kind.verdicts) };
}

function readPinnedStats(path: string, names: readonly string[], what: string): Record<string, Stat> | Error {
  let map: BpfMapFd;
  try {
    map = BpfMapFd.openPinned(path);
  } catch (err) {
    if (err instanceof LibbpfError) {
      const why = err.code === 'ENOENT' ? 'it was detached meanwhile' : err.code === 'EPERM' || err.code === 'EACCES' ? 'reading it needs root' : err.code;
      return new StatsSourceError(`${what}: cannot open ${path} (${why})`);
    }
    throw err;
  }
  try {
    return readStats(map, names);
  } catch (err) {
    if (err instanceof LibbpfError) return new StatsSourceError(`${what}: cannot read ${path} (${err.code})`);
    throw err;
  } finally {
    map.close();
  }
}

/** The stats of the programs ringctl pinned for `ifname`: xdp_ring, and tc_transparent if there. */
export function pinnedProgramStats(pinRoot: string, ifname: string): ProgramStats[] {
  const paths = pinPaths(pinRoot, ifname);
  const out: ProgramStats[] = [];
  const xdp = PROGRAM_KINDS.xdp;
  out.push(programStats(ifname, xdp, readPinnedStats(paths.maps.xdpStats, xdp.names, `${ifname}: ${xdp.program}`)));
  if (existsSync(paths.maps.tcStats)) {
    const tc = PROGRAM_KINDS.tc;
    out.push(programStats(ifname, tc, readPinnedStats(paths.maps.tcStats, tc.names, `${ifname}: ${tc.program}`)));
  }
  return out;
}

/** A region as ringnet's region-get dump gives it: the proto's RingRegion. */
export type RegionInfo = RingRegion;

/** The columns of ringnet's debugfs view of the regions, which the text files of tests copy. */
const REGION_COLUMNS = 'region pci size max_peers ring_size self mode owner readers';

/** The slots of a readers mask as debugfs prints it ("0x6", or "0"). */
function readersOf(text: string): number[] | undefined {
  return /^(0|0x[0-9a-f]{1,8})$/.test(text) ? readerSlots(Number(text)) : undefined;
}

/** Parses a text file of the regions (tests); lines it cannot read are named in `problems`. */
export function parseRegions(text: string): { regions: RegionInfo[]; problems: string[] } {
  const lines = text.split('\n');
  if (lines[0].trim().split(/\s+/).join(' ') !== REGION_COLUMNS) {
    return { regions: [], problems: [`ringnet/regions: unknown format (header ${JSON.stringify(lines[0].slice(0, 80))}, expected "${REGION_COLUMNS}")`] };
  }
  const regions: RegionInfo[] = [];
  const problems: string[] = [];
  lines.slice(1).forEach((line, i) => {
    if (!line) return;
    const f = line.split(' ');
    const num = (s: string) => /^\d{1,20}$/.test(s);
    if (f.length !== 9) {
      problems.push(`ringnet/regions line ${i + 2}: cannot parse ${JSON.stringify(line.slice(0, 80))}`);
      return;
    }
    const [region, pci, size, maxPeers, ringSize, self, mode, owner, readersS] = f;
    const readers = readersOf(readersS);
    if (![region, size, maxPeers, ringSize, self, owner].every(num) || !readers) {
      problems.push(`ringnet/regions line ${i + 2}: cannot parse ${JSON.stringify(line.slice(0, 80))}`);
      return;
    }
    regions.push({
      region: Number(region),
      pci,
      sizeBytes: BigInt(size),
      maxPeers: Number(maxPeers),
      ringSizeBytes: Number(ringSize),
      selfSlot: Number(self),
      mode,
      owner: Number(owner),
      readers,
    });
  });
  return { regions, problems };
}

export function regionsPath(ring: string, sysfsNet: string): string {
  return join(sysfsNet, ring, 'ringnet', 'regions');
}
