// Map access by file descriptor: lookup, update, delete and key iteration, for
// maps of a loaded object and for pinned ones alike. Keys and values are bytes
// (codecs live with their users); per-CPU maps hold one value per possible CPU,
// each rounded up to 8 bytes, as the kernel lays them out.
import koffi from 'koffi';

import { errnoValue } from '../common/errno.js';
import { libc } from '../common/libc.js';
import { callInt, callIntUnless } from './call.js';
import { native } from './native.js';
import { BPF_ANY, bpf_map_info, PERCPU_MAP_TYPES } from './types.js';

const ENOENT = errnoValue('ENOENT');

export interface MapInfo {
  type: number;
  id: number;
  name: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}

let possibleCpus: number | undefined;

/** libbpf_num_possible_cpus(): the number of per-CPU values a per-CPU map holds. */
export function numPossibleCpus(): number {
  possibleCpus ??= callInt('libbpf_num_possible_cpus', () => native().libbpf_num_possible_cpus());
  return possibleCpus;
}

/** bpf_obj_get_info_by_fd() for a map. */
export function mapInfoByFd(fd: number): MapInfo {
  const buf = Buffer.alloc(koffi.sizeof(bpf_map_info));
  const len = [buf.length];
  callInt(`bpf_obj_get_info_by_fd(map fd ${fd})`, () => native().bpf_obj_get_info_by_fd(fd, buf, len));
  const i = koffi.decode(buf, bpf_map_info) as Record<string, number | string>;
  return {
    type: i.type as number,
    id: i.id as number,
    name: i.name as string,
    keySize: i.key_size as number,
    valueSize: i.value_size as number,
    maxEntries: i.max_entries as number,
    flags: i.map_flags as number,
  };
}

/** A map's file descriptor and the operations on it. */
export class BpfMapFd implements Disposable {
  #fd: number;
  readonly info: MapInfo;
  readonly #owned: boolean;

  /** Wraps `fd`; with `owned`, close() closes it. */
  constructor(fd: number, info: MapInfo, owned: boolean) {
    this.#fd = fd;
    this.info = info;
    this.#owned = owned;
  }

  /** Opens a pinned map (bpf_obj_get). */
  static openPinned(path: string): BpfMapFd {
    const fd = callInt(`bpf_obj_get(${path})`, () => native().bpf_obj_get(path));
    try {
      return new BpfMapFd(fd, mapInfoByFd(fd), true);
    } catch (err) {
      libc().close(fd);
      throw err;
    }
  }

  /** Opens a map by id (bpf_map_get_fd_by_id). */
  static fromId(id: number): BpfMapFd {
    const fd = callInt(`bpf_map_get_fd_by_id(${id})`, () => native().bpf_map_get_fd_by_id(id));
    try {
      return new BpfMapFd(fd, mapInfoByFd(fd), true);
    } catch (err) {
      libc().close(fd);
      throw err;
    }
  }

  get fd(): number {
    if (this.#fd < 0) throw new Error(`map ${this.info.name} is closed`);
    return this.#fd;
  }

  get name(): string {
    return this.info.name;
  }

  get perCpu(): boolean {
    return PERCPU_MAP_TYPES.has(this.info.type);
  }

  /** Bytes per CPU in a per-CPU value buffer. */
  get perCpuStride(): number {
    return Math.ceil(this.info.valueSize / 8) * 8;
  }

  /** Bytes of a value buffer as the syscall sees it (all CPUs for per-CPU maps). */
  get valueBufferSize(): number {
    return this.perCpu ? this.perCpuStride * numPossibleCpus() : this.info.valueSize;
  }

  #key(key: Uint8Array): Uint8Array {
    if (key.length !== this.info.keySize) {
      throw new Error(`map ${this.info.name}: key is ${key.length} bytes, the map's keys are ${this.info.keySize}`);
    }
    return key;
  }

