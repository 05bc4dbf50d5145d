// `ringctl detach`: take ringctl's programs off an interface and remove its pins,
// whatever state a crash left them in (link gone, interface gone, pins only).
import { existsSync } from 'node:fs';

import { BpfLink, closeFd, LibbpfError, objGet, tcDetach, tcHookDestroy, xdpDetach, XDP_FLAGS_DRV_MODE, XDP_FLAGS_REPLACE, XDP_FLAGS_SKB_MODE } from '../libbpf/index.js';
import { removePins, requireBpffs } from './pins.js';
import { foreignXdpId, inspect, TC_FILTER, type IfaceState } from './state.js';

/** Undoes whatever of ours is on the interface and removes the pins. */
export function detachState(s: IfaceState): { xdp: boolean; tc: boolean } {
  const done = { xdp: false, tc: false };
  const { paths, ifindex } = s;
  if (ifindex !== undefined) {
    if (existsSync(paths.xdpLink)) {
      const link = BpfLink.openPinned(paths.xdpLink);
      try {
        const info = link.info();
        if (info.xdpIfindex === ifindex) {
          link.detach();
          done.xdp = true;
        }
      } finally {
        link.close();
      }
    }
    // Attached without a link (by hand, or an older ringctl): netlink, only if it is ours.
    if (!done.xdp && s.state === 'attached' && s.xdpProgId !== undefined) {
      const fd = objGet(paths.xdpProg);
      try {
        const flags = s.mode === 'native' ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
        xdpDetach(ifindex, flags | XDP_FLAGS_REPLACE, fd);
        done.xdp = true;
      } finally {
        closeFd(fd);
      }
    }
    if (s.tcAttached) {
      done.tc = tcDetach({ ifindex, direction: 'egress' }, TC_FILTER);
      // Only the clsact we created, and only on the device our filter was on (not
      // on a new device that took the name).
      if (existsSync(paths.clsactOwned)) {
        try {
          tcHookDestroy(ifindex);
        } catch (err) {
          if (!(err instanceof LibbpfError)) throw err; // already gone
        }
      }
    }
  }
  removePins(paths);
  return done;
}

export interface DetachResult {
  /** False when there was nothing of ours. */
  changed: boolean;
  lines: string[];
}

export function detach(pinRoot: string, ifname: string): DetachResult {
  requireBpffs(pinRoot);
  const s = inspect(pinRoot, ifname);
  if (s.state === 'none') {
    const foreign = foreignXdpId(s.xdp);
    const note = foreign ? ` (XDP program ${foreign} was not attached by ringctl; left in place)` : '';
    return { changed: false, lines: [`${ifname}: nothing to detach${note}`] };
  }
  const done = detachState(s);
  const lines: string[] = [];
  if (done.xdp) lines.push(`${ifname}: detached xdp_ring (program ${s.xdpProgId}${s.mode ? `, ${s.mode}` : ''})`);
  if (done.tc) lines.push(`${ifname}: detached tc_transparent (program ${s.tcProgId})`);
  if (!done.xdp) {
    lines.push(
      s.state === 'gone'
        ? `${ifname}: the interface is gone; removed its pins`
        : `${ifname}: xdp_ring was no longer attached; removed the stale pins`,
    );
  } else lines.push(`${ifname}: removed ${s.paths.dir}`);
  return { changed: true, lines };
}
