#!/usr/bin/env zx
// Runs the kernel's checkpatch.pl over our kernel C: guest-netdev/, kmod/ and the ABI
// header include/kvmring/ (*.c and *.h, not the generated *.mod.c). checkpatch.pl, spelling.txt and
// const_structs.checkpatch come from Debian's linux-source of the guest kernel's
// series (the package scripts/debug-kernel.mjs builds from; installed with apt-get if
// missing) and are kept under /var/cache/kvmring/checkpatch/<version>/, so the 1.3 GB
// tarball is read once. Exits 1 on any ERROR; warnings and checks are reported.
//
//   zx scripts/checkpatch.mjs [--strict] [file...]
//
// --strict adds checkpatch's CHECK-level tests; files default to all of ours.
// KVMRING_CHECKPATCH_CACHE moves the cache.
//
// Plain mode: 0 errors is the gate. The warnings that remain, each for a reason:
// - MEMORY_BARRIER, 8 in guest-netdev/ringnet_ring.c: each barrier has its comment
//   above the `if` that guards its store, or above the line before it; checkpatch
//   looks only at the line right before the barrier.
// - UNNECESSARY_ELSE, ringnet_ring.c (ringnet_rx_refill): the else is the third of
//   three cases of an if/else-if chain, each with its comment; flattening it would
//   hide that they are alternatives.
// - MEMORY_BARRIER, 4 in guest-netdev/ringnet_shim.h: the userspace definitions of
//   smp_load_acquire, smp_store_release, smp_mb and smp_rmb, not uses.
// --strict adds CHECKs we also leave: BIT_MACRO in include/kvmring/abi.h (shared with
// BPF and userspace C, which have no BIT()); CAMELCASE on static_assert's
// _Static_assert; MACRO_ARG_PRECEDENCE on a member name and MACRO_ARG_REUSE of a
// pointer in ringnet_stat_inc(), and of the index in ringnet_for_each_region(), as
// every for_each macro does; LONG_LINE_STRING on log messages kept whole for grep;
// LONG_LINE in the ring core, the metadata checks and the ABI header, left as they
// are (shared with the harness and BPF).
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { $, argv, chalk } from 'zx';

import { debugSource } from './lib/debug-kernel.mjs';

const root = join(import.meta.dirname, '..');
$.cwd = root;
$.verbose = false;
const CACHE = process.env.KVMRING_CHECKPATCH_CACHE || '/var/cache/kvmring/checkpatch';
const FILES = ['scripts/checkpatch.pl', 'scripts/spelling.txt', 'scripts/const_structs.checkpatch'];
const say = (msg) => console.log(`checkpatch: ${msg}`);

async function installedVersion(pkg) {
  const r = await $({ nothrow: true })`dpkg-query -W -f=${'${Version} ${db:Status-Abbrev}'} ${pkg}`;
  const [version, status] = r.stdout.trim().split(' ');
  return r.exitCode === 0 && status === 'ii' ? version : undefined;
}

/** The cached checkpatch.pl, fetched from the linux-source tarball the first time. */
async function ensureCheckpatch() {
  const src = debugSource();
  // Whatever linux-source of the series is installed will do; else the guest kernel's.
  let version = existsSync(src.tarball) ? await installedVersion(src.package) : undefined;
  if (!version) {
    if (process.getuid?.() !== 0) {
      throw new Error(`${src.package} is not installed: as root, apt-get install ${src.package}=${src.version}`);
    }
    say(`installing ${src.package}=${src.version}`);
    await $({ env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })`apt-get install -y -q --no-install-recommends ${`${src.package}=${src.version}`}`;
    version = src.version;
  }
  const dir = join(CACHE, version);
  const script = join(dir, FILES[0]);
  if (existsSync(script)) return script;

  say(`extracting ${FILES.join(', ')} from ${src.tarball}`);
  const tmp = `${dir}.unpack`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await $`tar -xJf ${src.tarball} -C ${tmp} ${FILES.map((f) => `${src.dir}/${f}`)}`;
  rmSync(dir, { recursive: true, force: true });
  renameSync(join(tmp, src.dir), dir);
  rmSync(tmp, { recursive: true, force: true });
  return script;
}

function ourFiles() {
  const files = [];
  for (const d of ['guest-netdev', 'kmod', 'include/kvmring']) {
    for (const f of readdirSync(join(root, d)).sort()) {
      if (/\.(c|h)$/.test(f) && !f.endsWith('.mod.c')) files.push(join(d, f));
    }
  }
  return files;
}

try {
  const checkpatch = await ensureCheckpatch();
  // Ours relative to the repository, as checkpatch names them; others as given.
  const files = argv._.length ? argv._.map((f) => relative(root, resolve(String(f)))) : ourFiles();
  const flags = ['--no-tree', '--file', '--show-types', '--color=never', ...(argv.strict ? ['--strict'] : [])];
  const total = { errors: 0, warnings: 0, checks: 0 };
  for (const f of files) {
    // From the cache directory: checkpatch writes a .checkpatch-camelcase.* file into
    // its working directory, which is not to land in the repository.
    const inCache = $({ cwd: dirname(checkpatch), nothrow: true, verbose: false, quiet: true });
    const r = await inCache`perl ${checkpatch} ${flags} ${resolve(root, f)}`;
    const out = r.stdout.trim().replaceAll(`${root}/`, '');
    const m = out.match(/total: (\d+) errors, (\d+) warnings, (?:(\d+) checks, )?\d+ lines checked/);
    if (!m) throw new Error(`${f}: checkpatch.pl gave no summary:\n${out}\n${r.stderr}`);
    const [errors, warnings, checks] = [m[1], m[2], m[3] ?? '0'].map(Number);
    total.errors += errors;
    total.warnings += warnings;
    total.checks += checks;
    if (errors + warnings + checks) {
      // The report without its closing boilerplate (summary line and advice).
      console.log(out.slice(0, out.indexOf('total: ')).trim() + '\n');
    }
    const counts = `${errors} errors, ${warnings} warnings${argv.strict ? `, ${checks} checks` : ''}`;
    console.log(`${errors ? chalk.red('FAIL') : 'ok  '} ${f}: ${counts}`);
  }
  const summary = `${files.length} files: ${total.errors} errors, ${total.warnings} warnings` +
    (argv.strict ? `, ${total.checks} checks` : '');
  say(total.errors ? chalk.red(summary) : summary);
  process.exit(total.errors ? 1 : 0);
} catch (err) {
  console.error(chalk.red(`checkpatch: ${err.stderr || err.message}`));
  process.exit(2);
}
