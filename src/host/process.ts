// The doorbell server as a process: started detached by `host up`, found again
// and stopped by `host down`, but only if the pid still runs our server (its
// command line says `host doorbell-server NAME`), never whatever reused the pid.
// It takes nothing but NAME: its configuration is the region's state.json, which
// `host up` writes before starting it (serverConfig()).
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { RingctlError } from '../common/errors.js';
import { fsCall } from '../common/sys-error.js';
import type { DoorbellConfig } from './doorbell.js';
import { mayTalkInGroups } from './groups.js';
import type { HostPaths, HostState } from './state.js';

export const SERVER_VERB = ['host', 'doorbell-server'] as const;

/** The ringctl entry point the server runs from (bin/ringctl.js of this build). */
export function ringctlBin(): string {
  return fileURLToPath(new URL('../../../bin/ringctl.js', import.meta.url));
}

/** Whether `pid` runs `ringctl host doorbell-server NAME`; false if it is gone. */
export function isDoorbellServer(pid: number, name: string): boolean {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
  } catch {
    return false;
  }
  const i = argv.indexOf(SERVER_VERB[1]);
  return i > 0 && argv[i - 1] === SERVER_VERB[0] && argv[i + 1] === name;
}

/**
 * What the server of a doorbell-mode state serves: a socket per guest,
 * doorbells within the state's groups, `onIds` told each guest's id.
 */
export function serverConfig(
  state: HostState,
  paths: HostPaths,
  log: (line: string) => void,
  onIds?: (ids: Map<string, number | undefined>) => void,
): DoorbellConfig {
  const d = state.doorbell;
  if (state.plan.mode !== 'doorbell' || !d) throw new RingctlError(`kvmring ${state.name} is not in doorbell mode`);
  return { vectors: state.plan.vectors, statusFile: paths.doorbell, log, guests: d.guests, mayTalk: mayTalkInGroups(d.groups), ...(onIds ? { onIds } : {}) };
}

/** Messages the server sends over the IPC channel it is started with. */
export type ServerHello = { ready: true; pid: number } | { error: string };

/**
 * Starts `ringctl host doorbell-server NAME` in its own session, output to
 * `log`, and waits until it listens (or fails). Returns its pid.
 */
export async function startDoorbellServer(name: string, log: string, env: Record<string, string | undefined>, timeoutMs = 15_000): Promise<number> {
  const out = fsCall(`open(${log})`, () => openSync(log, 'a', 0o600));
  try {
    const child = spawn(process.execPath, [ringctlBin(), ...SERVER_VERB, name], {
      detached: true,
      stdio: ['ignore', out, out, 'ipc'],
      env,
      cwd: '/',
    });
    const tail = () => {
      try {
        return readFileSync(log, 'utf8').trim().split('\n').slice(-5).join('\n');
      } catch {
        return '';
      }
    };
    try {
      return await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new RingctlError(`the doorbell server did not start within ${timeoutMs / 1000}s (log: ${log})`, { detail: tail() }));
        }, timeoutMs);
        child.once('error', (err) => {
          clearTimeout(timer);
          reject(new RingctlError(`cannot start the doorbell server: ${err.message}`));
        });
        child.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(new RingctlError(`the doorbell server exited at start (${signal ?? `code ${code}`}; log: ${log})`, { detail: tail() }));
        });
        child.once('message', (m: ServerHello) => {
          clearTimeout(timer);
          if ('ready' in m) resolve(m.pid);
          else {
            child.kill('SIGKILL');
            reject(new RingctlError(`the doorbell server failed: ${m.error}`));
          }
        });
      });
    } finally {
      child.removeAllListeners();
      if (child.connected) child.disconnect();
      child.unref();
    }
  } finally {
    closeSync(out);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Stops our doorbell server: SIGTERM, then SIGKILL after `graceMs`.
 * 'stopped', 'gone' (not running) or 'foreign' (the pid runs something else: left alone).
 */
export async function stopDoorbellServer(pid: number, name: string, graceMs = 3000): Promise<'stopped' | 'gone' | 'foreign'> {
  if (!alive(pid)) return 'gone';
  if (!isDoorbellServer(pid, name)) return 'foreign';
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'gone';
  }
  for (let waited = 0; waited < graceMs; waited += 50) {
    if (!isDoorbellServer(pid, name)) return 'stopped';
    await sleep(50);
  }
  if (isDoorbellServer(pid, name)) process.kill(pid, 'SIGKILL');
  for (let waited = 0; waited < 2000 && isDoorbellServer(pid, name); waited += 50) await sleep(50);
  return 'stopped';
}
