import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { parseHostSpec, planHost } from '../../src/host/isolation.js';
import { libvirtXml } from '../../src/host/libvirt.js';
import { guestQemuArgs } from '../../src/host/qemu.js';
import { ownedHeader, parseRoster, rosterOf } from '../../src/host/roster.js';
import type { HostState } from '../../src/host/state.js';
import type { SetupStatus } from '../../src/host/status.js';
import { ownedUsed } from '../../src/ring/geometry.js';
import { CONSTANTS as C, LAYOUT, offsetOf, peerWord } from '../../src/ring/layout.js';
import type { CliResult } from '../helpers/run-cli.js';
import { hostSetup } from '../helpers/host-setup.js';
import { sleep } from '../helpers/time.js';

const M = 2 ** 20;
type PeerField = keyof typeof LAYOUT.kvmring_peer.members;

/** `s` for a RegExp that matches it literally: file names have '+' and '.'. */
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Output that shows a crash rather than a report. */
const STACK = /Internal Error|\n\s+at .+\(.+:\d+:\d+\)|TypeError|RangeError/;

describe('ringctl host up, status, qemu-args, libvirt-xml and down (ABI v2, files in /dev/shm)', function () {
  this.timeout(60_000);
  const { name, dir, file, files, cli, stateDir, state } = hostSetup('test');

  async function up(...args: string[]): Promise<CliResult> {
    const r = await cli('host', 'up', '--name', name, ...args);
    assert.equal(r.code, 0, `host up failed:\n${r.stdout}${r.stderr}`);
    return r;
  }

  async function status(): Promise<{ r: CliResult; s: SetupStatus }> {
    const r = await cli('host', 'status', '--name', name, '--json');
    assert.doesNotMatch(r.stdout + r.stderr, STACK);
    return { r, s: JSON.parse(r.stdout) as SetupStatus };
  }

  async function text(): Promise<CliResult> {
    const r = await cli('host', 'status', '--name', name);
    assert.doesNotMatch(r.stdout + r.stderr, STACK);
    return r;
  }

  /** Writes bytes into a file of the setup, as a guest would through its mapping. */
  function poke(f: string, offset: number, bytes: Uint8Array) {
    const fd = openSync(file(f), 'r+');
    try {
      writeSync(fd, bytes, 0, bytes.length, offset);
    } finally {
      closeSync(fd);
    }
  }

  /** Writes a field of the owner's entry in region `region` (its file name). */
  function pokeEntry(region: string, field: PeerField, value: bigint | number | Uint8Array) {
    const [, size] = LAYOUT.kvmring_peer.members[field];
    const b = Buffer.alloc(size);
    if (value instanceof Uint8Array) b.set(value);
    else if (size === 8) b.writeBigUInt64LE(BigInt(value));
    else if (size === 4) b.writeUInt32LE(Number(value));
    else throw new Error(`${field}: give bytes`);
    poke(region, C.KVMRING_OWNED_ENTRY_OFF + offsetOf('kvmring_peer', field), b);
  }

  /** An owner that is up in its region: state word, MTU, MAC, addresses under an even addr_seq. */
  function ownerUp(region: string, o: { gen?: number; mac: string; ipv4?: number[][]; ipv6?: string[] }) {
    pokeEntry(region, 'state', peerWord(o.gen ?? 1, C.KVMRING_PEER_UP));
    pokeEntry(region, 'mtu', 65000);
    pokeEntry(region, 'mac', Buffer.from(o.mac.split(':').map((x) => parseInt(x, 16))));
    pokeEntry(region, 'addr_seq', 2);
    pokeEntry(region, 'ipv4', Buffer.concat((o.ipv4 ?? []).map((a) => Buffer.from(a))));
    pokeEntry(region, 'ipv6', Buffer.concat((o.ipv6 ?? []).map((a) => Buffer.from(a, 'hex'))));
  }

  const roster = (slot: number) => parseRoster(readFileSync(file(state().plan.guests[slot].roster)));

  describe('host up', () => {
    it('makes a roster per guest and a region per guest under owner, 0600, the regions allocated as far as their lanes reach', async () => {
      const r = await up('--guests', '3');
      const s = state();
      const p = s.plan;
      const f = (g: string) => `kvmring-${name}+${g}`;
      assert.deepEqual(r.stdout.split('\n'), [
        `${name}: 3 guests, isolation owner, 1 queue pair(s) of 2M rings per pair, instance ${p.instance}`,
        `${name}: 3 rosters of 8K and 3 regions of 8M in /dev/shm (tmpfs)`,
        `${name}: g1 (slot 0): mac ${p.guests[0].mac}, no addr= prefixes, regions ${f('g1')}.owned (rw), ${f('g2')}.owned, ${f('g3')}.owned`,
        `${name}: g2 (slot 1): mac ${p.guests[1].mac}, no addr= prefixes, regions ${f('g2')}.owned (rw), ${f('g1')}.owned, ${f('g3')}.owned`,
        `${name}: g3 (slot 2): mac ${p.guests[2].mac}, no addr= prefixes, regions ${f('g3')}.owned (rw), ${f('g1')}.owned, ${f('g2')}.owned`,
        `${name}: plain mode (guests poll; no doorbell server)`,
        `${name}: QEMU options for a guest: ringctl host qemu-args GUEST --name ${name} (libvirt: ringctl host libvirt-xml GUEST --name ${name})`,
        '',
      ]);
      assert.equal(r.stderr, '');
      assert.deepEqual(files(), ['g1', 'g2', 'g3'].flatMap((g) => [`${f(g)}.owned`, `${f(g)}.roster`]).sort());
      assert.deepEqual([s.version, s.phase, s.dir, s.plan.isolation, s.plan.mode, s.doorbell], [2, 'up', dir, 'owner', 'plain', undefined]);

      for (const g of p.guests) {
        const st = statSync(file(g.roster));
        assert.equal(st.size, C.KVMRING_ROSTER_SIZE);
        assert.equal(st.mode & 0o777, 0o600);
        assert.ok(st.blocks * 512 >= C.KVMRING_ROSTER_SIZE, `${g.roster} is allocated`);
        // The roster is what the plan says, seq 0, and what a guest would accept.
        const ro = roster(g.slot);
        assert.deepEqual(ro, rosterOf(p, g.slot));
        assert.equal(ro.self, g.slot);
        assert.deepEqual(ro.slots.map((x) => [x.slot, x.name, x.mac, x.doorbellId]), p.guests.map((x) => [x.slot, x.name, x.mac, C.KVMRING_DOORBELL_NONE]));
        assert.deepEqual(ro.regions.map((x) => x.devfn), [0x11, 0x12, 0x13].map((slot) => slot << 3));
      }
      for (const reg of p.regions) {
        const st = statSync(file(reg.file));
        const used = ownedUsed(reg.readers, p.ringSize, p.queues);
        assert.equal(st.size, 8 * M);
        assert.equal(st.mode & 0o777, 0o600);
        assert.ok(st.blocks * 512 >= used && st.blocks * 512 < st.size, `${reg.file}: ${st.blocks * 512} bytes allocated, ${used} used of ${st.size}`);
        const head = readFileSync(file(reg.file)).subarray(0, C.KVMRING_LANES_OFF);
        assert.deepEqual(head.subarray(0, LAYOUT.kvmring_owned_hdr.size), ownedHeader(reg, p));
        assert.equal(head.subarray(0, 8).toString('latin1'), 'KRINGOWN');
        assert.ok(head.subarray(LAYOUT.kvmring_owned_hdr.size).every((b) => b === 0), `${reg.file}: the owner's entry is FREE (zero)`);
      }
    });

    it('takes named guests with MACs and prefixes, pair isolation and groups, and a fresh instance every time', async () => {
      await up('--guest', 'web,mac=02:00:00:00:00:0a,addr=198.51.100.1/32,addr=2001:db8:2::1/128', '--guest', 'db,addr=198.51.100.2/32', '--guest', 'cache', '--isolation', 'pair', '--group', 't=web,db', '--group', 'u=db,cache');
      const p = state().plan;
      const first = p.instance;
      assert.equal(p.isolation, 'pair');
      assert.deepEqual(p.guests.map((g) => [g.name, g.addrs]), [['web', ['198.51.100.1/32', '2001:db8:2::1/128']], ['db', ['198.51.100.2/32']], ['cache', []]]);
      assert.deepEqual(files(), [
        `kvmring-${name}+cache+db.owned`,
        `kvmring-${name}+cache.roster`,
        `kvmring-${name}+db+cache.owned`,
        `kvmring-${name}+db+web.owned`,
        `kvmring-${name}+db.roster`,
        `kvmring-${name}+web+db.owned`,
        `kvmring-${name}+web.roster`,
      ]);
      const web = roster(0);
      assert.deepEqual(web.slots.map((x) => [x.name, x.mac, x.addrs]), [
        ['web', '02:00:00:00:00:0a', ['198.51.100.1/32', '2001:db8:2::1/128']],
        ['db', p.guests[1].mac, ['198.51.100.2/32']],
      ]);
      assert.equal(web.isolation, 'pair');
      assert.equal((await cli('host', 'down', '--name', name)).code, 0);
      await up('--guests', '2');
      assert.notEqual(state().plan.instance, first);
      assert.match(first, /^[0-9a-f]{16}$/);
    });

    it("keeps g2's traffic to g1 out of g3's mappings under owner with overlapping groups", async () => {
      await up('--guests', '3', '--group', 'a=g1,g2', '--group', 'b=g2,g3');
      assert.deepEqual(files(), [
        `kvmring-${name}+g1.owned`,
        `kvmring-${name}+g1.roster`,
        `kvmring-${name}+g2.roster`,
        `kvmring-${name}+g2@a.owned`,
        `kvmring-${name}+g2@b.owned`,
        `kvmring-${name}+g3.owned`,
        `kvmring-${name}+g3.roster`,
      ]);
      // g3's roster maps no region that g1 owns or reads; its QEMU opens no file that does.
      const g3 = roster(2);
      assert.deepEqual(g3.regions.map((x) => [x.owner, x.readers]), [[2, 0b010], [1, 0b100]]);
      const q = await cli('host', 'qemu-args', 'g3', '--name', name, '--json');
      const paths = (JSON.parse(q.stdout) as string[]).flatMap((a) => /mem-path=([^,]+)/.exec(a)?.[1] ?? []);
      assert.deepEqual(paths, [file(`kvmring-${name}+g3.roster`), file(`kvmring-${name}+g3.owned`), file(`kvmring-${name}+g2@b.owned`)]);
    });

    it('warns of a guest in no group', async () => {
      const r = await up('--guests', '3', '--group', 'a=g1,g2');
      assert.equal(r.stderr, 'ringctl: warning: g3 is in no --group: it talks to no other guest\n');
      assert.match(r.stdout, new RegExp(`^${name}: g3 \\(slot 2\\): mac [0-9a-f:]{17}, no addr= prefixes, no regions \\(in no group with another guest\\)$`, 'm'));
    });

    it('refuses a second host up of the same name, and changes nothing', async () => {
      await up('--guests', '2');
      const before = state().plan.instance;
      const r = await cli('host', 'up', '--guests', '3', '--name', name);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, `ringctl: kvmring ${name} is already up (files in ${dir}); run \`ringctl host down --name ${name}\` first\n`);
      assert.equal(state().plan.instance, before);
      assert.equal(state().plan.guests.length, 2);
    });

    it('leaves alone a file it did not make, and everything it made goes', async () => {
      const foreign = file(`kvmring-${name}+g2.owned`);
      writeFileSync(foreign, 'not ours');
      try {
        const r = await cli('host', 'up', '--guests', '2', '--name', name);
        assert.equal(r.code, 1);
        assert.equal(r.stderr, `ringctl: ${foreign} exists but no kvmring state names it; remove it or choose another --name\n`);
        assert.equal(readFileSync(foreign, 'utf8'), 'not ours');
        assert.deepEqual(files(), [`kvmring-${name}+g2.owned`], 'the rosters and g1\'s region made before it are gone');
        assert.ok(!existsSync(stateDir()), 'no state left behind');
      } finally {
        rmSync(foreign);
      }
    });

    it('fails cleanly on a --dir that is not there', async () => {
      const r = await cli('host', 'up', '--guests', '2', '--name', name, '--dir', '/nonexistent/dir');
      assert.equal(r.code, 1);
      assert.equal(r.stderr, 'ringctl: stat(/nonexistent/dir): No such file or directory (ENOENT); --dir must be an existing directory\n');
      assert.ok(!existsSync(stateDir()));
    });

    it('fails cleanly, naming the room it needs, on a filesystem too small', async function () {
      const mnt = mkdtempSync(join(tmpdir(), 'host-small-'));
      if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1M', 'none', mnt]).status !== 0) {
        rmSync(mnt, { recursive: true, force: true });
        this.skip();
      }
      try {
        const r = await cli('host', 'up', '--guests', '2', '--name', name, '--dir', mnt);
        assert.equal(r.code, 1);
        assert.match(r.stderr, new RegExp(`^ringctl: posix_fallocate\\(${mnt}/kvmring-${name}\\+g1\\.owned\\): No space left on device \\(ENOSPC\\); ${mnt} has no room for the 4128K the setup uses\\n$`));
        assert.ok(!existsSync(stateDir()));
        assert.deepEqual(execFileSync('ls', ['-A', mnt], { encoding: 'utf8' }), '', 'nothing left in the directory');
      } finally {
        spawnSync('umount', [mnt]);
        rmSync(mnt, { recursive: true, force: true });
      }
    });
  });

  describe('host status', () => {
    it('shows a fresh setup: every guest as planned, every owner free, exit 0', async () => {
      await up('--guest', 'g1,addr=198.51.100.1/32', '--guest', 'g2', '--doorbell');
      const p = state().plan;
      const { r, s } = await status();
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(s.problems, []);
      assert.deepEqual(
        s.guests.map((g) => [g.slot, g.name, g.mac, g.addrs, g.doorbellId, g.connected, g.regions]),
        [
          [0, 'g1', p.guests[0].mac, ['198.51.100.1/32'], null, false, [{ region: 0, writable: true }, { region: 1, writable: false }]],
          [1, 'g2', p.guests[1].mac, [], null, false, [{ region: 1, writable: true }, { region: 0, writable: false }]],
        ],
      );
      assert.deepEqual(
        s.regions.map((x) => [x.index, x.file, x.owner, x.readers, x.headerError, x.entry?.state, x.entry?.liveness, x.entry?.errors, x.entry?.mismatches]),
        [
          [0, `kvmring-${name}+g1.owned`, 'g1', ['g2'], undefined, 'free', '-', [], []],
          [1, `kvmring-${name}+g2.owned`, 'g2', ['g1'], undefined, 'free', '-', [], []],
        ],
      );
      const t = await text();
      assert.equal(t.code, 0);
      const pid = state().doorbell!.pid!;
      assert.deepEqual(t.stdout.split('\n'), [
        `setup     ${name}: 2 guests, isolation owner, 1 queue pair(s) of 2M rings per pair`,
        `instance  ${p.instance}`,
        `files     ${dir}`,
        `mode      doorbell, 1 vector(s): server pid ${pid} running, ids connected: none`,
        `state     ${stateDir()}`,
        '',
        'SLOT  GUEST  MAC                PREFIXES         DOORBELL  REGIONS',
        `0     g1     ${p.guests[0].mac}  198.51.100.1/32  -         #0 rw, #1`,
        `1     g2     ${p.guests[1].mac}  -                -         #1 rw, #0`,
        '',
        `#   ${'REGION'.padEnd(`kvmring-${name}+g1.owned`.length)}  OWNER  READERS  STATE  GEN  HEARTBEAT  MTU  MAC  ADDRESSES`,
        `#0  kvmring-${name}+g1.owned  g1     g2       free   0    -          -    -    -`,
        `#1  kvmring-${name}+g2.owned  g2     g1       free   0    -          -    -    -`,
        '',
      ]);
    });

    it("shows an owner that is up and beating, and flags the MAC and addresses it claims beyond its roster entry", async () => {
      await up('--guest', 'g1,addr=198.51.100.0/31,addr=2001:db8:2::/64', '--guest', 'g2', '--guest', 'g3,addr=198.51.100.3/32');
      const p = state().plan;
      const [r1, r2, r3] = p.regions.map((x) => x.file);
      ownerUp(r1, { gen: 3, mac: p.guests[0].mac, ipv4: [[198, 51, 100, 1]], ipv6: ['20010db8000200000000000000000001'] });
      ownerUp(r2, { mac: p.guests[1].mac, ipv4: [[198, 51, 100, 2]] });
      ownerUp(r3, { mac: p.guests[0].mac, ipv4: [[198, 51, 100, 3], [198, 51, 100, 1]] });
      pokeEntry(r3, 'heartbeat', 5);
      let beat = 0;
      const timer = setInterval(() => pokeEntry(r1, 'heartbeat', ++beat), 20);
      try {
        const { r, s } = await status();
        assert.equal(r.code, 0, `an owner's claims are its own business, the setup is fine: ${r.stderr}`);
        assert.deepEqual(s.problems, []);
        const [e1, e2, e3] = s.regions.map((x) => x.entry!);
        assert.deepEqual(
          { state: e1.state, generation: e1.generation, mac: e1.mac, mtu: e1.mtu, addresses: e1.addresses, liveness: e1.liveness, mismatches: e1.mismatches, errors: e1.errors },
          { state: 'up', generation: 3, mac: p.guests[0].mac, mtu: 65000, addresses: ['198.51.100.1', '2001:db8:2::1'], liveness: 'alive', mismatches: [], errors: [] },
        );
        assert.deepEqual(e2.mismatches, ['claims 198.51.100.2, but the roster gives it no prefixes']);
        assert.deepEqual(e3.mismatches, [
          `claims MAC ${p.guests[0].mac}; the roster gives it ${p.guests[2].mac}`,
          'claims 198.51.100.1, outside its roster prefixes 198.51.100.3/32',
        ]);
        assert.deepEqual([e3.liveness, e3.staleSeconds, e3.heartbeat], ['stale', 0, '5']);

        // Fixed: the point is that more than a second passes with g3's heartbeat still.
        await sleep(1100);
        const t = await text();
        assert.equal(t.code, 0);
        assert.match(t.stdout, new RegExp(`^#0 +${esc(r1)} +g1 +g2,g3 +up +3 +alive +65000 +${p.guests[0].mac} +198\\.51\\.100\\.1,2001:db8:2::1$`, 'm'));
        assert.match(t.stdout, new RegExp(`^#1 +${esc(r2)} +g2 +g1,g3 +up +1 +stale \\d+s +65000 +${p.guests[1].mac} +198\\.51\\.100\\.2 !$`, 'm'));
        assert.match(t.stdout, new RegExp(`^#2 +${esc(r3)} +g3 +g1,g2 +up +1 +stale [1-9]s +65000 +${p.guests[0].mac} ! +198\\.51\\.100\\.3,198\\.51\\.100\\.1 !$`, 'm'), 'still since the first look');
        assert.match(t.stdout, /^#1 g2: ! claims 198\.51\.100\.2, but the roster gives it no prefixes$/m);
        assert.match(t.stdout, new RegExp(`^#2 g3: ! claims MAC ${p.guests[0].mac}; the roster gives it ${p.guests[2].mac}$`, 'm'));
        assert.match(t.stdout, /^#2 g3: ! claims 198\.51\.100\.1, outside its roster prefixes 198\.51\.100\.3\/32$/m);
      } finally {
        clearInterval(timer);
      }
    });

    it('names every bad field of an entry, and does not print addresses that change while it reads them', async () => {
      await up('--guests', '2');
      const p = state().plan;
      const [r1, r2] = p.regions.map((x) => x.file);
      pokeEntry(r1, 'state', peerWord(9, 0x37) | 0x100n);
      ownerUp(r2, { gen: 2, mac: '01:00:5e:00:00:01', ipv4: [[224, 0, 0, 1], [198, 51, 100, 9]] });
      pokeEntry(r2, 'flags', 0x80 | C.KVMRING_PEER_F_DOORBELL);
      pokeEntry(r2, 'mtu', 5);
      const { r, s } = await status();
      assert.equal(r.code, 0, "an owner's mistakes are its own: the setup is fine");
      assert.deepEqual(s.regions[0].entry?.errors, ['unknown state 55 in the state word', 'state word 0x0000000900000137 has bits 8..31 set']);
      assert.deepEqual(s.regions[1].entry?.errors, [
        'unknown flags 0x81',
        'asks for doorbells in plain mode',
        'MAC 01:00:5e:00:00:01 is a multicast address',
        'MTU 5 is outside 68..65586',
        'published address 224.0.0.1 is not a unicast address',
      ]);
      assert.deepEqual(s.regions[1].entry?.addresses, ['198.51.100.9']);
      const t = await text();
      assert.match(t.stdout, /^#0 +\S+ +g1 +g2 +invalid +9 /m);
      assert.match(t.stdout, /^#1 g2: MTU 5 is outside 68\.\.65586$/m);

      pokeEntry(r2, 'addr_seq', 7); // odd: the owner is rewriting them, for good
      const again = await status();
      assert.deepEqual(again.s.regions[1].entry?.addresses, []);
      assert.ok(again.s.regions[1].entry?.errors.includes('addresses kept changing while read (addr_seq 7)'));
    });

    it('survives entries of random bytes', async () => {
      await up('--guests', '16');
      const p = state().plan;
      for (let i = 0; i < 6; i++) {
        for (const reg of p.regions) poke(reg.file, C.KVMRING_OWNED_ENTRY_OFF, randomBytes(LAYOUT.kvmring_peer.size));
        const { r, s } = await status();
        assert.equal(r.code, 0, r.stderr);
        assert.equal(s.regions.length, 16);
        for (const reg of s.regions) if (reg.entry?.state === 'invalid') assert.ok(reg.entry.errors.length > 0);
        assert.equal((await text()).code, 0);
      }
    });

    it('reports a region header someone overwrote, a roster that changed, and files that shrank or vanished: exit 1', async () => {
      await up('--guests', '2');
      const p = state().plan;
      const [r1, r2] = p.regions.map((x) => x.file);
      poke(r1, offsetOf('kvmring_owned_hdr', 'instance'), Buffer.alloc(8, 0xaa));
      const { r } = await status();
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `ringctl: ${name}: ${file(r1)}: its header says instance aaaaaaaaaaaaaaaa, the plan ${p.regions[0].instance}: the region was re-formatted or overwritten; take the setup down and up again\n`,
      );
      poke(r2, 0, randomBytes(LAYOUT.kvmring_owned_hdr.size));
      poke(p.guests[1].roster, offsetOf('kvmring_roster_hdr', 'ring_size'), Buffer.from([0, 0, 0x10, 0]));
      const t = await text();
      assert.equal(t.code, 1);
      assert.match(t.stdout, new RegExp(`^problem: ${esc(file(r2))}: magic 0x[0-9a-f]{16} is not an owned region's: `, 'm'));
      assert.match(t.stdout, new RegExp(`^problem: g2's roster ${esc(file(p.guests[1].roster))} is not the one host up wrote$`, 'm'));

      truncateSync(file(r1), 4096);
      rmSync(file(p.guests[0].roster));
      const last = await status();
      const s = last.s;
      assert.equal(last.r.code, 1);
      assert.ok(s.problems.includes(`${file(p.guests[0].roster)} is gone`), s.problems.join('\n'));
      assert.ok(s.problems.includes(`${file(r1)} has 4096 bytes; host up made ${4 * M}`), s.problems.join('\n'));
      assert.equal(s.regions[0].entry, undefined, 'nothing read from a region that shrank');
    });
  });

  describe('host qemu-args and libvirt-xml', () => {
    it('prints a guest\'s QEMU options as a shell line or a JSON argv, by its name', async () => {
      await up('--guests', '2');
      const line = await cli('host', 'qemu-args', 'g2', '--name', name);
      assert.equal(line.code, 0, line.stderr);
      const roster = file(`kvmring-${name}+g2.roster`);
      const own = file(`kvmring-${name}+g2.owned`);
      const other = file(`kvmring-${name}+g1.owned`);
      assert.equal(
        line.stdout,
        `-object memory-backend-file,id=kvmring-roster,mem-path=${roster},size=8K,share=on,readonly=on -device ivshmem-plain,memdev=kvmring-roster,addr=10.0 ` +
          `-object memory-backend-file,id=kvmring-r1,mem-path=${own},size=4M,share=on -device ivshmem-plain,memdev=kvmring-r1,addr=11.0 ` +
          `-object memory-backend-file,id=kvmring-r0,mem-path=${other},size=4M,share=on,readonly=on -device ivshmem-plain,memdev=kvmring-r0,addr=12.0\n`,
      );
      const json = await cli('host', 'qemu-args', 'g1', '--name', name, '--json', '--id', 'ring7');
      assert.deepEqual(JSON.parse(json.stdout), guestQemuArgs(state().plan, 0, { dir }, 'ring7'));
      const beyond = await cli('host', 'qemu-args', 'g3', '--name', name);
      assert.equal(beyond.code, 1);
      assert.match(beyond.stdout, new RegExp(`^Usage Error: "g3" is not a guest of ${name}; its guests are g1, g2$`, 'm'));
    });

    it('gives a doorbell-mode guest its own socket of the server', async () => {
      await up('--guest', 'web', '--guest', 'db', '--doorbell', '--vectors', '2');
      const q = JSON.parse((await cli('host', 'qemu-args', 'db', '--name', name, '--json')).stdout) as string[];
      assert.deepEqual(q.slice(-4), ['-chardev', `socket,path=${join(stateDir(), 'doorbell-db.sock')},id=kvmring-doorbell`, '-device', 'ivshmem-doorbell,chardev=kvmring-doorbell,vectors=2,addr=0f.0']);
    });

    it('prints what a libvirt domain needs, the same options inside <qemu:commandline>', async () => {
      await up('--guests', '3', '--doorbell');
      const p = state().plan;
      const sock = join(stateDir(), 'doorbell-g2.sock');
      const x = libvirtXml(p, 1, { dir, doorbell: sock });
      const r = await cli('host', 'libvirt-xml', 'g2', '--name', name);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${x.text}\n`);
      assert.match(r.stdout, new RegExp(`<server path='${sock}'/>`));
      const values = [...r.stdout.matchAll(/<qemu:arg value='([^']*)'\/>/g)].map((m) => m[1]);
      const args = JSON.parse((await cli('host', 'qemu-args', 'g2', '--name', name, '--json')).stdout) as string[];
      assert.deepEqual(values, args.slice(0, -4), 'the command line is qemu-args but the doorbell, which is a <shmem>');
      const j = await cli('host', 'libvirt-xml', 'g2', '--name', name, '--json', '--id', 'k');
      assert.deepEqual(JSON.parse(j.stdout), (({ namespace, devices, commandline, notes }) => ({ namespace, devices, commandline, notes }))(libvirtXml(p, 1, { dir, doorbell: sock }, 'k')));
      const bad = await cli('host', 'libvirt-xml', 'g9', '--name', name);
      assert.match(bad.stdout, new RegExp(`^Usage Error: "g9" is not a guest of ${name}; its guests are g1, g2, g3$`, 'm'));
    });

    it('prints XML that virt-xml-validate takes as a domain', async function () {
      if (spawnSync('sh', ['-c', 'command -v virt-xml-validate']).status !== 0) {
        if (process.env.CI === 'true') assert.fail('virt-xml-validate missing: apt-get install libvirt-clients (npm run setup)');
        this.skip();
      }
      await up('--guests', '3', '--isolation', 'pair', '--doorbell');
      const j = JSON.parse((await cli('host', 'libvirt-xml', 'g1', '--name', name, '--json')).stdout) as { namespace: string; devices: string; commandline: string };
      const xml = [
        `<domain type='kvm' ${j.namespace}>`,
        '  <name>g1</name>',
        "  <memory unit='MiB'>512</memory>",
        "  <os><type arch='x86_64' machine='q35'>hvm</type></os>",
        `  <devices>${j.devices}</devices>`,
        j.commandline,
        '</domain>',
      ].join('\n');
      const tmp = mkdtempSync(join(tmpdir(), 'libvirt-cli-'));
      try {
        writeFileSync(join(tmp, 'domain.xml'), xml);
        const v = spawnSync('virt-xml-validate', [join(tmp, 'domain.xml'), 'domain'], { encoding: 'utf8' });
        assert.equal(v.status, 0, `${v.stdout}${v.stderr}`);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });
  });

  describe('host down', () => {
    it('removes every file and the state, and is safe to run twice', async () => {
      await up('--guests', '3', '--group', 'a=g1,g2', '--group', 'b=g2,g3');
      assert.equal(files().length, 7);
      let r = await cli('host', 'down', '--name', name);
      assert.equal(r.code, 0);
      assert.equal(r.stdout, `${name}: removed 7 files from ${dir}\n${name}: removed ${stateDir()}\n`);
      assert.deepEqual(files(), []);
      assert.ok(!existsSync(stateDir()));
      r = await cli('host', 'down', '--name', name);
      assert.equal(r.code, 0);
      assert.equal(r.stdout, `${name}: not up; nothing to do\n`);
      // Files of the name without any state (a run directory wiped at boot, say) go too.
      writeFileSync(file(`kvmring-${name}+g1.roster`), 'left');
      writeFileSync(file(`kvmring-${name}+g1@a.owned`), 'left');
      writeFileSync(file(`kvmring-${name}x+g1.roster`), 'another setup');
      try {
        r = await cli('host', 'down', '--name', name);
        assert.equal(r.stdout, `${name}: not up; removed 2 files left in ${dir}\n`);
        assert.deepEqual(files(), []);
        assert.equal(readFileSync(file(`kvmring-${name}x+g1.roster`), 'utf8'), 'another setup');
      } finally {
        rmSync(file(`kvmring-${name}x+g1.roster`));
      }
      await up('--guests', '2'); // and it can come up again
    });

    it('cleans up after a host up that crashed half-way', async () => {
      mkdirSync(stateDir(), { recursive: true });
      const plan = planHost(parseHostSpec({ guests: '2', name }).spec);
      const s: HostState = { version: 2, name, phase: 'creating', dir, createdAt: new Date().toISOString(), plan };
      writeFileSync(join(stateDir(), 'state.json'), JSON.stringify(s));
      writeFileSync(file(plan.guests[0].roster), Buffer.alloc(4096));
      writeFileSync(file(plan.regions[0].file), Buffer.alloc(4096));
      const blocked = await cli('host', 'up', '--guests', '2', '--name', name);
      assert.match(blocked.stderr, /already up \(files in \/dev\/shm, left half-made by a run that did not finish\); run `ringctl host down --name /);
      const st = await status();
      assert.equal(st.r.code, 1);
      assert.equal(st.s.problems[0], '`host up` did not finish; run `ringctl host down` and up again');
      const r = await cli('host', 'down', '--name', name);
      assert.equal(r.code, 0);
      assert.equal(r.stdout, `${name}: removed 2 files from ${dir}\n${name}: removed ${stateDir()}\n`);
      assert.deepEqual(files(), []);
      assert.ok(!existsSync(stateDir()));
    });

    it('cleans up with a damaged state file, finding the files by their names', async () => {
      await up('--guests', '2');
      writeFileSync(join(stateDir(), 'state.json'), '{"version":');
      const st = await cli('host', 'status', '--name', name);
      assert.equal(st.code, 1);
      assert.match(st.stderr, /^ringctl: .*state\.json is unreadable .*; `ringctl host down --name .*` cleans up\n$/);
      const r = await cli('host', 'down', '--name', name);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /state\.json is unreadable .*: cleaning up what is left\n/);
      assert.match(r.stdout, new RegExp(`removed 4 files from ${dir}\n`));
      assert.deepEqual(files(), []);
      assert.ok(!existsSync(stateDir()));
    });

    it('takes a state of ABI v1 for damaged, and still cleans up', async () => {
      mkdirSync(stateDir(), { recursive: true });
      writeFileSync(join(stateDir(), 'state.json'), JSON.stringify({ version: 1, name, phase: 'up', path: `/dev/shm/kvmring-${name}`, size: 16 * M, maxPeers: 2 }));
      const st = await cli('host', 'status', '--name', name);
      assert.equal(st.code, 1);
      assert.match(st.stderr, /is not a state file of this ringctl; `ringctl host down --name .*` cleans up\n$/);
      assert.equal((await cli('host', 'down', '--name', name)).code, 0);
      assert.ok(!existsSync(stateDir()));
    });
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

    it('makes every file whole 2M pages when they are there', async function () {
      const nr = '/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages';
      if (!existsSync(nr)) this.skip();
      const d = mkdtempSync(join(tmpdir(), 'host-huge-'));
      if (spawnSync('mount', ['-t', 'hugetlbfs', '-o', 'pagesize=2M', 'none', d]).status !== 0) {
        rmSync(d, { recursive: true, force: true });
        this.skip();
      }
      mnt = d;
      const old = readFileSync(nr, 'utf8').trim();
      writeFileSync(nr, String(Number(old) + 8));
      try {
        if (Number(execFileSync('cat', ['/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages'], { encoding: 'utf8' })) < 8) this.skip();
        const r = await cli('host', 'up', '--guests', '2', '--name', name, '--dir', d);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`^${name}: 2 rosters of 2M and 2 regions of 4M in ${d} \\(hugetlbfs\\)$`, 'm'));
        const s = state();
        assert.equal(s.hugePageSize, 2 * M);
        for (const g of s.plan.guests) {
          assert.equal(statSync(join(d, g.roster)).size, 2 * M);
          assert.equal(parseRoster(readFileSync(join(d, g.roster))).self, g.slot);
        }
        const q = JSON.parse((await cli('host', 'qemu-args', 'g1', '--name', name, '--json')).stdout) as string[];
        assert.match(q[1], /,size=2M,share=on,readonly=on$/);
        const { r: st, s: ss } = await status();
        assert.equal(st.code, 0, st.stderr);
        assert.ok(ss.regions.every((x) => x.size === 4 * M && x.headerError === undefined));
        const down = await cli('host', 'down', '--name', name);
        assert.equal(down.stdout, `${name}: removed 4 files from ${d}\n${name}: removed ${stateDir()}\n`);
      } finally {
        await cli('host', 'down', '--name', name);
        writeFileSync(nr, old);
      }
    });
  });
});
