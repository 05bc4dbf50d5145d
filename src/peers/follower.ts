// PeerFollower keeps every attached interface's ring_peers in step with its ring
// device's peer table. It listens to ringnet's membership events (the genetlink
// group ringnet/monitor): a peer that comes up is added, one that dies or
// leaves is removed, as soon as ringnet tells (a round right after the event,
// at most one every EVENT_GAP_MS). Between events it still looks every
// WATCH_INTERVAL_MS at what events do not cover (attachments, this guest's
// addresses) and resyncs in full every FULL_POLL_MS, in case an event was lost.
// Without events (no ringnet.ko yet, or a test's text tables) it polls the
// table every 500 ms. `ringctl attach IFACE --follow` runs one in the
// foreground; a daemon (`ringctl serve`) can run one beside its servers.
//
// The event path is cheap (the issue asks for the maps in step within 100 ms
// of a join, on slow emulated guests). A full poll keeps what it read: the
// attachments, this guest's addresses, each ring's table (with the ring's
// ifindex) and the peers it gave each map. An event's round patches the
// events' slots in those tables (ringnet.ko sends the slot's whole dump row,
// decoded as a dump's), runs peersFor() on each
// whole patched table (conflicts need all of it) and writes only the map
// entries that differ from what the follower last wrote (updatePeers(), no
// read of the map): no dump, no look at the pins or addresses, no signature.
// What an event cannot answer (no cache, or the last full poll failed; a ring
// or slot the cache does not know; a row that does not decode; a map that
// would not take the change; events lost) runs the full round instead. The
// full rounds, every FULL_POLL_MS at the latest, read everything again and
// repair the maps (syncPeers() reads every entry).
//
// A poll never throws: a failure for one interface is logged once (until it
// changes or clears) and the others go on. When an interface's ring device goes
// away (ringnet unloaded), its peers are removed, so transparent mode and the
// XDP redirect fall back to eth1 instead of sending into a device that is gone.
// Given `ring`, an interface whose ring device went away is attached to it again
// once it is back (ringnet reloaded gives ring0 a new ifindex, which the
// loaded programs hold).
import { LibbpfError } from '../libbpf/index.js';
import { RingctlError } from '../common/errors.js';
import type { PeerEvent } from '../netlink/ringnet.js';
import type { PeerSyncResult, RedirectPeer } from '../xdp/maps.js';
import type { LocalAddress } from './local.js';
import { peersFor, systemDeps, type FollowerDeps, type InterfacePeers, type SyncTarget } from './sync.js';
import type { PeerTable } from './table.js';

export const DEFAULT_FOLLOW_INTERVAL_MS = 500;
/** With events: how often to look at what they do not cover. */
export const WATCH_INTERVAL_MS = 2000;
/** With events: the least time between two rounds that events start. */
export const EVENT_GAP_MS = 20;
/** However quiet things are, a full poll this often (repairs a map someone else changed). */
export const FULL_POLL_MS = 10_000;

export interface FollowerOptions {
  pinRoot: string;
  /** The sysfs class/net directory holding ring0/ringnet/peers. */
  sysfs: string;
  intervalMs?: number;
  /** Where changes, warnings and errors go, one line each (no newline). Default: nowhere. */
  log?: (line: string) => void;
  /** Called after every poll. */
  onPoll?: (round: FollowRound) => void;
  /** Keep the process alive while following (default true); a server with its own handles can say false. */
  keepAlive?: boolean;
  /**
   * The ring device (ring0) to attach an interface to again when its ring went
   * away and this one is back; needs `bpfDir`. Default: none.
   */
  ring?: string;
  /** Where the BPF objects are, for attaching again. */
  bpfDir?: string;
  /** Replaces the system (for tests). */
  deps?: FollowerDeps;
}

export interface FollowInterface {
  ifname: string;
  ring?: string;
  /** Peers in the map after this poll (unchanged on error or when the ring has no table). */
  peers?: number;
  result?: PeerSyncResult;
  error?: string;
}

