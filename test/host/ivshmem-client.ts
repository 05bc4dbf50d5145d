// A fake QEMU for the doorbell server's tests: a Python process (socket.recv_fds)
// that connects to an ivshmem-server socket, keeps every descriptor it is sent as
// QEMU does (and closes a departed peer's eventfds, as QEMU does), and reports
// each message as it arrives. The test drives it over stdin: `state` reports what
// it holds (after reading everything the server has sent so far), `ring ID` rings
// peer ID's first vector, `read` reads its own first vector, `send` writes a
// byte (clients never send), `close` hangs up.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const CLIENT = String.raw`
import json, os, select, signal, socket, sys

signal.alarm(120)  # never outlive a test run that lost us
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
count = 0          # messages so far: the first two are the version and our id
me = None
got = {}           # id -> eventfds received, in order (own id included)
eof = False

def out(o):
    sys.stdout.write(json.dumps(o) + '\n')
    sys.stdout.flush()

def recv_one():
    global count, me, eof
    data, fds, _, _ = socket.recv_fds(s, 8, 4)
    if not data:
        eof = True
        out({'eof': True})
        return
    assert len(data) == 8, data
    v = int.from_bytes(data, 'little', signed=True)
    count += 1
    rec = {'msg': [v, len(fds)]}
    if count == 2:
        me = v
    if v == -1 and fds:
        st = os.fstat(fds[0])
        rec['shm'] = {'size': st.st_size, 'ino': st.st_ino, 'link': os.readlink('/proc/self/fd/%d' % fds[0])}
    elif count > 2 and fds:
        got.setdefault(v, []).extend(fds)
    elif count > 2:
        for fd in got.pop(v, []):  # a peer left: QEMU closes its eventfds
            os.close(fd)
    out(rec)

def drain():
    while not eof and select.select([s], [], [], 0)[0]:
        recv_one()

def held_eventfds():
    n = 0
    for fd in os.listdir('/proc/self/fd'):
        try:
            n += os.readlink('/proc/self/fd/' + fd) == 'anon_inode:[eventfd]'
        except OSError:
            pass
    return n

def command(cmd):
    if cmd[0] == 'state':
        drain()
        out({'state': {'id': me, 'fds': {str(k): len(v) for k, v in sorted(got.items())}, 'eventfds': held_eventfds(), 'eof': eof}})
    elif cmd[0] == 'ring':
        os.write(got[int(cmd[1])][0], (1).to_bytes(8, 'little'))
        out({'rang': int(cmd[1])})
    elif cmd[0] == 'read':
        fd = got[me][0]
        try:
            out({'read': int.from_bytes(os.read(fd, 8), 'little')})
        except BlockingIOError:
            out({'read': 0})
    elif cmd[0] == 'send':
        s.send(b'x')
        out({'sent': True})
    elif cmd[0] == 'close':
        s.close()
        sys.exit(0)

out({'connected': True})
pending = b''
while True:
    ready = select.select([0] + ([] if eof else [s]), [], [])[0]
    if s in ready and not eof:
        recv_one()
    if 0 not in ready:
        continue
    chunk = os.read(0, 4096)
    if not chunk:
        break
    pending += chunk
    while b'\n' in pending:
        line, pending = pending.split(b'\n', 1)
        command(line.decode().split())
