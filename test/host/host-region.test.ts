import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Mapping } from '../../src/host/mapping.js';
import { regionGeom } from '../../src/host/ring-core.js';
import type { HostState } from '../../src/host/state.js';
import type { RegionStatus } from '../../src/host/status.js';
import { peerOffset } from '../../src/ring/geometry.js';
import { CONSTANTS as C, LAYOUT, offsetOf, peerWord } from '../../src/ring/layout.js';
import type { CliResult } from '../helpers/run-cli.js';
import { hostRegion } from '../helpers/host-region.js';
import { sleep } from '../helpers/time.js';

const M = 2 ** 20;
type PeerField = keyof typeof LAYOUT.kvmring_peer.members;

/** Output that shows a crash rather than a report. */
const STACK = /Internal Error|\n\s+at .+\(.+:\d+:\d+\)|TypeError|RangeError/;

describe('ringctl host up, status and down on a region in /dev/shm', function () {
  this.timeout(60_000);
  const { name, path, cli, stateDir, state } = hostRegion('test');

  async function up(...extra: string[]): Promise<CliResult> {
    const r = await cli('host', 'up', '--name', name, ...extra);
    assert.equal(r.code, 0, `host up failed:\n${r.stdout}${r.stderr}`);
    return r;
  }

  async function status(): Promise<{ r: CliResult; s: RegionStatus }> {
    const r = await cli('host', 'status', '--name', name, '--json');
    assert.doesNotMatch(r.stdout + r.stderr, STACK);
    return { r, s: JSON.parse(r.stdout) as RegionStatus };
  }

  /** Writes bytes into the region file, as a guest would through its mapping. */
  function poke(offset: number, bytes: Uint8Array) {
    const fd = openSync(path, 'r+');
    try {
      writeSync(fd, bytes, 0, bytes.length, offset);
    } finally {
      closeSync(fd);
    }
  }

  function pokePeer(slot: number, field: PeerField, value: bigint | number | Uint8Array) {
    const [, size] = LAYOUT.kvmring_peer.members[field];
    const b = Buffer.alloc(size);
    if (value instanceof Uint8Array) b.set(value);
    else if (size === 8) b.writeBigUInt64LE(BigInt(value));
    else if (size === 4) b.writeUInt32LE(Number(value));
    else throw new Error(`${field}: give bytes`);
    poke(peerOffset(slot) + offsetOf('kvmring_peer', field), b);
  }

  it('formats a region whose header the ring core accepts', async () => {
    const r = await up('--guests', '4');
    assert.deepEqual(r.stdout.split('\n').slice(0, 3), [
      `${name}: region ${path} (16M, tmpfs)`,
      `${name}: 4 guest slots, 12 rings of 1M, instance ${state().instance}`,
      `${name}: plain mode (guests poll; no doorbell server)`,
    ]);
    const st = statSync(path);
    assert.equal(st.size, 16 * M);
    assert.equal(st.mode & 0o777, 0o600);
    assert.ok(st.blocks * 512 >= 16 * M, 'the memory is allocated up front');

    const m = Mapping.open(path);
    try {
      assert.deepEqual(regionGeom(m), { regionSize: 16 * M, maxPeers: 4, ringSize: M });
      const head = m.copy(0, C.KVMRING_RINGS_OFF);
      const hdr = (f: keyof typeof LAYOUT.kvmring_region_hdr.members) => offsetOf('kvmring_region_hdr', f);
      assert.equal(head.readBigUInt64LE(hdr('magic')), C.KVMRING_MAGIC);
      assert.equal(head.readUInt32LE(hdr('abi_version')), C.KVMRING_ABI_VERSION);
      assert.equal(head.readUInt32LE(hdr('flags')), 0);
      assert.equal(head.readBigUInt64LE(hdr('instance')).toString(16).padStart(16, '0'), state().instance);
      assert.ok(head.subarray(C.KVMRING_PEER_TABLE_OFF).every((b) => b === 0), 'an empty peer table');
    } finally {
      m.close();
    }
    const s = state();
    assert.equal(s.phase, 'up');
    assert.equal(s.mode, 'plain');
    assert.equal(s.ringSize, M);
  });

  it('formats with a fresh instance every time', async () => {
    await up('--guests', '2');
    const first = state().instance;
    assert.equal((await cli('host', 'down', '--name', name)).code, 0);
    await up('--guests', '2');
    assert.notEqual(state().instance, first);
    assert.match(first, /^[0-9a-f]{16}$/);
  });

  it('shows a fresh region with every slot free', async () => {
    await up('--guests', '4', '--size', '64M');
    const { r, s } = await status();
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(s.problems, []);
    assert.equal(s.header?.ok, true);
    assert.equal(s.header?.maxPeers, 4);
    assert.equal(s.header?.ringSize, 4 * M);
    assert.deepEqual(
      s.slots.map((x) => [x.slot, x.state, x.generation, x.liveness, x.errors.length]),
      [0, 1, 2, 3].map((i) => [i, 'free', 0, '-', 0]),
    );

    const text = await cli('host', 'status', '--name', name);
    assert.equal(text.code, 0);
    assert.match(text.stdout, new RegExp(`^region +${path} \\(64M\\)$`, 'm'));
    assert.match(text.stdout, /^abi +1$/m);
    assert.match(text.stdout, /^peers +4 slots, 12 rings of 4M$/m);
    assert.match(text.stdout, /^mode +plain$/m);
    assert.match(text.stdout, /^SLOT +STATE +GEN +MAC +MTU +HEARTBEAT +LIVENESS +ADDRESSES$/m);
    assert.equal(text.stdout.match(/^\d +free +0 +- +- +- +- +-$/gm)?.length, 4);
  });

  it('shows a live guest, a stale one and their addresses', async () => {
    await up('--guests', '4');
    pokePeer(1, 'state', peerWord(3, C.KVMRING_PEER_UP));
    pokePeer(1, 'doorbell_id', C.KVMRING_DOORBELL_NONE);
    pokePeer(1, 'mtu', 65000);
    pokePeer(1, 'mac', Buffer.from([2, 0, 0, 0, 0, 2]));
    pokePeer(1, 'addr_seq', 2);
    pokePeer(1, 'ipv4', Buffer.from([198, 51, 100, 2]));
    pokePeer(1, 'ipv6', Buffer.from('20010db8000200000000000000000002', 'hex'));
    pokePeer(2, 'state', peerWord(1, C.KVMRING_PEER_CLAIMED));
    pokePeer(2, 'doorbell_id', C.KVMRING_DOORBELL_NONE);
    pokePeer(2, 'heartbeat', 5);
    let beat = 0;
    const timer = setInterval(() => pokePeer(1, 'heartbeat', ++beat), 20);
    try {
      const { r, s } = await status();
      assert.equal(r.code, 0, r.stderr);
      const [g1, g2] = [s.slots[1], s.slots[2]];
      assert.deepEqual(
        { state: g1.state, generation: g1.generation, mac: g1.mac, mtu: g1.mtu, addresses: g1.addresses, liveness: g1.liveness, errors: g1.errors },
        { state: 'up', generation: 3, mac: '02:00:00:00:00:02', mtu: 65000, addresses: ['198.51.100.2', '2001:db8:2::2'], liveness: 'alive', errors: [] },
      );
      assert.deepEqual([g2.state, g2.generation, g2.heartbeat, g2.liveness, g2.staleSeconds], ['claimed', 1, '5', 'stale', 0]);

      // Fixed: the point is that more than a second passes with slot 2's heartbeat still.
      await sleep(1100);
      const text = await cli('host', 'status', '--name', name);
      assert.equal(text.code, 0);
      assert.match(text.stdout, /^1 +up +3 +02:00:00:00:00:02 +65000 +\d+ +alive +198\.51\.100\.2,2001:db8:2::2$/m);
      assert.match(text.stdout, /^2 +claimed +1 +- +- +5 +stale [1-9]s +-$/m, 'still since the first look');
    } finally {
      clearInterval(timer);
    }
  });

  it('does not print addresses that change while it reads them', async () => {
    await up('--guests', '2');
    pokePeer(0, 'state', peerWord(1, C.KVMRING_PEER_UP));
    pokePeer(0, 'mtu', 1500);
    pokePeer(0, 'mac', Buffer.from([2, 0, 0, 0, 0, 1]));
    pokePeer(0, 'addr_seq', 7);
    pokePeer(0, 'ipv4', Buffer.from([198, 51, 100, 1]));
    const { r, s } = await status();
    assert.equal(r.code, 0);
    assert.deepEqual(s.slots[0].addresses, []);
    assert.deepEqual(s.slots[0].errors, ['addresses kept changing while read (addr_seq 7)']);
  });

  it('names every bad field of a slot', async () => {
    await up('--guests', '2');
    pokePeer(0, 'state', (peerWord(9, 0x37) | 0x100n));
    pokePeer(1, 'state', peerWord(2, C.KVMRING_PEER_UP));
    pokePeer(1, 'doorbell_id', 0x12345678);
    pokePeer(1, 'flags', 0x80);
    pokePeer(1, 'mtu', 5);
    pokePeer(1, 'mac', Buffer.from([1, 0, 0x5e, 0, 0, 1]));
    pokePeer(1, 'ipv4', Buffer.from([224, 0, 0, 1, 198, 51, 100, 9]));
    const { r, s } = await status();
    assert.equal(r.code, 0, 'guests\' mistakes are theirs: the region is fine');
    assert.deepEqual(s.slots[0].errors, ['unknown state 55 in the state word', 'state word 0x0000000900000137 has bits 8..31 set']);
    assert.deepEqual(s.slots[1].errors, [
      'unknown flags 0x80',
      "doorbell id 305419896 is beyond ivshmem's 16 bits",
      'MAC 01:00:5e:00:00:01 is a multicast address',
      'MTU 5 is outside 68..65586',
      'published address 224.0.0.1 is not a unicast address',
    ]);
    assert.deepEqual(s.slots[1].addresses, ['198.51.100.9']);
    const text = await cli('host', 'status', '--name', name);
    assert.match(text.stdout, /^0 +invalid +9 /m);
    assert.match(text.stdout, /^slot 1: MTU 5 is outside 68\.\.65586$/m);
  });

  it('survives a peer table of random bytes', async () => {
    await up('--guests', '16', '--size', '64M');
    for (let i = 0; i < 8; i++) {
      poke(C.KVMRING_PEER_TABLE_OFF, randomBytes(C.KVMRING_RINGS_OFF - C.KVMRING_PEER_TABLE_OFF));
      const { r, s } = await status();
      assert.equal(r.code, 0, r.stderr);
      assert.equal(s.slots.length, 16);
      for (const slot of s.slots) if (slot.state === 'invalid') assert.ok(slot.errors.length > 0);
      const text = await cli('host', 'status', '--name', name);
      assert.equal(text.code, 0);
      assert.doesNotMatch(text.stdout + text.stderr, STACK);
    }
  });

  it('reports a region of random bytes as unusable, slot by slot, without a stack', async () => {
    await up('--guests', '4');
    poke(0, randomBytes(C.KVMRING_RINGS_OFF));
    const { r, s } = await status();
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `ringctl: ${name}: the region header is unusable: the region is not formatted (no kvmring magic) (ENOENT)\n`);
    assert.equal(s.header?.ok, false);
    assert.equal(s.slots.length, 4, 'as many slots as host up made');
    const text = await cli('host', 'status', '--name', name);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /^abi +\d+ \(header unusable\)$/m);
    assert.match(text.stdout, /^problem: the region header is unusable/m);
    assert.doesNotMatch(text.stdout + text.stderr, STACK);

    // A header that is formatted but lies about its geometry.
    const m = Buffer.alloc(8);
    m.writeBigUInt64LE(C.KVMRING_MAGIC);
    poke(0, m);
    poke(offsetOf('kvmring_region_hdr', 'abi_version'), Buffer.from([1, 0, 0, 0]));
    const again = await status();
    assert.equal(again.r.code, 1);
    assert.match(again.r.stderr, /the region header is unusable: bad geometry: .* \(EINVAL\)/);
  });

  it('reports a region file that shrank or vanished', async () => {
    await up('--guests', '2');
    truncateSync(path, 100);
    let { r, s } = await status();
    assert.equal(r.code, 1);
    assert.deepEqual(s.problems, [`${path} has 100 bytes, too few for a header and a peer table`]);
    rmSync(path);
    ({ r, s } = await status());
    assert.equal(r.code, 1);
    assert.deepEqual(s.problems, [`${path} is gone`]);
  });

  it('notices a region formatted by someone else', async () => {
    await up('--guests', '2');
    poke(offsetOf('kvmring_region_hdr', 'instance'), Buffer.alloc(8, 0xaa));
    const { r } = await status();
    assert.equal(r.code, 1);
    assert.match(r.stderr, /instance aaaaaaaaaaaaaaaa is not the [0-9a-f]{16} host up wrote: someone re-formatted the region/);
  });

  it('refuses a second host up of the same name', async () => {
    await up('--guests', '2');
    const before = state().instance;
    const r = await cli('host', 'up', '--guests', '3', '--name', name);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `ringctl: kvmring ${name} is already up (region ${path}); run \`ringctl host down --name ${name}\` first\n`);
    assert.equal(state().instance, before);
    assert.equal(state().maxPeers, 2);
  });

  it('leaves alone a region file it did not make', async () => {
    writeFileSync(path, 'not ours');
    const r = await cli('host', 'up', '--guests', '2', '--name', name);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `ringctl: ${path} exists but no kvmring state names it; remove it or choose another --name\n`);
    assert.equal(readFileSync(path, 'utf8'), 'not ours');
    assert.ok(!existsSync(stateDir()), 'no state left behind');
    rmSync(path);
  });

  it('fails cleanly on a --dir that is not there', async () => {
    const r = await cli('host', 'up', '--guests', '2', '--name', name, '--dir', '/nonexistent/dir');
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'ringctl: stat(/nonexistent/dir): No such file or directory (ENOENT); --dir must be an existing directory\n');
    assert.ok(!existsSync(stateDir()));
  });

  it('removes everything on host down, and is safe to run twice', async () => {
    await up('--guests', '2');
    let r = await cli('host', 'down', '--name', name);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${name}: removed ${path}\n${name}: removed ${stateDir()}\n`);
    assert.ok(!existsSync(path));
    assert.ok(!existsSync(stateDir()));
    r = await cli('host', 'down', '--name', name);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${name}: not up; nothing to do\n`);
    await up('--guests', '2'); // and it can come up again
  });

  it('cleans up after a host up that crashed half-way', async () => {
    mkdirSync(stateDir(), { recursive: true });
    const s: HostState = {
      version: 1, name, phase: 'creating', path, size: 16 * M, maxPeers: 2, ringSize: 0,
      mode: 'plain', vectors: 1, instance: '0'.repeat(16), createdAt: new Date().toISOString(),
    };
    writeFileSync(join(stateDir(), 'state.json'), JSON.stringify(s));
    writeFileSync(path, Buffer.alloc(4096));
    const blocked = await cli('host', 'up', '--guests', '2', '--name', name);
    assert.match(blocked.stderr, /already up \(region .*, left half-made by a run that did not finish\); run `ringctl host down --name /);
    const r = await cli('host', 'down', '--name', name);
    assert.equal(r.code, 0);
    assert.ok(!existsSync(path) && !existsSync(stateDir()));
  });

  it('cleans up with a damaged state file', async () => {
    await up('--guests', '2');
    writeFileSync(join(stateDir(), 'state.json'), '{"version":');
    const st = await cli('host', 'status', '--name', name);
    assert.equal(st.code, 1);
    assert.match(st.stderr, /^ringctl: .*state\.json is unreadable .*; `ringctl host down --name .*` cleans up\n$/);
    const r = await cli('host', 'down', '--name', name);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /state\.json is unreadable .*: cleaning up what is left\n/);
    assert.match(r.stdout, new RegExp(`removed ${path}\n`));
    assert.ok(!existsSync(path) && !existsSync(stateDir()));
  });

  it('prints the QEMU options as a shell line or a JSON argv', async () => {
    await up('--guests', '2');
    const line = await cli('host', 'qemu-args', 'g2', '--name', name);
    assert.equal(line.code, 0);
    assert.equal(line.stdout, `-object memory-backend-file,id=kvmring0,mem-path=${path},size=16M,share=on -device ivshmem-plain,memdev=kvmring0\n`);
    const json = await cli('host', 'qemu-args', '1', '--name', name, '--json', '--id', 'ring7');
    assert.deepEqual(JSON.parse(json.stdout), ['-object', `memory-backend-file,id=ring7,mem-path=${path},size=16M,share=on`, '-device', 'ivshmem-plain,memdev=ring7']);
    const beyond = await cli('host', 'qemu-args', 'g3', '--name', name);
    assert.equal(beyond.code, 1);
    assert.match(beyond.stdout, /^Usage Error: g3: the region has only 2 guest slots \(g1..g2\)$/m);
  });

  describe('on hugetlbfs', () => {
    let mnt: string | undefined;

    afterEach(() => {
      if (mnt) {
        spawnSync('umount', [mnt]);
        rmSync(mnt, { recursive: true, force: true });
        mnt = undefined;
      }
    });

    function mountHuge(pageSize: string): string | undefined {
      const dir = mkdtempSync(join(tmpdir(), 'host-huge-'));
      const r = spawnSync('mount', ['-t', 'hugetlbfs', '-o', `pagesize=${pageSize}`, 'none', dir]);
      if (r.status !== 0) {
        rmSync(dir, { recursive: true, force: true });
        return undefined;
      }
      mnt = dir;
      return dir;
    }

    it('wants whole huge pages', async function () {
      const dir = mountHuge('1G');
      if (!dir) this.skip(); // no 1 GiB pages on this CPU
      const r = await cli('host', 'up', '--guests', '2', '--name', name, '--dir', dir);
      assert.equal(r.code, 1);
      assert.match(r.stdout, new RegExp(`^Usage Error: ${dir} is hugetlbfs with 1G pages: --size must be a multiple of 1G, not 16M$`, 'm'));
      assert.ok(!existsSync(stateDir()));
    });

    it('formats a region on 2M pages when they are there', async function () {
      const nr = '/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages';
      if (!existsSync(nr)) this.skip();
      const dir = mountHuge('2M');
      if (!dir) this.skip();
      const old = readFileSync(nr, 'utf8').trim();
      writeFileSync(nr, String(Number(old) + 8));
      try {
        if (Number(execFileSync('cat', ['/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages'], { encoding: 'utf8' })) < 8) this.skip();
        const r = await cli('host', 'up', '--guests', '2', '--name', name, '--dir', dir);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /\(16M, hugetlbfs\)/);
        assert.equal(state().hugePageSize, 2 * M);
        const { r: st, s } = await status();
        assert.equal(st.code, 0, st.stderr);
        assert.equal(s.header?.ringSize, 4 * M);
        assert.equal((await cli('host', 'down', '--name', name)).code, 0);
        assert.ok(!existsSync(join(dir, `kvmring-${name}`)));
      } finally {
        await cli('host', 'down', '--name', name);
        writeFileSync(nr, old);
      }
    });
  });
});
