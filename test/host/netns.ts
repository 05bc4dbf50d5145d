// A network namespace for a host test, and a way into it for this thread: setns(2)
// on the main thread, where ringctl runs in-process, libbpf makes its netlink and
// bpf() calls and child processes are forked. The mount namespace stays ours, so
// pins land in the host's bpffs (tests use a private pin root).
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, statfsSync } from 'node:fs';

import koffi from 'koffi';

import { libc } from '../../src/common/libc.js';

const CLONE_NEWNET = 0x40000000;
const BPF_FS_MAGIC = 0xcafe4a11;

function setns(fd: number): void {
  if (libc().setns(fd, CLONE_NEWNET) !== 0) throw new Error(`setns: errno ${koffi.errno()}`);
}

export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}

export class Netns {
  readonly name: string;
  #home = -1;

  constructor(prefix: string) {
    this.name = `${prefix}-${process.pid}`;
    ip('netns', 'add', this.name);
  }

  /** Runs `ip` inside the namespace (`ip -n NAME ...`). */
  ip(...args: string[]): string {
    return ip('-n', this.name, ...args);
  }

  /** Moves this thread into the namespace until leave(). */
  enter(): void {
    if (this.#home >= 0) return;
    this.#home = openSync('/proc/thread-self/ns/net', 'r');
    const fd = openSync(`/run/netns/${this.name}`, 'r');
    try {
      setns(fd);
    } finally {
      closeSync(fd);
    }
  }

  leave(): void {
    if (this.#home < 0) return;
    setns(this.#home);
    closeSync(this.#home);
    this.#home = -1;
  }

  /** Leaves and deletes the namespace (its devices go with it). */
  delete(): void {
    this.leave();
    spawnSync('ip', ['netns', 'del', this.name]);
  }
}

/** Mounts bpffs at /sys/fs/bpf if nothing is there yet; true if we mounted it. */
export function ensureBpffs(): boolean {
  const path = '/sys/fs/bpf';
  if (!existsSync(path)) mkdirSync(path, { recursive: true });
  if (statfsSync(path).type === BPF_FS_MAGIC) return false;
  execFileSync('mount', ['-t', 'bpf', 'bpf', path]);
  return true;
}
