// XDP attachment through netlink (bpf_xdp_attach / detach / query): the classic,
// device-owned attachment, with XDP_FLAGS_* for mode, UPDATE_IF_NOEXIST and
// REPLACE. For link-based attachment see BpfLink.attachXdp.
import koffi from 'koffi';

import { callInt } from './call.js';
import { native } from './native.js';
import { bpf_xdp_attach_opts, bpf_xdp_query_opts, XDP_ATTACHED_DRV, XDP_ATTACHED_HW, XDP_ATTACHED_MULTI, XDP_ATTACHED_SKB } from './types.js';

export type XdpAttachMode = 'none' | 'native' | 'generic' | 'offload' | 'multi';

export interface XdpQuery {
  /** The program in the single attached mode, 0 if none or several. */
  progId: number;
  drvProgId: number;
  skbProgId: number;
  hwProgId: number;
  mode: XdpAttachMode;
}

const MODES: Record<number, XdpAttachMode> = {
  [XDP_ATTACHED_DRV]: 'native',
  [XDP_ATTACHED_SKB]: 'generic',
  [XDP_ATTACHED_HW]: 'offload',
  [XDP_ATTACHED_MULTI]: 'multi',
};

function attachOpts(oldProgFd?: number) {
  return { sz: koffi.sizeof(bpf_xdp_attach_opts), old_prog_fd: oldProgFd ?? 0 };
}

/**
 * bpf_xdp_attach(): attach `progFd` to `ifindex`. With XDP_FLAGS_REPLACE,
 * `oldProgFd` is the program expected there now (the swap is atomic).
 */
export function xdpAttach(ifindex: number, progFd: number, flags = 0, oldProgFd?: number): void {
  callInt(`bpf_xdp_attach(ifindex ${ifindex})`, () =>
    native().bpf_xdp_attach(ifindex, progFd, flags, attachOpts(oldProgFd)),
  );
}

/** bpf_xdp_detach(): remove the program of the mode in `flags` (XDP_FLAGS_REPLACE + oldProgFd: only that one). */
export function xdpDetach(ifindex: number, flags = 0, oldProgFd?: number): void {
  callInt(`bpf_xdp_detach(ifindex ${ifindex})`, () => native().bpf_xdp_detach(ifindex, flags, attachOpts(oldProgFd)));
}

/** bpf_xdp_query(): what is attached to `ifindex`, in which mode. */
export function xdpQuery(ifindex: number, flags = 0): XdpQuery {
  const o: Record<string, number | undefined> = { sz: koffi.sizeof(bpf_xdp_query_opts) };
  callInt(`bpf_xdp_query(ifindex ${ifindex})`, () => native().bpf_xdp_query(ifindex, flags, o));
  return {
    progId: o.prog_id ?? 0,
    drvProgId: o.drv_prog_id ?? 0,
    skbProgId: o.skb_prog_id ?? 0,
    hwProgId: o.hw_prog_id ?? 0,
    mode: MODES[o.attach_mode ?? 0] ?? 'none',
  };
}
