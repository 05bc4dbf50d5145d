// Typed failures of the host side. A system call that fails becomes a SysError
// carrying the errno, its name and the operation, like the libbpf binding's
// LibbpfError; both are RingctlErrors, so a command prints one line and exits 1.
import { getSystemErrorName } from 'node:util';

import { RingctlError } from '../xdp/errors.js';
import { strerror } from './libc.js';

/** 'ENOMEM' for 12; `E<n>` for numbers the system has no name for. */
export function errnoName(errno: number): string {
  try {
    return getSystemErrorName(-errno);
  } catch {
    return `E${errno}`;
  }
}

export class SysError extends RingctlError {
  /** The positive errno, e.g. 12. */
  readonly errno: number;
  /** Its name, e.g. 'ENOMEM'. */
  readonly code: string;
  /** What failed, e.g. 'mmap(/dev/shm/kvmring-lab)'. */
  readonly op: string;

  constructor(op: string, errno: number, opts: { hint?: string; cause?: unknown } = {}) {
    const code = errnoName(errno);
    super(`${op}: ${strerror(errno)} (${code})${opts.hint ? `; ${opts.hint}` : ''}`, { cause: opts.cause });
    this.errno = errno;
    this.code = code;
    this.op = op;
  }

  /** A SysError from an exception of node:fs (or rethrows anything else). */
  static fromNode(op: string, err: unknown, hint?: string): SysError {
    const e = err as NodeJS.ErrnoException;
    if (typeof e?.errno !== 'number') throw err;
    return new SysError(op, Math.abs(e.errno), { hint, cause: err });
  }
}

/** Runs a node:fs call; its failure becomes a SysError for `op`. */
export function fsCall<T>(op: string, fn: () => T, hint?: string): T {
  try {
    return fn();
  } catch (err) {
    throw SysError.fromNode(op, err, hint);
  }
}
