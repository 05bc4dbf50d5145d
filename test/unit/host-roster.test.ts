import assert from 'node:assert/strict';

import { parseHostSpec, planHost, type HostPlan, type IsolationOptions } from '../../src/host/isolation.js';
import { encodeRoster, formatOwnedRegion, parseRoster, RosterError, rosterBytes, rosterOf, writeRoster } from '../../src/host/roster.js';
import { laneOf, ownedUsed, queueOffset } from '../../src/ring/geometry.js';
import { CONSTANTS as C, LAYOUT, offsetOf } from '../../src/ring/layout.js';
import { requireTier } from '../helpers/tier.js';

const M = 2 ** 20;

function plan(o: IsolationOptions): HostPlan {
  let n = 0n;
  return planHost(parseHostSpec(o).spec, () => 0x1000000000000000n + ++n);
}

const H = (m: keyof typeof LAYOUT.kvmring_roster_hdr.members) => offsetOf('kvmring_roster_hdr', m);
const S = (slot: number, m: keyof typeof LAYOUT.kvmring_roster_slot.members) => C.KVMRING_ROSTER_SLOTS_OFF + slot * LAYOUT.kvmring_roster_slot.size + offsetOf('kvmring_roster_slot', m);
const R = (i: number, m: keyof typeof LAYOUT.kvmring_roster_region.members) => C.KVMRING_ROSTER_REGIONS_OFF + i * LAYOUT.kvmring_roster_region.size + offsetOf('kvmring_roster_region', m);
const A = (slot: number, k: number, m: keyof typeof LAYOUT.kvmring_roster_addr.members) => S(slot, 'addrs') + k * LAYOUT.kvmring_roster_addr.size + offsetOf('kvmring_roster_addr', m);

/** Runs fn and returns the first 8 bytes of `target` after each Buffer copy into it: what a reader sees in turn. */
function magicAfterEachCopy(target: Buffer, fn: () => void): bigint[] {
  const proto = Buffer.prototype as Buffer;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- put back below, and called with its `this`
  const copy = proto.copy;
  const seen: bigint[] = [];
  proto.copy = function (this: Buffer, dst: Uint8Array, targetStart?: number, sourceStart?: number, sourceEnd?: number): number {
    const n = copy.call(this, dst, targetStart, sourceStart, sourceEnd);
    if (dst === target) seen.push(target.readBigUInt64LE(0));
    return n;
  };
  try {
    fn();
  } finally {
    proto.copy = copy;
  }
  return seen;
}

/** The slots that a roster's bytes mark present. */
function presentSlots(b: Buffer): number[] {
  const n = b.readUInt32LE(H('max_peers'));
  return Array.from({ length: n }, (_, s) => s).filter((s) => b.readUInt32LE(S(s, 'flags')) & C.KVMRING_ROSTER_SLOT_F_PRESENT);
}

