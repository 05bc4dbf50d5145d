// packaging/dkms/dkms.conf: `dkms add` and `dkms build` of the staged source tree
// (scripts/dkms-source.mjs) against the guest kernel's headers, in a DKMS tree,
// source tree and signing key of the test's own: nothing of the machine's
// /var/lib/dkms or /usr/src is touched.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { requireTier } from '../helpers/tier.js';

const root = join(import.meta.dirname, '..', '..', '..');

interface Staging {
  dkmsVersion(): string;
  stageDkmsSource(dest: string): string;
}

interface Kernel {
  version: string;
  headers: string;
}

describe('the dkms package kvmring', function () {
  this.timeout(180_000);
  let tmp = '';
  let kernel: Kernel;
  let staging: Staging;

  before(async function () {
    requireTier(this, 'host');
    if (spawnSync('sh', ['-c', 'command -v dkms']).status !== 0) {
      throw new Error('dkms is not installed: run npm run setup');
    }
    staging = (await import(join(root, 'scripts/dkms-source.mjs'))) as Staging;
    kernel = ((await import(join(root, 'scripts/lib/kernel.mjs'))) as { guestKernel(): Kernel }).guestKernel();
    tmp = mkdtempSync(join(tmpdir(), 'dkms-'));
  });

  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  function dkms(...args: string[]) {
    const r = spawnSync(
      'dkms',
      [
        ...args,
        '--dkmstree', join(tmp, 'dkms'),
        '--sourcetree', join(tmp, 'src'),
        '--installtree', join(tmp, 'installed'),
        '-k', kernel.version,
        '--kernelsourcedir', kernel.headers,
      ],
      // dkms takes its signing key from these (else /var/lib/dkms/mok.key, made if missing).
      { encoding: 'utf8', env: { ...process.env, mok_signing_key: join(tmp, 'mok.key'), mok_certificate: join(tmp, 'mok.der') } },
    );
    assert.equal(r.status, 0, `dkms ${args.join(' ')} failed (${r.status}):\n${r.stdout}${r.stderr}`);
    return r.stdout;
  }

  it('builds kvmring.ko and ringnet.ko against the guest kernel\'s headers', function () {
    const version = staging.dkmsVersion();
    const src = staging.stageDkmsSource(join(tmp, 'src'));
    assert.equal(src, join(tmp, 'src', `kvmring-${version}`));
    for (const d of ['dkms', 'installed']) mkdirSync(join(tmp, d));

    dkms('add', `kvmring/${version}`);
    const out = dkms('build', `kvmring/${version}`);
    const built = join(tmp, 'dkms', 'kvmring', version, kernel.version, 'x86_64', 'module');
    for (const ko of ['kvmring.ko', 'ringnet.ko']) {
      assert.ok(existsSync(join(built, ko)), `dkms build made no ${ko} in ${built}:\n${out}`);
    }
    const status = dkms('status', `kvmring/${version}`);
    assert.match(status, new RegExp(`kvmring/${version.replace(/\./g, '\\.')}, ${kernel.version}, x86_64: built`));
  });
});
