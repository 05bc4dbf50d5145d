// The QEMU options that give a guest the region: ivshmem-plain over a shared
// memory backend, or ivshmem-doorbell over a chardev to the doorbell server (which
// passes QEMU the region's fd and the guest's id).
import { formatSize } from './args.js';
import type { HostState } from './state.js';

/** A value inside a QEMU option list: a comma is written as two. */
const optval = (v: string) => v.replace(/,/g, ',,');

/** The options for one ivshmem device with QEMU id `id`; QEMU reads sizes with binary suffixes (16M). */
export function qemuArgs(state: Pick<HostState, 'mode' | 'path' | 'size' | 'vectors' | 'doorbell'>, id = 'kvmring0'): string[] {
  if (state.mode === 'doorbell') {
    if (!state.doorbell) throw new Error('a doorbell-mode state without a doorbell socket');
    return ['-chardev', `socket,path=${optval(state.doorbell.socket)},id=${id}`, '-device', `ivshmem-doorbell,chardev=${id},vectors=${state.vectors}`];
  }
  return ['-object', `memory-backend-file,id=${id},mem-path=${optval(state.path)},size=${formatSize(state.size)},share=on`, '-device', `ivshmem-plain,memdev=${id}`];
}
