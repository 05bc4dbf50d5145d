// The bytes the host writes under ABI v2 (include/kvmring/abi.h): a guest's roster
// (KVMRING_ROSTER_SIZE bytes, read-only to the guest, the only thing it trusts)
// and the header of an owned region, both written by the formatter in C that
// kvmring.ko uses too (format.ts); and a roster read back, for `host status`
// and the tests. Pure functions over Buffers: the caller maps or writes the files.
import { RingctlError } from '../common/errors.js';
import { CONSTANTS as C, LAYOUT, type StructName } from '../ring/layout.js';
import { formatCidr, formatMac, parseCidr, parseMac } from '../xdp/cidr.js';
import { formatOwnedHeader, formatRoster, type RosterInput } from './format.js';
import { planGuest, type HostPlan, type Isolation, type PlanRegion } from './isolation.js';
import { formatInstance } from './state.js';

/** A slot this guest may talk to, as its roster says. */
export interface RosterSlot {
  slot: number;
  /** The slot's doorbell (IVPosition), or KVMRING_DOORBELL_NONE. */
  doorbellId: number;
  mac: string;
  name: string;
  /** Prefixes the slot may claim, CIDRs. */
  addrs: string[];
}

/** A region mapped into this guest, as its roster says. */
export interface RosterRegion {
  owner: number;
  readers: number;
  /** PCI slot << 3 | function on the guest's root bus. */
  devfn: number;
  size: number;
  /** 16 hex digits. */
  instance: string;
}

/** A roster's contents. */
export interface Roster {
  self: number;
  /** Slots in the table: the plan's guests. */
  maxPeers: number;
  /** KVMRING_ROSTER_F_*. */
  flags: number;
  /** Even; the host makes it odd while it rewrites the roster. */
  seq: number;
  ringSize: number;
  queues: number;
  isolation: Isolation;
  /** The doorbell device's devfn, or KVMRING_NO_DEVFN. */
  doorbellDevfn: number;
  /** The setup's instance, 16 hex digits. */
  instance: string;
  /** The present slots (KVMRING_ROSTER_SLOT_F_PRESENT), ascending; self among them. */
  slots: RosterSlot[];
  /** In the order of the region table. */
  regions: RosterRegion[];
}

export class RosterError extends RingctlError {}

const ISOLATION_CODES: Record<Isolation, number> = { owner: C.KVMRING_ISOLATION_OWNER, pair: C.KVMRING_ISOLATION_PAIR };

// ---- fields by LAYOUT ---------------------------------------------------------

type Member<S extends StructName> = keyof (typeof LAYOUT)[S]['members'] & string;

function span<S extends StructName>(s: S, m: Member<S>): readonly [number, number] {
  const members: Record<string, readonly [number, number]> = LAYOUT[s].members;
  return members[m];
}

/** Reads an integer member of 1, 2 or 4 bytes. */
function num<S extends StructName>(buf: Buffer, base: number, s: S, m: Member<S>): number {
  const [off, size] = span(s, m);
  if (size === 4) return buf.readUInt32LE(base + off);
  if (size === 2) return buf.readUInt16LE(base + off);
  if (size === 1) return buf.readUInt8(base + off);
  throw new RangeError(`${s}.${m} is not a member of 1, 2 or 4 bytes`);
}

function u64<S extends StructName>(buf: Buffer, base: number, s: S, m: Member<S>): bigint {
  const [off, size] = span(s, m);
  if (size !== 8) throw new RangeError(`${s}.${m} is not a u64`);
  return buf.readBigUInt64LE(base + off);
}

function bytes<S extends StructName>(buf: Buffer, base: number, s: S, m: Member<S>): Buffer {
  const [off, size] = span(s, m);
  return buf.subarray(base + off, base + off + size);
}

const slotOffset = (slot: number) => C.KVMRING_ROSTER_SLOTS_OFF + slot * LAYOUT.kvmring_roster_slot.size;
const regionOffset = (i: number) => C.KVMRING_ROSTER_REGIONS_OFF + i * LAYOUT.kvmring_roster_region.size;
const addrOffset = (slot: number, k: number) => slotOffset(slot) + span('kvmring_roster_slot', 'addrs')[0] + k * LAYOUT.kvmring_roster_addr.size;

