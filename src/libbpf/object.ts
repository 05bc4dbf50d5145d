// BPF object files: open, set load-time globals, load, find programs and maps.
// Programs and maps belong to their object and die with it (close()).
import koffi from 'koffi';

import { callInt, callPtr } from './call.js';
import { BpfMapFd, numPossibleCpus, type MapInfo } from './map.js';
import { native, type Ptr } from './native.js';
import { progInfoByFd, type ProgInfo } from './info.js';
import { testRun, type TestRunOptions, type TestRunResult } from './test-run.js';
import { bpf_object_open_opts, btf_type, btf_var_secinfo, CONSTANTS, PERCPU_MAP_TYPES } from './types.js';

export interface OpenOptions {
  /** Overrides the object name (default: the file's base name up to the first dot). */
  objectName?: string;
  /** Where maps with a `pinning` attribute are pinned (libbpf's default: /sys/fs/bpf). */
  pinRootPath?: string;
  /** Accept unknown attributes in map definitions. */
  relaxedMaps?: boolean;
}

/** A global variable in a data section (.rodata, .data, .bss). */
export interface GlobalVar {
  name: string;
  section: string;
  offset: number;
  size: number;
}

export class BpfObject implements Disposable {
  #obj: Ptr | null;
  readonly path: string;

  private constructor(obj: Ptr, path: string) {
    this.#obj = obj;
    this.path = path;
  }

  /** bpf_object__open_file(): parses the ELF; nothing reaches the kernel yet. */
  static open(path: string, opts: OpenOptions = {}): BpfObject {
    const o = {
      sz: koffi.sizeof(bpf_object_open_opts),
      object_name: opts.objectName ?? null,
      relaxed_maps: !!opts.relaxedMaps,
      pin_root_path: opts.pinRootPath ?? null,
    };
    const obj = callPtr(`bpf_object__open_file(${path})`, () => native().bpf_object__open_file(path, o));
    return new BpfObject(obj, path);
  }

