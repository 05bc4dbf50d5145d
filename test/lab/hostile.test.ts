// A hostile guest under ABI v2: g3 runs no ringnet; build/native/kvmring_hostile
// (test/hostile/) maps its roster, every region the host gives it and its doorbell
// registers through its BARs and misbehaves there, while g1 and g2 talk over ring0.
// Under both isolation levels and in both modes:
//   - whatever g3 does, no guest oopses, warns, locks up, stalls or hangs;
//   - g1 and g2 keep talking: no restart of either seen by the other, and no reset,
//     bad index, bad descriptor or bad metadata on their rings to each other;
//   - what g3 sends into its own rings is counted and dropped at a bounded rate;
//   - writes into regions g3 does not own (and into its read-only roster) change
//     nothing: with g1 and g2 stopped (QMP) so that nothing else writes, the host
//     reads every region and roster g3 does not own back byte for byte, and g3 itself
//     reads back none of its writes there;
//   - a g3 that publishes g2's MAC and addresses gets none of g2's traffic, and the
//     conflict shows in `ringctl peers` and the stats of g1 and g2;
//   - doorbells: g3 rings only the guests its groups let it.
// Throughput against a fair baseline is bench:hostile's (scripts/bench/hostile.mjs).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import {
  HONEST_GUESTS,
  HOSTILE_GUEST,
  type Hostile,
  type Summary,
  foreignWritesThatStuck,
  honestRingUp,
  hostFiles,
  hostile,
  hostileLabUp,
  rosterOfGuest,
  rosterSlot,
} from '../helpers/hostile.js';
import { type ExecResult, Lab, REPO, type RingPeer, debugSplats, labFixture, runLab } from '../helpers/lab.js';
import { requireTier } from '../helpers/tier.js';
import { DEBUG_KERNEL, SLOWDOWN, eventually, sleep } from '../helpers/time.js';

const RINGCTL = `${REPO}/bin/ringctl.js`;
const G2_RING0 = '198.51.100.2';

/** Pings g1 -> g2 and runs iperf3 g1 -> g2 over ring0 for about `seconds`. */
async function traffic(lab: Lab, seconds: number): Promise<{ ping: ExecResult; iperf: ExecResult }> {
  const [ping, iperf] = await Promise.all([
    lab.exec('g1', ['ping', '-c', String(seconds * 5), '-i', '0.2', '-W', '5', G2_RING0], { timeoutMs: (seconds + 60) * 1000 }),
    lab.exec('g1', ['iperf3', '-c', G2_RING0, '-t', String(Math.max(seconds - 2, 2)), '-J'], { timeoutMs: (seconds + 60) * 1000 }),
  ]);
  return { ping, iperf };
}

function assertTrafficFlowed(t: { ping: ExecResult; iperf: ExecResult }, during: string): void {
  assert.match(t.ping.stdout, / 0% packet loss/, `g1 -> g2 pings lost ${during}:\n${t.ping.stdout}`);
  assert.equal(t.iperf.code, 0, `iperf3 g1 -> g2 failed ${during}: ${t.iperf.stdout.slice(0, 400)}${t.iperf.stderr}`);
  const bytes = (JSON.parse(t.iperf.stdout) as { end: { sum_received: { bytes: number } } }).end.sum_received.bytes;
  assert.ok(bytes > 1_000_000, `iperf3 g1 -> g2 moved only ${bytes} bytes ${during}`);
}

async function startIperfServers(lab: Lab): Promise<void> {
  for (const g of HONEST_GUESTS) await lab.sh(g, 'pidof iperf3 >/dev/null || iperf3 -s -D');
}

/** Records refused per second and peer: one per RINGNET_RX_QUIET_MS (4 ms), with slack for ticks. */
const QUIET_RATE_MAX = 400;

// ---- what g1 and g2 see ----------------------------------------------------------

/** g1's and g2's view of each other and their counters, at one moment. */
interface HonestView {
  rows: Map<string, RingPeer>;
  stats: Map<string, Map<string, number>>;
}

