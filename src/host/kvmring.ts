// kvmring.ko from userspace: /dev/kvmring/control's ioctls
// (include/kvmring/kvmring_ioctl.h), encoded here and checked against the C by
// test/unit/host-kvmring.test.ts, and the status text that a read() of the
// node returns. ringctl calls the ioctls through its libc binding (koffi), as
// it does the netdev ioctls: no helper program, and the structs hold no
// pointer (the roster travels inline).
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import koffi from 'koffi';

import { RingctlError } from '../common/errors.js';
import { libc } from '../common/libc.js';
import { fsCall, SysError } from '../common/sys-error.js';
import { CONSTANTS as C } from '../ring/layout.js';

/** Where the module's nodes are: $RINGCTL_KVMRING_DIR, else /dev/kvmring (control, and a node per region). */
export function kvmringDir(env: Record<string, string | undefined> = process.env): string {
  return env.RINGCTL_KVMRING_DIR || '/dev/kvmring';
}

export const controlPath = (dir: string) => join(dir, 'control');

export const IOCTL_CONSTANTS = {
  KVMRING_NAME_MAX: 192,
  KVMRING_KIND_ROSTER: 1,
  KVMRING_KIND_OWNED: 2,
} as const;

/** Sizes and [offset, size] of the ioctls' structs, under the header's names. */
export const IOCTL_LAYOUT = {
  kvmring_ioc_create: {
    size: 264,
    members: {
      name: [0, 192],
      size: [192, 8],
      node: [200, 4],
      kind: [204, 4],
      instance: [208, 8],
      owner: [216, 4],
      readers: [220, 4],
      ring_size: [224, 4],
      queues: [228, 4],
      rsvd: [232, 32],
    },
  },
  kvmring_ioc_roster: { size: 192 + C.KVMRING_ROSTER_SIZE, members: { name: [0, 192], roster: [192, C.KVMRING_ROSTER_SIZE] } },
  kvmring_ioc_destroy: { size: 192, members: { name: [0, 192] } },
} as const;

/** KVMRING_STATUS_MAX in kmod/kvmring_main.c: the longest status the module writes. */
const STATUS_MAX = 256 * 1024;

const IOC_MAGIC = 0xc5;
/** _IOW(): the kernel's encoding of a request that passes `size` bytes in (asm-generic/ioctl.h). */
const iow = (nr: number, size: number) => ((1 << 30) | (size << 16) | (IOC_MAGIC << 8) | nr) >>> 0;

export const IOCTLS = {
  KVMRING_IOC_CREATE: iow(1, IOCTL_LAYOUT.kvmring_ioc_create.size),
  KVMRING_IOC_ROSTER: iow(2, IOCTL_LAYOUT.kvmring_ioc_roster.size),
  KVMRING_IOC_DESTROY: iow(3, IOCTL_LAYOUT.kvmring_ioc_destroy.size),
} as const;

/** What a region's name may be: the module's rule. */
const NAME_RE = /^[A-Za-z0-9_@+-][A-Za-z0-9._@+-]*$/;

function putName(b: Buffer, name: string): void {
  if (!NAME_RE.test(name) || Buffer.byteLength(name) >= IOCTL_CONSTANTS.KVMRING_NAME_MAX) {
    throw new RangeError(`${JSON.stringify(name)} is no name for a kvmring.ko region (${IOCTL_CONSTANTS.KVMRING_NAME_MAX - 1} of [A-Za-z0-9._@+-] at most)`);
  }
  b.write(name, 0, 'utf8');
}

export type CreateArgs = { name: string; size: number; node: number } & (
  | { kind: 'roster' }
  | { kind: 'owned'; instance: bigint; owner: number; readers: number; ringSize: number; queues: number }
);

