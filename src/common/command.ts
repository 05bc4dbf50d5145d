// The base of every ringctl command, as Yarn's BaseCommand: a command's run()
// does the work and returns its exit code; a failure it throws becomes one line
// (and any detail) on stderr and exit 1 here, not in a try/catch per command.
// Bad input (clipanion's UsageError) and bugs go on to clipanion, which prints
// them with the usage or the stack.
import type { Writable } from 'node:stream';

import { Command } from 'clipanion';

import type { LibbpfError } from '../libbpf/errors.js';
import { RingctlError } from './errors.js';

export abstract class RingctlCommand extends Command {
  /** The command itself: its exit code (undefined: 0). */
  abstract run(): Promise<number | undefined>;

  override async execute(): Promise<number> {
    try {
      return (await this.run()) ?? 0;
    } catch (err) {
      return reportFailure(this.context.stderr, err);
    }
  }
}

/**
 * Prints a command's failure to `stderr` and returns its exit code. Kernel and
 * libbpf errors are failures; anything else is a bug and is rethrown.
 */
export function reportFailure(stderr: Writable, err: unknown): number {
  if (err instanceof RingctlError) {
    stderr.write(`ringctl: ${err.message}\n`);
    if (err.detail) stderr.write(err.detail.replace(/\n*$/, '\n'));
    return 1;
  }
  if (isLibbpfError(err)) {
    stderr.write(`ringctl: ${err.message}\n`);
    const log = err.log.trim();
    if (log) stderr.write(`${log.split('\n').slice(-15).join('\n')}\n`);
    return 1;
  }
  throw err;
}

/**
 * A LibbpfError, known by its name and fields rather than by `instanceof`: its
 * class comes with the binding, and loading koffi and libbpf for every command
 * (even --help) costs seconds in a TCG guest.
 */
function isLibbpfError(err: unknown): err is LibbpfError {
  if (!(err instanceof Error) || err.name !== 'LibbpfError') return false;
  const e = err as Partial<LibbpfError>;
  return typeof e.errno === 'number' && typeof e.code === 'string' && typeof e.log === 'string';
}