/** Counters of the ring between two honest guests that stay still whatever a third one does. */
const PAIR_TROUBLE = (slot: number) => new RegExp(`^r0_peer${slot}_ring_(tx|rx)_(resets|reset_follows|bad_index|bad_desc|bad_meta)$`);
const CONFLICTS = /^r0_(mac_conflicts|addr_conflicts)$/;

class Honest {
  constructor(
    readonly lab: Lab,
    /** guest -> slot, the host's. */
    readonly slots: Map<string, number>,
  ) {}

  other(g: string): string {
    return g === 'g1' ? 'g2' : 'g1';
  }

  async view(): Promise<HonestView> {
    const rows = new Map<string, RingPeer>();
    const stats = new Map<string, Map<string, number>>();
    for (const g of HONEST_GUESTS) {
      const slot = this.slots.get(this.other(g));
      const row = (await this.lab.ringPeers(g)).find((r) => r.slot === slot);
      assert.ok(row, `${g} has no row for ${this.other(g)} (slot ${slot})`);
      rows.set(g, row);
      stats.set(g, await this.lab.ethtoolStats(g));
    }
    return { rows, stats };
  }

  /** Sum of guest's counters matching re, after minus before. */
  delta(before: HonestView, after: HonestView, g: string, re: RegExp): number {
    let d = 0;
    for (const [name, v] of after.stats.get(g) ?? []) if (re.test(name)) d += v - (before.stats.get(g)?.get(name) ?? 0);
    return d;
  }

  /**
   * g1 and g2 saw each other up throughout (same generation: no restart), and
   * counted nothing wrong on their rings to each other; no conflicts unless allowed.
   */
  assertUnharmed(before: HonestView, after: HonestView, during: string, conflictsAllowed = false): void {
    const bad: string[] = [];
    for (const g of HONEST_GUESTS) {
      const o = this.other(g);
      const b = before.rows.get(g) as RingPeer;
      const a = after.rows.get(g) as RingPeer;
      if (a.state !== 'up') bad.push(`${g} sees ${o} ${a.state}`);
      if (a.gen !== b.gen) bad.push(`${g} saw ${o} restart (generation ${b.gen} -> ${a.gen})`);
      const slot = this.slots.get(o) as number;
      for (const [name, v] of after.stats.get(g) ?? []) {
        const d = v - (before.stats.get(g)?.get(name) ?? 0);
        if (d && PAIR_TROUBLE(slot).test(name)) bad.push(`${g}: ${name} +${d}`);
        if (d && !conflictsAllowed && CONFLICTS.test(name)) bad.push(`${g}: ${name} +${d}`);
      }
    }
    assert.deepEqual(bad, [], `g1 and g2 were harmed ${during}`);
  }

  /** Both see each other up over ring0 and answer pings; reloads ringnet if they do not. */
  async talking(): Promise<void> {
    if ((await this.lab.exec('g1', ['ping', '-c', '2', '-i', '0.2', '-W', '2', G2_RING0])).code === 0) return;
    await honestRingUp(this.lab, true);
    await startIperfServers(this.lab);
  }
}

/** Sum of the ethtool -S ring0 counters of guest whose names match `re`. */
async function counters(lab: Lab, guest: string, re: RegExp): Promise<number> {
  let sum = 0;
  for (const [name, value] of await lab.ethtoolStats(guest)) if (re.test(name)) sum += value;
  return sum;
}

async function doorbellIrqs(lab: Lab, guest: string): Promise<number> {
  return Number(await lab.sh(guest, "awk '/ringnet/ {for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n += $i} END {print n + 0}' /proc/interrupts"));
}

// ---- writes into what g3 does not own ------------------------------------------------

