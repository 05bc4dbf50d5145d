// Builds the lab guests' initramfs: static busybox, the 9p and virtio modules of the
// guest kernel (in dependency order; none for the debug kernel, which has them built in) and scripts/guest/initramfs-init.sh as /init.
// Cached under build/lab/ and rebuilt when the kernel or the init script changes.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

import { REPO } from './lab-config.mjs';

const STAGE1_MODULES = ['virtio_pci', '9p', '9pnet_virtio'];

function which(cmd) {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

/** Module files for `names` and their dependencies, dependencies first; none for a kernel without modules (the debug kernel builds them in). */
function moduleFiles(kernel, names) {
  const files = [];
  if (!kernel.modules) return files;
  for (const name of names) {
    const out = execFileSync('modprobe', ['-S', kernel.version, '--show-depends', name], { encoding: 'utf8' });
    for (const line of out.split('\n')) {
      const [verb, file] = line.trim().split(/\s+/);
      if (verb === 'insmod' && !files.includes(file)) files.push(file);
    }
  }
  return files;
}

export function buildInitramfs(kernel) {
  const init = join(REPO, 'scripts/guest/initramfs-init.sh');
  const out = join(REPO, 'build/lab', `initramfs-${kernel.version}.cpio.gz`);
  if (existsSync(out) && statSync(out).mtimeMs > statSync(init).mtimeMs) return out;

  const busybox = which('busybox');
  if (!busybox) throw new Error('busybox not found: run `npm run setup` (installs busybox-static)');
  const dir = mkdtempSync(join(tmpdir(), 'kvmring-initramfs-'));
  try {
    for (const d of ['bin', 'dev', 'proc', 'sys', 'newroot', 'lib/modules']) mkdirSync(join(dir, d), { recursive: true });
    copyFileSync(busybox, join(dir, 'bin/busybox'));
    copyFileSync(init, join(dir, 'init'));
    execFileSync('chmod', ['755', join(dir, 'init'), join(dir, 'bin/busybox')]);
    const order = [];
    for (const file of moduleFiles(kernel, STAGE1_MODULES)) {
      let name = basename(file);
      if (name.endsWith('.ko.xz') || name.endsWith('.ko.zst')) {
        // busybox insmod takes plain modules: unpack compressed ones here.
        const tool = name.endsWith('.xz') ? ['xz', '-dc'] : ['zstd', '-dc'];
        name = name.replace(/\.(xz|zst)$/, '');
        writeFileSync(join(dir, 'lib/modules', name), execFileSync(tool[0], [tool[1], file]));
      } else {
        copyFileSync(file, join(dir, 'lib/modules', name));
      }
      order.push(name);
    }
    writeFileSync(join(dir, 'modules.order'), order.map((m) => `${m}\n`).join(''));
    mkdirSync(join(REPO, 'build/lab'), { recursive: true });
    execFileSync('sh', ['-c', `find . -print0 | cpio --null -o -H newc --quiet | gzip -1 > '${out}.tmp'`], { cwd: dir });
    execFileSync('mv', [`${out}.tmp`, out]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
