// What the host commands share: where the state lives, the common options, and
// loading a setup's state with a clear failure when it is not up.
import { Option, UsageError } from 'clipanion';

import { RingctlError } from '../common/errors.js';
import { parseName } from './args.js';
import { planGuestSlot } from './isolation.js';
import { DEFAULT_NAME, guestSocket, hostPaths, hostRunDir, readState, type HostPaths, type HostState } from './state.js';

export const nameOption = () =>
  Option.String('--name', DEFAULT_NAME, { description: `The setup's name, for several setups on one host (default ${DEFAULT_NAME})` });

/** --id: what prefixes the QEMU ids of a guest's devices. */
export const idOption = () => Option.String('--id', 'kvmring', { description: 'Prefix of the QEMU ids (default kvmring), for a guest in several setups' });

/** A QEMU id prefix: a letter, then letters, digits, '.', '_', '-'. */
export function checkId(id: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_.-]{0,31}$/.test(id)) throw new UsageError(`--id must be a QEMU id (a letter, then letters, digits, '.', '_', '-'), not ${JSON.stringify(id)}`);
  return id;
}

/**
 * The state of a setup that is up, the slot of its guest `guest` (by name) and
 * where that guest's files are: what qemu-args and libvirt-xml print from.
 */
export function stateGuest(paths: HostPaths, guest: string): { state: HostState; slot: number; files: { dir: string; doorbell?: string } } {
  const state = requireState(paths);
  const slot = planGuestSlot(state.plan, guest);
  const doorbell = state.plan.mode === 'doorbell' ? { doorbell: guestSocket(paths, guest) } : {};
  return { state, slot, files: { dir: state.dir, ...doorbell } };
}

/** The paths of setup `name` (a UsageError for a bad name). */
export function pathsFor(name: string, env: Record<string, string | undefined>): HostPaths {
  return hostPaths(hostRunDir(env), parseName(name));
}

/** The state of a setup that is up, or a RingctlError saying how to bring it up. */
export function requireState(paths: HostPaths): HostState {
  const s = readState(paths);
  if (!s) {
    const flag = paths.name === DEFAULT_NAME ? '' : ` --name ${paths.name}`;
    throw new RingctlError(`kvmring ${paths.name} is not up; start it with \`ringctl host up --guests N${flag}\``);
  }
  return s;
}
