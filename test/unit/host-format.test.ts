import assert from 'node:assert/strict';

import { formatOwnedHeader, formatRoster, publishRoster, rosterProblem } from '../../src/host/format.js';
import { parseHostSpec, planHost, type HostPlan, type IsolationOptions } from '../../src/host/isolation.js';
import { rosterInput, rosterOf } from '../../src/host/roster.js';
import { CONSTANTS as C, offsetOf } from '../../src/ring/layout.js';
import { requireTier } from '../helpers/tier.js';
import { encodeRosterTs, ownedHeaderTs, writeRosterTs } from './roster-oracle.js';

/** A small deterministic generator (mulberry32), so a failing plan can be rebuilt from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** The options of `host up` for plan number `seed`: guests, groups, isolation, queues, doorbell, MACs and prefixes. */
function randomOptions(seed: number): IsolationOptions {
  const r = rng(seed);
  const pick = (n: number) => Math.floor(r() * n);
  const n = 2 + pick(seed % 4 === 0 ? 15 : 5);
  const guest = Array.from({ length: n }, (_, i) => {
    const attrs = [`g${i + 1}${'x'.repeat(pick(3) ? 0 : 28)}`];
    if (pick(2)) attrs.push(`mac=02:${[1, 2, 3, 4, 5].map(() => (16 + pick(200)).toString(16)).join(':')}`);
    for (let k = pick(4); k > 0; k--) attrs.push(pick(2) ? `addr=10.${i}.${k}.0/24` : `addr=2001:db8:${i}:${k}::/64`);
    return attrs.join(',');
  });
  const names = guest.map((g) => g.split(',')[0]);
  const group: string[] = [];
  if (pick(2)) {
    for (let k = 0; k < 1 + pick(3); k++) {
      const members = names.filter(() => pick(2));
      if (members.length >= 2) group.push(`grp${k}=${members.join(',')}`);
    }
  }
  return {
    guest,
    group,
    isolation: pick(2) ? 'pair' : 'owner',
    queues: String(1 + pick(seed % 3 === 0 ? 8 : 2)),
    doorbell: pick(2) === 1,
    ...(pick(3) ? {} : { ringSize: '256K' }),
  };
}

function plan(o: IsolationOptions, seed: number): HostPlan {
  let n = BigInt(seed) << 32n;
  return planHost(parseHostSpec(o).spec, () => 0x8000000000000000n + ++n);
}

describe('host: the formatter in C (kmod/kvmring_format.c as WebAssembly)', () => {
  before(function () {
    requireTier(this, 'unit');
  });

  it('writes every roster of 300 plans byte for byte as the TypeScript encoder did', () => {
    let rosters = 0;
    const shapes = new Set<string>();
    for (let seed = 1; seed <= 300; seed++) {
      const o = randomOptions(seed);
      let p: HostPlan;
      try {
        p = plan(o, seed);
      } catch {
        continue; // groups that leave a guest alone etc.: not a plan
      }
      shapes.add(`${p.isolation}/${p.mode}/q${p.queues}/${p.guests.length}`);
      for (const g of p.guests) {
        const r = rosterOf(p, g.slot);
        const c = formatRoster(rosterInput(r));
        const ts = encodeRosterTs(r);
        assert.ok(c.equals(ts), `seed ${seed}, ${g.name}: ${JSON.stringify(o)}; first difference at ${c.findIndex((x, i) => x !== ts[i])}`);
        assert.equal(rosterProblem(c), null);
        rosters++;
      }
    }
    assert.ok(rosters > 1000, `${rosters} rosters`);
    assert.ok(shapes.size > 50, `${shapes.size} shapes`);
  });

  it('writes every owned region header of those plans as the TypeScript encoder did', () => {
    let headers = 0;
    for (let seed = 1; seed <= 300; seed++) {
      let p: HostPlan;
      try {
        p = plan(randomOptions(seed), seed);
      } catch {
        continue;
      }
      for (const reg of p.regions) {
        const { header, problem } = formatOwnedHeader({ owner: reg.owner, readers: reg.readers, ringSize: p.ringSize, queues: p.queues, size: reg.size, instance: BigInt(`0x${reg.instance}`) });
        assert.deepEqual(header, ownedHeaderTs(reg, p), `seed ${seed}, ${reg.file}`);
        assert.equal(problem, null, `seed ${seed}, ${reg.file}`);
        headers++;
      }
    }
    assert.ok(headers > 1000, `${headers} headers`);
  });

  it('publishes a roster as writeRoster() does: new, rewritten, and after a rewrite cut short', () => {
    const p = plan({ guests: '3', doorbell: true }, 4);
    const first = encodeRosterTs(rosterOf(p, 0));
    const r = rosterOf(p, 0);
    r.slots[1].doorbellId = 9;
    const next = encodeRosterTs(r);
    const seq = offsetOf('kvmring_roster_hdr', 'seq');
    for (const start of [Buffer.alloc(C.KVMRING_ROSTER_SIZE), first, Buffer.from(first).fill(7, seq, seq + 1)]) {
      const ts = Buffer.from(start);
      writeRosterTs(ts, next);
      const c = publishRoster(start, next);
      assert.deepEqual(c, ts);
    }
  });

  it('refuses what the module refuses: geometry an owned region cannot hold, a roster with an odd seq', () => {
    const ok = { owner: 0, readers: 0b110, ringSize: 1 << 20, queues: 2, size: 8 << 20, instance: 1n };
    assert.equal(formatOwnedHeader(ok).problem, null);
    assert.equal(formatOwnedHeader({ ...ok, size: 4 << 20 }).problem, 'ERANGE');
    assert.equal(formatOwnedHeader({ ...ok, readers: 0b111 }).problem, 'EINVAL');
    assert.equal(formatOwnedHeader({ ...ok, ringSize: 3 << 20 }).problem, 'EINVAL');
    assert.equal(formatOwnedHeader({ ...ok, queues: 9 }).problem, 'EINVAL');
    const b = formatRoster(rosterInput(rosterOf(plan({ guests: '2' }, 1), 0)));
    b.writeUInt32LE(3, offsetOf('kvmring_roster_hdr', 'seq'));
    assert.match(rosterProblem(b) ?? '', /EINVAL/);
    assert.throws(() => formatRoster({ ...rosterInput(rosterOf(plan({ guests: '2' }, 1), 0)), maxPeers: 17 }), /EINVAL/);
  });
});
