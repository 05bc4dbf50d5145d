import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { runCli, type CliResult } from '../helpers/run-cli.js';
import { requireTier } from '../helpers/tier.js';

describe('ringctl host: bad input is a usage error before anything is touched', () => {
  let runDir: string;
  let env: Record<string, string | undefined>;
  const cli = (...argv: string[]): Promise<CliResult> => runCli(argv, env);
  const firstLine = (s: string) => s.split('\n')[0];

  function assertUsage(r: CliResult, message: string | RegExp) {
    assert.equal(r.code, 1, `${r.stdout}${r.stderr}`);
    const line = firstLine(r.stdout);
    if (typeof message === 'string') assert.equal(line, `Usage Error: ${message}`);
    else assert.match(line, message);
  }

  before(function () {
    requireTier(this, 'unit');
    runDir = mkdtempSync(join(tmpdir(), 'host-cli-'));
    env = { ...process.env, RINGCTL_HOST_RUN_DIR: runDir };
  });

  after(() => {
    if (runDir) {
      assert.deepEqual(readdirSync(runDir), [], 'a usage error left state behind');
      rmSync(runDir, { recursive: true, force: true });
    }
  });

  it('requires --guests', async () => {
    const r = await cli('host', 'up');
    assert.equal(r.code, 1);
    assert.match(r.stdout, /Option "--guests" is required|--guests/);
  });

  it('rejects a guest count outside 2..16', async () => {
    assertUsage(await cli('host', 'up', '--guests', '1'), '--guests must be a number of guests from 2 to 16, not "1"');
    assertUsage(await cli('host', 'up', '--guests', '17'), '--guests must be a number of guests from 2 to 16, not "17"');
  });

  it('rejects sizes that are not sizes or not powers of two', async () => {
    assertUsage(await cli('host', 'up', '--guests', '2', '--size', 'big'), '"big" is not a size; write e.g. 16M, 64M or 1G');
    assertUsage(await cli('host', 'up', '--guests', '2', '--size', '48M'), '--size must be a power of two (e.g. 16M, 64M, 1G), not 48M');
  });

  it('names the smallest size that holds the guests', async () => {
    assertUsage(
      await cli('host', 'up', '--guests', '16'),
      'a 16M region cannot hold 16 guests: 240 rings of at least 256K need --size 64M or more',
    );
  });

  it('wants --doorbell for --vectors and a plain --name', async () => {
    assertUsage(await cli('host', 'up', '--guests', '2', '--vectors', '2'), '--vectors needs --doorbell');
    assertUsage(await cli('host', 'up', '--guests', '2', '--name', '../etc'), /^Usage Error: --name must be/);
    assertUsage(await cli('host', 'status', '--name', 'a/b'), /^Usage Error: --name must be/);
    assertUsage(await cli('host', 'down', '--name', ''), /^Usage Error: --name must be/);
  });

  it('rejects a guest that is not gN, and a bad --id', async () => {
    assertUsage(await cli('host', 'qemu-args', 'guest1'), '"guest1" is not a guest; name it gN (or N), N from 1 to 16');
    assertUsage(await cli('host', 'qemu-args', 'g1', '--id', '0bad'), /^Usage Error: --id must be a QEMU id/);
  });

  it('says how to start a region that is not up', async () => {
    const r = await cli('host', 'status', '--name', 'nothing-here');
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'ringctl: kvmring nothing-here is not up; start it with `ringctl host up --guests N --name nothing-here`\n');
    const q = await cli('host', 'qemu-args', 'g1');
    assert.equal(q.code, 1);
    assert.equal(q.stderr, 'ringctl: kvmring kvmring is not up; start it with `ringctl host up --guests N`\n');
  });

  it('takes down a region that is not up without complaint', async () => {
    const r = await cli('host', 'down', '--name', 'nothing-here');
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'nothing-here: not up; nothing to do\n');
  });

  it('lists the host verbs in --help, but not the doorbell server', async () => {
    const r = await cli('--help');
    for (const verb of ['host up', 'host down', 'host status', 'host qemu-args']) assert.match(r.stdout, new RegExp(`ringctl ${verb}`));
    assert.doesNotMatch(r.stdout, /doorbell-server/);
  });
});
