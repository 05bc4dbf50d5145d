import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DoorbellServer, GUEST_SHM_SIZE } from '../../src/host/doorbell.js';
import { mayTalkInGroups, type Group } from '../../src/host/groups.js';
import type { RegionStatus } from '../../src/host/status.js';
import { CONSTANTS as C, offsetOf } from '../../src/ring/layout.js';
import { hostRegion } from '../helpers/host-region.js';
import { alive } from '../helpers/process.js';
import { eventually } from '../helpers/time.js';
import { requireTier } from '../helpers/tier.js';
import { IvshmemClient, needPython } from './ivshmem-client.js';

/**
 * Two ivshmem clients, as QEMU would be, in Python (socket.recv_fds): prints every
 * message each received as [value, number of fds] and what the fds turned out to be.
 */
const CLIENTS = String.raw`
import json, os, socket, sys

sock_path, region = sys.argv[1], sys.argv[2]

def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sock_path)
    return s

def recv(s):
    data, fds, _, _ = socket.recv_fds(s, 8, 4)
    if not data:
        return None
    assert len(data) == 8, data
    return [int.from_bytes(data, 'little', signed=True), fds]

def brief(msgs):
    return [None if m is None else [m[0], len(m[1])] for m in msgs]

def kind(fd):
    return os.readlink('/proc/self/fd/%d' % fd)

out = {}
a = connect()
A = [recv(a) for _ in range(4)]          # version, id, shm, own eventfd
b = connect()
B = [recv(b) for _ in range(5)]          # version, id, shm, A's eventfd, own eventfd
A.append(recv(a))                        # B's eventfd
c = connect()
out['third'] = recv(c)                   # all ids taken: closed without a word
out['a'] = brief(A)
out['b'] = brief(B)
ino = os.stat(region).st_ino
out['shm_is_region'] = [os.fstat(A[2][1][0]).st_ino == ino, os.fstat(B[2][1][0]).st_ino == ino]
out['kinds'] = [kind(A[3][1][0]), kind(A[4][1][0]), kind(B[3][1][0]), kind(B[4][1][0])]
# A rings B through the eventfd it got for peer 1; B reads it on its own.
os.write(A[4][1][0], (1).to_bytes(8, 'little'))
out['b_woken'] = int.from_bytes(os.read(B[4][1][0], 8), 'little')
os.write(B[3][1][0], (2).to_bytes(8, 'little'))
out['a_woken'] = int.from_bytes(os.read(A[3][1][0], 8), 'little')
b.close()
out['a_after_b_left'] = brief([recv(a)])
d = connect()
out['d'] = brief([recv(d) for _ in range(5)])
out['a_after_d'] = brief([recv(a)])
print(json.dumps(out))
`;

/** How many eventfds process `pid` holds. */
const eventfdsOf = (pid: number) =>
  readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:[eventfd]';
    } catch {
      return false;
    }
  }).length;