export interface FollowRound {
  interfaces: FollowInterface[];
  /** Nothing had changed since the last full poll: the maps were left alone. */
  quiet?: boolean;
  /** The event that started this round, and how long after ringnet saw it the maps were in step. */
  event?: PeerEvent & { latencyMs: number };
}

/** What the follower last told the user about an interface, to log only changes. */
interface Seen {
  /** Slot -> the peer as logged ("peer 1 (g2, 02:...)") and its description. */
  peers: Map<number, { who: string; text: string }>;
  notes: Set<string>;
  /** 'ok', 'gone', 'no-table' or an error message. */
  status: string;
}

/** A peer in the log: "peer 1 (g2, 02:00:00:00:00:01)", its slot, the roster's name and MAC. */
function who(p: RedirectPeer): string {
  return `peer ${p.slot ?? '?'} (${p.name ? `${p.name}, ` : ''}${p.ringMac})`;
}

function describe(p: RedirectPeer): string {
  const parts: string[] = [];
  if (p.addresses.length) parts.push(`ring ${p.addresses.join(', ')}`);
  if (p.ordinaryAddresses?.length) parts.push(`ordinary ${p.ordinaryAddresses.join(', ')}`);
  return parts.length ? parts.join('; ') : 'no usable addresses';
}

/** Milliseconds from ringnet seeing `e` (CLOCK_MONOTONIC, as process.hrtime) to now. */
function latencyMs(e: PeerEvent): number {
  return e.eventNs ? Number(process.hrtime.bigint() - e.eventNs) / 1e6 : NaN;
}

/**
 * What the last full poll read, for the rounds events start: the interfaces it
 * synced from a table (with their rings as then), this guest's addresses, the
 * tables by ring, and the peers each interface's map was last given.
 */
interface FollowCache {
  targets: SyncTarget[];
  local: LocalAddress[];
  tables: Map<string, PeerTable>;
  synced: Map<string, readonly RedirectPeer[]>;
}

/**
 * `table` after event `e`, or undefined when the event cannot tell: it does not
 * carry the slot's whole row (or the row does not decode), or names a slot the
 * table does not list.
 */
function patchedTable(table: PeerTable, e: PeerEvent): PeerTable | undefined {
  const row = e.row;
  if (!e.whole || row === undefined || typeof row === 'string' || row.slot !== e.slot) return undefined;
  const i = table.peers.findIndex((p) => p.slot === e.slot);
  if (i < 0) return undefined;
  const peers = [...table.peers];
  peers[i] = row;
  return { ...table, peers };
}

function message(err: unknown): string {
  if (err instanceof RingctlError || err instanceof LibbpfError) return err.message;
  return `unexpected error: ${err instanceof Error ? err.message : String(err)}`;
}

export class PeerFollower {
  readonly intervalMs: number;
  readonly #deps: FollowerDeps;
  readonly #log: (line: string) => void;
  readonly #seen = new Map<string, Seen>();
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #watch: { stop(): Promise<void> } | undefined;
  /** The events since the last round, waiting for it, in order. */
  #pending: PeerEvent[] = [];
  /** Events were lost since the last full poll: the next round is a full one. */
  #lost = false;
  /** What the last full poll read, unless it failed anywhere (then events start full rounds). */
  #cache: FollowCache | undefined;
  /** Cancels the round an event scheduled, if it has not run. */
  #eventCancel: (() => void) | undefined;
  #lastEventRound = 0;
  #forceNext = false;
  #globalError: string | undefined;
  /** From the last full poll: its signature, time, rings and whether it failed anywhere. */
  #last: { signature?: string; at: number; rings: string[]; failed: boolean; round: FollowRound } | undefined;

  constructor(readonly opts: FollowerOptions) {
    this.intervalMs = opts.intervalMs ?? DEFAULT_FOLLOW_INTERVAL_MS;
    this.#deps = opts.deps ?? systemDeps(opts.pinRoot, opts.sysfs, opts.ring === undefined ? undefined : opts.bpfDir);
    this.#log = opts.log ?? (() => {});
  }

  get running(): boolean {
    return this.#running;
  }

