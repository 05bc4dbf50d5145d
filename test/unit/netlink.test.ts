// The netlink codec (src/netlink/codec.ts), the ringnet family's decoding
// (src/netlink/ringnet.ts), and both against the family's spec
// (include/kvmring/ringnet.yaml) and C header (include/kvmring/ringnet_genl.h).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import yaml from 'js-yaml';

import {
  GENL_ID_CTRL,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLM_F_ACK_TLVS,
  NLM_F_DUMP,
  NLM_F_MULTI,
  NLM_F_REQUEST,
  NetlinkDecodeError,
  attr,
  attrString,
  attrU32,
  genlMessage,
  getFamilyRequest,
  parseAttrs,
  parseDone,
  parseError,
  parseFamily,
  parseGenl,
  parseMessages,
} from '../../src/netlink/codec.js';
import {
  A_PEER,
  A_REGION,
  CMD,
  EVENT_NAMES,
  PEER_STATE_NAMES,
  REGION_MODE_NAMES,
  RINGNET_FAMILY_NAME,
  RINGNET_MCGRP_MONITOR,
  decodeEvent,
  decodePeerReply,
  decodeRegion,
  peerTableOf,
} from '../../src/netlink/ringnet.js';
import { REPO as ROOT } from '../helpers/lab.js';


/** A kernel-style message: nlmsghdr with type/flags/seq, then payload. */
function nlmsg(type: number, flags: number, seq: number, payload: Buffer): Buffer {
  const b = Buffer.alloc(16 + payload.length);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(flags, 6);
  b.writeUInt32LE(seq, 8);
  payload.copy(b, 16);
  return b;
}

function u64(type: number, v: bigint): Buffer {
  const p = Buffer.alloc(8);
  p.writeBigUInt64LE(v);
  return attr(type, p);
}

const genl = (cmd: number, attrs: Buffer[]) => Buffer.concat([Buffer.from([cmd, 1, 0, 0]), ...attrs]);

function peerAttrs(o: {
  slot: number;
  state: number;
  region?: number;
  mac?: number[];
  v4?: number[][];
  v6?: number[][];
  age?: number;
  name?: string;
  claimed?: number[];
  refused?: number;
}): Buffer[] {
  return [
    attrU32(A_PEER.ifindex, 3),
    attrU32(A_PEER.region, o.region ?? o.slot),
    attrU32(A_PEER.slot, o.slot),
    attrU32(A_PEER.state, o.state),
    attrU32(A_PEER.gen, 7),
    attr(A_PEER.mac, Buffer.from(o.mac ?? [0x02, 0, 0, 0, 0, o.slot])),
    ...(o.age === undefined ? [] : [attrU32(A_PEER.heartbeatAgeMs, o.age)]),
    ...(o.v4 ?? []).map((a) => attr(A_PEER.ipv4, Buffer.from(a))),
    ...(o.v6 ?? []).map((a) => attr(A_PEER.ipv6, Buffer.from(a))),
    u64(A_PEER.txPackets, 5n),
    ...(o.name === undefined ? [] : [attrString(A_PEER.name, o.name)]),
    ...(o.claimed === undefined ? [] : [attr(A_PEER.claimedMac, Buffer.from(o.claimed))]),
    ...(o.refused === undefined ? [] : [attrU32(A_PEER.addrsRefused, o.refused)]),
  ];
}

