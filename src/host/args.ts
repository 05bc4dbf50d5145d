// The arguments of the host verbs: sizes, guest counts, names, guest references.
// Pure functions; bad input is a UsageError (clipanion prints it without a stack).
import { UsageError } from 'clipanion';

import { defaultRingSize, regionUsed } from '../ring/geometry.js';
import { CONSTANTS as C } from '../ring/layout.js';

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

export const DEFAULT_REGION_SIZE = 16 * 2 ** 20;
/** 16 guests' rings at KVMRING_RING_SIZE_MAX fit in 64 GiB; more would never be used. */
export const MAX_REGION_SIZE = 64 * 2 ** 30;
export const MIN_GUESTS = 2;
export const MAX_GUESTS = C.KVMRING_PEERS_MAX;
export const MAX_VECTORS = 64;

const isPowerOfTwo = (n: number) => Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;

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

/** The smallest power-of-two region that holds `guests` peers with rings of KVMRING_RING_SIZE_MIN. */
export function smallestRegionSize(guests: number): number {
  let size = C.KVMRING_PAGE;
  while (size < regionUsed(guests, C.KVMRING_RING_SIZE_MIN)) size *= 2;
  return size;
}

/**
 * Checks a region size for `guests` peers and returns the ring size a format
 * will choose (the largest power of two that fits).
 */
export function checkRegionSize(size: number, guests: number): number {
  if (!isPowerOfTwo(size)) throw new UsageError(`--size must be a power of two (e.g. 16M, 64M, 1G), not ${formatSize(size)}`);
  if (size > MAX_REGION_SIZE) throw new UsageError(`--size ${formatSize(size)} is larger than the ${formatSize(MAX_REGION_SIZE)} any region can use`);
  const ringSize = defaultRingSize(size, guests);
  if (!ringSize) {
    const need = smallestRegionSize(guests);
    throw new UsageError(
      `a ${formatSize(size)} region cannot hold ${guests} guests: ${guests * (guests - 1)} rings of at least ` +
        `${formatSize(C.KVMRING_RING_SIZE_MIN)} need --size ${formatSize(need)} or more`,
    );
  }
  return ringSize;
}

/** A hugetlbfs file must be a whole number of huge pages. */
export function checkHugePages(size: number, pageSize: number, dir: string): void {
  if (size % pageSize !== 0) {
    throw new UsageError(`${dir} is hugetlbfs with ${formatSize(pageSize)} pages: --size must be a multiple of ${formatSize(pageSize)}, not ${formatSize(size)}`);
  }
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

/** 'g3' or '3' -> 3: guests are numbered from 1, as the lab names them (g1, g2, ...). */
export function parseGuestRef(text: string, guests?: number): number {
  const m = /^g?(\d+)$/.exec(text);
  const n = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_GUESTS) {
    throw new UsageError(`${JSON.stringify(text)} is not a guest; name it gN (or N), N from 1 to ${MAX_GUESTS}`);
  }
  if (guests !== undefined && n > guests) throw new UsageError(`g${n}: the region has only ${guests} guest slots (g1..g${guests})`);
  return n;
}

/** Single-quotes what a POSIX shell would otherwise split or expand. */
export function shellQuote(args: readonly string[]): string {
  return args.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
