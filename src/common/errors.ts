// A command that ran but failed: one line for the user, optionally followed by
// detail (such as the tail of the verifier log). Commands print it and exit 1
// (RingctlCommand, command.ts). Cheap to import: no native code.
export class RingctlError extends Error {
  override readonly name = 'RingctlError';
  readonly detail?: string;

  constructor(message: string, opts: { detail?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.detail = opts.detail;
  }
}
