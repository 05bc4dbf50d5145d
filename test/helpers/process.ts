// Processes the tests start or stop, seen from /proc.
import { readFileSync } from 'node:fs';

/** Whether pid runs: a process that has exited (gone, or a zombie with no command line) does not. */
export function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8') !== '';
  } catch {
    return false;
  }
}
