// Kernel objects by fd, id and pin: program, map and link info; pin and get;
// closing raw fds.
import { unlinkSync } from 'node:fs';

import koffi from 'koffi';

import { errnoValue } from '../common/errno.js';
import { libc } from '../common/libc.js';
import { callInt, callIntUnless } from './call.js';
import { LibbpfError } from './errors.js';
import { native } from './native.js';
import { bpf_link_info, bpf_prog_info } from './types.js';

const ENOENT = errnoValue('ENOENT');

export interface ProgInfo {
  id: number;
  type: number;
  name: string;
  /** The program's tag (hash of its instructions) as hex. */
  tag: string;
  /** Instructions the verifier processed. */
  verifiedInsns: number;
  /** Cumulative runtime and count, when kernel.bpf_stats_enabled is set. */
  runTimeNs: bigint;
  runCnt: bigint;
}

export interface LinkInfo {
  id: number;
  /** enum bpf_link_type, e.g. BPF_LINK_TYPE_XDP (6). */
  type: number;
  progId: number;
  /** For XDP links: the device (0 once the device is gone). */
  xdpIfindex: number;
}

function toBigInt(v: number | bigint): bigint {
  return typeof v === 'bigint' ? v : BigInt(v);
}

export function progInfoByFd(fd: number): ProgInfo {
  const buf = Buffer.alloc(koffi.sizeof(bpf_prog_info));
  const len = [buf.length];
  callInt(`bpf_obj_get_info_by_fd(prog fd ${fd})`, () => native().bpf_obj_get_info_by_fd(fd, buf, len));
  const i = koffi.decode(buf, bpf_prog_info) as Record<string, never>;
  return {
    id: i.id,
    type: i.type,
    name: i.name,
    tag: Buffer.from(i.tag).toString('hex'),
    verifiedInsns: i.verified_insns,
    runTimeNs: toBigInt(i.run_time_ns),
    runCnt: toBigInt(i.run_cnt),
  };
}

export function linkInfoByFd(fd: number): LinkInfo {
  const buf = Buffer.alloc(koffi.sizeof(bpf_link_info));
  const len = [buf.length];
  callInt(`bpf_obj_get_info_by_fd(link fd ${fd})`, () => native().bpf_obj_get_info_by_fd(fd, buf, len));
  const i = koffi.decode(buf, bpf_link_info) as Record<string, number>;
  return { id: i.id, type: i.type, progId: i.prog_id, xdpIfindex: i.xdp_ifindex };
}

/** bpf_obj_get(): an fd for whatever is pinned at `path`. */
export function objGet(path: string): number {
  return callInt(`bpf_obj_get(${path})`, () => native().bpf_obj_get(path));
}

/** bpf_obj_pin(): pins the program, map or link behind `fd` at `path`. */
export function objPin(fd: number, path: string): void {
  callInt(`bpf_obj_pin(${path})`, () => native().bpf_obj_pin(fd, path));
}

/**
 * Removes a pin (program, map or link) from bpffs. The object lives on while
 * something else holds it; an unpinned XDP link with no fd left detaches.
 */
export function unpin(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    const errno = -((err as NodeJS.ErrnoException).errno ?? -5);
    throw new LibbpfError(`unpin ${path}`, errno);
  }
}

export function progFdById(id: number): number {
  return callInt(`bpf_prog_get_fd_by_id(${id})`, () => native().bpf_prog_get_fd_by_id(id));
}

export function mapFdById(id: number): number {
  return callInt(`bpf_map_get_fd_by_id(${id})`, () => native().bpf_map_get_fd_by_id(id));
}

export function linkFdById(id: number): number {
  return callInt(`bpf_link_get_fd_by_id(${id})`, () => native().bpf_link_get_fd_by_id(id));
}

/** Every BPF link id in the system (bpf_link_get_next_id). */
export function linkIds(): number[] {
  const ids: number[] = [];
  let cur = 0;
  for (;;) {
    const next = [0];
    const from = cur;
    if (!callIntUnless('bpf_link_get_next_id', ENOENT, () => native().bpf_link_get_next_id(from, next))) return ids;
    cur = next[0];
    ids.push(cur);
  }
}

/** Closes a raw fd the binding handed out. */
export function closeFd(fd: number): void {
  if (fd >= 0) libc().close(fd);
}
