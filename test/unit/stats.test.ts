import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { StatsSnapshot, type StatsSnapshot as Snapshot } from '../../src/gen/kvmring/v1/stats.js';
import { AddressError, grpcTarget, parseAddress } from '../../src/stats/address.js';
import { collectStats } from '../../src/stats/collect.js';
import { EthtoolError, type EthtoolStats } from '../../src/stats/ethtool.js';
import { watchInterval } from '../../src/stats/watch.js';
import { METRICS, StatsMetrics, samples } from '../../src/stats/prometheus.js';
import { QUEUE_INDEX_LIMIT, queueStat, ringStats } from '../../src/stats/ring.js';
import { parseProcNetDev, parseRegions, programStats, PROGRAM_KINDS, type RegionInfo } from '../../src/stats/sources.js';
import { counterRows, renderStats } from '../../src/stats/table.js';
import type { TablePeer } from '../../src/peers/table.js';
import { parseIp } from '../../src/xdp/cidr.js';
import { runCli } from '../helpers/run-cli.js';
import { requireTier } from '../helpers/tier.js';

// ringnet's descriptor tables (guest-netdev/ringnet_ethtool.c, ringnet_ring.c), as `ethtool -S ring0` names them.
const REGION = [
  'polls', 'irqs', 'xdp_pass', 'xdp_drop', 'xdp_tx', 'xdp_redirect', 'xdp_aborted', 'rx_bad_meta', 'rx_alloc_fail',
  'peer_joins', 'peer_deaths', 'peer_leaves', 'mac_conflicts', 'addr_conflicts', 'rx_bad_src', 'rx_no_peer',
];
const PEER = ['rx_packets', 'rx_bytes', 'tx_packets', 'tx_bytes', 'tx_dropped', 'rx_dropped', 'kicks'];
const TX = ['frames', 'bytes', 'full', 'bad_len', 'kicks', 'publishes', 'bad_index', 'resets', 'reset_follows'];
const RX = ['frames', 'bytes', 'bad_desc', 'bad_meta', 'dropped', 'dropped_bytes', 'bad_index', 'resets', 'reset_follows'];

const GAUGES = ['ring_tx_used_bytes', 'ring_rx_used_bytes'];

interface RingnetOptions {
  /** Names after the driver's. */
  extra?: string[];
  /** false: a driver without the occupancy gauges. */
  gauges?: boolean;
  /** Queue pairs (qK_..., chK_...), 1 unless given. */
  queues?: number;
}

/**
 * `ethtool -S ring0` of a domain with `slots` slots, every counter zero but
 * those in `set`.
 */
function ringnetStats(slots: number, set: Record<string, bigint> = {}, o: RingnetOptions = {}): Map<string, bigint> {
  const { extra = [], gauges = true, queues = 1 } = o;
  const names = ['tx_no_peer', ...REGION.map((n) => `r0_${n}`)];
  for (let k = 0; k < queues; k++) names.push(`q${k}_tx_packets`, `q${k}_rx_packets`, `ch${k}_polls`, `ch${k}_irqs`);
  for (let s = 0; s < slots; s++) {
    names.push(...PEER.map((n) => `r0_peer${s}_${n}`));
    names.push(...TX.map((n) => `r0_peer${s}_ring_tx_${n}`));
    names.push(...RX.map((n) => `r0_peer${s}_ring_rx_${n}`));
    if (gauges) names.push(...GAUGES.map((n) => `r0_peer${s}_${n}`));
  }
  names.push(...extra);
  return new Map(names.map((n) => [n, set[n] ?? 0n]));
}

