// The hostile peer (build/native/kvmring_hostile) outside a guest: plain files laid
// out by the host library (src/host/isolation.ts, roster.ts) stand in for the BARs of
// the third of three guests, as /sys/bus/pci/devices/0000:00:SS.F/resourceN would
// show them (--pci DIR). The tool runs as nobody: the files of regions it does not
// own and the roster are read-only to it, so it maps them PROT_READ, as the
// hypervisor maps them read-only into a guest, and every write it tries there must
// fault, be counted, and change nothing. Its own regions take its entry and rings.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { planHost, type HostPlan, type HostSpec } from '../../src/host/isolation.js';
import { qemuAddr } from '../../src/host/qemu.js';
import { formatOwnedRegion, rosterBytes } from '../../src/host/roster.js';
import { laneOf, queueOffset } from '../../src/ring/geometry.js';
import { CONSTANTS as C, LAYOUT, peerWord } from '../../src/ring/layout.js';
import { formatMac, parseMac } from '../../src/xdp/cidr.js';
import { HOSTILE, type Summary, foreignWritesThatStuck, hostFiles, parseSummary } from '../helpers/hostile.js';
import { requireTier } from '../helpers/tier.js';

const NOBODY = 65534;
const SELF = 2; // g3
const VICTIM = 1; // g2
const ENTRY = C.KVMRING_OWNED_ENTRY_OFF;
const PEER = LAYOUT.kvmring_peer.members;

interface Fake {
  dir: string;
  pci: string;
  plan: HostPlan;
  /** Region index -> its file. */
  regions: string[];
  /** g3's roster (its function's resource2 links to it). */
  roster: string;
  doorbell?: string;
}

const fnDir = (pci: string, devfn: number) => join(pci, `0000:00:${qemuAddr(devfn)}`);

/**
 * Three guests g1..g3 under `isolation`: every region formatted, g1's and g2's
 * entries UP, and g3's functions under DIR/pci: its roster, its regions (links to
 * the region files) and in doorbell mode the doorbell registers (256 bytes,
 * IVPosition 3). Regions g3 does not own and the roster are 0444, its own 0666.
 */
function layOut(isolation: 'owner' | 'pair', mode: 'plain' | 'doorbell' = 'plain'): Fake {
  const spec: HostSpec = {
    name: 'hostiletest',
    guests: [1, 2, 3].map((n) => ({ name: `g${n}`, addrs: [`198.51.100.${n}/32`, `2001:db8:2::${n}/128`] })),
    groups: [],
    isolation,
    mode,
    vectors: 1,
    queues: 1,
  };
  let next = 0x1000n;
  const plan = planHost(spec, () => ++next);
  plan.guests.forEach((g, s) => (g.doorbellId = mode === 'doorbell' ? s + 1 : C.KVMRING_DOORBELL_NONE));
  const dir = mkdtempSync(join(tmpdir(), 'kvmring-hostile-'));
  chmodSync(dir, 0o755);
  const pci = join(dir, 'pci');
  mkdirSync(pci, { mode: 0o755 });

  const regions = plan.regions.map((r) => {
    const path = join(dir, r.file);
    const buf = Buffer.alloc(r.size);
    formatOwnedRegion(buf, r, plan);
    if (r.owner !== SELF) {
      // An honest owner, UP in generation 1, beating, with its roster MAC and addresses.
      const g = plan.guests[r.owner];
      buf.writeBigUInt64LE(peerWord(1, C.KVMRING_PEER_UP), ENTRY + PEER.state[0]);
      buf.writeBigUInt64LE(5n, ENTRY + PEER.heartbeat[0]);
      parseMac(g.mac).copy(buf, ENTRY + PEER.mac[0]);
      buf.writeUInt32LE(2, ENTRY + PEER.addr_seq[0]);
      Buffer.from([198, 51, 100, r.owner + 1]).copy(buf, ENTRY + PEER.ipv4[0]);
    }
    writeFileSync(path, buf, { mode: r.owner === SELF ? 0o666 : 0o444 });
    chmodSync(path, r.owner === SELF ? 0o666 : 0o444);
    return path;
  });

  // Every guest's roster, named as `ringctl host up` names them.
  for (const g of plan.guests) writeFileSync(join(dir, g.roster), rosterBytes(plan, g.slot), { mode: 0o444 });
  const me = plan.guests[SELF];
  const roster = join(dir, me.roster);
  let doorbell: string | undefined;
  for (const d of me.devices) {
    const fn = fnDir(pci, d.devfn);
    mkdirSync(fn, { mode: 0o755 });
    if (d.kind === 'roster') {
      symlinkSync(roster, join(fn, 'resource2'));
    } else if (d.kind === 'region') {
      symlinkSync(regions[d.region], join(fn, 'resource2'));
    } else {
      doorbell = join(fn, 'resource0');
      const regs = Buffer.alloc(256);
      regs.writeUInt32LE(SELF + 1, 8); // IVPosition
      writeFileSync(doorbell, regs, { mode: 0o666 });
      chmodSync(doorbell, 0o666);
    }
  }
  return { dir, pci, plan, regions, roster, doorbell };
}

