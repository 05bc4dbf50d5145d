import assert from 'node:assert/strict';

import type { PeerEvent } from '../../src/netlink/ringnet.js';
import { EVENT_GAP_MS, FULL_POLL_MS, PeerFollower, WATCH_INTERVAL_MS, type FollowRound } from '../../src/peers/follower.js';
import type { LocalAddress } from '../../src/peers/local.js';
import type { FollowerDeps, SyncTarget } from '../../src/peers/sync.js';
import { parsePeerTable, type PeerTable } from '../../src/peers/table.js';
import { parseCidr, parseIp } from '../../src/xdp/cidr.js';
import { RingctlError } from '../../src/common/errors.js';
import { syncPeers, readPeers, updatePeers, type MapLike, type RedirectPeer } from '../../src/xdp/maps.js';
import { requireTier } from '../helpers/tier.js';

/** An in-memory hash map with the operations syncPeers uses. */
class FakeMap implements MapLike {
  readonly data = new Map<string, Buffer>();
  *keys(): Generator<Buffer> {
    for (const k of [...this.data.keys()]) yield Buffer.from(k, 'hex');
  }
  *entries(): Generator<[Buffer, Buffer]> {
    for (const [k, v] of [...this.data]) yield [Buffer.from(k, 'hex'), Buffer.from(v)];
  }
  lookup(key: Uint8Array): Buffer | undefined {
    return this.data.get(Buffer.from(key).toString('hex'));
  }
  update(key: Uint8Array, value: Uint8Array): void {
    this.data.set(Buffer.from(key).toString('hex'), Buffer.from(value));
  }
  delete(key: Uint8Array): boolean {
    return this.data.delete(Buffer.from(key).toString('hex'));
  }
}

const HEADER = 'region slot state gen mac age_ms ipv4 ipv6 tx_packets rx_packets name claimed_mac addrs_refused';
const SELF = '0 0 self 1 52:54:00:00:00:01 0 198.51.100.1,192.0.2.1 - 0 0 g1 - 0';
/** Slot `slot`, guest g<slot+1> in the roster, its entry in region `slot`: its ring and eth1 addresses, or `addrs`. */
const up = (slot: number, state = 'up', addrs = `198.51.100.${slot + 1},192.0.2.${slot + 1}`, conflict = '- 0') =>
  `${slot} ${slot} ${state} 1 02:00:00:00:00:0${slot} 10 ${addrs} - 0 0 g${slot + 1} ${conflict}`;

/** A guest with ring0 and eth1, and whatever tables and attachments a test sets. */
class FakeSystem implements FollowerDeps {
  tables = new Map<string, PeerTable | undefined | Error>();
  attached: SyncTarget[] = [];
  maps = new Map<string, FakeMap>();
  syncs = 0;
  failSync?: Error;
  signature?: (rings: readonly string[]) => string;

  setTable(ring: string, ...lines: string[]) {
    this.tables.set(ring, parsePeerTable(`${[HEADER, ...lines].join('\n')}\n`));
  }

  attach(t: SyncTarget) {
    this.attached.push(t);
    this.maps.set(t.ifname, new FakeMap());
  }

  addresses(ifname: string): string[] {
    return readPeers(this.maps.get(ifname)!).map((e) => `${e.address}${e.ring ? '' : ' (ordinary)'}`);
  }

  /** How often the follower read the attachments, the tables and this guest's addresses. */
  reads = { targets: 0, tables: 0, local: 0 };

  targets(): SyncTarget[] {
    this.reads.targets++;
    return this.attached;
  }

  readTable(ring: string): PeerTable | undefined {
    this.reads.tables++;
    const t = this.tables.get(ring);
    if (t instanceof Error) throw t;
    return t;
  }

  localAddresses(): LocalAddress[] {
    this.reads.local++;
    const a = (ifname: string, cidr: string): LocalAddress => {
      const [addr, prefix] = cidr.split('/');
      return { ifname, ...parseIp(addr)!, prefix: Number(prefix) };
    };
    return [a('ring0', '198.51.100.1/24'), a('eth1', '192.0.2.1/24'), a('eth2', '192.0.2.1/24')];
  }

  /** reattach() calls, and the ring that is back (undefined: none). */
  reattaches: string[] = [];
  back?: string;
  failReattach?: Error;

