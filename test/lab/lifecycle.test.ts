// `lab up`/`lab down` on a lab of their own: nothing left behind, safe to repeat,
// and a crashed lab cleaned up by the next `lab up`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

import { runLab } from '../helpers/lab.js';
import { alive } from '../helpers/process.js';
import { requireTier } from '../helpers/tier.js';
import { eventually } from '../helpers/time.js';

const NAME = 'lifecycle';
const lab = (args: string[]) => runLab(args, { labName: NAME });

function leftovers(): string[] {
  const found: string[] = [];
  const procs = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  for (const line of procs.split('\n')) {
    if (line.includes(`kvmring-${NAME}`) || line.includes(`/run/kvmring/${NAME}`)) found.push(`process: ${line.trim()}`);
  }
  const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (netns.split('\n').some((l) => l.split(' ')[0] === `kvmring-${NAME}`)) found.push(`netns kvmring-${NAME}`);
  for (const f of readdirSync('/dev/shm').filter((x) => x.startsWith(`kvmring-${NAME}+`))) found.push(`file /dev/shm/${f}`);
  if (existsSync(`/run/kvmring/${NAME}`)) found.push(`state /run/kvmring/${NAME}`);
  if (existsSync(`/run/kvmring/host/${NAME}`)) found.push(`host state /run/kvmring/host/${NAME}`);
  return found;
}

describe('lab lifecycle', function () {
  this.timeout(180_000);

  before(async function () {
    requireTier(this, 'lab');
    await lab(['down']);
  });

  after(async () => {
    await lab(['down']);
  });

  it('refuses a second `lab up` while the lab is up', async () => {
    const up = await lab(['up', '--guests', '1']);
    assert.equal(up.code, 0, up.stderr.toString());
    const again = await lab(['up', '--guests', '1']);
    assert.equal(again.code, 1);
    assert.match(again.stderr.toString(), /lab lifecycle is already up; run `npm run lab -- down` first/);
  });

  it('leaves no process, namespace, tap device or region behind after `lab down`', async () => {
    const down = await lab(['down']);
    assert.equal(down.code, 0, down.stderr.toString());
    assert.match(down.stdout.toString(), /lab lifecycle is down/);
    assert.deepEqual(leftovers(), []);
  });

  it('is safe to run `lab down` twice', async () => {
    const down = await lab(['down']);
    assert.equal(down.code, 0);
    assert.match(down.stdout.toString(), /lab lifecycle is not up: nothing to do/);
  });

  it('cleans up after a crashed lab on the next `lab up`', async () => {
    assert.equal((await lab(['up', '--guests', '1'])).code, 0);
    // Crash: the supervisor dies without a word, its QEMU lives on as an orphan.
    const state = JSON.parse(readFileSync(`/run/kvmring/${NAME}/state.json`, 'utf8')) as { supervisorPid: number };
    process.kill(state.supervisorPid, 'SIGKILL');
    await eventually(10_000, 'the killed supervisor gone', () => !alive(state.supervisorPid), { every: 50 });
    const up = await lab(['up', '--guests', '1']);
    assert.equal(up.code, 0, up.stderr.toString());
    assert.match(up.stdout.toString(), /cleaned up the leftovers of an earlier run/);
    const r = await runLab(['exec', 'g1', '--', 'hostname'], { labName: NAME });
    assert.equal(r.stdout.toString().trim(), 'g1');
    assert.equal((await lab(['down'])).code, 0);
    assert.deepEqual(leftovers(), []);
  });
});
