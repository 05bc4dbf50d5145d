// libbpf's print callback. libbpf formats nothing itself: it hands us a format
// and a va_list, which we turn into text with libc's vsnprintf. Warnings and
// info are kept for the operation in progress (LibbpfError.log); debug output
// is formatted only when someone listens for it.
import koffi from 'koffi';

import { libc } from '../common/libc.js';
import { libbpf_print_fn, native, type Ptr } from './native.js';
import { CONSTANTS } from './types.js';

export type LogLevel = 'warn' | 'info' | 'debug';
export type LogSink = (level: LogLevel, message: string) => void;

const LEVELS: LogLevel[] = ['warn', 'info', 'debug'];
/** x86-64 SysV: va_list is one 24-byte __va_list_tag, so va_copy is a memcpy. */
const VA_LIST_SIZE = 24;
const FIRST_TRY = 1024;
/** Without a va_copy we get one try: big enough for a verifier log's usual tail. */
const ONE_SHOT = 1 << 20;

let installed: bigint | undefined;
let sink: LogSink | undefined;
let debug = false;
let pending: string[] = [];

function format(fmt: Ptr, ap: Ptr): string {
  const { vsnprintf } = libc();
  if (process.arch === 'x64') {
    const copy = Buffer.from(new Uint8Array(koffi.view(ap, VA_LIST_SIZE)));
    let buf = Buffer.alloc(FIRST_TRY);
    const n = vsnprintf(buf, buf.length, fmt, copy);
    if (n < 0) return '';
    if (n >= buf.length) {
      buf = Buffer.alloc(n + 1);
      vsnprintf(buf, buf.length, fmt, ap);
    }
    return buf.toString('utf8', 0, Math.min(n, buf.length - 1));
  }
  const buf = Buffer.alloc(ONE_SHOT);
  const n = vsnprintf(buf, buf.length, fmt, ap);
  return n < 0 ? '' : buf.toString('utf8', 0, Math.min(n, buf.length - 1));
}

function onPrint(level: number, fmt: Ptr, ap: Ptr): number {
  if (level === CONSTANTS.LIBBPF_DEBUG && !(debug && sink)) return 0;
  try {
    const text = format(fmt, ap);
    if (level !== CONSTANTS.LIBBPF_DEBUG) pending.push(text);
    sink?.(LEVELS[level] ?? 'debug', text);
  } catch {
    // Never throw into libbpf.
  }
  return 0;
}

/** Installs the callback (once per process; libbpf has one global printer). */
export function installPrint(): void {
  if (installed !== undefined) return;
  installed = koffi.register(onPrint, koffi.pointer(libbpf_print_fn));
  native().libbpf_set_print(installed);
}

/**
 * Also send libbpf's messages to `fn` (warn and info; debug too with
 * `{ debug: true }`). Pass undefined to stop.
 */
export function setLogSink(fn: LogSink | undefined, opts: { debug?: boolean } = {}): void {
  installPrint();
  sink = fn;
  debug = !!opts.debug;
}

/** Starts a new operation: forgets what libbpf printed before. */
export function beginOp(): void {
  installPrint();
  pending = [];
}

/** What libbpf printed since beginOp(). */
export function opLog(): string {
  return pending.join('');
}