/** struct kvmring_ioc_create for `a`. */
export function encodeCreate(a: CreateArgs): Buffer {
  const m = IOCTL_LAYOUT.kvmring_ioc_create.members;
  const b = Buffer.alloc(IOCTL_LAYOUT.kvmring_ioc_create.size);
  putName(b, a.name);
  b.writeBigUInt64LE(BigInt(a.size), m.size[0]);
  b.writeInt32LE(a.node, m.node[0]);
  if (a.kind === 'roster') {
    b.writeUInt32LE(IOCTL_CONSTANTS.KVMRING_KIND_ROSTER, m.kind[0]);
  } else {
    b.writeUInt32LE(IOCTL_CONSTANTS.KVMRING_KIND_OWNED, m.kind[0]);
    b.writeBigUInt64LE(a.instance, m.instance[0]);
    b.writeUInt32LE(a.owner, m.owner[0]);
    b.writeUInt32LE(a.readers, m.readers[0]);
    b.writeUInt32LE(a.ringSize, m.ring_size[0]);
    b.writeUInt32LE(a.queues, m.queues[0]);
  }
  return b;
}

/** struct kvmring_ioc_roster: region `name` gets `roster` (KVMRING_ROSTER_SIZE bytes). */
export function encodeRoster(name: string, roster: Uint8Array): Buffer {
  if (roster.length !== C.KVMRING_ROSTER_SIZE) throw new RangeError(`a roster is ${C.KVMRING_ROSTER_SIZE} bytes, not ${roster.length}`);
  const b = Buffer.alloc(IOCTL_LAYOUT.kvmring_ioc_roster.size);
  putName(b, name);
  b.set(roster, IOCTL_LAYOUT.kvmring_ioc_roster.members.roster[0]);
  return b;
}

/** struct kvmring_ioc_destroy. */
export function encodeDestroy(name: string): Buffer {
  const b = Buffer.alloc(IOCTL_LAYOUT.kvmring_ioc_destroy.size);
  putName(b, name);
  return b;
}

// ---- the status ---------------------------------------------------------------

export interface ModuleMapper {
  pid: number;
  comm: string;
  writable: boolean;
}

export interface ModuleRegion {
  name: string;
  kind: 'roster' | 'owned';
  size: number;
  /** The node asked for (-1: any) and the node of its first page. */
  node: number;
  actualNode: number;
  /** One physically contiguous chunk. */
  contiguous: boolean;
  chunks: number;
  minOrder: number;
  openers: number;
  /** Mappings, and those the module could record. */
  nrMappers: number;
  mappers: ModuleMapper[];
  /** The indented lines under it: the owner's entry, or the roster's header and slots. */
  details: string[];
}

export interface ModuleStatus {
  bytes: number;
  maxBytes: number;
  regions: ModuleRegion[];
}

