// The lab from the tests' side: runs scripts/lab.mjs as a user would, under a lab
// name of the tests' own (KVMRING_LAB=test) so a developer's lab is left alone.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import { DEBUG_KERNEL, SLOWDOWN } from './time.js';

export const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const LAB_SCRIPT = `${REPO}/scripts/lab.mjs`;
export const TEST_LAB = process.env.KVMRING_TEST_LAB ?? 'test';

export interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
}

export interface RunOptions {
  input?: Buffer | string;
  timeoutMs?: number;
  labName?: string;
}

/** Runs `lab ARGS...` and collects its exit code and output, bytes untouched. */
export function runLab(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LAB_SCRIPT, ...args], {
      cwd: REPO,
      env: { ...process.env, KVMRING_LAB: opts.labName ?? TEST_LAB },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128 + (signal === 'SIGKILL' ? 9 : 15), stdout: Buffer.concat(out), stderr: Buffer.concat(err) });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/**
 * Whether a failed `lab up` is a guest's kernel that never finished booting under
 * the emulator, before ringnet or anything of ours ran in it: TCG has been seen to
 * leave a vCPU stuck for minutes in the boot's crypto self-tests (a soft lockup in
 * alg_test, no module loaded) on a loaded 2-core host. Anything that names ringnet
 * or kvmring, or a guest that did come up, is not.
 */
export function bootFlake(output: string): boolean {
  return /guest g\d+ did not come up: not up after \d+ s/.test(output) && !/ringnet|kvmring|ring0/i.test(output.replace(/^lab: guest g\d+ did not come up.*$/m, ''));
}

/**
 * `lab up ...` (args begins with 'up') that tries once more after a bootFlake(),
 * the first try's output printed to stderr so that the run's log shows it. Any
 * other failure is returned as it is.
 */
export async function labUp(args: string[], opts: RunOptions = {}, run: typeof runLab = runLab): Promise<RunResult> {
  assert.equal(args[0], 'up');
  const up = await run(args, opts);
  if (up.code === 0 || !bootFlake(up.stdout.toString() + up.stderr.toString())) return up;
  console.error(`lab up: a guest's kernel did not finish booting; once more after lab down:\n${up.stderr.toString()}`);
  await run(['down'], { ...opts, timeoutMs: 120_000 });
  return run(args, opts);
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Patterns that must never appear in a guest's kernel log: oopses, warnings, panics,
 * soft lockups, RCU stalls and hung tasks.
 */
export const KERNEL_TROUBLE =
  /Oops|WARNING:|BUG:|kernel BUG|Kernel panic|Call Trace|general protection fault|soft lockup|rcu_sched self-detected stall|rcu: INFO|detected stall|hung_task|blocked for more than|RIP: |UBSAN|KASAN/;

/** The lines of a kernel log that show trouble (KERNEL_TROUBLE). */
export function kernelTrouble(log: string): string[] {
  return log.split('\n').filter((l) => KERNEL_TROUBLE.test(l));
}

/**
 * The first `most` splats of a log whole: from each line that shows trouble, the
 * `context` lines after it (a call trace names its functions only there).
 */
export function troubleInContext(log: string, context = 40, most = 3): string {
  const lines = log.replace(/\r/g, '').split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length && out.length < most; i++) {
    if (!KERNEL_TROUBLE.test(lines[i])) continue;
    out.push(lines.slice(i, i + context).join('\n'));
    i += context - 1;
  }
  return out.join('\n...\n');
}

/**
 * Ring counters that stay 0 on an honest run: a reset or a bad index there means
 * the driver lost frames with no neighbour to blame.
 */
export const RING_TROUBLE = /_ring_(tx|rx)_(resets|bad_index)$/;

/**
 * What the debug kernel's checkers print: KASAN reports, lockdep's splats, sleeping
 * in atomic context, debugobjects, list corruption, and any BUG or WARNING.
 */
export const DEBUG_TROUBLE =
  /BUG: |WARNING: |KASAN|possible circular locking dependency|possible recursive locking|inconsistent lock state|suspicious RCU usage|sleeping function called from invalid context|ODEBUG: |list_(add|del) corruption|Kernel panic|general protection fault|blocked for more than|soft lockup/;

