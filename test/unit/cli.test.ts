import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { runCli } from '../helpers/run-cli.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

describe('ringctl', () => {
  it('prints the package version for --version', async () => {
    const r = await runCli(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), pkg.version);
  });

  it('names itself and its usage in --help', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /kvmring controller/);
    assert.match(r.stdout, /\$ ringctl <command>/);
  });

  it('rejects an unknown verb with a non-zero code', async () => {
    const r = await runCli(['frobnicate']);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /Command not found/);
  });
});
