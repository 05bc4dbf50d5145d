// `ringctl host down`: stop the doorbell server, remove every roster and region
// file and the state. Safe to run twice and after a crash: each step does what is
// left to do, and files are found by the plan and by their names (files.ts), so a
// damaged state still leaves nothing behind in the directory it names, or in the
// default one.
import { existsSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';

import { fsCall } from '../common/sys-error.js';
import { filesByName, setupFiles } from './files.js';
import { stopDoorbellServer } from './process.js';
import { DEFAULT_REGION_DIR, hostPaths, readState, StateError, type HostState } from './state.js';

/** The server pid the server itself published, for when state.json has none. */
function publishedPid(file: string): number | undefined {
  try {
    const pid = (JSON.parse(readFileSync(file, 'utf8')) as { pid?: unknown }).pid;
    return Number.isSafeInteger(pid) && (pid as number) > 0 ? (pid as number) : undefined;
  } catch {
    return undefined;
  }
}

const isFile = (path: string) => {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

export async function hostDown(runDir: string, name: string): Promise<string[]> {
  const paths = hostPaths(runDir, name);
  if (!existsSync(paths.dir)) {
    // No state at all: whatever carries the setup's name where `host up` puts it by default is a leftover.
    const left = filesByName(DEFAULT_REGION_DIR, name).filter(isFile);
    for (const path of left) fsCall(`unlink(${path})`, () => unlinkSync(path));
    return [left.length ? `${name}: not up; removed ${left.length} file${left.length === 1 ? '' : 's'} left in ${DEFAULT_REGION_DIR}` : `${name}: not up; nothing to do`];
  }

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

  // The plan's files, then whatever else carries the setup's name where they would be.
  const dir = state?.dir ?? DEFAULT_REGION_DIR;
  const files = new Set([...(state ? setupFiles(state.plan, state.dir).map((f) => f.path) : []), ...filesByName(dir, name)]);
  let removed = 0;
  for (const path of files) {
    if (!isFile(path)) continue;
    fsCall(`unlink(${path})`, () => unlinkSync(path));
    removed++;
  }
  if (removed) lines.push(`${name}: removed ${removed} file${removed === 1 ? '' : 's'} from ${dir}`);

  fsCall(`rm(${paths.dir})`, () => rmSync(paths.dir, { recursive: true, force: true }));
  lines.push(`${name}: removed ${paths.dir}`);
  return lines;
}
