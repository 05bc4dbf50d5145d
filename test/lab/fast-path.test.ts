// ringnet's fast path. It sends in batches: one store of the producer's word
// (and at most one doorbell) per run of netdev_xmit_more(), per ndo_xdp_xmit
// bulk and per NAPI poll's XDP_TX frames, rather than one per frame (a batch
// also publishes in the middle once it holds a quarter of the ring, which
// these small frames never reach). pktgen
// makes the runs (burst > 1 sets xmit_more); the ring counters
// r0_peerN_ring_tx_frames and _publishes count frames and stores. Every frame
// still arrives: the peer counts each one, and no ring keeps frames committed
// and never published. And a socket can busy-poll ring0's NAPI.
import assert from 'node:assert/strict';

import { CONSTANTS as C } from '../../src/ring/layout.js';
import { ETH_P_IP, eth, ipv4 } from '../host/frames.js';
import { type Lab, REPO, labFixture } from '../helpers/lab.js';
import { requireTier } from '../helpers/tier.js';
import { SLOWDOWN, eventually } from '../helpers/time.js';
import { XDP_VERDICT_OBJ, redirectTo } from '../helpers/xdp-verdict.js';

const OBJ = `${REPO}/${XDP_VERDICT_OBJ}`;
const PIN = '/sys/fs/bpf/batching_test';
/** ringnet.h's ringnet_txq(): TX queue 0 carries broadcasts, 1 + slot * RINGNET_QUEUES_MAX + k queue k of a peer. */
const ownerTxq = (slot: number, k = 0) => 1 + slot * C.KVMRING_QUEUES_MAX + k;

/** Each guest's slot (the host's, the same in every roster) and ring0 MAC. */
interface Ends {
  g1: { slot: number; mac: string };
  g2: { slot: number; mac: string };
}

