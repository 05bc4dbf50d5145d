// ring0 with several queue pairs per pair of guests and a channel per vCPU: the
// host offers 4 queue pairs (in doorbell mode a vector each), the guests have 4
// vCPUs. A sender takes the queue of its CPU, so four senders pinned to four
// CPUs use all four queues, each with its own producer lock and ring; the
// receiver's channel for each queue (a NAPI, and in doorbell mode its vector)
// takes it. ethtool -l shows the channels and -L changes them under traffic.
// ethtool -S counts per queue index (qK_tx_packets, qK_rx_packets, summed over
// the peers) and per channel (chJ_polls, chJ_irqs); ringctl exports them per
// queue (kvmring_ring_queue_*).
import assert from 'node:assert/strict';

import { StatsSnapshot } from '../../src/gen/kvmring/v1/stats.js';
import { samples } from '../../src/stats/prometheus.js';
import { type Lab, REPO, labFixture } from '../helpers/lab.js';
import { requireTier } from '../helpers/tier.js';
import { SLOWDOWN, eventually, sleep } from '../helpers/time.js';

const XFER = `${REPO}/scripts/guest/xfer.mjs`;
const RINGCTL = `${REPO}/bin/ringctl.js`;
const XFER_BYTES = 16_000_000;
const QUEUES = 4;
const G2 = '198.51.100.2';
/** g2's iperf3 servers: one per sender, so that each client runs on a CPU of its own. */
const PORTS = [5301, 5302, 5303, 5304];

/** ethtool -l's "Combined" under its maximums and under the current settings. */
function combined(text: string): { max: number; now: number } {
  const [max, now] = text.split(/Current hardware settings:/);
  const get = (s: string | undefined) => Number(/Combined:\s+(\d+)/.exec(s ?? '')?.[1] ?? NaN);
  return { max: get(max), now: get(now) };
}

