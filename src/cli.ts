import { Cli, type BaseContext } from 'clipanion';

import { COMMANDS } from './commands/index.js';
import { VERSION } from './version.js';

export function makeCli(enableColors: boolean): Cli {
  const cli = new Cli({
    binaryLabel: 'kvmring controller',
    binaryName: 'ringctl',
    binaryVersion: VERSION,
    enableColors,
  });
  for (const command of COMMANDS) cli.register(command);
  return cli;
}

/** Runs ringctl with `argv` and returns its exit code; output goes to `context`. */
export async function main(argv: string[], context: Partial<BaseContext> = {}): Promise<number> {
  const full: BaseContext = { ...Cli.defaultContext, ...context };
  const colors = full.colorDepth > 1 && !full.env.NO_COLOR;
  return makeCli(colors).run(argv, full);
}
