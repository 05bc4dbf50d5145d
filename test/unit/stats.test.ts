import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { StatsSnapshot, type StatsSnapshot as Snapshot } from '../../src/gen/kvmring/v1/stats.js';
import { AddressError, grpcTarget, parseAddress } from '../../src/stats/address.js';
import { collectStats } from '../../src/stats/collect.js';
import { EthtoolError, type EthtoolStats } from '../../src/stats/ethtool.js';
import { watchInterval } from '../../src/stats/watch.js';
import { METRICS, samples } from '../../src/stats/prometheus.js';
import { ringStats } from '../../src/stats/ring.js';
import { parseProcNetDev, parseRegions, programStats, PROGRAM_KINDS } from '../../src/stats/sources.js';
import { counterRows, renderStats } from '../../src/stats/table.js';
import { parseIp } from '../../src/xdp/cidr.js';
import { runCli } from '../helpers/run-cli.js';
import { requireTier } from '../helpers/tier.js';

// ringnet's descriptor tables (guest-netdev/ringnet_ethtool.c, ringnet_ring.c), as `ethtool -S ring0` names them.
const REGION = ['polls', 'irqs', 'xdp_pass', 'xdp_drop', 'xdp_tx', 'xdp_redirect', 'xdp_aborted', 'rx_bad_meta', 'rx_alloc_fail', 'peer_joins', 'peer_deaths', 'peer_leaves', 'bad_peer_entries'];
const PEER = ['rx_packets', 'rx_bytes', 'tx_packets', 'tx_bytes', 'tx_dropped', 'rx_dropped', 'kicks'];
const TX = ['frames', 'bytes', 'full', 'bad_len', 'kicks', 'bad_index', 'resets', 'reset_follows'];
const RX = ['frames', 'bytes', 'bad_desc', 'bad_meta', 'dropped', 'dropped_bytes', 'bad_index', 'resets', 'reset_follows'];

const GAUGES = ['ring_tx_used_bytes', 'ring_rx_used_bytes'];

/**
 * `ethtool -S ring0` of one region with `slots` slots, every counter zero but
 * those in `set`; `gauges: false` as a driver before the occupancy gauges.
 */
function ringnetStats(slots: number, set: Record<string, bigint> = {}, extra: string[] = [], gauges = true): Map<string, bigint> {
  const names = ['tx_no_peer', ...REGION.map((n) => `r0_${n}`)];
  for (let s = 0; s < slots; s++) {
    names.push(...PEER.map((n) => `r0_peer${s}_${n}`));
    names.push(...TX.map((n) => `r0_peer${s}_ring_tx_${n}`));
    names.push(...RX.map((n) => `r0_peer${s}_ring_rx_${n}`));
    if (gauges) names.push(...GAUGES.map((n) => `r0_peer${s}_${n}`));
  }
  names.push(...extra);
  return new Map(names.map((n) => [n, set[n] ?? 0n]));
}

const PEERS_TXT = `region slot state gen mac age_ms ipv4 ipv6
0 0 up 3 4e:6c:45:0e:5d:01 76 198.51.100.1,192.0.2.1 2001:db8:2::1,2001:db8:1::1
0 1 self 1 4e:6c:45:0e:5d:02 0 198.51.100.2 2001:db8:2::2
0 2 dead 1 4e:6c:45:0e:5d:03 9000 198.51.100.3 -
0 3 free 0 00:00:00:00:00:00 0 - -
`;
const REGIONS_TXT = `region pci size max_peers ring_size self mode
0 0000:00:04.0 16777216 4 1048576 1 plain
`;
const PROC_NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0
 ring0: 5000000    4000    1    2    0     0          0         0  6000000    5000    3    4    0     0       0          0
  eth1:   12345      99    0    7    0     0          0         0    54321      88    0    0    0     0       0          0