function firstDiff(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/**
 * Plays `scenario` in g3 for `seconds` with g1 and g2 stopped, so that nothing but g3
 * runs: every roster and every region g3 does not own must read back on the host
 * byte for byte as before, and g3 must have read back none of its writes there.
 */
async function writesKeptOut(lab: Lab, scenario: string, seconds: number, args: string[] = []): Promise<Summary> {
  const self = rosterSlot(lab, HOSTILE_GUEST);
  const files = hostFiles(lab.name).filter((f) => !(f.kind === 'region' && f.slot === self));
  assert.ok(files.some((f) => f.kind === 'region'), 'no region of another guest on the host');
  const stopped: string[] = [];
  let s: Summary;
  let changed: string[];
  try {
    for (const g of HONEST_GUESTS) {
      await lab.qmp(g, 'stop');
      stopped.push(g);
    }
    const before = new Map(files.map((f) => [f.path, readFileSync(f.path)]));
    s = await hostile(lab, scenario, seconds, args).done;
    // Read back before the owners run again.
    changed = files.flatMap((f) => {
      const at = firstDiff(before.get(f.path) as Buffer, readFileSync(f.path));
      return at < 0 ? [] : [`${f.path} (${f.kind} of slot ${f.slot}) from byte ${at}`];
    });
  } finally {
    for (const g of stopped.reverse()) await lab.qmp(g, 'cont');
  }
  assert.deepEqual(changed, [], `${scenario} in g3 changed memory g3 does not own`);
  assert.deepEqual(foreignWritesThatStuck(s), [], `${scenario}: g3 read back its own writes in memory it does not own`);
  assert.equal(s.rosterIntact, true, `${scenario}: g3 saw its roster change`);
  const foreign = s.bars.filter((b) => !b.mine && b.kind !== 'doorbell');
  assert.ok(foreign.length > 0, `${scenario}: g3 mapped nothing of another's`);
  if (scenario === 'scribble') for (const b of foreign) assert.ok(b.words > 0, `scribble wrote nothing into ${b.kind} ${b.devfn}`);
  if (scenario === 'stomp') for (const t of s.targets) assert.ok(t.words > 0, `stomp wrote nothing at ${t.name}`);
  return s;
}

// ---- the lab --------------------------------------------------------------------------

/** A three-guest lab of this file's own (the shared fixture's goes first), and its end. */
function hostileLab(o: { isolation: 'owner' | 'pair'; doorbell?: boolean; groups?: string[] }): { lab: () => Lab; honest: () => Honest } {
  let lab: Lab | undefined;
  let honest: Honest | undefined;
  before(async function () {
    requireTier(this, 'lab');
    this.timeout(600_000 * SLOWDOWN);
    await labFixture.release();
    lab = new Lab({ guests: 3, ...(o.doorbell ? { doorbell: true } : {}) });
    await hostileLabUp(lab, o);
    honest = new Honest(lab, new Map(HONEST_GUESTS.map((g) => [g, rosterSlot(lab as Lab, g)])));
    await startIperfServers(lab);
  });
  beforeEach(async function () {
    this.timeout(180_000 * SLOWDOWN);
    await honest?.talking();
  });
  after(async function () {
    this.timeout(120_000 * SLOWDOWN);
    if (!lab) return;
    const splats: string[] = [];
    if (DEBUG_KERNEL) {
      for (const g of lab.guestNames()) for (const s of debugSplats((await lab.lab(['console', g])).stdout.toString())) splats.push(`${g}: ${s}`);
    }
    const down = await runLab(['down'], { labName: lab.name });
    assert.equal(down.code, 0, `lab down failed:\n${down.stdout.toString()}${down.stderr.toString()}`);
    assert.deepEqual(splats, [], 'the debug kernel reported trouble');
  });
  return { lab: () => lab as Lab, honest: () => honest as Honest };
}

/**
 * Plays `scenario` in g3 for `seconds` while g1 pings g2 and sends it iperf3 over
 * ring0: the traffic flowed, g1 and g2 were unharmed (conflicts only if allowed) and
 * every kernel log is clean. The summary, and g1's and g2's views before and after.
 */
async function duringTraffic(
  lab: Lab,
  honest: Honest,
  scenario: string,
  o: { seconds: number; during: string; args?: string[]; conflicts?: boolean },
): Promise<{ s: Summary; before: HonestView; after: HonestView }> {
  const before = await honest.view();
  const h = hostile(lab, scenario, o.seconds, o.args);
  await h.started;
  const t = await traffic(lab, o.seconds - 2);
  const s = await h.done;
  const after = await honest.view();
  await lab.assertKernelLogsClean();
  honest.assertUnharmed(before, after, o.during, o.conflicts);
  assertTrafficFlowed(t, o.during);
  return { s, before, after };
}

/** Runs h to its end (or stops it) whatever the test body does; its summary. */
async function finish(h: Hostile): Promise<Summary> {
  h.stop();
  return h.done;
}

for (const isolation of ['owner', 'pair'] as const) {
  describe(`a hostile guest, ${isolation} isolation, plain mode (g3 against g1 <-> g2)`, function () {
    this.timeout(300_000 * SLOWDOWN);
    const { lab, honest } = hostileLab({ isolation });

    it('bad-meta: every bad metadata combination g3 writes into its rings is counted and dropped, g1 <-> g2 unharmed', async () => {
      const seconds = 12;
      const slot = rosterSlot(lab(), HOSTILE_GUEST);
      const { s, before, after } = await duringTraffic(lab(), honest(), 'bad-meta', { seconds, during: 'while g3 wrote bad records' });
      assert.ok(s.records > 1000 && s.pads > 0, `bad-meta published only ${s.records} records (${s.pads} pads)`);
      for (const g of HONEST_GUESTS) {
        const bad = honest().delta(before, after, g, new RegExp(`^r0_rx_bad_meta$|^r0_peer${slot}_ring_rx_(bad_meta|bad_desc)$`));
        assert.ok(bad > 0, `${g} counted none of the ${s.records} bad records`);
        // A record the driver refuses leaves the peer's ring alone for
        // RINGNET_RX_QUIET_MS (4 ms): at most ~250 such records a second get an skb.
        const refused = honest().delta(before, after, g, /^r0_rx_(bad_meta|bad_src|no_peer)$/);
        assert.ok(refused <= QUIET_RATE_MAX * seconds, `${g} refused ${refused} records in ${seconds} s: more than one per quiet period of g3`);
      }
    });

    it("no-consume: g1's ring to a g3 that never reads fills, g1 <-> g2 unharmed", async () => {
      const ro = rosterOfGuest(lab(), HOSTILE_GUEST);
      const me = ro.slots.find((x) => x.slot === ro.self);
      assert.ok(me);
      const sink = '198.51.100.3';
      const before = await honest().view();
      const h = hostile(lab(), 'no-consume', 120);
      try {
        await h.started;
        // Unicast to the sink, which never answers ARP: a static neighbour entry.
        await lab().sh('g1', `ip neigh replace ${sink} lladdr ${me.mac} dev ring0 nud permanent`);
        const fillMs = 10_000 * SLOWDOWN;
        const fill = lab().exec('g1', [
          'node', '-e',
          `const s = require('dgram').createSocket('udp4'); const b = Buffer.alloc(60000); setTimeout(() => process.exit(0), ${fillMs});
           (function f() { s.send(b, 9, '${sink}', () => setImmediate(f)); })();`,
        ], { timeoutMs: fillMs + 50_000 });
        const t = await traffic(lab(), 10);
        const f = await fill;
        const waiting = await counters(lab(), 'g1', new RegExp(`^r0_peer${ro.self}_ring_tx_used_bytes$`));
        await finish(h);
        await lab().sh('g1', `ip neigh del ${sink} dev ring0`);
        const after = await honest().view();
        await lab().assertKernelLogsClean();
        assert.equal(f.code, 0, `the sender to g3 failed: ${f.stderr}`);
        assert.ok(waiting > 1 << 20, `g1's ring to g3 holds only ${waiting} bytes: it never filled`);
        honest().assertUnharmed(before, after, 'while g3 consumed nothing');
        assertTrafficFlowed(t, 'while g3 consumed nothing');
      } finally {
        await finish(h).catch(() => undefined);
      }
    });

    it('flip-gen: a g3 with a new generation every beat is followed, g1 <-> g2 unharmed', async () => {
      const { s, before, after } = await duringTraffic(lab(), honest(), 'flip-gen', { seconds: 10, during: 'while g3 flipped its generation' });
      assert.ok(s.generations > 20, `flip-gen went through only ${s.generations} generations`);
      const seen = honest().delta(before, after, 'g1', /^r0_peer_joins$/);
      assert.ok(seen > 5, `g1 saw g3 join only ${seen} times in ${s.generations} generations`);
    });

    it("steal-mac: a g3 publishing g2's MAC and addresses gets none of g2's traffic; the conflict shows in ringctl peers and the stats", async () => {
      const g2 = rosterOfGuest(lab(), 'g2');
      const g2mac = (g2.slots.find((x) => x.slot === g2.self) as { mac: string }).mac;
      const self = rosterSlot(lab(), HOSTILE_GUEST);
      const before = await honest().view();
      const h = hostile(lab(), 'steal-mac', 120, ['--victim', String(g2.self)]);
      try {
        await h.started;
        for (const g of HONEST_GUESTS) {
          await eventually(20_000 * SLOWDOWN, `${g} seeing g3 claim g2's MAC`, async () =>
            (await lab().ringPeers(g)).some((r) => r.slot === self && r.claimedMac === g2mac),
          );
          // While g3 claims: once the peer leaves, its slot is free and ringctl peers hides it.
          const peers = JSON.parse(await lab().sh(g, `node ${RINGCTL} peers --json`)) as ({ slot: number; conflicts: unknown[] } & Record<string, unknown>)[];
          const row = peers.find((p) => p.slot === self);
          assert.ok(row, `ringctl peers in ${g} lists no slot ${self}`);
          assert.ok(row.conflicts.length > 0 && JSON.stringify(row).includes(g2mac), `ringctl peers in ${g} shows no conflict on g3: ${JSON.stringify(row)}`);
        }
        const t = await traffic(lab(), 10);
        const s = await finish(h);
        const after = await honest().view();
        await lab().assertKernelLogsClean();
        assert.equal(s.victimFrames, 0, `g3 received ${s.victimFrames} frames meant for g2 (of ${s.received})`);
        for (const g of HONEST_GUESTS) {
          assert.ok(honest().delta(before, after, g, /^r0_mac_conflicts$/) > 0, `${g} counted no MAC conflict`);
          assert.ok(honest().delta(before, after, g, /^r0_addr_conflicts$/) > 0, `${g} counted no address conflict (are the roster's prefixes per guest?)`);
        }
        honest().assertUnharmed(before, after, "while g3 published g2's MAC", true);
        assertTrafficFlowed(t, "while g3 published g2's MAC");
      } finally {
        await finish(h).catch(() => undefined);
      }
    });

    it("stomp: g3's writes into g2's regions and its roster change nothing; g1 <-> g2 unharmed while it writes", async () => {
      const victim = String(rosterSlot(lab(), 'g2'));
      const quiet = await writesKeptOut(lab(), 'stomp', 4, ['--victim', victim]);
      assert.ok(quiet.stomps >= 20, `stomp wrote only ${quiet.stomps} times`);
      await honest().talking();
      const { s } = await duringTraffic(lab(), honest(), 'stomp', { seconds: 10, args: ['--victim', victim], during: "while g3 wrote into g2's regions" });
      assert.deepEqual(foreignWritesThatStuck(s), [], 'g3 read back its writes into g2 while g2 ran');
    });

    // Last: it leaves g3's own region garbage, which g1 and g2 may count against g3.
    it('scribble: random bytes over every BAR g3 maps change nothing it does not own; g1 <-> g2 unharmed', async () => {
      const quiet = await writesKeptOut(lab(), 'scribble', 6);
      assert.ok(quiet.scribbled > 1 << 20, `scribble wrote only ${quiet.scribbled} bytes`);
      await honest().talking();
      // g3's own entry and rings are garbage now: conflicts counted against g3 are its due.
      const { s } = await duringTraffic(lab(), honest(), 'scribble', { seconds: 10, during: 'while g3 scribbled', conflicts: true });
      assert.deepEqual(foreignWritesThatStuck(s), [], 'g3 read back its writes into memory it does not own');
    });
  });

  // Doorbells within groups: g3 shares a group with g1 only, so it may ring g1's
  // doorbell (a flood with a bounded cost) and has no eventfd for g2's.
  describe(`a hostile guest, ${isolation} isolation, doorbell mode, groups a=g1,g2 b=g1,g3`, function () {
    this.timeout(300_000 * SLOWDOWN);
    const { lab, honest } = hostileLab({ isolation, doorbell: true, groups: ['a=g1,g2', 'b=g1,g3'] });

    it("doorbell-flood: g1's doorbell rung as fast as g3 can, g1 <-> g2 unharmed", async () => {
      const g1 = rosterSlot(lab(), 'g1');
      const irqs = await doorbellIrqs(lab(), 'g1');
      const { s } = await duringTraffic(lab(), honest(), 'doorbell-flood', { seconds: 12, args: ['--victim', String(g1)], during: 'while g3 flooded g1 with doorbells' });
      assert.ok(s.doorbells > 10_000, `the flood rang only ${s.doorbells} times`);
      const taken = (await doorbellIrqs(lab(), 'g1')) - irqs;
      assert.ok(taken > 1000, `g1 took only ${taken} doorbell interrupts during the flood`);
    });

    it("doorbell-flood: g2's doorbell id, outside g3's groups, rings nothing", async () => {
      const g2 = rosterSlot(lab(), 'g2');
      const ro = rosterOfGuest(lab(), 'g1');
      const id = ro.slots.find((x) => x.slot === g2)?.doorbellId;
      assert.ok(id !== undefined && id <= 0xffff, `g1's roster gives g2 no doorbell id: ${id}`);
      assert.ok(!rosterOfGuest(lab(), HOSTILE_GUEST).slots.some((x) => x.slot === g2), "g3's roster lists g2");
      // Fixed: as long as the flood, g2 idle, for the interrupts it takes anyway.
      let irqs = await doorbellIrqs(lab(), 'g2');
      await sleep(6000);
      const idle = (await doorbellIrqs(lab(), 'g2')) - irqs;
      irqs = await doorbellIrqs(lab(), 'g2');
      const s = await hostile(lab(), 'doorbell-flood', 6, ['--doorbell-id', String(id)]).done;
      const taken = (await doorbellIrqs(lab(), 'g2')) - irqs;
      await lab().assertKernelLogsClean();
      assert.ok(s.doorbells > 10_000, `the flood rang only ${s.doorbells} times`);
      assert.ok(taken <= idle + 50, `g2 took ${taken} doorbell interrupts while g3 rang its id (${idle} idle): g3 reached it`);
    });

    it("stomp: g3's writes into g1's regions (and so its kicks) change nothing; g1 <-> g2 unharmed", async () => {
      const victim = String(rosterSlot(lab(), 'g1'));
      await writesKeptOut(lab(), 'stomp', 4, ['--victim', victim]);
      await honest().talking();
      const { s } = await duringTraffic(lab(), honest(), 'stomp', { seconds: 10, args: ['--victim', victim], during: "while g3 wrote into g1's regions" });
      assert.deepEqual(foreignWritesThatStuck(s), [], 'g3 read back its writes into g1 while g1 ran');
    });
  });
}
