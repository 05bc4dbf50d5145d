// The two calling conventions of libbpf 1.x: int functions return -errno, pointer
// functions return NULL and set errno. Both become a LibbpfError carrying what
// libbpf printed during the call.
import koffi from 'koffi';

import { errnoValue } from '../common/errno.js';
import { LibbpfError } from './errors.js';
import { beginOp, opLog } from './log.js';
import type { Ptr } from './native.js';

const EINVAL = errnoValue('EINVAL');

/** Runs an int-returning libbpf call; throws on a negative result. */
export function callInt(op: string | (() => string), fn: () => number): number {
  beginOp();
  const ret = fn();
  if (ret < 0) throw new LibbpfError(typeof op === 'string' ? op : op(), -ret, opLog());
  return ret;
}

/** Runs a pointer-returning libbpf call; throws on NULL. */
export function callPtr(op: string | (() => string), fn: () => Ptr | null): Ptr {
  beginOp();
  koffi.errno(0);
  const ret = fn();
  if (ret === null || ret === 0n) {
    throw new LibbpfError(typeof op === 'string' ? op : op(), koffi.errno() || EINVAL, opLog());
  }
  return ret;
}

/** Like callInt, but `errno` (e.g. ENOENT) is an answer rather than a failure: returns false. */
export function callIntUnless(op: string, errno: number, fn: () => number): boolean {
  beginOp();
  const ret = fn();
  if (ret === -errno) return false;
  if (ret < 0) throw new LibbpfError(op, -ret, opLog());
  return true;
}
