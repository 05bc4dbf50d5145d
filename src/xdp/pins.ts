// Where ringctl keeps its state: one directory per interface under
// /sys/fs/bpf/ringctl/ (or $RINGCTL_PIN_ROOT) holding the programs, maps and the
// XDP link, so the CLI can exit and come back.
import { existsSync, mkdirSync, readdirSync, rmdirSync, statfsSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { MAPS, OBJECTS } from './codecs.js';
import { RingctlError } from '../common/errors.js';

export const DEFAULT_PIN_ROOT = '/sys/fs/bpf/ringctl';
const BPF_FS_MAGIC = 0xcafe4a11;

export interface PinPaths {
  dir: string;
  xdpProg: string;
  xdpLink: string;
  tcProg: string;
  /** An empty directory: present when ringctl created eth1's clsact qdisc (and so removes it). */
  clsactOwned: string;
  maps: { [K in keyof typeof MAPS]: string };
}

export function pinRoot(env: Record<string, string | undefined> = process.env): string {
  return env.RINGCTL_PIN_ROOT || DEFAULT_PIN_ROOT;
}

export function pinPaths(root: string, ifname: string): PinPaths {
  const dir = join(root, ifname);
  const maps = Object.fromEntries(Object.entries(MAPS).map(([k, name]) => [k, join(dir, name)])) as PinPaths['maps'];
  return {
    dir,
    xdpProg: join(dir, OBJECTS.xdp.program),
    xdpLink: join(dir, 'xdp_link'),
    tcProg: join(dir, OBJECTS.tc.program),
    clsactOwned: join(dir, 'clsact_owned'),
    maps,
  };
}

/** Throws unless `root` is (or would be created) on a BPF filesystem. */
export function requireBpffs(root: string): void {
  let p = root;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  let type: number;
  try {
    type = statfsSync(p).type;
  } catch {
    type = 0;
  }
  if (type !== BPF_FS_MAGIC) {
    throw new RingctlError(`${p} is not on a BPF filesystem (bpffs); mount it with: mount -t bpf bpf /sys/fs/bpf`);
  }
}

/** The interfaces that have a pin directory, sorted. */
export function pinnedInterfaces(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

/** Removes an interface's pin directory and everything in it. */
export function removePins(paths: PinPaths): void {
  if (!existsSync(paths.dir)) return;
  for (const e of readdirSync(paths.dir, { withFileTypes: true })) {
    const p = join(paths.dir, e.name);
    if (e.isDirectory()) rmdirSync(p);
    else unlinkSync(p);
  }
  rmdirSync(paths.dir);
}

export function makePinDir(paths: PinPaths): void {
  mkdirSync(paths.dir, { recursive: true });
}
