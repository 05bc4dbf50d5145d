// What a libvirt user adds to a v2 guest's domain XML. libvirt's <shmem> can
// neither name the file behind a region nor map it read-only, so the roster and
// the regions go on QEMU's command line (<qemu:commandline>, the same options as
// guestQemuArgs()); the doorbell, which <shmem> can say, is a <shmem> with its
// PCI address, so that libvirt grants QEMU the socket and keeps the slot free.
import { join } from 'node:path';

import { CONSTANTS as C } from '../ring/layout.js';
import { planGuest, type HostPlan, type PlanDevice } from './isolation.js';
import { deviceQemuArgs, qemuAddr, type PlanPaths } from './qemu.js';

export const QEMU_NS = 'http://libvirt.org/schemas/domain/qemu/1.0';

export interface LibvirtXml {
  /** The attribute <domain> needs for <qemu:commandline>. */
  namespace: string;
  /** For inside <devices>: the doorbell <shmem> in doorbell mode, else ''. */
  devices: string;
  /** <qemu:commandline>, a child of <domain>. */
  commandline: string;
  /** What else the user sees to, one paragraph each. */
  notes: string[];
  /** All of it to print: the notes as an XML comment, then the elements, each saying where it goes. */
  text: string;
}

/** A value for a single-quoted XML attribute. XML has no way to write other control characters. */
export function xmlAttr(v: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x08\x0b\x0c\x0e-\x1f]/.test(v)) throw new Error(`${JSON.stringify(v)} holds a control character, which XML cannot carry`);
  const entities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', "'": '&apos;', '"': '&quot;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;' };
  return v.replace(/[&<>'"\t\n\r]/g, (c) => entities[c]);
}

/** Text inside an XML comment, which may hold no "--" and not end in "-". */
function commentText(v: string): string {
  return v.replace(/-(?=-)/g, '- ').replace(/-$/, '- ');
}

/** Words into lines of at most `width` characters, each indented by `indent`. */
function wrap(text: string, width: number, indent: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines;
}

const hex = (n: number, digits: number) => `0x${n.toString(16).padStart(digits, '0')}`;
const pciName = (devfn: number) => `00:${qemuAddr(devfn)}`;

function doorbellShmem(plan: HostPlan, dev: PlanDevice, paths: PlanPaths): string {
  if (paths.doorbell === undefined) throw new Error('a doorbell-mode plan needs the doorbell socket (paths.doorbell)');
  return [
    `<shmem name='${xmlAttr(`kvmring-${plan.name}-doorbell`)}'>`,
    `  <model type='ivshmem-doorbell'/>`,
    `  <server path='${xmlAttr(paths.doorbell)}'/>`,
    `  <msi vectors='${plan.vectors}'/>`,
    `  <address type='pci' domain='0x0000' bus='0x00' slot='${hex(dev.devfn >> 3, 2)}' function='${hex(dev.devfn & 7, 1)}'/>`,
    `</shmem>`,
  ].join('\n');
}

/**
 * What the domain of guest `slot` needs: the namespace, the doorbell <shmem>
 * (doorbell mode), the <qemu:commandline> for its roster and regions, and
 * notes on the PCI slots and file access that libvirt does not manage for
 * options on the command line. `id` prefixes the QEMU ids, as for guestQemuArgs().
 */
export function libvirtXml(plan: HostPlan, slot: number, paths: PlanPaths, id = 'kvmring'): LibvirtXml {
  const g = planGuest(plan, slot);
  const memory = g.devices.filter((d): d is Exclude<PlanDevice, { kind: 'doorbell' }> => d.kind !== 'doorbell');
  const doorbell = g.devices.find((d) => d.kind === 'doorbell');
  const args = memory.flatMap((d) => deviceQemuArgs(plan, d, paths, id));
  const commandline = ['<qemu:commandline>', ...args.map((a) => `  <qemu:arg value='${xmlAttr(a)}'/>`), '</qemu:commandline>'].join('\n');
  const devices = doorbell ? doorbellShmem(plan, doorbell, paths) : '';

  const files = (ro: boolean) => memory.filter((d) => d.readonly === ro).map((d) => join(paths.dir, d.file));
  const where = doorbell
    ? `the <shmem> below inside <devices>, and the <qemu:commandline> below as a child of <domain>`
    : `and the <qemu:commandline> below as a child of <domain>`;
  const notes = [
    `Add to the domain of ${g.name} (virsh edit DOMAIN): xmlns:qemu='${QEMU_NS}' on the <domain> element, ${where}. ` +
      `libvirt's <shmem> cannot map a file read-only or name its path, hence the command line; libvirt marks the domain tainted (custom-argv) for it.`,
    `PCI: libvirt does not know the devices on the command line. Keep ${memory.map((d) => pciName(d.devfn)).join(', ')} free on the root bus ` +
      `(no <address type='pci' bus='0x00'> at those slots in the domain); the guest finds its roster at ${pciName(C.KVMRING_ROSTER_DEVFN)}.`,
    `Files: libvirt grants QEMU (its qemu user, confined by AppArmor or SELinux) nothing on files named only on the command line. ` +
      `Let it read ${files(true).join(', ')}` +
      (files(false).length ? `, and read and write ${files(false).join(', ')}` : '') +
      `: file ownership and mode, and a rule in the AppArmor profile or an SELinux label every domain of the setup may use. ` +
      `QEMU opens a readonly=on file read-only, so the files ${g.name} does not own need no write permission.`,
  ];

  const text = [
    `<!-- kvmring setup ${commentText(plan.name)}: guest ${commentText(g.name)} (slot ${g.slot}), isolation ${plan.isolation}, ${plan.mode} mode.`,
    ...notes.flatMap((n, i) => ['', ...wrap(`${i + 1}. ${commentText(n)}`, 88, '     ')]),
    '-->',
    ...(doorbell ? ['<!-- inside <devices>: -->', devices] : []),
    `<!-- a child of <domain>, which declares xmlns:qemu: -->`,
    commandline,
  ].join('\n');
  return { namespace: `xmlns:qemu='${QEMU_NS}'`, devices, commandline, notes, text };
}
