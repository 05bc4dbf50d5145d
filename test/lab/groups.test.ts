// Groups and pair isolation in doorbell mode: g1 and g2 share group a, g2 and g3
// group b, so g2 talks to both and g1 and g3 to nobody but g2. What proves that
// g3 cannot read or ring what is not its business:
//   - the rosters: g1's and g3's list only themselves and g2, and ring0 shows no more;
//   - memory: a marker g1 sends g2 over ring0 is in none of the BARs g3 maps
//     (read from g3 itself, through sysfs), while g2 finds it in its own;
//   - doorbells: the doorbell server hands a guest's QEMU its own eventfds (one
//     per vector, on which it takes interrupts) and those of the guests it
//     shares a group with (to ring them), nothing else. Which QEMUs hold the same
//     eventfd (the same kernel object: /proc/PID/fdinfo's eventfd-id) shows it:
//     g1 and g2 share g1's and g2's vectors, g2 and g3 g2's and g3's, g1 and g3
//     only g2's, which both may ring; an eventfd of g1 in g3's QEMU would be one
//     more. The ids the server gave are in its status file and in the rosters of
//     the guests that may ring them.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

import { parseRoster } from '../../src/host/roster.js';
import { CONSTANTS as C } from '../../src/ring/layout.js';
import { markerSeen } from '../helpers/bars.js';
import { type Lab, labFixture } from '../helpers/lab.js';
import { requireTier } from '../helpers/tier.js';

/** The eventfds a process holds, by eventfd-id (the kernel's id of the object, the same in every process that holds it). */
function eventfds(pid: number): Set<number> {
  const ids = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    let info: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target !== 'anon_inode:[eventfd]') continue;
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    const m = /^eventfd-id:\s*(\d+)$/m.exec(info);
    assert.ok(m, `/proc/${pid}/fdinfo/${fd} shows no eventfd-id (this host's kernel is too old to tell eventfds apart):\n${info}`);
    ids.add(Number(m[1]));
  }
  return ids;
}

const common = (a: Set<number>, b: Set<number>) => [...a].filter((x) => b.has(x));

