#!/usr/bin/env zx
// Builds the debug kernel tier's kernel, once: Debian's linux-source of the guest
// kernel's version, x86_64 defconfig with scripts/debug-kernel.config merged over it
// (KASAN, lockdep, atomic-sleep checks; the lab guest's drivers built in), then
// bzImage and what out-of-tree modules need, and ringnet.ko against it
// (build/debug/ringnet.ko). A finished build is reused; an interrupted one resumes.
//
//   zx scripts/debug-kernel.mjs [--jobs N] [--path]
//
// --path prints the kernel's directory and exits (fails if it is not built).
// KVMRING_DEBUG_KERNEL_CACHE moves the cache (default /var/cache/kvmring/debug-kernel).
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { $, argv, chalk } from 'zx';

import { BUILD_TOOLS, DEBUG_RINGNET_KO, FRAGMENT, debugKernelPaths, installedVersions, packagesToInstall } from './lib/debug-kernel.mjs';
import { REPO } from './lib/lab-config.mjs';

$.verbose = false;
const jobs = String(argv.jobs ?? 2);
const say = (msg) => console.log(`debug-kernel: ${msg}`);

/** The fragment's settings: name -> value ('n' for "is not set"). */
function fragmentSettings() {
  const want = new Map();
  for (const line of readFileSync(FRAGMENT, 'utf8').split('\n')) {
    let m = line.match(/^(CONFIG_\w+)=(.*)$/);
    if (m) want.set(m[1], m[2]);
    m = line.match(/^# (CONFIG_\w+) is not set$/);
    if (m) want.set(m[1], 'n');
  }
  return want;
}

/** Settings of the fragment that the final .config does not hold (dependencies missing). */
function unmetSettings(tree) {
  const have = new Map();
  for (const line of readFileSync(join(tree, '.config'), 'utf8').split('\n')) {
    const m = line.match(/^(CONFIG_\w+)=(.*)$/);
    if (m) have.set(m[1], m[2]);
  }
  return [...fragmentSettings()]
    .filter(([k, v]) => (v === 'n' ? have.has(k) && have.get(k) !== 'n' : have.get(k) !== v))
    .map(([k, v]) => `${k}=${v} (is ${have.get(k) ?? 'not set'})`);
}

async function ensureSource(p) {
  const want = packagesToInstall(p.src, installedVersions([p.src.package, ...BUILD_TOOLS]), existsSync(p.src.tarball));
  if (want.length) {
    say(`installing ${want.join(' ')}`);
    await $({ env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })`apt-get install -y -q --no-install-recommends ${want}`;
  }
  if (existsSync(join(p.tree, 'Makefile'))) return;
  say(`unpacking ${p.src.tarball} into ${p.dir}`);
  const tmp = `${p.dir}.unpack`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await $`tar -xf ${p.src.tarball} -C ${tmp}`;
  mkdirSync(p.dir, { recursive: true });
  renameSync(join(tmp, p.src.dir), p.tree);
  rmSync(tmp, { recursive: true, force: true });
}

async function configure(p) {
  const done = join(p.dir, 'configured');
  if (existsSync(done)) return;
  say('configuring: x86_64 defconfig + scripts/debug-kernel.config');
  const t = p.tree;
  await $`make -C ${t} -s ARCH=x86_64 defconfig`;
  await $`cd ${t} && ARCH=x86_64 scripts/kconfig/merge_config.sh -m .config ${FRAGMENT}`;
  await $`make -C ${t} -s ARCH=x86_64 olddefconfig`;
  const unmet = unmetSettings(t);
  if (unmet.length) throw new Error(`the config does not hold what scripts/debug-kernel.config asks:\n  ${unmet.join('\n  ')}`);
  writeFileSync(done, '');
}

async function build(p) {
  if (p.built) return;
  say(`building bzImage and modules with nice -n 19 make -j${jobs}; log: ${p.log}`);
  const t0 = Date.now();
  const r = await $({ nothrow: true })`nice -n 19 make -C ${p.tree} ARCH=x86_64 -j${jobs} bzImage modules >> ${p.log} 2>&1`;
  const seconds = Math.round((Date.now() - t0) / 1000);
  if (r.exitCode !== 0) throw new Error(`the kernel build failed after ${seconds}s; the end of ${p.log}:\n${(await $`tail -30 ${p.log}`).stdout}`);
  const release = (await $`make -C ${p.tree} -s ARCH=x86_64 kernelrelease`).stdout.trim();
  writeFileSync(join(p.dir, 'build-seconds'), `${seconds}\n`);
  writeFileSync(p.stamp, `${release}\n`);
  say(`built ${release} in ${seconds}s`);
}

/** ringnet.ko against the debug tree, from a copy of guest-netdev so the normal build's files stay. */
async function buildRingnet(p) {
  const out = join(REPO, DEBUG_RINGNET_KO);
  // guest-netdev/Kbuild includes ../include: the copy sits beside a link to it.
  const src = join(REPO, 'build/debug/guest-netdev');
  rmSync(src, { recursive: true, force: true });
  mkdirSync(src, { recursive: true });
  rmSync(join(REPO, 'build/debug/include'), { force: true });
  symlinkSync('../../include', join(REPO, 'build/debug/include'));
  for (const f of readdirSync(join(REPO, 'guest-netdev'))) {
    if (/\.(c|h)$/.test(f) || f === 'Kbuild') copyFileSync(join(REPO, 'guest-netdev', f), join(src, f));
  }
  const r = await $({ nothrow: true })`nice -n 19 make -C ${p.tree} ARCH=x86_64 M=${src} modules 2>&1`;
  const warnings = r.stdout.split('\n').filter((l) => /\b(warning|error):/.test(l));
  if (r.exitCode !== 0 || warnings.length) throw new Error(`ringnet.ko against the debug kernel failed:\n${r.stdout}`);
  copyFileSync(join(src, 'ringnet.ko'), out);
}

try {
  const p = debugKernelPaths();
  if (argv.path) {
    if (!p.built) throw new Error(`not built (would be ${p.dir})`);
    console.log(p.dir);
    process.exit(0);
  }
  mkdirSync(p.dir, { recursive: true });
  await ensureSource(p);
  await configure(p);
  await build(p);
  await buildRingnet(p);
  const q = debugKernelPaths();
  say(`${q.release}: ${q.vmlinuz}`);
  say(`ringnet.ko: ${DEBUG_RINGNET_KO}`);
} catch (err) {
  console.error(chalk.red(`debug-kernel: ${err.stderr || err.message}`));
  process.exit(1);
}
