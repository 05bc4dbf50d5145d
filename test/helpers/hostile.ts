// A hostile peer on the host (build/native/kvmring_hostile, test/hostile/) in a lab's
// region: the lab tests (test/lab/hostile.test.ts) and bench:hostile
// (scripts/bench/hostile.mjs, through dist/test/helpers/hostile.js) start it here.
import assert from 'node:assert/strict';
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

import { type Lab, REPO } from './lab.js';
import { cpuSeconds } from './process.js';

export const HOSTILE = join(REPO, 'build/native/kvmring_hostile');

/** The JSON line kvmring_hostile ends with. */
export interface Summary {
  scenario: string;
  slot: number;
  records: number;
  pads: number;
  received: number;
  victimFrames: number;
  generations: number;
  stomps: number;
  scribbled: number;
  doorbells: number;
}

export interface Hostile {
  /**
   * Resolves when it has claimed a slot (its number) or, for scribble, started;
   * rejects as `done` does if it ends before that.
   */
  started: Promise<number>;
  /** Resolves with its summary when it exits. */
  done: Promise<Summary>;
  /** Ends it early (SIGTERM): it leaves its slot and prints its summary. */
  stop(): void;
  /** What it said on stderr so far. */
  log(): string;
  /** The CPU time it has used so far, in seconds (NaN once it is gone). */
  cpuSeconds(): number;
}

export type HostileChild = ChildProcessByStdio<null, Readable, Readable>;

export interface HostileOptions {
  /**
   * Starts `cmd args` with stdout and stderr piped (the default spawns it as it is;
   * bench:hostile runs it in a CPU cgroup). The child must be cmd itself, or exec it.
   */
  spawn?: (cmd: string, args: string[]) => HostileChild;
}

/** Starts kvmring_hostile SCENARIO against the lab's region for `seconds`; `args` go before the scenario. */
export function hostile(lab: Lab, scenario: string, seconds: number, args: string[] = [], opts: HostileOptions = {}): Hostile {
  const start = opts.spawn ?? ((cmd: string, argv: string[]) => spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] }));
  const child = start(HOSTILE, ['--region', lab.regionPath, '--seconds', String(seconds), ...args, scenario]);
  let stdout = '';
  let stderr = '';
  let onSlot: (slot: number) => void = () => {};
  let onEarlyEnd: (err: unknown) => void = () => {};
  const started = new Promise<number>((resolve, reject) => {
    onSlot = resolve;
    onEarlyEnd = reject;
  });
  if (scenario === 'scribble') onSlot(-1);
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
    const m = /kvmring_hostile: slot (\d+),/.exec(stderr);
    if (m) onSlot(Number(m[1]));
  });
  const done = new Promise<Summary>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{')) {
        reject(new Error(`kvmring_hostile ${scenario} exited ${code}: ${stderr}${stdout}`));
      } else {
        resolve(JSON.parse(last) as Summary);
      }
    });
  });
  // A failed start must not leave `started` waiting for ever; a caller that awaits
  // only one of the two must not see the other one's rejection as unhandled.
  done.then(
    () => onEarlyEnd(new Error(`kvmring_hostile ${scenario} ended before it took a slot: ${stderr}`)),
    (err: unknown) => onEarlyEnd(err),
  );
  started.catch(() => undefined);
  done.catch(() => undefined);
  return {
    started,
    done,
    stop: () => child.kill('SIGTERM'),
    log: () => stderr,
    cpuSeconds: () => cpuSeconds(child.pid),
  };
}

/** Slot of guest n in the region, as g1 (or, for g1, g2) sees the peer table. */
export async function slotOf(lab: Lab, n: number): Promise<number> {
  const peers = await lab.ringPeers(n === 1 ? 'g2' : 'g1');
  const p = peers.find((e) => e.ipv4.split(',')[0] === `198.51.100.${n}` && e.state !== 'free');
  assert.ok(p, `g${n} is in no slot of the peer table: ${JSON.stringify(peers)}`);
  return p.slot;
}
