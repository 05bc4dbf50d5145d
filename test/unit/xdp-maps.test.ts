import assert from 'node:assert/strict';

import { parseCidrs, parseIp, formatCidr } from '../../src/xdp/cidr.js';
import {
  CONSTANTS,
  decodeConfig,
  decodePeer,
  decodePeerKey,
  decodeStat,
  encodeConfig,
  encodePeer,
  encodePeerKey,
  encodeSubnetKey,
  sumStats,
} from '../../src/xdp/codecs.js';
import { readPeers, readSubnets, syncPeers, syncSubnets, updatePeers, type MapLike } from '../../src/xdp/maps.js';
import { requireTier } from '../helpers/tier.js';

/** An in-memory hash map with the BpfMapFd operations the sync functions use. */
class FakeMap implements MapLike {
  readonly data = new Map<string, Buffer>();
  writes = 0;

  *keys(): Generator<Buffer> {
    for (const k of [...this.data.keys()]) yield Buffer.from(k, 'hex');
  }

  *entries(): Generator<[Buffer, Buffer]> {
    for (const [k, v] of [...this.data]) yield [Buffer.from(k, 'hex'), Buffer.from(v)];
  }

  lookup(key: Uint8Array): Buffer | undefined {
    return this.data.get(Buffer.from(key).toString('hex'));
  }

  update(key: Uint8Array, value: Uint8Array): void {
    this.writes++;
    this.data.set(Buffer.from(key).toString('hex'), Buffer.from(value));
  }

  delete(key: Uint8Array): boolean {
    this.writes++;
    return this.data.delete(Buffer.from(key).toString('hex'));
  }
}

const PEER_A = { slot: 1, ringMac: '02:00:00:00:00:01', addresses: ['198.51.100.1', '2001:db8:2::1'], ordinaryAddresses: ['192.0.2.1'] };
const PEER_B = { slot: 2, ringMac: '02:00:00:00:00:02', addresses: ['198.51.100.2'] };

