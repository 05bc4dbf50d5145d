// TC (clsact) through libbpf's netlink API: create the hook (the clsact qdisc),
// attach, query and detach a direct-action BPF filter by handle and priority.
import koffi from 'koffi';

import { errnoValue } from '../common/errno.js';
import { callInt, callIntUnless } from './call.js';
import { native } from './native.js';
import { BPF_TC_EGRESS, BPF_TC_INGRESS, bpf_tc_hook, bpf_tc_opts } from './types.js';

const EEXIST = errnoValue('EEXIST');
const ENOENT = errnoValue('ENOENT');

export type TcDirection = 'ingress' | 'egress';

export interface TcHook {
  ifindex: number;
  direction: TcDirection;
}

export interface TcFilter {
  handle: number;
  priority: number;
}

function hook(h: TcHook, points?: number) {
  return {
    sz: koffi.sizeof(bpf_tc_hook),
    ifindex: h.ifindex,
    attach_point: points ?? (h.direction === 'ingress' ? BPF_TC_INGRESS : BPF_TC_EGRESS),
    parent: 0,
  };
}

function what(h: TcHook): string {
  return `ifindex ${h.ifindex} ${h.direction}`;
}

/** Creates the clsact qdisc; false if it already existed (so the caller knows not to remove it). */
export function tcHookCreate(h: TcHook): boolean {
  return callIntUnless(`bpf_tc_hook_create(${what(h)})`, EEXIST, () => native().bpf_tc_hook_create(hook(h)));
}

/** Removes the clsact qdisc (ingress and egress, with every filter on them). */
export function tcHookDestroy(ifindex: number): void {
  const h = hook({ ifindex, direction: 'egress' }, BPF_TC_INGRESS | BPF_TC_EGRESS);
  callInt(`bpf_tc_hook_destroy(ifindex ${ifindex})`, () => native().bpf_tc_hook_destroy(h));
}

/** Attaches `progFd` as a direct-action filter; returns the program id the kernel reports. */
export function tcAttach(h: TcHook, progFd: number, f: TcFilter, flags = 0): number {
  const o = { sz: koffi.sizeof(bpf_tc_opts), prog_fd: progFd, flags, prog_id: 0, handle: f.handle, priority: f.priority };
  callInt(`bpf_tc_attach(${what(h)})`, () => native().bpf_tc_attach(hook(h), o));
  return o.prog_id;
}

/** Removes the filter; false if it was not there. */
export function tcDetach(h: TcHook, f: TcFilter): boolean {
  const o = { sz: koffi.sizeof(bpf_tc_opts), prog_fd: 0, flags: 0, prog_id: 0, handle: f.handle, priority: f.priority };
  return callIntUnless(`bpf_tc_detach(${what(h)})`, ENOENT, () => native().bpf_tc_detach(hook(h), o));
}

/** The program id of the filter at handle/priority, or undefined. */
export function tcQuery(h: TcHook, f: TcFilter): number | undefined {
  const o = { sz: koffi.sizeof(bpf_tc_opts), prog_fd: 0, flags: 0, prog_id: 0, handle: f.handle, priority: f.priority };
  const found = callIntUnless(`bpf_tc_query(${what(h)})`, ENOENT, () => native().bpf_tc_query(hook(h), o));
  return found ? o.prog_id : undefined;
}