// ---- the roster ---------------------------------------------------------------

/** What guest `slot`'s roster says under `plan`: itself and the slots it may talk to, and its regions. */
export function rosterOf(plan: HostPlan, slot: number): Roster {
  const g = planGuest(plan, slot);
  return {
    self: slot,
    maxPeers: plan.guests.length,
    flags: plan.mode === 'doorbell' ? C.KVMRING_ROSTER_F_DOORBELL : 0,
    seq: 0,
    ringSize: plan.ringSize,
    queues: plan.queues,
    isolation: plan.isolation,
    doorbellDevfn: g.doorbellDevfn,
    instance: plan.instance,
    slots: g.peers.map((s) => {
      const p = plan.guests[s];
      return { slot: s, doorbellId: p.doorbellId, mac: p.mac, name: p.name, addrs: [...p.addrs] };
    }),
    regions: g.devices.flatMap((d) => {
      if (d.kind !== 'region') return [];
      const r = plan.regions[d.region];
      return [{ owner: r.owner, readers: r.readers, devfn: d.devfn, size: r.size, instance: r.instance }];
    }),
  };
}

/** What the formatter in C (format.ts) takes for roster `r`. */
export function rosterInput(r: Roster): RosterInput {
  return {
    self: r.self,
    maxPeers: r.maxPeers,
    flags: r.flags,
    ringSize: r.ringSize,
    queues: r.queues,
    isolation: ISOLATION_CODES[r.isolation],
    doorbellDevfn: r.doorbellDevfn,
    instance: BigInt(`0x${r.instance}`),
    slots: r.slots.map((s) => ({
      slot: s.slot,
      doorbellId: s.doorbellId,
      mac: parseMac(s.mac),
      name: Buffer.from(s.name, 'utf8'),
      addrs: s.addrs.map((text) => {
        const c = parseCidr(text);
        return { family: c.family, prefix: c.prefix, bytes: c.bytes };
      }),
    })),
    regions: r.regions.map((g) => ({ owner: g.owner, readers: g.readers, devfn: g.devfn, size: g.size, instance: BigInt(`0x${g.instance}`) })),
  };
}

/**
 * A roster's bytes, magic included (see writeRoster() for a live mapping),
 * written by the formatter in C that kvmring.ko uses too (format.ts).
 */
export function encodeRoster(r: Roster): Buffer {
  if (r.regions.length > C.KVMRING_ROSTER_REGIONS_MAX) throw new RangeError(`${r.regions.length} regions; a roster holds ${C.KVMRING_ROSTER_REGIONS_MAX}`);
  if (r.maxPeers > C.KVMRING_PEERS_MAX) throw new RangeError(`${r.maxPeers} slots; a roster holds ${C.KVMRING_PEERS_MAX}`);
  for (const s of r.slots) {
    if (s.slot >= r.maxPeers) throw new RangeError(`slot ${s.slot} is outside a table of ${r.maxPeers}`);
    if (s.addrs.length > C.KVMRING_ROSTER_ADDRS) throw new RangeError(`slot ${s.slot} has ${s.addrs.length} prefixes; a roster holds ${C.KVMRING_ROSTER_ADDRS}`);
  }
  return formatRoster(rosterInput(r));
}

/** Guest `slot`'s roster under `plan`, KVMRING_ROSTER_SIZE bytes, seq 0. */
export function rosterBytes(plan: HostPlan, slot: number): Buffer {
  return encodeRoster(rosterOf(plan, slot));
}

const MAGIC_SIZE = LAYOUT.kvmring_roster_hdr.members.magic[1];
const SEQ = LAYOUT.kvmring_roster_hdr.members.seq;

/**
 * Writes a roster into the mapping of its file, which a guest may read at any
 * time. A new roster (no magic yet): everything but the magic, seq 0, then the
 * magic. A rewrite (a doorbell id changed): seq made odd, everything but magic
 * and seq, then seq even again, above the old one; a guest copies the roster
 * between two reads of the same even seq. The seq in `roster` is ignored.
 */
