import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import type protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';

import {
  FILE_DESCRIPTOR_PROTO,
  RingPeer,
  StatsService,
  StatsSnapshot,
  type StatsSnapshot as Snapshot,
} from '../../src/gen/kvmring/v1/stats.js';
import { REPO } from '../helpers/lab.js';
import { requireTier } from '../helpers/tier.js';

describe('generated protobuf code (src/gen)', function () {
  before(function () {
    requireTier(this, 'unit');
  });

  it('matches what scripts/gen-proto.mjs makes of proto/ (regenerate after editing a .proto)', async () => {
    const gen = (await import(pathToFileURL(join(REPO, 'scripts/gen-proto.mjs')).href)) as { generate(): Map<string, string> };
    const files = gen.generate();
    assert.ok(files.size > 0);
    for (const [path, content] of files) {
      let committed: string;
      try {
        committed = readFileSync(join(REPO, path), 'utf8');
      } catch {
        assert.fail(`${path} is missing: run node scripts/gen-proto.mjs`);
      }
      assert.ok(committed === content, `${path} is stale: run node scripts/gen-proto.mjs`);
    }
  });

  it('round-trips a snapshot, 64-bit counters beyond 2^53 included', () => {
    const s: Snapshot = {
      ...StatsSnapshot.empty(),
      timeUnixNano: 1_700_000_000_123_456_789n,
      hostname: 'g1',
      interfaces: [{ device: 'ring0', rxPackets: 2n ** 63n + 5n, rxBytes: 1n, rxDropped: 0n, rxErrors: 0n, txPackets: 7n, txBytes: 8n, txDropped: 0n, txErrors: 0n, error: '' }],
      ring: { device: 'ring0', driver: 'ringnet', txNoPeer: 3n, regions: [], conflicts: [], counters: null, peers: [], queues: [], error: '' },
    };
    const back = StatsSnapshot.decode(StatsSnapshot.encode(s));
    assert.equal(back.timeUnixNano, s.timeUnixNano);
    assert.equal(back.interfaces[0].rxPackets, 2n ** 63n + 5n);
    assert.equal(back.ring?.txNoPeer, 3n);
    assert.deepEqual(back.programs, []);
  });

  it('leaves an unset message field null, so an absent ring occupancy is told apart from an empty ring', () => {
    const p = RingPeer.decode(RingPeer.encode({ ...RingPeer.empty(), slot: 2, state: 'PEER_STATE_UP' }));
    assert.equal(p.occupancy, null);
    assert.equal(p.state, 'PEER_STATE_UP');
  });

  it('prints the proto3 JSON mapping: fields in order, 64-bit integers as strings, and parses it back', () => {
    const s = { ...StatsSnapshot.empty(), timeUnixNano: 2n ** 60n, hostname: 'g2' };
    const json = StatsSnapshot.toJSON(s);
    assert.deepEqual(Object.keys(json), ['timeUnixNano', 'hostname', 'version', 'interfaces', 'programs', 'ring', 'errors']);
    assert.equal(json.timeUnixNano, String(2n ** 60n));
    assert.equal(json.ring, null);
    assert.deepEqual(StatsSnapshot.fromJSON(JSON.parse(JSON.stringify(json))), s);
  });

  it('describes the service with the paths gRPC clients in other languages use', () => {
    assert.equal(StatsService.GetStats.path, '/kvmring.v1.Stats/GetStats');
    assert.equal(StatsService.WatchStats.path, '/kvmring.v1.Stats/WatchStats');
    assert.equal(StatsService.WatchStats.responseStream, true);
    assert.equal(StatsService.GetStats.responseStream, false);
  });

  it('embeds a FileDescriptorProto of the .proto for reflection', () => {
    const { FileDescriptorProto } = descriptor as unknown as { FileDescriptorProto: protobuf.Type };
    const fd = FileDescriptorProto.decode(FILE_DESCRIPTOR_PROTO) as unknown as {
      name: string;
      package: string;
      service: { name: string; method: { name: string; serverStreaming?: boolean }[] }[];
      messageType: { name: string }[];
    };
    assert.equal(fd.name, 'kvmring/v1/stats.proto');
    assert.equal(fd.package, 'kvmring.v1');
    assert.deepEqual(fd.service.map((s) => s.name), ['Stats']);
    assert.deepEqual(fd.service[0].method.map((m) => [m.name, !!m.serverStreaming]), [['GetStats', false], ['WatchStats', true]]);
    assert.ok(fd.messageType.some((m) => m.name === 'StatsSnapshot'));
  });

  it('reserves the numbers and names of ABI v1\'s fields, so that no new field takes them', () => {
    type Reserved = { name: string; reservedRange?: { start: number; end: number }[]; reservedName?: string[] };
    const { FileDescriptorProto } = descriptor as unknown as { FileDescriptorProto: protobuf.Type };
    const fd = FileDescriptorProto.decode(FILE_DESCRIPTOR_PROTO) as unknown as { messageType: Reserved[]; enumType: Reserved[] };
    const reserved = (list: Reserved[], name: string) => {
      const t = list.find((x) => x.name === name);
      assert.ok(t, name);
      // Message ranges end after their last number, enum ranges at it.
      const numbers = (t.reservedRange ?? []).flatMap((r) => Array.from({ length: Math.max(1, r.end - r.start) }, (_, i) => r.start + i));
      return [numbers, t.reservedName ?? []];
    };
    assert.deepEqual(reserved(fd.messageType, 'RingRegion'), [[8, 9], ['counters', 'peers']]);
    assert.deepEqual(reserved(fd.messageType, 'RingCounters'), [[13], ['bad_peer_entries']]);
    assert.deepEqual(reserved(fd.enumType, 'PeerState'), [[5], ['PEER_STATE_REFUSED']]);
  });
});
