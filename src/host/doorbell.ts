// The doorbell server: QEMU's ivshmem-server protocol (docs/specs/ivshmem-spec.rst
// in QEMU) on UNIX sockets, for `-device ivshmem-doorbell`. The connection is
// one-way: every message is a little-endian int64, with or without one file
// descriptor (SCM_RIGHTS). To a new client, in order:
//   0                          the protocol version
//   its id                     the next id not used before (IVPosition); the guest
//                              learns it as its doorbell id
//   -1 + a memory fd           the device's BAR2 (below)
//   other id + eventfd         per other client it may talk to, one message per vector
//   own id + eventfd           per vector: the eventfds it is interrupted through
// and to every other client it may talk to its id with each of its eventfds. When
// a client goes, those others get its id without a descriptor and its eventfds are
// closed. Clients never send; one that does is disconnected, as QEMU's server does.
//
// A socket per named guest (ABI v2), and the socket says which guest connects (the
// host hands guest gN's QEMU only gN's socket; the sockets are 0600 in the 0700 run
// directory, so this trusts QEMU, not the guest). One connection per guest at a
// time: a second is refused, so a guest cannot hold two ids. A client gets the
// eventfds of exactly the connected guests mayTalk() allows, and only those get its
// eventfds and its departure, so no guest can ring a stranger's doorbell. BAR2 is a
// page of memory of its own per connection (a memfd, closed here once sent): the
// doorbell device's memory holds nothing anyone trusts, and is no channel between
// guests either. onIds() hears which id each guest holds, for the rosters'
// doorbell_id.
//
// Ids are not reused while any are left (as QEMU's ivshmem-server does): QEMU's
// ivshmem frees a departed peer's eventfd array but keeps the pointer, and a
// new peer under the same id makes every other QEMU write into freed memory.
import { closeSync, renameSync, unlinkSync, writeFileSync, chmodSync } from 'node:fs';
import net from 'node:net';

import { RingctlError } from '../common/errors.js';
import { errnoValue } from '../common/errno.js';
import { fsCall, SysError } from '../common/sys-error.js';
import { eventfd, memfd, sendInt64WithFd } from '../common/libc.js';

export const PROTOCOL_VERSION = 0n;

/**
 * BAR2 of a v2 guest's doorbell device: QEMU takes the size of the fd it gets
 * (fstat) as the BAR's, and a BAR must be a power of two (pci_register_bar()
 * asserts it); one page is the least it maps.
 */
export const GUEST_SHM_SIZE = 4096;

/** A guest of the server and the socket only its QEMU is given. */
export interface DoorbellGuest {
  name: string;
  socket: string;
}

/** A socket per guest; guests get each other's eventfds only where mayTalk() says. */
export interface DoorbellConfig {
  /** Eventfds per client (the ivshmem-doorbell device's vectors). */
  vectors: number;
  /** Where the connected ids are published for `host status`. */
  statusFile?: string;
  log: (line: string) => void;
  guests: DoorbellGuest[];
  /** Whether guests a and b may ring each other; must be symmetric (checked at start). */
  mayTalk: (a: string, b: string) => boolean;
  /**
   * Every guest's id now (undefined: not connected): at start and after each
   * connect or departure. A throw is logged.
   */
  onIds?: (ids: Map<string, number | undefined>) => void;
}

/** One listening socket: for one named guest. */
interface Door {
  guest: string;
  socket: string;
  server: net.Server;
  /** Its client, if connected: one at a time. */
  peer: Peer | undefined;
}

interface Peer {
  id: number;
  door: Door;
  sock: net.Socket;
  eventfds: number[];
}

/**
 * The socket's descriptor (libuv's), for sendmsg, or undefined once Node has
 * closed it: a client that hung up is closed before its 'close' event, and its
 * number may already belong to another descriptor by then.
 */