/** The first lines of each splat in a kernel log: a line matching DEBUG_TROUBLE and the few after it. */
export function debugSplats(log: string, context = 12): string[] {
  const lines = log.replace(/\r/g, '').split('\n');
  const splats: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!DEBUG_TROUBLE.test(lines[i])) continue;
    splats.push(lines.slice(i, i + context).join('\n'));
    i += context - 1;
  }
  return splats;
}

/** The parts of `ringctl host up`'s plan for the lab that the tests read (src/host/isolation.ts). */
export interface LabPlan {
  isolation: 'owner' | 'pair';
  mode: 'plain' | 'doorbell';
  vectors: number;
  guests: { slot: number; name: string; mac: string; peers: number[]; groups: string[]; devices: { kind: 'roster' | 'region' | 'doorbell'; devfn: number }[] }[];
  regions: { file: string; owner: number; readers: number; size: number }[];
}

export interface LabOptions {
  guests: number;
  /** ivshmem-doorbell with the ringctl doorbell server instead of ivshmem-plain */
  doorbell?: boolean;
  /** vCPUs per guest (1) */
  cpus?: number;
  /** lab up --queues: queue pairs per pair of guests (1; in doorbell mode a vector each) */
  queues?: number;
  /** guests of the host setup (guests): those past `guests` have files but no QEMU, room for a peer from the host */
  slots?: number;
  /** lab up --isolation (owner) */
  isolation?: 'owner' | 'pair';
  /** lab up --group NAME=gA,gB,... per entry (none: one group of all) */
  groups?: string[];
  /** lab up --probe-bars: extra small ivshmem devices per guest, no driver on them (probeBars()) */
  probeBars?: boolean;
  /** lab up --foreign-bars: another program's ivshmem devices per guest, nothing keeping ringnet off them */
  foreignBars?: boolean;
}

/** One of a guest's foreign ivshmem devices (lab up --foreign-bars, scripts/lib/lab-config.mjs). */
export interface ForeignBar {
  /** "zeros" (below the roster's slot) or "random" (above every ring0 device) */
  name: string;
  bdf: string;
  path: string;
  size: number;
}

/** One of a guest's extra ivshmem devices (lab up --probe-bars, scripts/lib/lab-config.mjs). */
export interface ProbeBar {
  /** "ro" (its file mapped read-only) or "rw" */
  name: string;
  /** its PCI address in the guest */
  bdf: string;
  /** the file behind its BAR2, on the host */
  path: string;
  size: number;
  readonly: boolean;
}

/** What `lab status --json` says of a lab that is up (the parts the tests read). */
export interface LabStatus {
  accel: 'kvm' | 'tcg';
  probeBars?: Record<string, ProbeBar[]>;
  foreignBars?: Record<string, ForeignBar[]>;
  /** The host setup (`ringctl host up --name <lab>`). */
  host: {
    name: string;
    isolation: 'owner' | 'pair';
    groups: string[];
    slots: number;
    mode: 'plain' | 'doorbell';
    /** Each lab guest's QEMU options for ring0's devices, by guest number. */
    qemuArgs: Record<string, string[]>;
    /** Each lab guest's peers with a QEMU (numbers), by guest number. */
    peers: Record<string, number[]>;
  };
}

/** A row of a guest's peer table (Lab.ringPeers()). */
export interface RingPeer {
  slot: number;
  state: string;
  gen: number;
  mac: string;
  ipv4: string;
  /** ABI v2 only. */
  name?: string;
  claimedMac?: string;
  addrsRefused?: number;
}

export class Lab {
  readonly guests: number;

  constructor(
    readonly opts: LabOptions,
    readonly name: string = TEST_LAB,
  ) {
    this.guests = opts.guests;
  }

  /** A file of the lab's host setup by its name in the plan (a roster's or a region's). */
  file(name: string): string {
    return `/dev/shm/${name}`;
  }

  /** Guest `guest`'s socket of the doorbell server, in doorbell mode (src/host/state.ts guestSocket()). */
  guestSocket(guest: string): string {
    return `/run/kvmring/host/${this.name}/doorbell-${guest}.sock`;
  }

  guestNames(): string[] {
    return Array.from({ length: this.guests }, (_, i) => `g${i + 1}`);
  }