  #value(value: Uint8Array): Uint8Array {
    if (value.length !== this.valueBufferSize) {
      throw new Error(`map ${this.info.name}: value is ${value.length} bytes, the map needs ${this.valueBufferSize}`);
    }
    return value;
  }

  /** The value under `key` (all CPUs' values for a per-CPU map), or undefined. */
  lookup(key: Uint8Array): Buffer | undefined {
    const value = Buffer.alloc(this.valueBufferSize);
    const k = this.#key(key);
    const found = callIntUnless(`bpf_map_lookup_elem(${this.info.name})`, ENOENT, () =>
      native().bpf_map_lookup_elem(this.fd, k, value),
    );
    return found ? value : undefined;
  }

  /** A per-CPU map's values under `key`, one per possible CPU, or undefined. */
  lookupPerCpu(key: Uint8Array): Buffer[] | undefined {
    if (!this.perCpu) throw new Error(`map ${this.info.name} is not per-CPU`);
    const all = this.lookup(key);
    if (!all) return undefined;
    const stride = this.perCpuStride;
    return Array.from({ length: numPossibleCpus() }, (_, cpu) =>
      all.subarray(cpu * stride, cpu * stride + this.info.valueSize),
    );
  }

  /** Stores `value` under `key`; flags BPF_ANY, BPF_NOEXIST or BPF_EXIST. */
  update(key: Uint8Array, value: Uint8Array, flags: number = BPF_ANY): void {
    const k = this.#key(key);
    const v = this.#value(value);
    callInt(`bpf_map_update_elem(${this.info.name})`, () => native().bpf_map_update_elem(this.fd, k, v, flags));
  }

  /** Stores one value per CPU (or the same value on every CPU, given one). */
  updatePerCpu(key: Uint8Array, values: Uint8Array[], flags: number = BPF_ANY): void {
    if (!this.perCpu) throw new Error(`map ${this.info.name} is not per-CPU`);
    const cpus = numPossibleCpus();
    if (values.length !== 1 && values.length !== cpus) {
      throw new Error(`map ${this.info.name}: ${values.length} values for ${cpus} possible CPUs`);
    }
    const buf = Buffer.alloc(this.valueBufferSize);
    for (let cpu = 0; cpu < cpus; cpu++) {
      const v = values[values.length === 1 ? 0 : cpu];
      if (v.length !== this.info.valueSize) {
        throw new Error(`map ${this.info.name}: value is ${v.length} bytes, the map's values are ${this.info.valueSize}`);
      }
      buf.set(v, cpu * this.perCpuStride);
    }
    this.update(key, buf, flags);
  }

  /** Deletes `key`; false if it was not there. */
  delete(key: Uint8Array): boolean {
    const k = this.#key(key);
    return callIntUnless(`bpf_map_delete_elem(${this.info.name})`, ENOENT, () =>
      native().bpf_map_delete_elem(this.fd, k),
    );
  }

  /** Every key (bpf_map_get_next_key from the start). Collect before deleting. */
  *keys(): Generator<Buffer> {
    let prev: Buffer | null = null;
    for (;;) {
      const next = Buffer.alloc(this.info.keySize);
      const cur = prev;
      const more = callIntUnless(`bpf_map_get_next_key(${this.info.name})`, ENOENT, () =>
        native().bpf_map_get_next_key(this.fd, cur, next),
      );
      if (!more) return;
      yield next;
      prev = next;
    }
  }

  /** Every [key, value] pair; entries deleted meanwhile are skipped. */
  *entries(): Generator<[Buffer, Buffer]> {
    for (const key of this.keys()) {
      const value = this.lookup(key);
      if (value) yield [key, value];
    }
  }

  /** Pins the map at `path` (bpf_obj_pin). */
  pin(path: string): void {
    callInt(`bpf_obj_pin(${this.info.name}, ${path})`, () => native().bpf_obj_pin(this.fd, path));
  }

  close(): void {
    if (this.#owned && this.#fd >= 0) libc().close(this.#fd);
    this.#fd = -1;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