/** Reads the text of /dev/kvmring/control; lines it does not know it skips (a newer module may say more). */
export function parseModuleStatus(text: string): ModuleStatus {
  const out: ModuleStatus = { bytes: 0, maxBytes: 0, regions: [] };
  for (const line of text.split('\n')) {
    if (line.startsWith('  ')) {
      out.regions.at(-1)?.details.push(line.trim());
      continue;
    }
    const [word, ...rest] = line.split(' ');
    const kv = new Map(rest.filter((w) => w.includes('=')).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
    const num = (k: string) => Number(kv.get(k) ?? NaN);
    if (word === 'kvmring') {
      out.bytes = num('bytes');
      out.maxBytes = num('max_bytes');
    } else if (word === 'region' && rest[0]) {
      out.regions.push({
        name: rest[0],
        kind: kv.get('kind') === 'roster' ? 'roster' : 'owned',
        size: num('size'),
        node: num('node'),
        actualNode: num('actual_node'),
        contiguous: kv.get('contiguous') === 'yes',
        chunks: num('chunks'),
        minOrder: num('min_order'),
        openers: num('openers'),
        nrMappers: num('mappers'),
        mappers: rest
          .filter((w) => /^\d+:.*:(rw|ro)$/.test(w))
          .map((w) => {
            const pid = w.slice(0, w.indexOf(':'));
            return { pid: Number(pid), comm: w.slice(pid.length + 1, -3), writable: w.endsWith(':rw') };
          }),
        details: [],
      });
    }
  }
  return out;
}

/** Who holds a region, for an EBUSY: "pid 123 (qemu-system-x86) read-write, 1 open file". */
export function holders(r: ModuleRegion): string {
  const parts = r.mappers.map((m) => `pid ${m.pid} (${m.comm})${m.writable ? ' read-write' : ''}`);
  if (r.nrMappers > r.mappers.length) parts.push(`${r.nrMappers - r.mappers.length} more mapping(s)`);
  if (r.openers) parts.push(`${r.openers} open file(s)`);
  return parts.join(', ') || 'nobody now';
}

// ---- the module ----------------------------------------------------------------

/** What ringctl asks of kvmring.ko: KvmringModule, or a stand-in in the tests. */
export interface ModuleControl {
  create(a: CreateArgs): void;
  setRoster(name: string, roster: Uint8Array): void;
  destroy(name: string): void;
  status(): ModuleStatus;
  close(): void;
}

let opener = (dir: string): ModuleControl => KvmringModule.open(dir);

/** Opens the module's control node in `dir`. */
export function openModule(dir: string): ModuleControl {
  return opener(dir);
}

/** For tests: what openModule() opens instead of the control node (undefined: the real one again). */
export function replaceModuleOpener(fn?: (dir: string) => ModuleControl): void {
  opener = fn ?? ((dir) => KvmringModule.open(dir));
}

/** "DIR/NAME is still in use (who)": a held region, as ringctl's errors name it. */
export function stillInUse(dir: string, name: string, r: ModuleRegion | undefined): string {
  return `${join(dir, name)} is still in use (${r ? holders(r) : 'busy'})`;
}

/** Destroys region `name`; one still held throws a RingctlError naming who holds it. */
export function destroyRegion(mod: ModuleControl, name: string, dir: string): void {
  try {
    mod.destroy(name);
  } catch (err) {
    if (!(err instanceof SysError) || err.code !== 'EBUSY') throw err;
    const r = mod.status().regions.find((x) => x.name === name);
    throw new RingctlError(`${stillInUse(dir, name, r)}; stop its guests' QEMU first`, { cause: err });
  }
}

/** /dev/kvmring/control, open. */
export class KvmringModule implements ModuleControl {
  private constructor(
    readonly dir: string,
    private readonly fd: number,
  ) {}

  static open(dir: string): KvmringModule {
    const path = controlPath(dir);
    return new KvmringModule(dir, fsCall(`open(${path})`, () => openSync(path, 'r+'), 'is kvmring.ko loaded? (insmod kmod/kvmring.ko)'));
  }

  #ioctl(request: number, arg: Buffer, what: string, hint?: string): void {
    if (libc().ioctl(this.fd, request, 'void *', arg) < 0) throw new SysError(`kvmring.ko: ${what}`, koffi.errno(), { hint });
  }

  create(a: CreateArgs): void {
    this.#ioctl(
      IOCTLS.KVMRING_IOC_CREATE,
      encodeCreate(a),
      `create ${a.name} (${a.kind}, ${a.size} bytes, node ${a.node})`,
      'EDQUOT: past the module\'s max_bytes; EEXIST: a region of that name is there (`ringctl host down`); the kernel log says more',
    );
  }

  setRoster(name: string, roster: Uint8Array): void {
    this.#ioctl(IOCTLS.KVMRING_IOC_ROSTER, encodeRoster(name, roster), `write the roster ${name}`);
  }

  /** Destroys region `name` (SysError EBUSY while it is open or mapped: see destroyRegion()). */
  destroy(name: string): void {
    this.#ioctl(IOCTLS.KVMRING_IOC_DESTROY, encodeDestroy(name), `destroy ${name}`);
  }

  /** The module's status, in one read() (the module builds it anew at each, up to STATUS_MAX bytes). */
  status(): ModuleStatus {
    const path = controlPath(this.dir);
    const buf = Buffer.alloc(STATUS_MAX);
    const n = fsCall(`read(${path})`, () => readSync(this.fd, buf, 0, buf.length, 0));
    return parseModuleStatus(buf.subarray(0, n).toString('utf8'));
  }

  close(): void {
    closeSync(this.fd);
  }
}
