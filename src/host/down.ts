// `ringctl host down`: stop the doorbell server, remove every roster and region
// file and the state. Safe to run twice and after a crash: each step does what is
// left to do, and files are found by the plan and by their names (files.ts), so a
// damaged state still leaves nothing behind in the directory it names, or in the
// default one.
import { existsSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { basename } from 'node:path';

import { RingctlError } from '../common/errors.js';
import { fsCall } from '../common/sys-error.js';
import { filePrefix, filesByName, setupFiles } from './files.js';
import { controlPath, destroyRegion, kvmringDir, openModule, stillInUse } from './kvmring.js';
import { stopDoorbellServer } from './process.js';
import { DEFAULT_REGION_DIR, hostPaths, readState, StateError, type HostState } from './state.js';

/** The server pid the server itself published, for when state.json has none. */
function publishedPid(file: string): number | undefined {
  try {
    const pid = (JSON.parse(readFileSync(file, 'utf8')) as { pid?: unknown }).pid;
    return Number.isSafeInteger(pid) && (pid as number) > 0 ? (pid as number) : undefined;
  } catch {
    return undefined;
  }
}

const isFile = (path: string) => {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

/**
 * Destroys kvmring.ko's regions of setup `name` (the plan's and any other
 * with its prefix), if the module is loaded; how many. A region still mapped
 * throws, naming who holds it (destroyRegion()).
 */
function destroyModuleRegions(moduleDir: string, name: string, planned: string[]): number {
  if (!existsSync(controlPath(moduleDir))) return 0;
  const mod = openModule(moduleDir);
  try {
    const regions = mod.status().regions;
    const there = regions.map((r) => r.name);
    const mine = [...new Set([...planned, ...there.filter((n) => n.startsWith(filePrefix(name)))])].filter((n) => there.includes(n));
    // All or nothing: a setup half torn down would leave its guests' QEMU
    // holding a region whose roster is gone. (A holder that arrives after this
    // look still gets EBUSY from destroyRegion().)
    const held = regions.filter((r) => mine.includes(r.name) && (r.openers || r.nrMappers));
    if (held.length) {
      throw new RingctlError(
        `${held.map((r) => stillInUse(moduleDir, r.name, r)).join('; ')}; stop its guests' QEMU first (nothing was destroyed)`,
      );
    }
    for (const n of mine) destroyRegion(mod, n, moduleDir);
    return mine.length;
  } finally {
    mod.close();
  }
}

export async function hostDown(runDir: string, name: string, env: Record<string, string | undefined> = process.env): Promise<string[]> {
  const paths = hostPaths(runDir, name);
  const moduleDir = kvmringDir(env);
  if (!existsSync(paths.dir)) {
    // No state at all: whatever carries the setup's name where `host up` puts it by default is a leftover.
    const left = filesByName(DEFAULT_REGION_DIR, name).filter(isFile);
    for (const path of left) fsCall(`unlink(${path})`, () => unlinkSync(path));
    const destroyed = destroyModuleRegions(moduleDir, name, []);
    const lines = [
      ...(left.length ? [`${name}: not up; removed ${left.length} file${left.length === 1 ? '' : 's'} left in ${DEFAULT_REGION_DIR}`] : []),
      ...(destroyed ? [`${name}: not up; destroyed ${destroyed} region${destroyed === 1 ? '' : 's'} left in kvmring.ko`] : []),
    ];
    return lines.length ? lines : [`${name}: not up; nothing to do`];
  }

  const lines: string[] = [];
  let state: HostState | undefined;
  try {
    state = readState(paths);
  } catch (err) {
    if (!(err instanceof StateError)) throw err;
    lines.push(`${name}: ${err.message.replace(/;.*$/, '')}: cleaning up what is left`);
  }

  const pids = new Set<number>();
  if (state?.doorbell?.pid) pids.add(state.doorbell.pid);
  const published = publishedPid(paths.doorbell);
  if (published) pids.add(published);
  for (const pid of pids) {
    const r = await stopDoorbellServer(pid, name);
    if (r === 'stopped') lines.push(`${name}: stopped the doorbell server (pid ${pid})`);
    else if (r === 'foreign') lines.push(`${name}: pid ${pid} is no longer our doorbell server; left it alone`);
  }

  // kvmring.ko's regions: a region still mapped stops here, the state kept for another try.
  const planned = state ? setupFiles(state.plan, state.dir).map((f) => basename(f.path)) : [];
  const destroyed = destroyModuleRegions(moduleDir, name, state?.provider === 'kvmring' ? planned : []);
  if (destroyed) lines.push(`${name}: destroyed ${destroyed} region${destroyed === 1 ? '' : 's'} of kvmring.ko`);

  // The plan's files, then whatever else carries the setup's name where they would be.
  const dir = state?.provider === 'kvmring' ? DEFAULT_REGION_DIR : (state?.dir ?? DEFAULT_REGION_DIR);
  const files = new Set([...(state && state.provider !== 'kvmring' ? setupFiles(state.plan, state.dir).map((f) => f.path) : []), ...filesByName(dir, name)]);
  let removed = 0;
  for (const path of files) {
    if (!isFile(path)) continue;
    fsCall(`unlink(${path})`, () => unlinkSync(path));
    removed++;
  }
  if (removed) lines.push(`${name}: removed ${removed} file${removed === 1 ? '' : 's'} from ${dir}`);

  fsCall(`rm(${paths.dir})`, () => rmSync(paths.dir, { recursive: true, force: true }));
  lines.push(`${name}: removed ${paths.dir}`);
  return lines;
}
