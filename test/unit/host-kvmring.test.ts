import assert from 'node:assert/strict';
import { UsageError } from 'clipanion';

import { encodeCreate, encodeDestroy, encodeRoster, holders, IOCTL_CONSTANTS, IOCTL_LAYOUT, IOCTLS, parseModuleStatus } from '../../src/host/kvmring.js';
import { parseProvider } from '../../src/host/args.js';
import { chooseProvider } from '../../src/host/provider.js';
import { CONSTANTS as C } from '../../src/ring/layout.js';
import { requireTier } from '../helpers/tier.js';
import { readLayout, type CLayout } from './layout-output.js';

/** What kmod/kvmring_main.c prints for a setup with one roster and one owned region, one mapped twice. */
const STATUS = [
  'kvmring regions=2 bytes=8396800 max_bytes=1073741824',
  'region kvmring-lab+g1.roster kind=roster size=8192 node=-1 actual_node=0 contiguous=yes chunks=1 min_order=1 openers=1 mappers=1 4242:qemu-system-x86:ro',
  '  roster self=0 max_peers=2 nregions=2 seq=4',
  '  slot 0 name=g1 mac=02:00:00:00:00:01 doorbell_id=4294967295',
  '  slot 1 name=g2 mac=02:00:00:00:00:02 doorbell_id=4294967295',
  'region kvmring-lab+g1.owned kind=owned size=8388608 node=0 actual_node=0 contiguous=no chunks=3 min_order=9 openers=0 mappers=3 4242:qemu-system-x86:rw 4343:qemu: a:ro',
  '  entry owner=0 readers=0x2 state=up gen=3 heartbeat=1200 doorbell_id=4294967295 mac=02:00:00:00:00:01',
  'something a newer module says',
  '',
].join('\n');

