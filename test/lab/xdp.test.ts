// ringctl attach in real guests: xdp_ring on eth1 redirecting into ring0, the
// peer map filled from ring0's peer table and kept in step by --follow, and
// transparent mode moving eth1-addressed TCP onto the ring and back to eth1
// without breaking the connection. What each test sends where:
//   - redirect: g1 sends 198.51.100.3-bound packets out of its eth1 to g2's eth1
//     MAC (a /32 route and a static neighbour); g2 forwards on eth1, and its
//     xdp_ring re-addresses them into ring0 before its stack sees them (its
//     counters and ring0's prove it). g3 answers 192.0.2.1 over eth1 (its
//     route), and g1's ping sees the replies. With forwarding off, xdp_ring
//     leaves them to g2's stack, which drops them: redirecting is routing.
//   - transparent: g1 -> 192.0.2.2 (g2's eth1 address) is diverted by g1's
//     tc_transparent into ring0; g2's replies to 192.0.2.1 by g2's. The bridge's
//     taps on the host see none of it until the diversion stops.
// Timing-sensitive measurements run inside the guests, since starting ringctl
// in a TCG guest takes seconds. The lab is the ring suite's last (pair
// isolation, plain mode), which stats.test.ts uses too; the other suites run
// under owner isolation, the default. KVMRING_TEST_SETUP=owner,doorbell (any
// level and mode) runs this suite on another setup by hand.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { formatIp, formatMac, type IpFamily } from '../../src/xdp/cidr.js';
import { XDP_STATS, TC_STATS } from '../../src/xdp/codecs.js';
import { type Lab, REPO, assertThreeGuestRegions, labFixture, suiteSetup } from '../helpers/lab.js';
import { requireTier } from '../helpers/tier.js';
import { SLOWDOWN, eventually as pollUntil } from '../helpers/time.js';

const SETUP = suiteSetup();

const RINGCTL = `${REPO}/bin/ringctl.js`;
const RING_UP = `${REPO}/scripts/guest/ring-up.sh`;
const PINS = '/sys/fs/bpf/ringctl/eth1';
const lines = (s: string) => s.split('\n').filter((l) => l !== '');

/** Polls every 300 ms: the checks here run ringctl or bpftool in a guest. */
const eventually = (ms: number, what: string, check: () => Promise<boolean>) => pollUntil(ms, what, check, { every: 300 });

interface BpftoolEntry<K, V> {
  formatted: { key: K; value?: V; values?: { cpu: number; value: V }[] };
}

interface MapPeer {
  mac: string;
  ring: boolean;
  ordinary: boolean;
}

