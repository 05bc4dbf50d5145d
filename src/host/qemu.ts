// The QEMU options that give a guest the region: ivshmem-plain over a shared
// memory backend, or ivshmem-doorbell over a chardev to the doorbell server (which
// passes QEMU the region's fd and the guest's id).
import { formatSize } from './args.js';
import type { HostState } from './state.js';

/** A value inside a QEMU option list: a comma is written as two. */
const optval = (v: string) => v.replace(/,/g, ',,');

/** One ivshmem-plain device over a file, for ivshmemPlainArgs(). */
export interface PlainDevice {
  /** the QEMU id of the memory backend */
  id: string;
  /** the file behind BAR2, as large as `size` */
  path: string;
  /** bytes; a power of two (a BAR's size) */
  size: number;
  /**
   * Map the file read-only (`readonly=on` on the backend): QEMU opens it O_RDONLY
   * and maps it PROT_READ, and the guest's writes to BAR2 do not reach it.
   */
  readonly?: boolean;
  /** the device's PCI slot on the guest's root bus ("10" or "10.0", hex), else QEMU picks one */
  addr?: string;
}

/** The options for an ivshmem-plain device over a shared file backend, read-write unless `readonly`. */
export function ivshmemPlainArgs(dev: PlainDevice): string[] {
  if (dev.addr !== undefined && !/^[0-9a-f]{1,2}(\.[0-7])?$/i.test(dev.addr)) throw new Error(`${dev.addr} is not a PCI slot (hex slot, optional .function)`);
  const backend = `memory-backend-file,id=${dev.id},mem-path=${optval(dev.path)},size=${formatSize(dev.size)},share=on`;
  return [
    '-object',
    dev.readonly ? `${backend},readonly=on` : backend,
    '-device',
    `ivshmem-plain,memdev=${dev.id}${dev.addr === undefined ? '' : `,addr=${dev.addr}`}`,
  ];
}

/** The options for one ivshmem device with QEMU id `id`; QEMU reads sizes with binary suffixes (16M). */
export function qemuArgs(state: Pick<HostState, 'mode' | 'path' | 'size' | 'vectors' | 'doorbell'>, id = 'kvmring0'): string[] {
  if (state.mode === 'doorbell') {
    if (!state.doorbell) throw new Error('a doorbell-mode state without a doorbell socket');
    return ['-chardev', `socket,path=${optval(state.doorbell.socket)},id=${id}`, '-device', `ivshmem-doorbell,chardev=${id},vectors=${state.vectors}`];
  }
  return ivshmemPlainArgs({ id, path: state.path, size: state.size });
}