describe('host: kvmring.ko from userspace', () => {
  let c: CLayout;

  before(function () {
    requireTier(this, 'unit');
    c = readLayout('kvmring-ioctl-layout');
  });

  for (const [name, layout] of Object.entries(IOCTL_LAYOUT)) {
    it(`lays out struct ${name} as include/kvmring/kvmring_ioctl.h does`, () => {
      const cs = c.structs.get(name);
      assert.ok(cs, `the C layout program does not print struct ${name}`);
      assert.equal(layout.size, cs.size, `sizeof(struct ${name})`);
      assert.deepEqual(layout.members, Object.fromEntries([...cs.members].map(([m, v]) => [m, [v.offset, v.size]])));
    });
  }

  it('numbers the ioctls and kinds as the header does', () => {
    assert.deepEqual(Object.fromEntries(c.constants), { ...IOCTL_CONSTANTS, ...IOCTLS });
    assert.equal(IOCTL_LAYOUT.kvmring_ioc_roster.members.roster[1], C.KVMRING_ROSTER_SIZE);
  });

  it('encodes a create of an owned region and of a roster', () => {
    const m = IOCTL_LAYOUT.kvmring_ioc_create.members;
    const b = encodeCreate({ name: 'kvmring-lab+g1@a.owned', size: 8 << 20, node: 1, kind: 'owned', instance: 0x1122334455667788n, owner: 3, readers: 0b10110, ringSize: 1 << 20, queues: 2 });
    assert.equal(b.length, 264);
    assert.equal(b.subarray(0, m.name[1]).toString('utf8').replace(/\0+$/, ''), 'kvmring-lab+g1@a.owned');
    assert.equal(b.readBigUInt64LE(m.size[0]), 8n << 20n);
    assert.equal(b.readInt32LE(m.node[0]), 1);
    assert.equal(b.readUInt32LE(m.kind[0]), IOCTL_CONSTANTS.KVMRING_KIND_OWNED);
    assert.equal(b.readBigUInt64LE(m.instance[0]), 0x1122334455667788n);
    assert.deepEqual([m.owner, m.readers, m.ring_size, m.queues].map(([o]) => b.readUInt32LE(o)), [3, 0b10110, 1 << 20, 2]);
    assert.ok(b.subarray(m.rsvd[0]).every((x) => x === 0), 'rsvd is zero');

    const r = encodeCreate({ name: 'kvmring-lab+g1.roster', size: 8192, node: -1, kind: 'roster' });
    assert.equal(r.readInt32LE(m.node[0]), -1);
    assert.equal(r.readUInt32LE(m.kind[0]), IOCTL_CONSTANTS.KVMRING_KIND_ROSTER);
    assert.ok(r.subarray(m.instance[0]).every((x) => x === 0), 'no owned fields for a roster');
  });

  it('carries a roster inline and a name to destroy', () => {
    const roster = Buffer.alloc(C.KVMRING_ROSTER_SIZE, 0x5a);
    const b = encodeRoster('kvmring+g2.roster', roster);
    assert.equal(b.length, IOCTL_LAYOUT.kvmring_ioc_roster.size);
    assert.deepEqual(b.subarray(192), roster);
    assert.throws(() => encodeRoster('kvmring+g2.roster', roster.subarray(1)), /a roster is 8192 bytes, not 8191/);
    assert.equal(encodeDestroy('x').subarray(0, 2).toString('latin1'), 'x\0');
  });

  it('refuses names the module refuses: a path, a leading dot, too long', () => {
    for (const bad of ['a/b', '.hidden', '', 'sp ace', 'x'.repeat(192)]) assert.throws(() => encodeDestroy(bad), /no name for a kvmring.ko region/, bad);
    assert.doesNotThrow(() => encodeDestroy('x'.repeat(191)));
  });

  it('reads the status: regions, memory, mappers and the peer tables under them', () => {
    const s = parseModuleStatus(STATUS);
    assert.equal(s.bytes, 8396800);
    assert.equal(s.maxBytes, 1 << 30);
    assert.deepEqual(
      s.regions.map((r) => [r.name, r.kind, r.size, r.node, r.actualNode, r.contiguous, r.chunks, r.minOrder, r.openers, r.nrMappers]),
      [
        ['kvmring-lab+g1.roster', 'roster', 8192, -1, 0, true, 1, 1, 1, 1],
        ['kvmring-lab+g1.owned', 'owned', 8 << 20, 0, 0, false, 3, 9, 0, 3],
      ],
    );
    assert.deepEqual(s.regions[1].mappers, [{ pid: 4242, comm: 'qemu-system-x86', writable: true }]);
    assert.equal(s.regions[0].details.length, 3);
    assert.match(s.regions[1].details[0], /^entry owner=0 .*state=up gen=3 heartbeat=1200/);
    assert.equal(holders(s.regions[1]), 'pid 4242 (qemu-system-x86) read-write, 2 more mapping(s)');
    assert.equal(holders(s.regions[0]), 'pid 4242 (qemu-system-x86), 1 open file(s)');
  });

  describe('the provider', () => {
    const loaded = (p: string) => p === '/dev/kvmring/control';
    const absent = () => false;

    it('takes the module under auto when its control node exists and no --dir was given, else shm', () => {
      assert.equal(chooseProvider('auto', '/dev/kvmring', false, loaded), 'kvmring');
      assert.equal(chooseProvider('auto', '/dev/kvmring', false, absent), 'shm');
      assert.equal(chooseProvider('auto', '/dev/kvmring', true, loaded), 'shm');
      assert.equal(chooseProvider('shm', '/dev/kvmring', false, loaded), 'shm');
      assert.equal(chooseProvider('kvmring', '/dev/kvmring', false, loaded), 'kvmring');
    });

    it('refuses kvmring without the module, and kvmring with --dir', () => {
      assert.throws(() => chooseProvider('kvmring', '/dev/kvmring', false, absent), (e: unknown) => e instanceof UsageError && /\/dev\/kvmring\/control does not exist; load the module/.test(e.message));
      assert.throws(() => chooseProvider('kvmring', '/dev/kvmring', true, loaded), (e: unknown) => e instanceof UsageError && /--dir is for --provider shm/.test(e.message));
    });

    it('parses --provider, auto by default', () => {
      assert.equal(parseProvider(undefined), 'auto');
      for (const p of ['auto', 'kvmring', 'shm'] as const) assert.equal(parseProvider(p), p);
      assert.throws(() => parseProvider('hugetlbfs'), UsageError);
    });
  });
});
