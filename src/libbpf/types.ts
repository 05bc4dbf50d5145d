// The C structs and constants the binding passes to libbpf.so.1 (libbpf 1.1,
// headers in /usr/include/bpf and linux/bpf.h). Declared once here; the unit test
// test/unit/libbpf-layout.test.ts compares every size and offset with a C program
// built from the real headers (test/native/libbpf_layout.c). Members whose name
// starts with `_` stand for unnamed bitfields and padding.
import koffi from 'koffi';

/** `struct bpf_object_open_opts` */
export const bpf_object_open_opts = koffi.struct('bpf_object_open_opts', {
  sz: 'size_t',
  object_name: 'const char *',
  relaxed_maps: 'bool',
  pin_root_path: 'const char *',
  _attach_prog_fd: 'uint32_t', // `__u32 :32`, the removed attach_prog_fd
  kconfig: 'const char *',
  btf_custom_path: 'const char *',
  kernel_log_buf: 'void *',
  kernel_log_size: 'size_t',
  kernel_log_level: 'uint32_t',
});

/** `struct bpf_xdp_attach_opts` */
export const bpf_xdp_attach_opts = koffi.struct('bpf_xdp_attach_opts', {
  sz: 'size_t',
  old_prog_fd: 'int',
});

/** `struct bpf_xdp_query_opts` (all outputs) */
export const bpf_xdp_query_opts = koffi.struct('bpf_xdp_query_opts', {
  sz: 'size_t',
  prog_id: 'uint32_t',
  drv_prog_id: 'uint32_t',
  hw_prog_id: 'uint32_t',
  skb_prog_id: 'uint32_t',
  attach_mode: 'uint8_t',
});

/** `struct bpf_tc_hook` */
export const bpf_tc_hook = koffi.struct('bpf_tc_hook', {
  sz: 'size_t',
  ifindex: 'int',
  attach_point: 'int', // enum bpf_tc_attach_point
  parent: 'uint32_t',
});

/** `struct bpf_tc_opts` */
export const bpf_tc_opts = koffi.struct('bpf_tc_opts', {
  sz: 'size_t',
  prog_fd: 'int',
  flags: 'uint32_t',
  prog_id: 'uint32_t',
  handle: 'uint32_t',
  priority: 'uint32_t',
});

/** `struct bpf_test_run_opts` */
export const bpf_test_run_opts = koffi.struct('bpf_test_run_opts', {
  sz: 'size_t',
  data_in: 'void *',
  data_out: 'void *',
  data_size_in: 'uint32_t',
  data_size_out: 'uint32_t',
  ctx_in: 'void *',
  ctx_out: 'void *',
  ctx_size_in: 'uint32_t',
  ctx_size_out: 'uint32_t',
  retval: 'uint32_t',
  repeat: 'int',
  duration: 'uint32_t',
  flags: 'uint32_t',
  cpu: 'uint32_t',
  batch_size: 'uint32_t',
});

/** `struct bpf_link_create_opts`; the per-type union is opaque here (we only set flags). */
export const bpf_link_create_opts = koffi.struct('bpf_link_create_opts', {
  sz: 'size_t',
  flags: 'uint32_t',
  iter_info: 'void *',
  iter_info_len: 'uint32_t',
  target_btf_id: 'uint32_t',
  _union: koffi.array('uint64_t', 4),
});

/** `struct bpf_obj_get_opts` */
export const bpf_obj_get_opts = koffi.struct('bpf_obj_get_opts', {
  sz: 'size_t',
  file_flags: 'uint32_t',
});

