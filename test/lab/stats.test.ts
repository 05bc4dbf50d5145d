// ringctl serve and ringctl stats inside real guests: a gRPC client in the guest
// (ringctl stats --remote) reads ring0's counters per peer while traffic moves
// over the ring, the Prometheus endpoint agrees with `ringctl stats --json` and
// with `ethtool -S ring0`, and unloading ringnet.ko under a running server
// leaves an entry with an error, not a crash.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

import { StatsSnapshot, type RingPeer, type StatsSnapshot as Snapshot } from '../../src/gen/kvmring/v1/stats.js';
import { samples } from '../../src/stats/prometheus.js';
import { type Lab, REPO, assertThreeGuestRegions, labFixture, showJson, suiteSetup } from '../helpers/lab.js';
import { parseExposition } from '../helpers/prometheus.js';
import { requireTier } from '../helpers/tier.js';
import { SLOWDOWN, eventually } from '../helpers/time.js';

const SETUP = suiteSetup();

const RINGCTL = `${REPO}/bin/ringctl.js`;
const RING_UP = `${REPO}/scripts/guest/ring-up.sh`;

const sampleKey = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}}`;

/** Guest gN as a peer in the snapshot: by the roster's name, and it publishes its ring address. */
function peerOf(s: Snapshot, n: number): RingPeer {
  const p = s.ring?.peers.find((x) => x.name === `g${n}`);
  assert.ok(p, `no peer g${n} in ${JSON.stringify(StatsSnapshot.toJSON(s).ring)}`);
  assert.ok(p.ipv4.includes(`198.51.100.${n}`), `g${n} does not publish 198.51.100.${n}: ${JSON.stringify(p.ipv4)}`);
  return p;
}

// On the lab the ring suite leaves (pair isolation, plain mode; another with
// KVMRING_TEST_SETUP=owner,doorbell): the regions are the level's, the counters
// the domain's, the peers by slot with the roster's names.
describe(`ringctl serve and stats in the lab (3 guests, ${SETUP.title})`, function () {
  this.timeout(300_000);
  let lab: Lab;
  let grpcAddr: string;
  let metricsUrl: string;

  /** Starts ringctl serve in the background in `guest` on port 0; its log and addresses. */
  async function startServe(guest: string): Promise<{ grpc: string; metrics: string }> {
    await lab.sh(guest, `node ${RINGCTL} serve --grpc 127.0.0.1:0 --metrics 127.0.0.1:0 > /tmp/ringctl-serve.log 2>&1 & echo $! > /tmp/ringctl-serve.pid`);
    // Starting node in a TCG guest takes seconds, and many more on a loaded host.
    let log = '';
    return eventually(
      180_000,
      `${guest}: ringctl serve coming up`,
      async () => {
        log = await lab.sh(guest, 'cat /tmp/ringctl-serve.log');
        const g = /gRPC on (\S+)/.exec(log);
        const m = /Prometheus metrics on (\S+)/.exec(log);
        return g && m ? { grpc: g[1], metrics: m[1] } : undefined;
      },
      { every: 500, detail: () => log },
    );
  }

  /** GetStats from a gRPC client in the guest: `ringctl stats --remote ADDR --json`. */
  async function remoteStats(guest: string, addr = grpcAddr): Promise<Snapshot> {
    return StatsSnapshot.fromJSON(JSON.parse(await lab.sh(guest, `node ${RINGCTL} stats --remote ${addr} --json`)));
  }

  const scrape = (guest: string, url = metricsUrl) =>
    lab.sh(guest, `node -e 'fetch(process.argv[1]).then((r) => r.text()).then((t) => process.stdout.write(t))' ${url}`);

  before(async function () {
    requireTier(this, 'lab');
    lab = await labFixture.get({ guests: 3, isolation: SETUP.isolation, doorbell: SETUP.doorbell });
    ({ grpc: grpcAddr, metrics: metricsUrl } = await startServe('g1'));
  });

  after(async () => {
    if (!lab) return;
    for (const g of ['g1', 'g3']) await lab.exec(g, ['sh', '-c', 'kill $(cat /tmp/ringctl-serve.pid) 2>/dev/null; true']);
  });

  it(`GetStats: ring0 is a ringnet device with this guest and two live peers, named as the roster names them, and the regions of ${SETUP.isolation} isolation`, async () => {
    const s = await remoteStats('g1');
    assert.equal(s.hostname, 'g1');
    assert.equal(s.ring?.error, '');
    assert.equal(s.ring?.driver, 'ringnet');
    const plan = await lab.plan();
    const self = await lab.slotOf('g1');
    assert.deepEqual(
      s.ring.peers.map((p) => [p.slot, p.name, p.state, p.mac, p.claimedMac, p.addrsRefused]),
      plan.guests.map((g) => [g.slot, g.name, g.slot === self ? 'PEER_STATE_SELF' : 'PEER_STATE_UP', g.mac, '', 0]),
    );
    // pair: g1 owns one region per other guest and reads one of each; owner: one of its own, read by both.
    const regions = s.ring.regions;
    assert.ok(regions.every((r) => r.selfSlot === self && r.ringSizeBytes > 0), showJson(regions));
    assertThreeGuestRegions(regions, self, plan.guests.map((g) => g.slot).filter((x) => x !== self), SETUP);
    // Each peer's entry is in the region it owns for g1.
    for (const p of s.ring.peers.filter((x) => x.slot !== self)) {
      assert.deepEqual(regions.find((r) => r.region === p.region)?.owner, p.slot, `${p.name}'s entry is in region ${p.region}`);
    }
    assert.equal(s.ring.counters?.macConflicts, 0n);
    assert.equal(s.ring.counters?.addrConflicts, 0n);
    assert.deepEqual(s.ring.conflicts, []);
    assert.equal(s.interfaces.find((i) => i.device === 'ring0')?.error, '');
  });

  it('reports how full each ring is: empty when idle, the bytes waiting for a consumer that stopped', async () => {
    // Idle: every ring drained.
    const s = await remoteStats('g1');
    const size = s.ring!.regions[0].ringSizeBytes;
    for (const n of [2, 3]) assert.deepEqual(peerOf(s, n).occupancy, { txUsedBytes: 0, rxUsedBytes: 0, sizeBytes: size }, `g1's rings with g${n}`);
    assert.equal(s.ring!.peers.find((p) => p.state === 'PEER_STATE_SELF')?.occupancy, null);

    // With ring0 down, g1 takes nothing from its rings (NAPI is off) while it
    // stays a live peer: what g3 sends it waits in the ring from g3 to g1.
    const slot = peerOf(s, 3).slot;
    const g1Slot = await lab.slotOf('g1');
    const gauge = async (g: string, peer: number, dir: 'tx' | 'rx') => (await lab.ethtoolStats(g)).get(`r0_peer${peer}_ring_${dir}_used_bytes`) ?? -1;
    const g1Mac = (await lab.sh('g1', 'cat /sys/class/net/ring0/address')).trim();
    await lab.sh('g3', `ip neigh replace 198.51.100.1 lladdr ${g1Mac} dev ring0 nud permanent`);
    await lab.sh('g1', 'ip link set ring0 down');
    let rx: number;
    try {
      // 20 requests of 1042-byte frames, unanswered.
      await lab.sh('g3', 'ping -q -c 20 -i 0.05 -s 1000 -W 1 198.51.100.1 >/dev/null; true', { timeoutMs: 60_000 });
      rx = await gauge('g1', slot, 'rx');
      const tx = await gauge('g3', g1Slot, 'tx');
      assert.ok(rx >= 20 * 1042 && rx <= size, `g1 sees ${rx} bytes waiting from g3`);
      // Both ends read the same ring; g3 may have queued more since (neighbour discovery).
      assert.ok(tx >= rx, `g3 sees ${tx} bytes waiting for g1, g1 ${rx}`);
      const used = peerOf(await remoteStats('g1'), 3).occupancy?.rxUsedBytes ?? -1;
      assert.ok(used >= rx, `ringctl stats says ${used}, ethtool ${rx}`);
    } finally {
      await lab.sh('g1', RING_UP, { timeoutMs: 120_000 });
      await lab.sh('g3', 'ip neigh del 198.51.100.1 dev ring0; true');
    }
    // Up again, g1 drains the ring.
    await eventually(20_000, 'g1 draining the ring from g3', async () => (await gauge('g1', slot, 'rx')) === 0);
    console.log(`      (g1's ring from g3 held ${rx} of ${size} bytes while g1's ring0 was down)`);
  });

  it('the counters of the peer a ping goes to move, and agree with ethtool -S ring0', async () => {
    const before = await remoteStats('g1');
    await lab.sh('g1', 'ping -c 5 -i 0.2 -W 5 198.51.100.2');
    const eth = await lab.ethtoolStats('g1');
    const after = await remoteStats('g1');
    const [p0, p1] = [peerOf(before, 2), peerOf(after, 2)];
    const d = (f: 'txPackets' | 'rxPackets') => p1.counters![f] - p0.counters![f];
    assert.ok(d('txPackets') >= 5n, `g1 -> g2 tx_packets rose by ${d('txPackets')}`);
    assert.ok(d('rxPackets') >= 5n, `g2 -> g1 rx_packets rose by ${d('rxPackets')}`);
    const r0 = (i: Snapshot) => i.interfaces.find((x) => x.device === 'ring0')!;
    assert.ok(r0(after).txPackets - r0(before).txPackets >= 5n);
    // ethtool read between the two: each counter lies between them.
    const name = `r0_peer${p1.slot}_tx_packets`;
    const v = BigInt(eth.get(name) ?? -1);
    assert.ok(p0.counters!.txPackets <= v && v <= p1.counters!.txPackets, `${name} ${v} not within ${p0.counters!.txPackets}..${p1.counters!.txPackets}`);
    // The other peer saw none of it (an ARP broadcast at most: those go to every peer).
    const other = peerOf(after, 3).counters!.txPackets - peerOf(before, 3).counters!.txPackets;
    assert.ok(other <= 2n, `g1 -> g3 tx_packets rose by ${other} while g1 pinged g2`);
  });

  it('WatchStats: a stream in the guest follows traffic over ring0', async () => {
    // The ping starts once the stream has delivered its first snapshot (node is slow to start under TCG).
    const out = await lab.sh(
      'g1',
      `rm -f /tmp/watch.out; node ${RINGCTL} stats --remote ${grpcAddr} --watch 1 --count 8 --json > /tmp/watch.out & w=$!; ` +
        'while [ ! -s /tmp/watch.out ] && kill -0 $w 2>/dev/null; do sleep 0.2; done; ' +
        'ping -c 10 -i 0.2 -W 5 198.51.100.3 > /dev/null; wait $w; cat /tmp/watch.out',
      { timeoutMs: 180_000 },
    );
    const lines = out.trim().split('\n');
    assert.equal(lines.length, 8);
    const snaps = lines.map((l) => StatsSnapshot.fromJSON(JSON.parse(l)));
    const tx = snaps.map((s) => peerOf(s, 3).counters!.txPackets);
    assert.ok(tx[7] - tx[0] >= 10n, `tx to g3 over the stream: ${tx.join(' ')}`);
    assert.ok(tx.every((v, i) => i === 0 || v >= tx[i - 1]));
    for (let i = 1; i < snaps.length; i++) assert.ok(snaps[i].timeUnixNano > snaps[i - 1].timeUnixNano);
  });

  it('serves Prometheus text that promtool accepts and that agrees with ringctl stats --json', async () => {
    await lab.sh('g2', 'ping -c 3 -i 0.2 -W 5 198.51.100.1');
    const first = await scrape('g1');
    const json = StatsSnapshot.fromJSON(JSON.parse(await lab.sh('g1', `node ${RINGCTL} stats --json`)));
    const second = await scrape('g1');
    const check = spawnSync('promtool', ['check', 'metrics'], { input: first, encoding: 'utf8' });
    assert.equal(check.status, 0, `promtool check metrics:\n${check.stdout}${check.stderr}`);
    const [a, b] = [parseExposition(first), parseExposition(second)];
    let compared = 0;
    for (const x of samples(json)) {
      if (!x.name.endsWith('_total')) continue;
      const key = sampleKey(x.name, x.labels);
      assert.ok(a.has(key), `${key} is in ringctl stats --json but not in /metrics`);
      const v = Number(x.value);
      assert.ok(a.get(key)! <= v && v <= b.get(key)!, `${key}: ${a.get(key)} <= ${v} <= ${b.get(key)} does not hold`);
      compared++;
    }
    assert.ok(compared > 50, `only ${compared} counters compared`);
    const slot = peerOf(json, 2).slot;
    assert.ok(a.get(`kvmring_ring_receive_packets_total{device="ring0",peer="${slot}"}`)! >= 3);
    assert.equal(a.get(`kvmring_ring_peer_up{device="ring0",peer="${slot}"}`), 1);
    const mac = (await lab.plan()).guests.find((g) => g.name === 'g2')?.mac;
    assert.equal(a.get(`kvmring_ring_peer_info{device="ring0",peer="${slot}",name="g2",state="up",mac="${mac}",generation="${peerOf(json, 2).generation}"}`), 1);
    assert.equal(a.get('kvmring_ring_mac_conflicts_total{device="ring0"}'), 0);
    assert.equal(a.get('kvmring_source_up{source="ring",device="ring0"}'), 1);
  });

  it('ringctl stats prints one table of the counters and the peer table', async () => {
    const out = await lab.sh('g1', `node ${RINGCTL} stats`);
    const slot = await lab.slotOf('g2');
    assert.match(out, /^SOURCE\s+DEVICE\s+PEER\s+COUNTER\s+PACKETS\s+BYTES$/m);
    assert.match(out, /^interface\s+ring0\s+-\s+rx\s+\d+\s+\d+$/m);
    assert.match(out, new RegExp(`^ring\\s+ring0\\s+${slot}\\s+tx\\s+[1-9]\\d*\\s+[1-9]\\d*$`, 'm'));
    assert.match(out, /^ring\s+ring0\s+-\s+polls\s+[1-9]\d*\s+-$/m);
    assert.match(out, /^SLOT\s+NAME\s+STATE\s+GEN\s+MAC\s+HEARTBEAT\s+TX RING\s+RX RING\s+IPV4\s+IPV6$/m);
    assert.match(out, new RegExp(`^${slot}\\s+g2\\s+up\\s+\\d+\\s+\\S+\\s+\\d.*198\\.51\\.100\\.2`, 'm'));
    assert.doesNotMatch(out, /not read:/);
  });

  it('keeps serving while ringnet.ko is unloaded, and reads ring0 again once it is back', async () => {
    const { grpc } = await startServe('g3');
    try {
      await lab.sh('g3', 'rmmod ringnet');
      const s = await remoteStats('g3', grpc);
      assert.equal(s.ring?.error, 'ring0: no such device (is ringnet.ko loaded?)');
      assert.equal(s.interfaces.find((i) => i.device === 'ring0')?.error, 'ring0: no such device (is ringnet.ko loaded?)');
    } finally {
      await lab.sh('g3', `${REPO}/scripts/guest/ring-up.sh`, { timeoutMs: 60_000 });
    }
    const back = await remoteStats('g3', grpc);
    assert.equal(back.ring?.error, '');
    assert.equal(back.ring?.driver, 'ringnet');
  });

  it('stops on SIGTERM with a line in its log', async () => {
    await lab.sh('g1', 'kill -TERM $(cat /tmp/ringctl-serve.pid)');
    let log = '';
    await eventually(30_000 * SLOWDOWN, 'g1: ringctl serve stopping', async () => /stopped/.test((log = await lab.sh('g1', 'cat /tmp/ringctl-serve.log'))), {
      detail: () => log,
    });
    assert.match(log, /ringctl serve: SIGTERM, stopping\nringctl serve: stopped\n$/);
    const r = await lab.exec('g1', ['node', RINGCTL, 'stats', '--remote', grpcAddr]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot connect \(connection refused\); is ringctl serve running there\?/);
  });

  describe('afterwards', () => {
    it("leaves no oops, warning or panic in any guest's kernel log", async () => {
      await lab.assertKernelLogsClean();
    });

    it('leaves every ring without resets or bad indices', async () => {
      await lab.assertRingsClean();
    });
  });
});
