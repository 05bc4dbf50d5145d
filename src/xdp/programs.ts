// Opening the two BPF objects with their load-time settings. They are built into
// build/bpf/ (npx zx scripts/build.mjs bpf); RINGCTL_BPF_DIR points elsewhere.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { BpfObject } from '../libbpf/index.js';
import { encodeConfig, MAPS, OBJECTS } from './codecs.js';
import { RingctlError } from '../common/errors.js';

export interface RingConfig {
  /** ring0's MAC: the source of every frame sent into the ring. */
  ringMac: Uint8Array;
  /** ring0's ifindex (tc_transparent redirects to it). */
  ringIfindex: number;
  /** The NIC's own MAC: xdp_ring redirects only frames addressed to it. */
  nicMac: Uint8Array;
}

/** Where the .bpf.o files are: $RINGCTL_BPF_DIR, or the package's build/bpf. */
export function bpfDir(env: Record<string, string | undefined> = process.env): string {
  return env.RINGCTL_BPF_DIR || fileURLToPath(new URL('../../../build/bpf', import.meta.url));
}

function open(dir: string, file: string): BpfObject {
  const path = join(dir, file);
  if (!existsSync(path)) throw new RingctlError(`${path} is missing: build it with npx zx scripts/build.mjs bpf`);
  return BpfObject.open(path);
}

/** xdp_ring.bpf.o, opened and configured, not yet loaded. */
export function openXdpObject(dir: string, cfg: RingConfig): BpfObject {
  const obj = open(dir, OBJECTS.xdp.file);
  try {
    obj.setGlobal(OBJECTS.configVar, encodeConfig(cfg));
    return obj;
  } catch (err) {
    obj.close();
    throw err;
  }
}

/**
 * tc_transparent.bpf.o, opened and configured, not yet loaded; it shares
 * ring_peers with xdp_ring (`peersFd`), so one sync serves both.
 */
export function openTcObject(dir: string, cfg: RingConfig, peersFd: number): BpfObject {
  const obj = open(dir, OBJECTS.tc.file);
  try {
    obj.setGlobal(OBJECTS.configVar, encodeConfig(cfg));
    obj.map(MAPS.peers).reuseFd(peersFd);
    return obj;
  } catch (err) {
    obj.close();
    throw err;
  }
}