  /** Whether ringnet's events drive the rounds (after start()). */
  get watching(): boolean {
    return this.#watch !== undefined;
  }

  /** How it follows, for people: "on ringnet's events, ..." or "every 500 ms". */
  get how(): string {
    return this.#watch
      ? `on ringnet's genetlink events (a look every ${WATCH_INTERVAL_MS} ms, a full resync every ${FULL_POLL_MS / 1000} s)`
      : `every ${this.intervalMs} ms`;
  }

  /** Listens to ringnet's events if it can, polls now, then every interval until stop(). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    try {
      this.#watch = this.#deps.watch?.(
        (e) => this.#onEvent(e),
        (why) => {
          this.#log(`warning: ringnet events: ${why}; resyncing`);
          this.#forceNext = true;
          this.#lost = true;
          this.#onEvent(undefined);
        },
      );
    } catch (err) {
      this.#log(`warning: cannot listen to ringnet's events (${message(err)}); polling every ${this.intervalMs} ms`);
      this.#watch = undefined;
    }
    this.#tick();
  }

  #tick = () => {
    if (!this.#running) return;
    if (this.#timer) clearTimeout(this.#timer);
    const round = this.poll(this.#forceNext);
    this.#forceNext = false;
    this.opts.onPoll?.(round);
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- onPoll may have called stop()
    if (!this.#running) return;
    this.#timer = setTimeout(this.#tick, this.#watch ? Math.max(this.intervalMs, WATCH_INTERVAL_MS) : this.intervalMs);
    if (this.opts.keepAlive === false) this.#timer.unref();
  };

  /**
   * An event (or a loss of some): a round soon, at most one every EVENT_GAP_MS.
   * The events patch the cached tables when they can (#eventRound); else, or
   * after a loss, the round is a full one.
   */
  #onEvent(e: PeerEvent | undefined): void {
    if (!this.#running) return;
    if (e) this.#pending.push(e);
    if (this.#eventCancel) return;
    const wait = Math.max(0, this.#lastEventRound + EVENT_GAP_MS - Date.now());
    const run = () => {
      this.#eventCancel = undefined;
      if (!this.#running) return;
      this.#lastEventRound = Date.now();
      const round = this.#lost ? undefined : this.#eventRound();
      if (round) {
        this.opts.onPoll?.(round);
        return;
      }
      this.#forceNext = true;
      this.#tick();
    };
    if (wait === 0) {
      const i = setImmediate(run);
      this.#eventCancel = () => clearImmediate(i);
    } else {
      const t = setTimeout(run, wait);
      this.#eventCancel = () => clearTimeout(t);
    }
  }

  stop(): void {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#eventCancel?.();
    this.#eventCancel = undefined;
    const w = this.#watch;
    this.#watch = undefined;
    void w?.stop();
  }

  /**
   * One round: every attached interface synced with its ring's table. Never
   * throws. When the cheap signature of the pins, tables and addresses is as
   * at the last full poll (a few seconds ago at most), the round is quiet.
   */
  poll(force = false): FollowRound {
    const last = this.#last;
    let signature: string | undefined;
    try {
      // With opts.ring, its table too: its coming back is a change.
      const rings = new Set([...(last?.rings ?? []), ...(this.opts.ring === undefined ? [] : [this.opts.ring])]);
      signature = this.#deps.signature?.([...rings]);
    } catch {
      signature = undefined;
    }
    if (
      !force &&
      last &&
      signature !== undefined &&
      signature === last.signature &&
      !last.failed &&
      Date.now() - last.at < FULL_POLL_MS
    ) {
      return { interfaces: last.round.interfaces, quiet: true };
    }
    // The events waiting are answered by this round: the first one says why it ran.
    const event = this.#pending.at(0);
    this.#pending = [];
    this.#lost = false;
    const round = this.#fullPoll(event);
    if (event) round.event = { ...event, latencyMs: latencyMs(event) };
    const rings = [...new Set(round.interfaces.map((i) => i.ring).filter((r): r is string => r !== undefined))];
    const failed = this.#globalError !== undefined || round.interfaces.some((i) => i.error !== undefined);
    this.#last = { signature, at: Date.now(), rings, failed, round };
    if (failed) this.#cache = undefined;
    return round;
  }

  /**
   * The round for the events waiting, from the last full poll's cache: each
   * event patches its slot of the cached table, each interface following a
   * table that changed gets peersFor() the whole patched table (conflicts need
   * it) and its map only the entries that changed. No dump, no look at the
   * attachments or this guest's addresses (the watch looks and the full polls
   * do those). Undefined when the events cannot be answered so (no cache, a
   * ring or slot it does not know, a row that does not decode, a map that
   * would not take the change): then a full round runs, with the events.
   */
  #eventRound(): FollowRound | undefined {
    const cache = this.#cache;
    const last = this.#last;
    const events = this.#pending;
    if (!cache || !last || !events.length) return undefined;
    const tables = new Map<string, PeerTable>();
    for (const e of events) {
      const ring = [...cache.tables].find(([, t]) => t.ifindex === e.ifindex)?.[0];
      const table = ring === undefined ? undefined : (tables.get(ring) ?? cache.tables.get(ring));
      const next = table && patchedTable(table, e);
      if (ring === undefined || !next) return undefined;
      tables.set(ring, next);
    }
    // Every interface following a table that changed, with its peers.
    const changes: { t: SyncTarget; want: InterfacePeers; before: readonly RedirectPeer[] }[] = [];
    for (const t of cache.targets) {
      const table = t.ring === undefined ? undefined : tables.get(t.ring);
      const before = cache.synced.get(t.ifname);
      if (!table) continue;
      if (!before || this.#seen.get(t.ifname)?.status !== 'ok') return undefined;
      changes.push({ t, want: peersFor(t, table, cache.local), before });
    }
    const results = new Map<string, PeerSyncResult>();
    try {
      for (const { t, want, before } of changes) {
        results.set(t.ifname, this.#deps.update ? this.#deps.update(t.ifname, before, want.peers) : this.#deps.sync(t.ifname, want.peers));
        cache.synced.set(t.ifname, want.peers);
      }
    } catch {
      // The full round says what went wrong, and resyncs what was written.
      this.#cache = undefined;
      return undefined;
    }
    this.#pending = [];
    for (const [ring, table] of tables) cache.tables.set(ring, table);
    const first = events[0];
    const round: FollowRound = { interfaces: [], event: { ...first, latencyMs: latencyMs(first) } };
    for (const i of last.round.interfaces) {
      const c = changes.find((x) => x.t.ifname === i.ifname);
      const result = results.get(i.ifname);
      if (!c || !result) {
        round.interfaces.push(i);
        continue;
      }
      round.interfaces.push({ ifname: i.ifname, ring: c.t.ring, peers: c.want.peers.length, result });
      const seen = this.#seen.get(i.ifname);
      if (seen) this.#report(i.ifname, seen, c.want.peers, c.want.notes, result, first);
    }
    last.round = { interfaces: round.interfaces };
    return round;
  }

  #fullPoll(event?: PeerEvent): FollowRound {
    const round: FollowRound = { interfaces: [] };
    let targets: SyncTarget[];
    let local: LocalAddress[];
    try {
      targets = this.#deps.targets();
      local = this.#deps.localAddresses();
      this.#globalError = undefined;
    } catch (err) {
      const m = message(err);
      if (m !== this.#globalError) this.#log(`error: ${m}`);
      this.#globalError = m;
      this.#cache = undefined;
      return round;
    }
    const cache: FollowCache = { targets: [], local, tables: new Map(), synced: new Map() };
    this.#cache = cache;
    for (const ifname of [...this.#seen.keys()]) {
      if (!targets.some((t) => t.ifname === ifname)) {
        this.#seen.delete(ifname);
        this.#log(`${ifname}: no longer attached; not following it`);
      }
    }
    const tables = new Map<string, PeerTable | undefined | Error>();
    for (let t of targets) {
      const r: FollowInterface = { ifname: t.ifname, ring: t.ring };
      round.interfaces.push(r);
      let seen = this.#seen.get(t.ifname);
      if (!seen) {
        seen = { peers: new Map(), notes: new Set(), status: '' };
        this.#seen.set(t.ifname, seen);
        this.#log(`${t.ifname}: following ${t.ring ?? 'its ring device'}'s peer table`);
      }
      try {
        const back = t.ring === undefined ? this.#reattach(t.ifname) : undefined;
        if (back) {
          t = { ...t, ring: back };
          r.ring = back;
          seen.status = '';
        }
        let table: PeerTable | undefined;
        if (t.ring !== undefined) {
          if (!tables.has(t.ring)) {
            try {
              tables.set(t.ring, this.#deps.readTable(t.ring));
            } catch (err) {
              tables.set(t.ring, err instanceof Error ? err : new Error(String(err)));
            }
          }
          const got = tables.get(t.ring);
          if (got instanceof Error) throw got;
          if (got === undefined) {
            if (seen.status !== 'no-table') {
              this.#log(`${t.ifname}: ${t.ring} has no peer table (not a ringnet device); its peers are left as they are`);
            }
            seen.status = 'no-table';
            continue;
          }
          table = got;
        }
        const want = table ? peersFor(t, table, local) : { peers: [], notes: [] };
        r.result = this.#deps.sync(t.ifname, want.peers);
        r.peers = want.peers.length;
        if (table && t.ring !== undefined) {
          cache.targets.push(t);
          cache.tables.set(t.ring, table);
          cache.synced.set(t.ifname, want.peers);
        }
        if (!table && seen.status !== 'gone') {
          this.#log(`${t.ifname}: its ring device is gone; removed every peer (traffic stays on ${t.ifname})`);
        }
        if (table && seen.status !== 'ok' && seen.status !== '') this.#log(`${t.ifname}: ${t.ring}'s peer table is readable again`);
        seen.status = table ? 'ok' : 'gone';
        this.#report(t.ifname, seen, want.peers, want.notes, r.result, event);
      } catch (err) {
        const m = message(err);
        r.error = m;
        if (seen.status !== m) this.#log(`${t.ifname}: error: ${m}`);
        seen.status = m;
      }
    }
    return round;
  }

  /** Attaches `ifname` to opts.ring again if that is back: its name, or undefined. Throws. */
  #reattach(ifname: string): string | undefined {
    const ring = this.opts.ring;
    if (ring === undefined || !this.#deps.reattach) return undefined;
    const lines = this.#deps.reattach(ifname, ring);
    if (!lines) return undefined;
    for (const l of lines) this.#log(l);
    this.#log(`${ifname}: ${ring} is back; attached to it again`);
    return ring;
  }

  /** Logs the peers that came, went or changed, new warnings, and rejected map entries. */
  #report(ifname: string, seen: Seen, peers: readonly RedirectPeer[], notes: readonly string[], result: PeerSyncResult, event?: PeerEvent): void {
    const now = new Map(peers.map((p) => [p.slot ?? -1, { who: who(p), text: describe(p) }]));
    // After the event that started the round: which, and how long after ringnet saw it.
    const why = () => (event ? ` (on ${event.kind} of slot ${event.slot}, ${latencyMs(event).toFixed(1)} ms after ringnet saw it)` : '');
    for (const [slot, p] of now) {
      const old = seen.peers.get(slot);
      if (!old) this.#log(`${ifname}: ${p.who} added: ${p.text}${why()}`);
      else if (old.text !== p.text || old.who !== p.who) this.#log(`${ifname}: ${p.who} changed: ${p.text}${why()}`);
    }
    for (const [slot, p] of seen.peers) if (!now.has(slot)) this.#log(`${ifname}: ${p.who} removed${why()}`);
    seen.peers = now;
    const all = [...notes, ...result.rejected];
    for (const n of all) if (!seen.notes.has(n)) this.#log(`${ifname}: warning: ${n}`);
    seen.notes = new Set(all);
  }
}