function socketFd(sock: net.Socket): number | undefined {
  const fd = (sock as unknown as { _handle?: { fd?: number } | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 && !sock.destroyed ? fd : undefined;
}

const MAX_ID = 0xffff;
const EPIPE = errnoValue('EPIPE');

/** Whether guests a and b may ring each other, every pair checked for symmetry. */
function talkRule(cfg: DoorbellConfig): (a: string, b: string) => boolean {
  const names = cfg.guests.map((g) => g.name);
  const pairs = new Set<string>();
  for (const a of names) {
    for (const b of names) {
      if (a === b) continue;
      const ab = cfg.mayTalk(a, b);
      if (ab !== cfg.mayTalk(b, a)) throw new RingctlError(`the doorbell rule is not symmetric: ${a} may${ab ? '' : ' not'} talk to ${b} but not the other way round`);
      if (ab) pairs.add(`${a}\0${b}`);
    }
  }
  return (a, b) => pairs.has(`${a}\0${b}`);
}

/** Checks that the guests have names and sockets of their own. */
function checkGuests(guests: DoorbellGuest[]): void {
  if (guests.length === 0) throw new RingctlError('a doorbell server for guests needs at least one guest');
  const names = new Set<string>();
  const sockets = new Set<string>();
  for (const g of guests) {
    if (names.has(g.name)) throw new RingctlError(`guest ${g.name} is configured twice`);
    if (sockets.has(g.socket)) throw new RingctlError(`guests share the socket ${g.socket}: each needs its own, it is what tells them apart`);
    names.add(g.name);
    sockets.add(g.socket);
  }
}

/** Listens on `socket` (removing one a crashed server left), then makes it 0600. */
async function listen(server: net.Server, socket: string): Promise<void> {
  try {
    unlinkSync(socket);
  } catch {
    /* none */
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => {
      server.off('error', reject);
      resolve();
    });
  });
  fsCall(`chmod(${socket})`, () => chmodSync(socket, 0o600));
}

