// `ringctl host up`: create the region file, format it with the ring core, record
// the state and, in doorbell mode, start the doorbell server. All or nothing: a
// failure removes whatever this run created.
import { closeSync, mkdirSync, openSync, rmSync, statfsSync, statSync, unlinkSync } from 'node:fs';

import { CONSTANTS as C } from '../ring/layout.js';
import { RingctlError } from '../common/errors.js';
import { checkHugePages, formatSize } from './args.js';
import { fsCall, SysError } from '../common/sys-error.js';
import { fallocate } from '../common/libc.js';
import { Mapping } from './mapping.js';
import { startDoorbellServer, stopDoorbellServer } from './process.js';
import { regionFormat, regionGeom } from './ring-core.js';
import { formatInstance, hostPaths, randomInstance, readState, regionPath, writeState, type HostState } from './state.js';

export const TMPFS_MAGIC = 0x01021994;
export const HUGETLBFS_MAGIC = 0x958458f6;

export interface UpOptions {
  name: string;
  runDir: string;
  dir: string;
  size: number;
  guests: number;
  doorbell: boolean;
  vectors: number;
  env: Record<string, string | undefined>;
}

export interface UpResult {
  state: HostState;
  lines: string[];
}

/** What backs `dir`: its filesystem type and, on hugetlbfs, the huge page size. */
export function regionDirInfo(dir: string): { kind: 'tmpfs' | 'hugetlbfs' | 'other'; hugePageSize?: number } {
  const st = fsCall(`stat(${dir})`, () => statSync(dir), '--dir must be an existing directory');
  if (!st.isDirectory()) throw new RingctlError(`${dir} is not a directory (--dir)`);
  const fs = fsCall(`statfs(${dir})`, () => statfsSync(dir));
  const type = fs.type >>> 0;
  if (type === HUGETLBFS_MAGIC) return { kind: 'hugetlbfs', hugePageSize: fs.bsize };
  return { kind: type === TMPFS_MAGIC ? 'tmpfs' : 'other' };
}

export async function hostUp(o: UpOptions): Promise<UpResult> {
  const paths = hostPaths(o.runDir, o.name);
  const path = regionPath(o.dir, o.name);
  const where = regionDirInfo(o.dir);
  if (where.hugePageSize) checkHugePages(o.size, where.hugePageSize, o.dir);

  fsCall(`mkdir(${o.runDir})`, () => mkdirSync(o.runDir, { recursive: true, mode: 0o700 }));
  try {
    mkdirSync(paths.dir, { mode: 0o700 }); // the lock: exactly one `host up` gets here
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw SysError.fromNode(`mkdir(${paths.dir})`, err);
    let at = '';
    try {
      const s = readState(paths);
      if (s) at = ` (region ${s.path}${s.phase === 'creating' ? ', left half-made by a run that did not finish' : ''})`;
    } catch {
      at = ' (its state is damaged)';
    }
    throw new RingctlError(`kvmring ${o.name} is already up${at}; run \`ringctl host down --name ${o.name}\` first`);
  }

  const instance = randomInstance();
  const state: HostState = {
    version: 1,
    name: o.name,
    phase: 'creating',
    path,
    size: o.size,
    maxPeers: o.guests,
    ringSize: 0,
    mode: o.doorbell ? 'doorbell' : 'plain',
    vectors: o.vectors,
    instance: formatInstance(instance),
    ...(where.hugePageSize ? { hugePageSize: where.hugePageSize } : {}),
    createdAt: new Date().toISOString(),
    ...(o.doorbell ? { doorbell: { socket: paths.socket, log: paths.log } } : {}),
  };
  let created = false;
  let pid: number | undefined;
  try {
    // Recorded before the file exists, so that `host down` finds whatever a crash leaves.
    writeState(paths, state);

    const fd = (() => {
      try {
        return openSync(path, 'wx+', 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new RingctlError(`${path} exists but no kvmring state names it; remove it or choose another --name`);
        }
        throw SysError.fromNode(`create(${path})`, err);
      }
    })();
    created = true;
    try {
      fallocate(
        fd,
        o.size,
        path,
        where.hugePageSize
          ? `${o.dir} has fewer than ${o.size / where.hugePageSize} free ${formatSize(where.hugePageSize)} huge pages (see /sys/kernel/mm/hugepages/)`
          : `${o.dir} has no room for ${formatSize(o.size)}`,
      );
    } finally {
      closeSync(fd);
    }

    const m = Mapping.open(path, { writable: true });
    try {
      regionFormat(m, { maxPeers: o.guests, flags: o.doorbell ? C.KVMRING_REGION_F_DOORBELL : 0, instance });
      state.ringSize = regionGeom(m).ringSize; // what the guests' ring core will accept
    } finally {
      m.close();
    }
    writeState(paths, state);

    if (o.doorbell) {
      pid = await startDoorbellServer(o.name, paths.log, o.env);
      state.doorbell = { socket: paths.socket, log: paths.log, pid };
    }
    state.phase = 'up';
    writeState(paths, state);
  } catch (err) {
    if (pid !== undefined) await stopDoorbellServer(pid, o.name);
    if (created) {
      try {
        unlinkSync(path);
      } catch {
        /* gone already */
      }
    }
    rmSync(paths.dir, { recursive: true, force: true });
    throw err;
  }

  const rings = o.guests * (o.guests - 1);
  const lines = [
    `${o.name}: region ${path} (${formatSize(o.size)}${where.kind === 'other' ? ', not on tmpfs or hugetlbfs' : `, ${where.kind}`})`,
    `${o.name}: ${o.guests} guest slots, ${rings} rings of ${formatSize(state.ringSize)}, instance ${state.instance}`,
    o.doorbell
      ? `${o.name}: doorbell mode: server pid ${pid} on ${paths.socket}, ${o.vectors} vector(s) per guest (log ${paths.log})`
      : `${o.name}: plain mode (guests poll; no doorbell server)`,
    `${o.name}: QEMU options for guest N: ringctl host qemu-args gN${o.name === 'kvmring' ? '' : ` --name ${o.name}`}`,
  ];
  return { state, lines };
}
