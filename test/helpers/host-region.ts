// A region for the `ringctl host` tests: a name of this process's own in /dev/shm, a
// run directory of its own, and the mocha hooks that take both down again.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { HostState } from '../../src/host/state.js';
import { runCli, type CliResult } from './run-cli.js';
import { requireTier } from './tier.js';

export interface HostRegion {
  /** The region's name: `<prefix>-<pid>`. */
  readonly name: string;
  /** Its file: /dev/shm/kvmring-<name>. */
  readonly path: string;
  /** Runs ringctl with RINGCTL_HOST_RUN_DIR set to the run directory. */
  readonly cli: (...argv: string[]) => Promise<CliResult>;
  /** The region's state directory under the run directory. */
  readonly stateDir: () => string;
  /** Its state.json. */
  readonly state: () => HostState;
}

/**
 * Call in a describe(): its before hook skips the suite outside the host tier, then
 * runs `needs` (which throws when something else the suite needs is missing) and
 * makes the run directory; after each test `host down` takes the region down, and
 * after the suite the run directory and the region file go.
 */
export function hostRegion(prefix: string, needs?: () => void): HostRegion {
  const name = `${prefix}-${process.pid}`;
  const path = `/dev/shm/kvmring-${name}`;
  let runDir: string | undefined;
  let env: Record<string, string | undefined> | undefined;
  const cli = (...argv: string[]): Promise<CliResult> => runCli(argv, env);
  const stateDir = (): string => {
    if (!runDir) throw new Error('hostRegion: no run directory before the suite starts');
    return join(runDir, name);
  };

  before(function () {
    requireTier(this, 'host');
    needs?.();
    runDir = mkdtempSync(join(tmpdir(), `host-${prefix}-`));
    env = { ...process.env, RINGCTL_HOST_RUN_DIR: runDir };
  });

  afterEach(async () => {
    if (env) await cli('host', 'down', '--name', name);
  });

  after(() => {
    if (runDir) rmSync(runDir, { recursive: true, force: true });
    rmSync(path, { force: true });
  });

  return {
    name,
    path,
    cli,
    stateDir,
    state: () => JSON.parse(readFileSync(join(stateDir(), 'state.json'), 'utf8')) as HostState,
  };
}
