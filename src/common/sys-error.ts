// A system call that fails becomes a SysError carrying the errno, its name and
// the operation, like the libbpf binding's LibbpfError. It is a RingctlError, so
// a command prints one line and exits 1. Loads libc (koffi) for strerror(): keep
// it out of what every command imports.
import { errnoName } from './errno.js';
import { RingctlError } from './errors.js';
import { strerror } from './libc.js';

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
    const errno = (err as Partial<NodeJS.ErrnoException> | null)?.errno;
    if (typeof errno !== 'number') throw err;
    return new SysError(op, Math.abs(errno), { hint, cause: err });
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
