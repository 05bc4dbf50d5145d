// ABI v2 on the host: who the guests are (--guest, --guests), which of them may
// talk (--group), how they are kept apart (--isolation owner|pair), and the plan
// that follows: every region with its owner and readers, and every guest's
// roster and PCI devices. Pure functions; bad input is a UsageError that names
// the cause and the fix. The plan is plain JSON, which `host up` keeps in its
// state so that every other host verb reads the same plan.
import { createHash } from 'node:crypto';
import { UsageError } from 'clipanion';

import { CidrError, formatCidr, formatMac, networkOf, parseCidrs, parseMac, type Cidr } from '../xdp/cidr.js';
import { ownedUsed } from '../ring/geometry.js';
import { CONSTANTS as C } from '../ring/layout.js';
import { formatSize, MAX_GUESTS, MIN_GUESTS, parseGuests, parseName, parseSize, parseVectors } from './args.js';
import { NAME_RE, type Group } from './groups.js';
import { DEFAULT_NAME, formatInstance, randomInstance } from './state.js';

export type Isolation = 'owner' | 'pair';
export const ISOLATIONS: readonly Isolation[] = ['owner', 'pair'];
export const DEFAULT_ISOLATION: Isolation = 'owner';

/** One guest as the host is told about it (a --guest option, or gN of --guests N). */
export interface GuestSpec {
  name: string;
  /** ring0's MAC, aa:bb:cc:dd:ee:ff; the plan picks one when absent. */
  mac?: string;
  /** Prefixes the guest may claim, canonical CIDRs (at most KVMRING_ROSTER_ADDRS). */
  addrs: string[];
}

/** Guests that may talk to each other. */
export interface GroupSpec {
  name: string;
  /** Guest names. */
  members: string[];
}

/** Everything the host is told: what planHost() plans from. */
export interface HostSpec {
  /** The setup's name: its files are kvmring-NAME+... */
  name: string;
  /** By slot: the first is slot 0. */
  guests: GuestSpec[];
  /** None: every guest in one group. */
  groups: GroupSpec[];
  isolation: Isolation;
  mode: 'plain' | 'doorbell';
  /** Interrupt vectors per guest in doorbell mode. */
  vectors: number;
  /** Data bytes of every ring; undefined picks defaultRingSizeV2(). */
  ringSize?: number;
  /** Queue pairs per ordered pair of guests, 1..KVMRING_QUEUES_MAX. */
  queues: number;
  /**
   * The files' page: on hugetlbfs its huge page size, which every roster and
   * region is rounded up to (a power of two, so regions stay powers of two);
   * undefined for KVMRING_PAGE.
   */
  pageSize?: number;
}

/** The options of a host verb that plans guests, as clipanion hands them over (strings, unparsed). */
export interface IsolationOptions {
  name?: string;
  guests?: string;
  guest?: string[];
  group?: string[];
  isolation?: string;
  ringSize?: string;
  queues?: string;
  doorbell?: boolean;
  vectors?: string;
}

// ---- parsing ----------------------------------------------------------------

/** What a guest's or a group's name may be: the roster's 32-byte name field holds 31 characters and a NUL. */
const GUEST_NAME_RULE = "1 to 31 letters, digits, '.', '_' or '-' (not starting with a symbol)";

/** --guest NAME[,mac=MAC][,addr=CIDR]...: one guest, its MAC and the prefixes it may claim. */
export function parseGuestOption(text: string): GuestSpec {
  const [name, ...attrs] = text.split(',');
  if (!NAME_RE.test(name)) throw new UsageError(`--guest ${JSON.stringify(text)}: a guest's name must be ${GUEST_NAME_RULE}; write --guest NAME[,mac=MAC][,addr=CIDR]...`);
  let mac: string | undefined;
  const addrs: string[] = [];
  for (const attr of attrs) {
    const eq = attr.indexOf('=');
    const key = eq < 0 ? attr : attr.slice(0, eq);
    const value = attr.slice(eq + 1);
    if (key === 'mac' && eq > 0) {
      if (mac !== undefined) throw new UsageError(`--guest ${name}: mac= given twice; a guest has one ring0 MAC`);
      mac = checkMac(value, name);
    } else if (key === 'addr' && eq > 0) {
      addrs.push(value);
    } else {
      throw new UsageError(`--guest ${name}: ${JSON.stringify(attr)} is not mac=MAC or addr=CIDR; write --guest NAME[,mac=MAC][,addr=CIDR]...`);
    }
  }
  return { name, ...(mac === undefined ? {} : { mac }), addrs: parseAddrs(addrs, name).map(formatCidr) };
}

