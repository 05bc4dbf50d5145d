// What scripts/debug-kernel.mjs asks apt-get for before it builds the debug kernel
// (scripts/lib/debug-kernel.mjs packagesToInstall), without dpkg: the source at the
// guest kernel's version and every build tool it lacks.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { REPO } from '../helpers/lab.js';
import { requireTier } from '../helpers/tier.js';

interface Src { package: string; version: string }
interface DebugKernelLib {
  BUILD_TOOLS: string[];
  packagesToInstall(src: Src, installed: Map<string, string>, tarballExists: boolean): string[];
}

const SRC: Src = { package: 'linux-source-6.1', version: '6.1.192-3' };

describe('the debug kernel build: packages to install', () => {
  let lib: DebugKernelLib;
  before(async function () {
    requireTier(this, 'unit');
    lib = (await import(pathToFileURL(join(REPO, 'scripts/lib/debug-kernel.mjs')).href)) as DebugKernelLib;
  });
  const tools = () => new Map(lib.BUILD_TOOLS.map((p) => [p, '1.0']));

  it('asks for the build tools when checkpatch installed the source alone', () => {
    const installed = new Map([[SRC.package, SRC.version]]);
    assert.deepEqual(lib.packagesToInstall(SRC, installed, true), lib.BUILD_TOOLS);
    installed.set('bison', '2:3.8');
    assert.deepEqual(lib.packagesToInstall(SRC, installed, true), lib.BUILD_TOOLS.filter((p) => p !== 'bison'));
  });

  it('asks for the source at the guest kernel\'s version, first, when it or its tarball is missing', () => {
    assert.deepEqual(lib.packagesToInstall(SRC, tools(), true), [`${SRC.package}=${SRC.version}`]);
    const other = new Map([...tools(), [SRC.package, '6.1.190-1']]);
    assert.deepEqual(lib.packagesToInstall(SRC, other, true), [`${SRC.package}=${SRC.version}`]);
    const all = new Map([...tools(), [SRC.package, SRC.version]]);
    assert.deepEqual(lib.packagesToInstall(SRC, all, false), [`${SRC.package}=${SRC.version}`]);
    assert.deepEqual(lib.packagesToInstall(SRC, new Map(), false), [`${SRC.package}=${SRC.version}`, ...lib.BUILD_TOOLS]);
  });

  it('asks for nothing when the source, its tarball and the tools are here', () => {
    assert.deepEqual(lib.packagesToInstall(SRC, new Map([...tools(), [SRC.package, SRC.version]]), true), []);
  });
});
