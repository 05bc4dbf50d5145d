// The doorbell server: QEMU's ivshmem-server protocol (docs/specs/ivshmem-spec.rst
// in QEMU) on a UNIX socket, for `-device ivshmem-doorbell`. The connection is
// one-way: every message is a little-endian int64, with or without one file
// descriptor (SCM_RIGHTS). To a new client, in order:
//   0                          the protocol version
//   its id                     the next id not used before (IVPosition); the guest publishes
//                              it as its slot's doorbell id
//   -1 + the region's fd       the shared memory
//   other id + eventfd         per other client, one message per vector
//   own id + eventfd           per vector: the eventfds it is interrupted through
// and to every other client its id with each of its eventfds. When a client
// goes, the others get its id without a descriptor and its eventfds are closed.
// Clients never send; one that does is disconnected, as QEMU's server does.
//
// Ids are not reused while any are left (as QEMU's ivshmem-server does): QEMU's
// ivshmem frees a departed peer's eventfd array but keeps the pointer, and a
// new peer under the same id makes every other QEMU write into freed memory.
import { closeSync, openSync, renameSync, unlinkSync, writeFileSync, chmodSync } from 'node:fs';
import net from 'node:net';

import { fsCall, type SysError } from '../common/sys-error.js';
import { eventfd, sendInt64WithFd } from '../common/libc.js';

export const PROTOCOL_VERSION = 0n;

export interface DoorbellConfig {
  socket: string;
  regionPath: string;
  /** At most this many clients at once: one more is refused. */
  maxPeers: number;
  /** Eventfds per client (the ivshmem-doorbell device's vectors). */
  vectors: number;
  /** Where the connected ids are published for `host status`. */
  statusFile?: string;
  log: (line: string) => void;
}

interface Peer {
  id: number;
  sock: net.Socket;
  /** The socket's descriptor (libuv's), for sendmsg. */
  fd: number;
  eventfds: number[];
}

const MAX_ID = 0xffff;

export class DoorbellServer {
  readonly #cfg: DoorbellConfig;
  readonly #server: net.Server;
  readonly #shmFd: number;
  readonly #peers = new Map<number, Peer>();
  #nextId = 0;
  #closing: Promise<void> | undefined;
  #closedResolve!: () => void;
  /** Resolves when the server has closed. */
  readonly closed = new Promise<void>((r) => (this.#closedResolve = r));

  private constructor(cfg: DoorbellConfig, shmFd: number) {
    this.#cfg = cfg;
    this.#shmFd = shmFd;
    this.#server = net.createServer((sock) => this.#accept(sock));
  }

  /** Opens the region and listens on the socket. */
  static async start(cfg: DoorbellConfig): Promise<DoorbellServer> {
    const shmFd = fsCall(`open(${cfg.regionPath})`, () => openSync(cfg.regionPath, 'r+'));
    const s = new DoorbellServer(cfg, shmFd);
    try {
      try {
        unlinkSync(cfg.socket); // a socket a crashed server left
      } catch {
        /* none */
      }
      await new Promise<void>((resolve, reject) => {
        s.#server.once('error', reject);
        s.#server.listen(cfg.socket, () => {
          s.#server.off('error', reject);
          resolve();
        });
      });
      fsCall(`chmod(${cfg.socket})`, () => chmodSync(cfg.socket, 0o600));
    } catch (err) {
      closeSync(shmFd);
      throw err;
    }
    s.#server.on('error', (err) => cfg.log(`server error: ${err.message}`));
    s.#publish();
    cfg.log(`listening on ${cfg.socket}: up to ${cfg.maxPeers} guests, ${cfg.vectors} vector(s) each, region ${cfg.regionPath}`);
    return s;
  }