/** `struct bpf_prog_info` (linux/bpf.h) */
export const bpf_prog_info = koffi.struct('bpf_prog_info', {
  type: 'uint32_t',
  id: 'uint32_t',
  tag: koffi.array('uint8_t', 8, 'Array'),
  jited_prog_len: 'uint32_t',
  xlated_prog_len: 'uint32_t',
  jited_prog_insns: 'uint64_t',
  xlated_prog_insns: 'uint64_t',
  load_time: 'uint64_t',
  created_by_uid: 'uint32_t',
  nr_map_ids: 'uint32_t',
  map_ids: 'uint64_t',
  name: koffi.array('char', 16, 'String'),
  ifindex: 'uint32_t',
  _gpl_compatible: 'uint32_t', // `gpl_compatible:1; :31`
  netns_dev: 'uint64_t',
  netns_ino: 'uint64_t',
  nr_jited_ksyms: 'uint32_t',
  nr_jited_func_lens: 'uint32_t',
  jited_ksyms: 'uint64_t',
  jited_func_lens: 'uint64_t',
  btf_id: 'uint32_t',
  func_info_rec_size: 'uint32_t',
  func_info: 'uint64_t',
  nr_func_info: 'uint32_t',
  nr_line_info: 'uint32_t',
  line_info: 'uint64_t',
  jited_line_info: 'uint64_t',
  nr_jited_line_info: 'uint32_t',
  line_info_rec_size: 'uint32_t',
  jited_line_info_rec_size: 'uint32_t',
  nr_prog_tags: 'uint32_t',
  prog_tags: 'uint64_t',
  run_time_ns: 'uint64_t',
  run_cnt: 'uint64_t',
  recursion_misses: 'uint64_t',
  verified_insns: 'uint32_t',
  attach_btf_obj_id: 'uint32_t',
  attach_btf_id: 'uint32_t',
  _pad: 'uint32_t',
});

/** `struct bpf_map_info` (linux/bpf.h) */
export const bpf_map_info = koffi.struct('bpf_map_info', {
  type: 'uint32_t',
  id: 'uint32_t',
  key_size: 'uint32_t',
  value_size: 'uint32_t',
  max_entries: 'uint32_t',
  map_flags: 'uint32_t',
  name: koffi.array('char', 16, 'String'),
  ifindex: 'uint32_t',
  btf_vmlinux_value_type_id: 'uint32_t',
  netns_dev: 'uint64_t',
  netns_ino: 'uint64_t',
  btf_id: 'uint32_t',
  btf_key_type_id: 'uint32_t',
  btf_value_type_id: 'uint32_t',
  _pad: 'uint32_t',
  map_extra: 'uint64_t',
});

/**
 * `struct bpf_link_info` (linux/bpf.h): the common head and the union as bytes;
 * xdp.ifindex (the only union member we read) is at the union's start.
 */
export const bpf_link_info = koffi.struct('bpf_link_info', {
  type: 'uint32_t',
  id: 'uint32_t',
  prog_id: 'uint32_t',
  _pad: 'uint32_t',
  xdp_ifindex: 'uint32_t', // union { ... struct { __u32 ifindex; } xdp; }
  _union: koffi.array('uint32_t', 7),
});

/** `struct btf_type`: the head of every BTF type record. */
export const btf_type = koffi.struct('btf_type', {
  name_off: 'uint32_t',
  info: 'uint32_t',
  size: 'uint32_t', // union { size; type; }
});

/** `struct btf_var_secinfo`: one variable of a DATASEC, following its btf_type. */
export const btf_var_secinfo = koffi.struct('btf_var_secinfo', {
  type: 'uint32_t',
  offset: 'uint32_t',
  size: 'uint32_t',
});

/** `struct xdp_md`: the XDP context, e.g. ctx_in of a test run (ingress_ifindex). */
export const xdp_md = koffi.struct('xdp_md', {
  data: 'uint32_t',
  data_end: 'uint32_t',
  data_meta: 'uint32_t',
  ingress_ifindex: 'uint32_t',
  rx_queue_index: 'uint32_t',
  egress_ifindex: 'uint32_t',
});

/**
 * The head of `struct __sk_buff` (up to ifindex), enough for a TC test run's
 * ctx_in: the kernel takes a shorter context and zeroes the rest.
 */
export const __sk_buff = koffi.struct('__sk_buff', {
  len: 'uint32_t',
  pkt_type: 'uint32_t',
  mark: 'uint32_t',
  queue_mapping: 'uint32_t',
  protocol: 'uint32_t',
  vlan_present: 'uint32_t',
  vlan_tci: 'uint32_t',
  vlan_proto: 'uint32_t',
  priority: 'uint32_t',
  ingress_ifindex: 'uint32_t',
  ifindex: 'uint32_t',
});

/** Structs declared only up to a member: the layout test checks their offsets, not their size. */
export const PREFIX_STRUCTS: ReadonlySet<string> = new Set(['__sk_buff']);