/** Runs the tool as nobody against fake's functions; its exit code, summary (if any) and stderr. */
function run(fake: Fake, scenario: string, args: string[] = [], seconds = 1): { code: number; summary?: Summary; stderr: string } {
  const r = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', HOSTILE, '--pci', fake.pci, '--seconds', String(seconds), '--seed', '7', ...args, scenario], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  const code = r.status ?? 128;
  return { code, stderr: r.stderr, ...(code === 0 ? { summary: parseSummary(r.stdout) } : {}) };
}

function ok(fake: Fake, scenario: string, args: string[] = [], seconds = 1): Summary {
  const r = run(fake, scenario, args, seconds);
  assert.equal(r.code, 0, `kvmring_hostile ${scenario} exited ${r.code}:\n${r.stderr}`);
  return r.summary as Summary;
}

/**
 * The bytes of every file g3 does not own, found as the lab test finds them on the
 * host (hostFiles()): the rosters and the other guests' regions.
 */
function foreignBytes(fake: Fake): Map<string, Buffer> {
  const files = hostFiles(fake.plan.name, fake.dir).filter((f) => f.kind === 'roster' || f.slot !== SELF);
  assert.equal(files.length, 3 + fake.plan.regions.filter((r) => r.owner !== SELF).length, 'hostFiles() found other files than the setup has');
  return new Map(files.map((f) => [f.path, readFileSync(f.path)]));
}

function assertUnchanged(before: Map<string, Buffer>, what: string): void {
  for (const [path, bytes] of before) assert.ok(readFileSync(path).equals(bytes), `${what} changed ${path}`);
}

/** g3's entry in its region i. */
function ownEntry(fake: Fake, i: number): Buffer {
  return readFileSync(fake.regions[i]).subarray(ENTRY, ENTRY + LAYOUT.kvmring_peer.size);
}

const ownRegions = (fake: Fake) => fake.plan.regions.map((r, i) => ({ r, i })).filter(({ r }) => r.owner === SELF);

/** Every write the tool made outside its own regions faulted, and at least one was made there. */
function assertAllFaulted(s: Summary): void {
  assert.deepEqual(foreignWritesThatStuck(s), []);
  const foreign = s.bars.filter((b) => !b.mine && b.kind !== 'doorbell');
  assert.ok(foreign.length > 0, 'the tool mapped nothing but its own regions');
  for (const b of foreign) {
    assert.equal(b.writable, false, `${b.devfn} should be mapped read-only`);
    assert.equal(b.faults, b.words, `${b.kind} ${b.devfn}: ${b.words} words written, ${b.faults} faulted`);
  }
  assert.equal(s.rosterIntact, true, 'the roster changed under the tool');
}

