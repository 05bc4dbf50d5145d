// A setup for the `ringctl host` tests: a name of this process's own, its files in
// /dev/shm, a run directory of its own, and the mocha hooks that take both down again.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { HostState } from '../../src/host/state.js';
import { runCli, type CliResult } from './run-cli.js';
import { requireTier } from './tier.js';

export interface HostSetup {
  /** The setup's name: `<prefix>-<pid>`. */
  readonly name: string;
  /** Where its files are: /dev/shm. */
  readonly dir: string;
  /** Its file `file` (a roster's or a region's name, as the plan has it) in dir. */
  readonly file: (file: string) => string;
  /** The names of the files in dir that are this setup's (kvmring-<name>+...), sorted. */
  readonly files: () => string[];
  /** Runs ringctl with RINGCTL_HOST_RUN_DIR set to the run directory. */
  readonly cli: (...argv: string[]) => Promise<CliResult>;
  /** The setup's state directory under the run directory. */
  readonly stateDir: () => string;
  /** Its state.json. */
  readonly state: () => HostState;
}

/**
 * Call in a describe(): its before hook skips the suite outside the host tier, then
 * runs `needs` (which throws when something else the suite needs is missing) and
 * makes the run directory; after each test `host down` takes the setup down, and
 * after the suite the run directory and any file of the setup go.
 */
export function hostSetup(prefix: string, needs?: () => void): HostSetup {
  const name = `${prefix}-${process.pid}`;
  const dir = '/dev/shm';
  let runDir: string | undefined;
  let env: Record<string, string | undefined> | undefined;
  const cli = (...argv: string[]): Promise<CliResult> => runCli(argv, env);
  const stateDir = (): string => {
    if (!runDir) throw new Error('hostSetup: no run directory before the suite starts');
    return join(runDir, name);
  };
  const files = () =>
    readdirSync(dir)
      .filter((f) => f.startsWith(`kvmring-${name}+`))
      .sort();

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
    for (const f of files()) rmSync(join(dir, f), { force: true });
  });

  return {
    name,
    dir,
    file: (f) => join(dir, f),
    files,
    cli,
    stateDir,
    state: () => JSON.parse(readFileSync(join(stateDir(), 'state.json'), 'utf8')) as HostState,
  };
}