/** A MAC a guest may have on ring0: unicast and not zero. Returns it canonical (lower case, colons). */
function checkMac(text: string, guest: string): string {
  let b: Buffer;
  try {
    b = parseMac(text);
  } catch (err) {
    if (err instanceof CidrError) throw new UsageError(`--guest ${guest}: ${err.message}`);
    throw err;
  }
  if (b.every((x) => x === 0)) throw new UsageError(`--guest ${guest}: mac=${text} is the zero MAC; give a unicast one, e.g. 02:00:00:00:00:01, or leave mac= out for one the host picks`);
  if (b[0] & 1) throw new UsageError(`--guest ${guest}: mac=${text} is a multicast MAC (the first byte is odd); give a unicast one, e.g. 02:00:00:00:00:01`);
  return formatMac(b);
}

/** A guest's addr= prefixes: valid, without repeats, no more than a roster holds. */
function parseAddrs(list: readonly string[], guest: string): Cidr[] {
  let cidrs: Cidr[];
  try {
    cidrs = parseCidrs(list);
  } catch (err) {
    if (err instanceof CidrError) throw new UsageError(`--guest ${guest}: addr=: ${err.message}`);
    throw err;
  }
  if (cidrs.length > C.KVMRING_ROSTER_ADDRS) {
    throw new UsageError(`--guest ${guest}: ${cidrs.length} addr= prefixes, but a roster holds at most ${C.KVMRING_ROSTER_ADDRS} per guest; join adjacent ones into a shorter prefix`);
  }
  return cidrs;
}

/** --group NAME=GUEST,GUEST...: guests that may talk to each other. */
export function parseGroupOption(text: string): GroupSpec {
  const eq = text.indexOf('=');
  const name = eq < 0 ? '' : text.slice(0, eq);
  const members = eq < 0 ? [] : text.slice(eq + 1).split(',');
  if (!NAME_RE.test(name) || members.some((m) => m === '')) {
    throw new UsageError(`--group ${JSON.stringify(text)}: write --group NAME=GUEST,GUEST,... (e.g. --group a=g1,g2); a group's name must be ${GUEST_NAME_RULE}`);
  }
  const twice = members.find((m, i) => members.indexOf(m) !== i);
  if (twice !== undefined) throw new UsageError(`--group ${name}: ${twice} is named twice`);
  return { name, members };
}

export function parseIsolation(text: string): Isolation {
  const i = ISOLATIONS.find((x) => x === text);
  if (!i) {
    throw new UsageError(
      `--isolation must be owner (one region per guest, read-only to the guests it talks to) or pair (one region per ordered pair of guests), not ${JSON.stringify(text)}`,
    );
  }
  return i;
}

export function parseQueues(text: string): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > C.KVMRING_QUEUES_MAX) {
    throw new UsageError(`--queues must be from 1 to ${C.KVMRING_QUEUES_MAX} queue pairs per pair of guests, not ${JSON.stringify(text)}`);
  }
  return n;
}

const isPowerOfTwo = (n: number) => Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;

/** --ring-size: a power of two the ring core accepts. */
export function parseRingSize(text: string): number {
  const n = parseSize(text);
  if (!isPowerOfTwo(n) || n < C.KVMRING_RING_SIZE_MIN || n > C.KVMRING_RING_SIZE_MAX) {
    throw new UsageError(
      `--ring-size must be a power of two from ${formatSize(C.KVMRING_RING_SIZE_MIN)} to ${formatSize(C.KVMRING_RING_SIZE_MAX)} (e.g. 1M, 2M), not ${formatSize(n)}`,
    );
  }
  return n;
}

/**
 * The options of a host verb into a HostSpec, checked (see checkSpec()), and
 * the warnings the caller prints (a guest in no group).
 */