export function writeRoster(mem: Buffer, roster: Buffer): void {
  if (mem.length < C.KVMRING_ROSTER_SIZE || roster.length !== C.KVMRING_ROSTER_SIZE) throw new RangeError(`a roster is ${C.KVMRING_ROSTER_SIZE} bytes`);
  const [seqOff, seqSize] = SEQ;
  if (u64(mem, 0, 'kvmring_roster_hdr', 'magic') !== C.KVMRING_ROSTER_MAGIC) {
    roster.copy(mem, MAGIC_SIZE, MAGIC_SIZE);
    mem.writeUInt32LE(0, seqOff);
    roster.copy(mem, 0, 0, MAGIC_SIZE);
    return;
  }
  const seq = (mem.readUInt32LE(seqOff) | 1) >>> 0; // odd: a write in progress (one cut short left it odd already)
  mem.writeUInt32LE(seq, seqOff);
  roster.copy(mem, MAGIC_SIZE, MAGIC_SIZE, seqOff);
  roster.copy(mem, seqOff + seqSize, seqOff + seqSize);
  mem.writeUInt32LE((seq + 1) >>> 0, seqOff);
}

/** Reads a roster, checking what a guest checks; RosterError says what is wrong. */
export function parseRoster(buf: Buffer): Roster {
  const h = 'kvmring_roster_hdr';
  const bad = (why: string) => new RosterError(`not a kvmring roster: ${why}`);
  if (buf.length < C.KVMRING_ROSTER_SIZE) throw bad(`${buf.length} bytes, not ${C.KVMRING_ROSTER_SIZE}`);
  if (u64(buf, 0, h, 'magic') !== C.KVMRING_ROSTER_MAGIC) throw bad('no magic (not written yet, or another file)');
  const version = num(buf, 0, h, 'abi_version');
  if (version !== C.KVMRING_ABI_VERSION) throw bad(`ABI version ${version}, not ${C.KVMRING_ABI_VERSION}`);
  const sizes: [Member<typeof h>, number][] = [
    ['hdr_size', LAYOUT.kvmring_roster_hdr.size],
    ['slot_size', LAYOUT.kvmring_roster_slot.size],
    ['region_entry_size', LAYOUT.kvmring_roster_region.size],
  ];
  for (const [m, want] of sizes) if (num(buf, 0, h, m) !== want) throw bad(`${m} ${num(buf, 0, h, m)}, not ${want}`);
  for (const [m, want] of [['slots_off', C.KVMRING_ROSTER_SLOTS_OFF], ['regions_off', C.KVMRING_ROSTER_REGIONS_OFF]] as const) {
    if (u64(buf, 0, h, m) !== BigInt(want)) throw bad(`${m} ${u64(buf, 0, h, m)}, not ${want}`);
  }
  const seq = num(buf, 0, h, 'seq');
  if (seq & 1) throw new RosterError(`the roster is being rewritten (seq ${seq} is odd); read it again`);
  const maxPeers = num(buf, 0, h, 'max_peers');
  if (maxPeers < 2 || maxPeers > C.KVMRING_PEERS_MAX) throw bad(`max_peers ${maxPeers} is outside 2..${C.KVMRING_PEERS_MAX}`);
  const self = num(buf, 0, h, 'self');
  if (self >= maxPeers) throw bad(`self ${self} is not below max_peers ${maxPeers}`);
  const nregions = num(buf, 0, h, 'nregions');
  if (nregions > C.KVMRING_ROSTER_REGIONS_MAX) throw bad(`${nregions} regions, more than ${C.KVMRING_ROSTER_REGIONS_MAX}`);
  const code = num(buf, 0, h, 'isolation');
  const isolation = (Object.keys(ISOLATION_CODES) as Isolation[]).find((k) => ISOLATION_CODES[k] === code);
  if (!isolation) throw bad(`isolation ${code} is neither owner nor pair`);
  const queues = num(buf, 0, h, 'queues');
  if (queues < 1 || queues > C.KVMRING_QUEUES_MAX) throw bad(`queues ${queues} is outside 1..${C.KVMRING_QUEUES_MAX}`);

  const slots: RosterSlot[] = [];
  for (let s = 0; s < maxPeers; s++) {
    const at = slotOffset(s);
    if (!(num(buf, at, 'kvmring_roster_slot', 'flags') & C.KVMRING_ROSTER_SLOT_F_PRESENT)) continue;
    const name = bytes(buf, at, 'kvmring_roster_slot', 'name');
    const end = name.indexOf(0);
    const addrs: string[] = [];
    for (let k = 0; k < C.KVMRING_ROSTER_ADDRS; k++) {
      const a = addrOffset(s, k);
      const family = num(buf, a, 'kvmring_roster_addr', 'family');
      if (family === 0) break;
      if (family !== 4 && family !== 6) throw bad(`slot ${s}'s prefix ${k} has family ${family}`);
      const raw = bytes(buf, a, 'kvmring_roster_addr', 'addr').subarray(0, family === 4 ? 4 : 16);
      const text = formatCidr({ family, bytes: raw, prefix: num(buf, a, 'kvmring_roster_addr', 'prefix_len') });
      try {
        addrs.push(formatCidr(parseCidr(text))); // the prefix's range and host bits, as on input
      } catch (err) {
        throw bad(`slot ${s}'s prefix ${k}: ${(err as Error).message}`);
      }
    }
    slots.push({
      slot: s,
      doorbellId: num(buf, at, 'kvmring_roster_slot', 'doorbell_id'),
      mac: formatMac(bytes(buf, at, 'kvmring_roster_slot', 'mac')),
      name: name.subarray(0, end < 0 ? name.length : end).toString('utf8'),
      addrs,
    });
  }
  if (!slots.some((s) => s.slot === self)) throw bad(`its own slot ${self} is not present`);

  const regions: RosterRegion[] = [];
  for (let i = 0; i < nregions; i++) {
    const at = regionOffset(i);
    const owner = num(buf, at, 'kvmring_roster_region', 'owner');
    if (owner >= maxPeers) throw bad(`region ${i}'s owner ${owner} is not below max_peers ${maxPeers}`);
    regions.push({
      owner,
      readers: num(buf, at, 'kvmring_roster_region', 'readers'),
      devfn: num(buf, at, 'kvmring_roster_region', 'devfn'),
      size: Number(u64(buf, at, 'kvmring_roster_region', 'size')),
      instance: formatInstance(u64(buf, at, 'kvmring_roster_region', 'instance')),
    });
  }

  return {
    self,
    maxPeers,
    flags: num(buf, 0, h, 'flags'),
    seq,
    ringSize: num(buf, 0, h, 'ring_size'),
    queues,
    isolation,
    doorbellDevfn: num(buf, 0, h, 'doorbell_devfn'),
    instance: formatInstance(u64(buf, 0, h, 'instance')),
    slots,
    regions,
  };
}