describe('netlink codec', () => {
  it('pads attributes to 4 bytes and keeps the unpadded length in the header', () => {
    const a = attr(7, Buffer.from([1, 2, 3, 4, 5, 6]));
    assert.equal(a.length, 12);
    assert.equal(a.readUInt16LE(0), 10);
    assert.equal(a.readUInt16LE(2), 7);
    assert.deepEqual([...a.subarray(10)], [0, 0]);
    assert.deepEqual([...attrString(2, 'ringnet')], [12, 0, 2, 0, ...Buffer.from('ringnet'), 0]);
  });

  it('builds a genetlink dump request that parses back', () => {
    const m = genlMessage({ family: 0x1a, cmd: CMD.peerGet, version: 1, flags: NLM_F_REQUEST | NLM_F_DUMP, seq: 42, attrs: [attrU32(A_PEER.ifindex, 3)] });
    assert.equal(m.length, 16 + 4 + 8);
    const [p] = parseMessages(m);
    assert.deepEqual({ type: p.type, flags: p.flags, seq: p.seq }, { type: 0x1a, flags: NLM_F_REQUEST | NLM_F_DUMP, seq: 42 });
    const g = parseGenl(p.payload);
    assert.equal(g.cmd, CMD.peerGet);
    assert.deepEqual(g.attrs.map((a) => [a.type, a.data.readUInt32LE(0)]), [[A_PEER.ifindex, 3]]);
  });

  it('splits a datagram into its messages, aligned to 4 bytes', () => {
    const a = nlmsg(0x1a, NLM_F_MULTI, 1, Buffer.from([9, 1, 0, 0, 5, 0, 1, 0, 0xaa, 0, 0, 0]));
    const done = nlmsg(NLMSG_DONE, NLM_F_MULTI, 1, Buffer.from([0, 0, 0, 0]));
    const ms = parseMessages(Buffer.concat([a, done]));
    assert.deepEqual(ms.map((m) => m.type), [0x1a, NLMSG_DONE]);
    assert.equal(parseDone(ms[1]), 0);
    const nested = parseAttrs(Buffer.from([8, 0, 0x01, 0x80, 1, 2, 3, 4]));
    assert.deepEqual(nested.map((x) => [x.type, x.nested]), [[1, true]]);
  });

  it('throws NetlinkDecodeError on lengths that do not fit, never reading past the buffer', () => {
    const bad = nlmsg(0x1a, 0, 1, Buffer.alloc(4));
    bad.writeUInt32LE(200, 0);
    assert.throws(() => parseMessages(bad), NetlinkDecodeError);
    assert.throws(() => parseAttrs(Buffer.from([2, 0, 1, 0])), NetlinkDecodeError);
    assert.throws(() => parseAttrs(Buffer.from([40, 0, 1, 0, 0, 0, 0, 0])), NetlinkDecodeError);
    assert.throws(() => parseGenl(Buffer.from([1, 1])), NetlinkDecodeError);
  });

  it('reads an error, its extended ack message, and a dump that ended in error', () => {
    const req = getFamilyRequest('ringnet', 5);
    const payload = Buffer.alloc(4);
    payload.writeInt32LE(-19);
    const ext = attrString(1, 'ringnet: not a ringnet device');
    const err = nlmsg(NLMSG_ERROR, NLM_F_ACK_TLVS, 5, Buffer.concat([payload, req, ext]));
    assert.deepEqual(parseError(parseMessages(err)[0]), { errno: 19, message: 'ringnet: not a ringnet device' });
    const ack = nlmsg(NLMSG_ERROR, 0, 5, Buffer.concat([Buffer.alloc(4), req.subarray(0, 16)]));
    assert.deepEqual(parseError(parseMessages(ack)[0]), { errno: 0, message: undefined });
    const done = Buffer.alloc(4);
    done.writeInt32LE(-22);
    assert.equal(parseDone(parseMessages(nlmsg(NLMSG_DONE, NLM_F_MULTI, 5, done))[0]), 22);
  });

  it('reads the controller\'s answer: family id, version and multicast groups', () => {
    const grp = attr(1, Buffer.concat([attrString(1, 'monitor'), attrU32(2, 9)]));
    const idp = Buffer.alloc(2);
    idp.writeUInt16LE(0x1b);
    const g = parseGenl(genl(1, [attrString(2, 'ringnet'), attr(1, idp), attrU32(3, 1), attr(7 | 0x8000, grp)]));
    const f = parseFamily(g);
    assert.deepEqual({ ...f, groups: [...f.groups] }, { name: 'ringnet', id: 0x1b, version: 1, groups: [['monitor', 9]] });
    assert.equal(parseMessages(getFamilyRequest('ringnet', 1))[0].type, GENL_ID_CTRL);
  });
});

