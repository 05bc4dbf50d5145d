// Which guest kernel the project builds for and the lab boots: Debian's
// linux-image-amd64 and linux-headers-amd64, the newest version that has both.
import { existsSync, readdirSync } from 'node:fs';

function versionCompare(a, b) {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** { version, vmlinuz, headers, modules } of the guest kernel; throws with the fix if none. */
export function guestKernel() {
  const wanted = process.env.KVMRING_KERNEL;
  const versions = readdirSync('/lib/modules')
    .filter((v) => !wanted || v === wanted)
    .filter((v) => existsSync(`/boot/vmlinuz-${v}`) && existsSync(`/usr/src/linux-headers-${v}/Makefile`))
    .sort(versionCompare);
  const version = versions.at(-1);
  if (!version) {
    throw new Error(
      wanted
        ? `kernel ${wanted} (KVMRING_KERNEL) has no /boot/vmlinuz-${wanted} or /usr/src/linux-headers-${wanted}`
        : 'no guest kernel with headers found: run `npm run setup` (installs linux-image-amd64 and linux-headers-amd64)',
    );
  }
  return {
    version,
    vmlinuz: `/boot/vmlinuz-${version}`,
    headers: `/usr/src/linux-headers-${version}`,
    modules: `/lib/modules/${version}`,
  };
}