const PEERS_TXT = `region slot state gen mac age_ms ipv4 ipv6 tx_packets rx_packets name claimed_mac addrs_refused
0 0 up 3 4e:6c:45:0e:5d:01 76 198.51.100.1,192.0.2.1 2001:db8:2::1,2001:db8:1::1 0 42 g1 - 0
1 1 self 1 4e:6c:45:0e:5d:02 0 198.51.100.2 2001:db8:2::2 0 0 g2 - 0
2 2 dead 1 4e:6c:45:0e:5d:03 9000 198.51.100.3 - 0 0 g3 - 0
3 3 free 0 4e:6c:45:0e:5d:04 0 - - 0 0 g4 - 0
`;
const REGIONS_TXT = `region pci size max_peers ring_size self mode owner readers
0 0000:00:11.0 8388608 4 1048576 1 plain 0 0xe
1 0000:00:12.0 8388608 4 1048576 1 plain 1 0xd
2 0000:00:13.0 8388608 4 1048576 1 plain 2 0xb
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

    it('parses a text file of the regions (debugfs\'s columns) and names lines it cannot read', () => {
      const r = parseRegions(`${REGIONS_TXT}3 0000:00:14.0 x 4 1 0 plain 3 0x1\n4 0000:00:15.0 8388608 4 1 0 plain 3 6\n5 0000:00:16.0 8388608 4 1 0 plain 3\n`);
      assert.deepEqual(r.regions[1], { region: 1, pci: '0000:00:12.0', sizeBytes: 8388608n, maxPeers: 4, ringSizeBytes: 1048576, selfSlot: 1, mode: 'plain', owner: 1, readers: [0, 2, 3] });
      assert.deepEqual(r.regions.map((x) => [x.region, x.owner, x.readers]), [[0, 0, [1, 2, 3]], [1, 1, [0, 2, 3]], [2, 2, [0, 1, 3]]]);
      assert.deepEqual(r.problems, [
        'ringnet/regions line 5: cannot parse "3 0000:00:14.0 x 4 1 0 plain 3 0x1"',
        'ringnet/regions line 6: cannot parse "4 0000:00:15.0 8388608 4 1 0 plain 3 6"',
        'ringnet/regions line 7: cannot parse "5 0000:00:16.0 8388608 4 1 0 plain 3"',
      ]);
      assert.deepEqual(parseRegions('region pci size max_peers ring_size self mode\n0 0000:00:04.0 16777216 4 1048576 1 plain\n').problems, [
        'ringnet/regions: unknown format (header "region pci size max_peers ring_size self mode", expected "region pci size max_peers ring_size self mode owner readers")',
      ]);
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
    const peer = (slot: number, state: TablePeer['state'], o: Partial<TablePeer> = {}): TablePeer => ({
      region: slot,
      slot,
      state,
      generation: 1,
      mac: `4e:6c:45:0e:5d:0${slot}`,
      name: `g${slot + 1}`,
      ageMs: 0,
      ipv4: [],
      ipv6: [],
      addrsRefused: 0,
      ...o,
    });
    const region = (n: number, owner: number, readers: number[]): RegionInfo => ({
      region: n,
      pci: `0000:00:1${n + 1}.0`,
      sizeBytes: 8n << 20n,
      maxPeers: 4,
      ringSizeBytes: 1 << 20,
      selfSlot: 1,
      mode: 'plain',
      owner,
      readers,
    });

    it('maps ethtool names to the proto\'s fields, the domain\'s and per peer by slot, joined with the peer table', () => {
      const stats = ringnetStats(4, {
        tx_no_peer: 9n,
        r0_polls: 1234n,
        r0_peer_joins: 2n,
        r0_mac_conflicts: 1n,
        r0_addr_conflicts: 3n,
        r0_rx_bad_src: 4n,
        r0_rx_no_peer: 5n,
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
          peer(0, 'up', { generation: 3, ageMs: 76, ipv4: ['198.51.100.1'], claimedMac: '01:00:5e:00:00:01', addrsRefused: 2 }),
          peer(1, 'self', { region: 0 }),
          peer(3, 'free', { generation: 0 }),
        ],
        regions: [region(1, 1, [0, 2, 3]), region(0, 0, [1, 2, 3])],
      });
      assert.equal(ring.error, '');
      assert.equal(ring.txNoPeer, 9n);
      assert.deepEqual(ring.regions.map((r) => [r.region, r.owner, r.readers]), [[0, 0, [1, 2, 3]], [1, 1, [0, 2, 3]]]);
      const c = ring.counters;
      assert.deepEqual([c?.polls, c?.peerJoins, c?.macConflicts, c?.addrConflicts, c?.rxBadSrc, c?.rxNoPeer], [1234n, 2n, 1n, 3n, 4n, 5n]);
      assert.deepEqual(c?.other, {});
      // Slot 3 is free with zero counters: left out. Slot 2 is not in the table but counted something.
      assert.deepEqual(ring.peers.map((p) => [p.slot, p.state, p.name, p.region]), [
        [0, 'PEER_STATE_UP', 'g1', 0],
        [1, 'PEER_STATE_SELF', 'g2', 0],
        [2, 'PEER_STATE_UNSPECIFIED', '', 0],
      ]);
      const p0 = ring.peers[0];
      assert.deepEqual([p0.mac, p0.claimedMac, p0.addrsRefused, p0.generation, p0.heartbeatAgeMs], ['4e:6c:45:0e:5d:00', '01:00:5e:00:00:01', 2, 3, 76]);
      assert.equal(p0.counters?.rxPackets, 10n);
      assert.equal(p0.counters?.txBytes, 2000n);
      assert.equal(p0.counters?.ringTx?.full, 3n);
      assert.equal(p0.counters?.ringRx?.badDesc, 4n);
      assert.deepEqual(p0.occupancy, { txUsedBytes: 4096, rxUsedBytes: 128, sizeBytes: 1 << 20 });
      assert.deepEqual(p0.counters?.other, {}, 'the gauges are not counters');
      assert.equal(ring.peers[1].occupancy, null, 'our own slot has no rings');
      assert.equal(ring.peers[1].claimedMac, '');
      assert.equal(ring.peers[2].counters?.kicks, 5n);
    });

    it('leaves occupancy unset with a driver that has no occupancy gauges', () => {
      const stats = ringnetStats(2, { r0_peer0_rx_packets: 1n }, { gauges: false });
      const ring = ringStats({ device: 'ring0', ethtool: { driver: 'ringnet', stats }, peers: [], regions: [] });
      assert.equal(ring.peers[0].occupancy, null);
    });

    it('keeps counters of a newer driver under their names in `other`, and leaves what is not r0_ alone', () => {
      const stats = ringnetStats(1, { r0_peer0_ring_rx_new_thing: 7n, r0_shiny: 8n, r1_polls: 9n, r1_peer0_rx_packets: 10n }, {
        extra: ['r0_peer0_ring_rx_new_thing', 'r0_shiny', 'r1_polls', 'r1_peer0_rx_packets'],
      });
      const ring = ringStats({ device: 'ring0', ethtool: { driver: 'ringnet', stats }, peers: [], regions: [] });
      assert.deepEqual(ring.counters?.other, { shiny: 8n });
      assert.deepEqual(ring.peers.map((p) => [p.slot, p.counters?.other, p.counters?.rxPackets]), [[0, { ring_rx_new_thing: 7n }, 0n]]);
    });

    it('collects the counters per queue index, summed over the peers, by index', () => {
      // ethtool's order, and names of a later index first: sorted all the same.
      const stats = new Map([
        ['q10_rx_packets', 5n],
        ...ringnetStats(1, { q0_tx_packets: 11n, q0_rx_packets: 12n, ch0_polls: 13n, ch0_irqs: 14n, q2_tx_packets: 21n, ch1_polls: 31n }, { queues: 3 }),
        ['ch10_irqs', 6n],
      ]);
      const ring = ringStats({ device: 'ring0', ethtool: { driver: 'ringnet', stats }, peers: [], regions: [] });
      assert.equal(ring.error, '');
      assert.deepEqual(ring.queues, [
        { index: 0, txPackets: 11n, rxPackets: 12n, polls: 13n, irqs: 14n },
        { index: 1, txPackets: 0n, rxPackets: 0n, polls: 31n, irqs: 0n },
        { index: 2, txPackets: 21n, rxPackets: 0n, polls: 0n, irqs: 0n },
        { index: 10, txPackets: 0n, rxPackets: 5n, polls: 0n, irqs: 6n },
      ]);
      assert.deepEqual(ring.counters?.other, {}, 'queue counters are not the domain\'s');
      assert.deepEqual(StatsSnapshot.decode(StatsSnapshot.encode({ ...StatsSnapshot.empty(), ring })).ring?.queues, ring.queues);
    });

    it('ignores queue names that are not exactly ringnet\'s, and absurd indexes', () => {
      const last = QUEUE_INDEX_LIMIT - 1;
      assert.deepEqual(queueStat(`q${last}_rx_packets`), { index: last, field: 'rxPackets' });
      assert.deepEqual(queueStat('ch0_irqs'), { index: 0, field: 'irqs' });
      const bad = [
        `q${QUEUE_INDEX_LIMIT}_tx_packets`, 'ch99999_polls', 'q123456789012345678901234567890_tx_packets', 'q01_tx_packets', 'ch00_polls',
        'q_tx_packets', 'q-1_tx_packets', 'q+1_tx_packets', 'q1.5_tx_packets', 'qx_tx_packets', 'Q0_tx_packets', 'q0_TX_packets',
        'q0_tx_bytes', 'q0_polls', 'ch0_tx_packets', 'ch0_rx_packets', 'q0_irqs', 'q0_tx_packets_x', 'xq0_tx_packets', ' q0_tx_packets', 'q0_tx_packets\n',
        'q 0_tx_packets', 'q0__tx_packets', 'q0tx_packets', 'ch_polls', 'ch0polls', 'r0_q0_tx_packets',
      ];
      for (const name of bad) assert.equal(queueStat(name), undefined, name);
      const stats = ringnetStats(1, Object.fromEntries(bad.map((n) => [n, 9n])), { extra: bad, queues: 0 });
      const ring = ringStats({ device: 'ring0', ethtool: { driver: 'ringnet', stats }, peers: [], regions: [] });
      assert.deepEqual(ring.queues, []);
      assert.deepEqual(ring.counters?.other, { q0_tx_packets: 9n }, 'r0_q0_tx_packets is a domain counter of a newer driver');
      assert.equal(ring.error, '');
    });

    it('says so when the ring device is not a ringnet device', () => {
      const ring = ringStats({ device: 'ring0', ethtool: { driver: 'veth', stats: new Map([['peer_ifindex', 5n]]) }, peers: [], regions: [] });
      assert.equal(ring.error, 'ring0 is not a ringnet device (driver veth)');
      assert.deepEqual([ring.regions, ring.peers], [[], []]);
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
      assert.deepEqual(s.ring?.regions.map((r) => [r.region, r.pci, r.ringSizeBytes, r.owner]), [
        [0, '0000:00:11.0', 1048576, 0],
        [1, '0000:00:12.0', 1048576, 1],
        [2, '0000:00:13.0', 1048576, 2],
      ]);
      assert.deepEqual(s.ring?.peers.map((p) => [p.slot, p.name, p.state, p.counters?.rxPackets]), [
        [0, 'g1', 'PEER_STATE_UP', 42n],
        [1, 'g2', 'PEER_STATE_SELF', 0n],
        [2, 'g3', 'PEER_STATE_DEAD', 0n],
      ]);
      assert.deepEqual(s.ring?.peers[0].ipv6, ['2001:db8:2::1', '2001:db8:1::1']);
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

    it('shows the peer table\'s conflicts: claims beyond a roster entry, and addresses against this guest\'s', () => {
      // Slot 4 holds g1's ring address (another group, an overlapping prefix) and
      // publishes g2's MAC; slot 5 publishes three addresses outside its prefixes.
      const extra = '4 4 up 1 4e:6c:45:0e:5d:05 10 198.51.100.1 - 0 0 g5 4e:6c:45:0e:5d:02 0\n5 5 dead 1 4e:6c:45:0e:5d:06 10 198.51.100.2 - 0 0 g6 - 3\n';
      writeFileSync(join(sysfs, 'ring0', 'ringnet', 'peers'), `${PEERS_TXT}${extra}`);
      try {
        const local = (ifname: string, a: string, prefix: number) => ({ ifname, ...parseIp(a)!, prefix });
        const s = collectStats({
          ring: 'ring0',
          pinRoot,
          sysfsNet: sysfs,
          procNetDev,
          ethtool: ethtool(ringnetStats(6, { r0_mac_conflicts: 1n, r0_addr_conflicts: 3n })),
          localAddresses: () => [local('ring0', '198.51.100.2', 24), local('eth1', '192.0.2.2', 24)],
        });
        assert.deepEqual(s.ring?.conflicts, [
          { kind: 'claimed-mac', value: '4e:6c:45:0e:5d:02', peers: ['4'] },
          { kind: 'addrs-refused', value: '3', peers: ['5'] },
          { kind: 'address', value: '198.51.100.1', peers: ['0', '4'] },
        ]);
        assert.deepEqual(s.ring?.peers.filter((p) => p.slot >= 4).map((p) => [p.slot, p.claimedMac, p.addrsRefused]), [[4, '4e:6c:45:0e:5d:02', 0], [5, '', 3]]);
        const kinds = samples(s).filter((x) => x.name === 'kvmring_peer_conflicts').map((x) => [x.labels.kind, x.value]);
        assert.deepEqual(kinds, [['claimed-mac', 1], ['addrs-refused', 1], ['address', 1], ['own-address', 0]]);
        const info = samples(s).find((x) => x.name === 'kvmring_ring_peer_info' && x.labels.peer === '4');
        assert.deepEqual(info?.labels, { device: 'ring0', peer: '4', name: 'g5', state: 'up', mac: '4e:6c:45:0e:5d:05', generation: '1' });
        const refused = samples(s).find((x) => x.name === 'kvmring_ring_peer_addrs_refused' && x.labels.peer === '5');
        assert.equal(refused?.value, 3);
        const counted = samples(s).filter((x) => /kvmring_ring_(mac|addr)_conflicts_total/.test(x.name)).map((x) => [x.name, x.value]);
        assert.deepEqual(counted, [['kvmring_ring_mac_conflicts_total', 1n], ['kvmring_ring_addr_conflicts_total', 3n]]);
        assert.match(
          renderStats(s),
          /\nconflict: peer 4 \(g5\) publishes MAC 4e:6c:45:0e:5d:02, not its roster MAC: ignored\nconflict: peer 5 \(g6\) publishes 3 addresses outside its roster prefixes: ignored\nconflict: 198\.51\.100\.1 held by peer 0 \(g1\), peer 4 \(g5\); mapped to no peer\n$/,
        );
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

  /** A snapshot of ring0 with 4 slots and `queues` queue pairs, some counters set (`queue` those of the queues). */
  function snapshot(queues = 1, queue: Record<string, bigint> = {}): Snapshot {
    const set = { r0_peer0_rx_packets: 42n, r0_peer0_rx_bytes: 4200n, r0_peer0_ring_rx_bad_desc: 1n, r0_polls: 77n, r0_peer0_ring_tx_used_bytes: 52429n, ...queue };
    return collectStats({
      ring: 'ring0',
      interfaces: ['eth1'],
      pinRoot,
      sysfsNet: sysfs,
      procNetDev,
      ethtool: ethtool(ringnetStats(4, set, { queues })),
      now: () => 1_000_000_000n,
    });
  }

  /** Queue k: sent 100k + 1, received 100k + 2, polled 100k + 3 times, interrupted 100k + 4 times. */
  const QUEUE_COUNTS = Object.fromEntries(
    [0, 1, 2, 3].flatMap((k) => ['tx_packets', 'rx_packets', 'polls', 'irqs'].map((n, i) => [`${i < 2 ? 'q' : 'ch'}${k}_${n}`, BigInt(100 * k + i + 1)])),
  );

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
      assert.ok(lines.some((l) => /^SLOT\s+NAME\s+STATE\s+GEN\s+MAC\s+HEARTBEAT\s+TX RING\s+RX RING\s+IPV4\s+IPV6$/.test(l)), text);
      // 52429 of 1 MiB: 5.0 %
      assert.ok(lines.some((l) => /^0\s+g1\s+up\s+3\s+4e:6c:45:0e:5d:01\s+76 ms\s+5\.0%\s+0%\s+198\.51\.100\.1,192\.0\.2\.1\s+2001:db8:2::1,2001:db8:1::1$/.test(l)), text);
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

    it('shows a line per queue index with several queue pairs, with TX and RX rates from the previous snapshot', () => {
      const a = snapshot(4, QUEUE_COUNTS);
      const lines = renderStats(a).split('\n');
      const at = lines.findIndex((l) => /^QUEUE\s+TX\s+RX\s+POLLS\s+IRQS$/.test(l));
      assert.ok(at > 0, lines.join('\n'));
      assert.deepEqual(lines.slice(at + 1, at + 6).map((l) => l.split(/\s+/)), [
        ['0', '1', '2', '3', '4'],
        ['1', '101', '102', '103', '104'],
        ['2', '201', '202', '203', '204'],
        ['3', '301', '302', '303', '304'],
        [''],
      ]);
      assert.match(lines[at + 6], /^SLOT\s+NAME/, 'the peer table follows');
      const b = snapshot(4, { ...QUEUE_COUNTS, q1_tx_packets: 101n + 2000n, q2_rx_packets: 202n + 30n });
      b.timeUnixNano = a.timeUnixNano + 2_000_000_000n;
      const text = renderStats(b, { previous: a });
      assert.match(text, /^QUEUE\s+TX\s+RX\s+POLLS\s+IRQS\s+TX\/S\s+RX\/S$/m);
      assert.match(text, /^1\s+2101\s+102\s+103\s+104\s+1000\s+0\.0$/m);
      assert.match(text, /^2\s+201\s+232\s+203\s+204\s+0\.0\s+15\.0$/m);
    });

    it('shows no queue lines with one queue pair: the counters above are its own', () => {
      assert.doesNotMatch(renderStats(snapshot(1, QUEUE_COUNTS)), /QUEUE/);
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
      assert.equal(get('kvmring_ring_receive_packets_total', { device: 'ring0', peer: '0' }), 42n);
      assert.equal(get('kvmring_ring_receive_events_total', { device: 'ring0', peer: '0', event: 'bad_desc' }), 1n);
      assert.equal(get('kvmring_ring_polls_total', { device: 'ring0' }), 77n);
      assert.equal(get('kvmring_ring_peer_up', { device: 'ring0', peer: '2' }), 0);
      assert.equal(get('kvmring_ring_peer_heartbeat_age_seconds', { device: 'ring0', peer: '2' }), 9);
      assert.equal(get('kvmring_ring_receive_packets_total', { device: 'ring0', peer: '1' }), undefined, 'not for our own slot');
      assert.equal(get('kvmring_ring_region_info', { device: 'ring0', region: '1', pci: '0000:00:12.0', owner: '1', readers: '0,2,3', mode: 'plain' }), 1);
      const total = (rows: bigint[]) => rows.reduce((a, b) => a + b, 0n);
      const counters = samples(s).filter((x) => x.name.endsWith('_total')).map((x) => BigInt(x.value));
      const rows = counterRows(s);
      assert.equal(total(counters), total(rows.flatMap((r) => [r.packets, r.bytes ?? 0n])));
    });

    it('gives the counters per queue index a queue label', () => {
      const queue = samples(snapshot(4, QUEUE_COUNTS)).filter((x) => x.name.startsWith('kvmring_ring_queue_'));
      assert.deepEqual(
        queue.filter((x) => x.labels.queue === '2').map((x) => [x.name, x.labels, x.value]),
        [
          ['kvmring_ring_queue_transmit_packets_total', { device: 'ring0', queue: '2' }, 201n],
          ['kvmring_ring_queue_receive_packets_total', { device: 'ring0', queue: '2' }, 202n],
          ['kvmring_ring_queue_polls_total', { device: 'ring0', queue: '2' }, 203n],
          ['kvmring_ring_queue_irqs_total', { device: 'ring0', queue: '2' }, 204n],
        ],
      );
      assert.deepEqual([...new Set(queue.map((x) => x.labels.queue))], ['0', '1', '2', '3']);
    });

    it('prints the counters per queue index as Prometheus text, with their help and type', async () => {
      const text = await new StatsMetrics().render(() => snapshot(4, QUEUE_COUNTS));
      const block = (name: string) => text.slice(text.indexOf(`# HELP ${name} `)).split('\n').slice(0, 6).join('\n');
      assert.equal(
        block('kvmring_ring_queue_transmit_packets_total'),
        [
          '# HELP kvmring_ring_queue_transmit_packets_total Frames sent on the queue pair, summed over the peers.',
          '# TYPE kvmring_ring_queue_transmit_packets_total counter',
          'kvmring_ring_queue_transmit_packets_total{device="ring0",queue="0"} 1',
          'kvmring_ring_queue_transmit_packets_total{device="ring0",queue="1"} 101',
          'kvmring_ring_queue_transmit_packets_total{device="ring0",queue="2"} 201',
          'kvmring_ring_queue_transmit_packets_total{device="ring0",queue="3"} 301',
        ].join('\n'),
      );
      assert.match(text, /^# TYPE kvmring_ring_queue_receive_packets_total counter$/m);
      assert.match(text, /^kvmring_ring_queue_receive_packets_total\{device="ring0",queue="1"\} 102$/m);
      assert.match(text, /^# HELP kvmring_ring_queue_polls_total NAPI polls of the channel with the queue's index \(none past the channel count\)\.$/m);
      assert.match(text, /^kvmring_ring_queue_polls_total\{device="ring0",queue="3"\} 303$/m);
      assert.match(text, /^# TYPE kvmring_ring_queue_irqs_total counter$/m);
      assert.match(text, /^kvmring_ring_queue_irqs_total\{device="ring0",queue="0"\} 4$/m);
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
