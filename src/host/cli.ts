// What the host commands share: where the state lives, the common options, and
// loading a region's state with a clear failure when it is not up.
import { Option } from 'clipanion';

import { RingctlError } from '../common/errors.js';
import { parseName } from './args.js';
import { DEFAULT_NAME, hostPaths, hostRunDir, readState, type HostPaths, type HostState } from './state.js';

export const nameOption = () =>
  Option.String('--name', DEFAULT_NAME, { description: `The region's name, for several regions on one host (default ${DEFAULT_NAME})` });

/** The paths of region `name` (a UsageError for a bad name). */
export function pathsFor(name: string, env: Record<string, string | undefined>): HostPaths {
  return hostPaths(hostRunDir(env), parseName(name));
}

/** The state of a region that is up, or a RingctlError saying how to bring it up. */
export function requireState(paths: HostPaths): HostState {
  const s = readState(paths);
  if (!s) {
    const flag = paths.name === DEFAULT_NAME ? '' : ` --name ${paths.name}`;
    throw new RingctlError(`kvmring ${paths.name} is not up; start it with \`ringctl host up --guests N${flag}\``);
  }
  return s;
}
