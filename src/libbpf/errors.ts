// Typed failures: every libbpf or kernel error the binding sees becomes a
// LibbpfError carrying the errno, its name, the operation and what libbpf said
// (its message for the errno and whatever it printed meanwhile, e.g. the
// verifier log of a rejected program).
import koffi from 'koffi';

import { native } from './native.js';

const ERRNO_NAMES = new Map<number, string>();
for (const [name, value] of Object.entries(koffi.os.errno)) {
  // Aliases (EWOULDBLOCK = EAGAIN, EDEADLOCK = EDEADLK, ENOTSUP = EOPNOTSUPP): keep the usual name.
  if (!ERRNO_NAMES.has(value) || ['EWOULDBLOCK', 'EDEADLOCK', 'ENOTSUP'].includes(ERRNO_NAMES.get(value)!)) {
    ERRNO_NAMES.set(value, name);
  }
}

/** libbpf's own codes (LIBBPF_ERRNO__*), beyond the system's errno range. */
const LIBBPF_ERRNO_NAMES: Record<number, string> = {
  4000: 'LIBBPF_ERRNO__LIBELF',
  4001: 'LIBBPF_ERRNO__FORMAT',
  4002: 'LIBBPF_ERRNO__KVERSION',
  4003: 'LIBBPF_ERRNO__ENDIAN',
  4004: 'LIBBPF_ERRNO__INTERNAL',
  4005: 'LIBBPF_ERRNO__RELOC',
  4006: 'LIBBPF_ERRNO__LOAD',
  4007: 'LIBBPF_ERRNO__VERIFY',
  4008: 'LIBBPF_ERRNO__PROG2BIG',
  4009: 'LIBBPF_ERRNO__KVER',
  4010: 'LIBBPF_ERRNO__PROGTYPE',
  4011: 'LIBBPF_ERRNO__WRNGPID',
  4012: 'LIBBPF_ERRNO__INVSEQ',
  4013: 'LIBBPF_ERRNO__NLPARSE',
};

/** 'EBUSY' for 16; `E<n>` for numbers we have no name for. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? LIBBPF_ERRNO_NAMES[errno] ?? `E${errno}`;
}

export function errnoValue(name: string): number {
  const v = koffi.os.errno[name];
  if (v === undefined) throw new Error(`unknown errno name ${name}`);
  return v;
}

/** libbpf_strerror(): the system's text, or libbpf's for its own codes. */
export function strerror(errno: number): string {
  const buf = Buffer.alloc(256);
  native().libbpf_strerror(errno, buf, buf.length);
  const end = buf.indexOf(0);
  return buf.toString('utf8', 0, end < 0 ? buf.length : end);
}

const BEGIN_LOG = /-- BEGIN PROG LOAD LOG --\n/;
const END_LOG = /-- END PROG LOAD LOG --/;

export class LibbpfError extends Error {
  override readonly name = 'LibbpfError';
  /** The positive errno, e.g. 16. */
  readonly errno: number;
  /** Its name, e.g. 'EBUSY'. */
  readonly code: string;
  /** What the binding was doing, e.g. 'bpf_xdp_attach(eth1)'. */
  readonly op: string;
  /** libbpf_strerror() of the errno, e.g. 'Device or resource busy'. */
  readonly libbpfMessage: string;
  /** Everything libbpf printed during the operation (warnings, the verifier log). */
  readonly log: string;

  constructor(op: string, errno: number, log = '') {
    const code = errnoName(errno);
    let text: string;
    try {
      text = strerror(errno);
    } catch {
      text = code;
    }
    super(`${op}: ${text} (${code})`);
    this.errno = errno;
    this.code = code;
    this.op = op;
    this.libbpfMessage = text;
    this.log = log;
  }

  /** The kernel verifier's log, if libbpf printed one (a program load failed). */
  get verifierLog(): string | undefined {
    const start = this.log.search(BEGIN_LOG);
    if (start < 0) return undefined;
    const body = this.log.slice(start).replace(BEGIN_LOG, '');
    const end = body.search(END_LOG);
    return (end < 0 ? body : body.slice(0, end)).trimEnd();
  }

  /** The last `lines` lines of the verifier log (where the verdict is). */
  verifierLogTail(lines = 20): string | undefined {
    const log = this.verifierLog;
    if (log === undefined) return undefined;
    return log.split('\n').slice(-lines).join('\n');
  }
}
