// The state of a ring device for `ringctl status`: whether it exists, is up and
// has carrier (through ioctl, in the caller's network namespace), and, for a
// ringnet device, the regions the host's roster maps into this guest, its slot,
// and how many peers are up or dead (its genetlink family; a test's text files
// under $RINGCTL_SYSFS_NET).
import { readFileSync } from 'node:fs';

import { dumpRegions } from '../netlink/ringnet.js';
import { DEFAULT_SYSFS_NET, findPeerTable } from '../peers/table.js';
import { parseRegions, regionsPath } from '../stats/sources.js';
import { linkFlags } from './netdev.js';

export interface RingDeviceState {
  name: string;
  /** False: no such device (ringnet not loaded). */
  present: boolean;
  up: boolean;
  carrier: boolean;
  /** Whether it is a ringnet device (it has a peer table); a stand-in is not. */
  ringnet: boolean;
  regions: { region: number; pci: string; mode: string; slot: number; maxPeers: number; owner: number; readers: number[] }[];
  peersUp: number;
  peersDead: number;
  /** Peers that publish a MAC or addresses their roster entry does not give them (ignored). */
  peersConflicting: number;
  /** What could not be read, one line each. */
  problems: string[];
}

/** `readTable` reads the peer table (tests count the reads): once. */
export function ringDeviceState(name: string, sysfs: string, readTable = findPeerTable): RingDeviceState {
  const flags = linkFlags(name);
  const s: RingDeviceState = {
    name,
    present: flags !== undefined,
    up: flags?.up ?? false,
    carrier: flags?.running ?? false,
    ringnet: false,
    regions: [],
    peersUp: 0,
    peersDead: 0,
    peersConflicting: 0,
    problems: [],
  };
  if (!s.present) return s;
  // One read of the table says both whether it is ringnet's and what its peers are.
  try {
    const t = readTable(name, sysfs);
    if (!t) return s;
    s.peersUp = t.peers.filter((p) => p.state === 'up').length;
    s.peersDead = t.peers.filter((p) => p.state === 'dead').length;
    s.peersConflicting = t.peers.filter((p) => p.state !== 'self' && (p.claimedMac !== undefined || p.addrsRefused > 0)).length;
    s.problems.push(...t.problems);
  } catch (err) {
    // A table that is there but cannot be read: a ringnet device all the same.
    s.problems.push((err as Error).message);
  }
  s.ringnet = true;
  try {
    const r = sysfs === DEFAULT_SYSFS_NET ? dumpRegions(name) : parseRegions(readFileSync(regionsPath(name, sysfs), 'utf8'));
    s.regions = r.regions.map((x) => ({ region: x.region, pci: x.pci, mode: x.mode, slot: x.selfSlot, maxPeers: x.maxPeers, owner: x.owner, readers: x.readers }));
    s.problems.push(...r.problems);
  } catch (err) {
    s.problems.push(`${name}: cannot read its regions (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return s;
}

/**
 * What `ringctl status` says of the regions: "slot 0 of 3, plain, 3 regions (1
 * own)". Every region of a domain has the same slot, peer count and mode.
 */
function regionsText(s: RingDeviceState): string {
  const r = s.regions;
  if (!r.length) return '-';
  const own = r.filter((x) => x.owner === x.slot).length;
  const modes = [...new Set(r.map((x) => x.mode))].join('/');
  return `slot ${r[0].slot} of ${r[0].maxPeers}, ${modes}, ${r.length} region${r.length > 1 ? 's' : ''} (${own} own)`;
}

/** The row of `ringctl status`'s ring table: RING STATE CARRIER PEERS REGIONS. */
export function ringDeviceRow(s: RingDeviceState): string[] {
  if (!s.present) return [s.name, 'missing', '-', '-', 'no such device (is ringnet.ko loaded?)'];
  const regions = s.ringnet ? regionsText(s) : 'not a ringnet device';
  const peers = `${s.peersUp} up, ${s.peersDead} dead${s.peersConflicting ? `, ${s.peersConflicting} in conflict` : ''}`;
  return [s.name, s.up ? 'up' : 'down', s.carrier ? 'on' : 'off', s.ringnet ? peers : '-', regions];
}
