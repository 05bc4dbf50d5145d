// A generic netlink socket over libc through koffi (the binding ringctl already
// uses for libbpf and the host's libc calls): socket, bind, send, recv and
// setsockopt, nothing more. Requests and dumps are synchronous (the kernel
// answers a dump of a few dozen slots at once); listening to a multicast group
// waits in poll() on a libuv worker thread (koffi's async calls) so that the
// event loop stays free, with a timeout so that close() never races a blocked
// call, and reads what arrived without blocking on the main thread.
import { createRequire } from 'node:module';

import type Koffi from 'koffi';

import {
  NLMSG_DONE,
  NLMSG_ERROR,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  genlMessage,
  getFamilyRequest,
  parseDone,
  parseError,
  parseFamily,
  parseGenl,
  parseMessages,
  type GenlFamily,
  type GenlMessage,
  type NlMessage,
} from './codec.js';

type Fn = ((...args: any[]) => any) & { async: (...args: any[]) => void }; // eslint-disable-line @typescript-eslint/no-explicit-any

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_GENERIC = 16;
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SOL_NETLINK = 270;
const NETLINK_ADD_MEMBERSHIP = 1;
const NETLINK_EXT_ACK = 11;
const EINTR = 4;
const EAGAIN = 11;
const ENOBUFS = 105;
const RECV_BUF = 65536;
const POLLIN = 1;
const MSG_DONTWAIT = 0x40;

/** errno from the kernel or a syscall, with what failed. */
export class NetlinkError extends Error {
  override name = 'NetlinkError';
  constructor(
    readonly what: string,
    readonly errno: number,
    readonly extack?: string,
  ) {
    super(`${what}: ${extack ?? `errno ${errno}`}`);
  }
}

let libc: Record<'socket' | 'bind' | 'send' | 'recv' | 'setsockopt' | 'close' | 'poll', Fn> | undefined;

// koffi loads on first use: it takes a while in a small guest, and commands
// that import this module may never open a socket.
let koffi: typeof Koffi;

function c() {
  if (!libc) {
    koffi = createRequire(import.meta.url)('koffi') as typeof Koffi;
    const l = koffi.load('libc.so.6');
    libc = {
      socket: l.func('socket', 'int', ['int', 'int', 'int']),
      bind: l.func('bind', 'int', ['int', 'void *', 'uint32_t']),
      send: l.func('send', 'intptr_t', ['int', 'void *', 'size_t', 'int']),
      recv: l.func('recv', 'intptr_t', ['int', 'void *', 'size_t', 'int']),
      setsockopt: l.func('setsockopt', 'int', ['int', 'int', 'int', 'void *', 'uint32_t']),
      close: l.func('close', 'int', ['int']),
      poll: l.func('poll', 'int', ['void *', 'uint64_t', 'int']),
    };
  }
  return libc;
}

function int(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
}

export class GenlSocket {
  #fd: number;
  #seq = Math.floor(Math.random() * 0x7fffffff);
  #closing = false;
  #pending: Promise<void> | undefined;

  private constructor(fd: number) {
    this.#fd = fd;
  }

