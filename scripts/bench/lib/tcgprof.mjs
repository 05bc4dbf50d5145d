// tcgprof's snapshots (scripts/bench/tcgprof/tcgprof.c, `lab up --tcg-profile`):
// guest kernel instructions per code block since QEMU started, the difference of
// two of them, and that difference by the guest's kernel symbols (its
// /proc/kallsyms). Pure but for requestSnapshot(); tested in
// test/unit/bench-profile.test.ts.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** The pseudo-blocks of a snapshot: user space (and firmware), and a full table. */
export const USER = '[user space]';
export const UNCOUNTED = '[table full]';

/**
 * A snapshot's text as { tag, pid, blocks: Map(vaddr as a hex string -> { insns,
 * execs }) }: the request's tag, the pid of the QEMU that wrote it, the counts
 * since that QEMU started. Throws on a file that is not a snapshot.
 */
export function parseSnapshot(text) {
  const lines = text.split('\n');
  const head = /^tcgprof 1 (\S+) (\d+)$/.exec(lines[0]);
  if (!head) throw new Error(`not a tcgprof snapshot (first line ${JSON.stringify(lines[0].slice(0, 40))})`);
  const blocks = new Map();
  for (const line of lines.slice(1)) {
    if (!line) continue;
    const m = /^([0-9a-f]+) (\d+) (\d+)$/.exec(line);
    if (!m) throw new Error(`tcgprof snapshot: bad line ${JSON.stringify(line.slice(0, 60))}`);
    blocks.set(m[1], { insns: Number(m[2]), execs: Number(m[3]) });
  }
  return { tag: head[1], pid: Number(head[2]), blocks };
}

/**
 * What ran between two snapshots of one QEMU: later minus earlier, blocks that
 * ran only, as Map(vaddr -> { insns, execs }). Throws if another QEMU (a guest
 * booted again) wrote the later one: its counts started over.
 */
export function diffSnapshots(earlier, later) {
  if (earlier.pid !== later.pid) {
    throw new Error(`tcgprof snapshots of two QEMUs (pid ${earlier.pid}, then ${later.pid}): the guest was booted again between them`);
  }
  const out = new Map();
  for (const [va, b] of later.blocks) {
    const a = earlier.blocks.get(va) ?? { insns: 0, execs: 0 };
    if (b.insns > a.insns) out.set(va, { insns: b.insns - a.insns, execs: b.execs - a.execs });
  }
  return out;
}

/**
 * A guest's /proc/kallsyms, its code symbols only ("ADDR t|T NAME [module]"), as
 * { addrs: BigInt[] ascending, names: string[] } for symbolOf().
 */
export function parseKallsyms(text) {
  const syms = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+) [tT] (\S+)/.exec(line);
    if (m && /[1-9a-f]/.test(m[1])) syms.push([BigInt(`0x${m[1]}`), m[2]]);
  }
  if (!syms.length) throw new Error('no code symbols in /proc/kallsyms (all addresses zero? read it as root, with kptr_restrict below 2)');
  syms.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  return { addrs: syms.map((s) => s[0]), names: syms.map((s) => s[1]) };
}

/** The name of the code symbol that holds vaddr (hex string), by binary search. */
export function symbolOf(syms, vaddr) {
  if (vaddr === '0') return USER;
  if (vaddr === '1') return UNCOUNTED;
  const v = BigInt(`0x${vaddr}`);
  let lo = 0;
  let hi = syms.addrs.length - 1;
  if (hi < 0 || v < syms.addrs[0]) return '[unknown]';
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (syms.addrs[mid] <= v) lo = mid;
    else hi = mid - 1;
  }
  return syms.names[lo];
}

/**
 * Instructions by symbol, most first: [{ sym, insns, kernel }]. `percent` is the
 * symbol's share of all instructions counted, for profile.mjs's byPart().
 */
export function bySymbol(diff, syms) {
  const counts = new Map();
  let total = 0;
  for (const [va, b] of diff) {
    const sym = symbolOf(syms, va);
    counts.set(sym, (counts.get(sym) ?? 0) + b.insns);
    total += b.insns;
  }
  return [...counts]
    .map(([sym, insns]) => ({ sym, insns, kernel: sym !== USER && sym !== UNCOUNTED, percent: total ? (100 * insns) / total : 0 }))
    .sort((a, b) => b.insns - a.insns);
}

/**
 * Asks the tcgprof plugin of a running QEMU for a snapshot at `file` and returns
 * it parsed: writes a new tag into FILE.req, waits for the plugin to remove it,
 * and checks that FILE answers that tag (else the plugin could not write it:
 * QEMU's standard error, the lab's gN.qemu.log, says why).
 */
export async function requestSnapshot(file, timeoutMs = 10000) {
  const req = `${file}.req`;
  const tag = randomBytes(8).toString('hex');
  writeFileSync(req, tag);
  const deadline = Date.now() + timeoutMs;
  while (existsSync(req)) {
    if (Date.now() > deadline) throw new Error(`tcgprof did not answer ${req} in ${timeoutMs} ms: is the lab up with --tcg-profile?`);
    await new Promise((r) => setTimeout(r, 10));
  }
  const snap = existsSync(file) ? parseSnapshot(readFileSync(file, 'utf8')) : undefined;
  if (snap?.tag !== tag) {
    throw new Error(`tcgprof did not write the snapshot asked for (tag ${tag}) to ${file}: see QEMU's standard error (the lab's gN.qemu.log)`);
  }
  return snap;
}