describe('ringnet genetlink family', () => {
  it('decodes a peer-get reply into the table ringctl peers shows: the roster\'s name and MAC, the region of its entry', () => {
    const g = parseGenl(genl(CMD.peerGet, peerAttrs({ slot: 1, state: 2, region: 2, age: 76, name: 'g2', v4: [[198, 51, 100, 2], [192, 0, 2, 2]], v6: [[0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]] })));
    assert.deepEqual(decodePeerReply(g), {
      region: 2,
      slot: 1,
      state: 'up',
      generation: 7,
      mac: '02:00:00:00:00:01',
      name: 'g2',
      ageMs: 76,
      ipv4: ['198.51.100.2', '192.0.2.2'],
      ipv6: ['2001:db8:2::2'],
      addrsRefused: 0,
    });
  });

  it('decodes a peer\'s conflicts: the MAC it claims, whatever it is, and how many addresses were refused', () => {
    const g = parseGenl(genl(CMD.peerGet, peerAttrs({ slot: 3, state: 3, age: 9, name: 'g4', claimed: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], refused: 2 })));
    const p = decodePeerReply(g);
    assert.ok(typeof p !== 'string', p as string);
    assert.deepEqual([p.state, p.mac, p.claimedMac, p.addrsRefused], ['dead', '02:00:00:00:00:03', 'ff:ff:ff:ff:ff:ff', 2]);
    const none = decodePeerReply(parseGenl(genl(CMD.peerGet, peerAttrs({ slot: 3, state: 2 }))));
    assert.ok(typeof none !== 'string');
    assert.deepEqual([none.name, 'claimedMac' in none, none.addrsRefused], ['', false, 0]);
  });

  it('skips slots that make no sense and names them, ABI v1\'s refused ones too', () => {
    const replies = [
      genl(CMD.peerGet, peerAttrs({ slot: 0, state: 1 })),
      genl(CMD.peerGet, peerAttrs({ slot: 2, state: 2, mac: [0x01, 0, 0x5e, 0, 0, 1] })), // multicast, up
      genl(CMD.peerGet, peerAttrs({ slot: 3, state: 9 })),
      genl(CMD.peerGet, peerAttrs({ slot: 4, state: 2, v4: [[1, 2, 3]] })),
      genl(CMD.peerGet, peerAttrs({ slot: 5, state: 4 })),
      genl(CMD.peerGet, peerAttrs({ slot: 6, state: 2, name: 'bad\nname' })),
      genl(CMD.peerGet, peerAttrs({ slot: 7, state: 2, claimed: [1, 2, 3] })),
      genl(CMD.peerGet, peerAttrs({ slot: 8, state: 0, mac: [0, 0, 0, 0, 0, 0] })), // free: the MAC is not used
      genl(CMD.peerGet, peerAttrs({ slot: 0, state: 1, region: 5 })),
    ].map(parseGenl);
    const t = peerTableOf(replies);
    assert.deepEqual(t.peers.map((p) => [p.slot, p.state]), [[0, 'self'], [8, 'free']]);
    assert.deepEqual(t.problems, [
      'slot 2: up peer with a MAC that is not unicast (01:00:5e:00:00:01); skipped',
      'slot 3: bad state 9; skipped',
      'slot 4: an IPv4 address of 3 bytes; skipped',
      "slot 5: state refused is ABI v1's (load the ringnet.ko of this ringctl); skipped",
      'slot 6: bad name "bad\\nname"; skipped',
      'slot 7: a claimed MAC of 3 bytes; skipped',
      'slot 0 listed twice; skipped',
    ]);
  });

  it('decodes a region-get reply with its owner and readers, and an event', () => {
    const size = Buffer.alloc(8);
    size.writeBigUInt64LE(8n << 20n);
    const region = [attrU32(A_REGION.ifindex, 3), attrU32(A_REGION.index, 1), attrString(A_REGION.pci, '0000:00:12.0'), attr(A_REGION.size, size), attrU32(A_REGION.maxPeers, 3), attrU32(A_REGION.ringSize, 2 << 20), attrU32(A_REGION.self, 2), attrU32(A_REGION.mode, 1)];
    const r = decodeRegion(parseGenl(genl(CMD.regionGet, [...region, attrU32(A_REGION.owner, 1), attrU32(A_REGION.readers, 0b101)])));
    assert.deepEqual(r, { region: 1, pci: '0000:00:12.0', sizeBytes: 8n << 20n, maxPeers: 3, ringSizeBytes: 2 << 20, selfSlot: 2, mode: 'doorbell', owner: 1, readers: [0, 2] });
    // ABI v1's rows have no owner or readers.
    assert.equal(decodeRegion(parseGenl(genl(CMD.regionGet, region))), 'region 1: missing attributes (owner and readers are ABI v2\'s: load the ringnet.ko of this ringctl)');
    // ringnet.ko's event: the slot's whole dump row, and event-ns.
    const e = decodeEvent(parseGenl(genl(CMD.peerJoinNtf, [...peerAttrs({ slot: 1, state: 2, age: 3, name: 'g2', v4: [[198, 51, 100, 2]] }), u64(A_PEER.eventNs, 123456789n)])));
    const row = { region: 1, slot: 1, state: 'up', generation: 7, mac: '02:00:00:00:00:01', name: 'g2', ageMs: 3, ipv4: ['198.51.100.2'], ipv6: [], addrsRefused: 0 };
    assert.deepEqual(e, { kind: 'peer-join', ifindex: 3, region: 1, slot: 1, state: 'up', generation: 7, mac: '02:00:00:00:00:01', eventNs: 123456789n, row, whole: true });
    // Without counters it is no whole row: the follower cannot patch a table with it.
    const identity = peerAttrs({ slot: 1, state: 3 }).filter((a) => a.readUInt16LE(2) !== A_PEER.txPackets);
    assert.equal(decodeEvent(parseGenl(genl(CMD.peerDeathNtf, identity)))?.whole, false);
    // A row the dump decoder would skip is a problem here too.
    const bad = decodeEvent(parseGenl(genl(CMD.peerJoinNtf, peerAttrs({ slot: 2, state: 2, mac: [1, 0, 0x5e, 0, 0, 1] }))));
    assert.equal(bad?.row, 'slot 2: up peer with a MAC that is not unicast (01:00:5e:00:00:01)');
    assert.equal(decodeEvent(parseGenl(genl(CMD.peerGet, []))), undefined);
  });

  describe('matches its spec and C header', () => {
    interface Spec {
      name: string;
      definitions: { name: string; entries: { name: string }[] }[];
      'attribute-sets': { name: string; attributes: { name: string; value?: number }[] }[];
      operations: { list: { name: string; value?: number; mcgrp?: string }[] };
      'mcast-groups': { list: { name: string }[] };
    }
    const spec = yaml.load(readFileSync(join(ROOT, 'include/kvmring/ringnet.yaml'), 'utf8')) as Spec;
    const header = readFileSync(join(ROOT, 'include/kvmring/ringnet_genl.h'), 'utf8');
    const camel = (s: string) => s.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
    const C = (s: string) => s.replace(/-/g, '_').toUpperCase();

    /** The values of a C enum whose first member is `first`, by name. */
    function cEnum(first: string): Map<string, number> {
      const body = new RegExp(`enum[^{]*\\{([^}]*\\b${first}\\b[^}]*)\\}`).exec(header)?.[1];
      assert.ok(body, `no enum with ${first} in ringnet_genl.h`);
      const out = new Map<string, number>();
      let next = 0;
      for (const m of body.matchAll(/^\s*(\w+)\s*(?:=\s*(\d+))?,/gm)) {
        if (m[1].startsWith('__')) break;
        const v = m[2] !== undefined ? Number(m[2]) : next;
        out.set(m[1], v);
        next = v + 1;
      }
      return out;
    }

    it('names the family and its group', () => {
      assert.equal(spec.name, RINGNET_FAMILY_NAME);
      assert.match(header, new RegExp(`#define RINGNET_FAMILY_NAME\\s+"${spec.name}"`));
      assert.deepEqual(spec['mcast-groups'].list.map((g) => g.name), [RINGNET_MCGRP_MONITOR]);
      assert.match(header, new RegExp(`#define RINGNET_MCGRP_MONITOR\\s+"${RINGNET_MCGRP_MONITOR}"`));
    });

    it('numbers the enums, attributes and operations alike', () => {
      const defs = new Map(spec.definitions.map((d) => [d.name, d.entries.map((e) => e.name)]));
      assert.deepEqual(defs.get('peer-state'), [...PEER_STATE_NAMES]);
      assert.deepEqual(defs.get('region-mode'), [...REGION_MODE_NAMES]);
      assert.deepEqual([...cEnum('RINGNET_PEER_STATE_FREE').entries()], PEER_STATE_NAMES.map((n, i) => [`RINGNET_PEER_STATE_${C(n)}`, i]));
      assert.deepEqual([...cEnum('RINGNET_REGION_MODE_PLAIN').entries()], REGION_MODE_NAMES.map((n, i) => [`RINGNET_REGION_MODE_${C(n)}`, i]));

      for (const [set, ts, prefix] of [['region', A_REGION, 'RINGNET_A_REGION_'], ['peer', A_PEER, 'RINGNET_A_PEER_']] as const) {
        const attrs = spec['attribute-sets'].find((s) => s.name === set)!.attributes;
        const want = attrs.map((a, i) => [a.name, a.value ?? i + 1] as const);
        assert.deepEqual(Object.entries(ts), want.map(([n, v]) => [camel(n), v]), `attribute set ${set} in ringnet.ts`);
        assert.deepEqual([...cEnum(`${prefix}PAD`).entries()], want.map(([n, v]) => [`${prefix}${C(n)}`, v]), `attribute set ${set} in ringnet_genl.h`);
      }

      const ops = spec.operations.list;
      let v = 0;
      const want = ops.map((o) => [o.name, (v = o.value ?? v + 1)] as const);
      assert.deepEqual(Object.entries(CMD), want.map(([n, x]) => [camel(n), x]));
      assert.deepEqual([...cEnum('RINGNET_CMD_REGION_GET').entries()], want.map(([n, x]) => [`RINGNET_CMD_${C(n)}`, x]));
      for (const o of ops.filter((x) => x.mcgrp)) {
        assert.equal(o.mcgrp, RINGNET_MCGRP_MONITOR);
        assert.equal(EVENT_NAMES[CMD[camel(o.name) as keyof typeof CMD]], o.name.replace(/-ntf$/, ''));
      }
    });
  });
});