/** Every struct the binding declares, by C name (the layout test walks this). */
export const STRUCTS = {
  bpf_object_open_opts,
  bpf_xdp_attach_opts,
  bpf_xdp_query_opts,
  bpf_tc_hook,
  bpf_tc_opts,
  bpf_test_run_opts,
  bpf_link_create_opts,
  bpf_obj_get_opts,
  bpf_prog_info,
  bpf_map_info,
  bpf_link_info,
  btf_type,
  btf_var_secinfo,
  xdp_md,
  __sk_buff,
} as const;

// Constants from the headers; the layout test checks each against C.
export const CONSTANTS = {
  BPF_ANY: 0,
  BPF_NOEXIST: 1,
  BPF_EXIST: 2,
  BPF_F_NO_PREALLOC: 1,
  BPF_F_TEST_XDP_LIVE_FRAMES: 2,
  BPF_OBJ_NAME_LEN: 16,
  BPF_XDP: 37,
  BPF_LINK_TYPE_XDP: 6,
  BPF_MAP_TYPE_HASH: 1,
  BPF_MAP_TYPE_ARRAY: 2,
  BPF_MAP_TYPE_PERCPU_HASH: 5,
  BPF_MAP_TYPE_PERCPU_ARRAY: 6,
  BPF_MAP_TYPE_LRU_PERCPU_HASH: 10,
  BPF_MAP_TYPE_LPM_TRIE: 11,
  BPF_MAP_TYPE_DEVMAP: 14,
  BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE: 21,
  BPF_PROG_TYPE_SCHED_CLS: 3,
  BPF_PROG_TYPE_XDP: 6,
  BPF_TC_INGRESS: 1,
  BPF_TC_EGRESS: 2,
  BPF_TC_CUSTOM: 4,
  BPF_TC_F_REPLACE: 1,
  BTF_KIND_VAR: 14,
  BTF_KIND_DATASEC: 15,
  XDP_FLAGS_UPDATE_IF_NOEXIST: 1,
  XDP_FLAGS_SKB_MODE: 2,
  XDP_FLAGS_DRV_MODE: 4,
  XDP_FLAGS_HW_MODE: 8,
  XDP_FLAGS_REPLACE: 16,
  XDP_ATTACHED_NONE: 0,
  XDP_ATTACHED_DRV: 1,
  XDP_ATTACHED_SKB: 2,
  XDP_ATTACHED_HW: 3,
  XDP_ATTACHED_MULTI: 4,
  XDP_ABORTED: 0,
  XDP_DROP: 1,
  XDP_PASS: 2,
  XDP_TX: 3,
  XDP_REDIRECT: 4,
  TC_ACT_OK: 0,
  TC_ACT_SHOT: 2,
  TC_ACT_REDIRECT: 7,
  LIBBPF_WARN: 0,
  LIBBPF_INFO: 1,
  LIBBPF_DEBUG: 2,
} as const;

export const {
  BPF_ANY,
  BPF_NOEXIST,
  BPF_EXIST,
  BPF_F_TEST_XDP_LIVE_FRAMES,
  BPF_XDP,
  BPF_LINK_TYPE_XDP,
  BPF_TC_INGRESS,
  BPF_TC_EGRESS,
  BPF_TC_F_REPLACE,
  XDP_FLAGS_UPDATE_IF_NOEXIST,
  XDP_FLAGS_SKB_MODE,
  XDP_FLAGS_DRV_MODE,
  XDP_FLAGS_HW_MODE,
  XDP_FLAGS_REPLACE,
  XDP_ATTACHED_NONE,
  XDP_ATTACHED_DRV,
  XDP_ATTACHED_SKB,
  XDP_ATTACHED_HW,
  XDP_ATTACHED_MULTI,
} = CONSTANTS;

/** Map types whose values are per CPU (one value per possible CPU, 8-byte aligned). */
export const PERCPU_MAP_TYPES: ReadonlySet<number> = new Set([
  CONSTANTS.BPF_MAP_TYPE_PERCPU_HASH,
  CONSTANTS.BPF_MAP_TYPE_PERCPU_ARRAY,
  CONSTANTS.BPF_MAP_TYPE_LRU_PERCPU_HASH,
  CONSTANTS.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE,
]);