export function parseHostSpec(o: IsolationOptions): { spec: HostSpec; warnings: string[] } {
  const given = (o.guest ?? []).map(parseGuestOption);
  let guests: GuestSpec[];
  if (given.length) {
    if (given.length < MIN_GUESTS || given.length > MAX_GUESTS) {
      throw new UsageError(`${given.length} --guest options: give ${MIN_GUESTS} to ${MAX_GUESTS} guests, one --guest each`);
    }
    if (o.guests !== undefined && parseGuests(o.guests) !== given.length) {
      throw new UsageError(`--guests ${o.guests} but ${given.length} --guest options: leave --guests out, the --guest options count the guests`);
    }
    guests = given;
  } else {
    if (o.guests === undefined) throw new UsageError('no guests: give --guests N (guests g1..gN) or one --guest NAME[,mac=MAC][,addr=CIDR]... per guest');
    guests = Array.from({ length: parseGuests(o.guests) }, (_, i) => ({ name: `g${i + 1}`, addrs: [] }));
  }
  if (o.vectors !== undefined && !o.doorbell) throw new UsageError('--vectors needs --doorbell');
  const queues = o.queues === undefined ? 1 : parseQueues(o.queues);
  const spec: HostSpec = {
    name: parseName(o.name ?? DEFAULT_NAME),
    guests,
    groups: (o.group ?? []).map(parseGroupOption),
    isolation: o.isolation === undefined ? DEFAULT_ISOLATION : parseIsolation(o.isolation),
    mode: o.doorbell ? 'doorbell' : 'plain',
    // A vector per queue pair: a peer kicks queue k through vector k.
    vectors: o.vectors === undefined ? queues : parseVectors(o.vectors),
    ...(o.ringSize === undefined ? {} : { ringSize: parseRingSize(o.ringSize) }),
    queues,
  };
  if (spec.mode === 'doorbell' && spec.vectors < queues) {
    throw new UsageError(`--vectors ${spec.vectors} is fewer than --queues ${queues}: a guest kicks a peer's queue k through vector k; give --vectors ${queues} or more, or leave --vectors out`);
  }
  return { spec, warnings: checkSpec(spec) };
}

// ---- checks -----------------------------------------------------------------

/** Each guest's groups (names), by slot; with no groups, one group "all" of everyone. */
function groupsOf(spec: HostSpec): string[][] {
  if (!spec.groups.length) return spec.guests.map(() => ['all']);
  return spec.guests.map((g) => spec.groups.filter((gr) => gr.members.includes(g.name)).map((gr) => gr.name));
}

/** The slots each guest may talk to, itself included, ascending. */
function peersOf(spec: HostSpec): number[][] {
  const groups = groupsOf(spec);
  return groups.map((mine, self) => spec.guests.map((_, s) => s).filter((s) => s === self || groups[s].some((gr) => mine.includes(gr))));
}

/** Whether two prefixes of the same family share an address: the shorter one holds the other. */
function overlap(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const len = Math.min(a.prefix, b.prefix);
  const x = networkOf(a, len);
  const y = networkOf(b, len);
  return x.every((v, i) => v === y[i]);
}

/**
 * Checks a spec beyond what each option says alone: guest count, unique names
 * and MACs, groups of known guests, no prefix claimed by two guests that share
 * a group. Returns warnings: a guest in no group talks to nobody.
 */
export function checkSpec(spec: HostSpec): string[] {
  const n = spec.guests.length;
  if (spec.pageSize !== undefined && !isPowerOfTwo(spec.pageSize)) throw new RangeError(`a page of ${spec.pageSize} bytes is no power of two`);
  if (n < MIN_GUESTS || n > MAX_GUESTS) throw new UsageError(`${n} guests: a setup has ${MIN_GUESTS} to ${MAX_GUESTS}`);
  const names = spec.guests.map((g) => g.name);
  const dupName = names.find((x, i) => names.indexOf(x) !== i);
  if (dupName !== undefined) throw new UsageError(`two guests are named ${dupName}: every --guest needs a name of its own`);
  const macs = new Map<string, string>();
  for (const g of spec.guests) {
    if (g.mac === undefined) continue;
    const mac = checkMac(g.mac, g.name);
    const other = macs.get(mac);
    if (other !== undefined) throw new UsageError(`guests ${other} and ${g.name} both have mac=${mac}: every guest needs a MAC of its own (leave mac= out for one the host picks)`);
    macs.set(mac, g.name);
  }
  const groupNames = spec.groups.map((gr) => gr.name);
  const dupGroup = groupNames.find((x, i) => groupNames.indexOf(x) !== i);
  if (dupGroup !== undefined) throw new UsageError(`--group ${dupGroup} is given twice: give each group once, with all its guests`);
  for (const gr of spec.groups) {
    const unknown = gr.members.find((m) => !names.includes(m));
    if (unknown !== undefined) throw new UsageError(`--group ${gr.name} names ${unknown}, which is not a guest; the guests are ${names.join(', ')}`);
  }

  const addrs = spec.guests.map((g) => parseAddrs(g.addrs, g.name));
  const groups = groupsOf(spec);
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      const shared = groups[a].find((gr) => groups[b].includes(gr));
      if (shared === undefined) continue;
      for (const x of addrs[a]) {
        const y = addrs[b].find((c) => overlap(x, c));
        if (!y) continue;
        throw new UsageError(
          `${names[a]}'s addr=${formatCidr(x)} and ${names[b]}'s addr=${formatCidr(y)} overlap, and both guests are in group ${shared}: ` +
            'give guests that share a group prefixes of their own',
        );
      }
    }
  }
  return names.filter((_, s) => !groups[s].length).map((name) => `${name} is in no --group: it talks to no other guest`);
}

