#!/usr/bin/env zx
// Runs the test tiers in order: lint, unit, host, lab. `npm test -- unit host` runs a
// subset; `--grep PATTERN` is passed to mocha. The run ends with
// `N passed, N failed[, N skipped]`. The lint tier (test/lint/) is mocha too: each
// linter is one test, so it counts like any other (`npm run lint` runs ESLint alone).
//
// `npm test -- debug` runs the debug tier, never part of the default run: the lab
// tests in DEBUG_SPECS on guests booting the debug kernel (KASAN, lockdep,
// DEBUG_ATOMIC_SLEEP; build it first with `zx scripts/debug-kernel.mjs`), in a lab
// of its own (KVMRING_TEST_LAB, default "debug"). Each guest's console is kept in
// build/debug/logs/ and any KASAN, lockdep, BUG or WARNING splat in it fails the run.
import { join } from 'node:path';
import { $, argv, glob } from 'zx';

const root = join(import.meta.dirname, '..');
const TIERS = ['lint', 'unit', 'host', 'lab'];
const EXTRA_TIERS = ['debug'];
const DEBUG_SPECS = ['dist/test/lab/driver.test.js', 'dist/test/lab/hostile.test.js'];
const tiers = argv._.length ? argv._ : TIERS;
for (const t of tiers) {
  if (![...TIERS, ...EXTRA_TIERS].includes(t)) {
    console.error(`test: unknown tier ${t}; tiers: ${TIERS.join(', ')} (default), ${EXTRA_TIERS.join(', ')}`);
    process.exit(2);
  }
}
const debug = tiers.includes('debug');
if (debug && tiers.length > 1) {
  console.error('test: the debug tier runs alone (its labs boot another kernel): `npm test -- debug`');
  process.exit(2);
}

const specs = debug
  ? DEBUG_SPECS.filter((f) => glob.sync(f, { cwd: root }).length)
  : tiers.map((t) => `dist/test/${t}/**/*.test.js`).filter((g) => glob.sync(g, { cwd: root }).length);
const hooks = glob.sync('dist/test/hooks.js', { cwd: root }).length ? ['--require', 'dist/test/hooks.js'] : [];
const grep = argv.grep ? ['--grep', argv.grep] : [];
$.cwd = root;
if (debug) {
  // The lab tests read these: the debug kernel, and a lab name of the tier's own.
  process.env.KVMRING_LAB_KERNEL = 'debug';
  process.env.KVMRING_TEST_LAB ??= 'debug';
  const built = await $({ nothrow: true, quiet: true })`node scripts/debug-kernel.mjs --path`;
  if (built.exitCode !== 0) {
    console.error('test: the debug kernel is not built: run `zx scripts/debug-kernel.mjs` first (about an hour on 2 cores)');
    process.exit(1);
  }
}
const timeout = debug ? 600000 : 120000;
const r = await $({ stdio: 'inherit', nothrow: true })`node_modules/.bin/mocha --reporter ./test/reporter.cjs ${hooks} --timeout ${timeout} --slow 10000 ${grep} ${specs}`;
process.exit(r.exitCode ?? 1);
