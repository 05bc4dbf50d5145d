import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DoorbellServer, GUEST_SHM_SIZE } from '../../src/host/doorbell.js';
import { mayTalkInGroups, type Group } from '../../src/host/groups.js';
import { parseRoster } from '../../src/host/roster.js';
import type { SetupStatus } from '../../src/host/status.js';
import { CONSTANTS as C } from '../../src/ring/layout.js';
import { hostSetup } from '../helpers/host-setup.js';
import { alive } from '../helpers/process.js';
import { eventually } from '../helpers/time.js';
import { requireTier } from '../helpers/tier.js';
import { IvshmemClient, needPython } from './ivshmem-client.js';

/** How many eventfds process `pid` holds. */
const eventfdsOf = (pid: number) =>
  readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:[eventfd]';
    } catch {
      return false;
    }
  }).length;

describe('ringctl host up --doorbell: the doorbell server, a socket per guest', function () {
  this.timeout(60_000);
  const { name, file, cli, stateDir, state } = hostSetup('testdb', needPython);
  const socket = (g: string) => join(stateDir(), `doorbell-${g}.sock`);
  const clients: IvshmemClient[] = [];

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  /** What the server published: each guest's id (null: not connected). */
  function published(): Record<string, number | null> {
    try {
      const v = JSON.parse(readFileSync(join(stateDir(), 'doorbell.json'), 'utf8')) as { guests: Record<string, { id: number | null }> };
      return Object.fromEntries(Object.entries(v.guests).map(([g, x]) => [g, x.id]));
    } catch {
      return {};
    }
  }

  /** Waits up to 5 s for ok(fn()). */
  async function waitFor<T>(what: string, fn: () => Promise<T> | T, ok: (v: T) => boolean): Promise<void> {
    let v: T | undefined;
    await eventually(5_000, what, async () => ok((v = await fn())), { every: 50, detail: () => `still ${JSON.stringify(v)}` });
  }

  async function up(...args: string[]): Promise<number> {
    const r = await cli('host', 'up', '--name', name, '--doorbell', ...args);
    assert.equal(r.code, 0, `host up failed:\n${r.stdout}${r.stderr}`);
    const pid = state().doorbell?.pid;
    assert.ok(pid && alive(pid));
    return pid;
  }

  /** A fake QEMU on guest g's socket, once the server has given it an id. */
  async function connect(g: string): Promise<IvshmemClient> {
    const c = await IvshmemClient.connect(socket(g));
    clients.push(c);
    await waitFor(`${g} connected`, published, (ids) => typeof ids[g] === 'number');
    return c;
  }

  /** Each roster's doorbell ids by guest name (NONE as null), and its seq. */
  function rosterIds(g: string): { seq: number; ids: Record<string, number | null> } {
    const guest = state().plan.guests.find((x) => x.name === g)!;
    const r = parseRoster(readFileSync(file(guest.roster)));
    return { seq: r.seq, ids: Object.fromEntries(r.slots.map((x) => [x.name, x.doorbellId === C.KVMRING_DOORBELL_NONE ? null : x.doorbellId])) };
  }

  it('starts the server with a socket of its own per guest, 0600, and records it', async () => {
    const r = await cli('host', 'up', '--name', name, '--doorbell', '--guests', '3', '--group', 'a=g1,g2', '--group', 'b=g2,g3');
    assert.equal(r.code, 0, r.stderr);
    const s = state();
    const pid = s.doorbell!.pid!;
    assert.match(r.stdout, new RegExp(`^${name}: doorbell mode: server pid ${pid}, a socket per guest in ${stateDir()}, 1 vector\\(s\\) per guest \\(log .*doorbell\\.log\\)$`, 'm'));
    assert.deepEqual(s.doorbell, {
      log: join(stateDir(), 'doorbell.log'),
      pid,
      guests: ['g1', 'g2', 'g3'].map((g) => ({ name: g, socket: socket(g) })),
      groups: [
        { name: 'a', guests: ['g1', 'g2'] },
        { name: 'b', guests: ['g2', 'g3'] },
      ],
    });
    for (const g of ['g1', 'g2', 'g3']) assert.equal(statSync(socket(g)).mode & 0o777, 0o600, `${g}'s socket`);
    assert.ok(!existsSync(join(stateDir(), 'doorbell.sock')), 'no socket for everyone');
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    assert.deepEqual(argv.slice(-4), ['host', 'doorbell-server', name, ''], 'a command line host down can recognise');
    for (const g of ['g1', 'g2', 'g3']) {
      const f = s.plan.guests.find((x) => x.name === g)!;
      assert.equal(parseRoster(readFileSync(file(f.roster))).flags, C.KVMRING_ROSTER_F_DOORBELL);
    }
  });

  it('writes each guest\'s doorbell id into every roster that lists it as guests connect and go', async () => {
    await up('--guests', '3', '--group', 'a=g1,g2', '--group', 'b=g2,g3');
    assert.deepEqual(rosterIds('g2'), { seq: 0, ids: { g1: null, g2: null, g3: null } }, 'nobody connected: no ids, never rewritten');

    const g2 = await connect('g2');
    await waitFor("g2's id in the rosters", () => [rosterIds('g1').ids.g2, rosterIds('g2').ids.g2, rosterIds('g3').ids.g2], (v) => v.every((id) => id === 0));
    const g1 = await connect('g1');
    await waitFor("g1's id in the rosters that list g1", () => [rosterIds('g1').ids.g1, rosterIds('g2').ids.g1], (v) => v.every((id) => id === 1));
    assert.deepEqual(rosterIds('g1'), { seq: 4, ids: { g1: 1, g2: 0 } }, 'g1 rewritten twice, each under an odd seq made even');
    assert.deepEqual(rosterIds('g2'), { seq: 4, ids: { g1: 1, g2: 0, g3: null } });
    assert.deepEqual(rosterIds('g3'), { seq: 2, ids: { g2: 0, g3: null } }, "g3's roster does not list g1, and was not rewritten for it");

    // g3 gets g2's eventfds, never g1's.
    const g3 = await connect('g3');
    const st = await g3.state();
    assert.deepEqual(st.fds, { 0: 1, 2: 1 });
    await waitFor("g3's id", () => rosterIds('g3').ids.g3, (id) => id === 2);
    assert.deepEqual((await g1.state()).fds, { 0: 1, 1: 1 }, "g1 holds g2's eventfd and its own, never g3's");

    await g2.close();
    await waitFor("g2's id gone from the rosters", () => [rosterIds('g1').ids.g2, rosterIds('g2').ids.g2, rosterIds('g3').ids.g2], (v) => v.every((id) => id === null));
    assert.deepEqual(rosterIds('g1').ids, { g1: 1, g2: null });
    const log = readFileSync(join(stateDir(), 'doorbell.log'), 'utf8');
    assert.match(log, /doorbell ids g1=- g2=0 g3=-: rewrote the rosters of g1, g2, g3\n/);
    assert.match(log, /peer 0 \(g2\) disconnected\n/);
  });

  it('shows each guest\'s doorbell id and whether it is connected in host status', async () => {
    const pid = await up('--guests', '3', '--vectors', '2');
    const own = eventfdsOf(pid); // libuv's
    await connect('g1');
    await connect('g3');
    assert.equal(eventfdsOf(pid), own + 4, 'two eventfds per guest connected');
    await waitFor('ids in the rosters', () => rosterIds('g2').ids, (ids) => ids.g1 === 0 && ids.g3 === 1);
    const r = await cli('host', 'status', '--name', name, '--json');
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as SetupStatus;
    assert.deepEqual(s.doorbell, { pid, running: true, connected: [0, 1] });
    assert.deepEqual(s.guests.map((g) => [g.name, g.doorbellId, g.connected]), [['g1', 0, true], ['g2', null, false], ['g3', 1, true]]);
    const text = await cli('host', 'status', '--name', name);
    assert.match(text.stdout, new RegExp(`^mode +doorbell, 2 vector\\(s\\): server pid ${pid} running, ids connected: 0 1$`, 'm'));
    assert.match(text.stdout, /^0 +g1 +\S+ +- +0 +#0 rw, #1, #2$/m);
    assert.match(text.stdout, /^1 +g2 +\S+ +- +- +#1 rw, #0, #2$/m);
  });

  it('stops the server on host down and removes its sockets', async () => {
    const pid = await up('--guests', '2');
    const r = await cli('host', 'down', '--name', name);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${name}: stopped the doorbell server (pid ${pid})\n${name}: removed 4 files from /dev/shm\n${name}: removed ${stateDir()}\n`);
    await waitFor('server gone', () => alive(pid), (a) => !a);
    assert.ok(!existsSync(socket('g1')) && !existsSync(stateDir()));
    assert.equal((await cli('host', 'down', '--name', name)).stdout, `${name}: not up; nothing to do\n`);
  });

  it('reports a dead server, and host down still cleans up', async () => {
    const pid = await up('--guests', '2');
    process.kill(pid, 'SIGKILL');
    await waitFor('server gone', () => alive(pid), (a) => !a);
    const r = await cli('host', 'status', '--name', name);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `ringctl: ${name}: the doorbell server (pid ${pid}) is not running\n`);
    assert.match(r.stdout, new RegExp(`server pid ${pid} NOT running`));
    const d = await cli('host', 'down', '--name', name);
    assert.equal(d.code, 0);
    assert.ok(!existsSync(stateDir()));
  });

  it('never signals a process that is not its server', async () => {
    await up('--guests', '2');
    const real = state().doorbell!.pid!;
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const s = state();
      s.doorbell!.pid = other.pid!;
      writeFileSync(join(stateDir(), 'state.json'), JSON.stringify(s));
      rmSync(join(stateDir(), 'doorbell.json')); // the server's own record of its pid
      const r = await cli('host', 'down', '--name', name);
      assert.equal(r.code, 0);
      assert.match(r.stdout, new RegExp(`^${name}: pid ${other.pid} is no longer our doorbell server; left it alone$`, 'm'));
      assert.ok(alive(other.pid!), 'sleep still runs');
    } finally {
      other.kill('SIGKILL');
      if (alive(real)) process.kill(real, 'SIGTERM');
    }
  });
});

/**
 * A DoorbellServer run as a library in the test's own process, with fake QEMUs,
 * in a directory of its own: call in a describe(); the server, the clients and
 * the directory go after each test.
 */
function libraryFixture(prefix: string) {
  const t = { dir: '', server: undefined as DoorbellServer | undefined, clients: [] as IvshmemClient[], log: [] as string[] };
  before(function () {
    requireTier(this, 'host');
    needPython();
  });
  beforeEach(() => {
    t.dir = mkdtempSync(join(tmpdir(), prefix));
    t.log = [];
  });
  afterEach(async () => {
    await Promise.all(t.clients.map((c) => c.close()));
    t.clients = [];
    await t.server?.close();
    t.server = undefined;
    rmSync(t.dir, { recursive: true, force: true });
  });
  return {
    t,
    /** A client on `socket`, once `accepted()` says the server has taken it. */
    connect: async (socket: string, what: string, accepted: () => boolean): Promise<IvshmemClient> => {
      const c = await IvshmemClient.connect(socket);
      t.clients.push(c);
      await eventually(5_000, `${what} connected`, accepted);
      return c;
    },
  };
}

describe('the doorbell server as a library: doorbells within groups', function () {
  this.timeout(60_000);
  // Groups a = g1,g2 and b = g2,g3: g2 talks to both, g1 and g3 to g2 only.
  const GROUPS: Group[] = [
    { name: 'a', guests: ['g1', 'g2'] },
    { name: 'b', guests: ['g2', 'g3'] },
  ];
  const VECTORS = 2;
  const { t, connect: connectTo } = libraryFixture('doorbell-v2-');
  let ids: Record<string, number | null>[] = [];
  const sock = (g: string) => join(t.dir, `doorbell-${g}.sock`);
  const statusFile = () => join(t.dir, 'doorbell.json');

  beforeEach(() => {
    ids = [];
  });

  async function start(mayTalk = mayTalkInGroups(GROUPS)): Promise<DoorbellServer> {
    t.server = await DoorbellServer.start({
      guests: ['g1', 'g2', 'g3'].map((name) => ({ name, socket: sock(name) })),
      mayTalk,
      vectors: VECTORS,
      statusFile: statusFile(),
      onIds: (m) => ids.push(Object.fromEntries([...m].map(([g, id]) => [g, id ?? null]))),
      log: (line) => t.log.push(line),
    });
    return t.server;
  }

  /** A client on guest g's socket, once the server has given it an id. */
  const connect = (g: string) => connectTo(sock(g), g, () => t.server!.guests().get(g) !== undefined);

  /** Closes client c of guest g and waits until the server has seen it go. */
  async function hangUp(c: IvshmemClient, g: string): Promise<void> {
    await c.close();
    await eventually(5_000, `${g} gone`, () => t.server!.guests().get(g) === undefined);
  }

  /** What a client that joins as `id`, with the given neighbours connected, is sent first. */
  const setup = (id: number, neighbours: number[]) => [
    [0, 0],
    [id, 0],
    [-1, 1],
    ...[...neighbours, id].flatMap((n) => Array<[number, number]>(VECTORS).fill([n, 1])),
  ];
  const joined = (id: number) => Array<[number, number]>(VECTORS).fill([id, 1]);

  it('hands each guest the eventfds of the guests it shares a group with, and no others', async () => {
    await start();
    for (const g of ['g1', 'g2', 'g3']) assert.equal(statSync(sock(g)).mode & 0o777, 0o600, `${g}'s socket is 0600`);
    const g1 = await connect('g1');
    const g2 = await connect('g2');
    const g3 = await connect('g3');
    const [s1, s2, s3] = [await g1.state(), await g2.state(), await g3.state()];
    assert.deepEqual(g1.msgs, [...setup(0, []), ...joined(1)], 'g1: its own, then g2 joining; g3 never');
    assert.deepEqual(g2.msgs, [...setup(1, [0]), ...joined(2)], 'g2: g1 at once, then g3 joining');
    assert.deepEqual(g3.msgs, setup(2, [1]), 'g3: g2 only');
    // Descriptors received per peer id, and eventfds each process holds: VECTORS per peer.
    assert.deepEqual(s1.fds, { 0: 2, 1: 2 });
    assert.deepEqual(s2.fds, { 0: 2, 1: 2, 2: 2 });
    assert.deepEqual(s3.fds, { 1: 2, 2: 2 }, 'g3 holds no eventfd of g1');
    assert.deepEqual([s1.eventfds, s2.eventfds, s3.eventfds], [4, 6, 4]);
    // The eventfds are the real ones: a ring through a neighbour's copy reaches it.
    await g1.ring(1);
    assert.equal(await g2.read(), 1, "g1's copy of g2's eventfd rings g2");
    await g3.ring(1);
    await g2.ring(2);
    assert.equal(await g2.read(), 1, 'g3 rang g2');
    assert.equal(await g3.read(), 1, 'g2 rang g3');
    assert.equal(await g1.read(), 0, 'nobody rang g1');
    // BAR2: a page of its own per guest (a memfd), never the same memory twice.
    for (const [g, c] of [['g1', g1], ['g2', g2], ['g3', g3]] as const) {
      assert.equal(c.shm?.size, GUEST_SHM_SIZE);
      assert.match(c.shm.link, new RegExp(`^/memfd:kvmring-doorbell-${g} \\(deleted\\)$`));
    }
    assert.equal(new Set([g1.shm!.ino, g2.shm!.ino, g3.shm!.ino]).size, 3, 'three memfds');
    assert.deepEqual(ids, [
      { g1: null, g2: null, g3: null },
      { g1: 0, g2: null, g3: null },
      { g1: 0, g2: 1, g3: null },
      { g1: 0, g2: 1, g3: 2 },
    ]);
    assert.deepEqual(JSON.parse(readFileSync(statusFile(), 'utf8')), {
      pid: process.pid,
      peers: [0, 1, 2],
      guests: { g1: { socket: sock('g1'), id: 0 }, g2: { socket: sock('g2'), id: 1 }, g3: { socket: sock('g3'), id: 2 } },
    });
  });

  it("tells a guest's departure only to its neighbours; its reconnect gets a new id", async () => {
    const own = eventfdsOf(process.pid); // libuv's and whatever else this process holds
    await start();
    const g1 = await connect('g1');
    const g2 = await connect('g2');
    const g3 = await connect('g3');
    await Promise.all([g2.state(), g3.state()]);
    const before = [g2.msgs.length, g3.msgs.length];
    await hangUp(g1, 'g1');
    const [s2, s3] = [await g2.state(), await g3.state()];
    assert.deepEqual(g2.msgs.slice(before[0]), [[0, 0]], 'g2 hears that peer 0 left');
    assert.equal(g3.msgs.length, before[1], 'g3 hears nothing');
    assert.deepEqual(s2.fds, { 1: 2, 2: 2 }, "g2 closed g1's eventfds");
    assert.deepEqual(s3.fds, { 1: 2, 2: 2 });
    assert.equal(eventfdsOf(process.pid), own + 2 * VECTORS, "the server closed g1's eventfds");

    const again = await connect('g1');
    await Promise.all([again.state(), g2.state(), g3.state()]);
    assert.deepEqual(again.msgs, setup(3, [1]), 'a new id (3), never the departed 0');
    assert.deepEqual(g2.msgs.slice(before[0]), [[0, 0], ...joined(3)]);
    assert.equal(g3.msgs.length, before[1], 'g3 still hears nothing');
    assert.deepEqual(ids.slice(-2), [
      { g1: null, g2: 1, g3: 2 },
      { g1: 3, g2: 1, g3: 2 },
    ]);
    assert.deepEqual(t.server!.peers(), [1, 2, 3]);
    assert.match(t.log.join('\n'), /^peer 0 \(g1\) disconnected\npeer 3 \(g1\) connected$/m);
  });

  it('refuses a second connection for a guest that is connected', async () => {
    await start();
    const g2 = await connect('g2');
    const calls = ids.length;
    const second = await IvshmemClient.connect(sock('g2'));
    t.clients.push(second);
    await second.waitEof();
    assert.deepEqual(second.msgs, [], 'closed without a word');
    assert.equal(ids.length, calls, 'no id changed');
    assert.deepEqual(t.server!.peers(), [0]);
    assert.ok(t.log.includes('g2: refused a second connection: it is connected as peer 0'), t.log.join('\n'));
    // The first connection is untouched, and the refused one used no id.
    const g1 = await connect('g1');
    await Promise.all([g1.state(), g2.state()]);
    assert.deepEqual(g2.msgs, [...setup(0, []), ...joined(1)]);
    assert.deepEqual(g1.msgs, setup(1, [0]));
  });

  it('disconnects a guest that sends, and tells its neighbours', async () => {
    await start();
    const g2 = await connect('g2');
    const g3 = await connect('g3');
    await g3.send();
    await g3.waitEof();
    await eventually(5_000, 'g3 gone', () => t.server!.guests().get('g3') === undefined);
    await g2.state();
    assert.deepEqual(g2.msgs, [...setup(0, []), ...joined(1), [1, 0]]);
    assert.deepEqual(ids.at(-1), { g1: null, g2: 0, g3: null });
    assert.ok(t.log.includes('peer 1 (g3): sent data (clients never send), disconnecting it'), t.log.join('\n'));
  });

  it('refuses a rule that is not symmetric, and listens on nothing', async () => {
    await assert.rejects(start((a, b) => a === 'g1' && b === 'g2'), /^RingctlError: the doorbell rule is not symmetric: g1 may talk to g2 but not the other way round$/);
    assert.deepEqual(readdirSync(t.dir), []);
  });

  it('removes its sockets on close', async () => {
    await start();
    await connect('g1');
    await t.server!.close();
    assert.deepEqual(readdirSync(t.dir), ['doorbell.json']);
  });
});