// ---- the plan ---------------------------------------------------------------

/**
 * Where a guest finds its devices: function 0 of PCI slots on the root bus, all
 * in 00:08-00:19. The roster is at the ABI's KVMRING_ROSTER_DEVFN (00:10.0), the
 * doorbell device just below it (00:0f.0), the regions above it (00:11-00:19)
 * and then below the doorbell (00:08-00:0e): 16 regions, enough for 16 guests
 * in one group under `owner` and 9 under `pair`. Clear of the low slots, which
 * QEMU gives devices without addr= in order (the lab's q35 guests: virtio-net
 * and virtio-serial at 00:01-00:02) and libvirt fills from the bottom too
 * (video at 00:01, root ports from 00:02, eight to a slot); and clear of the
 * top, which q35 and libvirt's fixed places take: 00:1a and 00:1d (USB2),
 * 00:1e (the DMI-to-PCI bridge), 00:1f (ISA, SATA, SMBus). The lab's
 * --probe-bars devices sit at 00:1a and 00:1b, where a lab guest (no USB)
 * has nothing.
 */
export const DOORBELL_DEVFN = 0x0f << 3;
const slots = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
/** The PCI slots regions take, in this order. */
export const REGION_SLOTS: readonly number[] = [...slots(0x11, 0x19), ...slots(0x08, 0x0e)];

/** A PCI function a guest maps: the roster, a region, or the doorbell device. */
export type PlanDevice =
  | { kind: 'roster'; devfn: number; file: string; size: number; readonly: true }
  | { kind: 'region'; devfn: number; file: string; size: number; readonly: boolean; region: number }
  | { kind: 'doorbell'; devfn: number };

/** A region with one writer. */
export interface PlanRegion {
  /** The file's name in the setup's directory. */
  file: string;
  /** The slot that writes it. */
  owner: number;
  /**
   * Under owner isolation, the group whose members read it ('all' without
   * --group): a guest in several groups owns a region per group.
   */
  group?: string;
  /** Bit s: slot s reads it; lane k is the k-th bit set. */
  readers: number;
  /** Bytes: a power of two, at least a page. */
  size: number;
  /** Random u64, 16 hex digits; the region's header and the rosters carry it. */
  instance: string;
}

export interface PlanGuest {
  slot: number;
  name: string;
  /** ring0's MAC: given, or picked from the plan's instance and the slot. */
  mac: string;
  /** Prefixes it may claim, canonical CIDRs. */
  addrs: string[];
  /** KVMRING_DOORBELL_NONE until the doorbell server assigns one. */
  doorbellId: number;
  groups: string[];
  /** The slots it may talk to, itself included, ascending: the roster's present slots. */
  peers: number[];
  /** Its roster's file. */
  roster: string;
  /** The doorbell device's devfn in doorbell mode, else KVMRING_NO_DEVFN. */
  doorbellDevfn: number;
  /** The roster first, then its own regions (read-write), the regions it reads, and the doorbell. */
  devices: PlanDevice[];
}

