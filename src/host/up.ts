// `ringctl host up`: plan the setup (isolation.ts), create every guest's roster
// and every owned region (through kvmring.ko, or as files in --dir: provider.ts),
// format the regions (magic last) and write the rosters, record the state and,
// in doorbell mode, start the doorbell server, which writes each guest's
// doorbell id into the rosters as guests connect.
// All or nothing: a failure removes whatever this run created.
import { mkdirSync, rmSync, statfsSync, statSync } from 'node:fs';
import { UsageError } from 'clipanion';

import { RingctlError } from '../common/errors.js';
import { fsCall, SysError } from '../common/sys-error.js';
import { formatSize, type ProviderChoice } from './args.js';
import { setupFiles, type SetupFile } from './files.js';
import { planGroups, planHost, type HostPlan, type HostSpec } from './isolation.js';
import { kvmringDir, openModule } from './kvmring.js';
import { startDoorbellServer, stopDoorbellServer } from './process.js';
import { chooseProvider, moduleStore, shmStore, type RegionStore } from './provider.js';
import { rosterBytes } from './roster.js';
import { guestSocket, hostPaths, readState, writeState, type HostState } from './state.js';

export const TMPFS_MAGIC = 0x01021994;
export const HUGETLBFS_MAGIC = 0x958458f6;

export interface UpOptions {
  runDir: string;
  /** Where the files go: tmpfs or hugetlbfs (provider shm). */
  dir: string;
  /** Whether --dir was given (auto then means shm); default true. */
  dirGiven?: boolean;
  /** Who makes the rosters and regions (provider.ts); default shm. */
  provider?: ProviderChoice;
  /** With kvmring.ko: the NUMA node of every region, -1 (default) for any. */
  numaNode?: number;
  spec: HostSpec;
  env: Record<string, string | undefined>;
  /** Instances for the plan (tests); random by default. */
  random?: () => bigint;
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

/** One line per guest for `host up`: its slot, MAC, prefixes and regions. */
function guestLine(plan: HostPlan, slot: number): string {
  const g = plan.guests[slot];
  const regions = g.devices.flatMap((d) => (d.kind === 'region' ? [`${plan.regions[d.region].file}${d.readonly ? '' : ' (rw)'}`] : []));
  return (
    `${plan.name}: ${g.name} (slot ${slot}): mac ${g.mac}, ${g.addrs.length ? `addr ${g.addrs.join(' ')}` : 'no addr= prefixes'}, ` +
    (regions.length ? `regions ${regions.join(', ')}` : 'no regions (in no group with another guest)')
  );
}

export async function hostUp(o: UpOptions): Promise<UpResult> {
  const moduleDir = kvmringDir(o.env);
  const provider = chooseProvider(o.provider ?? 'shm', moduleDir, o.dirGiven ?? true);
  if (o.numaNode !== undefined && provider !== 'kvmring') throw new UsageError('--numa-node is for --provider kvmring (files in /dev/shm go where the kernel puts them), and kvmring.ko is not loaded');
  const dir = provider === 'kvmring' ? moduleDir : o.dir;
  const where: ReturnType<typeof regionDirInfo> = provider === 'kvmring' ? { kind: 'other' } : regionDirInfo(dir);
  const plan = planHost({ ...o.spec, ...(where.hugePageSize ? { pageSize: where.hugePageSize } : {}) }, o.random);
  const name = plan.name;
  const paths = hostPaths(o.runDir, name);

  fsCall(`mkdir(${o.runDir})`, () => mkdirSync(o.runDir, { recursive: true, mode: 0o700 }));
  try {
    mkdirSync(paths.dir, { mode: 0o700 }); // the lock: exactly one `host up` gets here
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw SysError.fromNode(`mkdir(${paths.dir})`, err);
    let at = '';
    try {
      const s = readState(paths);
      if (s) at = ` (files in ${s.dir}${s.phase === 'creating' ? ', left half-made by a run that did not finish' : ''})`;
    } catch {
      at = ' (its state is damaged)';
    }
    throw new RingctlError(`kvmring ${name} is already up${at}; run \`ringctl host down --name ${name}\` first`);
  }

  const state: HostState = {
    version: 2,
    name,
    phase: 'creating',
    provider,
    dir,
    ...(where.hugePageSize ? { hugePageSize: where.hugePageSize } : {}),
    createdAt: new Date().toISOString(),
    plan,
  };
  const files = setupFiles(plan, dir, where.hugePageSize);
  const created: SetupFile[] = [];
  let pid: number | undefined;
  let store: RegionStore | undefined;
  try {
    // Recorded before any file exists, so that `host down` finds whatever a crash leaves.
    writeState(paths, state);

    const need = files.reduce((sum, f) => sum + f.used, 0);
    const full = where.hugePageSize
      ? `${dir} has too few free ${formatSize(where.hugePageSize)} huge pages for ${formatSize(need)} (see /sys/kernel/mm/hugepages/)`
      : `${dir} has no room for the ${formatSize(need)} the setup uses`;
    store = provider === 'kvmring' ? moduleStore(openModule(moduleDir), moduleDir, o.numaNode ?? -1) : shmStore(full);
    for (const f of files) {
      if (f.kind === 'region') store.createRegion(f, plan.regions[f.index], plan);
      else store.createRoster(f, rosterBytes(plan, f.index));
      created.push(f);
    }

    if (plan.mode === 'doorbell') {
      state.doorbell = {
        log: paths.log,
        guests: plan.guests.map((g) => ({ name: g.name, socket: guestSocket(paths, g.name) })),
        groups: planGroups(plan),
      };
      writeState(paths, state);
      pid = await startDoorbellServer(name, paths.log, o.env);
      state.doorbell.pid = pid;
    }
    state.phase = 'up';
    writeState(paths, state);
  } catch (err) {
    if (pid !== undefined) await stopDoorbellServer(pid, name);
    for (const f of created) {
      try {
        store?.remove(f.path);
      } catch {
        /* gone already */
      }
    }
    rmSync(paths.dir, { recursive: true, force: true });
    throw err;
  } finally {
    store?.close();
  }

  const sizes = (kind: SetupFile['kind']) => {
    const of = files.filter((f) => f.kind === kind);
    const distinct = [...new Set(of.map((f) => formatSize(f.size)))];
    return `${of.length} ${kind === 'roster' ? 'roster' : 'region'}${of.length === 1 ? '' : 's'}${of.length ? ` of ${distinct.join('/')}` : ''}`;
  };
  const ref = name === 'kvmring' ? '' : ` --name ${name}`;
  const lines = [
    `${name}: ${plan.guests.length} guests, isolation ${plan.isolation}, ${plan.queues} queue pair(s) of ${formatSize(plan.ringSize)} rings per pair, instance ${plan.instance}`,
    `${name}: ${sizes('roster')} and ${sizes('region')} in ${dir}${provider === 'kvmring' ? ' (kvmring.ko)' : where.kind === 'other' ? ' (not on tmpfs or hugetlbfs)' : ` (${where.kind})`}`,
    ...plan.guests.map((g) => guestLine(plan, g.slot)),
    plan.mode === 'doorbell'
      ? `${name}: doorbell mode: server pid ${pid}, a socket per guest in ${paths.dir}, ${plan.vectors} vector(s) per guest (log ${paths.log})`
      : `${name}: plain mode (guests poll; no doorbell server)`,
    `${name}: QEMU options for a guest: ringctl host qemu-args GUEST${ref} (libvirt: ringctl host libvirt-xml GUEST${ref})`,
  ];
  return { state, lines };
}