describe('ringnet\'s fast path: batches and busy polling (3 guests)', function () {
  this.timeout(300_000 * SLOWDOWN);
  let lab: Lab;
  let ends: Ends;

  const stat = async (g: string, name: string) => (await lab.ethtoolStats(g)).get(name) ?? 0;
  /** g's ring counters towards slot, and its frames received from it. */
  const counters = async (g: string, slot: number) => {
    const s = await lab.ethtoolStats(g);
    const get = (n: string) => s.get(`r0_peer${slot}_${n}`) ?? 0;
    return {
      frames: get('ring_tx_frames'), publishes: get('ring_tx_publishes'), rx: get('rx_packets'),
      txDropped: get('tx_dropped'), rxDropped: get('rx_dropped'),
    };
  };

  /**
   * Both guests' counters towards each other before a test sends from `tx` to `rx`,
   * the receiver's first. Read the other way round, a frame `tx` sends in between
   * (IPv6 neighbour discovery, say) would count among the sender's frames but could
   * reach `rx` before its own snapshot, and the receiver would seem one frame short.
   */
  const snapshot = async ({ rx, tx }: { rx: 'g1' | 'g2'; tx: 'g1' | 'g2' }) => {
    const got = await counters(rx, ends[tx].slot);
    return { [rx]: got, [tx]: await counters(tx, ends[rx].slot) } as Record<'g1' | 'g2', typeof got>;
  };

  /** g's counters of the frames its NAPI dropped or refused, and why: what a failure names. */
  const dropReasons = async (g: string) => {
    const s = await lab.ethtoolStats(g);
    return ['rx_alloc_fail', 'rx_bad_meta', 'rx_bad_src', 'rx_no_peer', 'xdp_drop', 'xdp_aborted']
      .map((n) => `${n} ${s.get(`r0_${n}`) ?? '?'}`).join(', ');
  };

  /**
   * pktgen on `dev` of guest g: `count` UDP frames of 60 bytes to `mac`, in bursts of
   * `burst` (xmit_more set on all but a burst's last), on TX queue `txq`; from
   * `src` (the device's own MAC if not given).
   */
  async function pktgen(g: string, dev: string, opts: { mac: string; src?: string; dst: string; count: number; burst: number; txq: number }) {
    const d = `/proc/net/pktgen/${dev}`;
    await lab.sh(g, [
      'modprobe pktgen',
      'echo rem_device_all > /proc/net/pktgen/kpktgend_0',
      `echo "add_device ${dev}" > /proc/net/pktgen/kpktgend_0`,
      ...[`count ${opts.count}`, 'pkt_size 60', `burst ${opts.burst}`, 'delay 0', `dst ${opts.dst}`, `dst_mac ${opts.mac}`,
        'udp_dst_min 9', 'udp_dst_max 9', `queue_map_min ${opts.txq}`, `queue_map_max ${opts.txq}`,
        ...(opts.src ? [`src_mac ${opts.src}`] : [])]
        .map((c) => `echo "${c}" > ${d}`),
      // Returns when every frame has been handed to the driver.
      'timeout 120 sh -c "echo start > /proc/net/pktgen/pgctrl"',
      `grep -q "Result: OK" ${d} || { cat ${d}; exit 1; }`,
      'echo rem_device_all > /proc/net/pktgen/kpktgend_0',
    ].join(' && '), { timeoutMs: 180_000 });
  }

  before(async function () {
    requireTier(this, 'lab');
    lab = await labFixture.get({ guests: 3 });
    const [s2, s1] = [await lab.slotOf('g2'), await lab.slotOf('g1')];
    const mac = async (g: string) => (await lab.sh(g, 'cat /sys/class/net/ring0/address')).trim();
    ends = { g1: { slot: s1, mac: await mac('g1') }, g2: { slot: s2, mac: await mac('g2') } };
    await lab.sh('g2', `rm -rf ${PIN} && mkdir -p ${PIN} && bpftool prog loadall ${OBJ} ${PIN}/progs pinmaps ${PIN}/maps`);
  });

  afterEach(async () => {
    if (!lab) return;
    await lab.exec('g2', ['sh', '-c', 'ip link set dev ring0 xdpdrv off; true']);
    await lab.assertRingsClean();
    await lab.assertKernelLogsClean();
  });

  after(async () => {
    if (lab) await lab.exec('g2', ['rm', '-rf', PIN]);
  });

  it('publishes once per run of netdev_xmit_more(), and every frame arrives', async () => {
    const count = 3200;
    // The receiver's counters first (see snapshot()).
    const before = await snapshot({ rx: 'g2', tx: 'g1' });
    await pktgen('g1', 'ring0', { mac: ends.g2.mac, dst: '198.51.100.2', count, burst: 16, txq: ownerTxq(ends.g2.slot) });
    const g1 = await counters('g1', ends.g2.slot);
    const frames = g1.frames - before.g1.frames;
    const publishes = g1.publishes - before.g1.publishes;
    assert.ok(frames >= count, `g1 committed ${frames} frames to g2 for pktgen's ${count}`);
    // One store per burst of 16 (more where a full ring stopped the queue mid-burst).
    assert.ok(publishes * 4 <= frames, `g1 published ${publishes} times for ${frames} frames`);
    // Nothing was left committed and unpublished: g2 gets every one.
    await eventually(30_000, `g2 receives g1's ${frames} frames`, async () =>
      (await counters('g2', ends.g1.slot)).rx - before.g2.rx >= frames);
  });

  it('sends XDP_TX frames back in one publish per poll, and accounts for each one', async () => {
    await lab.sh('g2', `ip link set dev ring0 xdpdrv pinned ${PIN}/progs/xdp_tx`);
    const count = 3200;
    const before = { ...await snapshot({ rx: 'g1', tx: 'g2' }), xdpTx: await stat('g2', 'r0_xdp_tx'), polls: await stat('g2', 'r0_polls') };
    await pktgen('g1', 'ring0', { mac: ends.g2.mac, dst: '198.51.100.2', count, burst: 16, txq: ownerTxq(ends.g2.slot) });
    const xdpTx = await eventually(30_000, 'g2 reflects pktgen\'s frames', async () => {
      const n = (await stat('g2', 'r0_xdp_tx')) - before.xdpTx;
      return n >= count ? n : false;
    });
    const g2 = await counters('g2', ends.g1.slot);
    const polls = (await stat('g2', 'r0_polls')) - before.polls;
    const publishes = g2.publishes - before.g2.publishes;
    const committed = g2.frames - before.g2.frames;
    // XDP_TX has no queue to stop: a frame that finds g1's ring full is dropped
    // and counted (veth does the same). Each one is either in the ring or counted
    // (the counters also see any other frame g2 sends g1 meanwhile).
    const dropped = g2.txDropped - before.g2.txDropped;
    assert.ok(committed + dropped >= xdpTx,
      `g2 reflected ${xdpTx} frames, committed ${committed} to g1's ring and counted ${dropped} dropped`);
    // At most one XDP_TX publish per poll, whatever the frames per poll were.
    assert.ok(publishes <= polls, `g2 published ${publishes} times in ${polls} polls for ${xdpTx} XDP_TX frames`);
    assert.ok(publishes < committed, `g2 published ${publishes} times for ${committed} committed XDP_TX frames`);
    // Nothing committed stays unpublished: g1 takes every committed frame, and
    // receives it or counts it dropped. g2 reflects whatever g1 sent it meanwhile;
    // a multicast of g1's (IPv6 neighbour discovery, say) comes back with a source
    // that is not g2's, which g1 refuses and counts (rx_bad_src).
    let got = 0;
    let lost = 0;
    await eventually(30_000, `g1 takes the ${committed} frames g2 committed`, async () => {
      const g1 = await counters('g1', ends.g2.slot);
      got = g1.rx - before.g1.rx;
      lost = g1.rxDropped - before.g1.rxDropped;
      return got + lost >= committed;
    }, { detail: async () => `g1 received ${got} and dropped ${lost} (${await dropReasons('g1')}); g2 reflected ${xdpTx}, dropped ${dropped}, published ${publishes} times` });
  });

  it('lets a socket busy-poll ring0\'s NAPI (net.core.busy_read)', async () => {
    // A UDP echo in g2; g1's socket busy-polls for each answer. TcpExt
    // BusyPollRxPackets counts packets a busy poll took: none unless the skbs
    // carry ring0's NAPI id (napi_gro_receive() marks it) and that NAPI can be
    // polled from outside its softirq.
    const busy = async () => {
      const lines = (await lab.sh('g1', 'cat /proc/net/netstat')).split('\n').filter((l) => l.startsWith('TcpExt:'));
      const i = lines[0].split(/\s+/).indexOf('BusyPollRxPackets');
      assert.ok(i > 0, 'no TcpExt BusyPollRxPackets in /proc/net/netstat');
      return Number(lines[1].split(/\s+/)[i]);
    };
    const echo = lab.exec('g2', ['timeout', '60', 'python3', '-c', `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('198.51.100.2', 9099))
s.settimeout(30)
for _ in range(200):
    b, a = s.recvfrom(64)
    s.sendto(b, a)
`], { timeoutMs: 90_000 });
    const before = await busy();
    const old = (await lab.sh('g1', 'sysctl -n net.core.busy_read')).trim();
    // 5 ms: longer than a round trip under TCG, so that the answer comes while the socket polls.
    await lab.sh('g1', 'sysctl -qw net.core.busy_read=5000');
    try {
      // A blocking socket: recvfrom() busy-polls; one with a timeout would poll() first.
      await lab.sh('g1', `timeout 60 python3 -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
time.sleep(1)
for i in range(200):
    s.sendto(b'x', ('198.51.100.2', 9099))
    s.recvfrom(64)
"`, { timeoutMs: 90_000 });
    } finally {
      await lab.sh('g1', `sysctl -qw net.core.busy_read=${old}`);
    }
    assert.equal((await echo).code, 0, 'the echo server in g2 did not answer 200 requests');
    const polled = (await busy()) - before;
    assert.ok(polled > 0, `g1's busy polls took ${polled} packets from ring0`);
  });

  it('publishes an ndo_xdp_xmit bulk once', async () => {
    // BPF_PROG_TEST_RUN in live-frames mode runs xdp_redirect on `count` real frames,
    // 64 per batch; the devmap hands ring0's ndo_xdp_xmit() bulks of 16
    // (DEV_MAP_BULK_SIZE) and flushes at the end of each batch. Unlike frames
    // through a veth, whose bulks are as large as the CPU lets a queue grow, the
    // bulks do not depend on timing.
    await redirectTo(lab, 'g2', PIN, 'ring0');
    const count = 3200;
    const before = await snapshot({ rx: 'g1', tx: 'g2' });
    // From g2's ring0 MAC: g1 takes from g2's ring only frames with that source.
    // 60 bytes: UDP in IPv4, 198.51.100.2 -> .1.
    const frame = eth({ dst: ends.g1.mac, src: ends.g2.mac, proto: ETH_P_IP, payload: ipv4({ src: '198.51.100.2', dst: '198.51.100.1' }) });
    await lab.sh('g2', `node --input-type=module -e "
import * as lb from '${REPO}/dist/src/libbpf/index.js';
const fd = lb.objGet('${PIN}/progs/xdp_redirect');
lb.testRun(fd, { data: Buffer.from('${frame.toString('hex')}', 'hex'), repeat: ${count},
  flags: lb.BPF_F_TEST_XDP_LIVE_FRAMES, batchSize: 64 }, 'xdp_redirect');
"`, { timeoutMs: 120_000 });
    const g2 = await counters('g2', ends.g1.slot);
    const frames = g2.frames - before.g2.frames;
    const publishes = g2.publishes - before.g2.publishes;
    console.log(`      (${frames} frames redirected into ring0 in ${publishes} publishes)`);
    assert.ok(frames >= count, `g2 sent ${frames} of ${count} redirected frames to g1`);
    // One store per bulk of 16 (more where a full ring refused part of a bulk).
    assert.ok(publishes * 8 <= frames, `g2 published ${publishes} times for ${frames} redirected frames`);
    let g1: Awaited<ReturnType<typeof counters>> | undefined;
    await eventually(30_000, `g1 receives g2's ${frames} frames`, async () => {
      g1 = await counters('g1', ends.g2.slot);
      return g1.rx - before.g1.rx >= frames;
    }, { detail: async () => `g1 received ${g1 ? g1.rx - before.g1.rx : '?'} and dropped ${g1 ? g1.rxDropped - before.g1.rxDropped : '?'} (${await dropReasons('g1')})` });
  });
});
