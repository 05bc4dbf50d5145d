// tcgprof (scripts/bench/tcgprof/tcgprof.c), the TCG plugin behind bench:profile:
// QEMU under TCG boots the guest kernel (no root file system: it panics and stays
// in panic()'s delay loop, panic=0) with the plugin loaded, and the snapshots it
// writes on request count the kernel's instructions per code block.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import type { Block, Tcgprof } from '../helpers/tcgprof.js';
import { requireTier } from '../helpers/tier.js';

const root = join(import.meta.dirname, '..', '..', '..');
const PLUGIN = join(root, 'build/native/tcgprof.so');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sum = (s: Map<string, Block>, pick: (va: string) => boolean) => [...s].filter(([va]) => pick(va)).reduce((n, [, b]) => n + b.insns, 0);
const kernelText = (va: string) => va.length === 16 && va.startsWith('ffffffff8');

describe('tcgprof, the TCG plugin that counts guest kernel instructions', function () {
  this.timeout(120_000);
  let tmp = '';
  let vmlinuz = '';
  let t: Tcgprof;
  let qemu: ChildProcess | undefined;
  let stderr = '';

  before(async function () {
    requireTier(this, 'host');
    if (!existsSync(PLUGIN)) throw new Error(`${PLUGIN} is not built: run npm run build`);
    vmlinuz = ((await import(join(root, 'scripts/lib/kernel.mjs'))) as { guestKernel(): { vmlinuz: string } }).guestKernel().vmlinuz;
    t = (await import(pathToFileURL(join(root, 'scripts/bench/lib/tcgprof.mjs')).href)) as Tcgprof;
    tmp = mkdtempSync(join(tmpdir(), 'tcgprof-'));
  });

  after(() => {
    if (qemu?.pid && qemu.exitCode === null) process.kill(qemu.pid, 'SIGKILL');
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const qemuArgs = (plugin: string) => [
    '-M', 'q35', '-accel', 'tcg', '-cpu', 'max', '-m', '256', '-smp', '1',
    '-nodefaults', '-no-user-config', '-nographic', '-no-reboot',
    '-kernel', vmlinuz, '-append', 'console=ttyS0 panic=0 nokaslr',
    '-serial', `file:${join(tmp, 'console.log')}`,
    '-plugin', plugin,
  ];

  it('is refused by lab up beside several vCPUs, whose counts it could lose', () => {
    const r = spawnSync(process.execPath, [join(root, 'scripts/lab.mjs'), 'up', '--tcg-profile', '--cpus', '2', '--accel', 'tcg'], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, KVMRING_LAB: 'tcgprof-args' },
    });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--tcg-profile counts exactly with one vCPU per guest only: drop --cpus 2/);
  });

  it('refuses to load without its snapshot file, and says how to give one', () => {
    const r = spawnSync('qemu-system-x86_64', qemuArgs(PLUGIN), { encoding: 'utf8', timeout: 30_000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /tcgprof: give the snapshot file: -plugin tcgprof\.so,out=FILE/);
  });

  it("counts the booting kernel's blocks, then only panic()'s loop between two snapshots", async () => {
    const out = join(tmp, 'snap');
    qemu = spawn('qemu-system-x86_64', qemuArgs(`${PLUGIN},out=${out}`), { stdio: ['ignore', 'ignore', 'pipe'] });
    qemu.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const deadline = Date.now() + 60_000;
    const console = () => (existsSync(join(tmp, 'console.log')) ? readFileSync(join(tmp, 'console.log'), 'utf8') : '');
    while (!/Kernel panic/.test(console())) {
      assert.equal(qemu.exitCode, null, `QEMU exited: ${stderr}`);
      assert.ok(Date.now() < deadline, `the kernel did not reach its panic in 60 s:\n${console().slice(-2000)}`);
      await sleep(200);
    }
    await sleep(500);
    const a = await t.requestSnapshot(out);
    await sleep(1000);
    const b = await t.requestSnapshot(out);

    // Booting ran thousands of the kernel's blocks, and many instructions in them.
    assert.equal(a.pid, qemu.pid);
    assert.notEqual(a.tag, b.tag, 'each request has a tag of its own');
    const booted = [...a.blocks.keys()].filter(kernelText);
    assert.ok(booted.length > 5000, `${booted.length} kernel blocks after boot`);
    assert.ok(sum(a.blocks, kernelText) > 50e6, `${sum(a.blocks, kernelText)} kernel instructions to boot`);
    // Counts only grow.
    for (const [va, blk] of a.blocks) assert.ok((b.blocks.get(va)?.insns ?? 0) >= blk.insns, `block ${va} went back`);

    // After the panic the CPU spins in panic()'s delay loop, interrupts off: a
    // second's difference is a handful of kernel blocks, and still millions of
    // instructions (TCG runs tens of millions a second and more).
    const d = t.diffSnapshots(a, b);
    assert.ok(d.size > 0 && d.size < 100, `${d.size} blocks ran after the panic`);
    assert.ok([...d.keys()].every(kernelText), `blocks outside kernel text: ${[...d.keys()].filter((v) => !kernelText(v)).join(' ')}`);
    assert.ok(sum(d, () => true) > 1e6, `${sum(d, () => true)} instructions in a second of panic()`);
    for (const [va, blk] of d) assert.ok(blk.execs > 0 && blk.insns >= blk.execs, `block ${va}: ${JSON.stringify(blk)}`);
    assert.equal(stderr, '');
  });

  it('says so when it cannot write the snapshot, instead of leaving an old one to be read', async () => {
    const out = join(tmp, 'snap');
    // The plugin writes FILE.tmp and renames it: a directory in its place fails the write.
    mkdirSync(`${out}.tmp`);
    try {
      await assert.rejects(t.requestSnapshot(out), /tcgprof did not write the snapshot asked for \(tag [0-9a-f]+\)/);
      await sleep(100);
      assert.match(stderr, /tcgprof: cannot write .*snap: /);
    } finally {
      rmSync(`${out}.tmp`, { recursive: true });
    }
    assert.ok((await t.requestSnapshot(out)).blocks.size > 0, 'it writes again once it can');
  });
});
