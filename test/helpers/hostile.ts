// The hostile peer (build/native/kvmring_hostile, test/hostile/) in a lab guest of its
// own under ABI v2, and what the host sees of it: the lab tests
// (test/lab/hostile.test.ts), the tool's own host test (test/host/hostile.test.ts) and
// bench:hostile (scripts/bench/hostile.mjs, through dist/test/helpers/hostile.js)
// start it and read its summary here.
//
// The hostile guest is a lab guest without ringnet: the lab comes up with --no-ring
// and ring-up.sh runs in the honest guests only, so nothing binds the hostile guest's
// ivshmem devices (the tool also sets their driver_override so that nothing will).
import assert from 'node:assert/strict';
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

import { parseRoster, type Roster } from '../../src/host/roster.js';
import { type Lab, REPO, labUp } from './lab.js';
import { SLOWDOWN, eventually } from './time.js';

export const HOSTILE = join(REPO, 'build/native/kvmring_hostile');
const LAB_SCRIPT = join(REPO, 'scripts/lab.mjs');
const RING_UP = join(REPO, 'scripts/guest/ring-up.sh');

/** The guest the hostile peer runs in; the honest ones are the others. */
export const HOSTILE_GUEST = 'g3';
export const HONEST_GUESTS = ['g1', 'g2'];

/** What raw writes did, in 64-bit words: "stuck" read back as written, "faults" a PROT_READ mapping refused. */
export interface Writes {
  words: number;
  stuck: number;
  faults: number;
  /** The last word written (hex), unless every write faulted: what was there, what was written, what read back. */
  last?: { before: string; wrote: string; after: string };
}

/** A PCI function the tool mapped, and what it wrote there. */
export interface BarReport extends Writes {
  devfn: string;
  kind: 'roster' | 'region' | 'doorbell';
  /** Regions: the index in the roster's table, the owner slot and the readers mask. */
  region?: number;
  owner?: number;
  readers?: number;
  /** A region the tool owns. */
  mine: boolean;
  /** Mapped PROT_WRITE (a BAR always is; a host test's read-only stand-in is not). */
  writable: boolean;
  size: number;
}

/** A place stomp wrote every beat. */
export interface TargetReport extends Writes {
  devfn: string;
  offset: number;
  name: string;
}

/** The JSON line kvmring_hostile ends with. */
export interface Summary {
  scenario: string;
  slot: number;
  name: string;
  victim: number;
  isolation: 'owner' | 'pair';
  doorbell: boolean;
  queues: number;
  generation: number;
  beats: number;
  records: number;
  pads: number;
  full: number;
  received: number;
  victimFrames: number;
  generations: number;
  stomps: number;
  scribbled: number;
  doorbells: number;
  /** The roster held the bytes it held at the start, and still validates. */
  rosterIntact: boolean;
  bars: BarReport[];
  targets: TargetReport[];
}

/** The summary on the last line of the tool's stdout. */
export function parseSummary(stdout: string): Summary {
  const last = stdout.trim().split('\n').pop() ?? '';
  assert.ok(last.startsWith('{'), `kvmring_hostile printed no summary:\n${stdout}`);
  return JSON.parse(last) as Summary;
}

/**
 * Where writes into memory the tool does not own read back as written: each BAR and
 * stomp place other than the tool's own regions with stuck words, as a sentence.
 * Empty when the hypervisor (or the mapping) kept every one of them out.
 */
export function foreignWritesThatStuck(s: Summary): string[] {
  const bad: string[] = [];
  for (const b of s.bars) {
    if (!b.mine && b.kind !== 'doorbell' && b.stuck) bad.push(`${b.kind} ${b.devfn}${b.kind === 'region' ? ` (slot ${b.owner}'s)` : ''}: ${b.stuck} of ${b.words} words read back as written`);
  }
  for (const t of s.targets) if (t.stuck) bad.push(`${t.name} at ${t.devfn}+${t.offset}: ${t.stuck} of ${t.words} words read back as written`);
  return bad;
}

export interface Hostile {
  /** Resolves with its slot once it plays; rejects as `done` does if it ends before that. */
  started: Promise<number>;
  /** Resolves with its summary when it exits. */
  done: Promise<Summary>;
  /** Ends it early (SIGTERM through `lab exec`): it leaves and prints its summary. */
  stop(): void;
  /** What it said on stderr so far. */
  log(): string;
}

export type HostileChild = ChildProcessByStdio<null, Readable, Readable>;

/**
 * Starts kvmring_hostile SCENARIO in the lab's hostile guest for `seconds`, through
 * `lab exec` (its stderr streams back; SIGTERM to it reaches the tool); `args` go
 * before the scenario.
 */
export function hostile(lab: Lab, scenario: string, seconds: number, args: string[] = [], guest = HOSTILE_GUEST): Hostile {
  const child: HostileChild = spawn(
    process.execPath,
    [LAB_SCRIPT, 'exec', '--timeout', String(Math.ceil(seconds) + 120), guest, '--', HOSTILE, '--seconds', String(seconds), ...args, scenario],
    { cwd: REPO, env: { ...process.env, KVMRING_LAB: lab.name }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  let onSlot: (slot: number) => void = () => {};
  let onEarlyEnd: (err: unknown) => void = () => {};
  const started = new Promise<number>((resolve, reject) => {
    onSlot = resolve;
    onEarlyEnd = reject;
  });
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
    const m = /kvmring_hostile: playing \S+ as slot (\d+)/.exec(stderr);
    if (m) onSlot(Number(m[1]));
  });
  const done = new Promise<Summary>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{')) reject(new Error(`kvmring_hostile ${scenario} in ${guest} exited ${code}: ${stderr}${stdout}`));
      else resolve(JSON.parse(last) as Summary);
    });
  });
  // A failed start must not leave `started` waiting for ever; a caller that awaits
  // only one of the two must not see the other one's rejection as unhandled.
  done.then(
    () => onEarlyEnd(new Error(`kvmring_hostile ${scenario} ended before it played: ${stderr}`)),
    (err: unknown) => onEarlyEnd(err),
  );
  started.catch(() => undefined);
  done.catch(() => undefined);
  return { started, done, stop: () => child.kill('SIGTERM'), log: () => stderr };
}

