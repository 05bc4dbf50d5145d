// The arguments of the host verbs: sizes, guest counts, vectors, names.
// Pure functions; bad input is a UsageError (clipanion prints it without a stack).
import { UsageError } from 'clipanion';

import { CONSTANTS as C } from '../ring/layout.js';

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

export const MIN_GUESTS = 2;
export const MAX_GUESTS = C.KVMRING_PEERS_MAX;
export const MAX_VECTORS = 64;

/** '16M' -> 16777216. Binary units K, M, G, T (also KiB, MiB, ...), or plain bytes. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(text);
  if (!m) throw new UsageError(`${JSON.stringify(text)} is not a size; write e.g. 16M, 64M or 1G`);
  const bytes = Number(m[1]) * UNITS[m[2].toUpperCase()];
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`${text} is too large`);
  return bytes;
}

/** 16777216 -> '16M': the largest binary unit that divides the size exactly. */
export function formatSize(bytes: number): string {
  for (const u of ['T', 'G', 'M', 'K']) {
    if (bytes >= UNITS[u] && bytes % UNITS[u] === 0) return `${bytes / UNITS[u]}${u}`;
  }
  return String(bytes);
}

export function parseGuests(text: string): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < MIN_GUESTS || n > MAX_GUESTS) {
    throw new UsageError(`--guests must be a number of guests from ${MIN_GUESTS} to ${MAX_GUESTS}, not ${JSON.stringify(text)}`);
  }
  return n;
}

export function parseVectors(text: string): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_VECTORS) {
    throw new UsageError(`--vectors must be from 1 to ${MAX_VECTORS}, not ${JSON.stringify(text)}`);
  }
  return n;
}

/** What a name may be, for messages. */
export const NAME_RULE = "1 to 32 letters, digits, '.', '_' or '-' (not starting with a symbol)";

/** Whether `text` is a plain name: names become file names and a socket path, so keep them short and plain. */
export function isPlainName(text: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/.test(text);
}

export function parseName(text: string): string {
  if (!isPlainName(text)) throw new UsageError(`--name must be ${NAME_RULE}, not ${JSON.stringify(text)}`);
  return text;
}

/** Single-quotes what a POSIX shell would otherwise split or expand. */
export function shellQuote(args: readonly string[]): string {
  return args.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Who makes a setup's rosters and regions (provider.ts). */
export type Provider = 'kvmring' | 'shm';
export type ProviderChoice = Provider | 'auto';

/** --provider of `host up`: auto by default. */
export function parseProvider(text: string | undefined): ProviderChoice {
  const v = text ?? 'auto';
  if (v === 'auto' || v === 'kvmring' || v === 'shm') return v;
  throw new UsageError(`--provider ${JSON.stringify(v)}: write kvmring (the module's regions under /dev/kvmring), shm (files in --dir) or auto (kvmring when it is loaded)`);
}