describe('groups a=g1,g2 b=g2,g3 under pair isolation, doorbell mode (3 guests)', function () {
  this.timeout(300_000);
  let lab: Lab;

  before(async function () {
    requireTier(this, 'lab');
    lab = await labFixture.get({ guests: 3, doorbell: true, isolation: 'pair', groups: ['a=g1,g2', 'b=g2,g3'] });
  });

  it('lists in each roster only the guests that share a group, and ring0 shows no more', async () => {
    const plan = await lab.plan();
    const slot = (g: string) => plan.guests.find((x) => x.name === g)?.slot ?? -1;
    const want: Record<string, string[]> = { g1: ['g1', 'g2'], g2: ['g1', 'g2', 'g3'], g3: ['g2', 'g3'] };
    for (const g of lab.guestNames()) {
      const roster = parseRoster(readFileSync(`${(await lab.hostState()).dir}/kvmring-${lab.name}+${g}.roster`));
      assert.equal(roster.isolation, 'pair');
      assert.deepEqual(roster.slots.map((s) => s.name), want[g], `${g}'s roster`);
      const peers = await lab.ringPeers(g);
      assert.deepEqual(
        peers.map((p) => [p.name, p.state]),
        want[g].map((n) => [n, n === g ? 'self' : 'up']),
        `${g}'s peer table`,
      );
      // pair: a region of its own for each guest it talks to, and one of each of theirs.
      const others = want[g].length - 1;
      assert.equal(roster.regions.length, 2 * others, `${g}'s regions`);
      assert.ok(roster.regions.every((r) => r.owner === slot(g) || r.readers === 1 << slot(g)), `${g} maps a region it neither owns nor reads`);
    }
  });

  it('carries traffic within the groups and none between g1 and g3', async () => {
    for (const [a, b] of [['g1', 2], ['g2', 1], ['g2', 3], ['g3', 2]] as const) {
      assert.match(await lab.sh(a, `ping -c 2 -i 0.2 -W 5 198.51.100.${b}`), /2 packets transmitted, 2 received/, `${a} -> g${b}`);
    }
    for (const [a, b] of [['g1', 3], ['g3', 1]] as const) {
      const r = await lab.exec(a, ['ping', '-c', '2', '-i', '0.2', '-W', '1', `198.51.100.${b}`]);
      assert.notEqual(r.code, 0, `${a} reached g${b} over ring0, with whom it shares no group`);
    }
  });

  it('keeps what g1 sends g2 out of every BAR g3 maps, and shows g3 what g2 sends it', async () => {
    // g3 maps its roster, its regions and g2's for it, the doorbell device: none of g1's.
    assert.deepEqual(await markerSeen(lab, 'g1', 'g2', 'g3'), [], 'g3 can read what g1 sent g2');
    // The scan finds in g3 what is there: its own traffic with g2 (in g2's region for g3,
    // and quoted in the port-unreachable g3 may send back through its own).
    assert.ok((await markerSeen(lab, 'g2', 'g3', 'g3')).length >= 1, 'g3 finds not even what g2 sent it');
  });

  it('gives g3\'s QEMU eventfds of g2 only (its group), none of g1\'s, and the ids to the rosters that may ring them', async () => {
    const plan = await lab.plan();
    const pids = await lab.qemuPids();
    const fds = new Map(lab.guestNames().map((g) => {
      const pid = pids.get(g);
      assert.ok(pid, `${g}'s QEMU is not running`);
      return [g, eventfds(pid)];
    }));
    const [g1, g2, g3] = ['g1', 'g2', 'g3'].map((g) => fds.get(g) ?? new Set<number>());
    const v = plan.vectors;
    // Two guests that may ring each other hold each other's vectors: 2 v in common.
    assert.equal(common(g1, g2).length, 2 * v, `g1's and g2's QEMUs hold ${common(g1, g2).length} eventfds in common, not ${2 * v}`);
    assert.equal(common(g2, g3).length, 2 * v, `g2's and g3's QEMUs hold ${common(g2, g3).length} eventfds in common, not ${2 * v}`);
    // g1 and g3 hold only g2's vectors in common (g2 holds them too): none of g1's is in g3's QEMU, nor of g3's in g1's.
    const g2s = common(g1, g3);
    assert.equal(g2s.length, v, `g1's and g3's QEMUs hold ${g2s.length} eventfds in common: g2's ${v} and ${g2s.length - v} of each other's`);
    assert.deepEqual(common(new Set(g2s), g2), g2s, 'what g1 and g3 hold in common is not g2\'s');
    // So g1's own vectors are those it shares with g2 alone, g3's those it shares with g2 alone.
    const g1s = common(g1, g2).filter((x) => !g2s.includes(x));
    const g3s = common(g2, g3).filter((x) => !g2s.includes(x));

    // The server's status file names each guest's id; a roster carries the ids of the guests it lists.
    const status = JSON.parse(readFileSync(`${lab.hostDir}/doorbell.json`, 'utf8')) as { pid: number; guests: Record<string, { id: number | null }> };
    const ids = new Map(lab.guestNames().map((g) => [g, status.guests[g]?.id]));
    assert.ok([...ids.values()].every((id) => typeof id === 'number' && id !== C.KVMRING_DOORBELL_NONE), JSON.stringify(status.guests));
    assert.equal(new Set(ids.values()).size, 3, `three guests, three ids: ${JSON.stringify(status.guests)}`);
    const dir = (await lab.hostState()).dir;
    for (const g of lab.guestNames()) {
      const roster = parseRoster(readFileSync(`${dir}/kvmring-${lab.name}+${g}.roster`));
      assert.deepEqual(
        roster.slots.map((s) => [s.name, s.doorbellId]),
        roster.slots.map((s) => [s.name, ids.get(s.name)]),
        `${g}'s roster's doorbell ids`,
      );
    }
    // The server holds every guest's vectors.
    const server = eventfds(status.pid);
    assert.deepEqual([...g1s, ...g2s, ...g3s].filter((x) => !server.has(x)), [], 'the doorbell server does not hold every guest\'s vectors');
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
