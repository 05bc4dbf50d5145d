// The TypeScript encoder that ringctl had before the formatter in C
// (kmod/kvmring_format.c, src/host/format.ts) replaced it, kept as the oracle
// that test/unit/host-format.test.ts holds the C to, byte for byte. Not used
// by ringctl. writeRoster() is still ringctl's own (it writes into a live
// mapping, which WebAssembly cannot reach) and is compared as it is.
import type { HostPlan, Isolation, PlanRegion } from '../../src/host/isolation.js';
import type { Roster } from '../../src/host/roster.js';
import { CONSTANTS as C, LAYOUT, type StructName } from '../../src/ring/layout.js';
import { parseCidr, parseMac } from '../../src/xdp/cidr.js';

export { writeRoster as writeRosterTs } from '../../src/host/roster.js';

const ISOLATION_CODES: Record<Isolation, number> = { owner: C.KVMRING_ISOLATION_OWNER, pair: C.KVMRING_ISOLATION_PAIR };

type Member<S extends StructName> = keyof (typeof LAYOUT)[S]['members'] & string;

function put<S extends StructName>(buf: Buffer, base: number, s: S, m: Member<S>, v: number | bigint | Uint8Array): void {
  const members: Record<string, readonly [number, number]> = LAYOUT[s].members;
  const [off, size] = members[m];
  const at = base + off;
  if (v instanceof Uint8Array) {
    if (v.length > size) throw new RangeError(`${s}.${m} holds ${size} bytes, not ${v.length}`);
    buf.set(v, at);
  } else if (size === 8) buf.writeBigUInt64LE(BigInt(v), at);
  else if (size === 4) buf.writeUInt32LE(Number(v), at);
  else if (size === 2) buf.writeUInt16LE(Number(v), at);
  else if (size === 1) buf.writeUInt8(Number(v), at);
  else throw new RangeError(`${s}.${m} is not an integer member`);
}

const slotOffset = (slot: number) => C.KVMRING_ROSTER_SLOTS_OFF + slot * LAYOUT.kvmring_roster_slot.size;
const regionOffset = (i: number) => C.KVMRING_ROSTER_REGIONS_OFF + i * LAYOUT.kvmring_roster_region.size;
const addrOffset = (slot: number, k: number) => slotOffset(slot) + LAYOUT.kvmring_roster_slot.members.addrs[0] + k * LAYOUT.kvmring_roster_addr.size;

/** A roster's bytes, magic included (see writeRoster() for a live mapping). */
export function encodeRosterTs(r: Roster): Buffer {
  if (r.regions.length > C.KVMRING_ROSTER_REGIONS_MAX) throw new RangeError(`${r.regions.length} regions; a roster holds ${C.KVMRING_ROSTER_REGIONS_MAX}`);
  if (r.maxPeers > C.KVMRING_PEERS_MAX) throw new RangeError(`${r.maxPeers} slots; a roster holds ${C.KVMRING_PEERS_MAX}`);
  const b = Buffer.alloc(C.KVMRING_ROSTER_SIZE);
  const h = 'kvmring_roster_hdr';
  put(b, 0, h, 'magic', C.KVMRING_ROSTER_MAGIC);
  put(b, 0, h, 'abi_version', C.KVMRING_ABI_VERSION);
  put(b, 0, h, 'flags', r.flags);
  put(b, 0, h, 'seq', r.seq);
  put(b, 0, h, 'self', r.self);
  put(b, 0, h, 'max_peers', r.maxPeers);
  put(b, 0, h, 'nregions', r.regions.length);
  put(b, 0, h, 'ring_size', r.ringSize);
  put(b, 0, h, 'queues', r.queues);
  put(b, 0, h, 'isolation', ISOLATION_CODES[r.isolation]);
  put(b, 0, h, 'doorbell_devfn', r.doorbellDevfn);
  put(b, 0, h, 'instance', BigInt(`0x${r.instance}`));
  put(b, 0, h, 'hdr_size', LAYOUT.kvmring_roster_hdr.size);
  put(b, 0, h, 'slot_size', LAYOUT.kvmring_roster_slot.size);
  put(b, 0, h, 'region_entry_size', LAYOUT.kvmring_roster_region.size);
  put(b, 0, h, 'slots_off', C.KVMRING_ROSTER_SLOTS_OFF);
  put(b, 0, h, 'regions_off', C.KVMRING_ROSTER_REGIONS_OFF);

  r.regions.forEach((reg, i) => {
    const at = regionOffset(i);
    put(b, at, 'kvmring_roster_region', 'owner', reg.owner);
    put(b, at, 'kvmring_roster_region', 'readers', reg.readers);
    put(b, at, 'kvmring_roster_region', 'devfn', reg.devfn);
    put(b, at, 'kvmring_roster_region', 'size', reg.size);
    put(b, at, 'kvmring_roster_region', 'instance', BigInt(`0x${reg.instance}`));
  });

  for (const s of r.slots) {
    if (s.slot >= r.maxPeers) throw new RangeError(`slot ${s.slot} is outside a table of ${r.maxPeers}`);
    if (s.addrs.length > C.KVMRING_ROSTER_ADDRS) throw new RangeError(`slot ${s.slot} has ${s.addrs.length} prefixes; a roster holds ${C.KVMRING_ROSTER_ADDRS}`);
    const at = slotOffset(s.slot);
    put(b, at, 'kvmring_roster_slot', 'flags', C.KVMRING_ROSTER_SLOT_F_PRESENT);
    put(b, at, 'kvmring_roster_slot', 'doorbell_id', s.doorbellId);
    put(b, at, 'kvmring_roster_slot', 'mac', parseMac(s.mac));
    put(b, at, 'kvmring_roster_slot', 'name', Buffer.from(s.name, 'utf8'));
    s.addrs.forEach((text, k) => {
      const cidr = parseCidr(text);
      const a = addrOffset(s.slot, k);
      put(b, a, 'kvmring_roster_addr', 'family', cidr.family);
      put(b, a, 'kvmring_roster_addr', 'prefix_len', cidr.prefix);
      put(b, a, 'kvmring_roster_addr', 'addr', cidr.bytes);
    });
  }
  return b;
}


/** An owned region's header (struct kvmring_owned_hdr), magic included. */
export function ownedHeaderTs(region: PlanRegion, geometry: Pick<HostPlan, 'ringSize' | 'queues'>): Buffer {
  const b = Buffer.alloc(LAYOUT.kvmring_owned_hdr.size);
  const h = 'kvmring_owned_hdr';
  put(b, 0, h, 'magic', C.KVMRING_OWNED_MAGIC);
  put(b, 0, h, 'abi_version', C.KVMRING_ABI_VERSION);
  put(b, 0, h, 'owner', region.owner);
  put(b, 0, h, 'instance', BigInt(`0x${region.instance}`));
  put(b, 0, h, 'region_size', region.size);
  put(b, 0, h, 'readers', region.readers);
  put(b, 0, h, 'ring_size', geometry.ringSize);
  put(b, 0, h, 'queues', geometry.queues);
  return b;
}

