#!/usr/bin/env zx
// One build for everything: TypeScript, BPF objects, the kernel modules (against the
// guest kernel's headers) and the host-side C programs. Warnings fail the build.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { $, argv, chalk } from 'zx';

import { guestKernel } from './lib/kernel.mjs';

const root = join(import.meta.dirname, '..');
$.cwd = root;
$.verbose = false;

/**
 * The programs of test/fixtures/bpf/ that the build compiles, for the tests to load.
 * Not xdp_ring_reject.bpf.c: the tests that need it compile it themselves.
 */
const TEST_BPF = ['xdp_verdict.bpf.c'];

const steps = {
  async ts() {
    await $`node_modules/.bin/tsc -p .`;
  },

  async bpf() {
    // ringctl's programs (bpf/) into build/bpf/; the ones only tests load
    // (test/fixtures/bpf/) into build/test/bpf/.
    const sources = [
      ...readdirSync(join(root, 'bpf')).filter((f) => f.endsWith('.bpf.c')).map((f) => ['bpf', f, 'build/bpf']),
      ...TEST_BPF.map((f) => ['test/fixtures/bpf', f, 'build/test/bpf']),
    ];
    for (const [dir, f, outDir] of sources) {
      mkdirSync(join(root, outDir), { recursive: true });
      const obj = join(root, outDir, f.replace(/\.c$/, '.o'));
      await $`clang -O2 -g -Wall -Werror -target bpf -D__TARGET_ARCH_x86 -I bpf -I include -I /usr/include/x86_64-linux-gnu -c ${dir}/${f} -o ${obj}`;
    }
  },

  async kmod() {
    const k = guestKernel();
    for (const dir of ['kmod', 'guest-netdev']) {
      if (!existsSync(join(root, dir, 'Kbuild'))) continue;
      // Kbuild has no -Werror, so that a newer compiler's new warning does not stop
      // anyone else from building the module; here any warning in the output fails.
      const r = await $`make -C ${k.headers} M=${join(root, dir)} modules 2>&1`.nothrow();
      const warnings = r.stdout.split('\n').filter((l) => /\b(warning|error):/.test(l));
      if (r.exitCode !== 0 || warnings.length) {
        throw new Error(`${dir}: kernel module build for ${k.version} failed:\n${r.stdout}`);
      }
    }
  },

  async native() {
    if (existsSync(join(root, 'Makefile'))) await $`make -s -j2`;
  },

  // Only ringctl's formatter (part of native): what `npm pack` ships.
  async wasm() {
    await $`make -s build/native/kvmring_format.wasm`;
  },
};

const only = argv._.length ? argv._ : Object.keys(steps);
try {
  for (const name of only) {
    if (!steps[name]) throw new Error(`unknown build step ${name}; steps: ${Object.keys(steps).join(', ')}`);
    await steps[name]();
  }
} catch (err) {
  console.error(chalk.red(`build: ${err.stderr || err.message}`));
  process.exit(1);
}