describe('ringctl host up --doorbell: the ivshmem doorbell server', function () {
  this.timeout(60_000);
  const { name, path, cli, stateDir, state } = hostRegion('testdb', needPython);
  const socket = () => join(stateDir(), 'doorbell.sock');

  async function connected(): Promise<number[]> {
    try {
      return (JSON.parse(readFileSync(join(stateDir(), 'doorbell.json'), 'utf8')) as { peers: number[] }).peers;
    } catch {
      return [];
    }
  }

  /** Waits up to 5 s for ok(fn()). */
  async function waitFor<T>(what: string, fn: () => Promise<T> | T, ok: (v: T) => boolean): Promise<void> {
    let v: T | undefined;
    await eventually(5_000, what, async () => ok((v = await fn())), { every: 50, detail: () => `still ${JSON.stringify(v)}` });
  }

  async function up(...extra: string[]): Promise<number> {
    const r = await cli('host', 'up', '--name', name, '--doorbell', ...extra);
    assert.equal(r.code, 0, `host up failed:\n${r.stdout}${r.stderr}`);
    const pid = state().doorbell?.pid;
    assert.ok(pid && alive(pid));
    return pid;
  }

  it('formats the region for interrupts and reports the server', async () => {
    const r = await cli('host', 'up', '--name', name, '--doorbell', '--guests', '2');
    assert.equal(r.code, 0, r.stderr);
    const pid = state().doorbell!.pid!;
    assert.match(r.stdout, new RegExp(`^${name}: doorbell mode: server pid ${pid} on ${socket()}, 1 vector\\(s\\) per guest \\(log .*doorbell\\.log\\)$`, 'm'));
    const flags = readFileSync(path).readUInt32LE(offsetOf('kvmring_region_hdr', 'flags'));
    assert.equal(flags, C.KVMRING_REGION_F_DOORBELL);
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    assert.deepEqual(argv.slice(-4), ['host', 'doorbell-server', name, ''], 'a command line host down can recognise');
    const q = await cli('host', 'qemu-args', 'g1', '--name', name, '--json');
    assert.deepEqual(JSON.parse(q.stdout), ['-chardev', `socket,path=${socket()},id=kvmring0`, '-device', 'ivshmem-doorbell,chardev=kvmring0,vectors=1']);
  });

  it('speaks the ivshmem-server protocol to two clients', async () => {
    const pid = await up('--guests', '2');
    const own = eventfdsOf(pid); // libuv's
    const r = spawnSync('python3', ['-c', CLIENTS, socket(), path], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, `clients failed:\n${r.stdout}${r.stderr}`);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    // version 0, own id, -1 with the region, then the peers' eventfds and its own
    assert.deepEqual(out.a, [[0, 0], [0, 0], [-1, 1], [0, 1], [1, 1]]);
    assert.deepEqual(out.b, [[0, 0], [1, 0], [-1, 1], [0, 1], [1, 1]]);
    assert.equal(out.third, null, 'a third client is refused while two are connected');
    assert.deepEqual(out.shm_is_region, [true, true]);
    assert.deepEqual(out.kinds, Array(4).fill('anon_inode:[eventfd]'));
    assert.equal(out.b_woken, 1, "A's copy of B's eventfd rings B");
    assert.equal(out.a_woken, 2, "B's copy of A's eventfd rings A");
    assert.deepEqual(out.a_after_b_left, [[1, 0]], 'a disconnect notice: the id with no fd');
    // QEMU cannot take a reused id (it keeps a freed pointer): the next client gets a new one.
    assert.deepEqual(out.d, [[0, 0], [2, 0], [-1, 1], [0, 1], [2, 1]], 'the next client gets an id not used before');
    assert.deepEqual(out.a_after_d, [[2, 1]]);
    await waitFor('clients gone', connected, (p) => p.length === 0);
    assert.equal(eventfdsOf(pid), own, 'the server closed every departed peer\'s eventfds');
    const log = readFileSync(join(stateDir(), 'doorbell.log'), 'utf8');
    assert.match(log, /peer 0 connected\n.*peer 1 connected\n.*refused a client: all 2 guests are connected\n.*peer 1 disconnected\n.*peer 2 connected\n/);
  });

  it('hands out one eventfd per vector', async () => {
    const pid = await up('--guests', '3', '--vectors', '2');
    const own = eventfdsOf(pid); // libuv's
    const sock = net.connect(socket());
    try {
      await waitFor('client connected', connected, (p) => p.length === 1);
      assert.equal(eventfdsOf(pid), own + 2);
      const q = await cli('host', 'qemu-args', 'g3', '--name', name);
      assert.equal(q.stdout, `-chardev socket,path=${socket()},id=kvmring0 -device ivshmem-doorbell,chardev=kvmring0,vectors=2\n`);
    } finally {
      sock.destroy();
    }
  });

  it('shows the server and the connected ids in host status', async () => {
    const pid = await up('--guests', '3');
    const socks = [net.connect(socket()), net.connect(socket())];
    try {
      await waitFor('two clients connected', connected, (p) => p.length === 2);
      const r = await cli('host', 'status', '--name', name, '--json');
      assert.equal(r.code, 0, r.stderr);
      const s = JSON.parse(r.stdout) as RegionStatus;
      assert.deepEqual(s.doorbell, { socket: socket(), pid, running: true, connected: [0, 1] });
      // Connected ids belong to slots only once a guest holds one and publishes its id.
      assert.deepEqual(s.slots.map((x) => x.connected), [false, false, false]);
      const text = await cli('host', 'status', '--name', name);
      assert.match(text.stdout, new RegExp(`^mode +doorbell, 1 vector\\(s\\): ${socket()}, server pid ${pid} running, ids connected: 0 1$`, 'm'));
      assert.match(text.stdout, /^0 +free +0 +- +- +- +- +- +-$/m);
    } finally {
      for (const s of socks) s.destroy();
    }
    await waitFor('clients gone', connected, (p) => p.length === 0);
  });

  it('stops the server on host down and removes its socket', async () => {
    const pid = await up('--guests', '2');
    const r = await cli('host', 'down', '--name', name);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${name}: stopped the doorbell server (pid ${pid})\n${name}: removed ${path}\n${name}: removed ${stateDir()}\n`);
    await waitFor('server gone', () => alive(pid), (a) => !a);
    assert.ok(!existsSync(socket()) && !existsSync(path));
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
    assert.ok(!existsSync(stateDir()) && !existsSync(path));
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

describe('the doorbell server for named guests: doorbells within groups (ABI v2)', function () {
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

describe('the doorbell server for one socket (ABI v1), as a library', function () {
  this.timeout(60_000);
  const { t, connect } = libraryFixture('doorbell-v1-');

  /** A v1 server on a 4 KiB region file with `n` clients connected. */
  async function startWith(maxPeers: number, n: number): Promise<{ region: string; socket: string; server: DoorbellServer }> {
    const region = join(t.dir, 'region');
    writeFileSync(region, Buffer.alloc(4096));
    const socket = join(t.dir, 'doorbell.sock');
    const server = await DoorbellServer.start({ socket, regionPath: region, maxPeers, vectors: 1, log: (l) => t.log.push(l) });
    t.server = server;
    for (let i = 0; i < n; i++) await connect(socket, `client ${i}`, () => server.peers().length === i + 1);
    return { region, socket, server };
  }

  it('lets up to maxPeers clients ring each other and hands them all the region', async () => {
    const { region, socket, server } = await startWith(3, 3);
    const fourth = await IvshmemClient.connect(socket);
    t.clients.push(fourth);
    await fourth.waitEof();
    const [a, b, c] = t.clients;
    const states = await Promise.all([a.state(), b.state(), c.state()]);
    assert.deepEqual(a.msgs, [[0, 0], [0, 0], [-1, 1], [0, 1], [1, 1], [2, 1]]);
    assert.deepEqual(b.msgs, [[0, 0], [1, 0], [-1, 1], [0, 1], [1, 1], [2, 1]]);
    assert.deepEqual(c.msgs, [[0, 0], [2, 0], [-1, 1], [0, 1], [1, 1], [2, 1]]);
    for (const s of states) assert.deepEqual(s.fds, { 0: 1, 1: 1, 2: 1 });
    assert.deepEqual([a.shm?.ino, b.shm?.ino, c.shm?.ino], Array(3).fill(statSync(region).ino), 'BAR2 is the region');
    assert.deepEqual(fourth.msgs, []);
    assert.ok(t.log.includes('refused a client: all 3 guests are connected'), t.log.join('\n'));
    assert.deepEqual(server.guests(), new Map(), 'no named guests');
  });

  it('tells the rest when clients hang up together, and writes to no socket it has closed', async () => {
    const { server } = await startWith(4, 4);
    const [a, b, c, d] = t.clients;
    await Promise.all([a.kill(), b.kill(), c.kill()]);
    await eventually(5_000, 'three gone', () => server.peers().length === 1);
    await d.state();
    assert.deepEqual(d.msgs.slice(0, 7), [[0, 0], [3, 0], [-1, 1], [0, 1], [1, 1], [2, 1], [3, 1]]);
    assert.deepEqual(d.msgs.slice(7).sort(), [[0, 0], [1, 0], [2, 0]], 'd hears of each departure once');
    assert.deepEqual(t.log.filter((l) => /cannot tell/.test(l)), [], 'no send on a closed socket');
  });
});
