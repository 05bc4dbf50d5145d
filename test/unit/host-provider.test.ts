// `ringctl host up|status|qemu-args|down --provider kvmring` against a stand-in
// for kvmring.ko (this host cannot load modules; the lab loads the real one):
// the stand-in keeps each region as a file in its directory, formats owned
// regions and writes rosters with the same C as the module (format.ts), and
// answers EBUSY for a region someone holds.
import assert from 'node:assert/strict';
import { closeSync, existsSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

import { errnoValue } from '../../src/common/errno.js';
import { SysError } from '../../src/common/sys-error.js';
import { formatOwnedHeader, publishRoster } from '../../src/host/format.js';
import { replaceModuleOpener, type CreateArgs, type ModuleControl, type ModuleRegion } from '../../src/host/kvmring.js';
import { rosterIdWriter } from '../../src/host/files.js';
import { parseRoster, rosterBytes } from '../../src/host/roster.js';
import type { HostState } from '../../src/host/state.js';
import { CONSTANTS as C } from '../../src/ring/layout.js';
import { runCli } from '../helpers/run-cli.js';
import { requireTier } from '../helpers/tier.js';

interface FakeRegion {
  args: CreateArgs;
  holder?: { pid: number; comm: string };
}

/** A kvmring.ko in a directory: a file per region. */
class FakeModule implements ModuleControl {
  regions = new Map<string, FakeRegion>();
  calls: string[] = [];
  /** Create calls after which create fails with EDQUOT. */
  failAfter = Infinity;

  constructor(readonly dir: string) {}

  create(a: CreateArgs): void {
    this.calls.push(`create ${a.name} ${a.kind} ${a.size} ${a.node}`);
    if (this.regions.size >= this.failAfter) throw new SysError(`kvmring.ko: create ${a.name}`, errnoValue('EDQUOT'));
    if (this.regions.has(a.name)) throw new SysError(`kvmring.ko: create ${a.name}`, errnoValue('EEXIST'));
    const fd = openSync(join(this.dir, a.name), 'wx+');
    try {
      ftruncateSync(fd, a.size);
      if (a.kind === 'owned') {
        const { header, problem } = formatOwnedHeader({ owner: a.owner, readers: a.readers, ringSize: a.ringSize, queues: a.queues, size: a.size, instance: a.instance });
        if (problem) throw new SysError(`kvmring.ko: create ${a.name}`, errnoValue(problem));
        writeSync(fd, header, 0, header.length, 0);
      }
    } finally {
      closeSync(fd);
    }
    this.regions.set(a.name, { args: a });
  }

  setRoster(name: string, roster: Uint8Array): void {
    this.calls.push(`roster ${name}`);
    const path = join(this.dir, name);
    const live = readFileSync(path);
    writeFileSync(path, Buffer.concat([publishRoster(live, roster), live.subarray(C.KVMRING_ROSTER_SIZE)]));
  }

  destroy(name: string): void {
    this.calls.push(`destroy ${name}`);
    const r = this.regions.get(name);
    if (!r) throw new SysError(`kvmring.ko: destroy ${name}`, errnoValue('ENOENT'));
    if (r.holder) throw new SysError(`kvmring.ko: destroy ${name}`, errnoValue('EBUSY'));
    rmSync(join(this.dir, name));
    this.regions.delete(name);
  }

  status() {
    const regions: ModuleRegion[] = [...this.regions].map(([name, r]) => ({
      name,
      kind: r.args.kind,
      size: r.args.size,
      node: r.args.node,
      actualNode: 0,
      contiguous: r.args.size <= 4 << 20,
      chunks: Math.max(1, r.args.size / (4 << 20)),
      minOrder: Math.min(10, Math.log2(r.args.size / 4096)),
      openers: 0,
      nrMappers: r.holder ? 1 : 0,
      mappers: r.holder ? [{ ...r.holder, writable: true }] : [],
      details: r.args.kind === 'owned' ? ['entry owner=0 readers=0x6 state=free gen=0 heartbeat=0 doorbell_id=4294967295 mac=00:00:00:00:00:00'] : ['roster self=0 max_peers=3 nregions=3 seq=0', 'slot 0 name=g1 mac=02:00:00:00:00:01 doorbell_id=4294967295'],
    }));
    return { bytes: regions.reduce((n, r) => n + r.size, 0), maxBytes: 1 << 30, regions };
  }

  close(): void {}
}

describe('ringctl host with --provider kvmring (a stand-in for the module)', function () {
  this.timeout(60_000);
  let root: string;
  let moduleDir: string;
  let fake: FakeModule;
  let env: Record<string, string | undefined>;
  const cli = (...argv: string[]) => runCli(argv, env);
  const state = () => JSON.parse(readFileSync(join(root, 'run', 'pv', 'state.json'), 'utf8')) as HostState;

  before(function () {
    requireTier(this, 'unit');
  });

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'host-provider-'));
    moduleDir = join(root, 'dev-kvmring');
    fake = new FakeModule(moduleDir);
    env = { ...process.env, RINGCTL_HOST_RUN_DIR: join(root, 'run'), RINGCTL_KVMRING_DIR: moduleDir };
    replaceModuleOpener(() => fake);
  });

  afterEach(() => {
    replaceModuleOpener();
    rmSync(root, { recursive: true, force: true });
  });

  /** The control node: its existence is what `auto` looks for. */
  function loadModule() {
    mkdirSync(moduleDir, { recursive: true });
    writeFileSync(join(moduleDir, 'control'), '');
  }

  it('makes every roster and region through the module under auto, and records the provider', async () => {
    loadModule();
    const r = await cli('host', 'up', '--name', 'pv', '--guests', '3', '--queues', '2');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const s = state();
    assert.equal(s.provider, 'kvmring');
    assert.equal(s.dir, moduleDir);
    assert.match(r.stdout, new RegExp(`3 rosters of 8K and 3 regions of .* in ${moduleDir} \\(kvmring.ko\\)`));
    const names = [...s.plan.guests.map((g) => g.roster), ...s.plan.regions.map((x) => x.file)];
    assert.deepEqual([...fake.regions.keys()].sort(), [...names].sort());
    for (const g of s.plan.guests) {
      assert.deepEqual(fake.regions.get(g.roster)?.args, { name: g.roster, size: C.KVMRING_ROSTER_SIZE, node: -1, kind: 'roster' });
      assert.deepEqual(readFileSync(join(moduleDir, g.roster)), rosterBytes(s.plan, g.slot), `${g.name}'s roster`);
    }
    for (const x of s.plan.regions) {
      assert.deepEqual(fake.regions.get(x.file)?.args, { name: x.file, size: x.size, node: -1, kind: 'owned', instance: BigInt(`0x${x.instance}`), owner: x.owner, readers: x.readers, ringSize: s.plan.ringSize, queues: 2 });
    }

    const q = await cli('host', 'qemu-args', 'g1', '--name', 'pv', '--json');
    assert.equal(q.code, 0, q.stderr);
    const args = JSON.parse(q.stdout) as string[];
    assert.ok(args.some((a) => a.includes(`mem-path=${join(moduleDir, 'kvmring-pv+g1.roster')},`) && a.endsWith('readonly=on')), args.join(' '));
    assert.ok(args.some((a) => a.includes(`mem-path=${join(moduleDir, 'kvmring-pv+g1.owned')},`) && !a.includes('readonly')), args.join(' '));

    const st = await cli('host', 'status', '--name', 'pv');
    assert.equal(st.code, 0, st.stdout + st.stderr);
    assert.match(st.stdout, /^module\s+kvmring.ko: 6 region\(s\) of this setup/m);
    assert.match(st.stdout, /kvmring-pv\+g2\.owned\s+8M\s+2 chunks, order >= 10\s+any \(0\)\s+-\s+free gen 0 heartbeat 0$/m);
    assert.match(st.stdout, /kvmring-pv\+g1\.roster\s+8K\s+contiguous\s+any \(0\)\s+-\s+seq 0, 1 slot\(s\)$/m);

    const d = await cli('host', 'down', '--name', 'pv');
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.match(d.stdout, /destroyed 6 regions of kvmring.ko/);
    assert.equal(fake.regions.size, 0);
    assert.ok(!existsSync(join(root, 'run', 'pv')));
  });

  it('puts the regions on --numa-node, and stays with files when --dir is given', async () => {
    loadModule();
    assert.equal((await cli('host', 'up', '--name', 'pv', '--guests', '2', '--numa-node', '1')).code, 0);
    assert.ok([...fake.regions.values()].every((x) => x.args.node === 1));
    assert.equal((await cli('host', 'down', '--name', 'pv')).code, 0);

    const shm = join(root, 'shm');
    mkdirSync(shm);
    const r = await cli('host', 'up', '--name', 'pv', '--guests', '2', '--dir', shm);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(state().provider, 'shm');
    assert.equal(fake.regions.size, 0);
    assert.equal(readdirSync(shm).length, 4);
    assert.equal((await cli('host', 'down', '--name', 'pv')).code, 0);
    assert.deepEqual(readdirSync(shm), []);
  });

  it('destroys what it made when the module refuses a region, and leaves no state', async () => {
    loadModule();
    fake.failAfter = 3;
    const r = await cli('host', 'up', '--name', 'pv', '--guests', '3');
    assert.equal(r.code, 1);
    assert.match(r.stdout + r.stderr, /create kvmring-pv\+.*\(EDQUOT\)/);
    assert.equal(fake.regions.size, 0);
    assert.deepEqual(readdirSync(moduleDir), ['control']);
    assert.ok(!existsSync(join(root, 'run', 'pv')));
  });

  it("rewrites the rosters through the module when the doorbell server hands out ids, under an odd seq that ends even", async () => {
    loadModule();
    // The doorbell server is a process of its own, with the real module: its writer is tested here with the stand-in.
    assert.equal((await cli('host', 'up', '--name', 'pv', '--guests', '3')).code, 0);
    const s = state();
    const write = rosterIdWriter(s.plan, s.dir, (path, roster) => fake.setRoster(basename(path), roster));
    fake.calls = [];
    assert.deepEqual(write(new Map([['g2', 7]])), ['g1', 'g2', 'g3']);
    assert.deepEqual(fake.calls, ['roster kvmring-pv+g1.roster', 'roster kvmring-pv+g2.roster', 'roster kvmring-pv+g3.roster']);
    const r = parseRoster(readFileSync(join(moduleDir, 'kvmring-pv+g1.roster')));
    assert.equal(r.seq, 2);
    assert.equal(r.slots.find((x) => x.slot === 1)?.doorbellId, 7);
    assert.equal((await cli('host', 'down', '--name', 'pv')).code, 0);
  });

  it('destroys nothing while someone maps a region, says who, and finishes on the next down', async () => {
    loadModule();
    assert.equal((await cli('host', 'up', '--name', 'pv', '--guests', '2')).code, 0);
    fake.regions.get('kvmring-pv+g2.owned')!.holder = { pid: 4242, comm: 'qemu-system-x86' };
    const d = await cli('host', 'down', '--name', 'pv');
    assert.equal(d.code, 1);
    assert.match(d.stdout + d.stderr, /kvmring-pv\+g2\.owned is still in use \(pid 4242 \(qemu-system-x86\) read-write\); stop its guests' QEMU first \(nothing was destroyed\)/);
    assert.ok(existsSync(join(root, 'run', 'pv', 'state.json')), 'the state stays for another try');
    assert.deepEqual([...fake.regions.keys()].sort(), ['kvmring-pv+g1.owned', 'kvmring-pv+g1.roster', 'kvmring-pv+g2.owned', 'kvmring-pv+g2.roster'], 'all or nothing');
    delete fake.regions.get('kvmring-pv+g2.owned')!.holder;
    const again = await cli('host', 'down', '--name', 'pv');
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.equal(fake.regions.size, 0);
  });
});