// ---- owned regions ------------------------------------------------------------

/** An owned region's header (struct kvmring_owned_hdr), magic included, by the formatter in C (format.ts). */
export function ownedHeader(region: PlanRegion, geometry: Pick<HostPlan, 'ringSize' | 'queues'>): Buffer {
  return formatOwnedHeader({ owner: region.owner, readers: region.readers, ringSize: geometry.ringSize, queues: geometry.queues, size: region.size, instance: BigInt(`0x${region.instance}`) }).header;
}

/**
 * Writes an owned region's header into `mem` (its mapping, at least the
 * header's bytes), its magic last: a guest that looks early sees no magic or
 * the whole header.
 */
export function writeOwnedHeader(mem: Buffer, region: PlanRegion, geometry: Pick<HostPlan, 'ringSize' | 'queues'>): void {
  const hdr = ownedHeader(region, geometry);
  if (mem.length < hdr.length) throw new RangeError(`an owned region's header is ${hdr.length} bytes; the buffer has ${mem.length}`);
  const magic = span('kvmring_owned_hdr', 'magic')[1];
  hdr.copy(mem, magic, magic);
  hdr.copy(mem, 0, 0, magic);
}

/**
 * Formats an owned region in `buf` (its mapping, region.size bytes or more):
 * everything zero (every ring empty at epoch 0, the owner's entry FREE), then
 * the header, its magic last.
 */
export function formatOwnedRegion(buf: Buffer, region: PlanRegion, geometry: Pick<HostPlan, 'ringSize' | 'queues'>): void {
  if (buf.length < region.size) throw new RangeError(`region ${region.file} is ${region.size} bytes; the buffer has ${buf.length}`);
  buf.fill(0, 0, region.size);
  writeOwnedHeader(buf, region, geometry);
}
