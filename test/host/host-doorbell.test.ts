import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

import type { RegionStatus } from '../../src/host/status.js';
import { CONSTANTS as C, offsetOf } from '../../src/ring/layout.js';
import { hostRegion } from '../helpers/host-region.js';
import { alive } from '../helpers/process.js';
import { eventually } from '../helpers/time.js';

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

describe('ringctl host up --doorbell: the ivshmem doorbell server', function () {
  this.timeout(60_000);
  const { name, path, cli, stateDir, state } = hostRegion('testdb', () => {
    if (spawnSync('python3', ['-c', 'import socket; socket.recv_fds']).status !== 0) throw new Error('these tests need python3 >= 3.9');
  });
  const socket = () => join(stateDir(), 'doorbell.sock');
  const eventfds = (pid: number) => readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:[eventfd]';
    } catch {
      return false;
    }
  }).length;

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
    const own = eventfds(pid); // libuv's
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
    assert.equal(eventfds(pid), own, 'the server closed every departed peer\'s eventfds');
    const log = readFileSync(join(stateDir(), 'doorbell.log'), 'utf8');
    assert.match(log, /peer 0 connected\n.*peer 1 connected\n.*refused a client: all 2 guests are connected\n.*peer 1 disconnected\n.*peer 2 connected\n/);
  });

  it('hands out one eventfd per vector', async () => {
    const pid = await up('--guests', '3', '--vectors', '2');
    const own = eventfds(pid); // libuv's
    const sock = net.connect(socket());
    try {
      await waitFor('client connected', connected, (p) => p.length === 1);
      assert.equal(eventfds(pid), own + 2);
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
