import assert from 'node:assert/strict';

import koffi from 'koffi';

import { CONSTANTS, PREFIX_STRUCTS, STRUCTS } from '../../src/libbpf/types.js';
import { requireTier } from '../helpers/tier.js';
import { readLayout, type CLayout } from './layout-output.js';

describe('libbpf binding layout', () => {
  let c: CLayout;

  before(function () {
    requireTier(this, 'unit');
    c = readLayout('libbpf-layout');
  });

  for (const [name, type] of Object.entries(STRUCTS)) {
    it(`declares struct ${name} with libbpf's size and offsets`, () => {
      const cs = c.structs.get(name);
      assert.ok(cs, `the C layout program does not print struct ${name}`);
      if (PREFIX_STRUCTS.has(name)) assert.ok(koffi.sizeof(type) <= cs.size, `struct ${name} is longer than in C`);
      else assert.equal(koffi.sizeof(type), cs.size, `sizeof(struct ${name})`);
      const members = Object.keys(type.members!).filter((m) => !m.startsWith('_'));
      for (const m of members) {
        const cm = cs.members.get(m);
        assert.ok(cm, `struct ${name} has no member ${m} in C`);
        assert.equal(koffi.offsetof(type, m), cm.offset, `offsetof(struct ${name}, ${m})`);
        assert.equal(type.members![m].type.size, cm.size, `sizeof(${name}.${m})`);
      }
      assert.deepEqual([...cs.members.keys()].sort(), [...members].sort(), `members of struct ${name}`);
    });
  }

  it('copies every constant with the headers\' value', () => {
    for (const [name, value] of Object.entries(CONSTANTS)) {
      assert.equal(value, c.constants.get(name), name);
    }
    assert.deepEqual([...c.constants.keys()].sort(), Object.keys(CONSTANTS).sort());
  });
});