`;

/** Throws unless python3 can receive descriptors (socket.recv_fds: 3.9 or later). */
export function needPython(): void {
  if (spawnSync('python3', ['-c', 'import socket; socket.recv_fds']).status !== 0) throw new Error('these tests need python3 >= 3.9');
}

export interface ClientState {
  /** The id the server gave it (null before the second message). */
  id: number | null;
  /** Eventfds received per peer id (own included), those of departed peers gone. */
  fds: Record<string, number>;
  /** Eventfds the process holds (from /proc/self/fd). */
  eventfds: number;
  /** Whether the server closed the connection. */
  eof: boolean;
}

/** The shared memory fd a client got: its size, inode and /proc link. */
export interface ShmInfo {
  size: number;
  ino: number;
  link: string;
}

/** One fake QEMU; close() (or kill()) it in the test's cleanup. */
export class IvshmemClient {
  /** Every message so far, as [value, descriptors]. */
  readonly msgs: [number, number][] = [];
  shm: ShmInfo | undefined;
  eof = false;
  readonly #proc: ChildProcess;
  readonly #lines: Record<string, unknown>[] = [];
  #wake: (() => void) | undefined;
  #stderr = '';

  private constructor(socket: string) {
    this.#proc = spawn('python3', ['-c', CLIENT, socket], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#proc.stderr!.on('data', (b: Buffer) => (this.#stderr += b.toString()));
    createInterface({ input: this.#proc.stdout! }).on('line', (line) => {
      const rec = JSON.parse(line) as Record<string, unknown>;
      if (rec.msg) this.msgs.push(rec.msg as [number, number]);
      if (rec.shm) this.shm = rec.shm as ShmInfo;
      if (rec.eof) this.eof = true;
      if (!rec.msg && !rec.eof) this.#lines.push(rec);
      this.#wake?.();
    });
    this.#proc.on('exit', () => this.#wake?.());
  }

  /** A client connected to `socket` (the server may not have accepted it yet). */
  static async connect(socket: string): Promise<IvshmemClient> {
    const c = new IvshmemClient(socket);
    await c.#reply('connected');
    return c;
  }

  get pid(): number {
    return this.#proc.pid!;
  }

  /** Waits up to 5 s for the next reply carrying `key`. */
  async #reply(key: string): Promise<unknown> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const i = this.#lines.findIndex((l) => key in l);
      if (i >= 0) return this.#lines.splice(i, 1)[0][key];
      if (this.#proc.exitCode !== null || Date.now() > deadline) {
        assert.fail(`the ivshmem client (pid ${this.#proc.pid}) gave no ${key}${this.#proc.exitCode !== null ? `; it exited ${this.#proc.exitCode}` : ''}\n${this.#stderr}`);
      }
      await new Promise<void>((r) => {
        this.#wake = r;
        setTimeout(r, 100);
      });
    }
  }

  #command(line: string): void {
    this.#proc.stdin!.write(`${line}\n`);
  }

  /** What it holds once it has read everything the server sent so far. */
  async state(): Promise<ClientState> {
    this.#command('state');
    return (await this.#reply('state')) as ClientState;
  }

  /** Rings peer `id` through the first eventfd it got for it. */
  async ring(id: number): Promise<void> {
    this.#command(`ring ${id}`);
    await this.#reply('rang');
  }

  /** Reads its own first vector: the count (0: nothing rang it). A ring() that returned has arrived. */
  async read(): Promise<number> {
    this.#command('read');
    return (await this.#reply('read')) as number;
  }

  /** Writes a byte to the server. */
  async send(): Promise<void> {
    this.#command('send');
    await this.#reply('sent');
  }

  /** Waits up to 5 s for the server to hang up. */
  async waitEof(): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (!this.eof) {
      if (Date.now() > deadline) assert.fail(`the server did not close the connection of client ${this.#proc.pid}\n${this.#stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Kills the process (the kernel hangs up for it) and waits for it to end. */
  async kill(): Promise<void> {
    if (this.#proc.exitCode !== null || this.#proc.signalCode !== null) return;
    const exited = new Promise((r) => this.#proc.once('exit', r));
    this.#proc.kill('SIGKILL');
    await exited;
  }

  /** Hangs up and waits for the process to end. */
  async close(): Promise<void> {
    if (this.#proc.exitCode !== null || this.#proc.signalCode !== null) return;
    const exited = new Promise((r) => this.#proc.once('exit', r));
    this.#command('close');
    this.#proc.stdin!.end();
    const timer = setTimeout(() => this.#proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