`;

describe('stats: sources, snapshot, table, Prometheus mapping', function () {
  let dir: string;
  let sysfs: string;
  let procNetDev: string;
  let pinRoot: string;

  before(function () {
    requireTier(this, 'unit');
    dir = mkdtempSync(join(tmpdir(), 'ringctl-stats-'));
    sysfs = join(dir, 'net');
    mkdirSync(join(sysfs, 'ring0', 'ringnet'), { recursive: true });
    writeFileSync(join(sysfs, 'ring0', 'ringnet', 'peers'), PEERS_TXT);
    writeFileSync(join(sysfs, 'ring0', 'ringnet', 'regions'), REGIONS_TXT);
    procNetDev = join(dir, 'dev');
    writeFileSync(procNetDev, PROC_NET_DEV);
    pinRoot = join(dir, 'pins'); // no attachments
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const ethtool = (stats: Map<string, bigint>, driver = 'ringnet') => (): EthtoolStats => ({ driver: { driver, version: '1', busInfo: '' }, stats });

  describe('sources', () => {
    it('reads packets, bytes, drops and errors of each device from /proc/net/dev', () => {
      const t = parseProcNetDev(PROC_NET_DEV);
      assert.deepEqual([...t.keys()], ['lo', 'ring0', 'eth1']);
      assert.deepEqual(t.get('ring0'), {
        rxBytes: 5000000n, rxPackets: 4000n, rxErrors: 1n, rxDropped: 2n,
        txBytes: 6000000n, txPackets: 5000n, txErrors: 3n, txDropped: 4n,
      });
    });

    it('skips /proc/net/dev lines it cannot read', () => {
      const t = parseProcNetDev(`${PROC_NET_DEV.split('\n').slice(0, 2).join('\n')}\n  bad: 1 2 3\n  ok0: ${'1 '.repeat(16)}\n`);
      assert.deepEqual([...t.keys()], ['ok0']);
    });

    it('parses ringnet/regions and names lines it cannot read', () => {
      const r = parseRegions(`${REGIONS_TXT}1 0000:00:05.0 x 4 1 0 plain\n`);
      assert.deepEqual(r.regions, [{ region: 0, pci: '0000:00:04.0', sizeBytes: 16777216n, maxPeers: 4, ringSizeBytes: 1048576, selfSlot: 1, mode: 'plain' }]);
      assert.equal(r.problems.length, 1);
      assert.match(r.problems[0], /line 3: cannot parse/);
    });

    it('splits a program\'s counters into verdicts (the action codes) and reasons', () => {
      const counters = Object.fromEntries(PROGRAM_KINDS.xdp.names.map((n, i) => [n, { packets: BigInt(i), bytes: BigInt(i * 100) }]));
      const p = programStats('eth1', PROGRAM_KINDS.xdp, counters);
      assert.deepEqual(p.verdicts.map((v) => v.name), ['aborted', 'drop', 'pass', 'tx', 'redirect']);
      assert.equal(p.reasons[0].name, 'not_ip');
      assert.equal(p.reasons.find((r) => r.name === 'peer')?.packets, 10n);
      const tc = programStats('eth1', PROGRAM_KINDS.tc, new Error('eth1: tc_transparent: cannot open x (it was detached meanwhile)'));
      assert.equal(tc.hook, 'HOOK_TC_EGRESS');
      assert.deepEqual([tc.verdicts, tc.reasons], [[], []]);
      assert.match(tc.error, /detached meanwhile/);
    });
  });

  describe('ring0', () => {
    it('maps ethtool names to the proto\'s fields per region and peer, joined with the peer table', () => {
      const stats = ringnetStats(4, {
        tx_no_peer: 9n,
        r0_polls: 1234n,
        r0_peer_joins: 2n,
        r0_peer0_rx_packets: 10n,
        r0_peer0_tx_bytes: 2000n,
        r0_peer0_ring_tx_full: 3n,
        r0_peer0_ring_rx_bad_desc: 4n,
        r0_peer2_kicks: 5n,
        r0_peer0_ring_tx_used_bytes: 4096n,
        r0_peer0_ring_rx_used_bytes: 128n,
      });
      const ring = ringStats({
        device: 'ring0',
        ethtool: { driver: 'ringnet', stats },
        peers: [
          { region: 0, slot: 0, state: 'up', generation: 3, mac: '4e:6c:45:0e:5d:01', ageMs: 76, ipv4: ['198.51.100.1'], ipv6: [] },
          { region: 0, slot: 1, state: 'self', generation: 1, mac: '4e:6c:45:0e:5d:02', ageMs: 0, ipv4: [], ipv6: [] },
          { region: 0, slot: 3, state: 'free', generation: 0, mac: '00:00:00:00:00:00', ageMs: 0, ipv4: [], ipv6: [] },
        ],
        regions: [{ region: 0, pci: '0000:00:04.0', sizeBytes: 1n << 24n, maxPeers: 4, ringSizeBytes: 1 << 20, selfSlot: 1, mode: 'plain' }],
      });
      assert.equal(ring.error, '');
      assert.equal(ring.txNoPeer, 9n);
      assert.equal(ring.regions.length, 1);
      const r = ring.regions[0];
      assert.equal(r.mode, 'plain');
      assert.equal(r.counters?.polls, 1234n);
      assert.equal(r.counters?.peerJoins, 2n);
      assert.deepEqual(r.counters?.other, {});
      // Slot 3 is free with zero counters: left out. Slot 2 is not in the table but counted something.
      assert.deepEqual(r.peers.map((p) => [p.slot, p.state]), [[0, 'PEER_STATE_UP'], [1, 'PEER_STATE_SELF'], [2, 'PEER_STATE_UNSPECIFIED']]);
      const p0 = r.peers[0];
      assert.equal(p0.mac, '4e:6c:45:0e:5d:01');
      assert.equal(p0.counters?.rxPackets, 10n);
      assert.equal(p0.counters?.txBytes, 2000n);
      assert.equal(p0.counters?.ringTx?.full, 3n);
      assert.equal(p0.counters?.ringRx?.badDesc, 4n);
      assert.deepEqual(p0.occupancy, { txUsedBytes: 4096, rxUsedBytes: 128, sizeBytes: 1 << 20 });
      assert.deepEqual(p0.counters?.other, {}, 'the gauges are not counters');
      assert.equal(r.peers[1].occupancy, null, 'our own slot has no rings');
      assert.equal(r.peers[2].counters?.kicks, 5n);
    });

    it('leaves occupancy unset with a driver that has no occupancy gauges', () => {
      const stats = ringnetStats(2, { r0_peer0_rx_packets: 1n }, [], false);
      const ring = ringStats({ device: 'ring0', ethtool: { driver: 'ringnet', stats }, peers: [], regions: [] });
      assert.equal(ring.regions[0].peers[0].occupancy, null);
    });

    it('keeps counters of a newer driver under their names in `other`', () => {
      const stats = ringnetStats(1, { r0_peer0_ring_rx_new_thing: 7n, r0_shiny: 8n }, ['r0_peer0_ring_rx_new_thing', 'r0_shiny']);
      const ring = ringStats({ device: 'ring0', ethtool: { driver: 'ringnet', stats }, peers: [], regions: [] });
      assert.deepEqual(ring.regions[0].counters?.other, { shiny: 8n });
      assert.deepEqual(ring.regions[0].peers[0].counters?.other, { ring_rx_new_thing: 7n });
    });

    it('says so when the ring device is not a ringnet device', () => {
      const ring = ringStats({ device: 'ring0', ethtool: { driver: 'veth', stats: new Map([['peer_ifindex', 5n]]) }, peers: [], regions: [] });
      assert.equal(ring.error, 'ring0 is not a ringnet device (driver veth)');
      assert.deepEqual(ring.regions, []);
    });
  });

  describe('collectStats', () => {
    it('reads every source into one snapshot', () => {
      const s = collectStats({
        ring: 'ring0',
        interfaces: ['eth1'],
        pinRoot,
        sysfsNet: sysfs,
        procNetDev,
        ethtool: ethtool(ringnetStats(4, { r0_peer0_rx_packets: 42n })),
        now: () => 5n,
      });
      assert.equal(s.timeUnixNano, 5n);
      assert.deepEqual(s.interfaces.map((i) => [i.device, i.rxPackets, i.error]), [['ring0', 4000n, ''], ['eth1', 99n, '']]);
      assert.deepEqual(s.programs, []);
      assert.equal(s.ring?.error, '');
      assert.equal(s.ring?.regions[0].ringSizeBytes, 1048576);
      assert.deepEqual(s.ring?.regions[0].peers.map((p) => [p.slot, p.state, p.counters?.rxPackets]), [
        [0, 'PEER_STATE_UP', 42n],
        [1, 'PEER_STATE_SELF', 0n],
        [2, 'PEER_STATE_DEAD', 0n],
      ]);
      assert.deepEqual(s.ring?.regions[0].peers[0].ipv6, ['2001:db8:2::1', '2001:db8:1::1']);
      assert.deepEqual(s.errors, []);
      // It is a valid message.
      assert.deepEqual(StatsSnapshot.decode(StatsSnapshot.encode(s)), s);
    });

    it('gives an entry with an error, not an exception, for each source that is gone', () => {
      const gone = (): EthtoolStats => {
        throw new EthtoolError('ring0: cannot read driver information (no such device)', 19);
      };
      const s = collectStats({
        ring: 'ring0',
        interfaces: ['eth9'],
        pinRoot,
        sysfsNet: join(dir, 'nowhere'),
        procNetDev,
        ethtool: gone,
      });
      assert.equal(s.interfaces[1].error, 'eth9: no such device');
      assert.equal(s.ring?.error, 'ring0: cannot read driver information (no such device)');
      const s2 = collectStats({ ring: 'ring0', pinRoot, sysfsNet: sysfs, procNetDev: join(dir, 'missing'), ethtool: ethtool(ringnetStats(1)) });
      assert.match(s2.interfaces[0].error, /^cannot read .*missing \(ENOENT\)$/);
    });

    it('counts the peer table\'s conflicts against this guest\'s addresses', () => {
      writeFileSync(join(sysfs, 'ring0', 'ringnet', 'peers'), `${PEERS_TXT}0 4 up 1 4e:6c:45:0e:5d:05 10 198.51.100.1 -\n0 5 up 1 4e:6c:45:0e:5d:02 10 198.51.100.5 -\n0 6 refused 2 ff:ff:ff:ff:ff:ff 0 - -\n`);
      try {
        const local = (ifname: string, a: string, prefix: number) => ({ ifname, ...parseIp(a)!, prefix });
        const s = collectStats({
          ring: 'ring0',
          pinRoot,
          sysfsNet: sysfs,
          procNetDev,
          ethtool: ethtool(ringnetStats(6)),
          localAddresses: () => [local('ring0', '198.51.100.2', 24), local('eth1', '192.0.2.2', 24)],
        });
        assert.deepEqual(s.ring?.conflicts, [
          { kind: 'own-mac', value: '4e:6c:45:0e:5d:02', peers: ['5'] },
          { kind: 'refused', value: 'ff:ff:ff:ff:ff:ff', peers: ['6'] },
          { kind: 'address', value: '198.51.100.1', peers: ['0', '4'] },
        ]);
        assert.deepEqual(s.ring?.regions[0].peers.find((p) => p.slot === 6)?.state, 'PEER_STATE_REFUSED');
        const kinds = samples(s).filter((x) => x.name === 'kvmring_peer_conflicts').map((x) => [x.labels.kind, x.value]);
        assert.deepEqual(kinds, [['address', 1], ['own-address', 0], ['mac', 0], ['own-mac', 1], ['refused', 1]]);
        const info = samples(s).find((x) => x.name === 'kvmring_ring_peer_info' && x.labels.peer === '6');
        assert.deepEqual(info?.labels, { device: 'ring0', region: '0', peer: '6', state: 'refused', mac: 'ff:ff:ff:ff:ff:ff', generation: '2' });
        assert.match(renderStats(s), /\nconflict: MAC 4e:6c:45:0e:5d:02 is this guest's ring MAC \(also claimed by peer 5\); mapped to no peer\nconflict: MAC ff:ff:ff:ff:ff:ff of peer 6 refused by ring0 \(an invalid MAC, ring0's own, or a live peer's\); mapped to no peer\nconflict: 198\.51\.100\.1 claimed by peers 0, 4; mapped to no peer\n$/);
        assert.deepEqual(StatsSnapshot.decode(StatsSnapshot.encode(s)).ring?.conflicts, s.ring?.conflicts);
      } finally {
        writeFileSync(join(sysfs, 'ring0', 'ringnet', 'peers'), PEERS_TXT);
      }
    });

    it('reports a ring device that does not exist here with a hint', () => {
      const s = collectStats({ ring: 'nosuchring7', pinRoot, sysfsNet: sysfs, procNetDev });
      assert.equal(s.ring?.error, 'nosuchring7: no such device (is ringnet.ko loaded?)');
      assert.equal(s.interfaces[0].error, 'nosuchring7: no such device (is ringnet.ko loaded?)');
    });
  });

  function snapshot(): Snapshot {
    return collectStats({
      ring: 'ring0',
      interfaces: ['eth1'],
      pinRoot,
      sysfsNet: sysfs,
      procNetDev,
      ethtool: ethtool(ringnetStats(4, { r0_peer0_rx_packets: 42n, r0_peer0_rx_bytes: 4200n, r0_peer0_ring_rx_bad_desc: 1n, r0_polls: 77n, r0_peer0_ring_tx_used_bytes: 52429n })),
      now: () => 1_000_000_000n,
    });
  }

  describe('table', () => {
    it('shows traffic counters always and error counters only when they are not zero', () => {
      const s = snapshot();
      s.programs = [programStats('eth1', PROGRAM_KINDS.xdp, Object.fromEntries(PROGRAM_KINDS.xdp.names.map((n) => [n, { packets: n === 'peer' ? 3n : 0n, bytes: 0n }])))];
      const text = renderStats(s);
      const lines = text.split('\n');
      assert.match(lines[0], /^SOURCE\s+DEVICE\s+PEER\s+COUNTER\s+PACKETS\s+BYTES$/);
      assert.ok(lines.some((l) => /^interface\s+ring0\s+-\s+rx\s+4000\s+5000000$/.test(l)), text);
      assert.ok(lines.some((l) => /^interface\s+eth1\s+-\s+rx_dropped\s+7\s+-$/.test(l)), text);
      assert.ok(!lines.some((l) => /eth1\s+-\s+rx_errors/.test(l)), 'zero error counters are left out');
      assert.ok(lines.some((l) => /^xdp\s+eth1\s+-\s+redirect\s+0\s+0$/.test(l)), 'verdicts always');
      assert.ok(lines.some((l) => /^xdp\s+eth1\s+-\s+reason:peer\s+3\s+0$/.test(l)), text);
      assert.ok(lines.some((l) => /^ring\s+ring0\s+0\s+rx\s+42\s+4200$/.test(l)), text);
      assert.ok(lines.some((l) => /^ring\s+ring0\s+0\s+ring_rx_bad_desc\s+1\s+-$/.test(l)), text);
      assert.ok(lines.some((l) => /^ring\s+ring0\s+-\s+polls\s+77\s+-$/.test(l)), text);
      assert.ok(lines.some((l) => /^REGION\s+SLOT\s+STATE\s+GEN\s+MAC\s+HEARTBEAT\s+TX RING\s+RX RING\s+IPV4\s+IPV6$/.test(l)), text);
      // 52429 of 1 MiB: 5.0 %
      assert.ok(lines.some((l) => /^0\s+0\s+up\s+3\s+4e:6c:45:0e:5d:01\s+76 ms\s+5\.0%\s+0%\s+198\.51\.100\.1,192\.0\.2\.1\s+2001:db8:2::1,2001:db8:1::1$/.test(l)), text);
      assert.ok(renderStats(s, { all: true }).split('\n').some((l) => /eth1\s+-\s+rx_errors\s+0/.test(l)));
    });

    it('adds rates per second from the previous snapshot', () => {
      const a = snapshot();
      const b = snapshot();
      b.timeUnixNano = a.timeUnixNano + 2_000_000_000n;
      b.interfaces[0].rxPackets += 500n;
      b.interfaces[0].rxBytes += 3000n;
      const text = renderStats(b, { previous: a });
      assert.ok(text.split('\n').some((l) => /^interface\s+ring0\s+-\s+rx\s+4500\s+5003000\s+250\s+1500$/.test(l)), text);
      assert.ok(text.split('\n').some((l) => /^interface\s+eth1\s+-\s+rx\s+99\s+12345\s+0\.0\s+0\.0$/.test(l)), text);
    });

    it('lists what could not be read', () => {
      const s = collectStats({ ring: 'nosuchring7', pinRoot, sysfsNet: sysfs, procNetDev });
      assert.match(renderStats(s), /\nnot read: nosuchring7: no such device \(is ringnet\.ko loaded\?\)\n$/);
    });
  });

  describe('Prometheus mapping', () => {
    it('gives every sample a declared metric with exactly its labels', () => {
      const s = snapshot();
      s.programs = [programStats('eth1', PROGRAM_KINDS.xdp, {}), programStats('eth1', PROGRAM_KINDS.tc, {})];
      for (const x of samples(s)) {
        assert.ok(METRICS[x.name], x.name);
        assert.deepEqual(Object.keys(x.labels).sort(), [...METRICS[x.name].labels].sort(), x.name);
      }
      const names = new Set(samples(s).map((x) => x.name));
      for (const n of ['kvmring_build_info', 'kvmring_xdp_packets_total', 'kvmring_tc_packets_total', 'kvmring_ring_receive_packets_total', 'kvmring_network_receive_bytes_total', 'kvmring_ring_used_bytes', 'kvmring_ring_size_bytes']) {
        assert.ok(names.has(n as never), n);
      }
      const used = samples(s).filter((x) => x.name === 'kvmring_ring_used_bytes' && x.labels.peer === '0');
      assert.deepEqual(used.map((x) => [x.labels.direction, x.value]), [['tx', 52429], ['rx', 0]]);
    });

    it('carries the snapshot\'s values: every counter row of the table is a sample', () => {
      const s = snapshot();
      const byKey = new Map(samples(s).map((x) => [`${x.name}${JSON.stringify(x.labels)}`, x.value]));
      const get = (name: string, labels: Record<string, string>) => byKey.get(`${name}${JSON.stringify(labels)}`);
      assert.equal(get('kvmring_network_receive_packets_total', { device: 'ring0' }), 4000n);
      assert.equal(get('kvmring_network_transmit_errs_total', { device: 'ring0' }), 3n);
      assert.equal(get('kvmring_ring_receive_packets_total', { device: 'ring0', region: '0', peer: '0' }), 42n);
      assert.equal(get('kvmring_ring_receive_events_total', { device: 'ring0', region: '0', peer: '0', event: 'bad_desc' }), 1n);
      assert.equal(get('kvmring_ring_polls_total', { device: 'ring0', region: '0' }), 77n);
      assert.equal(get('kvmring_ring_peer_up', { device: 'ring0', region: '0', peer: '2' }), 0);
      assert.equal(get('kvmring_ring_peer_heartbeat_age_seconds', { device: 'ring0', region: '0', peer: '2' }), 9);
      assert.equal(get('kvmring_ring_receive_packets_total', { device: 'ring0', region: '0', peer: '1' }), undefined, 'not for our own slot');
      const total = (rows: bigint[]) => rows.reduce((a, b) => a + b, 0n);
      const counters = samples(s).filter((x) => x.name.endsWith('_total')).map((x) => BigInt(x.value));
      const rows = counterRows(s);
      assert.equal(total(counters), total(rows.flatMap((r) => [r.packets, r.bytes ?? 0n])));
    });

    it('marks a source that could not be read as down', () => {
      const s = collectStats({ ring: 'nosuchring7', pinRoot, sysfsNet: sysfs, procNetDev });
      const up = samples(s).filter((x) => x.name === 'kvmring_source_up');
      assert.deepEqual(up.map((x) => [x.labels.source, x.labels.device, x.value]), [['interface', 'nosuchring7', 0], ['ring', 'nosuchring7', 0]]);
    });
  });

  describe('addresses and arguments', () => {
    it('parses unix:PATH, HOST:PORT and [IPV6]:PORT', () => {
      assert.deepEqual(parseAddress('unix:/run/kvmring/ringctl.sock'), { kind: 'unix', path: '/run/kvmring/ringctl.sock' });
      assert.deepEqual(parseAddress('unix:///run/x.sock'), { kind: 'unix', path: '/run/x.sock' });
      assert.deepEqual(parseAddress('127.0.0.1:0'), { kind: 'tcp', host: '127.0.0.1', port: 0 });
      assert.deepEqual(parseAddress('[::1]:50051'), { kind: 'tcp', host: '::1', port: 50051 });
      assert.equal(grpcTarget(parseAddress('[::1]:50051')), '[::1]:50051');
      assert.equal(grpcTarget(parseAddress('unix:/a/b')), 'unix:/a/b');
    });

    for (const [bad, why] of [
      ['127.0.0.1', /expected unix:PATH, HOST:PORT/],
      ['localhost:65536', /the port must be 0-65535/],
      ['::1:80', /expected/],
      ['unix:', /the socket path is empty/],
    ] as const) {
      it(`rejects ${JSON.stringify(bad)}`, () => {
        assert.throws(() => parseAddress(bad), (e: Error) => e instanceof AddressError && why.test(e.message));
      });
    }

    it('rejects a unix: address for the metrics endpoint', () => {
      assert.throws(() => parseAddress('unix:/x', { tcpOnly: true }), /expected HOST:PORT/);
    });

    it('checks a WatchStats interval: 0 for the default, 100 ms to an hour', () => {
      assert.equal(watchInterval(0), 1000);
      assert.equal(watchInterval(250), 250);
      assert.match(String(watchInterval(50)), /interval_ms must be 0 \(for 1000\) or 100 to 3600000, not 50/);
      assert.equal(typeof watchInterval(3_600_001), 'string');
    });

    it('refuses bad arguments with usage errors', async () => {
      const usage = async (argv: string[], message: string) => {
        const r = await runCli(argv);
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.equal(r.stdout.split('\n')[0], `Usage Error: ${message}`);
      };
      await usage(['stats', '--count', '2'], '--count needs --watch');
      await usage(['stats', '--remote', 'nowhere'], '--remote "nowhere": expected unix:PATH, HOST:PORT or [IPV6]:PORT, e.g. 127.0.0.1:50051');
      await usage(['stats', '--remote', '127.0.0.1:1', '--interface', 'eth1'], '--ring and --interface are the server\'s settings; they do not go with --remote');
      await usage(['serve', '--metrics', 'unix:/tmp/x'], '--metrics unix:/tmp/x: expected HOST:PORT, e.g. 127.0.0.1:9477');
      await usage(['serve', '--grpc', 'none', '--metrics', 'none'], 'nothing to serve: --grpc none and --metrics none');
      await usage(['serve', '--grpc', 'none', '--grpc', '127.0.0.1:0'], '--grpc none goes alone');
    });
  });
});
