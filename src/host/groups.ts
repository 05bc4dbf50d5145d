// Groups (ABI v2): which guests may talk to each other. Two guests may talk when
// they share a group (`--group a=g1,g2 --group b=g2,g3`: g1 and g2, g2 and g3, but
// not g1 and g3). The rule is symmetric by construction; a guest in no group talks
// to nobody. Pure functions, no native code: the state check and the doorbell
// server's process both use them.
import { RingctlError } from '../common/errors.js';

/** A group as the host state records it. */
export interface Group {
  name: string;
  guests: string[];
}

/**
 * Guest and group names: they become socket file names and the roster's
 * NUL-padded 32-byte name field, so at most 31 plain characters.
 */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,30}$/;

/** Why `groups` cannot be used with `guests`, or undefined if they can. */
export function groupsProblem(guests: readonly string[], groups: readonly Group[]): string | undefined {
  const known = new Set(guests);
  const names = new Set<string>();
  for (const g of groups) {
    if (!NAME_RE.test(g.name)) return `group name ${JSON.stringify(g.name)} is not 1 to 31 letters, digits, '.', '_' or '-' (not starting with a symbol)`;
    if (names.has(g.name)) return `group ${g.name} is defined twice`;
    names.add(g.name);
    const seen = new Set<string>();
    for (const m of g.guests) {
      if (!known.has(m)) return `group ${g.name} names ${JSON.stringify(m)}, which is not a guest (guests: ${guests.join(', ')})`;
      if (seen.has(m)) return `group ${g.name} names ${m} twice`;
      seen.add(m);
    }
  }
  return undefined;
}

/** Throws a RingctlError naming the problem with `groups` (groupsProblem()). */
export function checkGroups(guests: readonly string[], groups: readonly Group[]): void {
  const problem = groupsProblem(guests, groups);
  if (problem) throw new RingctlError(problem);
}

/** The rule of `groups`: whether a and b share a group. */
export function mayTalkInGroups(groups: readonly Group[]): (a: string, b: string) => boolean {
  const pairs = new Set<string>();
  for (const g of groups) for (const a of g.guests) for (const b of g.guests) pairs.add(`${a}\0${b}`);
  return (a, b) => pairs.has(`${a}\0${b}`);
}