export interface HostPlan {
  abiVersion: 2;
  name: string;
  isolation: Isolation;
  mode: 'plain' | 'doorbell';
  vectors: number;
  ringSize: number;
  queues: number;
  /** The setup's instance, 16 hex digits: new at every plan; the rosters carry it. */
  instance: string;
  /** By slot. */
  guests: PlanGuest[];
  regions: PlanRegion[];
}

/**
 * The default ring size. v1 gave 3 guests 2 MiB rings (16 MiB region) and 8 guests
 * 256 KiB. Here 2 MiB while a guest talks to at most 3 others, halved as that
 * number doubles (1 MiB up to 7, 512 KiB up to 15), then shared among the
 * queues, never below KVMRING_RING_SIZE_MIN. Regions round up to a power of two,
 * so in owner mode 2 guests take 2 x 4 MiB, 3 guests 3 x 8 MiB, 8 guests 8 x 8 MiB
 * and 16 guests in one group 16 x 8 MiB (each guest maps all 128 MiB of them).
 */
export function defaultRingSizeV2(maxPeers: number, queues: number): number {
  const lane = maxPeers <= 3 ? 2 * 2 ** 20 : maxPeers <= 7 ? 2 ** 20 : 2 ** 19;
  let size = lane;
  while (size > C.KVMRING_RING_SIZE_MIN && size * queues > lane) size /= 2;
  return size;
}

/** The smallest power of two that holds `bytes`, and at least a page (`page`, a power of two). */
function regionSize(bytes: number, page: number = C.KVMRING_PAGE): number {
  let size = Math.max(page, C.KVMRING_PAGE);
  while (size < bytes) size *= 2;
  return size;
}

/** The file names of a setup: '+' is in no name, so that no two setups' or guests' files meet. */
export function rosterFile(setup: string, guest: string): string {
  return `kvmring-${setup}+${guest}.roster`;
}

/**
 * An owned region's file: kvmring-SETUP+OWNER.owned under owner isolation
 * (kvmring-SETUP+OWNER@GROUP.owned for an owner with a region per group),
 * kvmring-SETUP+OWNER+READER.owned under pair.
 */
export function regionFile(setup: string, owner: string, reader?: string, group?: string): string {
  return `kvmring-${setup}+${owner}${reader === undefined ? '' : `+${reader}`}${group === undefined ? '' : `@${group}`}.owned`;
}

/** ring0 MACs the host picks: locally administered unicast, from the instance and the slot, none taken twice. */
function pickMac(instance: string, slot: number, taken: Set<string>): string {
  for (let attempt = 0; ; attempt++) {
    const b = createHash('sha256').update(`kvmring mac ${instance} ${slot} ${attempt}`).digest().subarray(0, 6);
    b[0] = (b[0] & 0xfc) | 0x02;
    const mac = formatMac(b);
    if (!taken.has(mac)) return mac;
  }
}

/**
 * The regions guest `self` owns under owner isolation: one per group it is in,
 * read by the other members of that group that no earlier region of its
 * serves, and none for a group whose members are all served. Every guest it
 * talks to reads exactly one of them (its TX lane to that guest), and the
 * readers of each share a group with each other and with the owner, so that no
 * guest can read traffic to a guest it shares no group with. One group (no
 * --group) gives one region read by everyone else.
 */
function ownerRegions(groups: string[][], self: number): { group: string; readers: number }[] {
  const out: { group: string; readers: number }[] = [];
  let served = 0;
  for (const group of groups[self]) {
    let readers = 0;
    groups.forEach((mine, s) => {
      if (s !== self && mine.includes(group) && !((served >>> s) & 1)) readers |= 1 << s;
    });
    if (!readers) continue;
    out.push({ group, readers });
    served |= readers;
  }
  return out;
}

/**
 * Plans a setup: the regions (owner: one per guest and group it shares with
 * others, see ownerRegions(); pair: one per ordered pair that share a group,
 * read by the second) and each guest's devices on the root bus. `random` gives
 * the instances (non-zero u64s); tests pass their own.
 */
