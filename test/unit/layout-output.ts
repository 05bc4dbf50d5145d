// Reads what a layout program in build/native prints (struct/member/const lines)
// for the layout tests.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface CLayout {
  structs: Map<string, { size: number; members: Map<string, { offset: number; size: number }> }>;
  constants: Map<string, number>;
  /** Lines of other kinds, split into words. */
  other: string[][];
}

export function readLayout(program: string): CLayout {
  const path = fileURLToPath(new URL(`../../../build/native/${program}`, import.meta.url));
  if (!existsSync(path)) throw new Error(`${path} is missing: build it with npx zx scripts/build.mjs native`);
  const out: CLayout = { structs: new Map(), constants: new Map(), other: [] };
  for (const line of execFileSync(path, { encoding: 'utf8' }).split('\n')) {
    const w = line.trim().split(/\s+/);
    if (w[0] === 'struct') out.structs.set(w[1], { size: Number(w[2]), members: new Map() });
    else if (w[0] === 'member') out.structs.get(w[1])!.members.set(w[2], { offset: Number(w[3]), size: Number(w[4]) });
    else if (w[0] === 'const') out.constants.set(w[1], Number(w[2]));
    else if (w[0]) out.other.push(w);
  }
  return out;
}