describe('host: ABI v2 rosters and owned regions', () => {
  before(function () {
    requireTier(this, 'unit');
  });

  describe('the roster', () => {
    const p = plan({
      guest: ['g1,mac=02:00:00:00:00:01,addr=192.0.2.0/25,addr=2001:db8:1::/64', 'g2,addr=192.0.2.128/25', 'g3'],
      doorbell: true,
      vectors: '2',
      queues: '2',
    });
    const b = rosterBytes(p, 1);

    it('lays out the header at the offsets of LAYOUT', () => {
      assert.equal(b.length, C.KVMRING_ROSTER_SIZE);
      assert.equal(b.readBigUInt64LE(H('magic')), C.KVMRING_ROSTER_MAGIC);
      assert.equal(b.subarray(0, 8).toString('latin1'), 'KVMROSTR');
      assert.equal(b.readUInt32LE(H('abi_version')), 2);
      assert.equal(b.readUInt32LE(H('flags')), C.KVMRING_ROSTER_F_DOORBELL);
      assert.equal(b.readUInt32LE(H('seq')), 0);
      assert.equal(b.readUInt32LE(H('self')), 1);
      assert.equal(b.readUInt32LE(H('max_peers')), 3);
      assert.equal(b.readUInt32LE(H('nregions')), 3);
      assert.equal(b.readUInt32LE(H('ring_size')), p.ringSize);
      assert.equal(b.readUInt32LE(H('queues')), 2);
      assert.equal(b.readUInt32LE(H('isolation')), C.KVMRING_ISOLATION_OWNER);
      assert.equal(b.readUInt16LE(H('doorbell_devfn')), 0x0f << 3);
      assert.equal(b.readBigUInt64LE(H('instance')), 0x1000000000000001n);
      assert.equal(b.readUInt32LE(H('hdr_size')), LAYOUT.kvmring_roster_hdr.size);
      assert.equal(b.readUInt32LE(H('slot_size')), LAYOUT.kvmring_roster_slot.size);
      assert.equal(b.readUInt32LE(H('region_entry_size')), LAYOUT.kvmring_roster_region.size);
      assert.equal(b.readBigUInt64LE(H('slots_off')), BigInt(C.KVMRING_ROSTER_SLOTS_OFF));
      assert.equal(b.readBigUInt64LE(H('regions_off')), BigInt(C.KVMRING_ROSTER_REGIONS_OFF));
      for (const m of ['rsvd0', 'rsvd1', 'rsvd2'] as const) {
        const [off, size] = LAYOUT.kvmring_roster_hdr.members[m];
        assert.ok(b.subarray(off, off + size).every((x) => x === 0), `${m} is zero`);
      }
    });

    it('lists each slot with its name, MAC, prefixes and doorbell id', () => {
      assert.deepEqual(presentSlots(b), [0, 1, 2]);
      assert.equal(b.readUInt32LE(S(0, 'doorbell_id')), C.KVMRING_DOORBELL_NONE);
      assert.deepEqual([...b.subarray(S(0, 'mac'), S(0, 'mac') + 6)], [2, 0, 0, 0, 0, 1]);
      assert.equal(b.subarray(S(0, 'name'), S(0, 'name') + 32).toString('latin1'), 'g1'.padEnd(32, '\0'));
      assert.deepEqual([b[A(0, 0, 'family')], b[A(0, 0, 'prefix_len')], ...b.subarray(A(0, 0, 'addr'), A(0, 0, 'addr') + 4)], [4, 25, 192, 0, 2, 0]);
      assert.deepEqual([b[A(0, 1, 'family')], b[A(0, 1, 'prefix_len')]], [6, 64]);
      assert.equal(b.subarray(A(0, 1, 'addr'), A(0, 1, 'addr') + 16).toString('hex'), '20010db8000100000000000000000000');
      assert.equal(b[A(0, 2, 'family')], 0, 'family 0 ends the list');
      assert.equal(b[A(1, 0, 'prefix_len')], 25);
      assert.equal(b[A(2, 0, 'family')], 0, 'g3 may claim nothing');
      assert.equal(b.subarray(S(2, 'name'), S(2, 'name') + 2).toString(), 'g3');
      const [off, size] = LAYOUT.kvmring_roster_slot.members.rsvd1;
      assert.ok(b.subarray(S(0, 'flags') + off, S(0, 'flags') + off + size).every((x) => x === 0));
      // Slots past max_peers are empty.
      assert.ok(b.subarray(C.KVMRING_ROSTER_SLOTS_OFF + 3 * LAYOUT.kvmring_roster_slot.size).every((x) => x === 0));
    });

    it('lists the regions mapped into the guest with their PCI functions', () => {
      const regions = [0, 1, 2].map((i) => ({
        owner: b.readUInt32LE(R(i, 'owner')),
        readers: b.readUInt32LE(R(i, 'readers')),
        devfn: b.readUInt16LE(R(i, 'devfn')),
        size: Number(b.readBigUInt64LE(R(i, 'size'))),
        instance: b.readBigUInt64LE(R(i, 'instance')),
      }));
      assert.deepEqual(regions.map((r) => [r.owner, r.readers, r.devfn]), [
        [1, 0b101, 0x11 << 3],
        [0, 0b110, 0x12 << 3],
        [2, 0b011, 0x13 << 3],
      ]);
      for (const r of regions) {
        const planned = p.regions[r.owner];
        assert.equal(r.size, planned.size);
        assert.equal(r.instance, BigInt(`0x${planned.instance}`));
      }
      assert.ok(b.subarray(R(3, 'owner'), C.KVMRING_ROSTER_SLOTS_OFF).every((x) => x === 0), 'no fourth entry');
    });

    it('reads back what it wrote', () => {
      for (const q of [p, plan({ guests: '4', isolation: 'pair', group: ['a=g1,g2,g3', 'b=g3,g4'] })]) {
        for (const g of q.guests) assert.deepEqual(parseRoster(rosterBytes(q, g.slot)), rosterOf(q, g.slot), `${q.isolation}: ${g.name}`);
      }
      const r = parseRoster(b);
      assert.equal(r.self, 1);
      assert.deepEqual(r.slots[0], { slot: 0, doorbellId: C.KVMRING_DOORBELL_NONE, mac: '02:00:00:00:00:01', name: 'g1', addrs: ['192.0.2.0/25', '2001:db8:1::/64'] });
      assert.equal(r.isolation, 'owner');
    });

    it('writes the longest name, 31 characters, with the NUL ringnet wants after it, and reads it back', () => {
      const long = 'n'.repeat(31);
      const q = plan({ guest: [long, 'b'] });
      const bytes = rosterBytes(q, 0);
      assert.equal(bytes.subarray(S(0, 'name'), S(0, 'name') + 32).toString('latin1'), `${long}\0`);
      assert.equal(parseRoster(bytes).slots[0].name, long);
    });

    it('gives guests of different groups nothing of each other', () => {
      for (const isolation of ['owner', 'pair']) {
        const q = plan({ guests: '3', group: ['a=g1,g2', 'b=g2,g3'], isolation });
        const g1 = rosterBytes(q, 0);
        const g3 = rosterBytes(q, 2);
        assert.deepEqual(presentSlots(g1), [0, 1], `${isolation}: g1 sees g1 and g2`);
        assert.deepEqual(presentSlots(g3), [1, 2], `${isolation}: g3 sees g2 and g3`);
        assert.ok(g1.subarray(S(2, 'flags'), S(3, 'flags')).every((x) => x === 0), `${isolation}: nothing of g3 in g1's roster`);
        assert.ok(g3.subarray(S(0, 'flags'), S(1, 'flags')).every((x) => x === 0), `${isolation}: nothing of g1 in g3's roster`);
        for (const [r, self, stranger] of [[g1, 0, 2], [g3, 2, 0]] as const) {
          const n = r.readUInt32LE(H('nregions'));
          for (let i = 0; i < n; i++) {
            const owner = r.readUInt32LE(R(i, 'owner'));
            const readers = r.readUInt32LE(R(i, 'readers'));
            assert.notEqual(owner, stranger, `${isolation}: guest ${self} maps no region of guest ${stranger}`);
            // No lane for the stranger either: its traffic with g2 is in regions only they map.
            assert.equal(readers & (1 << stranger), 0, `${isolation}: guest ${stranger} reads no region mapped into guest ${self}`);
          }
        }
        assert.equal(g1.readUInt32LE(H('nregions')), 2);
        // g2: under owner a region per group (one read by g1, one by g3) and one of each of theirs; under pair two each way.
        assert.equal(rosterBytes(q, 1).readUInt32LE(H('nregions')), 4);
      }
    });

    it("maps into g3 no region whose lanes carry g1's traffic, with overlapping groups (a=g1,g2 b=g2,g3)", () => {
      for (const isolation of ['owner', 'pair']) {
        const q = plan({ guests: '3', group: ['a=g1,g2', 'b=g2,g3'], isolation });
        const g3 = parseRoster(rosterBytes(q, 2));
        // A region carries traffic between its owner and each of its readers.
        const carries = (r: { owner: number; readers: number }, slot: number) => r.owner === slot || Boolean(r.readers & (1 << slot));
        assert.deepEqual(
          g3.regions.filter((r) => carries(r, 0)),
          [],
          `${isolation}: g3 maps ${JSON.stringify(g3.regions)}`,
        );
        // g3 still has what the driver needs: one region of its own g2 reads, one of g2's it reads.
        assert.deepEqual(
          g3.regions.map((r) => [r.owner, r.readers]),
          [
            [2, 0b010],
            [1, 0b100],
          ],
        );
        const g2 = parseRoster(rosterBytes(q, 1));
        // g2 writes a region read by g1 alone and one read by g3 alone, at either level.
        assert.deepEqual(g2.regions.filter((r) => r.owner === 1).map((r) => r.readers), [0b001, 0b100]);
      }
    });

    it('assigns lanes by the readers mask', () => {
      // Owner mode, slots {0,1,2}: slot 1's region is read by 0 and 2, and slot 2's lane is 1.
      const q = plan({ guests: '3' });
      const r1 = q.regions.find((r) => r.owner === 1)!;
      assert.equal(r1.readers, 0b101);
      assert.equal(laneOf(r1.readers, 0), 0);
      assert.equal(laneOf(r1.readers, 2), 1);
      assert.equal(laneOf(r1.readers, 1), -1);
      // Pair mode: one reader, one lane, lane 0.
      const pr = plan({ guests: '3', isolation: 'pair' });
      for (const r of pr.regions) {
        const reader = Math.log2(r.readers);
        assert.equal(laneOf(r.readers, reader), 0);
        assert.equal(r.size, 4 * M);
        assert.ok(ownedUsed(r.readers, pr.ringSize, pr.queues) <= r.size);
      }
    });

    it('refuses rosters a guest would refuse', () => {
      const cases: [string, (x: Buffer) => void, RegExp][] = [
        ['no magic', (x) => x.writeBigUInt64LE(0n, 0), /no magic/],
        ['ABI v1', (x) => x.writeUInt32LE(1, H('abi_version')), /ABI version 1/],
        ['an odd seq', (x) => x.writeUInt32LE(3, H('seq')), /being rewritten \(seq 3 is odd\); read it again/],
        ['another slot size', (x) => x.writeUInt32LE(128, H('slot_size')), /slot_size 128, not 256/],
        ['another slots_off', (x) => x.writeBigUInt64LE(0n, H('slots_off')), /slots_off 0, not 4096/],
        ['one peer', (x) => x.writeUInt32LE(1, H('max_peers')), /max_peers 1/],
        ['self out of range', (x) => x.writeUInt32LE(3, H('self')), /self 3 is not below max_peers 3/],
        ['self absent', (x) => x.writeUInt32LE(0, S(1, 'flags')), /its own slot 1 is not present/],
        ['too many regions', (x) => x.writeUInt32LE(65, H('nregions')), /65 regions/],
        ['no isolation', (x) => x.writeUInt32LE(0, H('isolation')), /isolation 0/],
        ['no queues', (x) => x.writeUInt32LE(0, H('queues')), /queues 0/],
        ['family 5', (x) => (x[A(0, 0, 'family')] = 5), /slot 0's prefix 0 has family 5/],
        ['host bits', (x) => (x[A(0, 0, 'addr') + 3] = 1), /slot 0's prefix 0: .*host bits are set/],
        ['a prefix too long', (x) => (x[A(0, 0, 'prefix_len')] = 33), /slot 0's prefix 0: .*prefix must be 0-32/],
        ['an owner out of range', (x) => x.writeUInt32LE(7, R(0, 'owner')), /region 0's owner 7/],
      ];
      for (const [what, corrupt, message] of cases) {
        const x = Buffer.from(b);
        corrupt(x);
        assert.throws(() => parseRoster(x), (e: unknown) => e instanceof RosterError && message.test(e.message), what);
      }
      assert.throws(() => parseRoster(b.subarray(0, 4096)), /4096 bytes, not 8192/);
    });

    it('writes into a live mapping magic last, and rewrites it with an odd seq that ends even', () => {
      const mem = Buffer.alloc(C.KVMRING_ROSTER_SIZE);
      writeRoster(mem, b);
      assert.deepEqual(mem, b);
      // A rewrite (g3's doorbell id is now 5): seq goes 0 -> 1 -> 2, the rest as given.
      const r = rosterOf(p, 1);
      r.slots[2].doorbellId = 5;
      const next = encodeRoster(r);
      writeRoster(mem, next);
      assert.equal(mem.readUInt32LE(H('seq')), 2);
      assert.equal(parseRoster(mem).slots[2].doorbellId, 5);
      assert.deepEqual(mem.subarray(H('seq') + 4), next.subarray(H('seq') + 4));
      // One cut short (seq left odd) is followed by an even seq above it.
      mem.writeUInt32LE(7, H('seq'));
      writeRoster(mem, next);
      assert.equal(mem.readUInt32LE(H('seq')), 8);
    });

    it('writes no magic into a new roster before the rest is there', () => {
      const mem = Buffer.alloc(C.KVMRING_ROSTER_SIZE);
      const seen = magicAfterEachCopy(mem, () => writeRoster(mem, b));
      assert.equal(seen.at(-1), C.KVMRING_ROSTER_MAGIC);
      assert.ok(seen.length >= 2 && seen.slice(0, -1).every((m) => m === 0n), 'no magic before the last copy');
    });
  });

  describe('owned regions', () => {
    it('formats a region: all zero, then the header at the offsets of LAYOUT', () => {
      const p = plan({ guests: '3', queues: '2' });
      const r = p.regions[1];
      const buf = Buffer.alloc(r.size, 0xa5);
      formatOwnedRegion(buf, r, p);
      const o = (m: keyof typeof LAYOUT.kvmring_owned_hdr.members) => offsetOf('kvmring_owned_hdr', m);
      assert.equal(buf.readBigUInt64LE(o('magic')), C.KVMRING_OWNED_MAGIC);
      assert.equal(buf.subarray(0, 8).toString('latin1'), 'KRINGOWN');
      assert.equal(buf.readUInt32LE(o('abi_version')), 2);
      assert.equal(buf.readUInt32LE(o('owner')), 1);
      assert.equal(buf.readBigUInt64LE(o('instance')), BigInt(`0x${r.instance}`));
      assert.equal(buf.readBigUInt64LE(o('region_size')), BigInt(r.size));
      assert.equal(buf.readUInt32LE(o('readers')), 0b101);
      assert.equal(buf.readUInt32LE(o('ring_size')), p.ringSize);
      assert.equal(buf.readUInt32LE(o('queues')), 2);
      assert.ok(buf.subarray(o('rsvd0')).every((x) => x === 0), 'the rest of the region is zero');
      // The last queue block ends inside the region.
      assert.ok(queueOffset(p.ringSize, 2, 1, 1) + C.KVMRING_QUEUE_CTL_SIZE + p.ringSize <= r.size);
      assert.throws(() => formatOwnedRegion(Buffer.alloc(r.size - 1), r, p), /is 8388608 bytes; the buffer has 8388607/);
    });

    it('writes the magic last', () => {
      const p = plan({ guests: '2' });
      const buf = Buffer.alloc(p.regions[0].size);
      const seen = magicAfterEachCopy(buf, () => formatOwnedRegion(buf, p.regions[0], p));
      assert.equal(seen.at(-1), C.KVMRING_OWNED_MAGIC);
      assert.ok(seen.length >= 2 && seen.slice(0, -1).every((m) => m === 0n), 'no magic before the last copy');
    });
  });
});
