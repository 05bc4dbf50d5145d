// The state of a ring device for `ringctl status`: whether it exists, is up and
// has carrier (through ioctl, in the caller's network namespace), and, for a
// ringnet device, its regions and how many peers are up, dead or refused (its
// genetlink family; a test's text files under $RINGCTL_SYSFS_NET). A refused slot (ringnet turned down the MAC it claims) is no
// peer, up or dead: it has a count of its own, shown only when not zero.
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
  regions: { region: number; pci: string; mode: string; slot: number; maxPeers: number }[];
  peersUp: number;
  peersDead: number;
  /** Slots ringnet refused (their MAC claim): no peer, no traffic. */
  peersRefused: number;
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
    peersRefused: 0,
    problems: [],
  };
  if (!s.present) return s;
  // One read of the table says both whether it is ringnet's and what its peers are.
  try {
    const t = readTable(name, sysfs);
    if (!t) return s;
    s.peersUp = t.peers.filter((p) => p.state === 'up').length;
    s.peersDead = t.peers.filter((p) => p.state === 'dead').length;
    s.peersRefused = t.peers.filter((p) => p.state === 'refused').length;
    s.problems.push(...t.problems);
  } catch (err) {
    // A table that is there but cannot be read: a ringnet device all the same.
    s.problems.push((err as Error).message);
  }
  s.ringnet = true;
  try {
    const r = sysfs === DEFAULT_SYSFS_NET ? dumpRegions(name) : parseRegions(readFileSync(regionsPath(name, sysfs), 'utf8'));
    s.regions = r.regions.map((x) => ({ region: x.region, pci: x.pci, mode: x.mode, slot: x.selfSlot, maxPeers: x.maxPeers }));
    s.problems.push(...r.problems);
  } catch (err) {
    s.problems.push(`${name}: cannot read its regions (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return s;
}

/** The row of `ringctl status`'s ring table: RING STATE CARRIER PEERS REGIONS. */
export function ringDeviceRow(s: RingDeviceState): string[] {
  if (!s.present) return [s.name, 'missing', '-', '-', 'no such device (is ringnet.ko loaded?)'];
  const regions = s.ringnet
    ? s.regions.map((r) => `${r.pci} ${r.mode}, slot ${r.slot} of ${r.maxPeers}`).join('; ') || '-'
    : 'not a ringnet device';
  const peers = `${s.peersUp} up, ${s.peersDead} dead${s.peersRefused ? `, ${s.peersRefused} refused` : ''}`;
  return [s.name, s.up ? 'up' : 'down', s.carrier ? 'on' : 'off', s.ringnet ? peers : '-', regions];
}
