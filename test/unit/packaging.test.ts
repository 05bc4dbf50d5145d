// packaging/: what its files say agrees with the package and with each other.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..', '..');
const read = (f: string) => readFileSync(join(root, f), 'utf8');

describe('packaging', () => {
  const conf = read('packaging/dkms/dkms.conf');

  it('gives dkms the package\'s version', () => {
    const pkg = JSON.parse(read('package.json')) as { version: string };
    assert.equal(/^PACKAGE_VERSION="([^"]+)"$/m.exec(conf)?.[1], pkg.version);
  });

  it('builds with dkms every module modules-load.d loads, from the directory build.mjs builds it in', () => {
    const built = new Map([...conf.matchAll(/^BUILT_MODULE_NAME\[(\d)\]="(\w+)"$/gm)].map((m) => [m[2], m[1]]));
    assert.deepEqual([...built.keys()].sort(), ['kvmring', 'ringnet']);
    const where = { kvmring: 'kmod/', ringnet: 'guest-netdev/' } as const;
    for (const [mod, dir] of Object.entries(where)) {
      assert.match(conf, new RegExp(`^BUILT_MODULE_LOCATION\\[${built.get(mod)}\\]="${dir}"$`, 'm'));
      assert.match(conf, new RegExp(`M=\\$\\{dkms_tree\\}/\\$\\{PACKAGE_NAME\\}/\\$\\{PACKAGE_VERSION\\}/build/${dir.slice(0, -1)} modules`));
      const load = read(`packaging/modules-load.d/${mod}.conf`).split('\n').filter((l) => l && !l.startsWith('#'));
      assert.deepEqual(load, [mod]);
    }
  });
});
