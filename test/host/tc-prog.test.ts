import assert from 'node:assert/strict';

import koffi from 'koffi';

import { __sk_buff, BpfMapFd, BpfObject, BpfProgram, CONSTANTS as K } from '../../src/libbpf/index.js';
import { parseMac } from '../../src/xdp/cidr.js';
import { MAPS, OBJECTS, TC_STATS, type TcStatName } from '../../src/xdp/codecs.js';
import { readStats, syncPeers } from '../../src/xdp/maps.js';
import { bpfDir, openTcObject, openXdpObject } from '../../src/xdp/programs.js';
import { requireTier } from '../helpers/tier.js';
import { arp, eth, ETH_P_8021Q, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, ipv4, ipv6 } from './frames.js';

const RING_MAC = '02:00:00:00:00:aa';
const PEER_MAC = '02:00:00:00:00:02';
const RING_IFINDEX = 1; // bpf_redirect only records the target in a test run

describe('tc_transparent under BPF_PROG_TEST_RUN', () => {
  let xdp: BpfObject;
  let tc: BpfObject;
  let prog: BpfProgram;
  let stats: BpfMapFd;

  before(function () {
    requireTier(this, 'host');
    const cfg = { ringMac: parseMac(RING_MAC), ringIfindex: RING_IFINDEX, nicMac: parseMac('02:00:00:00:01:02') };
    xdp = openXdpObject(bpfDir(), cfg);
    xdp.load();
    tc = openTcObject(bpfDir(), cfg, xdp.map(MAPS.peers).fd);
    tc.load();
    prog = tc.program(OBJECTS.tc.program);
    stats = tc.map(MAPS.tcStats).handle;
    syncPeers(xdp.map(MAPS.peers).handle, [
      { slot: 2, ringMac: PEER_MAC, addresses: ['198.51.100.2', '2001:db8:2::2'], ordinaryAddresses: ['192.0.2.2', '2001:db8:1::2'] },
    ]);
  });

  after(() => {
    tc?.close();
    xdp?.close();
  });

  function run(p: BpfProgram, frame: Buffer, ctx?: Record<string, number>) {
    const before = readStats(stats, TC_STATS);
    let ctxIn: Buffer | undefined;
    if (ctx) {
      ctxIn = Buffer.alloc(koffi.sizeof(__sk_buff));
      for (const [k, v] of Object.entries(ctx)) ctxIn.writeUInt32LE(v, koffi.offsetof(__sk_buff, k));
    }
    const r = p.testRun({ data: frame, ctx: ctxIn });
    const after = readStats(stats, TC_STATS);
    const moved: Partial<Record<TcStatName, number>> = {};
    for (const name of TC_STATS) {
      const d = Number(after[name].packets - before[name].packets);
      if (d) moved[name] = d;
    }
    return { verdict: r.retval, out: r.dataOut, moved };
  }

  function assertLeft(frame: Buffer, reason: TcStatName, ctx?: Record<string, number>) {
    const r = run(prog, frame, ctx);
    assert.equal(r.verdict, K.TC_ACT_OK);
    assert.deepEqual(r.out, frame);
    assert.deepEqual(r.moved, { ok: 1, [reason]: 1 });
  }

  it('redirects IPv4 for a peer\'s ordinary address into ring0, re-addressed', () => {
    const f = eth({ proto: ETH_P_IP, payload: ipv4({ dst: '192.0.2.2' }) });
    const r = run(prog, f);
    assert.equal(r.verdict, K.TC_ACT_REDIRECT);
    assert.deepEqual(r.out, Buffer.concat([parseMac(PEER_MAC), parseMac(RING_MAC), f.subarray(12)]));
    assert.deepEqual(r.moved, { redirect: 1, peer: 1 });
  });

  it('redirects IPv6 for a peer\'s ordinary address', () => {
    const f = eth({ proto: ETH_P_IPV6, payload: ipv6({ dst: '2001:db8:1::2' }) });
    const r = run(prog, f);
    assert.equal(r.verdict, K.TC_ACT_REDIRECT);
    assert.deepEqual(r.out.subarray(0, 12), Buffer.concat([parseMac(PEER_MAC), parseMac(RING_MAC)]));
  });

  it('leaves IPv6 neighbour discovery for a peer\'s ordinary address on eth1', () => {
    // RS, RA, NS (the unicast probe of NUD), NA, redirect: type, code, checksum, 20 bytes.
    for (const type of [133, 134, 135, 136, 137]) {
      const icmp6 = Buffer.concat([Buffer.from([type, 0, 0, 0]), Buffer.alloc(20)]);
      const f = eth({ dst: '02:00:00:00:01:02', proto: ETH_P_IPV6, payload: ipv6({ src: '2001:db8:1::1', dst: '2001:db8:1::2', nextHeader: 58, payload: icmp6 }) });
      assertLeft(f, 'nd');
    }
  });

  it('still redirects other ICMPv6 for a peer\'s ordinary address (an echo request)', () => {
    const icmp6 = Buffer.concat([Buffer.from([128, 0, 0, 0]), Buffer.alloc(8)]);
    const r = run(prog, eth({ proto: ETH_P_IPV6, payload: ipv6({ dst: '2001:db8:1::2', nextHeader: 58, payload: icmp6 }) }));
    assert.equal(r.verdict, K.TC_ACT_REDIRECT);
    assert.deepEqual(r.moved, { redirect: 1, peer: 1 });
  });

  it('leaves traffic for a peer\'s ring address to routing', () => {
    assertLeft(eth({ proto: ETH_P_IP, payload: ipv4({ dst: '198.51.100.2' }) }), 'no_peer');
  });

  it('leaves traffic for other addresses on eth1', () => {
    assertLeft(eth({ proto: ETH_P_IP, payload: ipv4({ dst: '192.0.2.9' }) }), 'no_peer');
  });

  it('leaves forwarded traffic alone', () => {
    assertLeft(eth({ proto: ETH_P_IP, payload: ipv4({ dst: '192.0.2.2' }) }), 'forwarded', { ingress_ifindex: 1 });
  });

  it('leaves ARP alone', () => {
    assertLeft(eth({ dst: 'ff:ff:ff:ff:ff:ff', proto: ETH_P_ARP, payload: arp('192.0.2.2') }), 'not_ip');
  });

  it('leaves VLAN-tagged frames alone', () => {
    assertLeft(eth({ vlans: [[ETH_P_8021Q, 3]], proto: ETH_P_IP, payload: ipv4({ dst: '192.0.2.2' }) }), 'vlan');
  });

  // (A test run refuses an skb whose IPv4 header is cut short, so: a bad IHL.)
  it('leaves an IPv4 header with a bad IHL alone as malformed', () => {
    assertLeft(eth({ proto: ETH_P_IP, payload: ipv4({ dst: '192.0.2.2', ihl: 3 }) }), 'malformed');
  });

  it('leaves peers\' traffic on eth1 when loaded without a ring ifindex', () => {
    const bare = openTcObject(bpfDir(), { ringMac: parseMac(RING_MAC), ringIfindex: 0, nicMac: Buffer.alloc(6) }, xdp.map(MAPS.peers).fd);
    try {
      bare.load();
      const s = bare.map(MAPS.tcStats).handle;
      const f = eth({ proto: ETH_P_IP, payload: ipv4({ dst: '192.0.2.2' }) });
      const r = bare.program(OBJECTS.tc.program).testRun({ data: f });
      assert.equal(r.retval, K.TC_ACT_OK);
      assert.deepEqual(r.dataOut, f);
      const st = readStats(s, TC_STATS);
      assert.equal(st.no_ring.packets, 1n);
      assert.equal(st.ok.packets, 1n);
    } finally {
      bare.close();
    }
  });
});
