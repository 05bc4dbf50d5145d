// ringnet's generic netlink family in real guests: ringctl's peer table and
// regions come from its dumps and match what ringnet's debugfs view shows
// (the roster's names and MACs, each region's owner and readers); the monitor
// group tells g1 of g2 leaving and joining again (its MAC the roster's, its
// generation new); and `ringctl attach --follow` brings the peer map in step
// on those events. The follower's
// latency is measured from the kernel's event timestamp (CLOCK_MONOTONIC in the
// same guest), printed, and held only to a bound generous enough for a loaded
// host: what the test insists on is that the event path is the one used. The
// debugfs view follows a rename of the device.
import assert from 'node:assert/strict';

import { type Lab, REPO, labFixture } from '../helpers/lab.js';
import { requireTier } from '../helpers/tier.js';
import { SLOWDOWN, eventually } from '../helpers/time.js';

const RINGCTL = `${REPO}/bin/ringctl.js`;
const RING_UP = `bash ${REPO}/scripts/guest/ring-up.sh`;
const PINS = '/sys/fs/bpf/ringctl/eth1';
/** A listener on the monitor group, printing one JSON line per event. */
const MONITOR = `node --input-type=module -e "
const m = await import('${REPO}/dist/src/netlink/ringnet.js');
m.monitorPeers((e) => console.log(JSON.stringify({ ...e, eventNs: String(e.eventNs) })), () => console.log('overrun'), (err) => console.log('error', err.message));
console.log('listening');
"`;