describe('map codecs and sync', () => {
  before(function () {
    requireTier(this, 'unit');
  });

  it('encodes a peer key as family and zero-padded address', () => {
    const k = encodePeerKey(parseIp('198.51.100.2')!);
    assert.equal(k.toString('hex'), '04000000' + 'c6336402' + '00'.repeat(12));
    assert.deepEqual(decodePeerKey(k), { family: 4, bytes: Uint8Array.from([198, 51, 100, 2]) });
    const k6 = encodePeerKey(parseIp('2001:db8:2::6')!);
    assert.equal(decodePeerKey(k6).family, 6);
  });

  it('round-trips a peer value, a config and the subnet keys', () => {
    const p = { ringMac: Uint8Array.from([2, 0, 0, 0, 0, 9]), flags: 3, slot: 9 };
    assert.deepEqual(decodePeer(encodePeer(p)), p);
    assert.deepEqual(decodeConfig(encodeConfig({ ringMac: Uint8Array.from([2, 0, 0, 0, 0, 0xaa]), ringIfindex: 5, nicMac: Uint8Array.from([2, 0, 0, 0, 1, 2]) })), {
      ringMac: '02:00:00:00:00:aa',
      ringIfindex: 5,
      nicMac: '02:00:00:00:01:02',
    });
    const [v4, v6] = parseCidrs(['198.51.100.0/24', '2001:db8:2::/64']);
    assert.equal(encodeSubnetKey(v4).key.toString('hex'), '18000000c6336400');
    assert.equal(encodeSubnetKey(v4).map, 'ring_subnets4');
    assert.equal(encodeSubnetKey(v6).key.length, 20);
    assert.equal(encodeSubnetKey(v6).map, 'ring_subnets6');
  });

  it('sums per-CPU stats', () => {
    const v = (p: number, b: number) => {
      const buf = Buffer.alloc(16);
      buf.writeBigUInt64LE(BigInt(p), 0);
      buf.writeBigUInt64LE(BigInt(b), 8);
      return buf;
    };
    assert.deepEqual(decodeStat(v(1, 2)), { packets: 1n, bytes: 2n });
    assert.deepEqual(sumStats([v(1, 60), v(2, 120), v(0, 0)]), { packets: 3n, bytes: 180n });
  });

  it('fills an empty peer map with every address of every peer', () => {
    const m = new FakeMap();
    assert.deepEqual(syncPeers(m, [PEER_A, PEER_B]), { added: 4, updated: 0, removed: 0, rejected: [] });
    assert.deepEqual(readPeers(m), [
      { address: '192.0.2.1', ringMac: '02:00:00:00:00:01', slot: 1, ring: false, ordinary: true },
      { address: '198.51.100.1', ringMac: '02:00:00:00:00:01', slot: 1, ring: true, ordinary: false },
      { address: '198.51.100.2', ringMac: '02:00:00:00:00:02', slot: 2, ring: true, ordinary: false },
      { address: '2001:db8:2::1', ringMac: '02:00:00:00:00:01', slot: 1, ring: true, ordinary: false },
    ]);
  });

  it('writes nothing when the map already matches', () => {
    const m = new FakeMap();
    syncPeers(m, [PEER_A, PEER_B]);
    m.writes = 0;
    assert.deepEqual(syncPeers(m, [PEER_B, PEER_A]), { added: 0, updated: 0, removed: 0, rejected: [] });
    assert.equal(m.writes, 0);
  });

  it('removes the addresses of a peer that left and updates a changed MAC', () => {
    const m = new FakeMap();
    syncPeers(m, [PEER_A, PEER_B]);
    const r = syncPeers(m, [{ ...PEER_B, ringMac: '02:00:00:00:00:22' }]);
    assert.deepEqual(r, { added: 0, updated: 1, removed: 3, rejected: [] });
    assert.deepEqual(readPeers(m).map((p) => [p.address, p.ringMac]), [['198.51.100.2', '02:00:00:00:00:22']]);
  });

  it('merges the flags of an address a peer lists as both ring and ordinary', () => {
    const m = new FakeMap();
    syncPeers(m, [{ slot: 4, ringMac: '02:00:00:00:00:04', addresses: ['192.0.2.4'], ordinaryAddresses: ['192.0.2.4'] }]);
    const [p] = readPeers(m);
    assert.equal(p.ring && p.ordinary, true);
    const [[, value]] = [...m.entries()];
    assert.equal(decodePeer(value).flags, CONSTANTS.RING_PEER_F_RING | CONSTANTS.RING_PEER_F_ORDINARY);
  });

  it('leaves out and reports bad MACs and bad addresses', () => {
    const m = new FakeMap();
    const r = syncPeers(m, [
      { slot: 1, ringMac: '02:00:00:00:00:01', addresses: ['198.51.100.1', 'not-an-ip'] },
      { slot: 3, ringMac: 'zz', addresses: ['198.51.100.3'] },
    ]);
    assert.equal(r.added, 1);
    assert.deepEqual(r.rejected, ['peer 1: bad address "not-an-ip"', 'peer 3: bad ring MAC "zz"']);
    assert.deepEqual(readPeers(m).map((p) => [p.address, p.slot]), [['198.51.100.1', 1]]);
  });

  it('gives an address two peers claim to neither, whichever claims it first', () => {
    const m = new FakeMap();
    const r = syncPeers(m, [
      { slot: 7, ringMac: '02:00:00:00:00:07', addresses: ['198.51.100.7'], ordinaryAddresses: ['192.0.2.254'] },
      { slot: 1, ringMac: '02:00:00:00:00:01', addresses: ['198.51.100.1'], ordinaryAddresses: ['192.0.2.254'] },
    ]);
    assert.deepEqual(r.rejected, ['192.0.2.254: claimed by peers 1, 7; left to none of them']);
    assert.deepEqual(readPeers(m).map((p) => [p.address, p.slot]), [
      ['198.51.100.1', 1],
      ['198.51.100.7', 7],
    ]);
  });

  it('removes an address when a second peer claims it, and restores it when the claim goes', () => {
    const m = new FakeMap();
    const a = { slot: 1, ringMac: '02:00:00:00:00:01', addresses: ['198.51.100.1'] };
    syncPeers(m, [a]);
    const r = syncPeers(m, [a, { slot: 5, ringMac: '02:00:00:00:00:05', addresses: ['198.51.100.1'] }]);
    assert.deepEqual([r.removed, r.added], [1, 0]);
    assert.deepEqual(readPeers(m), []);
    assert.equal(syncPeers(m, [a]).added, 1);
    assert.deepEqual(readPeers(m).map((p) => [p.address, p.slot]), [['198.51.100.1', 1]]);
  });

  it('updates only the entries that differ from what it wrote before, without reading the map', () => {
    const m = new FakeMap();
    syncPeers(m, [PEER_A, PEER_B]);
    const reads = { n: 0 };
    const blind: MapLike = {
      keys: () => { reads.n++; return m.keys(); },
      entries: () => { reads.n++; return m.entries(); },
      lookup: (k) => { reads.n++; return m.lookup(k); },
      update: (k, v) => m.update(k, v),
      delete: (k) => m.delete(k),
    };
    m.writes = 0;
    const rival = { slot: 3, ringMac: '02:00:00:00:00:03', addresses: ['198.51.100.2', '198.51.100.3'] };
    const moved = { ...PEER_A, ringMac: '02:00:00:00:00:11' };
    const r = updatePeers(blind, [PEER_A, PEER_B], [moved, PEER_B, rival]);
    assert.equal(reads.n, 0);
    // 198.51.100.2 contested: removed; PEER_A's three addresses: a new MAC; 198.51.100.3: new.
    assert.deepEqual([r.added, r.updated, r.removed, r.rejected], [1, 3, 1, ['198.51.100.2: claimed by peers 2, 3; left to none of them']]);
    assert.equal(m.writes, 5);
    const fresh = new FakeMap();
    syncPeers(fresh, [moved, PEER_B, rival]);
    assert.deepEqual(m.data, fresh.data, 'what a full sync would make');
    assert.deepEqual(syncPeers(m, [moved, PEER_B, rival]), { added: 0, updated: 0, removed: 0, rejected: r.rejected });
  });

  it('keeps the map within its capacity', () => {
    const m = new FakeMap();
    const many = Array.from({ length: CONSTANTS.RING_PEERS_MAX + 2 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
    const r = syncPeers(m, [{ slot: 1, ringMac: '02:00:00:00:00:01', addresses: many }]);
    assert.equal(r.added, CONSTANTS.RING_PEERS_MAX);
    assert.equal(r.rejected.length, 2);
    assert.equal(m.data.size, CONSTANTS.RING_PEERS_MAX);
  });

  it('syncs the subnet tries to exactly the subnets given', () => {
    const v4 = new FakeMap();
    const v6 = new FakeMap();
    syncSubnets(v4, v6, parseCidrs(['198.51.100.0/24', '10.0.0.0/8', '2001:db8:2::/64']));
    assert.deepEqual(readSubnets(v4, v6).map(formatCidr), ['10.0.0.0/8', '198.51.100.0/24', '2001:db8:2::/64']);
    syncSubnets(v4, v6, parseCidrs(['198.51.100.0/24']));
    assert.deepEqual(readSubnets(v4, v6).map(formatCidr), ['198.51.100.0/24']);
    assert.equal(v6.data.size, 0);
  });
});