  reattach(ifname: string, ring: string): string[] | undefined {
    this.reattaches.push(`${ifname}->${ring}`);
    if (this.failReattach) throw this.failReattach;
    if (this.back !== ring) return undefined;
    const t = this.attached.find((x) => x.ifname === ifname)!;
    t.ring = ring;
    this.maps.set(ifname, new FakeMap());
    return [`${ifname}: detached the previous attachment (...)`, `${ifname}: attached xdp_ring (...)`];
  }

  /** With events (set `events` first): the follower's callbacks, and whether it stopped listening. */
  events?: { onEvent: (e: PeerEvent) => void; onLost: (why: string) => void; stopped: boolean };
  watch?: FollowerDeps['watch'];

  listen() {
    this.watch = (onEvent, onLost) => {
      const w = { onEvent, onLost, stopped: false };
      this.events = w;
      return {
        async stop() {
          w.stopped = true;
        },
      };
    };
  }

  sync(ifname: string, peers: readonly RedirectPeer[]) {
    this.syncs++;
    if (this.failSync) throw this.failSync;
    return syncPeers(this.maps.get(ifname)!, peers);
  }

  updates = 0;
  update(ifname: string, before: readonly RedirectPeer[], peers: readonly RedirectPeer[]) {
    this.updates++;
    return updatePeers(this.maps.get(ifname)!, before, peers);
  }
}