describe('ringnet over generic netlink (2 guests)', function () {
  this.timeout(300_000 * SLOWDOWN);
  let lab: Lab;
  const pids: { g: string; pid: number }[] = [];

  before(async function () {
    requireTier(this, 'lab');
    lab = await labFixture.get({ guests: 2 });
  });

  after(async () => {
    if (!lab) return;
    for (const { g, pid } of pids.splice(0)) await lab.sh(g, `kill -TERM ${pid} 2>/dev/null; while [ -e /proc/${pid} ]; do sleep 0.1; done`).catch(() => '');
    await lab.sh('g2', RING_UP).catch(() => '');
    await lab.sh('g1', `[ -d ${PINS} ] && node ${RINGCTL} detach eth1 || true`).catch(() => '');
  });

  afterEach(async () => {
    if (!lab) return;
    await lab.assertKernelLogsClean();
  });

  it('ringctl peers and the stats regions come over genetlink and match debugfs', async () => {
    type Row = { slot: number; name: string; state: string; generation: number; mac: string; ipv4: string[]; claimedMac: string | null; addrsRefused: number };
    const json = JSON.parse(await lab.sh('g1', `node ${RINGCTL} peers --all --json`)) as Row[];
    const table = await lab.ringPeers('g1');
    assert.equal(json.length, table.length, `ringctl peers --all lists ${json.length} slots, debugfs ${table.length}`);
    for (const t of table) {
      const j = json.find((p) => p.slot === t.slot);
      assert.ok(j, `slot ${t.slot} missing from ringctl peers`);
      assert.deepEqual(
        [j.state, j.generation, j.mac, j.name, j.ipv4.join(',') || '-', j.claimedMac ?? '-', j.addrsRefused],
        [t.state, t.gen, t.mac, t.name, t.ipv4, t.claimedMac, t.addrsRefused],
        `slot ${t.slot}`,
      );
    }
    // g1 and g2, both in the roster, under the names the host gave them.
    const plan = await lab.plan();
    assert.deepEqual(json.map((p) => [p.name, p.state, p.mac]), plan.guests.map((g) => [g.name, g.name === 'g1' ? 'self' : 'up', g.mac]));
    // No sysfs table any more; the human view is in debugfs.
    assert.equal((await lab.exec('g1', ['test', '-e', '/sys/class/net/ring0/ringnet/peers'])).code, 1);
    const regions = await lab.sh('g1', `node ${RINGCTL} stats --json`);
    const s = JSON.parse(regions) as { ring: { regions: { region: number; pci: string; mode: string; owner: number; readers: number[] }[] } | null };
    const dbg = (await lab.sh('g1', 'cat /sys/kernel/debug/ringnet/ring0/regions')).trim().split('\n').slice(1);
    assert.deepEqual(
      s.ring?.regions.map((r) => `${r.region} ${r.pci} ${r.mode} ${r.owner} ${r.readers.reduce((m, x) => m | (1 << x), 0)}`),
      dbg.map((l) => l.split(' ')).map((f) => `${f[0]} ${f[1]} ${f[6]} ${f[7]} ${Number(f[8])}`),
    );
    assert.equal(s.ring?.regions.length, 2, 'owner isolation, 2 guests: g1 owns one region and reads g2\'s');
  });

  it('tells a monitor of g2 leaving and joining', async () => {
    const pid = Number((await lab.sh('g1', `${MONITOR} > /tmp/monitor.log 2>&1 & echo $!`)).trim());
    pids.push({ g: 'g1', pid });
    await eventually(120_000, 'the monitor listening', async () => (await lab.sh('g1', 'cat /tmp/monitor.log')).includes('listening'));
    const g2mac = (await lab.sh('g2', 'cat /sys/class/net/ring0/address')).trim();
    const g2 = await lab.slotOf('g2');
    await lab.sh('g2', 'timeout 60 rmmod ringnet');
    await lab.sh('g2', RING_UP);
    const events = async () =>
      (await lab.sh('g1', 'cat /tmp/monitor.log'))
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { kind: string; slot: number; generation: number; mac: string; state: string; eventNs: string; row: { name: string } });
    await eventually(30_000, 'g1 hearing of the leave and the join', async () => {
      const e = await events();
      return e.some((x) => x.kind === 'peer-leave') && e.some((x) => x.kind === 'peer-join');
    });
    const e = await events();
    const leave = e.find((x) => x.kind === 'peer-leave')!;
    const join = e.find((x) => x.kind === 'peer-join')!;
    // The roster's MAC and slot, before and after; a new generation after.
    assert.deepEqual([leave.slot, leave.mac, leave.row.name], [g2, g2mac, 'g2']);
    assert.deepEqual([join.slot, join.mac, join.row.name, join.state], [g2, g2mac, 'g2', 'up']);
    assert.equal((await lab.sh('g2', 'cat /sys/class/net/ring0/address')).trim(), g2mac, 'the reloaded ringnet took the roster\'s MAC');
    assert.ok(join.generation > leave.generation, `g2 joined in generation ${join.generation}, left ${leave.generation}`);
    assert.ok(BigInt(join.eventNs) > BigInt(leave.eventNs));
    await lab.sh('g1', `kill -TERM ${pid}; while [ -e /proc/${pid} ]; do sleep 0.1; done`);
    pids.splice(pids.findIndex((p) => p.pid === pid), 1);
  });

  it('--follow brings the peer map in step on a join event', async () => {
    const pid = Number((await lab.sh('g1', `node ${RINGCTL} attach eth1 --subnet 198.51.100.0/24 --follow > /tmp/follow.log 2>&1 & echo $!`)).trim());
    pids.push({ g: 'g1', pid });
    await eventually(240_000, 'the follower starting', async () => (await lab.sh('g1', 'cat /tmp/follow.log')).includes('following the peer tables'));
    const log0 = await lab.sh('g1', 'cat /tmp/follow.log');
    assert.match(log0, /following the peer tables on ringnet's genetlink events/);
    await lab.sh('g2', 'timeout 60 rmmod ringnet');
    await eventually(30_000, 'the follower removing g2', async () => / removed \(on peer-leave/.test(await lab.sh('g1', 'cat /tmp/follow.log')));
    await lab.sh('g2', RING_UP);
    let line = '';
    await eventually(30_000, 'the follower adding g2 again', async () => {
      line = (await lab.sh('g1', 'cat /tmp/follow.log')).split('\n').find((l) => /: peer \d+ \(g2, [0-9a-f:]{17}\) added: .*\(on peer-join of slot \d+, [\d.]+ ms after ringnet saw it\)/.test(l)) ?? '';
      return line !== '';
    });
    const ms = Number(/, ([\d.]+) ms after ringnet saw it/.exec(line)![1]);
    console.log(`      follower in step ${ms} ms after ringnet saw the join (${line.trim()})`);
    // The issue asks for 100 ms; a loaded 2-core host running other labs gets slack.
    assert.ok(ms < 1000 * SLOWDOWN, `the follower took ${ms} ms after the join event`);
  });

  it('keeps its debugfs directory under the device\'s current name', async () => {
    const dirs = async () => (await lab.sh('g2', 'ls /sys/kernel/debug/ringnet')).trim().split(/\s+/).sort();
    assert.deepEqual(await dirs(), ['ring0']);
    try {
      await lab.sh('g2', 'ip link set ring0 down && ip link set ring0 name ringx && ip link set ringx up');
      assert.deepEqual(await dirs(), ['ringx']);
      assert.match(await lab.sh('g2', 'head -1 /sys/kernel/debug/ringnet/ringx/peers'), /slot/);
    } finally {
      // Down drops ring0's IPv6 addresses; ring-up gives them back.
      await lab.sh('g2', `ip link set ringx down; ip link set ringx name ring0; ${RING_UP}`).catch(() => '');
    }
    assert.deepEqual(await dirs(), ['ring0']);
    await eventually(30_000, 'g2 -> g1 over ring0 after the renames', async () =>
      (await lab.exec('g2', ['ping', '-c', '1', '-W', '2', '198.51.100.1'])).code === 0);
  });
});