describe(`ringctl attach in guests: XDP into ring0, peers, transparent mode (3 guests, ${SETUP.title})`, function () {
  this.timeout(900_000);
  let lab: Lab;
  const followers = new Map<string, number>();

  const ringctl = (g: string, args: string, env = '') => lab.exec(g, ['sh', '-c', `${env} node ${RINGCTL} ${args}`], { timeoutMs: 300_000 });
  const ringctlOk = async (g: string, args: string) => {
    const r = await ringctl(g, args);
    assert.equal(r.code, 0, `${g}: ringctl ${args} exited ${r.code}\n${r.stdout}${r.stderr}`);
    return r.stdout;
  };

  /** Per-verdict/reason packet counts of a pinned per-CPU stats map, summed over CPUs. */
  async function stats(g: string, map: 'xdp_stats' | 'tc_stats'): Promise<Record<string, number>> {
    const names: readonly string[] = map === 'xdp_stats' ? XDP_STATS : TC_STATS;
    const dump = JSON.parse(await lab.sh(g, `bpftool -j map dump pinned ${PINS}/${map}`)) as BpftoolEntry<number, { packets: number }>[];
    const out: Record<string, number> = {};
    for (const e of dump) out[names[e.formatted.key]] = (e.formatted.values ?? []).reduce((n, v) => n + v.value.packets, 0);
    return out;
  }

  /** ring_peers of g's eth1: address -> entry. */
  async function peerMap(g: string): Promise<Map<string, MapPeer>> {
    type K = { family: IpFamily; addr: number[] };
    type V = { ring_mac: number[]; flags: number };
    const dump = JSON.parse(await lab.sh(g, `bpftool -j map dump pinned ${PINS}/ring_peers`)) as BpftoolEntry<K, V>[];
    const out = new Map<string, MapPeer>();
    for (const { formatted: f } of dump) {
      const bytes = Uint8Array.from(f.key.addr.slice(0, f.key.family === 4 ? 4 : 16));
      out.set(formatIp({ family: f.key.family, bytes }), {
        mac: formatMac(Uint8Array.from(f.value!.ring_mac)),
        ring: (f.value!.flags & 1) !== 0,
        ordinary: (f.value!.flags & 2) !== 0,
      });
    }
    return out;
  }

  /** A host-side tap's counters (the guest's eth1 as the bridge sees it). */
  function tap(n: number): { rxBytes: number; txBytes: number; rxPackets: number; txPackets: number } {
    type Counts = { bytes: number; packets: number };
    const j = JSON.parse(execFileSync('ip', ['-n', `kvmring-${lab.name}`, '-s', '-j', 'link', 'show', `tap${n}`], { encoding: 'utf8' })) as { stats64: { rx: Counts; tx: Counts } }[];
    const s = j[0].stats64;
    return { rxBytes: s.rx.bytes, txBytes: s.tx.bytes, rxPackets: s.rx.packets, txPackets: s.tx.packets };
  }

  const mac = async (g: string, dev: string) => (await lab.sh(g, `cat /sys/class/net/${dev}/address`)).trim();

  /** Runs `ringctl attach eth1 ARGS --follow` in the background; its pid. */
  async function startFollow(g: string, args: string): Promise<number> {
    const pid = Number((await lab.sh(g, `node ${RINGCTL} attach eth1 ${args} --follow > /tmp/follow.log 2>&1 & echo $!`)).trim());
    followers.set(g, pid);
    await eventually(240_000, `${g}: the follower starting`, async () => (await lab.sh(g, 'cat /tmp/follow.log')).includes('following the peer tables'));
    return pid;
  }

  /** Stops g's follower with SIGTERM; its log. */
  async function stopFollow(g: string): Promise<string> {
    const pid = followers.get(g);
    if (pid === undefined) return '';
    followers.delete(g);
    return lab.sh(g, `kill -TERM ${pid} 2>/dev/null; while [ -e /proc/${pid} ]; do sleep 0.1; done; cat /tmp/follow.log`);
  }

  interface Sample {
    ring: number;
    eth1: number;
    /** Whether the event had finished when the sample was taken. */
    after: boolean;
  }

  /**
   * Runs iperf3 (TCP, 100 Mbit/s) from `g` to `dst` for `seconds`, sampling g's ring0 and eth1
   * tx_bytes about every second. Once ring0 has carried 20 MB of it, runs the
   * shell command `event` in g (in the background; each sample says whether it
   * has finished). Starting ringctl in a TCG guest takes seconds, so the event
   * is timed in the guest, not from here.
   */
  async function iperfAcross(g: string, dst: string, seconds: number, event: string) {
    const ringTx = 'cat /sys/class/net/ring0/statistics/tx_bytes 2>/dev/null || echo 0';
    const script = [
      'rm -f /tmp/event.done /tmp/event.out',
      `r0=$(${ringTx})`,
      // At a set rate: a sender saturating the guest's one vCPU would leave the
      // event (starting ringctl) no time to run. Under TCG even 200 Mbit/s
      // slowed ringctl threefold.
      `iperf3 -c ${dst} -t ${seconds} -b 100M -J > /tmp/iperf.json 2>&1 & p=$!`,
      'started=',
      'while kill -0 $p 2>/dev/null; do',
      `  r=$(${ringTx}); e=$(cat /sys/class/net/eth1/statistics/tx_bytes)`,
      '  echo "sample $r $e $([ -e /tmp/event.done ] && echo after || echo before)"',
      '  if [ -z "$started" ] && [ $((r - r0)) -gt 20000000 ]; then',
      `    started=1; { (${event}) > /tmp/event.out 2>&1; echo $? > /tmp/event.done; } &`,
      '  fi',
      '  sleep 1',
      'done',
      'wait $p; echo "rc $?"',
      'while [ -n "$started" ] && ! [ -e /tmp/event.done ]; do sleep 0.2; done',
      'echo "event ${started:+$(cat /tmp/event.done)}"; cat /tmp/event.out; echo "--- json"; cat /tmp/iperf.json',
    ].join('\n');
    const r = await lab.exec(g, ['sh', '-c', script], { timeoutMs: (seconds + 300) * 1000 });
    const out = r.stdout;
    const samples: Sample[] = [...out.matchAll(/^sample (\d+) (\d+) (before|after)$/gm)].map((m) => ({
      ring: Number(m[1]),
      eth1: Number(m[2]),
      after: m[3] === 'after',
    }));
    const rc = Number(/^rc (\d+)$/m.exec(out)?.[1] ?? -1);
    const eventCode = /^event (\d*)$/m.exec(out)?.[1];
    const json = out.slice(out.indexOf('--- json\n') + 9);
    return { samples, rc, eventCode, eventOut: out.slice(out.indexOf('\nevent ') + 1, out.indexOf('--- json')), json, raw: out + r.stderr };
  }

  /**
   * Asserts one TCP connection that ran on ring0 with eth1 quiet before the
   * event, and over eth1 (ring0 quiet) after it until its end, with no error.
   */
  function assertMovedToEth1(r: Awaited<ReturnType<typeof iperfAcross>>, what: string) {
    assert.equal(r.rc, 0, `iperf3 failed ${what}:\n${r.raw}`);
    const j = JSON.parse(r.json) as { error?: string; end: { sum_received: { bytes: number } } };
    assert.equal(j.error, undefined);
    const d = r.samples.slice(1).map((x, i) => ({ ring: x.ring - r.samples[i].ring, eth1: x.eth1 - r.samples[i].eth1, after: r.samples[i].after }));
    const show = JSON.stringify(d);
    assert.equal(r.eventCode, '0', `the event (${what}) failed or never ran: ${r.eventOut}\n${show}`);
    const before = d.filter((x) => !x.after);
    const after = d.filter((x) => x.after);
    assert.ok(before.some((x) => x.ring > 5_000_000 && x.eth1 < 500_000), `no second with traffic on ring0 and eth1 quiet before ${what}: ${show}`);
    assert.ok(after.length >= 3, `the transfer ended too soon after ${what} to see where it went (${after.length} samples after it; the event said: ${r.eventOut.trim()}): ${show}`);
    // The switch may take a moment (a poll of the followers, a retransmission) ...
    const settled = after.slice(2);
    const eth1 = settled.reduce((n, x) => n + x.eth1, 0);
    const ring = settled.reduce((n, x) => n + x.ring, 0);
    assert.ok(eth1 > 10_000_000, `only ${eth1} bytes went over eth1 after ${what}: ${show}`);
    assert.ok(ring < eth1 / 100, `ring0 still carried ${ring} bytes after ${what}: ${show}`);
    // ... and the connection kept going to the end: the last seconds still moved data.
    assert.ok(Math.max(...settled.slice(-3).map((x) => x.eth1)) > 1_000_000, `nothing moved at the end after ${what}: ${show}`);
    assert.ok(j.end.sum_received.bytes > 50_000_000, `only ${j.end.sum_received.bytes} bytes arrived`);
    const mb = (n: number) => `${(n / 1e6).toFixed(0)} MB`;
    const sum = (xs: typeof d, k: 'ring' | 'eth1') => mb(xs.reduce((n, x) => n + x[k], 0));
    console.log(`      (before ${what}: ${sum(before, 'ring')} on ring0, ${sum(before, 'eth1')} on eth1; after: ${sum(after, 'ring')} on ring0, ${sum(after, 'eth1')} on eth1; ${mb(j.end.sum_received.bytes)} in all)`);
  }

  before(async function () {
    requireTier(this, 'lab');
    this.timeout(900_000);
    lab = await labFixture.get({ guests: 3, isolation: SETUP.isolation, doorbell: SETUP.doorbell });
    for (const g of lab.guestNames()) {
      await lab.sh(g, `${RING_UP} && (pgrep -x iperf3 >/dev/null || iperf3 -s -D) && (! [ -d ${PINS} ] || node ${RINGCTL} detach eth1)`, {
        timeoutMs: 300_000,
      });
    }
    // Every guest sees the other two as live peers before anything is attached.
    for (const g of lab.guestNames()) {
      await eventually(20_000, `${g} seeing two live peers`, async () => (await lab.ringPeers(g)).filter((p) => p.state === 'up').length === 2);
    }
  });

  after(async function () {
    this.timeout(600_000);
    if (!lab) return;
    for (const g of [...followers.keys()]) await stopFollow(g).catch(() => '');
    for (const g of lab.guestNames()) {
      await lab
        .exec(g, ['sh', '-c', `ip route del 198.51.100.3/32 dev eth1; ip -6 route del 2001:db8:2::3/128 dev eth1; ip route del 198.51.100.2/32 dev eth1; ip neigh flush dev eth1; ${RING_UP}; [ -d ${PINS} ] && node ${RINGCTL} detach eth1`], { timeoutMs: 300_000 })
        .catch(() => undefined);
    }
  });

  it('fills each guest\'s peer map with the two live peers\' ring addresses', async () => {
    const outs = await Promise.all(lab.guestNames().map((g) => ringctlOk(g, 'attach eth1 --subnet 198.51.100.0/24 --subnet 2001:db8:2::/64')));
    for (const out of outs) {
      assert.match(out, /^eth1: attached xdp_ring \(program \d+, native\), redirecting into ring0$/m);
      assert.match(out, /^eth1: 2 peers from ring0's peer table \(4 addresses\)$/m);
    }
    const table = await lab.ringPeers('g1');
    const map = await peerMap('g1');
    const want = new Map<string, MapPeer>();
    for (const n of [2, 3]) {
      const peer = table.find((p) => p.state === 'up' && p.ipv4.split(',')[0] === `198.51.100.${n}`);
      assert.ok(peer, `g1 sees g${n} up: ${JSON.stringify(table)}`);
      for (const a of [`198.51.100.${n}`, `2001:db8:2::${n}`]) want.set(a, { mac: peer.mac, ring: true, ordinary: false });
    }
    assert.deepEqual(map, want);
  });

  it('shows the attachment and ring0\'s state with ringctl status', async () => {
    const out = lines(await ringctlOk('g1', 'status'));
    assert.match(out[1], /^eth1 +attached +\d+ +native +ring0 +no +4 +198\.51\.100\.0\/24,2001:db8:2::\/64$/);
    assert.match(out[2], /^RING +STATE +CARRIER +PEERS +REGIONS$/);
    const slot = await lab.slotOf('g1');
    // pair: g1 owns a region for each other guest and reads one of each; owner: one own, one of each other's.
    const [count, own] = SETUP.isolation === 'pair' ? [4, 2] : [3, 1];
    assert.match(out[3], new RegExp(`^ring0 +up +on +2 up, 0 dead +slot ${slot} of 3, ${SETUP.mode}, ${count} regions \\(${own} own\\)$`));
    type Status = { ring: { ringnet: boolean; peersUp: number; carrier: boolean; regions: { mode: string; owner: number; readers: number[] }[] } }[];
    const [eth1] = JSON.parse(await ringctlOk('g1', 'status --json')) as Status;
    assert.deepEqual([eth1.ring.ringnet, eth1.ring.carrier, eth1.ring.peersUp], [true, true, 2]);
    const others = (await lab.plan()).guests.map((g) => g.slot).filter((x) => x !== slot);
    assertThreeGuestRegions(eth1.ring.regions, slot, others, SETUP);
  });

  it('shows the peer table with ringctl peers, under the roster\'s names', async () => {
    const out = lines(await ringctlOk('g1', 'peers'));
    const plan = await lab.plan();
    assert.match(out[0], /^SLOT +NAME +STATE +GEN +MAC +HEARTBEAT +RING +OTHER$/);
    assert.equal(out.length, 4);
    const rows = out.slice(1).map((l) => l.split(/ {2,}/));
    const self = rows.find((r) => r[2] === 'self');
    assert.deepEqual([self?.[1], ...(self?.slice(6) ?? [])], ['g1', '198.51.100.1,2001:db8:2::1', '192.0.2.1,2001:db8:1::1']);
    for (const n of [2, 3]) {
      const r = rows.find((x) => x[1] === `g${n}`);
      const g = plan.guests.find((x) => x.name === `g${n}`);
      assert.ok(r && g, `a row for g${n}: ${out.join('\n')}`);
      assert.deepEqual([r[0], r[2], r[4]], [String(g.slot), 'up', g.mac]);
      assert.match(r[5], /^\d+ ms ago$/);
      assert.deepEqual(r.slice(6), [`198.51.100.${n},2001:db8:2::${n}`, `192.0.2.${n},2001:db8:1::${n}`]);
    }
    const json = JSON.parse(await ringctlOk('g1', 'peers --json')) as { name: string; state: string; conflicts: unknown[] }[];
    assert.deepEqual(json.map((p) => [p.name, p.state, p.conflicts]), [['g1', 'self', []], ['g2', 'up', []], ['g3', 'up', []]]);
  });

  /**
   * g1 pings g3's ring address through eth1, addressed to g2's eth1: g2's
   * xdp_ring sends every request into ring0, to g3.
   */
  async function assertRedirectedByG2(family: 'IPv4' | 'IPv6') {
    const v6 = family === 'IPv6';
    const dst = v6 ? '2001:db8:2::3' : '198.51.100.3';
    const m2 = await mac('g2', 'eth1');
    await lab.sh('g1', `ip ${v6 ? '-6 ' : ''}route replace ${dst}/${v6 ? 128 : 32} dev eth1 && ip neigh replace ${dst} lladdr ${m2} dev eth1 nud permanent`);
    try {
      // Forwarding off: xdp_ring passes them to g2's stack, which does not route them.
      await lab.sh('g2', `sysctl -qw net.ipv4.conf.eth1.forwarding=0 net.ipv6.conf.eth1.forwarding=0`);
      const off = await stats('g2', 'xdp_stats');
      const lost = await lab.exec('g1', ['ping', '-c', '3', '-i', '0.2', '-W', '1', dst]);
      assert.notEqual(lost.code, 0, 'g2 routed into ring0 with forwarding off');
      const offAfter = await stats('g2', 'xdp_stats');
      assert.ok(offAfter.forwarding_off - off.forwarding_off >= 3, `g2's xdp_stats: forwarding_off +${offAfter.forwarding_off - off.forwarding_off}`);
      assert.equal(offAfter.redirect - off.redirect, 0, 'xdp_ring redirected with forwarding off');
      await lab.sh('g2', `sysctl -qw net.ipv4.conf.eth1.forwarding=1 net.ipv6.conf.eth1.forwarding=1`);
      const before = {
        xdp: await stats('g2', 'xdp_stats'),
        ring2: await lab.netStat('g2', 'ring0', 'tx_packets'),
        ring3: await lab.netStat('g3', 'ring0', 'rx_packets'),
        tap1: tap(1),
        tap2: tap(2),
      };
      const ping = await lab.sh('g1', `ping -c 10 -i 0.2 -W 5 ${dst}`);
      assert.match(ping, /10 packets transmitted, 10 received/);
      const xdp = await stats('g2', 'xdp_stats');
      const d = (k: string) => xdp[k] - before.xdp[k];
      // g1's requests left through eth1 and reached g2's eth1 through the bridge ...
      assert.ok(tap(1).rxPackets - before.tap1.rxPackets >= 10, 'the requests left g1 through eth1');
      assert.ok(tap(2).txPackets - before.tap2.txPackets >= 10, 'the bridge delivered them to g2');
      // ... where xdp_ring sent every one into ring0, to g3.
      assert.ok(d('redirect') >= 10 && d('peer') >= 10, `g2's xdp_stats: redirect +${d('redirect')}, peer +${d('peer')}`);
      assert.ok((await lab.netStat('g2', 'ring0', 'tx_packets')) - before.ring2 >= 10, "g2's ring0 sent them");
      assert.ok((await lab.netStat('g3', 'ring0', 'rx_packets')) - before.ring3 >= 10, "g3's ring0 received them");
    } finally {
      await lab.sh('g2', `sysctl -qw net.ipv4.conf.eth1.forwarding=0 net.ipv6.conf.eth1.forwarding=0`);
      await lab.sh('g1', `ip ${v6 ? '-6 ' : ''}route del ${dst}/${v6 ? 128 : 32} dev eth1; ip neigh del ${dst} dev eth1; true`);
    }
  }

  for (const family of ['IPv4', 'IPv6'] as const) {
    it(`redirects ${family} traffic for a peer's ring address that arrives on eth1 into ring0`, () => assertRedirectedByG2(family));
  }

  it('passes traffic for the receiving guest\'s own ring address up its stack (no peer has it)', async () => {
    const m2 = await mac('g2', 'eth1');
    await lab.sh('g1', `ip route replace 198.51.100.2/32 dev eth1 && ip neigh replace 198.51.100.2 lladdr ${m2} dev eth1 nud permanent`);
    try {
      const before = await stats('g2', 'xdp_stats');
      const ring = await lab.netStat('g2', 'ring0', 'tx_packets');
      assert.match(await lab.sh('g1', 'ping -c 5 -i 0.2 -W 5 198.51.100.2'), /5 packets transmitted, 5 received/);
      const after = await stats('g2', 'xdp_stats');
      assert.ok(after.no_peer - before.no_peer >= 5, `no_peer +${after.no_peer - before.no_peer}`);
      assert.ok(after.redirect - before.redirect < 5, `redirect +${after.redirect - before.redirect}`);
      assert.ok((await lab.netStat('g2', 'ring0', 'tx_packets')) - ring < 5, 'nothing went into the ring');
    } finally {
      await lab.sh('g1', 'ip route del 198.51.100.2/32 dev eth1; ip neigh del 198.51.100.2 dev eth1; true');
    }
  });

  it('carries iperf3 between eth1 addresses over ring0 in transparent mode, the taps flat', async () => {
    await Promise.all(['g1', 'g2'].map((g) => ringctlOk(g, 'attach eth1 --subnet 198.51.100.0/24 --transparent --force')));
    const map = await peerMap('g1');
    assert.deepEqual(map.get('192.0.2.2'), { mac: (await lab.ringPeers('g1')).find((p) => p.ipv4.startsWith('198.51.100.2,'))?.mac, ring: false, ordinary: true });
    const before = { ring1: await lab.netStat('g1', 'ring0', 'tx_bytes'), ring2: await lab.netStat('g2', 'ring0', 'rx_bytes'), tap1: tap(1), tap2: tap(2) };
    const tcBefore = await stats('g1', 'tc_stats');
    const out = await lab.sh('g1', 'iperf3 -c 192.0.2.2 -t 4 -J', { timeoutMs: 120_000 });
    const bytes = (JSON.parse(out) as { end: { sum_received: { bytes: number } } }).end.sum_received.bytes;
    assert.ok(bytes > 20_000_000, `iperf3 moved only ${bytes} bytes`);
    assert.ok((await lab.netStat('g1', 'ring0', 'tx_bytes')) - before.ring1 >= bytes, "g1's ring0 carried the data");
    assert.ok((await lab.netStat('g2', 'ring0', 'rx_bytes')) - before.ring2 >= bytes, "g2's ring0 received it");
    const tc = await stats('g1', 'tc_stats');
    assert.ok(tc.redirect - tcBefore.redirect > 1000, `g1's tc_stats redirect +${tc.redirect - tcBefore.redirect}`);
    for (const [n, t0] of [[1, before.tap1], [2, before.tap2]] as const) {
      const t = tap(n);
      const moved = t.rxBytes - t0.rxBytes + (t.txBytes - t0.txBytes);
      assert.ok(moved < 200_000, `tap${n} moved ${moved} bytes while ${bytes} went over the ring`);
    }
  });

  it('keeps the TCP connection running over eth1 after ringctl detach, with no reset', async () => {
    const tap1 = tap(1).rxBytes;
    await lab.sh('g1', 'rm -f /tmp/event.out /tmp/unload-now');
    // Long enough for ringctl to start in a busy TCG guest (seconds, several
    // times its idle time) and for a dozen seconds of traffic after it.
    const run = iperfAcross('g1', '192.0.2.2', 120, `node ${RINGCTL} detach eth1`);
    // g2 takes its side off too (its replies move back to eth1), while g1 detaches.
    await eventually(180_000, 'g1 starting to detach', async () => (await lab.exec('g1', ['test', '-e', '/tmp/event.out'])).code === 0);
    assert.match(await ringctlOk('g2', 'detach eth1'), /^eth1: detached tc_transparent/m);
    const r = await run;
    assertMovedToEth1(r, 'ringctl detach');
    assert.match(r.eventOut, /^eth1: detached tc_transparent \(program \d+\)$/m);
    assert.ok(tap(1).rxBytes - tap1 > 10_000_000, 'the bridge carried the rest of the transfer');
  });

  it('keeps the TCP connection running over eth1 when the peer unloads ringnet, the followers removing it', async () => {
    for (const g of ['g1', 'g2']) await startFollow(g, '--subnet 198.51.100.0/24 --transparent');
    assert.equal((await peerMap('g1')).get('192.0.2.2')?.ordinary, true);
    await lab.sh('g1', 'rm -f /tmp/event.out /tmp/unload-now');
    // The event in g1: ask for the unload, then wait until g1's ringnet sees g2 gone.
    const gone = "! awk '$3==\"up\" && $7 ~ /^198\\.51\\.100\\.2,/ {f=1} END {exit !f}' /sys/kernel/debug/ringnet/ring0/peers";
    const run = iperfAcross('g1', '192.0.2.2', 30, `touch /tmp/unload-now; until ${gone}; do sleep 0.1; done`);
    await eventually(180_000, 'the transfer on ring0', async () => (await lab.exec('g1', ['test', '-e', '/tmp/unload-now'])).code === 0);
    await lab.sh('g2', 'rmmod ringnet');
    const r = await run;
    await lab.sh('g1', 'rm -f /tmp/unload-now');
    assertMovedToEth1(r, 'the peer unloaded ringnet');
    const log1 = await stopFollow('g1');
    const log2 = await stopFollow('g2');
    assert.match(log1, /^eth1: peer \d+ \(g2, [0-9a-f:]{17}\) removed( \(on peer-[a-z]+ of slot \d+, [\d.]+ ms after ringnet saw it\))?$/m, log1);
    assert.match(log2, /^eth1: its ring device is gone; removed every peer \(traffic stays on eth1\)$/m, log2);
    for (const log of [log1, log2]) assert.match(log, /^stopped following \(SIGTERM\); the attachment and its peers stay as they are$/m);
    assert.equal((await peerMap('g2')).size, 0);
    assert.equal((await peerMap('g1')).has('192.0.2.2'), false);
    await lab.sh('g2', `${RING_UP} && node ${RINGCTL} detach eth1`, { timeoutMs: 300_000 });
    await lab.sh('g2', 'pgrep -x iperf3 >/dev/null || iperf3 -s -D');
  });

  it('follows peers: one that leaves, joins or dies is removed or added within two seconds', async () => {
    await startFollow('g1', '--subnet 198.51.100.0/24 --transparent --force');
    /** Made by the watcher once it has seen the table without `until`. */
    const READY = '/tmp/watch.ready';
    /**
     * In g1: waits until ring0's table shows `until` for 198.51.100.3, then
     * until the map agrees; prints the milliseconds between the two.
     */
    const watch = (until: 'up' | 'gone') => {
      const inTable = until === 'up' ? `awk '$3=="up" && $7 ~ /^198\\.51\\.100\\.3(,|$)/ {f=1} END {exit !f}' /sys/kernel/debug/ringnet/ring0/peers` : `! awk '$3=="up" && $7 ~ /^198\\.51\\.100\\.3(,|$)/ {f=1} END {exit !f}' /sys/kernel/debug/ringnet/ring0/peers`;
      const inMap = `bpftool -j map dump pinned ${PINS}/ring_peers | grep -q '"addr":\\[198,51,100,3,'`;
      const mapDone = until === 'up' ? inMap : `! ${inMap}`;
      return lab.exec('g1', ['sh', '-c', `until ${inTable}; do touch ${READY}; sleep 0.1; done; t0=$(date +%s%N); until ${mapDone}; do sleep 0.1; done; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 ))`], { timeoutMs: 240_000 });
    };
    const measured: Record<string, number> = {};
    const measure = async (what: string, until: 'up' | 'gone', act: () => Promise<unknown>) => {
      await lab.sh('g1', `rm -f ${READY}`);
      let watching = true;
      const w = watch(until).finally(() => (watching = false));
      // The act once the watcher runs (or has already ended: its result says why).
      await eventually(120_000 * SLOWDOWN, `g1's watcher for g3 ${until} starting`, async () => !watching || (await lab.exec('g1', ['test', '-e', READY])).code === 0);
      await act();
      const r = await w;
      assert.equal(r.code, 0, r.stderr);
      measured[what] = Number(r.stdout.trim());
    };
    assert.ok((await peerMap('g1')).has('198.51.100.3'));
    await measure('leaves (rmmod)', 'gone', () => lab.sh('g3', 'rmmod ringnet'));
    await measure('joins (insmod)', 'up', () => lab.sh('g3', RING_UP));
    await measure('dies (QEMU killed)', 'gone', () => lab.lab(['kill', 'g3']));
    await measure('comes back (boot)', 'up', async () => assert.equal((await lab.lab(['boot', 'g3'])).code, 0));
    for (const [what, ms] of Object.entries(measured)) assert.ok(ms <= 2000, `the map followed a peer that ${what} only after ${ms} ms: ${JSON.stringify(measured)}`);
    console.log(`      (map updated after the table: ${Object.entries(measured).map(([w, ms]) => `${w} ${ms} ms`).join(', ')})`);
    const log = await stopFollow('g1');
    assert.ok((log.match(/^eth1: peer \d+ \(g3, [0-9a-f:]{17}\) removed( \(on peer-[a-z]+ of slot \d+, [\d.]+ ms after ringnet saw it\))?$/gm) ?? []).length >= 2, log);
    // Each return ends with all four addresses (ring0's IPv6 one may come a poll later).
    assert.ok((log.match(/^eth1: peer \d+ \(g3, [0-9a-f:]{17}\) (added|changed): ring 198\.51\.100\.3, 2001:db8:2::3; ordinary 192\.0\.2\.3, 2001:db8:1::3( \(on peer-[a-z]+ of slot \d+, [\d.]+ ms after ringnet saw it\))?$/gm) ?? []).length >= 3, log);
  });

  it('attaches eth1 to the new ring0 again when ringnet reloads under the follower, and redirects again', async () => {
    await startFollow('g2', '--subnet 198.51.100.0/24 --subnet 2001:db8:2::/64 --force');
    type Status = { interface: string; ring: { ifindex: number } | null }[];
    const ringOf = async () => (JSON.parse(await ringctlOk('g2', 'status --json')) as Status).find((s) => s.interface === 'eth1')?.ring;
    const old = await ringOf();
    assert.ok(old, 'attached to ring0');
    await lab.sh('g2', `rmmod ringnet && ${RING_UP}`, { timeoutMs: 300_000 });
    const now = Number(await lab.sh('g2', 'cat /sys/class/net/ring0/ifindex'));
    assert.notEqual(now, old.ifindex, 'ring0 came back as a new device');
    await eventually(60_000, "g2's follower attaching eth1 to ring0 again", async () => (await ringOf())?.ifindex === now);
    // Both other guests back in g2's map, then traffic takes the ring again.
    await eventually(30_000, "g2's map holding g3's ring addresses", async () => {
      const map = await peerMap('g2');
      return map.has('198.51.100.3') && map.has('2001:db8:2::3');
    });
    await assertRedirectedByG2('IPv4');
    await assertRedirectedByG2('IPv6');
    const log = await stopFollow('g2');
    assert.match(log, /^eth1: attached xdp_ring \(program \d+, native\), redirecting into ring0$/m, log);
    assert.match(log, /^eth1: ring0 is back; attached to it again$/m, log);
  });

  describe('errors', () => {
    let rejectObj: Buffer;
    const G = 'g3';

    /** What is on a device of g3: XDP and TC programs (bpftool), and whether ringctl has pins for it. */
    async function onDevice(dev: string) {
      const net = JSON.parse(await lab.sh(G, `bpftool -j net show dev ${dev}`)) as { xdp: { id: number }[]; tc: { id: number }[] }[];
      const pins = (await lab.exec(G, ['test', '-e', `/sys/fs/bpf/ringctl/${dev}`])).code === 0;
      return { xdp: net[0].xdp.map((x) => x.id), tc: net[0].tc.map((x) => x.id), pins };
    }

    /** Nothing of ringctl's on g3's eth1: no XDP, no TC filter, no pins. */
    async function assertClean(what: string, dev = 'eth1') {
      assert.deepEqual(await onDevice(dev), { xdp: [], tc: [], pins: false }, `${what}: something is left on ${dev}`);
    }

    /** Runs ringctl in g3 and asserts exit 1, and the first line of its message. */
    async function fails(args: string, first: string, opts: { env?: string; usage?: boolean; clean?: boolean } = {}) {
      const r = await ringctl(G, args, opts.env);
      assert.equal(r.code, 1, `ringctl ${args}: exit ${r.code}\n${r.stdout}${r.stderr}`);
      if (opts.usage) {
        assert.equal(lines(r.stdout)[0], `Usage Error: ${first}`);
        assert.equal(r.stderr, '');
      } else {
        assert.equal(r.stdout, '', `ringctl ${args} printed on stdout`);
        assert.equal(lines(r.stderr)[0], `ringctl: ${first}`);
      }
      if (opts.clean !== false) await assertClean(`ringctl ${args}`);
      return r;
    }

    before(async function () {
      this.timeout(300_000);
      const dir = mkdtempSync(join(tmpdir(), 'ringctl-reject-'));
      try {
        execFileSync('clang', ['-O2', '-g', '-target', 'bpf', '-D__TARGET_ARCH_x86', '-I', join(REPO, 'bpf'), '-I', '/usr/include/x86_64-linux-gnu',
          '-c', join(REPO, 'test/fixtures/bpf/xdp_ring_reject.bpf.c'), '-o', join(dir, 'xdp_ring.bpf.o')]);
        rejectObj = readFileSync(join(dir, 'xdp_ring.bpf.o'));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      await lab.sh(G, 'mkdir -p /tmp/reject /tmp/empty && cat > /tmp/reject/xdp_ring.bpf.o', { input: rejectObj });
      await lab.sh(G, `${RING_UP}; [ -d ${PINS} ] && node ${RINGCTL} detach eth1; true`, { timeoutMs: 300_000 });
      await assertClean('before the error cases');
    });

    it('an unknown interface', async () => {
      await fails('attach eth9', 'eth9: no such interface', { usage: true });
      await fails('detach eth9', 'eth9: no such interface', { usage: true });
    });

    it('a bad CIDR', async () => {
      await fails('attach eth1 --subnet 198.51.100.1/24', 'bad CIDR "198.51.100.1/24": host bits are set (the network is 198.51.100.0/24)', { usage: true });
    });

    it('not root', async () => {
      await fails('attach eth1', 'ringctl attach needs root (CAP_BPF and CAP_NET_ADMIN)', { env: 'exec setpriv --reuid 65534 --regid 65534 --clear-groups' });
    });

    it('a verifier rejection, with the verifier\'s log', async () => {
      const r = await fails('attach eth1', "eth1: the kernel's verifier rejected xdp_ring (EACCES)", { env: 'RINGCTL_BPF_DIR=/tmp/reject' });
      assert.match(r.stderr, /invalid access to packet/);
    });

    it('a missing BPF object', async () => {
      await fails('attach eth1', '/tmp/empty/xdp_ring.bpf.o is missing: build it with npx zx scripts/build.mjs bpf', { env: 'RINGCTL_BPF_DIR=/tmp/empty' });
    });

    it('no native XDP in the driver', async () => {
      await fails('attach lo', 'lo: its driver has no native XDP (EOPNOTSUPP); use --mode generic', { clean: false });
      await assertClean('attach lo', 'lo');
    });

    it('an XDP program ringctl did not load', async () => {
      await lab.sh(G, `bpftool prog load ${REPO}/build/bpf/xdp_ring.bpf.o /sys/fs/bpf/foreign type xdp && ip link set dev eth1 xdpdrv pinned /sys/fs/bpf/foreign`);
      try {
        const { xdp } = await onDevice('eth1');
        assert.equal(xdp.length, 1);
        await fails('attach eth1', `eth1: XDP program ${xdp[0]} already attached (EBUSY); use --force to replace it`, { clean: false });
        assert.deepEqual(await onDevice('eth1'), { xdp, tc: [], pins: false }, 'the foreign program is still there, alone');
      } finally {
        await lab.sh(G, 'ip link set dev eth1 xdpdrv off; rm -f /sys/fs/bpf/foreign');
      }
      await assertClean('after the foreign program');
    });

    it('already attached with other settings', async () => {
      await ringctlOk(G, 'attach eth1 --subnet 198.51.100.0/24');
      const before = await onDevice('eth1');
      assert.equal(before.xdp.length, 1);
      await fails('attach eth1 --subnet 198.51.100.0/25', 'eth1: already attached by ringctl with other settings (subnets 198.51.100.0/24 -> 198.51.100.0/25); run ringctl detach eth1 first, or use --force', { clean: false });
      assert.deepEqual(await onDevice('eth1'), before, 'the attachment is as it was');
      await ringctlOk(G, 'detach eth1');
      await assertClean('after detach');
    });

    it('no ring0', async () => {
      await lab.sh(G, 'rmmod ringnet');
      try {
        await fails('attach eth1', 'ring0 not found: is ringnet.ko loaded?');
        await fails('peers', 'ring0 not found: is ringnet.ko loaded?', { clean: false });
      } finally {
        await lab.sh(G, RING_UP);
      }
    });
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
