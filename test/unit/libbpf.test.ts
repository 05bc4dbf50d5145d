import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { BpfObject, errnoName, LibbpfError, libbpfStrerror, numPossibleCpus } from '../../src/libbpf/index.js';
import { OBJECTS } from '../../src/xdp/codecs.js';
import { requireTier } from '../helpers/tier.js';

const xdpObject = fileURLToPath(new URL(`../../../build/bpf/${OBJECTS.xdp.file}`, import.meta.url));

describe('libbpf binding (no privileges)', () => {
  before(function () {
    requireTier(this, 'unit');
  });

  it('names errnos, and libbpf\'s own codes', () => {
    assert.equal(errnoName(16), 'EBUSY');
    assert.equal(errnoName(95), 'EOPNOTSUPP');
    assert.equal(errnoName(11), 'EAGAIN');
    assert.equal(errnoName(4007), 'LIBBPF_ERRNO__VERIFY');
    assert.equal(errnoName(99999), 'E99999');
    assert.equal(libbpfStrerror(16), 'Device or resource busy');
  });

  it('builds an error message from the operation, libbpf\'s text and the errno name', () => {
    const e = new LibbpfError('bpf_xdp_attach(ifindex 3)', 16);
    assert.equal(e.message, 'bpf_xdp_attach(ifindex 3): Device or resource busy (EBUSY)');
    assert.equal(e.name, 'LibbpfError');
    assert.equal(e.code, 'EBUSY');
    assert.equal(e.errno, 16);
    assert.equal(e.libbpfMessage, 'Device or resource busy');
    assert.ok(e instanceof Error);
  });

  it('finds the verifier log in what libbpf printed', () => {
    const log = "libbpf: prog 'p': BPF program load failed: Permission denied\n"
      + "libbpf: prog 'p': -- BEGIN PROG LOAD LOG --\n0: (61) r1 = *(u32 *)(r1 +0)\n1: (71) r1 = *(u8 *)(r1 +64)\n"
      + 'invalid access to packet\nprocessed 2 insns\n-- END PROG LOAD LOG --\nlibbpf: failed to load object\n';
    const e = new LibbpfError('load p', 13, log);
    assert.equal(e.verifierLog, '0: (61) r1 = *(u32 *)(r1 +0)\n1: (71) r1 = *(u8 *)(r1 +64)\ninvalid access to packet\nprocessed 2 insns');
    assert.equal(e.verifierLogTail(2), 'invalid access to packet\nprocessed 2 insns');
    assert.equal(new LibbpfError('x', 13, 'no log').verifierLog, undefined);
  });

  it('opens an object file and lists its programs, maps and globals', () => {
    const obj = BpfObject.open(xdpObject);
    try {
      assert.equal(obj.name, 'xdp_ring');
      assert.deepEqual(obj.programs().map((p) => [p.name, p.sectionName]), [['xdp_ring', 'xdp']]);
      const maps = obj.maps().map((m) => m.name);
      assert.ok(maps.includes('ring_peers') && maps.includes('xdp_ring.rodata'));
      assert.deepEqual(obj.globals('.rodata'), [{ name: 'ring_cfg', section: '.rodata', offset: 0, size: 20 }]);
      assert.deepEqual(obj.globals('.bss'), []);
    } finally {
      obj.close();
    }
  });

  it('sets a const volatile global before load', () => {
    const obj = BpfObject.open(xdpObject, { objectName: 'renamed' });
    try {
      assert.equal(obj.name, 'renamed');
      const v = Buffer.from([2, 0, 0, 0, 0, 0xaa, 0, 0, 7, 0, 0, 0, 2, 0, 0, 0, 1, 2, 0, 0]);
      obj.setGlobal('ring_cfg', v);
      assert.deepEqual(obj.getGlobal('ring_cfg'), v);
      assert.throws(() => obj.setGlobal('ring_cfg', Buffer.alloc(4)), /ring_cfg is 20 bytes, got 4/);
      assert.throws(() => obj.setGlobal('nope', Buffer.alloc(4)), /no global nope in \.rodata/);
    } finally {
      obj.close();
    }
  });

  it('turns a missing file, program or map into a LibbpfError with the operation', () => {
    assert.throws(() => BpfObject.open('/nonexistent/x.bpf.o'), { name: 'LibbpfError', code: 'ENOENT', op: 'bpf_object__open_file(/nonexistent/x.bpf.o)' });
    const obj = BpfObject.open(xdpObject);
    try {
      assert.throws(() => obj.program('nope'), { code: 'ENOENT', message: 'xdp_ring: program nope: No such file or directory (ENOENT)' });
      assert.throws(() => obj.map('nope'), { code: 'ENOENT' });
      assert.throws(() => obj.program('xdp_ring').fd, { name: 'LibbpfError' }, 'no fd before load');
    } finally {
      obj.close();
    }
    assert.throws(() => obj.programs(), /is closed/);
  });

  it('counts the possible CPUs as the kernel does', () => {
    const possible = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
    const count = possible.split(',').reduce((n, r) => {
      const [a, b = a] = r.split('-').map(Number);
      return n + b - a + 1;
    }, 0);
    assert.equal(numPossibleCpus(), count);
  });
});
