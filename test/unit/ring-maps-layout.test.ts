import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

import { BpfObject } from '../../src/libbpf/index.js';
import { CONSTANTS, LAYOUT, MAPS, OBJECTS, TC_STATS, XDP_STATS } from '../../src/xdp/codecs.js';
import { requireTier } from '../helpers/tier.js';
import { readLayout, type CLayout } from './layout-output.js';

const objectPath = (file: string) => fileURLToPath(new URL(`../../../build/bpf/${file}`, import.meta.url));

describe('ring_maps.h codecs', () => {
  let c: CLayout;

  before(function () {
    requireTier(this, 'unit');
    c = readLayout('ring-maps-layout');
  });

  for (const [name, layout] of Object.entries(LAYOUT)) {
    it(`lays out struct ${name} as the header does`, () => {
      const cs = c.structs.get(name);
      assert.ok(cs, `the C layout program does not print struct ${name}`);
      assert.equal(layout.size, cs.size, `sizeof(struct ${name})`);
      const members = Object.fromEntries([...cs.members].map(([m, v]) => [m, [v.offset, v.size]]));
      assert.deepEqual(layout.members, members);
    });
  }

  it('copies every constant with the header\'s value', () => {
    assert.deepEqual(Object.fromEntries(c.constants), { ...CONSTANTS });
  });

  it('names the stats in the header\'s order', () => {
    const stats = (kind: string) => c.other.filter((w) => w[0] === 'stat' && w[1] === kind).map((w) => [Number(w[2]), w[3]]);
    assert.deepEqual(stats('xdp'), XDP_STATS.map((n, i) => [i, n]));
    assert.deepEqual(stats('tc'), TC_STATS.map((n, i) => [i, n]));
    assert.equal(XDP_STATS.length, CONSTANTS.RING_XDP_STAT_MAX);
    assert.equal(TC_STATS.length, CONSTANTS.RING_TC_STAT_MAX);
  });

  it('names the maps as the header does', () => {
    const names = c.other.filter((w) => w[0] === 'map').map((w) => w[1]);
    assert.deepEqual([...names].sort(), Object.values(MAPS).sort());
  });

  it('finds each map, with the header\'s key and value sizes, in the built objects', () => {
    const xdp = BpfObject.open(objectPath(OBJECTS.xdp.file));
    const tc = BpfObject.open(objectPath(OBJECTS.tc.file));
    try {
      const sizes = (o: BpfObject, name: string) => {
        const m = o.map(name);
        return [m.keySize, m.valueSize, m.maxEntries];
      };
      assert.deepEqual(sizes(xdp, MAPS.peers), [LAYOUT.ring_peer_key.size, LAYOUT.ring_peer.size, CONSTANTS.RING_PEERS_MAX]);
      assert.deepEqual(sizes(tc, MAPS.peers), sizes(xdp, MAPS.peers));
      assert.deepEqual(sizes(xdp, MAPS.subnets4), [LAYOUT.ring_subnet4_key.size, 4, CONSTANTS.RING_SUBNETS_MAX]);
      assert.deepEqual(sizes(xdp, MAPS.subnets6), [LAYOUT.ring_subnet6_key.size, 4, CONSTANTS.RING_SUBNETS_MAX]);
      assert.deepEqual(sizes(xdp, MAPS.dev), [4, 4, 1]);
      assert.deepEqual(sizes(xdp, MAPS.xdpStats), [4, LAYOUT.ring_stat.size, CONSTANTS.RING_XDP_STAT_MAX]);
      assert.deepEqual(sizes(tc, MAPS.tcStats), [4, LAYOUT.ring_stat.size, CONSTANTS.RING_TC_STAT_MAX]);
      for (const o of [xdp, tc]) {
        const cfg = o.globals('.rodata').find((g) => g.name === OBJECTS.configVar);
        assert.deepEqual(cfg && cfg.size, LAYOUT.ring_config.size);
      }
      assert.equal(xdp.program(OBJECTS.xdp.program).sectionName, 'xdp');
      assert.equal(tc.program(OBJECTS.tc.program).sectionName, 'tc');
    } finally {
      xdp.close();
      tc.close();
    }
  });
});
