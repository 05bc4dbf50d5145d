import assert from 'node:assert/strict';

import {
  defaultRingSizeV2,
  DOORBELL_DEVFN,
  parseGroupOption,
  parseGuestOption,
  parseHostSpec,
  parseIsolation,
  parseQueues,
  parseRingSize,
  planGuestSlot,
  planHost,
  REGION_SLOTS,
  type HostPlan,
  type IsolationOptions,
} from '../../src/host/isolation.js';
import { ownedUsed } from '../../src/ring/geometry.js';
import { CONSTANTS as C } from '../../src/ring/layout.js';
import { requireTier } from '../helpers/tier.js';
import { assertUsageError as usage } from '../helpers/usage.js';

const M = 2 ** 20;

/** Instances 1, 2, 3, ...: a plan that a test can predict. */
function counter(): () => bigint {
  let n = 0n;
  return () => ++n;
}

function plan(o: IsolationOptions): HostPlan {
  return planHost(parseHostSpec(o).spec, counter());
}

describe('host verbs: isolation levels, groups and the v2 plan', () => {
  before(function () {
    requireTier(this, 'unit');
  });

  describe('--guest, --group and the other options', () => {
    it('reads a guest with a MAC and IPv4 and IPv6 prefixes, canonical and without repeats', () => {
      assert.deepEqual(parseGuestOption('web1,mac=02:AA:00:00:00:01,addr=2001:db8:0:1::/64,addr=192.0.2.0/24,addr=192.0.2.0/24'), {
        name: 'web1',
        mac: '02:aa:00:00:00:01',
        addrs: ['192.0.2.0/24', '2001:db8:0:1::/64'],
      });
      assert.deepEqual(parseGuestOption('g1'), { name: 'g1', addrs: [] });
    });

    it('names what is wrong with a guest and how to write it', () => {
      usage(() => parseGuestOption(''), /a guest's name must be 1 to 31 letters.*--guest NAME\[,mac=MAC\]/);
      usage(() => parseGuestOption('-x'), /a guest's name must be/);
      // The roster's name field is 32 bytes, a NUL after the name included.
      usage(() => parseGuestOption('a'.repeat(32)), /a guest's name must be/);
      assert.equal(parseGuestOption('a'.repeat(31)).name, 'a'.repeat(31));
      usage(() => parseGroupOption(`${'a'.repeat(32)}=g1,g2`), /a group's name must be 1 to 31 letters/);
      usage(() => parseGuestOption('g1,ip=10.0.0.1/32'), /"ip=10.0.0.1\/32" is not mac=MAC or addr=CIDR/);
      usage(() => parseGuestOption('g1,mac'), /"mac" is not mac=MAC or addr=CIDR/);
      usage(() => parseGuestOption('g1,mac=02:00:00:00:00:01,mac=02:00:00:00:00:02'), /mac= given twice/);
      usage(() => parseGuestOption('g1,mac=zz'), /--guest g1: bad MAC address "zz"/);
      usage(() => parseGuestOption('g1,mac=00:00:00:00:00:00'), /is the zero MAC/);
      usage(() => parseGuestOption('g1,mac=01:00:5e:00:00:01'), /is a multicast MAC/);
      usage(() => parseGuestOption('g1,mac=ff:ff:ff:ff:ff:ff'), /is a multicast MAC/);
      usage(() => parseGuestOption('g1,addr=10.0.0.1/8'), /--guest g1: addr=: .*host bits are set \(the network is 10.0.0.0\/8\)/);
      usage(() => parseGuestOption('g1,addr=10.0.0.0'), /expected ADDRESS\/PREFIX/);
      const nine = Array.from({ length: 9 }, (_, i) => `addr=10.${i}.0.0/16`).join(',');
      usage(() => parseGuestOption(`g1,${nine}`), /9 addr= prefixes, but a roster holds at most 8 per guest/);
      assert.equal(parseGuestOption(`g1,${nine.split(',').slice(1).join(',')}`).addrs.length, C.KVMRING_ROSTER_ADDRS);
    });

    it('reads groups, and refuses what is not NAME=GUEST,...', () => {
      assert.deepEqual(parseGroupOption('a=g1,g2'), { name: 'a', members: ['g1', 'g2'] });
      for (const bad of ['a', '=g1', 'a=', 'a=g1,,g2', '-a=g1']) usage(() => parseGroupOption(bad), /write --group NAME=GUEST,GUEST/);
      usage(() => parseGroupOption('a=g1,g1'), /--group a: g1 is named twice/);
    });

    it('takes owner or pair, 1 to 8 queues and a power-of-two ring size the core accepts', () => {
      assert.equal(parseIsolation('owner'), 'owner');
      assert.equal(parseIsolation('pair'), 'pair');
      usage(() => parseIsolation('none'), /--isolation must be owner .* or pair .*, not "none"/);
      assert.equal(parseQueues('1'), 1);
      assert.equal(parseQueues('8'), 8);
      for (const bad of ['0', '9', 'x', '']) usage(() => parseQueues(bad), /--queues must be from 1 to 8/);
      assert.equal(parseRingSize('1M'), M);
      assert.equal(parseRingSize('256K'), 256 * 1024);
      usage(() => parseRingSize('128K'), /--ring-size must be a power of two from 256K to 256M .*, not 128K/);
      usage(() => parseRingSize('3M'), /not 3M/);
      usage(() => parseRingSize('512M'), /not 512M/);
    });

    it('gives --guests N the names g1..gN, and counts --guest options', () => {
      assert.deepEqual(parseHostSpec({ guests: '3' }).spec.guests.map((g) => g.name), ['g1', 'g2', 'g3']);
      const { spec } = parseHostSpec({ guest: ['db', 'web,mac=02:00:00:00:00:07'], guests: '2' });
      assert.deepEqual(spec.guests.map((g) => g.name), ['db', 'web']);
      assert.equal(spec.isolation, 'owner');
      assert.equal(spec.queues, 1);
      assert.equal(spec.mode, 'plain');
      assert.equal(spec.ringSize, undefined);
      usage(() => parseHostSpec({}), /no guests: give --guests N .* or one --guest NAME/);
      usage(() => parseHostSpec({ guests: '1' }), /--guests must be a number of guests from 2 to 16/);
      usage(() => parseHostSpec({ guest: ['a'] }), /1 --guest options: give 2 to 16 guests/);
      usage(() => parseHostSpec({ guest: Array.from({ length: 17 }, (_, i) => `g${i}`) }), /17 --guest options/);
      usage(() => parseHostSpec({ guest: ['a', 'b'], guests: '3' }), /--guests 3 but 2 --guest options: leave --guests out/);
      usage(() => parseHostSpec({ guests: '2', vectors: '2' }), /--vectors needs --doorbell/);
      usage(() => parseHostSpec({ guests: '2', name: 'a/b' }), /--name must be/);
    });

    it('wants guests with names and MACs of their own', () => {
      usage(() => parseHostSpec({ guest: ['a', 'b', 'a'] }), /two guests are named a/);
      usage(
        () => parseHostSpec({ guest: ['a,mac=02:00:00:00:00:01', 'b,mac=02:00:00:00:00:01'] }),
        /guests a and b both have mac=02:00:00:00:00:01: every guest needs a MAC of its own/,
      );
    });

    it('wants groups of known guests, each given once', () => {
      usage(() => parseHostSpec({ guests: '3', group: ['a=g1,g4'] }), /--group a names g4, which is not a guest; the guests are g1, g2, g3/);
      usage(() => parseHostSpec({ guests: '3', group: ['a=g1,g2', 'a=g3'] }), /--group a is given twice/);
    });

    it('warns of a guest in no group, which talks to nobody', () => {
      assert.deepEqual(parseHostSpec({ guests: '3', group: ['a=g1,g2'] }).warnings, ['g3 is in no --group: it talks to no other guest']);
      assert.deepEqual(parseHostSpec({ guests: '3' }).warnings, []);
    });

    it('refuses a prefix claimed by two guests that share a group, naming both', () => {
      const guest = ['g1,addr=10.1.0.0/16', 'g2,addr=10.1.2.0/24', 'g3,addr=fd00::/64'];
      usage(() => parseHostSpec({ guest }), /g1's addr=10.1.0.0\/16 and g2's addr=10.1.2.0\/24 overlap, and both guests are in group all/);
      usage(
        () => parseHostSpec({ guest: ['g1,addr=fd00::/48', 'g2', 'g3,addr=fd00:0:0:1::/64'], group: ['x=g1,g3'] }),
        /g1's addr=fd00::\/48 and g3's addr=fd00:0:0:1::\/64 overlap, and both guests are in group x/,
      );
      // Tenants that share no group may use the same addresses.
      const { warnings } = parseHostSpec({ guest, group: ['a=g1,g3', 'b=g2,g3'] });
      assert.deepEqual(warnings, []);
      // IPv4 and IPv6 never overlap; neither do a guest's own prefixes with each other.
      parseHostSpec({ guest: ['g1,addr=0.0.0.0/0,addr=10.0.0.0/8', 'g2,addr=::/0'] });
    });
  });

  describe('the plan', () => {
    it('gives each guest in owner mode one region, read by every other guest', () => {
      const p = plan({ guests: '3' });
      assert.equal(p.isolation, 'owner');
      assert.deepEqual(
        p.regions.map((r) => [r.file, r.owner, r.readers, r.instance]),
        [
          ['kvmring-kvmring+g1.owned', 0, 0b110, '0000000000000002'],
          ['kvmring-kvmring+g2.owned', 1, 0b101, '0000000000000003'],
          ['kvmring-kvmring+g3.owned', 2, 0b011, '0000000000000004'],
        ],
      );
      assert.equal(p.instance, '0000000000000001');
      assert.equal(p.ringSize, 2 * M);
      // Two lanes of a 4 KiB control page and 2 MiB, after the first page: 8 MiB.
      assert.ok(p.regions.every((r) => r.size === 8 * M && ownedUsed(r.readers, p.ringSize, 1) <= r.size));
      const g2 = p.guests[1];
      assert.deepEqual(g2.peers, [0, 1, 2]);
      assert.deepEqual(
        g2.devices.map((d) => [d.kind, d.devfn, d.kind === 'doorbell' ? '' : d.file, d.kind === 'doorbell' || d.readonly]),
        [
          ['roster', C.KVMRING_ROSTER_DEVFN, 'kvmring-kvmring+g2.roster', true],
          ['region', 0x11 << 3, 'kvmring-kvmring+g2.owned', false],
          ['region', 0x12 << 3, 'kvmring-kvmring+g1.owned', true],
          ['region', 0x13 << 3, 'kvmring-kvmring+g3.owned', true],
        ],
      );
      assert.equal(g2.doorbellDevfn, C.KVMRING_NO_DEVFN);
      assert.equal(g2.doorbellId, C.KVMRING_DOORBELL_NONE);
      assert.equal(g2.roster, 'kvmring-kvmring+g2.roster');
    });

    it('gives each ordered pair in pair mode a region read by the second guest only: 2(n-1) regions per guest', () => {
      const p = plan({ guests: '4', isolation: 'pair', name: 'lab' });
      assert.equal(p.regions.length, 4 * 3);
      for (const r of p.regions) assert.equal(r.readers & (r.readers - 1), 0, `${r.file} has one reader`);
      assert.deepEqual(p.regions.slice(0, 3).map((r) => [r.file, r.owner, r.readers]), [
        ['kvmring-lab+g1+g2.owned', 0, 0b0010],
        ['kvmring-lab+g1+g3.owned', 0, 0b0100],
        ['kvmring-lab+g1+g4.owned', 0, 0b1000],
      ]);
      for (const g of p.guests) {
        const regions = g.devices.filter((d) => d.kind === 'region');
        assert.equal(regions.length, 2 * 3, `${g.name} maps 2(n-1) regions`);
        assert.equal(g.devices.length, 2 * 3 + 1, `${g.name}: and its roster`);
        assert.deepEqual(regions.filter((d) => !d.readonly).map((d) => p.regions[d.region].owner), [g.slot, g.slot, g.slot]);
        assert.ok(regions.every((d) => p.regions[d.region].owner === g.slot || p.regions[d.region].readers === 1 << g.slot));
      }
      // One lane: a page, a control page and 2 MiB round up to 4 MiB.
      assert.ok(p.regions.every((r) => r.size === 4 * M));
    });

    it('keeps guests of different groups out of each other\'s regions and devices', () => {
      const p = plan({ guests: '3', group: ['a=g1,g2', 'b=g2,g3'] });
      const [g1, g2, g3] = p.guests;
      assert.deepEqual([g1.peers, g2.peers, g3.peers], [[0, 1], [0, 1, 2], [1, 2]]);
      assert.deepEqual([g1.groups, g2.groups, g3.groups], [['a'], ['a', 'b'], ['b']]);
      // g2 is in both groups: a region for each, read by that group's other member alone.
      assert.deepEqual(
        p.regions.map((r) => [r.file, r.owner, r.group, r.readers]),
        [
          ['kvmring-kvmring+g1.owned', 0, 'a', 0b010],
          ['kvmring-kvmring+g2@a.owned', 1, 'a', 0b001],
          ['kvmring-kvmring+g2@b.owned', 1, 'b', 0b100],
          ['kvmring-kvmring+g3.owned', 2, 'b', 0b010],
        ],
      );
      const mapped = (g: typeof g1) => g.devices.flatMap((d) => (d.kind === 'region' ? [[p.regions[d.region].file, d.readonly]] : []));
      assert.deepEqual(mapped(g1), [['kvmring-kvmring+g1.owned', false], ['kvmring-kvmring+g2@a.owned', true]]);
      assert.deepEqual(mapped(g2), [
        ['kvmring-kvmring+g2@a.owned', false],
        ['kvmring-kvmring+g2@b.owned', false],
        ['kvmring-kvmring+g1.owned', true],
        ['kvmring-kvmring+g3.owned', true],
      ]);
      assert.deepEqual(mapped(g3), [['kvmring-kvmring+g3.owned', false], ['kvmring-kvmring+g2@b.owned', true]]);
      // In pair mode g1 and g3 share no region at all.
      const q = plan({ guests: '3', group: ['a=g1,g2', 'b=g2,g3'], isolation: 'pair' });
      assert.deepEqual(q.regions.map((r) => r.file), ['kvmring-kvmring+g1+g2.owned', 'kvmring-kvmring+g2+g1.owned', 'kvmring-kvmring+g2+g3.owned', 'kvmring-kvmring+g3+g2.owned']);
    });

    it('gives every ordered pair one TX region under owner, each region read only by guests that share a group with all of its readers and its owner', () => {
      const layouts: [string, string[]][] = [
        ['one group', []],
        ['a chain', ['a=g1,g2', 'b=g2,g3', 'c=g3,g4', 'd=g4,g5']],
        ['a hub', ['a=g1,g2', 'b=g1,g3', 'c=g1,g4,g5']],
        ['nested', ['a=g1,g2,g3,g4', 'b=g2,g3', 'c=g3,g4,g5']],
        ['the same group twice over', ['a=g1,g2,g3', 'b=g1,g2,g3']],
        ['a loner', ['a=g1,g2,g3,g4']],
      ];
      for (const [what, group] of layouts) {
        const p = plan({ guests: '5', group });
        const share = (x: number, y: number) => p.guests[x].groups.some((gr) => p.guests[y].groups.includes(gr));
        for (const r of p.regions) {
          const slots = [r.owner, ...p.guests.map((g) => g.slot).filter((s) => r.readers & (1 << s))];
          assert.ok(r.readers !== 0, `${what}: ${r.file} has readers`);
          assert.ok(r.group !== undefined, `${what}: ${r.file} names its group`);
          for (const x of slots) for (const y of slots) assert.ok(x === y || share(x, y), `${what}: ${r.file} is mapped into g${x + 1} and g${y + 1}, which share no group`);
          for (const s of slots) assert.ok(p.guests[s].groups.includes(r.group), `${what}: g${s + 1} is not in ${r.file}'s group ${r.group}`);
        }
        for (const a of p.guests) {
          for (const b of p.guests) {
            if (a === b) continue;
            const tx = p.regions.filter((r) => r.owner === a.slot && r.readers & (1 << b.slot));
            assert.equal(tx.length, share(a.slot, b.slot) ? 1 : 0, `${what}: ${a.name} -> ${b.name} has ${tx.length} TX regions`);
          }
        }
        // One region per owner unless the owner is in groups that need one each.
        if (!group.length) assert.deepEqual(p.regions.map((r) => [r.file, r.group]), p.guests.map((g) => [`kvmring-kvmring+${g.name}.owned`, 'all']));
      }
      // Groups that hold nothing new make no region: g1..g3 twice over is one group.
      assert.equal(plan({ guests: '3', group: ['a=g1,g2,g3', 'b=g1,g2,g3'] }).regions.length, 3);
      assert.equal(plan({ guests: '5', group: ['a=g1,g2', 'b=g2,g3', 'c=g3,g4', 'd=g4,g5'] }).regions.length, 8);
    });

    it('gives a guest in no group only its roster', () => {
      const p = plan({ guests: '3', group: ['a=g1,g2'] });
      assert.deepEqual(p.guests[2].peers, [2]);
      assert.deepEqual(p.guests[2].devices.map((d) => d.kind), ['roster']);
      assert.ok(p.regions.every((r) => r.owner !== 2 && !(r.readers & 0b100)));
    });

    it('puts the doorbell at its fixed slot and records it', () => {
      const p = plan({ guests: '2', doorbell: true, vectors: '4' });
      assert.equal(p.mode, 'doorbell');
      assert.equal(p.vectors, 4);
      for (const g of p.guests) {
        assert.equal(g.doorbellDevfn, DOORBELL_DEVFN);
        assert.deepEqual(g.devices.at(-1), { kind: 'doorbell', devfn: DOORBELL_DEVFN });
      }
    });

    it('uses distinct PCI slots in 00:08-00:19, none the roster\'s or the doorbell\'s', () => {
      assert.equal(new Set(REGION_SLOTS).size, REGION_SLOTS.length);
      assert.ok(REGION_SLOTS.every((s) => s >= 0x08 && s <= 0x19 && s << 3 !== C.KVMRING_ROSTER_DEVFN && s << 3 !== DOORBELL_DEVFN));
      const p = plan({ guests: '16', doorbell: true });
      for (const g of p.guests) {
        const devfns = g.devices.map((d) => d.devfn);
        assert.equal(new Set(devfns).size, devfns.length, `${g.name}'s devices each have a slot`);
        assert.equal(devfns.length, 16 + 2);
      }
    });

    it('refuses a guest that needs more PCI slots than there are, and says what helps', () => {
      usage(
        () => plan({ guests: '10', isolation: 'pair' }),
        /g1 would map 18 regions under --isolation pair, but a guest has PCI slots for 16 .*: put fewer guests in a group with it \(--group\), or use --isolation owner/,
      );
      plan({ guests: '9', isolation: 'pair' });
      // Ten guests in pairs of groups of five fit.
      plan({ guests: '10', isolation: 'pair', group: ['a=g1,g2,g3,g4,g5', 'b=g6,g7,g8,g9,g10'] });
    });

    it('picks ring sizes for 2 to 16 guests, shared among queues, and takes one given', () => {
      assert.equal(defaultRingSizeV2(1, 1), 2 * M);
      assert.equal(defaultRingSizeV2(3, 1), 2 * M);
      assert.equal(defaultRingSizeV2(4, 1), M);
      assert.equal(defaultRingSizeV2(7, 1), M);
      assert.equal(defaultRingSizeV2(15, 1), M / 2);
      assert.equal(defaultRingSizeV2(3, 2), M);
      assert.equal(defaultRingSizeV2(15, 8), C.KVMRING_RING_SIZE_MIN);
      for (let n = 2; n <= C.KVMRING_PEERS_MAX; n++) {
        const p = plan({ guests: String(n) });
        const total = p.regions.reduce((sum, r) => sum + r.size, 0);
        assert.ok(total <= 128 * M, `${n} guests take ${total / M} MiB`);
      }
      // The largest peer count decides: g2 talks to 4 others here.
      assert.equal(plan({ guests: '5', group: ['a=g1,g2', 'b=g2,g3,g4,g5'] }).ringSize, M);
      const q = plan({ guests: '2', ringSize: '256K', queues: '8' });
      assert.equal(q.ringSize, 256 * 1024);
      assert.equal(q.queues, 8);
      assert.equal(q.regions[0].size, 4 * M); // a page, then 8 x (4 KiB + 256 KiB)
    });

    it('picks locally administered unicast MACs from the instance, takes given ones and repeats none', () => {
      const opts = { guest: ['a', 'b,mac=02:00:00:00:00:02', 'c'] };
      const p = plan(opts);
      assert.equal(p.guests[1].mac, '02:00:00:00:00:02');
      for (const g of [p.guests[0], p.guests[2]]) {
        const first = parseInt(g.mac.slice(0, 2), 16);
        assert.equal(first & 0b11, 0b10, `${g.mac} is locally administered unicast`);
      }
      assert.equal(new Set(p.guests.map((g) => g.mac)).size, 3);
      assert.deepEqual(plan(opts).guests.map((g) => g.mac), p.guests.map((g) => g.mac), 'the same instance, the same MACs');
      const other = planHost(parseHostSpec(opts).spec, () => 99n);
      assert.notEqual(other.guests[0].mac, p.guests[0].mac);
    });

    it('is plain JSON, and finds guests by name', () => {
      const p = plan({ guest: ['db,addr=10.0.0.0/24', 'web,addr=fd00::/64'], group: ['t=db,web'], isolation: 'pair', doorbell: true });
      assert.deepEqual(JSON.parse(JSON.stringify(p)), p);
      assert.deepEqual(p.guests.map((g) => g.addrs), [['10.0.0.0/24'], ['fd00::/64']]);
      assert.equal(planGuestSlot(p, 'web'), 1);
      usage(() => planGuestSlot(p, 'g1'), /"g1" is not a guest of kvmring; its guests are db, web/);
    });

    it('gives every plan new instances, none zero', () => {
      const a = planHost(parseHostSpec({ guests: '2' }).spec);
      const b = planHost(parseHostSpec({ guests: '2' }).spec);
      assert.notEqual(a.instance, b.instance);
      for (const i of [a.instance, b.instance, ...a.regions.map((r) => r.instance)]) assert.match(i, /^[0-9a-f]{16}$/);
      assert.ok(![a.instance, ...a.regions.map((r) => r.instance)].includes('0000000000000000'));
    });
  });
});
