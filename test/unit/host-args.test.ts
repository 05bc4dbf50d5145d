import assert from 'node:assert/strict';

import { formatSize, parseGuests, parseName, parseSize, parseVectors, shellQuote } from '../../src/host/args.js';
import { ivshmemDoorbellArgs, ivshmemPlainArgs } from '../../src/host/qemu.js';
import { requireTier } from '../helpers/tier.js';
import { assertUsageError as usage } from '../helpers/usage.js';

const M = 2 ** 20;
const G = 2 ** 30;

describe('host verbs: arguments', () => {
  before(function () {
    requireTier(this, 'unit');
  });

  describe('sizes', () => {
    it('reads binary units, with or without iB, and plain bytes', () => {
      assert.equal(parseSize('16M'), 16 * M);
      assert.equal(parseSize('64m'), 64 * M);
      assert.equal(parseSize('1G'), G);
      assert.equal(parseSize('512KiB'), 512 * 1024);
      assert.equal(parseSize('2GB'), 2 * G);
      assert.equal(parseSize('4096'), 4096);
    });

    it('rejects what is not a size', () => {
      for (const bad of ['', 'M', '16X', '-16M', '1.5G', '16 M B', '0x10M']) usage(() => parseSize(bad), /is not a size/);
      usage(() => parseSize('99999999999T'), /too large/);
    });

    it('prints sizes in the largest unit that divides them', () => {
      assert.equal(formatSize(16 * M), '16M');
      assert.equal(formatSize(G), '1G');
      assert.equal(formatSize(256 * 1024), '256K');
      assert.equal(formatSize(1536 * 1024), '1536K');
      assert.equal(formatSize(100), '100');
    });
  });

  describe('guests, vectors, names', () => {
    it('takes 2 to 16 guests', () => {
      assert.equal(parseGuests('2'), 2);
      assert.equal(parseGuests('16'), 16);
      for (const bad of ['0', '1', '17', '100', 'two', '2.5', '-3', '']) usage(() => parseGuests(bad), /--guests must be a number of guests from 2 to 16/);
    });

    it('takes 1 to 64 vectors', () => {
      assert.equal(parseVectors('1'), 1);
      assert.equal(parseVectors('64'), 64);
      for (const bad of ['0', '65', 'x']) usage(() => parseVectors(bad), /--vectors must be from 1 to 64/);
    });

    it('takes plain short names only', () => {
      for (const ok of ['kvmring', 'lab-2', 'a.b_c', 'X', 'a'.repeat(32)]) assert.equal(parseName(ok), ok);
      for (const bad of ['', '-x', '.hidden', 'a/b', '..', 'a b', 'a'.repeat(33), 'é']) usage(() => parseName(bad), /--name must be/);
    });
  });

  describe('QEMU options', () => {
    it('gives a doorbell a chardev to the server and ivshmem-doorbell, doubling commas', () => {
      assert.deepEqual(ivshmemDoorbellArgs({ id: 'ring1', socket: '/run/kvmring/host/kvmring/doorbell-g1.sock', vectors: 2 }), [
        '-chardev',
        'socket,path=/run/kvmring/host/kvmring/doorbell-g1.sock,id=ring1',
        '-device',
        'ivshmem-doorbell,chardev=ring1,vectors=2',
      ]);
      assert.equal(ivshmemDoorbellArgs({ id: 'k', socket: '/a,b', vectors: 1, addr: '0f.0' })[3], 'ivshmem-doorbell,chardev=k,vectors=1,addr=0f.0');
      assert.equal(ivshmemDoorbellArgs({ id: 'k', socket: '/a,b', vectors: 1 })[1], 'socket,path=/a,,b,id=k');
    });

    it('maps a file read-only with readonly=on on its backend, the device unchanged', () => {
      const dev = { id: 'probe0', path: '/run/kvmring/lab/g1.probe-ro', size: 64 * 1024 };
      assert.deepEqual(ivshmemPlainArgs({ ...dev, readonly: true }), [
        '-object',
        'memory-backend-file,id=probe0,mem-path=/run/kvmring/lab/g1.probe-ro,size=64K,share=on,readonly=on',
        '-device',
        'ivshmem-plain,memdev=probe0',
      ]);
      assert.deepEqual(ivshmemPlainArgs({ ...dev, readonly: false }), ivshmemPlainArgs(dev));
      assert.doesNotMatch(ivshmemPlainArgs(dev)[1], /readonly/);
    });

    it('doubles commas in paths, as QEMU option values need', () => {
      assert.match(ivshmemPlainArgs({ id: 'r', path: '/mnt/a,b/kvmring-x', size: 4096 })[1], /mem-path=\/mnt\/a,,b\/kvmring-x,size=4K,share=on$/);
    });

    it('puts a device at a given PCI slot, and takes nothing else for one', () => {
      const dev = { id: 'p', path: '/dev/shm/p', size: 4096, readonly: true };
      assert.equal(ivshmemPlainArgs({ ...dev, addr: '10' })[3], 'ivshmem-plain,memdev=p,addr=10');
      assert.equal(ivshmemPlainArgs({ ...dev, addr: '1e.0' })[3], 'ivshmem-plain,memdev=p,addr=1e.0');
      for (const bad of ['', '100', '10.8', '10,bus=x', 'g']) {
        assert.throws(() => ivshmemPlainArgs({ ...dev, addr: bad }), /is not a PCI slot/);
      }
    });

    it('quotes for a POSIX shell only what needs it', () => {
      assert.equal(shellQuote(['-device', 'ivshmem-plain,memdev=kvmring0']), '-device ivshmem-plain,memdev=kvmring0');
      assert.equal(shellQuote(['a b', "it's", '']), `'a b' 'it'\\''s' ''`);
    });
  });
});
