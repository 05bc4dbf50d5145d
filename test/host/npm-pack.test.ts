// `npm pack` and `npm install -g` of the tarball give a working `ringctl`: the
// package holds what it needs at run time (dist/src, the BPF objects, the proto
// files) and what a host or guest builds the modules from (dkms-source.mjs, the
// kernel sources, packaging/). Installed under a prefix of the test's own; npm's
// cache first, the registry for what it lacks. The tarball is of the current build
// (`npm test` builds first): --ignore-scripts skips prepack's rebuild.
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { requireTier } from '../helpers/tier.js';

const root = join(import.meta.dirname, '..', '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string };

describe('npm pack, npm install -g', function () {
  this.timeout(180_000);
  let tmp = '';
  let ringctl = '';
  let installed = '';
  const name = `pack-${process.pid}`;
  let env: NodeJS.ProcessEnv = {};

  function run(cmd: string, args: string[], opts: { cwd?: string } = {}): SpawnSyncReturns<string> {
    return spawnSync(cmd, args, { encoding: 'utf8', env, cwd: opts.cwd ?? tmp, timeout: 150_000 });
  }

  function ok(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
    const r = run(cmd, args, opts);
    assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
    return r.stdout;
  }

  before(function () {
    requireTier(this, 'host');
    if (!existsSync(join(root, 'dist/src/cli.js')) || !existsSync(join(root, 'build/bpf'))) {
      throw new Error('no build to pack: run npx zx scripts/build.mjs');
    }
    tmp = mkdtempSync(join(tmpdir(), 'npm-pack-'));
    env = { ...process.env, RINGCTL_HOST_RUN_DIR: join(tmp, 'run'), npm_config_update_notifier: 'false' };
  });

  after(() => {
    if (!tmp) return;
    if (ringctl) run(ringctl, ['host', 'down', '--name', name]);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('packs a tarball with what ringctl and the modules\' builds need', function () {
    ok('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp], { cwd: root });
    const tgz = join(tmp, `${pkg.name}-${pkg.version}.tgz`);
    assert.ok(existsSync(tgz), `npm pack made no ${tgz}: ${readdirSync(tmp).join(' ')}`);
    const files = ok('tar', ['tzf', tgz]).split('\n').map((f) => f.replace(/^package\//, ''));
    for (const f of [
      'bin/ringctl.js', 'dist/src/cli.js', 'build/bpf/xdp_ring.bpf.o', 'build/bpf/tc_transparent.bpf.o',
      'proto/kvmring/v1/stats.proto', 'scripts/dkms-source.mjs', 'packaging/dkms/dkms.conf',
      'packaging/systemd/kvmring-host@.service', 'packaging/modules-load.d/ringnet.conf',
      'kmod/Kbuild', 'kmod/kvmring_main.c', 'kmod/kvmring_format.c', 'kmod/kvmring_format.h', 'kmod/kvmring_shim.h', 'build/native/kvmring_format.wasm', 'guest-netdev/Kbuild', 'guest-netdev/ringnet_main.c', 'include/kvmring/abi.h',
    ]) {
      assert.ok(files.includes(f), `the tarball lacks ${f}`);
    }
    assert.deepEqual(files.filter((f) => /^(dist\/test|test|node_modules)\/|\.mod\.c$|\.ko$/.test(f)), []);
  });

  it('installs a ringctl on PATH that runs --version and host status', function () {
    const tgz = join(tmp, `${pkg.name}-${pkg.version}.tgz`);
    if (!existsSync(tgz)) this.skip();
    const prefix = join(tmp, 'prefix');
    ok('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tgz]);
    ringctl = join(prefix, 'bin', 'ringctl');
    installed = join(prefix, 'lib', 'node_modules', pkg.name);
    assert.ok(existsSync(ringctl), `no ${ringctl}`);
    env = { ...env, PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}` };

    assert.equal(ok('ringctl', ['--version']).trim(), pkg.version);

    const none = run('ringctl', ['host', 'status', '--name', name]);
    assert.equal(none.status, 1);
    assert.match(none.stderr, new RegExp(`kvmring ${name} is not up`));

    // The doorbell server runs from the installed package too (its bin/ringctl.js).
    ok('ringctl', ['host', 'up', '--name', name, '--guests', '2', '--doorbell']);
    const status = ok('ringctl', ['host', 'status', '--name', name]);
    assert.match(status, new RegExp(`setup +${name}: 2 guests`));
    assert.match(status, /server pid \d+ running/);
    ok('ringctl', ['host', 'down', '--name', name]);
  });

  it('stages the dkms source tree from the installed package', function () {
    if (!installed) this.skip();
    const out = ok('node', [join(installed, 'scripts/dkms-source.mjs'), join(tmp, 'src')]).trim();
    assert.equal(out, join(tmp, 'src', `kvmring-${pkg.version}`));
    for (const f of ['dkms.conf', 'kmod/kvmring_main.c', 'kmod/kvmring_shim.h', 'guest-netdev/ringnet_domain.c', 'include/kvmring/abi.h']) {
      assert.ok(existsSync(join(out, f)), `the staged tree lacks ${f}`);
    }
  });
});
