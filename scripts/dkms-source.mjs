#!/usr/bin/env node
// Stages the DKMS source tree of package kvmring (packaging/dkms/dkms.conf): that
// file, kmod/, guest-netdev/ and include/kvmring/, sources only, into
// DEST/kvmring-VERSION (DEST defaults to /usr/src, where `dkms add kvmring/VERSION`
// looks), and prints that directory. Plain Node: it runs from the npm package too.
//
//   node scripts/dkms-source.mjs [DEST]
//   dkms install kvmring/VERSION          # builds and installs both modules
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The directories of the tree, and which of their files are sources. */
const DIRS = ['kmod', 'guest-netdev', 'include/kvmring'];
// Kbuild, C and headers; not the .mod.c files a build in the checkout leaves.
const SOURCE = /^(Kbuild|(?!.*\.mod\.c$).*\.[ch])$/;

/** The version dkms.conf says; it must be package.json's. */
export function dkmsVersion() {
  const conf = readFileSync(join(root, 'packaging/dkms/dkms.conf'), 'utf8');
  const m = /^PACKAGE_VERSION="([^"]+)"$/m.exec(conf);
  if (!m) throw new Error('packaging/dkms/dkms.conf has no PACKAGE_VERSION="..."');
  return m[1];
}

/** Copies the tree into dest/kvmring-VERSION (replacing what was there); returns that path. */
export function stageDkmsSource(dest) {
  const out = join(dest, `kvmring-${dkmsVersion()}`);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  copyFileSync(join(root, 'packaging/dkms/dkms.conf'), join(out, 'dkms.conf'));
  for (const dir of DIRS) {
    mkdirSync(join(out, dir), { recursive: true });
    for (const f of readdirSync(join(root, dir)).filter((n) => SOURCE.test(n))) {
      copyFileSync(join(root, dir, f), join(out, dir, f));
    }
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    console.log(stageDkmsSource(process.argv[2] ?? '/usr/src'));
  } catch (err) {
    console.error(`dkms-source: ${err.message}`);
    process.exit(1);
  }
}
