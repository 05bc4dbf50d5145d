// Who provides a setup's rosters and regions: kvmring.ko (each a node under
// /dev/kvmring, memory the module allocated and formatted) or files in /dev/shm
// or hugetlbfs (--dir) that ringctl makes and formats itself. Both format with
// the same C (kmod/kvmring_format.c); `auto` takes the module when it is loaded.
// (parseProvider() is in args.ts: `host up --help` must not load koffi.)
import { existsSync, rmSync, unlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { UsageError } from 'clipanion';

import { fsCall } from '../common/sys-error.js';
import type { Provider, ProviderChoice } from './args.js';
import { createFile, formatRegionFile, writeRosterFile, type SetupFile } from './files.js';
import type { HostPlan, PlanRegion } from './isolation.js';
import { controlPath, destroyRegion, type ModuleControl } from './kvmring.js';

/**
 * The provider for `choice`: `auto` is kvmring when the module's control node
 * (`moduleDir`/control) exists, else shm. kvmring with --dir is a usage error
 * (the module's regions are where the module puts them), as is kvmring asked
 * for without the module.
 */
export function chooseProvider(choice: ProviderChoice, moduleDir: string, dirGiven: boolean, exists: (p: string) => boolean = existsSync): Provider {
  const loaded = exists(controlPath(moduleDir));
  if (choice === 'kvmring' && !loaded) throw new UsageError(`--provider kvmring: ${controlPath(moduleDir)} does not exist; load the module (insmod kmod/kvmring.ko) or use --provider shm`);
  if (choice === 'kvmring' && dirGiven) throw new UsageError(`--dir is for --provider shm: kvmring.ko's regions are under ${moduleDir}`);
  if (choice === 'auto') return loaded && !dirGiven ? 'kvmring' : 'shm';
  return choice;
}

/** What `host up`, `host down` and the doorbell server do with a setup's files, whoever provides them. */
export interface RegionStore {
  readonly provider: Provider;
  /** Makes roster file `f` and writes `roster` into it (magic last). */
  createRoster(f: SetupFile, roster: Buffer): void;
  /** Makes region file `f`, all zero but its header (magic last). */
  createRegion(f: SetupFile, region: PlanRegion, plan: HostPlan): void;
  /** Rewrites a live roster (under an odd seq). */
  rewriteRoster(path: string, roster: Buffer): void;
  /** Removes a file of the setup; false if it was not there. */
  remove(path: string): boolean;
  close(): void;
}

/** Runs `fill` on what `make` made; if it fails, `undo` removes it, so a failed create leaves nothing. */
function whole(make: () => void, fill: () => void, undo: () => void): void {
  make();
  try {
    fill();
  } catch (err) {
    undo();
    throw err;
  }
}

/** Files in a tmpfs or hugetlbfs directory, made by ringctl (files.ts). */
export function shmStore(full: string): RegionStore {
  const unlink = (path: string) => () => rmSync(path, { force: true });
  return {
    provider: 'shm',
    createRoster(f, roster) {
      whole(() => createFile(f, full), () => writeRosterFile(f.path, roster), unlink(f.path));
    },
    createRegion(f, region, plan) {
      whole(() => createFile(f, full), () => formatRegionFile(f.path, region, plan), unlink(f.path));
    },
    rewriteRoster: writeRosterFile,
    remove(path) {
      if (!existsSync(path)) return false;
      fsCall(`unlink(${path})`, () => unlinkSync(path));
      return true;
    },
    close() {},
  };
}

/** Regions of kvmring.ko in `dir` (its nodes): each file is the node of a region the module made. `node`: the NUMA node, -1 for any. */
export function moduleStore(mod: ModuleControl, dir: string, node = -1): RegionStore {
  return {
    provider: 'kvmring',
    createRoster(f, roster) {
      const name = basename(f.path);
      whole(() => mod.create({ name, size: f.size, node, kind: 'roster' }), () => mod.setRoster(name, roster), () => destroyRegion(mod, name, dir));
    },
    createRegion(f, region, plan) {
      mod.create({
        name: basename(f.path),
        size: f.size,
        node,
        kind: 'owned',
        instance: BigInt(`0x${region.instance}`),
        owner: region.owner,
        readers: region.readers,
        ringSize: plan.ringSize,
        queues: plan.queues,
      });
    },
    rewriteRoster(path, roster) {
      mod.setRoster(basename(path), roster);
    },
    remove(path) {
      const name = basename(path);
      if (!mod.status().regions.some((r) => r.name === name)) return false;
      destroyRegion(mod, name, dir);
      return true;
    },
    close() {
      mod.close();
    },
  };
}