export function planHost(spec: HostSpec, random: () => bigint = randomInstance): HostPlan {
  checkSpec(spec);
  const peers = peersOf(spec);
  const groups = groupsOf(spec);
  const maxPeers = Math.max(...peers.map((p) => p.length - 1));
  const ringSize = spec.ringSize ?? defaultRingSizeV2(maxPeers, spec.queues);
  const instance = formatInstance(random());
  const names = spec.guests.map((g) => g.name);

  const regions: PlanRegion[] = [];
  const region = (owner: number, readers: number, file: string, group?: string) =>
    regions.push({
      file,
      owner,
      ...(group === undefined ? {} : { group }),
      readers,
      size: regionSize(ownedUsed(readers, ringSize, spec.queues), spec.pageSize),
      instance: formatInstance(random()),
    });
  spec.guests.forEach((g, self) => {
    if (spec.isolation === 'owner') {
      const mine = ownerRegions(groups, self);
      for (const r of mine) region(self, r.readers, regionFile(spec.name, g.name, undefined, mine.length > 1 ? r.group : undefined), r.group);
    } else {
      for (const r of peers[self].filter((s) => s !== self)) region(self, 1 << r, regionFile(spec.name, g.name, names[r]));
    }
  });

  const given = spec.guests.map((g) => (g.mac === undefined ? undefined : checkMac(g.mac, g.name)));
  const taken = new Set(given.filter((m) => m !== undefined));
  const guests = spec.guests.map((g, self): PlanGuest => {
    let mac = given[self];
    if (mac === undefined) {
      mac = pickMac(instance, self, taken);
      taken.add(mac);
    }
    const mine = regions.map((r, i) => ({ r, i })).filter(({ r }) => r.owner === self);
    const read = regions.map((r, i) => ({ r, i })).filter(({ r }) => (r.readers >>> self) & 1);
    const mapped = [...mine, ...read];
    if (mapped.length > REGION_SLOTS.length) {
      throw new UsageError(
        `${g.name} would map ${mapped.length} regions under --isolation ${spec.isolation}, but a guest has PCI slots for ${REGION_SLOTS.length} ` +
          `(00:08-00:19 but for the roster's and the doorbell's): ` +
          `put fewer guests in a group with it (--group)${spec.isolation === 'pair' ? ', or use --isolation owner (one region per guest)' : ''}`,
      );
    }
    const roster = rosterFile(spec.name, g.name);
    const devices: PlanDevice[] = [
      { kind: 'roster', devfn: C.KVMRING_ROSTER_DEVFN, file: roster, size: regionSize(C.KVMRING_ROSTER_SIZE, spec.pageSize), readonly: true },
      ...mapped.map(({ r, i }, k): PlanDevice => ({ kind: 'region', devfn: REGION_SLOTS[k] << 3, file: r.file, size: r.size, readonly: r.owner !== self, region: i })),
      ...(spec.mode === 'doorbell' ? [{ kind: 'doorbell' as const, devfn: DOORBELL_DEVFN }] : []),
    ];
    return {
      slot: self,
      name: g.name,
      mac,
      addrs: [...g.addrs],
      doorbellId: C.KVMRING_DOORBELL_NONE,
      groups: groups[self],
      peers: peers[self],
      roster,
      doorbellDevfn: spec.mode === 'doorbell' ? DOORBELL_DEVFN : C.KVMRING_NO_DEVFN,
      devices,
    };
  });

  return {
    abiVersion: 2,
    name: spec.name,
    isolation: spec.isolation,
    mode: spec.mode,
    vectors: spec.vectors,
    ringSize,
    queues: spec.queues,
    instance,
    guests,
    regions,
  };
}

/** The groups of a plan as the doorbell server takes them: each group's members, in slot order. */
export function planGroups(plan: HostPlan): Group[] {
  const groups = new Map<string, string[]>();
  for (const g of plan.guests) for (const name of g.groups) groups.set(name, [...(groups.get(name) ?? []), g.name]);
  return [...groups].map(([name, guests]) => ({ name, guests }));
}

/** The guest in slot `slot` of a plan (a RangeError if there is none). */
export function planGuest(plan: HostPlan, slot: number): PlanGuest {
  const g = plan.guests.at(slot);
  if (!g || g.slot !== slot) throw new RangeError(`no guest in slot ${slot} of ${plan.name}`);
  return g;
}

/** The slot of the guest named `name` in a plan, or a UsageError that lists the guests. */
export function planGuestSlot(plan: HostPlan, name: string): number {
  const g = plan.guests.find((x) => x.name === name);
  if (!g) throw new UsageError(`${JSON.stringify(name)} is not a guest of ${plan.name}; its guests are ${plan.guests.map((x) => x.name).join(', ')}`);
  return g.slot;
}
