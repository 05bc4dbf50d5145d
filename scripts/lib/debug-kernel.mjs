// Where the debug kernel tier's kernel lives: Debian's linux-source of the guest
// kernel's version, configured with scripts/debug-kernel.config and built once by
// scripts/debug-kernel.mjs into a cache outside the repository, keyed by the source
// version and a hash of the fragment.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { guestKernel } from './kernel.mjs';
import { REPO } from './lab-config.mjs';

export const FRAGMENT = join(REPO, 'scripts/debug-kernel.config');
export const CACHE = process.env.KVMRING_DEBUG_KERNEL_CACHE || '/var/cache/kvmring/debug-kernel';
/** ringnet.ko built against the debug tree; guest-netdev/ringnet.ko stays the normal one. */
export const DEBUG_RINGNET_KO = 'build/debug/ringnet.ko';

function dpkgVersion(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Version} ${db:Status-Abbrev}', pkg], { encoding: 'utf8' });
  const [version, status] = (r.stdout ?? '').trim().split(' ');
  return r.status === 0 && status === 'ii' ? version : undefined;
}

/** What building the kernel takes besides its source. */
export const BUILD_TOOLS = ['flex', 'bison', 'bc', 'libelf-dev', 'libssl-dev'];

/**
 * What apt-get must install before the build: the source `src` (debugSource()) unless
 * that version and its tarball are here, and each build tool missing. The source may
 * be here without the tools: checkpatch installs it alone. `installed` maps a package
 * to the version dpkg has installed.
 */
export function packagesToInstall(src, installed, tarballExists) {
  const want = BUILD_TOOLS.filter((p) => !installed.has(p));
  if (installed.get(src.package) !== src.version || !tarballExists) want.unshift(`${src.package}=${src.version}`);
  return want;
}

/** The installed versions of `packages`, by name; a package not installed is absent. */
export function installedVersions(packages) {
  return new Map(packages.map((p) => [p, dpkgVersion(p)]).filter(([, v]) => v !== undefined));
}

/** The Debian source package and version the debug kernel is built from: those of the guest kernel. */
export function debugSource() {
  const k = guestKernel();
  const version = dpkgVersion(`linux-image-${k.version}`) ?? dpkgVersion(`linux-image-${k.version}-unsigned`);
  if (!version) throw new Error(`cannot tell the Debian version of the guest kernel ${k.version}`);
  const series = k.version.split('.').slice(0, 2).join('.');
  return { package: `linux-source-${series}`, version, tarball: `/usr/src/linux-source-${series}.tar.xz`, dir: `linux-source-${series}` };
}

/** Paths of the debug kernel for the current source and fragment; `built` says whether it is there. */
export function debugKernelPaths() {
  const src = debugSource();
  const hash = createHash('sha256').update(readFileSync(FRAGMENT)).digest('hex').slice(0, 12);
  const dir = join(CACHE, `${src.version}-${hash}`);
  const tree = join(dir, src.dir);
  const stamp = join(dir, 'built');
  const built = existsSync(stamp);
  return {
    src,
    dir,
    tree,
    stamp,
    built,
    release: built ? readFileSync(stamp, 'utf8').trim() : undefined,
    vmlinuz: join(tree, 'arch/x86/boot/bzImage'),
    log: join(dir, 'build.log'),
  };
}

/** The debug kernel in the shape of guestKernel(); throws with the fix if it is not built. */
export function debugKernel() {
  const p = debugKernelPaths();
  if (!p.built) throw new Error('the debug kernel is not built: run `zx scripts/debug-kernel.mjs` (about an hour on 2 cores)');
  if (!existsSync(join(REPO, DEBUG_RINGNET_KO))) {
    throw new Error(`${DEBUG_RINGNET_KO} is missing: run \`zx scripts/debug-kernel.mjs\` (it rebuilds only that)`);
  }
  return {
    version: p.release,
    vmlinuz: p.vmlinuz,
    headers: p.tree,
    modules: undefined,
    debug: true,
    ringnet: DEBUG_RINGNET_KO,
  };
}