  async exec(guest: string, argv: string[], opts: RunOptions = {}): Promise<ExecResult> {
    const r = await runLab(['exec', ...(opts.input !== undefined ? ['-i'] : []), guest, '--', ...argv], {
      ...opts,
      labName: this.name,
    });
    return { code: r.code, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  }

  /** Runs a command that must succeed; its stdout. */
  async sh(guest: string, script: string, opts: RunOptions = {}): Promise<string> {
    const r = await this.exec(guest, ['sh', '-c', script], opts);
    assert.equal(r.code, 0, `${guest}: \`${script}\` exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r.stdout;
  }

  async kernelLog(guest: string): Promise<string> {
    return this.sh(guest, 'dmesg');
  }

  /** A counter from /sys/class/net/DEV/statistics. */
  async netStat(guest: string, dev: string, stat: string): Promise<number> {
    return Number((await this.sh(guest, `cat /sys/class/net/${dev}/statistics/${stat}`)).trim());
  }

  /** `ethtool -S DEV` as name -> value. */
  async ethtoolStats(guest: string, dev = 'ring0'): Promise<Map<string, number>> {
    const out = await this.sh(guest, `ethtool -S ${dev}`);
    const stats = new Map<string, number>();
    for (const m of out.matchAll(/^\s+(\S+): (\d+)$/gm)) stats.set(m[1], Number(m[2]));
    return stats;
  }

  /**
   * The peer table as this guest's ringnet sees it (its debugfs view): slot -> state.
   * Under ABI v2 a row also has the slot's name, the MAC it claims when the roster
   * gives it another ("-" if not) and how many of its addresses were refused.
   */
  async ringPeers(guest: string): Promise<RingPeer[]> {
    const out = await this.sh(guest, 'cat /sys/kernel/debug/ringnet/ring0/peers');
    return out
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(' '))
      .map(([, slot, state, gen, mac, , ipv4, , , , name, claimedMac, refused]) => ({
        slot: Number(slot),
        state,
        gen: Number(gen),
        mac,
        ipv4,
        name,
        claimedMac,
        addrsRefused: refused === undefined ? undefined : Number(refused),
      }));
  }

  /** Whether a socket in guest listens on TCP `port`, any address (/proc/net/tcp and tcp6). */
  async listening(guest: string, port: number): Promise<boolean> {
    const hex = port.toString(16).toUpperCase().padStart(4, '0');
    const out = await this.sh(guest, 'cat /proc/net/tcp /proc/net/tcp6 2>/dev/null; true');
    // sl local_address rem_address st ...: LISTEN is st 0A.
    return out.split('\n').some((l) => {
      const f = l.trim().split(/\s+/);
      return f[1]?.endsWith(`:${hex}`) && f[3] === '0A';
    });
  }

  async lab(args: string[], timeoutMs = 240_000): Promise<RunResult> {
    return runLab(args, { labName: this.name, timeoutMs });
  }

  /** `lab status --json`. */
  async status(): Promise<LabStatus> {
    const r = await this.lab(['status', '--json']);
    assert.equal(r.code, 0, `lab status --json: ${r.stderr.toString()}`);
    return JSON.parse(r.stdout.toString()) as LabStatus;
  }

  /** guest's extra ivshmem devices by name (a lab up with probeBars). */
  async probeBars(guest: string): Promise<Map<string, ProbeBar>> {
    const bars = (await this.status()).probeBars?.[guest];
    assert.ok(bars, `${guest} has no probe BARs: bring the lab up with probeBars`);
    return new Map(bars.map((b) => [b.name, b]));
  }

  /** The host's setup for this lab: /run/kvmring/host/NAME/ (src/host/state.ts). */
  get hostDir(): string {
    return `/run/kvmring/host/${this.name}`;
  }

  /** `ringctl host up`'s state for the lab: where its files are, and what it planned. */
  async hostState(): Promise<{ dir: string; plan: LabPlan }> {
    return JSON.parse(await readFile(`${this.hostDir}/state.json`, 'utf8')) as { dir: string; plan: LabPlan };
  }

  /** What `ringctl host up` planned for the lab: isolation, guests with their slots, regions. */
  async plan(): Promise<LabPlan> {
    return (await this.hostState()).plan;
  }

  /** The slot the host gave guest `g`. */
  async slotOf(g: string): Promise<number> {
    const p = (await this.plan()).guests.find((x) => x.name === g);
    assert.ok(p, `${g} is not in the lab's plan`);
    return p.slot;
  }

  /** The owned regions of the lab's setup as files on the host (/dev/shm/kvmring-NAME+OWNER[+READER].owned). */
  async regionFiles(): Promise<string[]> {
    const { dir, plan } = await this.hostState();
    return plan.regions.map((r) => `${dir}/${r.file}`);
  }

  /** Each guest's QEMU process on the host, by guest name (lab status --json). */
  async qemuPids(): Promise<Map<string, number>> {
    const st = (await this.status()) as unknown as { guests: { guest: string; pid: number | null }[] };
    return new Map(st.guests.flatMap((g) => (g.pid ? [[g.guest, g.pid] as const] : [])));
  }

  /**
   * Fails with the offending lines if any guest's kernel log shows trouble. The
   * console log on the host is read too: it keeps what a guest printed before a
   * panic stopped it (guests boot with panic_on_warn=1).
   */
  async assertKernelLogsClean(): Promise<void> {
    for (const g of this.guestNames()) {
      const consoleLog = await this.consoleLog(g);
      const console = kernelTrouble(consoleLog);
      assert.deepEqual(console, [], `${g}'s console shows trouble:\n${console.join('\n')}\n--- in context:\n${troubleInContext(consoleLog)}`);
      const log = await this.kernelLog(g);
      const bad = kernelTrouble(log);
      assert.deepEqual(bad, [], `${g}'s kernel log shows trouble:\n${bad.join('\n')}\n--- in context:\n${troubleInContext(log)}`);
    }
  }

  /** What guest's serial console printed since it last booted (kept on the host). */
  async consoleLog(guest: string): Promise<string> {
    try {
      return await readFile(`/run/kvmring/${this.name}/${guest}.console.log`, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw err;
    }
  }

  /**
   * Fails naming guest, counter and value if any guest counted a ring reset or a
   * bad index (RING_TROUBLE): on a run without a hostile writer both stay 0.
   */
  async assertRingsClean(): Promise<void> {
    const bad: string[] = [];
    for (const g of this.guestNames()) {
      const stats = await this.ethtoolStats(g);
      assert.ok([...stats.keys()].some((k) => RING_TROUBLE.test(k)), `${g}: ethtool -S ring0 shows no ring counters`);
      for (const [name, value] of stats) if (RING_TROUBLE.test(name) && value !== 0) bad.push(`${g}: ${name} = ${value}`);
    }
    assert.deepEqual(bad, [], `ring counters that must stay 0 on an honest run:\n${bad.join('\n')}`);
  }

  /** Sends QMP `command` to guest's QEMU (lab qmp): `stop` and `cont` pause and resume it. */
  async qmp(guest: string, command: string): Promise<void> {
    const r = await this.lab(['qmp', guest, command]);
    assert.equal(r.code, 0, `lab qmp ${guest} ${command}: ${r.stderr.toString()}`);
  }
}

/** One lab shared by the lab tier's files, booted on first use and downed at the end. */
class LabFixture {
  #lab: Lab | undefined;

  async get(opts: LabOptions): Promise<Lab> {
    const want = { doorbell: false, cpus: 1, queues: 1, slots: Math.max(opts.guests, 2), probeBars: false, foreignBars: false, isolation: 'owner' as const, groups: [] as string[], ...opts };
    if (this.#lab && JSON.stringify(this.#lab.opts) === JSON.stringify(want)) return this.#lab;
    await this.release();
    const up = await labUp(
      [
        'up',
        '--guests', String(want.guests),
        '--cpus', String(want.cpus),
        '--queues', String(want.queues),
        '--slots', String(want.slots),
        '--isolation', want.isolation,
        ...want.groups.flatMap((g) => ['--group', g]),
        ...(want.doorbell ? ['--doorbell'] : []),
        ...(want.probeBars ? ['--probe-bars'] : []),
        ...(want.foreignBars ? ['--foreign-bars'] : []),
      ],
      { timeoutMs: 300_000 * SLOWDOWN },
    );
    assert.equal(up.code, 0, `lab up failed:\n${up.stdout.toString()}${up.stderr.toString()}`);
    this.#lab = new Lab(want);
    return this.#lab;
  }

  async release(): Promise<void> {
    if (!this.#lab) return;
    const lab = this.#lab;
    this.#lab = undefined;
    const splats = DEBUG_KERNEL ? await saveConsoles(lab) : [];
    const down = await runLab(['down']);
    assert.equal(down.code, 0, `lab down failed:\n${down.stdout.toString()}${down.stderr.toString()}`);
    assert.deepEqual(splats, [], `the debug kernel reported trouble (consoles in build/debug/logs):\n${splats.join('\n---\n')}`);
  }
}

/**
 * The debug tier: every guest's serial console (the whole kernel log, even of a
 * guest that died) into build/debug/logs/, and the splats in them, each as "gN: lines".
 */
async function saveConsoles(lab: Lab): Promise<string[]> {
  const dir = `${REPO}/build/debug/logs`;
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const splats: string[] = [];
  for (const g of lab.guestNames()) {
    const r = await runLab(['console', g], { labName: lab.name });
    const text = r.stdout.toString();
    writeFileSync(`${dir}/${lab.name}-${stamp}-${g}.console.log`, text);
    for (const s of debugSplats(text)) splats.push(`${g}: ${s}`);
  }
  return splats;
}

export const labFixture = new LabFixture();

/**
 * The setup the xdp and stats suites run on: pair isolation in plain mode (what
 * the ring suite leaves booted, so CI boots no extra lab), or what
 * KVMRING_TEST_SETUP says, e.g. `owner,doorbell`, to run the same checks under
 * another level and mode by hand.
 */
export function suiteSetup(env: NodeJS.ProcessEnv = process.env): { isolation: 'owner' | 'pair'; doorbell: boolean; mode: 'plain' | 'doorbell'; title: string } {
  const words = (env.KVMRING_TEST_SETUP ?? 'pair,plain').split(',').map((w) => w.trim());
  for (const w of words) {
    if (!['owner', 'pair', 'plain', 'doorbell'].includes(w)) {
      throw new Error(`KVMRING_TEST_SETUP=${env.KVMRING_TEST_SETUP}: unknown word ${w}; use an isolation level and a mode, e.g. owner,doorbell`);
    }
  }
  const isolation = words.includes('owner') ? 'owner' : 'pair';
  const doorbell = words.includes('doorbell');
  const mode = doorbell ? 'doorbell' : 'plain';
  return { isolation, doorbell, mode, title: `${isolation} isolation, ${mode} mode` };
}

/** JSON for assertion messages: protobuf counters are bigints, which JSON.stringify refuses. */
export function showJson(x: unknown): string {
  return JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/**
 * What a guest's region rows must be with three guests and no groups: every row
 * in the setup's mode; under owner one region of its own read by both others and
 * one of each other's, read by it and the third; under pair one own region per
 * reader and one of each other's read by it alone.
 */
export function assertThreeGuestRegions(
  regions: { mode: string; owner: number; readers: number[] }[],
  self: number,
  others: number[],
  setup: ReturnType<typeof suiteSetup>,
): void {
  const show = showJson(regions);
  assert.ok(regions.every((r) => r.mode === setup.mode), `every region in ${setup.mode} mode: ${show}`);
  const own = regions.filter((r) => r.owner === self);
  const read = regions.filter((r) => r.owner !== self);
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  if (setup.isolation === 'owner') {
    assert.deepEqual(own.map((r) => sorted(r.readers)), [sorted(others)], `own regions: ${show}`);
  } else {
    assert.deepEqual(sorted(own.map((r) => (r.readers.length === 1 ? r.readers[0] : -1))), sorted(others), `own regions: ${show}`);
  }
  assert.deepEqual(sorted(read.map((r) => r.owner)), sorted(others), `regions read, one per other guest: ${show}`);
  for (const r of read) {
    assert.ok(r.readers.includes(self), `reads region of ${r.owner} without being a reader: ${show}`);
    assert.equal(r.readers.length, setup.isolation === 'owner' ? 2 : 1, `readers of ${r.owner}'s region: ${show}`);
  }
}
