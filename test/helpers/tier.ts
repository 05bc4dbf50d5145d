// Test tiers: unit (no privileges), host (root: BPF and namespaces on this kernel) and
// lab (real guests under QEMU). A tier that cannot run skips with its reason, except
// under CI=true, where that is a failure: CI must never pass by skipping.
import { accessSync, constants, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

export type Tier = 'unit' | 'host' | 'lab';

/** Why `tier` cannot run on this machine, or undefined if it can. */
export function tierUnavailable(tier: Tier): string | undefined {
  if (tier === 'unit') return undefined;
  if (process.getuid?.() !== 0) return `the ${tier} tier needs root (run npm test as root)`;
  const ip = spawnSync('ip', ['netns', 'list']);
  if (ip.error || ip.status !== 0) return `the ${tier} tier needs iproute2 with network namespace support`;
  if (tier === 'lab') {
    for (const tool of ['qemu-system-x86_64', 'busybox']) {
      const r = spawnSync('sh', ['-c', `command -v ${tool}`]);
      if (r.status !== 0) return `the lab tier needs ${tool}: run npm run setup`;
    }
    if (!existsSync('/dev/net/tun')) return 'the lab tier needs /dev/net/tun for the guests\' tap devices';
    try {
      accessSync('/dev/shm', constants.W_OK);
    } catch {
      return 'the lab tier needs a writable /dev/shm for the shared region';
    }
  }
  return undefined;
}

/**
 * Call in a suite's `before` hook: skips the suite (or fails it under CI=true)
 * when its tier cannot run here.
 */
export function requireTier(ctx: Mocha.Context, tier: Tier): void {
  const reason = tierUnavailable(tier);
  if (!reason) return;
  if (process.env.CI === 'true') throw new Error(`${reason}; under CI=true a tier that cannot run fails`);
  ctx.skip();
}