  /** The ids connected now, ascending. */
  peers(): number[] {
    return [...this.#peers.keys()].sort((a, b) => a - b);
  }

  #accept(sock: net.Socket): void {
    const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (typeof fd !== 'number' || fd < 0 || this.#closing) {
      sock.destroy();
      return;
    }
    if (this.#peers.size >= this.#cfg.maxPeers) {
      this.#cfg.log(`refused a client: all ${this.#cfg.maxPeers} guests are connected`);
      sock.destroy();
      return;
    }
    // ivshmem ids are 16 bits; wrap, skipping ids still connected.
    while (this.#peers.has(this.#nextId)) this.#nextId = (this.#nextId + 1) & MAX_ID;
    const id = this.#nextId;
    this.#nextId = (this.#nextId + 1) & MAX_ID;
    const peer: Peer = { id, sock, fd, eventfds: [] };
    sock.on('error', () => {}); // 'close' follows
    try {
      for (let v = 0; v < this.#cfg.vectors; v++) peer.eventfds.push(eventfd());
      this.#send(peer, PROTOCOL_VERSION, -1);
      this.#send(peer, BigInt(id), -1);
      this.#send(peer, -1n, this.#shmFd);
      for (const other of this.#peers.values()) for (const efd of other.eventfds) this.#send(peer, BigInt(other.id), efd);
      for (const efd of peer.eventfds) this.#send(peer, BigInt(id), efd);
    } catch (err) {
      this.#cfg.log(`peer ${id}: setup failed, disconnected: ${(err as Error).message}`);
      for (const efd of peer.eventfds) closeSync(efd);
      sock.destroy();
      return;
    }
    const failed: Peer[] = [];
    for (const other of this.#peers.values()) {
      try {
        for (const efd of peer.eventfds) this.#send(other, BigInt(id), efd);
      } catch (err) {
        this.#cfg.log(`peer ${other.id}: cannot tell it about peer ${id}, disconnecting it: ${(err as Error).message}`);
        failed.push(other);
      }
    }
    this.#peers.set(id, peer);
    sock.on('data', () => {
      this.#cfg.log(`peer ${id}: sent data (clients never send), disconnecting it`);
      this.#drop(peer);
    });
    sock.on('close', () => this.#drop(peer));
    this.#cfg.log(`peer ${id} connected`);
    for (const other of failed) this.#drop(other);
    this.#publish();
  }

  #send(peer: Peer, value: bigint, fd: number): void {
    sendInt64WithFd(peer.fd, value, fd, `peer ${peer.id}`);
  }

  #drop(peer: Peer): void {
    if (this.#peers.get(peer.id) !== peer) return;
    this.#peers.delete(peer.id);
    peer.sock.destroy();
    const failed: Peer[] = [];
    for (const other of this.#peers.values()) {
      try {
        this.#send(other, BigInt(peer.id), -1);
      } catch (err) {
        // EPIPE: it hung up too, and its own 'close' is on its way.
        if ((err as SysError).code !== 'EPIPE') this.#cfg.log(`peer ${other.id}: cannot tell it peer ${peer.id} left, disconnecting it: ${(err as Error).message}`);
        failed.push(other);
      }
    }
    for (const efd of peer.eventfds) closeSync(efd);
    this.#cfg.log(`peer ${peer.id} disconnected`);
    for (const other of failed) this.#drop(other);
    this.#publish();
  }

  #publish(): void {
    const file = this.#cfg.statusFile;
    if (!file) return;
    try {
      writeFileSync(`${file}.tmp`, `${JSON.stringify({ pid: process.pid, socket: this.#cfg.socket, peers: this.peers() })}\n`, { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
    } catch (err) {
      this.#cfg.log(`cannot write ${file}: ${(err as Error).message}`);
    }
  }

  /** Stops listening, disconnects every client and removes the socket. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#cfg.log('shutting down');
      const done = new Promise<void>((r) => this.#server.close(() => r()));
      for (const peer of [...this.#peers.values()]) {
        this.#peers.delete(peer.id);
        peer.sock.destroy();
        for (const efd of peer.eventfds) closeSync(efd);
      }
      await done;
      closeSync(this.#shmFd);
      try {
        unlinkSync(this.#cfg.socket);
      } catch {
        /* already gone */
      }
      this.#closedResolve();
    })();
    return this.#closing;
  }
}
