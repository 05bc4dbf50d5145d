// The QEMU options that give a guest its devices (ABI v2, a guest's plan in
// isolation.ts): its roster and the regions it maps, each an ivshmem-plain over a
// shared memory backend at its PCI slot, read-only where the guest is not the
// owner, and in doorbell mode an ivshmem-doorbell over a chardev to the doorbell
// server (which passes QEMU a page of its own and the guest's id).
import { join } from 'node:path';

import { formatSize } from './args.js';
import { planGuest, type HostPlan, type PlanDevice } from './isolation.js';

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

/** The options for an ivshmem-doorbell device over a socket chardev `id` to the doorbell server. */
export function ivshmemDoorbellArgs(dev: { id: string; socket: string; vectors: number; addr?: string }): string[] {
  return [
    '-chardev',
    `socket,path=${optval(dev.socket)},id=${dev.id}`,
    '-device',
    `ivshmem-doorbell,chardev=${dev.id},vectors=${dev.vectors}${dev.addr === undefined ? '' : `,addr=${dev.addr}`}`,
  ];
}

/** Where a v2 guest's files are on the host. */
export interface PlanPaths {
  /** The directory of the plan's roster and region files. */
  dir: string;
  /** In doorbell mode: the doorbell server's socket for this guest. */
  doorbell?: string;
}

/** A devfn as QEMU's addr= takes it: slot.function in hex. */
export const qemuAddr = (devfn: number) => `${(devfn >> 3).toString(16).padStart(2, '0')}.${devfn & 7}`;

/**
 * The QEMU id of a device of a v2 guest: `id`-roster, `id`-rOWNER (owner;
 * `id`-rOWNER-GROUP for an owner with a region per group), `id`-rOWNER-READER
 * (pair), `id`-doorbell.
 */
export function deviceId(plan: HostPlan, dev: PlanDevice, id: string): string {
  if (dev.kind !== 'region') return `${id}-${dev.kind}`;
  const r = plan.regions[dev.region];
  if (plan.isolation === 'pair') return `${id}-r${r.owner}-${Math.log2(r.readers)}`;
  const split = plan.regions.filter((x) => x.owner === r.owner).length > 1;
  return split ? `${id}-r${r.owner}-${r.group}` : `${id}-r${r.owner}`;
}

/** One device of a v2 guest as QEMU options. */
export function deviceQemuArgs(plan: HostPlan, dev: PlanDevice, paths: PlanPaths, id = 'kvmring'): string[] {
  const qid = deviceId(plan, dev, id);
  if (dev.kind === 'doorbell') {
    if (paths.doorbell === undefined) throw new Error('a doorbell-mode plan needs the doorbell socket (paths.doorbell)');
    return ivshmemDoorbellArgs({ id: qid, socket: paths.doorbell, vectors: plan.vectors, addr: qemuAddr(dev.devfn) });
  }
  return ivshmemPlainArgs({ id: qid, path: join(paths.dir, dev.file), size: dev.size, readonly: dev.readonly, addr: qemuAddr(dev.devfn) });
}

/**
 * The QEMU options for every device of guest `slot` of a v2 plan: the roster
 * (read-only), its own regions (read-write), the regions it reads (read-only),
 * each at the PCI slot the roster names, and in doorbell mode the doorbell.
 * `id` prefixes the QEMU ids, for a guest in several setups.
 */
export function guestQemuArgs(plan: HostPlan, slot: number, paths: PlanPaths, id = 'kvmring'): string[] {
  return planGuest(plan, slot).devices.flatMap((d) => deviceQemuArgs(plan, d, paths, id));
}
