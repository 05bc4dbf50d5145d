// The lab from the tests' side: runs scripts/lab.mjs as a user would, under a lab
// name of the tests' own (KVMRING_LAB=test) so a developer's lab is left alone.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const LAB_SCRIPT = `${REPO}/scripts/lab.mjs`;
export const TEST_LAB = process.env.KVMRING_TEST_LAB ?? 'test';
/** The debug tier's labs boot the debug kernel (KASAN, lockdep): everything takes longer. */
export const DEBUG_KERNEL = process.env.KVMRING_LAB_KERNEL === 'debug';
/** Multiply a lab test's time limits by this. */
export const SLOWDOWN = DEBUG_KERNEL ? 4 : 1;

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

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Polls `check` every `everyMs` until it returns true; fails naming `what` after `ms`. */
export async function eventually(ms: number, what: string, check: () => Promise<boolean>, everyMs = 250): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  assert.fail(`${what} did not happen within ${ms} ms`);
}

/** Patterns that must never appear in a guest's kernel log. */
export const KERNEL_TROUBLE =
  /Oops|WARNING:|BUG:|Kernel panic|Call Trace|general protection fault|hung_task|blocked for more than|RIP: |UBSAN|KASAN/;

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

export interface LabOptions {
  guests: number;
  /** ivshmem-doorbell with the ringctl doorbell server instead of ivshmem-plain */
  doorbell?: boolean;
}

export class Lab {
  readonly guests: number;

  constructor(
    readonly opts: LabOptions,
    readonly name: string = TEST_LAB,
  ) {
    this.guests = opts.guests;
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

  /** The peer table as this guest's ringnet sees it: slot -> state. */
  async ringPeers(guest: string): Promise<{ slot: number; state: string; mac: string; ipv4: string }[]> {
    const out = await this.sh(guest, 'cat /sys/class/net/ring0/ringnet/peers');
    return out
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(' '))
      .map(([, slot, state, , mac, , ipv4]) => ({ slot: Number(slot), state, mac, ipv4 }));
  }

  async lab(args: string[], timeoutMs = 240_000): Promise<RunResult> {
    return runLab(args, { labName: this.name, timeoutMs });
  }

  /** Fails with the offending lines if any guest's kernel log shows trouble. */
  async assertKernelLogsClean(): Promise<void> {
    for (const g of this.guestNames()) {
      const log = await this.kernelLog(g);
      const bad = log.split('\n').filter((l) => KERNEL_TROUBLE.test(l));
      assert.deepEqual(bad, [], `${g}'s kernel log shows trouble:\n${bad.join('\n')}`);
    }
  }
}

/** One lab shared by the lab tier's files, booted on first use and downed at the end. */
class LabFixture {
  #lab: Lab | undefined;

  async get(opts: LabOptions): Promise<Lab> {
    const want = { doorbell: false, ...opts };
    if (this.#lab && JSON.stringify({ doorbell: false, ...this.#lab.opts }) === JSON.stringify(want)) return this.#lab;
    await this.release();
    const up = await runLab(['up', '--guests', String(want.guests), ...(want.doorbell ? ['--doorbell'] : [])], {
      timeoutMs: 300_000 * SLOWDOWN,
    });
    assert.equal(up.code, 0, `lab up failed:\n${up.stdout}${up.stderr}`);
    this.#lab = new Lab(want);
    return this.#lab;
  }

  async release(): Promise<void> {
    if (!this.#lab) return;
    const lab = this.#lab;
    this.#lab = undefined;
    const splats = DEBUG_KERNEL ? await saveConsoles(lab) : [];
    const down = await runLab(['down']);
    assert.equal(down.code, 0, `lab down failed:\n${down.stdout}${down.stderr}`);
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