  get ptr(): Ptr {
    if (this.#obj === null) throw new Error(`BPF object ${this.path} is closed`);
    return this.#obj;
  }

  /** Throws once the object is closed (its programs and maps are gone with it). */
  requireOpen(): void {
    if (this.#obj === null) throw new Error(`BPF object ${this.path} is closed`);
  }

  get name(): string {
    return native().bpf_object__name(this.ptr);
  }

  /** bpf_object__load(): creates the maps, loads and verifies the programs. */
  load(): void {
    callInt(`load ${this.name}`, () => native().bpf_object__load(this.ptr));
  }

  programs(): BpfProgram[] {
    const out: BpfProgram[] = [];
    for (let p: Ptr | null = native().bpf_object__next_program(this.ptr, null); p; p = native().bpf_object__next_program(this.ptr, p)) {
      out.push(new BpfProgram(p, this));
    }
    return out;
  }

  maps(): BpfMap[] {
    const out: BpfMap[] = [];
    for (let m: Ptr | null = native().bpf_object__next_map(this.ptr, null); m; m = native().bpf_object__next_map(this.ptr, m)) {
      out.push(new BpfMap(m, this));
    }
    return out;
  }

  program(name: string): BpfProgram {
    const p = callPtr(`${this.name}: program ${name}`, () => native().bpf_object__find_program_by_name(this.ptr, name));
    return new BpfProgram(p, this);
  }

  map(name: string): BpfMap {
    const m = callPtr(`${this.name}: map ${name}`, () => native().bpf_object__find_map_by_name(this.ptr, name));
    return new BpfMap(m, this);
  }

  /** The global variables of a data section, from the object's BTF. */
  globals(section = '.rodata'): GlobalVar[] {
    const lib = native();
    const btf = callPtr(`${this.name}: BTF`, () => lib.bpf_object__btf(this.ptr));
    const secId = lib.btf__find_by_name_kind(btf, section, CONSTANTS.BTF_KIND_DATASEC);
    if (secId <= 0) return [];
    const sec = lib.btf__type_by_id(btf, secId) as Ptr;
    const head = koffi.decode(sec, btf_type) as { info: number };
    const vlen = head.info & 0xffff;
    const out: GlobalVar[] = [];
    for (let i = 0; i < vlen; i++) {
      const vsi = koffi.decode(sec, koffi.sizeof(btf_type) + i * koffi.sizeof(btf_var_secinfo), btf_var_secinfo) as {
        type: number;
        offset: number;
        size: number;
      };
      const v = lib.btf__type_by_id(btf, vsi.type) as Ptr;
      const vt = koffi.decode(v, btf_type) as { name_off: number };
      out.push({ name: lib.btf__name_by_offset(btf, vt.name_off), section, offset: vsi.offset, size: vsi.size });
    }
    return out;
  }

  /**
   * Sets a global variable before load: a `const volatile` in .rodata (the usual
   * load-time setting), or a variable in .data/.bss. `value` must be exactly the
   * variable's size.
   */
  setGlobal(name: string, value: Uint8Array, section = '.rodata'): void {
    const v = this.globals(section).find((g) => g.name === name);
    if (!v) throw new Error(`${this.name}: no global ${name} in ${section}`);
    if (value.length !== v.size) throw new Error(`${this.name}: ${name} is ${v.size} bytes, got ${value.length}`);
    const map = this.maps().find((m) => m.isInternal && m.name.endsWith(section));
    if (!map) throw new Error(`${this.name}: no internal map for ${section}`);
    const data = map.initialValue();
    data.set(value, v.offset);
    map.setInitialValue(data);
  }

  /** Reads a global variable's initial (pre-load) value. */
  getGlobal(name: string, section = '.rodata'): Buffer {
    const v = this.globals(section).find((g) => g.name === name);
    if (!v) throw new Error(`${this.name}: no global ${name} in ${section}`);
    const map = this.maps().find((m) => m.isInternal && m.name.endsWith(section));
    if (!map) throw new Error(`${this.name}: no internal map for ${section}`);
    return map.initialValue().subarray(v.offset, v.offset + v.size);
  }

  /** bpf_object__close(): frees the object, its programs and maps (pins stay). */
  close(): void {
    if (this.#obj !== null) native().bpf_object__close(this.#obj);
    this.#obj = null;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

export class BpfProgram {
  readonly #prog: Ptr;
  readonly object: BpfObject;

  constructor(prog: Ptr, object: BpfObject) {
    this.#prog = prog;
    this.object = object;
  }

  get ptr(): Ptr {
    this.object.requireOpen();
    return this.#prog;
  }

  get name(): string {
    return native().bpf_program__name(this.ptr);
  }

  get sectionName(): string {
    return native().bpf_program__section_name(this.ptr);
  }

  /** enum bpf_prog_type, e.g. BPF_PROG_TYPE_XDP (6). */
  get type(): number {
    return native().bpf_program__type(this.ptr);
  }

  /** The program's fd once loaded. */
  get fd(): number {
    return callInt(`${this.name}: fd (not loaded?)`, () => native().bpf_program__fd(this.ptr));
  }

  /** Don't load this program with its object. */
  setAutoload(on: boolean): void {
    callInt(`${this.name}: set autoload`, () => native().bpf_program__set_autoload(this.ptr, on));
  }

  info(): ProgInfo {
    return progInfoByFd(this.fd);
  }

  pin(path: string): void {
    callInt(`pin ${this.name} at ${path}`, () => native().bpf_program__pin(this.ptr, path));
  }

  unpin(path: string): void {
    callInt(`unpin ${this.name} from ${path}`, () => native().bpf_program__unpin(this.ptr, path));
  }

  /** BPF_PROG_TEST_RUN on this program. */
  testRun(opts: TestRunOptions): TestRunResult {
    return testRun(this.fd, opts, this.name);
  }
}

export class BpfMap {
  readonly #map: Ptr;
  readonly object: BpfObject;
  #handle: BpfMapFd | undefined;

  constructor(map: Ptr, object: BpfObject) {
    this.#map = map;
    this.object = object;
  }

  get ptr(): Ptr {
    this.object.requireOpen();
    return this.#map;
  }

  get name(): string {
    return native().bpf_map__name(this.ptr);
  }

  get type(): number {
    return native().bpf_map__type(this.ptr);
  }

  get keySize(): number {
    return native().bpf_map__key_size(this.ptr);
  }

  get valueSize(): number {
    return native().bpf_map__value_size(this.ptr);
  }

  get maxEntries(): number {
    return native().bpf_map__max_entries(this.ptr);
  }

  get isInternal(): boolean {
    return native().bpf_map__is_internal(this.ptr);
  }

  get perCpu(): boolean {
    return PERCPU_MAP_TYPES.has(this.type);
  }

  /** The map's fd once loaded (or reused). */
  get fd(): number {
    return callInt(`${this.name}: fd (not loaded?)`, () => native().bpf_map__fd(this.ptr));
  }

  /** A copy of a data section's initial contents (.rodata, .data, .bss maps). */
  initialValue(): Buffer {
    const size = [0];
    const p = callPtr(`${this.name}: initial value`, () => native().bpf_map__initial_value(this.ptr, size));
    return Buffer.from(new Uint8Array(koffi.view(p, size[0])));
  }

  /** Replaces a data section's initial contents before load. */
  setInitialValue(data: Uint8Array): void {
    callInt(`${this.name}: set initial value`, () => native().bpf_map__set_initial_value(this.ptr, data, data.length));
  }

  /** Use an existing map (e.g. another object's, or a pinned one) instead of creating one. */
  reuseFd(fd: number): void {
    callInt(`${this.name}: reuse fd ${fd}`, () => native().bpf_map__reuse_fd(this.ptr, fd));
  }

  pin(path: string): void {
    callInt(`pin ${this.name} at ${path}`, () => native().bpf_map__pin(this.ptr, path));
  }

  unpin(path: string): void {
    callInt(`unpin ${this.name} from ${path}`, () => native().bpf_map__unpin(this.ptr, path));
  }

  /** Lookup, update, delete and iteration on the loaded map (owned by the object). */
  get handle(): BpfMapFd {
    if (!this.#handle) {
      const info: MapInfo = {
        type: this.type,
        id: 0,
        name: this.name,
        keySize: this.keySize,
        valueSize: this.valueSize,
        maxEntries: this.maxEntries,
        flags: native().bpf_map__map_flags(this.ptr),
      };
      this.#handle = new BpfMapFd(this.fd, info, false);
    }
    return this.#handle;
  }

  lookup(key: Uint8Array): Buffer | undefined {
    return this.handle.lookup(key);
  }

  lookupPerCpu(key: Uint8Array): Buffer[] | undefined {
    return this.handle.lookupPerCpu(key);
  }

  update(key: Uint8Array, value: Uint8Array, flags?: number): void {
    this.handle.update(key, value, flags);
  }

  updatePerCpu(key: Uint8Array, values: Uint8Array[], flags?: number): void {
    this.handle.updatePerCpu(key, values, flags);
  }

  delete(key: Uint8Array): boolean {
    return this.handle.delete(key);
  }

  keys(): Generator<Buffer> {
    return this.handle.keys();
  }

  entries(): Generator<[Buffer, Buffer]> {
    return this.handle.entries();
  }
}

export { numPossibleCpus };
