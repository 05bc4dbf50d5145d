// The raw functions of libbpf.so.1 (the libc ones are in common/libc.ts), loaded on
// first use (so `ringctl --help` works on a machine without libbpf). Nothing here
// checks errors: the typed layer (object.ts, map.ts, ...) does. Pointers are
// bigint (koffi 3) or null.
import koffi, { type LibraryHandle } from 'koffi';

import type { Ptr } from '../common/libc.js';
import {
  bpf_link_create_opts,
  bpf_obj_get_opts,
  bpf_object_open_opts,
  bpf_tc_hook,
  bpf_tc_opts,
  bpf_test_run_opts,
  bpf_xdp_attach_opts,
  bpf_xdp_query_opts,
} from './types.js';

export type { Ptr } from '../common/libc.js';

const LIBBPF = 'libbpf.so.1';

const ptr = 'void *';
const str = 'const char *';
const u32 = 'uint32_t';
const int = 'int';
const size_t = 'size_t';

/** `int (*libbpf_print_fn_t)(enum libbpf_print_level, const char *fmt, va_list ap)` */
export const libbpf_print_fn = koffi.proto('libbpf_print_fn', int, [int, ptr, ptr]);

const decls = {
  // Library, logging, errors
  libbpf_set_print: [ptr, [koffi.pointer(libbpf_print_fn)]],
  libbpf_strerror: [int, [int, ptr, size_t]],
  libbpf_num_possible_cpus: [int, []],
  libbpf_version_string: [str, []],

  // Objects
  bpf_object__open_file: [ptr, [str, koffi.pointer(bpf_object_open_opts)]],
  bpf_object__load: [int, [ptr]],
  bpf_object__close: ['void', [ptr]],
  bpf_object__name: [str, [ptr]],
  bpf_object__btf: [ptr, [ptr]],
  bpf_object__next_program: [ptr, [ptr, ptr]],
  bpf_object__next_map: [ptr, [ptr, ptr]],
  bpf_object__find_program_by_name: [ptr, [ptr, str]],
  bpf_object__find_map_by_name: [ptr, [ptr, str]],

  // Programs
  bpf_program__name: [str, [ptr]],
  bpf_program__section_name: [str, [ptr]],
  bpf_program__type: [int, [ptr]],
  bpf_program__fd: [int, [ptr]],
  bpf_program__set_autoload: [int, [ptr, 'bool']],
  bpf_program__pin: [int, [ptr, str]],
  bpf_program__unpin: [int, [ptr, str]],

  // Maps (object view)
  bpf_map__name: [str, [ptr]],
  bpf_map__type: [int, [ptr]],
  bpf_map__key_size: [u32, [ptr]],
  bpf_map__value_size: [u32, [ptr]],
  bpf_map__max_entries: [u32, [ptr]],
  bpf_map__map_flags: [u32, [ptr]],
  bpf_map__is_internal: ['bool', [ptr]],
  bpf_map__fd: [int, [ptr]],
  bpf_map__initial_value: [ptr, [ptr, koffi.out(koffi.pointer(size_t))]],
  bpf_map__set_initial_value: [int, [ptr, ptr, size_t]],
  bpf_map__reuse_fd: [int, [ptr, int]],
  bpf_map__pin: [int, [ptr, str]],
  bpf_map__unpin: [int, [ptr, str]],

  // BTF
  btf__find_by_name_kind: [int, [ptr, str, u32]],
  btf__type_by_id: [ptr, [ptr, u32]],
  btf__name_by_offset: [str, [ptr, u32]],

  // File descriptors: maps, programs, links, pins
  bpf_map_lookup_elem: [int, [int, ptr, ptr]],
  bpf_map_update_elem: [int, [int, ptr, ptr, 'uint64_t']],
  bpf_map_delete_elem: [int, [int, ptr]],
  bpf_map_get_next_key: [int, [int, ptr, ptr]],
  bpf_obj_pin: [int, [int, str]],
  bpf_obj_get: [int, [str]],
  bpf_obj_get_opts: [int, [str, koffi.pointer(bpf_obj_get_opts)]],
  bpf_obj_get_info_by_fd: [int, [int, ptr, koffi.inout(koffi.pointer(u32))]],
  bpf_prog_get_fd_by_id: [int, [u32]],
  bpf_map_get_fd_by_id: [int, [u32]],
  bpf_link_get_fd_by_id: [int, [u32]],
  bpf_link_get_next_id: [int, [u32, koffi.out(koffi.pointer(u32))]],
  bpf_link_create: [int, [int, int, int, koffi.pointer(bpf_link_create_opts)]],
  bpf_link_detach: [int, [int]],

  // XDP (netlink)
  bpf_xdp_attach: [int, [int, int, u32, koffi.pointer(bpf_xdp_attach_opts)]],
  bpf_xdp_detach: [int, [int, u32, koffi.pointer(bpf_xdp_attach_opts)]],
  bpf_xdp_query: [int, [int, int, koffi.inout(koffi.pointer(bpf_xdp_query_opts))]],

  // TC (netlink)
  bpf_tc_hook_create: [int, [koffi.pointer(bpf_tc_hook)]],
  bpf_tc_hook_destroy: [int, [koffi.pointer(bpf_tc_hook)]],
  bpf_tc_attach: [int, [koffi.pointer(bpf_tc_hook), koffi.inout(koffi.pointer(bpf_tc_opts))]],
  bpf_tc_detach: [int, [koffi.pointer(bpf_tc_hook), koffi.pointer(bpf_tc_opts)]],
  bpf_tc_query: [int, [koffi.pointer(bpf_tc_hook), koffi.inout(koffi.pointer(bpf_tc_opts))]],

  // BPF_PROG_TEST_RUN
  bpf_prog_test_run_opts: [int, [int, koffi.inout(koffi.pointer(bpf_test_run_opts))]],
} as const;

/** What koffi returns for each C return type of the table. */
type Returns<T> = T extends typeof int | typeof u32 ? number
  : T extends typeof ptr ? Ptr | null
  : T extends typeof str ? string
  : T extends 'bool' ? boolean
  : T extends 'void' ? undefined
  : unknown;

type Bound<T extends Record<string, readonly [unknown, readonly unknown[]]>> = {
  [K in keyof T]: (...args: unknown[]) => Returns<T[K][0]>;
};

export type Libbpf = Bound<typeof decls>;

let libbpf: Libbpf | undefined;

function bind<T extends Record<string, readonly [unknown, readonly unknown[]]>>(path: string, table: T): Bound<T> {
  let handle: LibraryHandle;
  try {
    handle = koffi.load(path);
  } catch (err) {
    throw new Error(`cannot load ${path} (install libbpf1): ${(err as Error).message}`, { cause: err });
  }
  const out: Record<string, unknown> = {};
  for (const [name, [ret, args]] of Object.entries(table)) out[name] = handle.func(name, ret as string, args as unknown as string[]);
  return out as Bound<T>;
}

/** libbpf's functions, loaded on first call. */
export function native(): Libbpf {
  libbpf ??= bind(LIBBPF, decls);
  return libbpf;
}
