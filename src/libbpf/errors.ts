// Typed failures: every libbpf or kernel error the binding sees becomes a
// LibbpfError carrying the errno, its name, the operation and what libbpf said
// (its message for the errno and whatever it printed meanwhile, e.g. the
// verifier log of a rejected program).
import { errnoName } from '../common/errno.js';
import { native } from './native.js';

/** libbpf_strerror(): the system's text, or libbpf's for its own codes. */
export function libbpfStrerror(errno: number): string {
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
      text = libbpfStrerror(errno);
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
