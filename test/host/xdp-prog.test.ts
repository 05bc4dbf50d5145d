import assert from 'node:assert/strict';

import { BpfMapFd, BpfObject, BpfProgram, CONSTANTS as K } from '../../src/libbpf/index.js';
import { parseCidrs, parseMac } from '../../src/xdp/cidr.js';
import { MAPS, OBJECTS, XDP_STATS, type XdpStatName } from '../../src/xdp/codecs.js';
import { readStats, setRingDevice, syncPeers, syncSubnets } from '../../src/xdp/maps.js';
import { bpfDir, openXdpObject } from '../../src/xdp/programs.js';
import { requireTier } from '../helpers/tier.js';
import { arp, eth, ETH_P_8021AD, ETH_P_8021Q, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, ETH_P_LLDP, ipv4, ipv6, udp } from './frames.js';
import { ip, Netns } from './netns.js';

const RING_MAC = '02:00:00:00:00:aa';
const NIC_MAC = '02:00:00:00:01:02'; // eth()'s default destination
const PEER_MAC = '02:00:00:00:00:02';
const PEER6_MAC = '02:00:00:00:00:06';
const LO_IFINDEX = 1; // a device that surely exists; test runs never transmit

describe('xdp_ring under BPF_PROG_TEST_RUN', () => {
  let obj: BpfObject;
  let prog: BpfProgram;
  let stats: BpfMapFd;
  let dev: BpfMapFd;
  let ns: Netns;

  /** Test runs' frames arrive on the namespace's lo: its forwarding is the NIC's. */
  const forwarding = (on: boolean) =>
    ip('netns', 'exec', ns.name, 'sysctl', '-qw', `net.ipv4.conf.lo.forwarding=${+on}`, `net.ipv6.conf.lo.forwarding=${+on}`);

  before(function () {
    requireTier(this, 'host');
    // A namespace of our own, so that whether "the NIC" forwards is ours to say.
    ns = new Netns('rxdpprog');
    ns.ip('link', 'set', 'lo', 'up');
    forwarding(true);
    ns.enter();
    obj = openXdpObject(bpfDir(), { ringMac: parseMac(RING_MAC), ringIfindex: LO_IFINDEX, nicMac: parseMac(NIC_MAC) });
    obj.load();
    prog = obj.program(OBJECTS.xdp.program);
    stats = obj.map(MAPS.xdpStats).handle;
    dev = obj.map(MAPS.dev).handle;
    setRingDevice(dev, LO_IFINDEX);
    syncSubnets(obj.map(MAPS.subnets4).handle, obj.map(MAPS.subnets6).handle, parseCidrs(['198.51.100.0/24', '2001:db8:2::/64']));
    const r = syncPeers(obj.map(MAPS.peers).handle, [
      { slot: 2, ringMac: PEER_MAC, addresses: ['198.51.100.2'], ordinaryAddresses: ['192.0.2.2'] },
      { slot: 6, ringMac: PEER6_MAC, addresses: ['2001:db8:2::6'] },
    ]);
    assert.deepEqual(r, { added: 3, updated: 0, removed: 0, rejected: [] });
  });

  after(() => {
    obj?.close();
    ns?.delete();
  });

  /** Runs one frame; returns the verdict, the frame out and which counters moved. */
  function run(frame: Buffer) {
    const before = readStats(stats, XDP_STATS);
    const r = prog.testRun({ data: frame });
    const after = readStats(stats, XDP_STATS);
    const moved: Partial<Record<XdpStatName, [number, number]>> = {};
    for (const name of XDP_STATS) {
      const dp = after[name].packets - before[name].packets;
      const db = after[name].bytes - before[name].bytes;
      if (dp || db) moved[name] = [Number(dp), Number(db)];
    }
    return { verdict: r.retval, out: r.dataOut, moved };
  }

  /** A frame passed untouched, counted as PASS and `reason`. */
  function assertPassed(frame: Buffer, reason: XdpStatName) {
    const r = run(frame);
    assert.equal(r.verdict, K.XDP_PASS);
    assert.deepEqual(r.out, frame, 'the frame is untouched');
    assert.deepEqual(r.moved, { pass: [1, frame.length], [reason]: [1, frame.length] });
  }

  /** A frame redirected with the peer's ring MAC and ring0's MAC. */
  function assertRedirected(frame: Buffer, peerMac: string, proto: number) {
    const r = run(frame);
    assert.equal(r.verdict, K.XDP_REDIRECT);
    const expected = Buffer.concat([parseMac(peerMac), parseMac(RING_MAC), Buffer.from([proto >> 8, proto & 0xff]), frame.subarray(14)]);
    assert.deepEqual(r.out, expected);
    assert.deepEqual(r.moved, { redirect: [1, frame.length], peer: [1, frame.length] });
  }

  it('redirects IPv4 for a peer\'s ring address with the peer\'s ring MAC and ring0\'s MAC', () => {
    assertRedirected(eth({ proto: ETH_P_IP, payload: ipv4({ dst: '198.51.100.2' }) }), PEER_MAC, ETH_P_IP);
  });

  it('redirects IPv4 for a peer\'s ordinary address too', () => {
    assertRedirected(eth({ proto: ETH_P_IP, payload: ipv4({ dst: '192.0.2.2' }) }), PEER_MAC, ETH_P_IP);
  });

  it('redirects IPv6 for a peer\'s address', () => {
    assertRedirected(eth({ proto: ETH_P_IPV6, payload: ipv6({ dst: '2001:db8:2::6' }) }), PEER6_MAC, ETH_P_IPV6);
  });

  it('passes a peer\'s 802.1Q-tagged frame untouched: ring0 has no VLANs to carry it in', () => {
    assertPassed(eth({ vlans: [[ETH_P_8021Q, 100]], proto: ETH_P_IP, payload: ipv4({ dst: '198.51.100.2' }) }), 'vlan');
    assertPassed(eth({ vlans: [[ETH_P_8021Q, 100]], proto: ETH_P_IP, payload: ipv4({ dst: '192.0.2.2' }) }), 'vlan');
  });

  it('passes a peer\'s QinQ-tagged (802.1ad outer, 802.1Q inner) IPv6 frame untouched', () => {
    const f = eth({ vlans: [[ETH_P_8021AD, 10], [ETH_P_8021Q, 20]], proto: ETH_P_IPV6, payload: ipv6({ dst: '2001:db8:2::6' }) });
    assertPassed(f, 'vlan');
  });

  it('passes a frame with more VLAN tags than it parses', () => {
    const f = eth({ vlans: [[ETH_P_8021AD, 1], [ETH_P_8021Q, 2], [ETH_P_8021Q, 3]], proto: ETH_P_IP, payload: ipv4({ dst: '198.51.100.2' }) });
    assertPassed(f, 'vlan_depth');
  });

  it('passes a peer\'s frame addressed to another MAC (a promiscuous NIC) untouched', () => {
    assertPassed(eth({ dst: '02:00:00:00:01:03', proto: ETH_P_IP, payload: ipv4({ dst: '198.51.100.2' }) }), 'not_to_us');
    assertPassed(eth({ dst: 'ff:ff:ff:ff:ff:ff', proto: ETH_P_IPV6, payload: ipv6({ dst: '2001:db8:2::6' }) }), 'not_to_us');
    // One bit off, in the last byte and in the first.
    assertPassed(eth({ dst: '02:00:00:00:01:03', proto: ETH_P_IP, payload: ipv4({ dst: '192.0.2.2' }) }), 'not_to_us');
    assertPassed(eth({ dst: '03:00:00:00:01:02', proto: ETH_P_IP, payload: ipv4({ dst: '192.0.2.2' }) }), 'not_to_us');
  });

  it('passes ARP untouched, even for a peer\'s address', () => {
    assertPassed(eth({ dst: 'ff:ff:ff:ff:ff:ff', proto: ETH_P_ARP, payload: arp('198.51.100.2') }), 'not_ip');
  });

  it('passes other non-IP frames untouched', () => {
    assertPassed(eth({ dst: '01:80:c2:00:00:0e', proto: ETH_P_LLDP, payload: Buffer.alloc(46) }), 'not_ip');
  });

  it('passes IPv4 that is neither in a subnet nor a peer\'s', () => {
    assertPassed(eth({ proto: ETH_P_IP, payload: ipv4({ dst: '192.0.2.9' }) }), 'no_match');
  });

  it('passes IPv6 that is neither in a subnet nor a peer\'s', () => {
    assertPassed(eth({ proto: ETH_P_IPV6, payload: ipv6({ dst: '2001:db8:1::9' }) }), 'no_match');
  });

  it('passes IPv4 in an inter-domain subnet that no peer has, for the kernel to route', () => {
    assertPassed(eth({ proto: ETH_P_IP, payload: ipv4({ dst: '198.51.100.9' }) }), 'no_peer');
  });

  it('passes IPv6 in an inter-domain subnet that no peer has', () => {
    assertPassed(eth({ proto: ETH_P_IPV6, payload: ipv6({ dst: '2001:db8:2::9' }) }), 'no_peer');
  });

  it('passes a tagged frame for a subnet without a peer with its tag intact', () => {
    assertPassed(eth({ vlans: [[ETH_P_8021Q, 7]], proto: ETH_P_IP, payload: ipv4({ dst: '198.51.100.9' }) }), 'vlan');
  });

  it('passes IPv4 with an IHL below 5 as malformed', () => {
    assertPassed(eth({ proto: ETH_P_IP, payload: ipv4({ dst: '198.51.100.2', ihl: 4 }) }), 'malformed');
  });

  it('passes an EtherType IPv4 frame carrying version 6 as malformed', () => {
    assertPassed(eth({ proto: ETH_P_IP, payload: ipv4({ dst: '198.51.100.2', version: 6 }) }), 'malformed');
  });

  it('passes IPv4 whose options run past the frame as malformed', () => {
    assertPassed(eth({ proto: ETH_P_IP, payload: ipv4({ dst: '198.51.100.2', ihl: 15, payload: Buffer.alloc(0) }) }), 'malformed');
  });

  it('passes an EtherType IPv6 frame carrying version 4 as malformed', () => {
    assertPassed(eth({ proto: ETH_P_IPV6, payload: ipv6({ dst: '2001:db8:2::6', version: 4 }) }), 'malformed');
  });

  it('passes a truncated IPv4 header as malformed', () => {
    const f = eth({ proto: ETH_P_IP, payload: ipv4({ dst: '198.51.100.2' }) }).subarray(0, 14 + 19);
    assertPassed(Buffer.from(f), 'malformed');
  });

  it('passes a truncated IPv6 header as malformed', () => {
    const f = eth({ proto: ETH_P_IPV6, payload: ipv6({ dst: '2001:db8:2::6' }) }).subarray(0, 14 + 39);
    assertPassed(Buffer.from(f), 'malformed');
  });

  it('passes a frame that ends inside its VLAN tag as malformed', () => {
    const f = eth({ vlans: [[ETH_P_8021Q, 5]], proto: ETH_P_IP, payload: Buffer.alloc(0) }).subarray(0, 16);
    assertPassed(Buffer.from(f), 'malformed');
  });

  it('passes a bare Ethernet header as not IP', () => {
    assertPassed(eth({ proto: 0x1234, payload: Buffer.alloc(0) }), 'not_ip');
  });

  it('passes a peer\'s frame untouched when the NIC does not forward, and redirects it again when it does', () => {
    const f4 = eth({ proto: ETH_P_IP, payload: ipv4({ dst: '198.51.100.2' }) });
    const f6 = eth({ proto: ETH_P_IPV6, payload: ipv6({ dst: '2001:db8:2::6' }) });
    forwarding(false);
    try {
      assertPassed(f4, 'forwarding_off');
      assertPassed(eth({ proto: ETH_P_IP, payload: ipv4({ dst: '192.0.2.2' }) }), 'forwarding_off');
      assertPassed(f6, 'forwarding_off');
    } finally {
      forwarding(true);
    }
    assertRedirected(f4, PEER_MAC, ETH_P_IP);
    assertRedirected(f6, PEER6_MAC, ETH_P_IPV6);
  });

  it('follows IPv4 and IPv6 forwarding each on its own', () => {
    ip('netns', 'exec', ns.name, 'sysctl', '-qw', 'net.ipv4.conf.lo.forwarding=0');
    try {
      assertPassed(eth({ proto: ETH_P_IP, payload: ipv4({ dst: '198.51.100.2' }) }), 'forwarding_off');
      assertRedirected(eth({ proto: ETH_P_IPV6, payload: ipv6({ dst: '2001:db8:2::6' }) }), PEER6_MAC, ETH_P_IPV6);
    } finally {
      forwarding(true);
    }
  });

  it('passes a peer\'s frame untouched while ring_dev is empty', () => {
    assert.ok(dev.delete(Buffer.alloc(4)));
    try {
      assertPassed(eth({ proto: ETH_P_IP, payload: ipv4({ dst: '198.51.100.2' }) }), 'no_ring');
    } finally {
      setRingDevice(dev, LO_IFINDEX);
    }
  });

  it('stops redirecting an address once its peer is gone', () => {
    const peers = obj.map(MAPS.peers).handle;
    syncPeers(peers, [{ slot: 6, ringMac: PEER6_MAC, addresses: ['2001:db8:2::6'] }]);
    try {
      assertPassed(eth({ proto: ETH_P_IP, payload: ipv4({ dst: '198.51.100.2' }) }), 'no_peer');
      assertPassed(eth({ proto: ETH_P_IP, payload: ipv4({ dst: '192.0.2.2' }) }), 'no_match');
    } finally {
      syncPeers(peers, [
        { slot: 2, ringMac: PEER_MAC, addresses: ['198.51.100.2'], ordinaryAddresses: ['192.0.2.2'] },
        { slot: 6, ringMac: PEER6_MAC, addresses: ['2001:db8:2::6'] },
      ]);
    }
  });

  it('counts repeated runs on the per-CPU stats, summed over CPUs', () => {
    // A frame the program passes untouched: the runs share one buffer, and a
    // redirected frame, readdressed to the peer, would not be ours the second time.
    const frame = eth({ proto: ETH_P_IP, payload: ipv4({ dst: '198.51.100.77', payload: udp(Buffer.alloc(100)) }) });
    const before = readStats(stats, XDP_STATS);
    const r = prog.testRun({ data: frame, repeat: 1000 });
    const after = readStats(stats, XDP_STATS);
    assert.equal(r.retval, K.XDP_PASS);
    assert.equal(after.pass.packets - before.pass.packets, 1000n);
    assert.equal(after.no_peer.bytes - before.no_peer.bytes, 1000n * BigInt(frame.length));
    assert.ok(r.duration > 0, 'the kernel reports a duration');
  });
});
