// Names, paths and addresses of a lab, derived from its name (KVMRING_LAB, default
// "lab") so that two labs can run side by side on one host.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const REPO = join(import.meta.dirname, '..', '..');

/** A failure the user can act on: printed as one line, without a stack. */
export class LabError extends Error {}
export const MAX_GUESTS = 8;

export function labName() {
  const name = process.env.KVMRING_LAB || 'lab';
  if (!/^[a-z0-9][a-z0-9-]{0,11}$/.test(name) || name === 'host') {
    throw new LabError(`KVMRING_LAB=${name}: use 1-12 lowercase letters, digits or dashes (not "host")`);
  }
  return name;
}

/** Everything on the host that belongs to the lab called `name`. */
export function labPaths(name = labName()) {
  const state = `/run/kvmring/${name}`;
  return {
    name,
    label: name === 'lab' ? 'the lab' : `lab ${name}`,
    state,
    stateFile: join(state, 'state.json'),
    control: join(state, 'control.sock'),
    supervisorLog: join(state, 'supervisor.log'),
    netns: `kvmring-${name}`,
    bridge: 'br0',
    // `ringctl host up --name NAME` makes the rosters and regions here, every one
    // of them named kvmring-NAME+...
    hostDir: '/dev/shm',
    hostPrefix: `kvmring-${name}+`,
    // Every QEMU of this lab carries this in its -name, so cleanup after a crash
    // recognises its own processes and no one else's.
    marker: `kvmring-${name}`,
  };
}

export function guestPaths(paths, n) {
  return {
    console: join(paths.state, `g${n}.console.log`),
    qemuLog: join(paths.state, `g${n}.qemu.log`),
    qemuAgent: join(paths.state, `g${n}.qemu-agent.sock`),
    qmp: join(paths.state, `g${n}.qmp.sock`),
    exec: join(paths.state, `g${n}.sock`),
    // lab up --tcg-profile: tcgprof's snapshot file (and FILE.req asks for one).
    tcgprof: join(paths.state, `g${n}.tcgprof`),
  };
}

/**
 * `lab up --probe-bars`: besides ring0's devices, every guest gets these small
 * ivshmem-plain devices, each over a file of its own in the lab's state folder, at
 * a fixed PCI slot, kept from every driver (init.sh, kvmring.nodriver=): "ro" maps
 * its file read-only (readonly=on on the backend), "rw" read-write, to show what a
 * guest's writes through a BAR do to the file behind it (test/lab/isolation.test.ts).
 * Their slots are clear of what `ringctl host` places (00:08-00:19: regions, the
 * doorbell at 00:0f, the roster at 00:10) and of the lab's own devices (00:01-00:02);
 * a lab guest has no USB controller at 00:1a/00:1b (-nodefaults).
 */
export const PROBE_BARS = [
  { name: 'ro', slot: '1a', readonly: true },
  { name: 'rw', slot: '1b', readonly: false },
];
export const PROBE_BAR_SIZE = 64 * 1024;

/** Guest n's extra devices of a kind (probe, foreign): name, PCI address, host file, size, and the rest of each entry. */
function extraBars(paths, n, kind, list, size) {
  return list.map(({ name, slot, ...rest }) => ({
    name,
    slot,
    bdf: `0000:00:${slot}.0`,
    path: join(paths.state, `g${n}.${kind}-${name}.bar`),
    size,
    ...rest,
  }));
}

/** Guest n's probe devices: name, PCI address in the guest, host file, size, readonly. */
export function probeBars(paths, n) {
  return extraBars(paths, n, 'probe', PROBE_BARS, PROBE_BAR_SIZE);
}

/**
 * `lab up --foreign-bars`: every guest also gets ivshmem-plain devices of another
 * program (a Looking Glass, say), read-write over files of their own, that nothing
 * keeps from ringnet: ringnet must leave them unbound itself (test/lab/foreign.test.ts).
 * "zeros" sits below the roster (00:05), so it is probed before the roster is read;
 * "random" (random bytes) above everything `ringctl host` places (00:1c).
 */
export const FOREIGN_BARS = [
  { name: 'zeros', slot: '05', fill: 'zeros' },
  { name: 'random', slot: '1c', fill: 'random' },
];
export const FOREIGN_BAR_SIZE = 1024 * 1024;

/** Guest n's foreign devices: name, PCI address in the guest, host file, size, fill. */
export function foreignBars(paths, n) {
  return extraBars(paths, n, 'foreign', FOREIGN_BARS, FOREIGN_BAR_SIZE);
}

/** The lab's addresses for guest n (DESIGN.md). */
export function guestAddresses(n) {
  const hex = n.toString(16).padStart(2, '0');
  return {
    eth1Mac: `52:54:00:00:02:${hex}`,
    eth1: `192.0.2.${n}`,
    eth1v6: `2001:db8:1::${n}`,
    ring0: `198.51.100.${n}`,
    ring0v6: `2001:db8:2::${n}`,
    tap: `tap${n}`,
  };
}

/**
 * The prefixes guest n may claim on ring0 (`ringctl host up --guest gN,addr=...`):
 * its ring0 addresses, and its eth1 addresses for transparent mode, each alone.
 */
export function guestPrefixes(n) {
  const a = guestAddresses(n);
  return [`${a.ring0}/32`, `${a.ring0v6}/128`, `${a.eth1}/32`, `${a.eth1v6}/128`];
}

/** "g2", "2" -> 2; throws with the valid names otherwise. */
export function parseGuest(spec, guests) {
  const m = /^g?(\d+)$/.exec(String(spec));
  const n = m ? Number(m[1]) : NaN;
  if (!Number.isInteger(n) || n < 1 || (guests && n > guests)) {
    const valid = guests ? `g1..g${guests}` : 'g1, g2, ...';
    throw new LabError(`no guest ${spec} in this lab (guests: ${valid})`);
  }
  return n;
}

export function readState(paths) {
  if (!existsSync(paths.stateFile)) return undefined;
  try {
    return JSON.parse(readFileSync(paths.stateFile, 'utf8'));
  } catch {
    return undefined;
  }
}

export function processAlive(pid) {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** True if pid is alive and its command line contains `marker` (ours, not a reused pid). */
export function processIsOurs(pid, marker) {
  if (!processAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
  } catch {
    return false;
  }
}
