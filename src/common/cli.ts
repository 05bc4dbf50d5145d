// What the commands share besides their base class (command.ts): the root
// check, waiting for SIGINT/SIGTERM, and a plain text table.
import { RingctlError } from './errors.js';

export function requireRoot(verb: string): void {
  if (process.getuid?.() !== 0) {
    throw new RingctlError(`ringctl ${verb} needs root (CAP_BPF and CAP_NET_ADMIN)`);
  }
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
