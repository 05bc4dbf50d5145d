#!/usr/bin/env zx
// Runs the test tiers in order: unit, host, lab. `npm test -- unit host` runs a
// subset; `--grep PATTERN` is passed to mocha. The run ends with
// `N passed, N failed[, N skipped]`.
import { join } from 'node:path';
import { $, argv, glob } from 'zx';

const root = join(import.meta.dirname, '..');
const TIERS = ['unit', 'host', 'lab'];
const tiers = argv._.length ? argv._ : TIERS;
for (const t of tiers) {
  if (!TIERS.includes(t)) {
    console.error(`test: unknown tier ${t}; tiers: ${TIERS.join(', ')}`);
    process.exit(2);
  }
}

const specs = tiers.map((t) => `dist/test/${t}/**/*.test.js`).filter((g) => glob.sync(g, { cwd: root }).length);
const hooks = glob.sync('dist/test/hooks.js', { cwd: root }).length ? ['--require', 'dist/test/hooks.js'] : [];
const grep = argv.grep ? ['--grep', argv.grep] : [];
$.cwd = root;
const r = await $({ stdio: 'inherit', nothrow: true })`node_modules/.bin/mocha --reporter ./test/reporter.cjs ${hooks} --timeout 120000 --slow 10000 ${grep} ${specs}`;
process.exit(r.exitCode ?? 1);