// ---- the lab ------------------------------------------------------------------

export interface HostileLabOptions {
  isolation: 'owner' | 'pair';
  doorbell?: boolean;
  /** lab up --group NAME=gA,gB... */
  groups?: string[];
  /** vCPUs per guest (2). */
  cpus?: number;
}

/** The `lab up` arguments of a hostile lab: three guests, none with ringnet yet. */
export function hostileLabArgs(o: HostileLabOptions): string[] {
  return [
    'up',
    '--guests', '3',
    '--cpus', String(o.cpus ?? 2),
    '--no-ring',
    '--isolation', o.isolation,
    ...(o.groups ?? []).flatMap((g) => ['--group', g]),
    ...(o.doorbell ? ['--doorbell'] : []),
  ];
}

/**
 * ring0 in the honest guests (ring-up.sh), and both seeing the other up. Also after
 * a scenario that left them apart: reloads ringnet where ring0 does not answer.
 */
export async function honestRingUp(lab: Lab, reload = false): Promise<void> {
  await Promise.all(
    HONEST_GUESTS.map((g) => lab.sh(g, `${reload ? 'rmmod ringnet 2>/dev/null; ' : ''}${RING_UP}`, { timeoutMs: 120_000 * SLOWDOWN })),
  );
  for (const [g, other] of [HONEST_GUESTS, [...HONEST_GUESTS].reverse()]) {
    const slot = rosterSlot(lab, other);
    await eventually(20_000 * SLOWDOWN, `${g} seeing ${other} (slot ${slot}) up on ring0`, async () =>
      (await lab.ringPeers(g)).some((p) => p.slot === slot && p.state === 'up'),
    );
  }
}

/** Brings up a hostile lab (see hostileLabArgs()) with ring0 in the honest guests. */
export async function hostileLabUp(lab: Lab, o: HostileLabOptions): Promise<void> {
  const up = await labUp(hostileLabArgs(o), { labName: lab.name, timeoutMs: 400_000 * SLOWDOWN });
  assert.equal(up.code, 0, `lab up failed:\n${up.stdout.toString()}${up.stderr.toString()}`);
  await honestRingUp(lab);
}

// ---- the host's files -------------------------------------------------------------

/**
 * Where `ringctl host up` put setup's rosters and regions (src/host/isolation.ts
 * names them): the directory its state records (host up --dir), else /dev/shm.
 */
export function setupDir(setup: string): string {
  try {
    const state = JSON.parse(readFileSync(`/run/kvmring/host/${setup}/state.json`, 'utf8')) as { dir?: unknown };
    if (typeof state.dir === 'string') return state.dir;
  } catch {
    // No state (yet), or one of another ringctl: the default.
  }
  return '/dev/shm';
}

/** A roster or owned region of the lab's setup, as a file on the host. */
export interface HostFile {
  path: string;
  kind: 'roster' | 'region';
  /** The roster's guest slot, or the region's owner. */
  slot: number;
}

/**
 * The files of a setup (a lab's is named as the lab) in dir: every guest's roster
 * and every owned region, each with its guest or owner by the file's name
 * (kvmring-SETUP+GUEST.roster, kvmring-SETUP+OWNER[+READER][@GROUP].owned), never
 * by its contents, which a scribbling owner may have made garbage.
 */
export function hostFiles(setup: string, dir = setupDir(setup)): HostFile[] {
  const prefix = `kvmring-${setup}+`;
  const names = readdirSync(dir).filter((f) => f.startsWith(prefix));
  const slots = new Map<string, number>();
  for (const f of names.filter((x) => x.endsWith('.roster'))) {
    for (const s of parseRoster(readFileSync(join(dir, f))).slots) slots.set(s.name, s.slot);
  }
  assert.ok(slots.size, `no rosters ${dir}/${prefix}*.roster: is the lab up under ABI v2?`);
  return names.flatMap((f): HostFile[] => {
    const m = /^([^+@]+?)(\+[^+@]+)?(@[^+@]+)?\.(roster|owned)$/.exec(f.slice(prefix.length));
    if (!m) return [];
    const slot = slots.get(m[1]);
    assert.ok(slot !== undefined, `${f}: no roster names the guest ${m[1]}`);
    return [{ path: join(dir, f), kind: m[4] === 'roster' ? 'roster' : 'region', slot }];
  });
}

/** Guest `guest`'s roster, read on the host. */
export function rosterOfGuest(lab: Lab, guest: string): Roster {
  return parseRoster(readFileSync(join(setupDir(lab.name), `kvmring-${lab.name}+${guest}.roster`)));
}

/** The slot the host gave `guest`. */
export function rosterSlot(lab: Lab, guest: string): number {
  return rosterOfGuest(lab, guest).self;
}

/** The host PID of a guest's QEMU (lab status). */
export async function qemuPid(lab: Lab, guest: string): Promise<number> {
  const r = await lab.lab(['status', '--json']);
  assert.equal(r.code, 0, `lab status --json: ${r.stderr.toString()}`);
  const st = JSON.parse(r.stdout.toString()) as { guests: { guest: string; pid: number | null }[] };
  const pid = st.guests.find((g) => g.guest === guest)?.pid;
  assert.ok(pid, `${guest} has no QEMU running`);
  return pid;
}
