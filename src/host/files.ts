// The files of a v2 setup on the host: every guest's roster and every owned
// region, all in one directory (--dir), named after the setup and the guests
// (isolation.ts: kvmring-SETUP+GUEST.roster, kvmring-SETUP+OWNER[...].owned).
// '+' is in no name, so the prefix kvmring-SETUP+ is this setup's alone and
// `host down` can find what a crash left even without a state.
import { closeSync, ftruncateSync, openSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { RingctlError } from '../common/errors.js';
import { fallocate } from '../common/libc.js';
import { fsCall, SysError } from '../common/sys-error.js';
import { ownedUsed } from '../ring/geometry.js';
import { CONSTANTS as C, LAYOUT } from '../ring/layout.js';
import { formatSize } from './args.js';
import type { HostPlan, PlanRegion } from './isolation.js';
import { Mapping } from './mapping.js';
import { rosterBytes, writeOwnedHeader, writeRoster } from './roster.js';

/** One file of a plan. */
export interface SetupFile {
  kind: 'roster' | 'region';
  path: string;
  /** Bytes of the file: the BAR's size. */
  size: number;
  /** Bytes from the start that guests use, allocated at creation; the rest stays a hole. */
  used: number;
  /** The guest's slot (roster) or the region's index (region). */
  index: number;
}

const roundUp = (n: number, page: number) => Math.ceil(n / page) * page;

/** Every file of `plan` in `dir`: the rosters by slot, then the regions in plan order. `page`: hugetlbfs's huge page. */
export function setupFiles(plan: HostPlan, dir: string, page: number = C.KVMRING_PAGE): SetupFile[] {
  const rosters = plan.guests.map((g): SetupFile => {
    const dev = g.devices.find((d) => d.kind === 'roster');
    const size = dev?.kind === 'roster' ? dev.size : C.KVMRING_ROSTER_SIZE;
    return { kind: 'roster', path: join(dir, g.roster), size, used: Math.min(size, roundUp(C.KVMRING_ROSTER_SIZE, page)), index: g.slot };
  });
  const regions = plan.regions.map(
    (r, i): SetupFile => ({
      kind: 'region',
      path: join(dir, r.file),
      size: r.size,
      used: Math.min(r.size, roundUp(ownedUsed(r.readers, plan.ringSize, plan.queues), page)),
      index: i,
    }),
  );
  return [...rosters, ...regions];
}

/** The prefix of every file of setup `name`. */
export const filePrefix = (name: string) => `kvmring-${name}+`;

/** Paths of the files in `dir` that are setup `name`'s by their names (rosters and regions), whatever a state says. */
export function filesByName(dir: string, name: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((f) => f.startsWith(filePrefix(name)) && /\.(roster|owned)$/.test(f)).map((f) => join(dir, f));
}

/**
 * Creates `f` (0600, never over an existing file), `f.size` bytes long, and
 * allocates its first `f.used` bytes, so that a full tmpfs or too few huge
 * pages fail here, not later in a guest. `full` says what to do then. A file
 * it could not make whole it removes.
 */
export function createFile(f: SetupFile, full: string): void {
  let fd: number;
  try {
    fd = openSync(f.path, 'wx+', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new RingctlError(`${f.path} exists but no kvmring state names it; remove it or choose another --name`);
    }
    throw SysError.fromNode(`create(${f.path})`, err);
  }
  try {
    fsCall(`ftruncate(${f.path}, ${formatSize(f.size)})`, () => ftruncateSync(fd, f.size));
    fallocate(fd, f.used, f.path, full);
  } catch (err) {
    rmSync(f.path, { force: true }); // ours: made above
    throw err;
  } finally {
    closeSync(fd);
  }
}

/**
 * Formats a new (all zero) region file: the header of struct kvmring_owned_hdr,
 * its magic last (writeOwnedHeader()), through a mapping, as hugetlbfs takes no
 * write(). Every ring is empty at epoch 0 and the owner's entry FREE, as zeros
 * say; nothing past the header's page is touched.
 */
export function formatRegionFile(path: string, region: PlanRegion, geometry: Pick<HostPlan, 'ringSize' | 'queues'>): void {
  const m = Mapping.open(path, { writable: true, length: LAYOUT.kvmring_owned_hdr.size });
  try {
    m.use((mem) => writeOwnedHeader(mem, region, geometry));
  } finally {
    m.close();
  }
}

/** Writes `roster` (rosterBytes()) into the file at `path` through a mapping, as writeRoster() does: magic last, or under an odd seq. */
export function writeRosterFile(path: string, roster: Buffer): void {
  const m = Mapping.open(path, { writable: true, length: C.KVMRING_ROSTER_SIZE });
  try {
    m.use((mem) => writeRoster(mem, roster));
  } finally {
    m.close();
  }
}

/**
 * Writes the doorbell ids the server handed out into the rosters, for the
 * doorbell server's onIds(): the first call writes whatever differs from the
 * plan, each later one what changed since. A guest's id goes into every
 * roster that lists it (its own and its peers'); undefined is
 * KVMRING_DOORBELL_NONE (not connected). `write` rewrites one roster (through
 * a mapping of the file, or kvmring.ko's ioctl). Returns the guests whose
 * rosters it rewrote.
 */
export function rosterIdWriter(plan: HostPlan, dir: string, write: (path: string, roster: Buffer) => void = writeRosterFile): (ids: Map<string, number | undefined>) => string[] {
  const current: HostPlan = { ...plan, guests: plan.guests.map((g) => ({ ...g })) };
  return (ids) => {
    const changed = new Set<number>();
    for (const g of current.guests) {
      const id = ids.get(g.name) ?? C.KVMRING_DOORBELL_NONE;
      if (id === g.doorbellId) continue;
      g.doorbellId = id;
      changed.add(g.slot);
    }
    const rewritten = current.guests.filter((g) => g.peers.some((s) => changed.has(s)));
    for (const g of rewritten) write(join(dir, g.roster), rosterBytes(current, g.slot));
    return rewritten.map((g) => g.name);
  };
}