describe('kvmring_hostile against files laid out as a guest BARs', function () {
  this.timeout(60_000);
  const fakes: Fake[] = [];
  const fake = (isolation: 'owner' | 'pair', mode: 'plain' | 'doorbell' = 'plain') => {
    const f = layOut(isolation, mode);
    fakes.push(f);
    return f;
  };

  before(function () {
    requireTier(this, 'host');
    if (!existsSync(HOSTILE)) throw new Error(`${HOSTILE} is not built: run \`npm run build\``);
  });

  after(() => {
    for (const f of fakes) rmSync(f.dir, { recursive: true, force: true });
  });

  for (const isolation of ['owner', 'pair'] as const) {
    describe(`${isolation} isolation`, () => {
      it("stomp: every write into g2's regions and the roster faults and changes nothing; g3's own entry is its own", () => {
        const f = fake(isolation);
        const before = foreignBytes(f);
        const s = ok(f, 'stomp', ['--victim', String(VICTIM)], 1.5);
        assertUnchanged(before, 'stomp');
        assertAllFaulted(s);
        assert.equal(s.slot, SELF);
        assert.equal(s.isolation, isolation);
        assert.ok(s.stomps >= 5, `stomp wrote ${s.stomps} times in 1.5 s (a beat is 100 ms)`);
        const names = s.targets.map((t) => t.name).join(', ');
        for (const want of [/slot 1 entry\.state/, /slot 1 header/, /1->2 q0 prod(,|$)/, /2->1 q0 kick/, /roster self/, /roster slot 1 mac/]) {
          assert.match(names, want);
        }
        if (isolation === 'owner') assert.match(names, /1->0 q0 prod(,|$)/, "owner isolation: g2's lane to g1 is stomped too");
        for (const t of s.targets) assert.equal(t.faults, t.words, `${t.name}: ${t.words} words, ${t.faults} faulted`);
        // Joined and left as ABI v2 says: FREE in its generation, heartbeat moved, the roster's MAC.
        for (const { i } of ownRegions(f)) {
          const e = ownEntry(f, i);
          assert.equal(e.readBigUInt64LE(PEER.state[0]), peerWord(s.generation, C.KVMRING_PEER_FREE));
          assert.ok(e.readBigUInt64LE(PEER.heartbeat[0]) >= 5n);
          assert.equal(formatMac(e.subarray(PEER.mac[0], PEER.mac[0] + 6)), f.plan.guests[SELF].mac);
          assert.deepEqual([...e.subarray(PEER.ipv4[0], PEER.ipv4[0] + 4)], [198, 51, 100, 3]);
        }
      });

      it('scribble: random bytes over its own regions, faults everywhere else', () => {
        const f = fake(isolation);
        const before = foreignBytes(f);
        const own = ownRegions(f).map(({ i }) => readFileSync(f.regions[i]));
        const s = ok(f, 'scribble', [], 1);
        assertUnchanged(before, 'scribble');
        assertAllFaulted(s);
        const mine = s.bars.filter((b) => b.mine);
        assert.equal(mine.length, ownRegions(f).length);
        for (const b of mine) assert.ok(b.words > 0 && b.stuck > 0.99 * b.words, `own region ${b.devfn}: ${b.stuck} of ${b.words} words stuck`);
        ownRegions(f).forEach(({ i }, k) => assert.ok(!readFileSync(f.regions[i]).equals(own[k]), `g3's region ${i} was not scribbled over`));
        // The next run finds its own headers garbled, writes them again as the host did, and plays.
        const again = run(f, 'flip-gen', [], 0.3);
        assert.equal(again.code, 0, `a run after the scribbling failed:\n${again.stderr}`);
        assert.match(again.stderr, /is ours but its header is not what the host wrote/);
        ownRegions(f).forEach(({ i }, k) => assert.ok(readFileSync(f.regions[i]).subarray(0, 128).equals(own[k].subarray(0, 128)), `g3's region ${i} has another header than the host wrote`));
      });

      it('bad-meta: records into its own rings to every peer that is up', () => {
        const f = fake(isolation);
        const s = ok(f, 'bad-meta', [], 1);
        assert.ok(s.records > 100 && s.pads > 0, `${s.records} records, ${s.pads} pads`);
        assert.deepEqual(foreignWritesThatStuck(s), []);
        for (const peer of [0, 1]) {
          const own = ownRegions(f).find(({ r }) => (r.readers >>> peer) & 1);
          assert.ok(own, `no region of g3 read by slot ${peer}`);
          const ctl = queueOffset(f.plan.ringSize, f.plan.queues, laneOf(own.r.readers, peer), 0);
          const prod = readFileSync(f.regions[own.i]).readBigUInt64LE(ctl + LAYOUT.kvmring_queue_ctl.members.tx[0]);
          assert.ok((prod & 0xffffffffn) > 0n, `g3's ring to slot ${peer} was never published`);
        }
      });

      it("steal-mac: g2's roster MAC and published addresses in g3's entries", () => {
        const f = fake(isolation);
        ok(f, 'steal-mac', ['--victim', String(VICTIM)], 0.5);
        for (const { i } of ownRegions(f)) {
          const e = ownEntry(f, i);
          assert.equal(formatMac(e.subarray(PEER.mac[0], PEER.mac[0] + 6)), f.plan.guests[VICTIM].mac);
          assert.deepEqual([...e.subarray(PEER.ipv4[0], PEER.ipv4[0] + 4)], [198, 51, 100, 2]);
        }
      });

      it("honest: joins in one generation, beats, publishes no record and writes nowhere but its own entries", () => {
        const f = fake(isolation);
        const before = foreignBytes(f);
        const s = ok(f, 'honest', [], 0.5);
        assertUnchanged(before, 'honest');
        assert.deepEqual(foreignWritesThatStuck(s), []);
        assert.deepEqual([s.generations, s.records, s.pads, s.stomps, s.scribbled], [1, 0, 0, 0, 0]);
        assert.ok(s.beats >= 3, `${s.beats} beats in 0.5 s`);
        for (const { i } of ownRegions(f)) {
          const e = ownEntry(f, i);
          assert.equal(e.readBigUInt64LE(PEER.state[0]), peerWord(s.generation, C.KVMRING_PEER_FREE));
          assert.equal(formatMac(e.subarray(PEER.mac[0], PEER.mac[0] + 6)), f.plan.guests[SELF].mac);
        }
      });

      it('flip-gen: a new generation every beat in every entry of its own', () => {
        const f = fake(isolation);
        const s = ok(f, 'flip-gen', [], 1);
        assert.ok(s.generations > 5, `${s.generations} generations`);
        for (const { i } of ownRegions(f)) {
          assert.equal(ownEntry(f, i).readBigUInt64LE(PEER.state[0]), peerWord(s.generation, C.KVMRING_PEER_FREE));
        }
      });
    });
  }

  it("doorbell-flood: g2's doorbell id (the roster's, or --doorbell-id) into g3's doorbell register", () => {
    const f = fake('owner', 'doorbell');
    assert.ok(f.doorbell);
    const s = ok(f, 'doorbell-flood', ['--victim', String(VICTIM)], 0.3);
    assert.ok(s.doorbells > 1000, `${s.doorbells} doorbells`);
    assert.equal(readFileSync(f.doorbell).readUInt32LE(12), (VICTIM + 1) << 16);
    ok(f, 'doorbell-flood', ['--doorbell-id', '9'], 0.1);
    assert.equal(readFileSync(f.doorbell).readUInt32LE(12), 9 << 16);
    // Our own doorbell id, from the device's IVPosition, in our entry.
    for (const { i } of ownRegions(f)) assert.equal(ownEntry(f, i).readUInt32LE(PEER.doorbell_id[0]), SELF + 1);
  });

  describe('refuses', () => {
    it('a roster without its magic', () => {
      const f = fake('owner');
      chmodSync(f.roster, 0o644);
      const b = readFileSync(f.roster);
      b.fill(0, 0, 8);
      writeFileSync(f.roster, b);
      const r = run(f, 'stomp');
      assert.equal(r.code, 1);
      assert.match(r.stderr, /the roster at 00:10\.0 is refused .*magic/);
    });

    it('a region of its own that it may not write', () => {
      const f = fake('owner');
      const [{ i }] = ownRegions(f);
      chmodSync(f.regions[i], 0o444);
      const r = run(f, 'flip-gen');
      assert.equal(r.code, 1);
      assert.match(r.stderr, /is ours by the roster, but we may only read it/);
    });

    it('a function a driver holds', () => {
      const f = fake('owner');
      symlinkSync('../../../bus/pci/drivers/ringnet', join(fnDir(f.pci, C.KVMRING_ROSTER_DEVFN), 'driver'));
      const r = run(f, 'stomp');
      assert.equal(r.code, 1);
      assert.match(r.stderr, /00:10\.0 is bound to ringnet/);
    });
  });
});
