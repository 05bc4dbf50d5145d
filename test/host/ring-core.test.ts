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

/** Runs a unit test program of harness/ and checks its summary line: no failure, enough checks. */
function unitTests(name: string, minChecks: number) {
  const r = run(native(name), []);
  assert.equal(r.error, undefined);
  assert.equal(r.status, 0, `${name} failed:\n${r.stderr.slice(-4000)}`);
  const m = new RegExp(`^${name}: (\\d+) checks, (\\d+) failed$`, 'm').exec(r.stdout);
  assert.ok(m, `no summary in:\n${r.stdout}`);
  assert.equal(Number(m[2]), 0);
  assert.ok(Number(m[1]) > minChecks, `only ${m[1]} checks ran`);
  assert.doesNotMatch(r.stderr, /AddressSanitizer|runtime error/);
}

/**
 * A bounded run of a libFuzzer target of harness/, from an empty corpus and the
 * given directories of inputs (replayed first). A fixed seed keeps it reproducible;
 * it is bounded by runs and by time, and a loaded machine gets fewer runs, never none.
 */
function fuzzRun(name: string, seconds: number, inputs: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  try {
    mkdirSync(join(dir, 'corpus'));
    const r = run(native(name), ['-runs=200000', `-max_total_time=${seconds}`, '-seed=1', `-artifact_prefix=${dir}/`, join(dir, 'corpus'), ...inputs], dir);
    assert.equal(r.error, undefined);
    assert.equal(r.status, 0, `${name} found a failure:\n${r.stderr.slice(-4000)}`);
    const m = /Done (\d+) runs in \d+ second/.exec(r.stderr);
    assert.ok(m, `no libFuzzer summary in:\n${r.stderr.slice(-2000)}`);
    assert.ok(Number(m[1]) >= 1_000, `only ${m[1]} fuzz runs`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('ring core (guest-netdev/ringnet_ring.c) in the userspace harness', () => {
  before(function () {
    requireTier(this, 'host');
  });

  it('passes every unit test under AddressSanitizer and UBSan', () => {
    unitTests('ring_test', 50_000);
  });

  it('keeps the driver\'s locking model free of data races under ThreadSanitizer', () => {
    // Producers, a waker and peer work share the tx lock; a consumer the rx lock.
    // The run stops by itself (frame count or --seconds); nothing here is timed.
    const r = run(native('ring_race'), ['--seconds', '5']);
    assert.equal(r.error, undefined);
    assert.doesNotMatch(r.stderr, /ThreadSanitizer/, `ring_race raced:\n${r.stderr.slice(-4000)}`);
    assert.equal(r.status, 0, `ring_race failed:\n${r.stdout}\n${r.stderr.slice(-4000)}`);
    const m = /^ring_race: (\d+) frames sent, (\d+) delivered .*, (\d+) stops, (\d+) wakes, (\d+) re-attaches; 0 damaged, 0 out of order, 0 lost; tx resets 0 bad_index 0 follows 0; rx resets 0 bad_index 0 follows 0 bad_desc 0 bad_meta 0 dropped 0$/m.exec(r.stdout);
    assert.ok(m, `unexpected summary:\n${r.stdout}`);
    assert.equal(m[1], m[2]);
    // The queue stopped and was woken, under re-attaches: the paths in question ran.
    assert.ok(Number(m[3]) >= 1 && Number(m[4]) >= 1 && Number(m[5]) >= 1, r.stdout);
    // Every stop was answered by a wake, the last one too.
    assert.equal(m[3], m[4], r.stdout);
  });

  it('reports a data race when the waker calls ringnet_tx_has_room() outside the tx lock', () => {
    // The old driver's bug, reproduced on purpose: shows the harness can fail.
    const r = run(native('ring_race'), ['--unlocked-room', '--seconds', '5']);
    assert.equal(r.error, undefined);
    assert.notEqual(r.status, 0, `no failure without the lock:\n${r.stdout}`);
    assert.match(r.stderr, /WARNING: ThreadSanitizer: data race/);
    assert.match(r.stderr, /ringnet_tx_has_room/);
    // The first report ends it: going on let the waker follow a pointer that a
    // re-attach was rewriting, and TSan's SEGV handler could then hang the run.
    assert.equal(r.status, 66, r.stderr.slice(-4000));
    assert.equal(r.stderr.match(/WARNING: ThreadSanitizer/g)?.length, 1, r.stderr.slice(-4000));
    assert.doesNotMatch(r.stderr, /DEADLYSIGNAL|SEGV/);
  });

  it('ends, and fails naming the stop, when the stopped queue never sees room again', () => {
    // A consumer that never consumes (--wedge): the one stop is never answered. The run
    // must end by itself after its grace, as it must when --unlocked-room breaks the ring.
    const r = run(native('ring_race'), ['--wedge', '--seconds', '1']);
    assert.equal(r.error, undefined, 'ring_race did not end by itself');
    assert.equal(r.status, 1, `${r.stdout}\n${r.stderr.slice(-4000)}`);
    assert.match(r.stderr, /the unicast queue was still stopped \d+ s after time was up/);
    assert.match(r.stdout, /, [1-9]\d* stops, 0 wakes,/);
  });

  it('survives a bounded fuzz run over validation and dequeue', () => {
    // The inputs that once found bugs (harness/fuzz-regress) are replayed first.
    fuzzRun('ring_fuzz', 25, [fileURLToPath(new URL('../../../harness/fuzz-regress', import.meta.url))]);
  });
});

/**
 * The host-tier suite of a part of ringnet.ko that harness/ tests on its own: its unit
 * test program, then a bounded run of its fuzzer.
 */
function harnessSuite(title: string, unit: string, minChecks: number, fuzz: string, fuzzes: string) {
  describe(title, () => {
    before(function () {
      requireTier(this, 'host');
    });

    it('passes every unit test under AddressSanitizer and UBSan', () => {
      unitTests(unit, minChecks);
    });

    it(`survives a bounded fuzz run over ${fuzzes}`, () => {
      fuzzRun(fuzz, 20);
    });
  });
}

harnessSuite('peer membership (guest-netdev/ringnet_member.c) in the userspace harness',
  'member_test', 400, 'member_fuzz', 'scans of rewritten peer entries under a roster');
harnessSuite('the roster (guest-netdev/ringnet_roster.c) in the userspace harness',
  'roster_test', 50_000, 'roster_fuzz', 'arbitrary and rewritten rosters');
