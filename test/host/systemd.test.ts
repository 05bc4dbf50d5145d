// packaging/systemd/: the units pass `systemd-analyze verify`, in a root of the
// test's own (the units, their /etc/kvmring configuration and a stand-in
// /usr/bin/ringctl; systemd's own units from this machine), nothing installed.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { isDoorbellServer } from '../../src/host/process.js';
import { hostSetup } from '../helpers/host-setup.js';
import { requireTier } from '../helpers/tier.js';
import { eventually } from '../helpers/time.js';

const root = join(import.meta.dirname, '..', '..', '..');
const units = join(root, 'packaging', 'systemd');
const INSTANCES = ['kvmring-host@lab.service', 'kvmring-doorbell@lab.service', 'ringctl-serve.service'];

describe('the systemd units', function () {
  this.timeout(60_000);
  let fake = '';

  before(function () {
    requireTier(this, 'host');
    if (spawnSync('sh', ['-c', 'command -v systemd-analyze']).status !== 0) throw new Error('systemd-analyze is not installed');
    fake = mkdtempSync(join(tmpdir(), 'units-'));
    for (const d of ['etc/systemd/system', 'etc/kvmring', 'usr/bin', 'usr/lib/systemd']) mkdirSync(join(fake, d), { recursive: true });
    for (const f of readdirSync(units)) copyFileSync(join(units, f), join(fake, 'etc/systemd/system', f));
    copyFileSync(join(root, 'packaging/etc/kvmring.conf'), join(fake, 'etc/kvmring/lab.conf'));
    symlinkSync('/usr/lib/systemd/system', join(fake, 'usr/lib/systemd/system'));
  });

  after(() => {
    if (fake) rmSync(fake, { recursive: true, force: true });
  });

  function verify() {
    return spawnSync('systemd-analyze', ['verify', '--man=no', `--root=${fake}`, ...INSTANCES], { encoding: 'utf8' });
  }

  it('pass systemd-analyze verify with ringctl in /usr/bin, and fail without it', function () {
    const stub = join(fake, 'usr/bin/ringctl');
    writeFileSync(stub, '#!/bin/sh\nexit 0\n');
    chmodSync(stub, 0o755);
    const ok = verify();
    assert.equal(ok.status, 0, `systemd-analyze verify failed:\n${ok.stdout}${ok.stderr}`);
    assert.doesNotMatch(ok.stdout + ok.stderr, /kvmring|ringctl/, 'systemd-analyze has something to say about our units');

    rmSync(stub);
    const missing = verify();
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /kvmring-host@lab\.service: Command \/usr\/bin\/ringctl is not executable/);
  });

  it('keep the setup on a oneshot unit and restart only the doorbell server', function () {
    const unit = (f: string) => readFileSync(join(units, f), 'utf8');
    const host = unit('kvmring-host@.service');
    assert.match(host, /^Type=oneshot$/m);
    assert.match(host, /^RemainAfterExit=yes$/m);
    assert.match(host, /^ExecStart=\/usr\/bin\/ringctl host up --name %i \$KVMRING_HOST_ARGS$/m);
    assert.match(host, /^ExecStop=\/usr\/bin\/ringctl host down --name %i$/m);
    const bell = unit('kvmring-doorbell@.service');
    assert.match(bell, /^Type=exec$/m);
    assert.match(bell, /^Restart=on-failure$/m);
    assert.match(bell, /^BindsTo=kvmring-host@%i\.service$/m);
    // `host down` stops the server only if its command line is `host doorbell-server NAME ...`.
    const exec = /^ExecStart=(.*)$/m.exec(bell)?.[1].replaceAll('%i', 'lab').split(' ');
    assert.ok(exec);
    assert.deepEqual(exec.slice(1, 4), ['host', 'doorbell-server', 'lab']);
    const serve = unit('ringctl-serve.service');
    assert.match(serve, /^ExecStart=\/usr\/bin\/ringctl serve --follow \$RINGCTL_SERVE_ARGS$/m);
  });
});

describe('ringctl host doorbell-server NAME --replace (kvmring-doorbell@.service)', function () {
  this.timeout(60_000);
  const { name, cli, stateDir, state } = hostSetup('unit');
  let child: ChildProcess | undefined;

  afterEach(() => {
    child?.kill('SIGKILL');
    child = undefined;
  });

  it('takes over from the server host up started, records itself, and host down stops it', async function () {
    const up = await cli('host', 'up', '--name', name, '--guests', '2', '--doorbell');
    assert.equal(up.code, 0, up.stdout + up.stderr);
    const first = state().doorbell?.pid;
    assert.ok(first !== undefined && isDoorbellServer(first, name));

    const env = { ...process.env, RINGCTL_HOST_RUN_DIR: dirname(stateDir()) };
    const c = spawn(process.execPath, [join(root, 'bin/ringctl.js'), 'host', 'doorbell-server', name, '--replace'], { env, stdio: 'ignore' });
    child = c;
    const pid = c.pid;
    assert.ok(pid !== undefined);
    await eventually(20_000, `the state records the new server, pid ${pid}`, () => {
      assert.equal(c.exitCode, null, 'the replacing server exited');
      return state().doorbell?.pid === pid;
    }, { every: 100, detail: () => `it records ${state().doorbell?.pid}` });
    assert.equal(isDoorbellServer(first, name), false, 'the first server still runs');
    const exited = new Promise<number | null>((resolve) => c.once('exit', (code) => resolve(code)));
    const down = await cli('host', 'down', '--name', name);
    assert.equal(down.code, 0, down.stdout + down.stderr);
    // A clean stop, which Restart=on-failure does not restart.
    assert.equal(await exited, 0);
  });
});
