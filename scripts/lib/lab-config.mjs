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
    region: `/dev/shm/kvmring-${name}`,
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
  };
}

/**
 * `lab up --probe-bars`: besides the region, every guest gets these small
 * ivshmem-plain devices, each over a file of its own in the lab's state folder, at
 * a fixed PCI slot, kept from every driver (init.sh, kvmring.nodriver=): "ro" maps
 * its file read-only (readonly=on on the backend), "rw" read-write, to show what a
 * guest's writes through a BAR do to the file behind it (test/lab/isolation.test.ts).
 */
export const PROBE_BARS = [
  { name: 'ro', slot: '10', readonly: true },
  { name: 'rw', slot: '11', readonly: false },
];
export const PROBE_BAR_SIZE = 64 * 1024;

/** Guest n's probe devices: name, PCI address in the guest, host file, size, readonly. */
export function probeBars(paths, n) {
  return PROBE_BARS.map(({ name, slot, readonly }) => ({
    name,
    slot,
    bdf: `0000:00:${slot}.0`,
    path: join(paths.state, `g${n}.probe-${name}.bar`),
    size: PROBE_BAR_SIZE,
    readonly,
  }));
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