export class DoorbellServer {
  readonly #cfg: DoorbellConfig;
  readonly #doors: Door[] = [];
  readonly #talk: (a: string, b: string) => boolean;
  readonly #peers = new Map<number, Peer>();
  #nextId = 0;
  #closing: Promise<void> | undefined;
  #closedResolve!: () => void;
  /** Resolves when the server has closed. */
  readonly closed = new Promise<void>((r) => (this.#closedResolve = r));

  private constructor(cfg: DoorbellConfig, talk: (a: string, b: string) => boolean) {
    this.#cfg = cfg;
    this.#talk = talk;
    for (const g of cfg.guests) {
      const door: Door = { guest: g.name, socket: g.socket, peer: undefined, server: net.createServer((sock) => this.#accept(door, sock)) };
      this.#doors.push(door);
    }
  }

  /** Checks the configuration and listens on every socket. */
  static async start(cfg: DoorbellConfig): Promise<DoorbellServer> {
    checkGuests(cfg.guests);
    const s = new DoorbellServer(cfg, talkRule(cfg));
    const listening: Door[] = [];
    try {
      for (const door of s.#doors) {
        await listen(door.server, door.socket);
        listening.push(door);
      }
    } catch (err) {
      for (const door of listening) {
        door.server.close();
        try {
          unlinkSync(door.socket);
        } catch {
          /* gone */
        }
      }
      throw err;
    }
    for (const door of s.#doors) door.server.on('error', (err) => cfg.log(`server error on ${door.socket}: ${err.message}`));
    s.#changed();
    cfg.log(`serving ${cfg.guests.length} guest(s), ${cfg.vectors} vector(s) each, a ${GUEST_SHM_SIZE}-byte memory of its own per connection`);
    for (const door of s.#doors) cfg.log(`${door.guest}: listening on ${door.socket}`);
    return s;
  }

  /** The ids connected now, ascending. */
  peers(): number[] {
    return [...this.#peers.keys()].sort((a, b) => a - b);
  }

  /** Every guest's id (undefined: not connected). */
  guests(): Map<string, number | undefined> {
    return new Map(this.#doors.map((door) => [door.guest, door.peer?.id]));
  }

  /** The others connected now that `peer` may talk to. */
  #neighbours(peer: Peer): Peer[] {
    return [...this.#peers.values()].filter((other) => other !== peer && this.#talk(peer.door.guest, other.door.guest));
  }

  #label(id: number, door: Door): string {
    return `peer ${id} (${door.guest})`;
  }

  #accept(door: Door, sock: net.Socket): void {
    if (socketFd(sock) === undefined || this.#closing) {
      sock.destroy();
      return;
    }
    if (door.peer) {
      this.#cfg.log(`${door.guest}: refused a second connection: it is connected as peer ${door.peer.id}`);
      sock.destroy();
      return;
    }
    // ivshmem ids are 16 bits; wrap, skipping ids still connected.
    while (this.#peers.has(this.#nextId)) this.#nextId = (this.#nextId + 1) & MAX_ID;
    const id = this.#nextId;
    this.#nextId = (this.#nextId + 1) & MAX_ID;
    const peer: Peer = { id, door, sock, eventfds: [] };
    const label = this.#label(id, door);
    const neighbours = this.#neighbours(peer);
    sock.on('error', () => {}); // 'close' follows
    let shm = -1;
    try {
      for (let v = 0; v < this.#cfg.vectors; v++) peer.eventfds.push(eventfd());
      shm = memfd(`kvmring-doorbell-${door.guest}`, GUEST_SHM_SIZE);
      this.#send(peer, PROTOCOL_VERSION, -1);
      this.#send(peer, BigInt(id), -1);
      this.#send(peer, -1n, shm);
      for (const other of neighbours) for (const efd of other.eventfds) this.#send(peer, BigInt(other.id), efd);
      for (const efd of peer.eventfds) this.#send(peer, BigInt(id), efd);
    } catch (err) {
      this.#cfg.log(`${label}: setup failed, disconnected: ${(err as Error).message}`);
      for (const efd of peer.eventfds) closeSync(efd);
      sock.destroy();
      return;
    } finally {
      if (shm >= 0) closeSync(shm); // QEMU has its own copy
    }
    const failed: Peer[] = [];
    for (const other of neighbours) {
      try {
        for (const efd of peer.eventfds) this.#send(other, BigInt(id), efd);
      } catch (err) {
        this.#cfg.log(`${this.#label(other.id, other.door)}: cannot tell it about ${label}, disconnecting it: ${(err as Error).message}`);
        failed.push(other);
      }
    }
    this.#peers.set(id, peer);
    door.peer = peer;
    sock.on('data', () => {
      this.#cfg.log(`${label}: sent data (clients never send), disconnecting it`);
      this.#drop(peer);
    });
    sock.on('close', () => this.#drop(peer));
    this.#cfg.log(`${label} connected`);
    for (const other of failed) this.#drop(other);
    this.#changed();
  }

  #send(peer: Peer, value: bigint, fd: number): void {
    const what = this.#label(peer.id, peer.door);
    const sock = socketFd(peer.sock);
    if (sock === undefined) throw new SysError(`sendmsg(${what})`, EPIPE); // it hung up; its 'close' is on its way
    sendInt64WithFd(sock, value, fd, what);
  }

  #drop(peer: Peer): void {
    if (this.#peers.get(peer.id) !== peer) return;
    this.#peers.delete(peer.id);
    peer.door.peer = undefined;
    peer.sock.destroy();
    const label = this.#label(peer.id, peer.door);
    const failed: Peer[] = [];
    for (const other of this.#neighbours(peer)) {
      try {
        this.#send(other, BigInt(peer.id), -1);
      } catch (err) {
        // EPIPE: it hung up too, and its own 'close' is on its way.
        if ((err as SysError).code !== 'EPIPE') this.#cfg.log(`${this.#label(other.id, other.door)}: cannot tell it ${label} left, disconnecting it: ${(err as Error).message}`);
        failed.push(other);
      }
    }
    for (const efd of peer.eventfds) closeSync(efd);
    this.#cfg.log(`${label} disconnected`);
    for (const other of failed) this.#drop(other);
    this.#changed();
  }

  /** Tells whoever listens that the ids changed: onIds(), then the status file. */
  #changed(): void {
    const cfg = this.#cfg;
    const ids = this.guests();
    if (cfg.onIds) {
      try {
        cfg.onIds(ids);
      } catch (err) {
        cfg.log(`onIds failed: ${(err as Error).message}`);
      }
    }
    const file = cfg.statusFile;
    if (!file) return;
    // Each guest's socket and id (null: not connected).
    const guests: Record<string, { socket: string; id: number | null }> = {};
    for (const d of this.#doors) guests[d.guest] = { socket: d.socket, id: ids.get(d.guest) ?? null };
    const record = { pid: process.pid, peers: this.peers(), guests };
    try {
      writeFileSync(`${file}.tmp`, `${JSON.stringify(record)}\n`, { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
    } catch (err) {
      cfg.log(`cannot write ${file}: ${(err as Error).message}`);
    }
  }

  /** Stops listening, disconnects every client and removes the sockets. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#cfg.log('shutting down');
      const done = Promise.all(this.#doors.map((d) => new Promise<void>((r) => d.server.close(() => r()))));
      for (const peer of [...this.#peers.values()]) {
        this.#peers.delete(peer.id);
        peer.door.peer = undefined;
        peer.sock.destroy();
        for (const efd of peer.eventfds) closeSync(efd);
      }
      await done;
      for (const door of this.#doors) {
        try {
          unlinkSync(door.socket);
        } catch {
          /* already gone */
        }
      }
      this.#closedResolve();
    })();
    return this.#closing;
  }
}
