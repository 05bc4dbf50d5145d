import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { requireTier } from '../helpers/tier.js';

const native = (name: string) => fileURLToPath(new URL(`../../../build/native/${name}`, import.meta.url));

function run(path: string, args: string[], cwd?: string) {
  assert.ok(existsSync(path), `${path} is missing: build it with npx zx scripts/build.mjs native`);
  return spawnSync(path, args, { cwd, encoding: 'utf8', timeout: 100_000 });
}

describe('ring core (guest-netdev/ringnet_ring.c) in the userspace harness', () => {
  before(function () {
    requireTier(this, 'host');
  });

  it('passes every unit test under AddressSanitizer and UBSan', () => {
    const r = run(native('ring_test'), []);
    assert.equal(r.error, undefined);
    assert.equal(r.status, 0, `ring_test failed:\n${r.stderr.slice(-4000)}`);
    const m = /^ring_test: (\d+) checks, (\d+) failed$/m.exec(r.stdout);
    assert.ok(m, `no summary in:\n${r.stdout}`);
    assert.equal(Number(m[2]), 0);
    assert.ok(Number(m[1]) > 50_000, `only ${m[1]} checks ran`);
    assert.doesNotMatch(r.stderr, /AddressSanitizer|runtime error/);
  });

  it('survives a bounded fuzz run over validation and dequeue', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ring-fuzz-'));
    try {
      // A fixed seed keeps the run reproducible. The corpus starts with the
      // inputs that once found bugs (harness/fuzz-regress), replayed first.
      mkdirSync(join(dir, 'corpus'));
      const regress = fileURLToPath(new URL('../../../harness/fuzz-regress', import.meta.url));
      const r = run(native('ring_fuzz'), ['-runs=200000', '-max_total_time=25', '-seed=1', `-artifact_prefix=${dir}/`, join(dir, 'corpus'), regress], dir);
      assert.equal(r.error, undefined);
      assert.equal(r.status, 0, `ring_fuzz found a failure:\n${r.stderr.slice(-4000)}`);
      // Bounded by runs and by time; a loaded machine gets fewer runs, never none.
      const m = /Done (\d+) runs in \d+ second/.exec(r.stderr);
      assert.ok(m, `no libFuzzer summary in:\n${r.stderr.slice(-2000)}`);
      assert.ok(Number(m[1]) >= 1_000, `only ${m[1]} fuzz runs`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
