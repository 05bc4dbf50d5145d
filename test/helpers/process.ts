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

/** CPU time (user + system, in seconds) pid has used so far; NaN once it is gone. */
export function cpuSeconds(pid: number | undefined): number {
  const USER_HZ = 100;
  try {
    // Fields after "pid (comm) ": state is the first, utime the 12th, stime the 13th.
    const f = readFileSync(`/proc/${pid ?? 0}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / USER_HZ;
  } catch {
    return Number.NaN;
  }
}