describe('PeerFollower', () => {
  let sys: FakeSystem;
  let log: string[];
  let follower: PeerFollower;

  before(function () {
    requireTier(this, 'unit');
  });

  beforeEach(() => {
    sys = new FakeSystem();
    log = [];
    follower = new PeerFollower({ pinRoot: '/nonexistent', sysfs: '/nonexistent', deps: sys, log: (l) => log.push(l) });
  });

  afterEach(() => follower.stop());

  it('fills the map of every attached interface from its ring\'s table', () => {
    sys.setTable('ring0', SELF, up(1), up(2, 'dead'));
    sys.attach({ ifname: 'eth1', ring: 'ring0', subnets: [], transparent: true });
    sys.attach({ ifname: 'eth2', ring: 'ring0', subnets: [parseCidr('198.51.100.0/24')], transparent: false });
    const round = follower.poll();
    assert.deepEqual(sys.addresses('eth1'), ['192.0.2.2 (ordinary)', '198.51.100.2']);
    assert.deepEqual(sys.addresses('eth2'), ['198.51.100.2']);
    assert.deepEqual(
      round.interfaces.map((i) => [i.ifname, i.peers, i.result?.added]),
      [
        ['eth1', 1, 2],
        ['eth2', 1, 1],
      ],
    );
    assert.deepEqual(log, [
      "eth1: following ring0's peer table",
      'eth1: peer 1 (g2, 02:00:00:00:00:01) added: ring 198.51.100.2; ordinary 192.0.2.2',
      "eth2: following ring0's peer table",
      'eth2: peer 1 (g2, 02:00:00:00:00:01) added: ring 198.51.100.2',
    ]);
  });

  it('adds a peer that comes up and removes one that dies or leaves, logging only changes', () => {
    sys.attach({ ifname: 'eth1', ring: 'ring0', subnets: [], transparent: false });
    sys.setTable('ring0', SELF, up(1));
    follower.poll();
    follower.poll();
    assert.equal(log.length, 2);
    sys.setTable('ring0', SELF, up(1), up(2));
    follower.poll();
    assert.deepEqual(sys.addresses('eth1'), ['198.51.100.2', '198.51.100.3']);
    sys.setTable('ring0', SELF, up(1, 'dead'), up(2));
    follower.poll();
    sys.setTable('ring0', SELF, up(1, 'free', '-'), up(2));
    follower.poll();
    assert.deepEqual(sys.addresses('eth1'), ['198.51.100.3']);
    sys.setTable('ring0', SELF);
    follower.poll();
    assert.deepEqual(sys.addresses('eth1'), []);
    assert.deepEqual(log.slice(2), [
      'eth1: peer 2 (g3, 02:00:00:00:00:02) added: ring 198.51.100.3',
      'eth1: peer 1 (g2, 02:00:00:00:00:01) removed',
      'eth1: peer 2 (g3, 02:00:00:00:00:02) removed',
    ]);
  });

  it('removes every peer when the ring device is gone, and says so once', () => {
    sys.attach({ ifname: 'eth1', ring: 'ring0', subnets: [], transparent: true });
    sys.setTable('ring0', SELF, up(1));
    follower.poll();
    sys.attached[0] = { ...sys.attached[0], ring: undefined };
    follower.poll();
    follower.poll();
    assert.deepEqual(sys.addresses('eth1'), []);
    assert.deepEqual(log.slice(2), [
      'eth1: its ring device is gone; removed every peer (traffic stays on eth1)',
      'eth1: peer 1 (g2, 02:00:00:00:00:01) removed',
    ]);
  });

  it('attaches an interface whose ring went away to the ring device again once it is back', () => {
    follower = new PeerFollower({ pinRoot: '/nonexistent', sysfs: '/nonexistent', deps: sys, log: (l) => log.push(l), ring: 'ring0' });
    sys.attach({ ifname: 'eth1', ring: 'ring0', subnets: [], transparent: true });
    sys.setTable('ring0', SELF, up(1));
    follower.poll();
    assert.deepEqual(sys.reattaches, [], 'no attempt while the ring is there');
    // ringnet unloaded: ring_dev emptied by the kernel.
    sys.attached[0] = { ...sys.attached[0], ring: undefined };
    follower.poll();
    assert.deepEqual(sys.addresses('eth1'), []);
    assert.deepEqual(sys.reattaches, ['eth1->ring0'], 'asked, but not back yet');
    // ringnet loaded again.
    sys.back = 'ring0';
    const round = follower.poll();
    assert.deepEqual(sys.reattaches, ['eth1->ring0', 'eth1->ring0']);
    assert.equal(round.interfaces[0].ring, 'ring0');
    assert.deepEqual(sys.addresses('eth1'), ['192.0.2.2 (ordinary)', '198.51.100.2']);
    follower.poll();
    assert.equal(sys.reattaches.length, 2, 'not again once attached');
    assert.deepEqual(log.slice(2), [
      'eth1: its ring device is gone; removed every peer (traffic stays on eth1)',
      'eth1: peer 1 (g2, 02:00:00:00:00:01) removed',
      'eth1: detached the previous attachment (...)',
      'eth1: attached xdp_ring (...)',
      'eth1: ring0 is back; attached to it again',
      'eth1: peer 1 (g2, 02:00:00:00:00:01) added: ring 198.51.100.2; ordinary 192.0.2.2',
    ]);
  });

  it('logs a failed re-attach once and tries again at the next poll', () => {
    follower = new PeerFollower({ pinRoot: '/nonexistent', sysfs: '/nonexistent', deps: sys, log: (l) => log.push(l), ring: 'ring0' });
    sys.attach({ ifname: 'eth1', ring: undefined, subnets: [], transparent: false });
    sys.setTable('ring0', SELF, up(1));
    sys.failReattach = new RingctlError('eth1: verifier said no');
    follower.poll();
    follower.poll();
    assert.equal(sys.reattaches.length, 2);
    assert.deepEqual(log, ["eth1: following its ring device's peer table", 'eth1: error: eth1: verifier said no']);
    sys.failReattach = undefined;
    sys.back = 'ring0';
    follower.poll();
    assert.deepEqual(sys.addresses('eth1'), ['198.51.100.2']);
  });

  it('does not re-attach without a ring device to go back to', () => {
    sys.attach({ ifname: 'eth1', ring: undefined, subnets: [], transparent: false });
    sys.back = 'ring0';
    follower.poll();
    assert.deepEqual(sys.reattaches, []);
  });

  it('leaves the peers of a ring device without a table alone', () => {
    sys.attach({ ifname: 'eth1', ring: 'ring0', subnets: [], transparent: false });
    sys.tables.set('ring0', undefined);
    sys.maps.get('eth1')!.update(Buffer.alloc(20, 1), Buffer.alloc(12));
    follower.poll();
    follower.poll();
    assert.equal(sys.syncs, 0);
    assert.equal(sys.maps.get('eth1')!.data.size, 1);
    assert.deepEqual(log, [
      "eth1: following ring0's peer table",
      'eth1: ring0 has no peer table (not a ringnet device); its peers are left as they are',
    ]);
  });

  it('logs a failure once, keeps the other interfaces going, and says when it clears', () => {
    sys.attach({ ifname: 'eth1', ring: 'ring0', subnets: [], transparent: false });
    sys.attach({ ifname: 'eth2', ring: 'ring1', subnets: [parseCidr('198.51.100.0/24')], transparent: false });
    sys.tables.set('ring0', new RingctlError('ring0 not found: is ringnet.ko loaded?'));
    sys.setTable('ring1', SELF, up(1));
    const r = follower.poll();
    follower.poll();
    assert.equal(r.interfaces[0].error, 'ring0 not found: is ringnet.ko loaded?');
    assert.deepEqual(sys.addresses('eth2'), ['198.51.100.2']);
    sys.setTable('ring0', SELF, up(3));
    follower.poll();
    assert.deepEqual(sys.addresses('eth1'), ['198.51.100.4']);
    assert.deepEqual(log.filter((l) => l.startsWith('eth1')), [
      "eth1: following ring0's peer table",
      'eth1: error: ring0 not found: is ringnet.ko loaded?',
      "eth1: ring0's peer table is readable again",
      'eth1: peer 3 (g4, 02:00:00:00:00:03) added: ring 198.51.100.4',
    ]);
  });

  it('never throws, even on a bug in a dependency', () => {
    sys.attach({ ifname: 'eth1', ring: 'ring0', subnets: [], transparent: false });
    sys.setTable('ring0', SELF, up(1));
    sys.failSync = new TypeError('boom');
    const r = follower.poll();
    assert.equal(r.interfaces[0].error, 'unexpected error: boom');
    sys.targets = () => {
      throw new RingctlError('/sys/fs/bpf is not on a BPF filesystem');
    };
    assert.deepEqual(follower.poll(), { interfaces: [] });
    follower.poll();
    assert.deepEqual(log.slice(1), ['eth1: error: unexpected error: boom', 'error: /sys/fs/bpf is not on a BPF filesystem']);
  });

  it('prints warnings for the table\'s bad lines and hostile addresses once each', () => {
    sys.attach({ ifname: 'eth1', ring: 'ring0', subnets: [], transparent: false });
    sys.setTable('ring0', SELF, 'junk', up(4, 'up', '198.51.100.1,198.51.100.5'));
    follower.poll();
    follower.poll();
    assert.deepEqual(log.slice(1), [
      'eth1: peer 4 (g5, 02:00:00:00:00:04) added: ring 198.51.100.5',
      "eth1: warning: ring0's peer table line 3: expected 13 fields, found 1; skipped",
      'eth1: warning: peer 4 (g5): holds 198.51.100.1, an address of this guest; ignored',
    ]);
  });

  it('drops an address two peers hold and restores it when one of them goes', () => {
    sys.attach({ ifname: 'eth1', ring: 'ring0', subnets: [], transparent: true });
    sys.setTable('ring0', SELF, up(1), up(2));
    follower.poll();
    assert.deepEqual(sys.addresses('eth1'), ['192.0.2.2 (ordinary)', '192.0.2.3 (ordinary)', '198.51.100.2', '198.51.100.3']);
    // Peer 3, of another group with an overlapping prefix, comes up with peer 1's eth1 address.
    sys.setTable('ring0', SELF, up(1), up(2), up(3, 'up', '198.51.100.4,192.0.2.2'));
    follower.poll();
    assert.deepEqual(sys.addresses('eth1'), ['192.0.2.3 (ordinary)', '198.51.100.2', '198.51.100.3', '198.51.100.4']);
    sys.setTable('ring0', SELF, up(1), up(2));
    follower.poll();
    assert.deepEqual(sys.addresses('eth1'), ['192.0.2.2 (ordinary)', '192.0.2.3 (ordinary)', '198.51.100.2', '198.51.100.3']);
    assert.deepEqual(log.slice(3), [
      'eth1: peer 1 (g2, 02:00:00:00:00:01) changed: ring 198.51.100.2',
      'eth1: peer 3 (g4, 02:00:00:00:00:03) added: ring 198.51.100.4',
      'eth1: warning: peer 1 (g2): 192.0.2.2 also held by peer 3 (g4); mapped to none of them',
      'eth1: warning: peer 3 (g4): 192.0.2.2 also held by peer 1 (g2); mapped to none of them',
      'eth1: peer 1 (g2, 02:00:00:00:00:01) changed: ring 198.51.100.2; ordinary 192.0.2.2',
      'eth1: peer 3 (g4, 02:00:00:00:00:03) removed',
    ]);
  });

  it('keeps a peer that claims another MAC or addresses outside its prefixes at its roster MAC, and warns once', () => {
    sys.attach({ ifname: 'eth1', ring: 'ring0', subnets: [], transparent: true });
    sys.setTable('ring0', SELF, up(1), up(2));
    follower.poll();
    const before = new Map(sys.maps.get('eth1')!.data);
    // Peer 2 publishes peer 1's MAC and two addresses outside its prefixes: ringnet ignored them.
    sys.setTable('ring0', SELF, up(1), up(2, 'up', undefined, '02:00:00:00:00:01 2'));
    follower.poll();
    follower.poll();
    assert.deepEqual(sys.maps.get('eth1')!.data, before, 'the map is as it was');
    assert.deepEqual(log.slice(3), [
      'eth1: warning: peer 2 (g3) publishes MAC 02:00:00:00:00:01, not its roster MAC: ignored',
      'eth1: warning: peer 2 (g3) publishes 2 addresses outside its roster prefixes: ignored',
    ]);
  });

  it('forgets an interface that is detached', () => {
    sys.attach({ ifname: 'eth1', ring: 'ring0', subnets: [], transparent: false });
    sys.setTable('ring0', SELF);
    follower.poll();
    sys.attached = [];
    follower.poll();
    assert.deepEqual(log, ["eth1: following ring0's peer table", 'eth1: no longer attached; not following it']);
  });

  it('skips a poll when the signature is as at the last full poll, and not for long', () => {
    sys.attach({ ifname: 'eth1', ring: 'ring0', subnets: [], transparent: false });
    sys.setTable('ring0', SELF, up(1));
    let sig = 'a';
    const asked: string[][] = [];
    sys.signature = (rings: readonly string[]) => {
      asked.push([...rings]);
      return sig;
    };
    assert.equal(follower.poll().quiet, undefined);
    assert.equal(sys.syncs, 1);
    assert.deepEqual(follower.poll(), { interfaces: [{ ifname: 'eth1', ring: 'ring0', peers: 1, result: { added: 1, updated: 0, removed: 0, rejected: [] } }], quiet: true });
    assert.equal(sys.syncs, 1);
    assert.deepEqual(asked, [[], ['ring0']], 'the signature covers the rings of the last full poll');
    sig = 'b';
    follower.poll();
    assert.equal(sys.syncs, 2);
    follower.poll();
    assert.equal(sys.syncs, 2);
    // A failure anywhere makes the next poll a full one, whatever the signature says.
    sys.failSync = new RingctlError('map gone');
    sig = 'c';
    follower.poll();
    follower.poll();
    assert.equal(sys.syncs, 4);
    sys.failSync = undefined;
    follower.poll();
    follower.poll();
    assert.equal(sys.syncs, 5);
    // However quiet, a full poll every FULL_POLL_MS.
    const now = Date.now;
    try {
      Date.now = () => now() + FULL_POLL_MS;
      follower.poll();
    } finally {
      Date.now = now;
    }
    assert.equal(sys.syncs, 6);
  });

  describe('with ringnet\'s events', () => {
    const event = (kind: PeerEvent['kind'], slot: number): PeerEvent => ({
      kind,
      ifindex: 3,
      region: 0,
      slot,
      state: kind === 'peer-leave' ? 'free' : 'up',
      generation: 1,
      mac: `02:00:00:00:00:0${slot}`,
      eventNs: process.hrtime.bigint(),
    });
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

    it('starts a round on an event, not on a timer, and says how long after the kernel saw it', async () => {
      sys.listen();
      sys.signature = () => 'same';
      sys.attach({ ifname: 'eth1', ring: 'ring0', subnets: [], transparent: false });
      sys.setTable('ring0', SELF, up(1));
      const rounds: (PeerEvent & { latencyMs: number } | undefined)[] = [];
      follower = new PeerFollower({ pinRoot: '', sysfs: '', deps: sys, log: (l) => log.push(l), onPoll: (r) => rounds.push(r.event) });
      follower.start();
      assert.ok(follower.watching);
      assert.match(follower.how, new RegExp(`^on ringnet's genetlink events \\(a look every ${WATCH_INTERVAL_MS} ms`));
      assert.deepEqual(sys.addresses('eth1'), ['198.51.100.2']);
      sys.setTable('ring0', SELF, up(1), up(2));
      await sleep(50);
      assert.deepEqual(sys.addresses('eth1'), ['198.51.100.2'], 'no round without an event (the signature says nothing changed)');
      sys.events!.onEvent(event('peer-join', 2));
      sys.events!.onEvent(event('peer-update', 2)); // merged into the same round
      await sleep(10);
      assert.deepEqual(sys.addresses('eth1'), ['198.51.100.2', '198.51.100.3']);
      assert.equal(rounds.length, 2);
      assert.equal(rounds[1]?.kind, 'peer-join');
      assert.ok(rounds[1].latencyMs >= 0 && rounds[1].latencyMs < 5000);
      assert.match(log.at(-1)!, /^eth1: peer 2 \(g3, 02:00:00:00:00:02\) added: ring 198\.51\.100\.3 \(on peer-join of slot 2, [\d.]+ ms after ringnet saw it\)$/);
      follower.stop();
      assert.equal(sys.events!.stopped, true);
    });

    it('resyncs when events were lost, and at most one event round per EVENT_GAP_MS', async () => {
      sys.listen();
      sys.signature = () => 'same';
      sys.attach({ ifname: 'eth1', ring: 'ring0', subnets: [], transparent: false });
      sys.setTable('ring0', SELF, up(1));
      let polls = 0;
      follower = new PeerFollower({ pinRoot: '', sysfs: '', deps: sys, log: (l) => log.push(l), onPoll: () => polls++ });
      follower.start();
      sys.setTable('ring0', SELF);
      sys.events!.onLost('the kernel dropped events (socket overrun)');
      await sleep(10);
      assert.deepEqual(sys.addresses('eth1'), []);
      assert.ok(log.includes('warning: ringnet events: the kernel dropped events (socket overrun); resyncing'));
      const before = polls;
      const t0 = Date.now();
      for (let i = 0; i < 20; i++) {
        sys.events!.onEvent(event('peer-join', 1));
        await sleep(1);
      }
      const ms = Date.now() - t0;
      await sleep(EVENT_GAP_MS + 10);
      const rounds = polls - before;
      assert.ok(rounds >= 1 && rounds <= Math.ceil(ms / EVENT_GAP_MS) + 1, `${rounds} rounds for 20 events in ${ms} ms`);
    });

    describe('an event round', () => {
      const FREE2 = up(2, 'free', '-');
      /** ring0's table as the kernel has it now, dumped with its ifindex. */
      const ringTable = (...lines: string[]) => {
        sys.setTable('ring0', ...lines);
        (sys.tables.get('ring0') as PeerTable).ifindex = 3;
      };
      /** The event ringnet sends for the slot `line` shows now: its whole row, or (whole false) one without counters. */
      const rowEvent = (kind: PeerEvent['kind'], line: string, whole = true): PeerEvent => {
        const row = parsePeerTable(`${HEADER}\n${line}\n`).peers[0];
        const { region, slot, state, generation, mac } = row;
        const sent = whole ? row : { ...row, ipv4: [], ipv6: [] };
        return { kind, ifindex: 3, region, slot, state, generation, mac, eventNs: process.hrtime.bigint(), row: sent, whole };
      };
      const settle = () => sleep(EVENT_GAP_MS + 10);

      /** Follows eth1 on ring0 with events; the reads of the first full poll are forgotten. */
      function startFollowing(transparent: boolean, ...lines: string[]): FollowRound[] {
        sys.listen();
        sys.signature = () => 'same';
        sys.attach({ ifname: 'eth1', ring: 'ring0', subnets: [], transparent });
        ringTable(...lines);
        const rounds: FollowRound[] = [];
        follower = new PeerFollower({ pinRoot: '', sysfs: '', deps: sys, log: (l) => log.push(l), onPoll: (r) => rounds.push(r) });
        follower.start();
        sys.reads = { targets: 0, tables: 0, local: 0 };
        sys.syncs = 0;
        return rounds;
      }

      /** The map is what a full round (a dump) makes of the kernel's table: it changes nothing. */
      function assertAsFullRound() {
        const before = new Map(sys.maps.get('eth1')!.data);
        const r = follower.poll(true).interfaces[0].result!;
        assert.deepEqual([r.added, r.updated, r.removed], [0, 0, 0]);
        assert.deepEqual(sys.maps.get('eth1')!.data, before);
        sys.reads = { targets: 0, tables: 0, local: 0 };
      }

      it('patches the cached table: no dump, no look at the attachments or addresses, only the changed entries written', async () => {
        const rounds = startFollowing(true, SELF, up(1), FREE2);
        assert.deepEqual(sys.addresses('eth1'), ['192.0.2.2 (ordinary)', '198.51.100.2']);
        ringTable(SELF, up(1), up(2));
        sys.events!.onEvent(rowEvent('peer-join', up(2)));
        await settle();
        assert.deepEqual(sys.reads, { targets: 0, tables: 0, local: 0 });
        assert.equal(sys.syncs, 0, 'no full sync (a read of every entry)');
        assert.equal(sys.updates, 1);
        assert.deepEqual(sys.addresses('eth1'), ['192.0.2.2 (ordinary)', '192.0.2.3 (ordinary)', '198.51.100.2', '198.51.100.3']);
        const r = rounds.at(-1)!;
        assert.equal(r.event?.kind, 'peer-join');
        assert.deepEqual(r.interfaces.map((i) => [i.ifname, i.peers, i.result?.added, i.result?.removed]), [['eth1', 2, 2, 0]]);
        assert.match(log.at(-1)!, /^eth1: peer 2 \(g3, 02:00:00:00:00:02\) added: ring 198\.51\.100\.3; ordinary 192\.0\.2\.3 \(on peer-join of slot 2, [\d.]+ ms after ringnet saw it\)$/);
        assertAsFullRound();
      });

      it('gives an address a joining peer claims too to neither, on the whole patched table', async () => {
        startFollowing(true, SELF, up(1), FREE2);
        const rival = up(2, 'up', '198.51.100.2,192.0.2.3');
        ringTable(SELF, up(1), rival);
        sys.events!.onEvent(rowEvent('peer-join', rival));
        await settle();
        assert.deepEqual(sys.reads, { targets: 0, tables: 0, local: 0 });
        assert.deepEqual(sys.addresses('eth1'), ['192.0.2.2 (ordinary)', '192.0.2.3 (ordinary)']);
        assert.ok(log.includes('eth1: warning: peer 1 (g2): 198.51.100.2 also held by peer 2 (g3); mapped to none of them'), log.join('\n'));
        assertAsFullRound();
        // The rival leaves: the address is slot 1's again.
        ringTable(SELF, up(1), up(2, 'free', '198.51.100.2,192.0.2.3'));
        sys.events!.onEvent(rowEvent('peer-leave', up(2, 'free', '198.51.100.2,192.0.2.3')));
        await settle();
        assert.deepEqual(sys.reads, { targets: 0, tables: 0, local: 0 });
        assert.deepEqual(sys.addresses('eth1'), ['192.0.2.2 (ordinary)', '198.51.100.2']);
        assertAsFullRound();
      });

      it('removes a peer that died or left, and adds it back when it is alive again', async () => {
        startFollowing(false, SELF, up(1), up(2));
        assert.deepEqual(sys.addresses('eth1'), ['198.51.100.2', '198.51.100.3']);
        ringTable(SELF, up(1), up(2, 'dead'));
        sys.events!.onEvent(rowEvent('peer-death', up(2, 'dead')));
        await settle();
        assert.deepEqual(sys.reads, { targets: 0, tables: 0, local: 0 });
        assert.deepEqual(sys.addresses('eth1'), ['198.51.100.2']);
        assertAsFullRound();
        ringTable(SELF, up(1, 'free'), up(2, 'dead'));
        sys.events!.onEvent(rowEvent('peer-leave', up(1, 'free')));
        await settle();
        assert.deepEqual(sys.reads, { targets: 0, tables: 0, local: 0 });
        assert.deepEqual(sys.addresses('eth1'), []);
        assert.match(log.at(-1)!, /^eth1: peer 1 \(g2, 02:00:00:00:00:01\) removed \(on peer-leave of slot 1, /);
        ringTable(SELF, up(1, 'free'), up(2));
        sys.events!.onEvent(rowEvent('peer-alive', up(2)));
        await settle();
        assert.deepEqual(sys.reads, { targets: 0, tables: 0, local: 0 });
        assert.deepEqual(sys.addresses('eth1'), ['198.51.100.3']);
        assertAsFullRound();
      });

      it('runs the full round after lost events, and for what an event cannot answer', async () => {
        startFollowing(false, SELF, up(1), FREE2);
        const full = async (why: string, send: () => void) => {
          sys.reads = { targets: 0, tables: 0, local: 0 };
          send();
          await settle();
          assert.deepEqual(sys.reads, { targets: 1, tables: 1, local: 1 }, why);
          assertAsFullRound();
        };
        ringTable(SELF, up(1), up(2));
        await full('lost events', () => {
          sys.events!.onEvent(rowEvent('peer-join', up(2)));
          sys.events!.onLost('the kernel dropped events (socket overrun)');
        });
        assert.deepEqual(sys.addresses('eth1'), ['198.51.100.2', '198.51.100.3']);
        ringTable(SELF, up(1), up(2), up(3, 'up', '198.51.100.4'));
        await full('a slot the table did not list', () => sys.events!.onEvent(rowEvent('peer-join', up(3, 'up', '198.51.100.4'))));
        assert.deepEqual(sys.addresses('eth1'), ['198.51.100.2', '198.51.100.3', '198.51.100.4']);
        ringTable(SELF, up(1), up(2, 'up', '198.51.100.9'), up(3, 'up', '198.51.100.4'));
        await full('an event without the whole row', () => sys.events!.onEvent(rowEvent('peer-update', up(2, 'up', '198.51.100.9'), false)));
        assert.deepEqual(sys.addresses('eth1'), ['198.51.100.2', '198.51.100.4', '198.51.100.9']);
        await full('a row that does not decode', () => sys.events!.onEvent({ ...rowEvent('peer-update', up(1)), row: 'slot 1: bad MAC' }));
        await full('another ring device', () => sys.events!.onEvent({ ...rowEvent('peer-update', up(1)), ifindex: 9 }));
        // The full round cached what it read: the next event is patched in again.
        ringTable(SELF, up(1, 'dead'), up(2, 'up', '198.51.100.9'), up(3, 'up', '198.51.100.4'));
        sys.events!.onEvent(rowEvent('peer-death', up(1, 'dead')));
        await settle();
        assert.deepEqual(sys.reads, { targets: 0, tables: 0, local: 0 });
        assert.deepEqual(sys.addresses('eth1'), ['198.51.100.4', '198.51.100.9']);
        assertAsFullRound();
      });
    });

    it('polls as before when it cannot listen', () => {
      sys.watch = () => undefined;
      follower = new PeerFollower({ pinRoot: '', sysfs: '', deps: sys, intervalMs: 500 });
      follower.start();
      assert.equal(follower.watching, false);
      assert.equal(follower.how, 'every 500 ms');
    });
  });

  it('polls every intervalMs from start() until stop()', async () => {
    sys.attach({ ifname: 'eth1', ring: 'ring0', subnets: [], transparent: false });
    sys.setTable('ring0', SELF, up(1));
    let polls = 0;
    follower = new PeerFollower({ pinRoot: '', sysfs: '', deps: sys, intervalMs: 20, onPoll: () => polls++ });
    follower.start();
    assert.equal(polls, 1, 'the first poll is immediate');
    assert.ok(follower.running);
    await new Promise((r) => setTimeout(r, 130));
    follower.stop();
    const n = polls;
    assert.ok(n >= 3 && n <= 8, `${n} polls in 130 ms at 20 ms`);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(polls, n, 'no poll after stop()');
    assert.equal(follower.running, false);
  });
});