  static open(): GenlSocket {
    const lib = c();
    const fd = lib.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC) as number;
    if (fd < 0) throw new NetlinkError('socket(AF_NETLINK, NETLINK_GENERIC)', koffi.errno());
    const s = new GenlSocket(fd);
    try {
      const sa = Buffer.alloc(12); // struct sockaddr_nl, the kernel picks the port id
      sa.writeUInt16LE(AF_NETLINK, 0);
      if ((lib.bind(fd, sa, sa.length) as number) < 0) throw new NetlinkError('bind(netlink)', koffi.errno());
      // Error messages from the kernel's extended ack; best effort.
      lib.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, int(1), 4);
      lib.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, int(1 << 20), 4);
    } catch (err) {
      s.close();
      throw err;
    }
    return s;
  }

  get fd(): number {
    return this.#fd;
  }

  close(): void {
    if (this.#fd < 0) return;
    this.#closing = true;
    if (this.#pending) {
      // A listener's recv() is running on a worker thread: it times out and closes.
      return;
    }
    c().close(this.#fd);
    this.#fd = -1;
  }

  #send(msg: Buffer, what: string): void {
    const n = Number(c().send(this.#fd, msg, msg.length, 0));
    if (n < 0) throw new NetlinkError(`send(${what})`, koffi.errno());
  }

  #recv(buf: Buffer, what: string): Buffer {
    for (;;) {
      const n = Number(c().recv(this.#fd, buf, buf.length, 0));
      if (n >= 0) return buf.subarray(0, n);
      const e = koffi.errno();
      if (e !== EINTR) throw new NetlinkError(`recv(${what})`, e);
    }
  }

  /**
   * Sends `msg` (its seq at bytes 8..11 is set here) and collects the replies
   * until the ack, the NLMSG_DONE of a dump, or an error (thrown as NetlinkError).
   */
  request(msg: Buffer, what: string): NlMessage[] {
    const seq = ++this.#seq >>> 0;
    msg.writeUInt32LE(seq, 8);
    this.#send(msg, what);
    const buf = Buffer.alloc(RECV_BUF);
    const out: NlMessage[] = [];
    for (;;) {
      // A copy: the messages outlive the buffer's next use.
      for (const m of parseMessages(Buffer.from(this.#recv(buf, what)))) {
        if (m.seq !== seq) continue; // a late answer to an earlier request
        if (m.type === NLMSG_ERROR) {
          const e = parseError(m);
          if (e.errno !== 0) throw new NetlinkError(what, e.errno, e.message);
          return out;
        }
        if (m.type === NLMSG_DONE) {
          const errno = parseDone(m);
          if (errno !== 0) throw new NetlinkError(what, errno);
          return out;
        }
        out.push(m); // a dump's part, or a single answer whose ack follows
      }
    }
  }

  /** The family `name`, or undefined if no such family is registered (ENOENT). */
  family(name: string): GenlFamily | undefined {
    try {
      const replies = this.request(getFamilyRequest(name, 0), `resolving genetlink family ${name}`);
      const r = replies.at(0);
      return r ? parseFamily(parseGenl(r.payload)) : undefined;
    } catch (err) {
      if (err instanceof NetlinkError && err.errno === 2) return undefined;
      throw err;
    }
  }

  /** A dump of `cmd` of `family` with these request attributes: the replies, decoded. */
  dump(family: GenlFamily, cmd: number, attrs: readonly Buffer[], what: string): GenlMessage[] {
    const msg = genlMessage({ family: family.id, cmd, version: family.version, flags: NLM_F_REQUEST | NLM_F_DUMP, seq: 0, attrs });
    return this.request(msg, what).map((m) => parseGenl(m.payload));
  }

  /** Joins multicast group `id`. */
  join(id: number, what: string): void {
    if ((c().setsockopt(this.#fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, int(id), 4) as number) < 0) {
      throw new NetlinkError(`joining ${what}`, koffi.errno());
    }
  }

  /**
   * Receives notifications until close(): `onMessages` gets each datagram's
   * messages, `onOverrun` is told when the kernel dropped some for us (ENOBUFS:
   * time to resync). poll() waits on a worker thread, at most `wakeMs` at a
   * time (to notice close()); recv() runs here, without blocking, so that
   * errno is this thread's.
   */
  listen(onMessages: (m: NlMessage[]) => void, onOverrun: () => void, onError: (err: Error) => void, wakeMs = 250): void {
    const lib = c();
    const fd = this.#fd;
    const pfd = Buffer.alloc(8); // struct pollfd
    pfd.writeInt32LE(fd, 0);
    pfd.writeInt16LE(POLLIN, 4);
    const buf = Buffer.alloc(RECV_BUF);
    const wait = () =>
      new Promise<number>((resolve, reject) => {
        lib.poll.async(pfd, 1, wakeMs, (err: unknown, n: number) => (err ? reject(err instanceof Error ? err : new Error('poll() failed on the netlink monitor', { cause: err })) : resolve(n)));
      });
    const drain = () => {
      for (;;) {
        const n = Number(lib.recv(fd, buf, buf.length, MSG_DONTWAIT));
        if (n < 0) {
          const e = koffi.errno();
          if (e === EAGAIN) return;
          if (e === ENOBUFS) onOverrun();
          else if (e !== EINTR) throw new NetlinkError('recv(netlink monitor)', e);
          continue;
        }
        onMessages(parseMessages(Buffer.from(buf.subarray(0, n))));
      }
    };
    const loop = async () => {
      while (!this.#closing) {
        const n = await wait();
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- close() may have run during the wait
        if (this.#closing) break;
        if (n > 0) {
          try {
            drain();
          } catch (err) {
            onError(err instanceof Error ? err : new Error(String(err)));
          }
        }
      }
    };
    this.#pending = loop()
      .catch((err: unknown) => onError(err instanceof Error ? err : new Error(String(err))))
      .finally(() => {
        this.#pending = undefined;
        lib.close(fd);
        this.#fd = -1;
      });
  }

  /** Resolves once a listener has stopped and the socket is closed. */
  async closed(): Promise<void> {
    await this.#pending;
  }
}
