// kvmring.ko builds with W=1 and not one warning against the guest kernel's
// headers, from a copy of kmod/ and include/ (the tree's own build stays
// untouched). This host cannot load modules; the lab loads it in a guest.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { requireTier } from '../helpers/tier.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** The newest Debian kernel headers (the guest kernel's: linux-headers-amd64), or undefined. */
function headers(): string | undefined {
  const want = process.env.KVMRING_KERNEL;
  const versions = readdirSync('/usr/src')
    .filter((d) => /^linux-headers-.*-amd64$/.test(d) && existsSync(join('/usr/src', d, 'Makefile')))
    .filter((d) => !want || d === `linux-headers-${want}`)
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  return versions.length ? join('/usr/src', versions.at(-1)!) : undefined;
}

describe('kvmring.ko', function () {
  this.timeout(300_000);
  let dir: string;
  let kdir: string;

  before(function () {
    requireTier(this, 'host');
    const h = headers();
    if (!h) throw new Error('no kernel headers under /usr/src: run npm run setup (linux-headers-amd64)');
    kdir = h;
    dir = mkdtempSync(join(tmpdir(), 'kvmring-kmod-'));
    cpSync(join(root, 'kmod'), join(dir, 'kmod'), { recursive: true, filter: (src) => !/\.(o|ko|mod|cmd|mod\.c)$|Module\.symvers|modules\.order/.test(src) });
    cpSync(join(root, 'include'), join(dir, 'include'), { recursive: true });
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('builds with W=1 and no warning against the guest kernel headers, the formatter linked in', () => {
    const r = spawnSync('make', ['-C', kdir, `M=${join(dir, 'kmod')}`, 'modules', 'W=1'], { encoding: 'utf8' });
    const out = `${r.stdout}${r.stderr}`;
    assert.equal(r.status, 0, out);
    assert.deepEqual(out.split('\n').filter((l) => /\b(warning|error):/.test(l)), []);
    const info = spawnSync('modinfo', [join(dir, 'kmod', 'kvmring.ko')], { encoding: 'utf8' });
    assert.equal(info.status, 0, info.stderr);
    assert.match(info.stdout, /^parm:\s+max_bytes:/m);
    const nm = spawnSync('nm', [join(dir, 'kmod', 'kvmring.ko')], { encoding: 'utf8' });
    for (const sym of ['kvmring_owned_format', 'kvmring_roster_publish', 'kvmring_roster_check']) assert.match(nm.stdout, new RegExp(` T ${sym}$`, 'm'), sym);
  });
});
