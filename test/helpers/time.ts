// Time in the tests, in one place: sleeping, waiting for a condition, and the lab's
// slowdown under the debug kernel. A test waits for what it needs with eventually();
// a fixed sleep() is for a wait that is the point (traffic running while something
// happens, time that must pass), with a comment saying why.
import assert from 'node:assert/strict';

/** The debug tier's labs boot the debug kernel (KASAN, lockdep): everything takes longer. */
export const DEBUG_KERNEL = process.env.KVMRING_LAB_KERNEL === 'debug';
/** Multiply a lab test's time limits by this. */
export const SLOWDOWN = DEBUG_KERNEL ? 4 : 1;

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface EventuallyOptions {
  /** Milliseconds between two checks (250). */
  every?: number;
  /** What to add to the failure, read when it fails (the latest log, a value). */
  detail?: () => string | Promise<string>;
}

/**
 * Calls `check` every `opts.every` ms until it returns something other than false,
 * null or undefined, and resolves with that; fails naming `what` after `ms`. A check
 * that throws fails at once.
 */
export async function eventually<T>(
  ms: number,
  what: string,
  check: () => T | Promise<T>,
  opts: EventuallyOptions = {},
): Promise<Exclude<T, false | null | undefined>> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await check();
    if (v !== false && v !== null && v !== undefined) return v as Exclude<T, false | null | undefined>;
    await sleep(opts.every ?? 250);
  }
  const detail = opts.detail ? `:\n${await opts.detail()}` : '';
  return assert.fail(`${what} did not happen within ${ms} ms${detail}`);
}
