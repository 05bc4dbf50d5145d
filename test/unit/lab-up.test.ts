// labUp() (test/helpers/lab.ts): one more try for a guest kernel that never
// finished booting under the emulator before anything of ours ran in it, and no
// second try for anything else. With the console of the CI run where TCG left a
// vCPU of g3 stuck in the boot's crypto self-tests for 131 s.
import assert from 'node:assert/strict';

import { type RunResult, bootFlake, labUp } from '../helpers/lab.js';
import { requireTier } from '../helpers/tier.js';

const STUCK_BOOT = `lab: guest g3 did not come up: not up after 150 s
--- QEMU ---

--- console (last lines) ---
[  141.023615] watchdog: BUG: soft lockup - CPU#1 stuck for 131s! [cryptomgr_test:52]
[  141.023983] Modules linked in:
[  141.024658] RIP: 0010:alg_test+0x4f/0x540
[  141.025057]  cryptomgr_test+0x27/0x50
`;
const RING_HANG = `lab: guest g2 did not come up: not up after 150 s
--- console (last lines) ---
[   20.1] ringnet 0000:00:11.0: ring0: joined the domain
[  141.0] watchdog: BUG: soft lockup - CPU#0 stuck for 120s! [kworker/0:1:30]
`;
const QEMU_EXIT = 'lab: guest g1 did not come up: its QEMU exited ({"code":1})\n';

const result = (code: number, stderr = ''): RunResult => ({ code, stdout: Buffer.alloc(0), stderr: Buffer.from(stderr) });

/** A `lab` that answers each call with the next of `answers`, recording the calls. */
function fakeLab(answers: RunResult[]) {
  const calls: string[][] = [];
  const run = (args: string[]) => {
    calls.push(args);
    return Promise.resolve(args[0] === 'down' ? result(0) : (answers.shift() ?? result(99, 'no answer left')));
  };
  return { calls, run };
}

describe('labUp: one more try for a guest kernel that never finished booting', function () {
  before(function () {
    requireTier(this, 'unit');
  });

  it('tells a boot that never finished from a failure where ringnet ran, or QEMU exited', () => {
    assert.equal(bootFlake(STUCK_BOOT), true);
    assert.equal(bootFlake(RING_HANG), false);
    assert.equal(bootFlake(QEMU_EXIT), false);
    assert.equal(bootFlake('lab: g1: ring0 did not come up: timeout'), false);
  });

  it('downs the lab and tries once more after a stuck boot, and only once', async () => {
    const { calls, run } = fakeLab([result(1, STUCK_BOOT), result(0)]);
    const err = console.error;
    console.error = () => {};
    try {
      assert.equal((await labUp(['up', '--guests', '3'], {}, run)).code, 0);
      assert.deepEqual(calls, [['up', '--guests', '3'], ['down'], ['up', '--guests', '3']]);
      const twice = fakeLab([result(1, STUCK_BOOT), result(1, STUCK_BOOT)]);
      assert.equal((await labUp(['up'], {}, twice.run)).code, 1);
      assert.deepEqual(twice.calls, [['up'], ['down'], ['up']]);
    } finally {
      console.error = err;
    }
  });

  it('returns any other failure at once', async () => {
    for (const out of [RING_HANG, QEMU_EXIT]) {
      const { calls, run } = fakeLab([result(1, out), result(0)]);
      assert.equal((await labUp(['up'], {}, run)).code, 1);
      assert.deepEqual(calls, [['up']]);
    }
  });
});
