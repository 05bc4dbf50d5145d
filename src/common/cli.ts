// What the attach/detach/status commands share: the root check, failure
// reporting (one line, then any detail, exit 1), and a plain text table.
import type { Writable } from 'node:stream';

import type { LibbpfError } from '../libbpf/errors.js';
import { RingctlError } from './errors.js';

export function requireRoot(verb: string): void {
  if (process.getuid?.() !== 0) {
    throw new RingctlError(`ringctl ${verb} needs root (CAP_BPF and CAP_NET_ADMIN)`);
  }
}

/**
 * Prints a command's failure to `stderr` and returns its exit code. Kernel and
 * libbpf errors are failures; anything else is a bug and is rethrown.
 */
export function reportFailure(stderr: Writable, err: unknown): number {
  if (err instanceof RingctlError) {
    stderr.write(`ringctl: ${err.message}\n`);
    if (err.detail) stderr.write(`${err.detail.replace(/\n*$/, '\n')}`);
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

/**
 * Resolves with the first SIGINT or SIGTERM, both handlers then removed.
 * `ready` runs once they are in place, so nothing it starts can outrun them.
 */
export function untilSignal(ready?: () => void): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
    ready?.();
  });
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd() + '\n').join('');
}
