import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  BPF_LINK_TYPE_XDP,
  BPF_NOEXIST,
  BpfLink,
  BpfMapFd,
  BpfObject,
  closeFd,
  LibbpfError,
  numPossibleCpus,
  objGet,
  progInfoByFd,
  setLogSink,
  tcAttach,
  tcDetach,
  tcHookCreate,
  tcHookDestroy,
  tcQuery,
  unpin,
  xdpAttach,
  xdpDetach,
  xdpQuery,
  XDP_FLAGS_SKB_MODE,
  XDP_FLAGS_UPDATE_IF_NOEXIST,
  type LogLevel,
} from '../../src/libbpf/index.js';
import { OBJECTS } from '../../src/xdp/codecs.js';
import { ifNameToIndex } from '../../src/xdp/netdev.js';
import { requireTier } from '../helpers/tier.js';
import { ensureBpffs, Netns } from './netns.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('libbpf binding against the kernel', () => {
  let ns: Netns;
  let obj: BpfObject;
  let pinDir: string;
  let fixtureDir: string;
  let mountedBpffs = false;
  let ifindex: number;

  before(function () {
    requireTier(this, 'host');
    mountedBpffs = ensureBpffs();
    pinDir = `/sys/fs/bpf/ringctl-binding-${process.pid}`;
    mkdirSync(pinDir);
    fixtureDir = mkdtempSync(join(tmpdir(), 'ringctl-binding-'));
    execFileSync('clang', ['-O2', '-g', '-target', 'bpf', '-I', join(root, 'bpf'), '-I', '/usr/include/x86_64-linux-gnu',
      '-c', join(root, 'test/fixtures/bpf/xdp_ring_reject.bpf.c'), '-o', join(fixtureDir, 'reject.bpf.o')]);
    ns = new Netns('rbinding');
    ns.ip('link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb');
    ns.ip('link', 'set', 'va', 'up');
    ns.ip('link', 'set', 'vb', 'up');
    ns.enter();
    ifindex = ifNameToIndex('va')!;
    obj = BpfObject.open(join(root, 'build/bpf', OBJECTS.xdp.file));
    obj.load();
  });

  after(() => {
    obj?.close();
    ns?.delete();
    if (pinDir && existsSync(pinDir)) rmSync(pinDir, { recursive: true });
    if (fixtureDir) rmSync(fixtureDir, { recursive: true, force: true });
    if (mountedBpffs && readdirSync('/sys/fs/bpf').every((f) => f.endsWith('.debug'))) spawnSync('umount', ['/sys/fs/bpf']);
  });

  it('pins a program and a map, and opens them again from their pins', () => {
    const prog = obj.program(OBJECTS.xdp.program);
    prog.pin(join(pinDir, 'prog'));
    obj.map('ring_peers').pin(join(pinDir, 'peers'));
    const fd = objGet(join(pinDir, 'prog'));
    try {
      assert.equal(progInfoByFd(fd).id, prog.info().id);
      assert.equal(progInfoByFd(fd).name, 'xdp_ring');
    } finally {
      closeFd(fd);
    }
    const m = BpfMapFd.openPinned(join(pinDir, 'peers'));
    try {
      assert.deepEqual([m.info.name, m.info.keySize, m.info.valueSize, m.info.maxEntries], ['ring_peers', 20, 12, 1024]);
    } finally {
      m.close();
    }
    prog.unpin(join(pinDir, 'prog'));
    unpin(join(pinDir, 'peers'));
    assert.deepEqual(readdirSync(pinDir), []);
    assert.throws(() => unpin(join(pinDir, 'peers')), { name: 'LibbpfError', code: 'ENOENT' });
  });

  it('looks up, updates, deletes and iterates a hash map', () => {
    const m = obj.map('ring_peers');
    const key = (n: number) => Buffer.concat([Buffer.from([4, 0, 0, 0, 10, 0, 0, n]), Buffer.alloc(12)]);
    const value = (n: number) => Buffer.from([2, 0, 0, 0, 0, n, 1, 0, n, 0, 0, 0]);
    for (const n of [1, 2, 3]) m.update(key(n), value(n));
    assert.deepEqual(m.lookup(key(2)), value(2));
    assert.equal(m.lookup(key(9)), undefined);
    assert.deepEqual([...m.keys()].map((k) => k[7]).sort(), [1, 2, 3]);
    assert.deepEqual([...m.entries()].map(([k, v]) => [k[7], v[5]]).sort(), [[1, 1], [2, 2], [3, 3]]);
    assert.throws(() => m.update(key(1), value(1), BPF_NOEXIST), { code: 'EEXIST', op: 'bpf_map_update_elem(ring_peers)' });
    assert.equal(m.delete(key(1)), true);
    assert.equal(m.delete(key(1)), false);
    assert.throws(() => m.update(Buffer.alloc(3), value(1)), /key is 3 bytes, the map's keys are 20/);
    for (const k of [...m.keys()]) m.delete(k);
  });

  it('reads and writes a per-CPU map, one 8-byte aligned value per possible CPU', () => {
    const m = obj.map('xdp_stats');
    assert.equal(m.perCpu, true);
    const key = Buffer.from([5, 0, 0, 0]);
    const values = Array.from({ length: numPossibleCpus() }, (_, cpu) => {
      const v = Buffer.alloc(16);
      v.writeBigUInt64LE(BigInt(cpu + 1), 0);
      v.writeBigUInt64LE(BigInt(100 * (cpu + 1)), 8);
      return v;
    });
    m.updatePerCpu(key, values);
    assert.deepEqual(m.lookupPerCpu(key), values);
    assert.equal(m.lookup(key)!.length, 16 * numPossibleCpus());
    m.updatePerCpu(key, [Buffer.alloc(16)]);
    assert.ok(m.lookupPerCpu(key)!.every((v) => v.equals(Buffer.alloc(16))));
  });

  it('attaches, queries and detaches XDP through netlink, honouring UPDATE_IF_NOEXIST', () => {
    const fd = obj.program(OBJECTS.xdp.program).fd;
    const id = obj.program(OBJECTS.xdp.program).info().id;
    xdpAttach(ifindex, fd, XDP_FLAGS_SKB_MODE);
    try {
      assert.deepEqual(xdpQuery(ifindex), { progId: id, drvProgId: 0, skbProgId: id, hwProgId: 0, mode: 'generic' });
      assert.throws(() => xdpAttach(ifindex, fd, XDP_FLAGS_SKB_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST), {
        name: 'LibbpfError',
        code: 'EBUSY',
        op: `bpf_xdp_attach(ifindex ${ifindex})`,
      });
    } finally {
      xdpDetach(ifindex, XDP_FLAGS_SKB_MODE);
    }
    assert.equal(xdpQuery(ifindex).mode, 'none');
  });

  it('attaches XDP through a link that lives on in its pin', () => {
    const prog = obj.program(OBJECTS.xdp.program);
    const link = BpfLink.attachXdp(prog.fd, ifindex, XDP_FLAGS_SKB_MODE);
    const info = link.info();
    assert.equal(info.type, BPF_LINK_TYPE_XDP);
    assert.equal(info.xdpIfindex, ifindex);
    assert.equal(info.progId, prog.info().id);
    link.pin(join(pinDir, 'link'));
    link.close();
    assert.equal(xdpQuery(ifindex).skbProgId, info.progId, 'the pin keeps it attached');
    const again = BpfLink.openPinned(join(pinDir, 'link'));
    assert.equal(again.info().id, info.id);
    assert.throws(() => xdpDetach(ifindex, XDP_FLAGS_SKB_MODE), { code: 'EBUSY' }, 'netlink cannot remove a link\'s program');
    again.detach();
    again.close();
    assert.equal(xdpQuery(ifindex).mode, 'none');
    BpfLink.unpin(join(pinDir, 'link'));
  });

  it('creates the clsact hook and attaches, queries and detaches a TC filter', () => {
    const tc = BpfObject.open(join(root, 'build/bpf', OBJECTS.tc.file));
    try {
      tc.map('ring_peers').reuseFd(obj.map('ring_peers').fd);
      tc.load();
      const hook = { ifindex, direction: 'egress' as const };
      const filter = { handle: 7, priority: 9 };
      assert.equal(tcHookCreate(hook), true);
      assert.equal(tcHookCreate(hook), false, 'the second time it exists');
      const id = tcAttach(hook, tc.program(OBJECTS.tc.program).fd, filter);
      assert.equal(id, tc.program(OBJECTS.tc.program).info().id);
      assert.equal(tcQuery(hook, filter), id);
      assert.equal(tcQuery(hook, { handle: 8, priority: 9 }), undefined);
      assert.equal(tcDetach(hook, filter), true);
      assert.equal(tcDetach(hook, filter), false);
      tcHookDestroy(ifindex);
      assert.equal(tcHookCreate(hook), true, 'destroyed, so created anew');
      tcHookDestroy(ifindex);
    } finally {
      tc.close();
    }
  });

  it('carries the verifier log on a rejected load, and hands libbpf\'s messages to a sink', () => {
    const seen: Array<[LogLevel, string]> = [];
    setLogSink((level, msg) => seen.push([level, msg]));
    const bad = BpfObject.open(join(fixtureDir, 'reject.bpf.o'));
    try {
      assert.throws(() => bad.load(), (err: unknown) => {
        assert.ok(err instanceof LibbpfError);
        const e = err;
        assert.equal(e.code, 'EACCES');
        assert.equal(e.op, 'load reject');
        assert.match(e.log, /-- BEGIN PROG LOAD LOG --/);
        assert.match(e.verifierLogTail(5)!, /invalid access to packet/);
        return true;
      });
    } finally {
      bad.close();
      setLogSink(undefined);
    }
    assert.ok(seen.some(([level, msg]) => level === 'warn' && /BPF program load failed/.test(msg)));
  });
});
