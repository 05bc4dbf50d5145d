// `ringctl host down`: stop the doorbell server, remove the region file and the
// state. Safe to run twice and after a crash: each step does what is left to do.
import { existsSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';

import { fsCall } from '../common/sys-error.js';
import { stopDoorbellServer } from './process.js';
import { DEFAULT_REGION_DIR, hostPaths, readState, regionPath, StateError, type HostState } from './state.js';

/** The server pid the server itself published, for when state.json has none. */
function publishedPid(file: string): number | undefined {
  try {
    const pid = (JSON.parse(readFileSync(file, 'utf8')) as { pid?: unknown }).pid;
    return Number.isSafeInteger(pid) && (pid as number) > 0 ? (pid as number) : undefined;
  } catch {
    return undefined;
  }
}

export async function hostDown(runDir: string, name: string): Promise<string[]> {
  const paths = hostPaths(runDir, name);
  if (!existsSync(paths.dir)) return [`${name}: not up; nothing to do`];

  const lines: string[] = [];
  let state: HostState | undefined;
  try {
    state = readState(paths);
  } catch (err) {
    if (!(err instanceof StateError)) throw err;
    lines.push(`${name}: ${err.message.replace(/;.*$/, '')}: cleaning up what is left`);
  }

  const pids = new Set<number>();
  if (state?.doorbell?.pid) pids.add(state.doorbell.pid);
  const published = publishedPid(paths.doorbell);
  if (published) pids.add(published);
  for (const pid of pids) {
    const r = await stopDoorbellServer(pid, name);
    if (r === 'stopped') lines.push(`${name}: stopped the doorbell server (pid ${pid})`);
    else if (r === 'foreign') lines.push(`${name}: pid ${pid} is no longer our doorbell server; left it alone`);
  }

  // Without a state file, the region can only be where `host up` puts it by default.
  const path = state?.path ?? regionPath(DEFAULT_REGION_DIR, name);
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    /* already gone */
  }
  if (isFile) {
    fsCall(`unlink(${path})`, () => unlinkSync(path));
    lines.push(`${name}: removed ${path}`);
  }

  fsCall(`rm(${paths.dir})`, () => rmSync(paths.dir, { recursive: true, force: true }));
  lines.push(`${name}: removed ${paths.dir}`);
  return lines;
}