for (const doorbell of [false, true]) {
  const mode = doorbell ? 'doorbell' : 'plain';
  describe(`ring0 with ${QUEUES} queue pairs and 4 vCPUs per guest (2 guests, ${mode} mode)`, function () {
    this.timeout(300_000 * SLOWDOWN);
    let lab: Lab;

    /** Counter `name` of ring0 in g, one per queue index. */
    const perQueue = async (g: string, name: (k: number) => string) => {
      const s = await lab.ethtoolStats(g);
      return Array.from({ length: QUEUES }, (_, k) => {
        const v = s.get(name(k));
        assert.ok(v !== undefined, `ethtool -S ring0 in ${g} has no ${name(k)}`);
        return v;
      });
    };
    const delta = (a: number[], b: number[]) => b.map((v, k) => v - a[k]);
    /**
     * ring0's NAPI kthreads in g (threaded NAPI: `napi/ring0-<napi id>`), by name,
     * with the nanoseconds each has run (/proc/PID/schedstat).
     */
    const napiThreads = async (g: string) => {
      const out = await lab.sh(g, 'for p in $(pgrep "^napi/ring0-"); do echo "$(cat /proc/$p/comm) $(cut -d" " -f1 /proc/$p/schedstat)"; done');
      return new Map(out.trim().split('\n').filter(Boolean).map((l) => {
        const [name, ns] = l.split(' ');
        return [name, Number(ns)] as const;
      }));
    };

    before(async function () {
      requireTier(this, 'lab');
      lab = await labFixture.get({ guests: 2, cpus: 4, queues: QUEUES, doorbell });
      await lab.sh('g2', PORTS.map((p) => `iperf3 -s -D -p ${p}`).join(' && '));
    });

    it('shows 4 channels with ethtool -l, one per vCPU and queue pair', async () => {
      for (const g of lab.guestNames()) {
        assert.equal((await lab.sh(g, 'nproc')).trim(), '4', g);
        assert.deepEqual(combined(await lab.sh(g, 'ethtool -l ring0')), { max: QUEUES, now: QUEUES }, g);
        // One RX queue per channel in sysfs, for RPS and for the tools that count them.
        assert.equal((await lab.sh(g, 'ls /sys/class/net/ring0/queues | grep -c rx-')).trim(), String(QUEUES), g);
        // Threaded NAPI by default: a kthread per channel.
        assert.equal((await lab.sh(g, 'cat /sys/class/net/ring0/threaded')).trim(), '1', `${g}: ring0's NAPI is not threaded`);
        const threads = [...(await napiThreads(g)).keys()];
        assert.equal(threads.length, QUEUES, `${g}: ring0's NAPI kthreads are ${threads.join(' ') || 'none'}`);
        if (doorbell) {
          // A handler per vector, each vector on a CPU of its own.
          const lines = (await lab.sh(g, 'grep ringnet-q /proc/interrupts || true')).trim().split('\n').filter(Boolean);
          assert.deepEqual(lines.map((l) => /ringnet-q(\d+)$/.exec(l)?.[1]).sort(), ['0', '1', '2', '3'], `${g}: ${lines.join('\n')}`);
          const irqs = lines.map((l) => l.trim().split(':')[0]);
          const cpus = await Promise.all(irqs.map(async (i) => (await lab.sh(g, `cat /proc/irq/${i}/smp_affinity_list`)).trim()));
          assert.equal(new Set(cpus).size, QUEUES, `${g}: the vectors' CPUs are ${cpus.join(' ')}`);
        }
      }
    });

    it('sends and receives on every queue from four CPUs at once, and a transfer arrives intact', async () => {
      const before = {
        tx: await perQueue('g1', (k) => `q${k}_tx_packets`),
        rx: await perQueue('g2', (k) => `q${k}_rx_packets`),
        polls: await perQueue('g2', (k) => `ch${k}_polls`),
        irqs: await perQueue('g2', (k) => `ch${k}_irqs`),
        napi: await napiThreads('g2'),
      };
      const recv = lab.exec('g2', ['node', XFER, 'recv', '5001'], { timeoutMs: 240_000 });
      await eventually(60_000 * SLOWDOWN, "g2's receiver listening on port 5001", () => lab.listening('g2', 5001));
      // iperf3 -A k: the client on CPU k, which picks queue k; the transfer on CPU 3.
      const iperfs = PORTS.map((p, k) =>
        lab.exec('g1', ['iperf3', '-c', G2, '-p', String(p), '-A', String(k), '-t', '8', '-J'], { timeoutMs: 180_000 }));
      const sent = lab.exec('g1', ['taskset', '-c', '3', 'node', XFER, 'send', G2, '5001', String(XFER_BYTES)], { timeoutMs: 240_000 });
      const results = await Promise.all(iperfs);
      const [s, r] = await Promise.all([sent, recv]);
      results.forEach((i, k) => assert.equal(i.code, 0, `iperf3 on CPU ${k} failed: ${i.stdout.slice(0, 300)}${i.stderr}`));
      assert.equal(s.code, 0, s.stderr);
      assert.equal(r.code, 0, r.stderr);
      assert.match(s.stdout, new RegExp(`^[0-9a-f]{64} ${XFER_BYTES}\\n$`));
      assert.equal(r.stdout, s.stdout, 'the transfer arrived with another sha256');

      const after = { tx: await perQueue('g1', (k) => `q${k}_tx_packets`), rx: await perQueue('g2', (k) => `q${k}_rx_packets`) };
      const tx = delta(before.tx, after.tx);
      const rx = delta(before.rx, after.rx);
      const polls = delta(before.polls, await perQueue('g2', (k) => `ch${k}_polls`));
      const irqs = delta(before.irqs, await perQueue('g2', (k) => `ch${k}_irqs`));
      // Every channel's polls ran in its kthread.
      const ran = [...(await napiThreads('g2'))].map(([name, ns]) => [name, ns - (before.napi.get(name) ?? NaN)] as const);
      console.log(`      (g2's NAPI kthreads ran ${ran.map(([name, ns]) => `${name} ${(ns / 1e6).toFixed(1)} ms`).join(', ')})`);
      assert.equal(ran.length, QUEUES, `g2's NAPI kthreads: ${ran.map(([name]) => name).join(' ')}`);
      ran.forEach(([name, ns]) => assert.ok(ns > 0, `g2's ${name} ran ${ns} ns during the traffic`));
      console.log(`      (g1 sent per queue ${tx.join(' ')}; g2 received ${rx.join(' ')}; g2's polls per channel ${polls.join(' ')}, doorbell interrupts ${irqs.join(' ')})`);
      // A stream's share of the guest's CPUs varies under TCG (one CI run: 883 frames on one
      // queue, 6709 on another); a hundred is well above what the few broadcasts
      // (ARP, ND: on the sending CPU's queue) make.
      tx.forEach((n, k) => assert.ok(n > 100, `g1 sent ${n} frames on queue ${k}`));
      rx.forEach((n, k) => assert.ok(n > 100, `g2 received ${n} frames on queue ${k}`));
      polls.forEach((n, k) => assert.ok(n > 0, `g2's channel ${k} polled ${n} times`));
      if (doorbell) irqs.forEach((n, k) => assert.ok(n > 0, `g2's doorbell vector ${k} interrupted ${n} times`));
      else assert.deepEqual(irqs, [0, 0, 0, 0], 'doorbell interrupts in plain mode');
      // ringctl's metrics per queue, read after ethtool: at least its counts, on every queue.
      for (const [g, name, least] of [
        ['g1', 'kvmring_ring_queue_transmit_packets_total', after.tx],
        ['g2', 'kvmring_ring_queue_receive_packets_total', after.rx],
      ] as const) {
        const s = StatsSnapshot.fromJSON(JSON.parse(await lab.sh(g, `node ${RINGCTL} stats --json`)));
        const got = samples(s).filter((x) => x.name === name).map((x) => [x.labels.queue, Number(x.value)] as const);
        assert.deepEqual(got.map(([q]) => q), ['0', '1', '2', '3'], `${g}: ${name} per queue`);
        got.forEach(([q, v], k) => assert.ok(v >= least[k], `${g}: ${name}{queue="${q}"} is ${v}, ethtool -S counted ${least[k]}`));
      }
    });

    it('changes to 2 channels and back with ethtool -L under traffic, the connection unbroken', async () => {
      // RPS on every RX queue: a frame delivered on an RX queue past the count would warn.
      await lab.sh('g2', 'for q in /sys/class/net/ring0/queues/rx-*; do echo f > $q/rps_cpus; done');
      const iperf = lab.exec('g1', ['iperf3', '-c', G2, '-p', String(PORTS[0]), '-P', '2', '-t', '12', '-J'], { timeoutMs: 180_000 });
      await sleep(2000);
      for (const g of lab.guestNames()) await lab.sh(g, 'ethtool -L ring0 combined 2');
      for (const g of lab.guestNames()) assert.deepEqual(combined(await lab.sh(g, 'ethtool -l ring0')), { max: QUEUES, now: 2 }, g);
      // With 2 channels, channels 0 and 1 serve all 4 queues: 2 and 3 poll no more.
      const polls = await perQueue('g2', (k) => `ch${k}_polls`);
      const rx = await perQueue('g2', (k) => `q${k}_rx_packets`);
      await sleep(3000);
      const polled = delta(polls, await perQueue('g2', (k) => `ch${k}_polls`));
      const received = delta(rx, await perQueue('g2', (k) => `q${k}_rx_packets`));
      assert.ok(polled[0] + polled[1] > 0, `channels 0 and 1 polled ${polled[0]} and ${polled[1]} times`);
      assert.deepEqual(polled.slice(2), [0, 0], `channels 2 and 3 polled ${polled.slice(2).join(' and ')} times after ethtool -L combined 2`);
      assert.ok(received[0] + received[1] > 0, `g2 received ${received.join(' ')} per queue with 2 channels`);
      for (const g of lab.guestNames()) await lab.sh(g, `ethtool -L ring0 combined ${QUEUES}`);
      const i = await iperf;
      assert.equal(i.code, 0, `iperf3 failed across ethtool -L: ${i.stdout.slice(0, 300)}${i.stderr}`);
      const moved = (JSON.parse(i.stdout) as { end: { sum_received: { bytes: number } } }).end.sum_received.bytes;
      assert.ok(moved > 1_000_000, `iperf3 moved only ${moved} bytes`);
      for (const g of lab.guestNames()) assert.deepEqual(combined(await lab.sh(g, 'ethtool -l ring0')), { max: QUEUES, now: QUEUES }, g);
    });

    it('refuses more channels than queue pairs, saying how many there are', async () => {
      const r = await lab.exec('g1', ['ethtool', '-L', 'ring0', 'combined', String(QUEUES + 1)]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr + r.stdout, /maximum|exceeds|Invalid/i);
      assert.equal(combined(await lab.sh('g1', 'ethtool -l ring0')).now, QUEUES);
    });

    /** ethtool -c ring0's rx-usecs and Adaptive RX. */
    const coalesce = async (g: string) => {
      const text = await lab.sh(g, 'ethtool -c ring0');
      return { usecs: Number(/^rx-usecs:\s+(\d+)/m.exec(text)?.[1] ?? NaN), adaptive: /^Adaptive RX:\s+on/m.test(text) };
    };
    /**
     * debugfs's channels file: each serving channel's poll interval now (µs) and, while
     * net_dim runs (adaptive-rx in plain mode; null otherwise), its profile and the longest
     * interval armed since it started; how often net_dim changed the profile.
     */
    const channels = async (g: string) =>
      (await lab.sh(g, 'cat /sys/kernel/debug/ringnet/ring0/channels')).trim().split('\n').slice(1).map((l) => {
        const [channel, , pollUs, profile, armedMaxUs, changes] = l.split(' ');
        const n = (v: string) => (v === '-' ? null : Number(v));
        return { channel: Number(channel), pollUs: Number(pollUs), profile: n(profile), armedMaxUs: n(armedMaxUs), changes: Number(changes) };
      });

    it('sets the poll interval with ethtool -C and refuses one out of range, keeping the old', async () => {
      assert.deepEqual(await coalesce('g1'), { usecs: 50, adaptive: false }, "ethtool -c ring0's defaults");
      for (const bad of ['0', '10001']) {
        const r = await lab.exec('g1', ['ethtool', '-C', 'ring0', 'rx-usecs', bad]);
        assert.notEqual(r.code, 0, `ethtool -C ring0 rx-usecs ${bad} was taken`);
        assert.match(r.stderr + r.stdout, /rx-usecs is out of range: give 1 to 10000/, `rx-usecs ${bad}`);
      }
      assert.deepEqual(await coalesce('g1'), { usecs: 50, adaptive: false }, 'after the refusals');
      await lab.sh('g1', 'ethtool -C ring0 rx-usecs 80');
      try {
        assert.deepEqual(await coalesce('g1'), { usecs: 80, adaptive: false });
        const ch = await channels('g1');
        assert.deepEqual(ch.map((c) => c.channel), [0, 1, 2, 3], 'a line per channel');
        ch.forEach((c) => assert.equal(c.pollUs, 80, `channel ${c.channel}'s interval`));
        ch.forEach((c) => assert.equal(c.profile, null, `channel ${c.channel} shows a net_dim profile without adaptive-rx`));
      } finally {
        await lab.sh('g1', 'ethtool -C ring0 rx-usecs 50');
      }
    });

    it(`${doorbell ? 'keeps adaptive-rx for plain mode, saying so, and net_dim idle,' : 'lets net_dim lengthen the poll interval under traffic with adaptive-rx,'} and a transfer arrives intact`, async () => {
      const before = await channels('g2');
      for (const g of lab.guestNames()) {
        const r = await lab.exec(g, ['ethtool', '-C', 'ring0', 'adaptive-rx', 'on']);
        assert.equal(r.code, 0, `${g}: ethtool -C ring0 adaptive-rx on: ${r.stderr}`);
        if (doorbell) assert.match(r.stderr, /moderates only plain mode's polling/, `${g} did not say adaptive-rx is for plain mode`);
        else assert.equal(r.stderr, '', g);
      }
      try {
        for (const g of lab.guestNames()) assert.deepEqual(await coalesce(g), { usecs: 50, adaptive: true }, g);
        const recv = lab.exec('g2', ['node', XFER, 'recv', '5001'], { timeoutMs: 240_000 });
        await eventually(60_000 * SLOWDOWN, "g2's receiver listening on port 5001", () => lab.listening('g2', 5001));
        const iperf = lab.exec('g1', ['iperf3', '-c', G2, '-p', String(PORTS[0]), '-P', '4', '-t', '8', '-J'], { timeoutMs: 180_000 });
        const sent = lab.exec('g1', ['node', XFER, 'send', G2, '5001', String(XFER_BYTES)], { timeoutMs: 240_000 });
        const [i, s, r] = await Promise.all([iperf, sent, recv]);
        assert.equal(i.code, 0, `iperf3 failed: ${i.stdout.slice(0, 300)}${i.stderr}`);
        assert.equal(s.code, 0, s.stderr);
        assert.equal(r.code, 0, r.stderr);
        assert.match(s.stdout, new RegExp(`^[0-9a-f]{64} ${XFER_BYTES}\\n$`));
        assert.equal(r.stdout, s.stdout, 'the transfer arrived with another sha256');
        const after = await channels('g2');
        console.log(`      (g2's channels: ${after.map((c) => `${c.channel}: ${c.pollUs} µs, profile ${c.profile ?? '-'}, longest ${c.armedMaxUs ?? '-'} µs, ${c.changes - before[c.channel].changes} changes`).join('; ')})`);
        if (doorbell) {
          after.forEach((c) => assert.deepEqual([c.pollUs, c.profile, c.changes], [50, null, before[c.channel].changes], `channel ${c.channel}: net_dim ran in doorbell mode`));
        } else {
          after.forEach((c) => {
            assert.ok(c.profile !== null && c.armedMaxUs !== null, `channel ${c.channel}: net_dim is not running`);
            assert.equal(c.pollUs, 50 << c.profile, `channel ${c.channel} polls every ${c.pollUs} µs at profile ${c.profile}`);
          });
          // The streams' sending CPUs pick the queues, so not every channel need receive; on
          // one that does, net_dim's first decision after a sample with frames leaves profile 0.
          assert.ok(after.some((c) => c.changes > before[c.channel].changes), 'net_dim changed no channel\'s profile under traffic');
          const longest = Math.max(...after.map((c) => c.armedMaxUs ?? 0));
          assert.ok(longest > 50, `no channel armed its timer for longer than rx-usecs under traffic (${longest} µs at most)`);
        }
      } finally {
        for (const g of lab.guestNames()) await lab.sh(g, 'ethtool -C ring0 adaptive-rx off');
      }
      // Each channel's next poll sees adaptive-rx off; in plain mode one comes within poll_idle_us.
      if (!doorbell) {
        await eventually(10_000, "g2's channels back at rx-usecs without net_dim", async () =>
          (await channels('g2')).every((c) => c.pollUs === 50 && c.profile === null));
      }
    });

    describe('afterwards', () => {
      it('leaves no oops, warning, lockup or stall in any guest\'s kernel log', async () => {
        await lab.assertKernelLogsClean();
      });

      it('leaves every ring without resets or bad indices', async () => {
        await lab.assertRingsClean();
      });
    });
  });
}
