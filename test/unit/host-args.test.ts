import assert from 'node:assert/strict';

import {
  checkHugePages,
  checkRegionSize,
  formatSize,
  parseGuestRef,
  parseGuests,
  parseName,
  parseSize,
  parseVectors,
  shellQuote,
  smallestRegionSize,
} from '../../src/host/args.js';
import { ivshmemPlainArgs, qemuArgs } from '../../src/host/qemu.js';
import { defaultRingSize } from '../../src/ring/geometry.js';
import { CONSTANTS as C } from '../../src/ring/layout.js';
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

    it('accepts a power of two that holds the guests and returns the ring size a format picks', () => {
      assert.equal(checkRegionSize(16 * M, 2), defaultRingSize(16 * M, 2));
      assert.equal(checkRegionSize(16 * M, 8), 256 * 1024);
      assert.equal(checkRegionSize(64 * M, 16), 256 * 1024);
      assert.equal(checkRegionSize(G, 4), 64 * M);
    });

    it('rejects a size that is not a power of two', () => {
      usage(() => checkRegionSize(24 * M, 2), /--size must be a power of two .*not 24M/);
      usage(() => checkRegionSize(0, 2), /power of two/);
    });

    it('names the smallest size that works when the guests do not fit', () => {
      usage(() => checkRegionSize(16 * M, 16), /a 16M region cannot hold 16 guests: 240 rings of at least 256K need --size 64M or more/);
      usage(() => checkRegionSize(16 * M, 9), /cannot hold 9 guests: 72 rings .* need --size 32M or more/);
      usage(() => checkRegionSize(M, 3), /a 1M region cannot hold 3 guests: 6 rings .* need --size 2M or more/);
      assert.equal(checkRegionSize(M, 2), 256 * 1024);
    });

    it('rejects a region larger than any geometry can use', () => {
      usage(() => checkRegionSize(128 * G, 16), /larger than the 64G/);
    });

    it('computes the smallest workable size for every guest count', () => {
      for (let n = 2; n <= C.KVMRING_PEERS_MAX; n++) {
        const s = smallestRegionSize(n);
        assert.ok(defaultRingSize(s, n) >= C.KVMRING_RING_SIZE_MIN, `${n} guests fit in ${s}`);
        assert.equal(defaultRingSize(s / 2, n), 0, `${n} guests do not fit in ${s / 2}`);
      }
      assert.equal(smallestRegionSize(8), 16 * M); // the header's default: 8 peers in 16 MiB
      assert.equal(smallestRegionSize(16), 64 * M);
    });

    it('wants hugetlbfs regions in whole huge pages', () => {
      checkHugePages(16 * M, 2 * M, '/dev/hugepages');
      usage(() => checkHugePages(16 * M, G, '/mnt/huge1g'), /\/mnt\/huge1g is hugetlbfs with 1G pages: --size must be a multiple of 1G, not 16M/);
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

    it('reads guests as gN or N, from 1 up to the region\'s slots', () => {
      assert.equal(parseGuestRef('g1'), 1);
      assert.equal(parseGuestRef('3'), 3);
      assert.equal(parseGuestRef('g16', 16), 16);
      for (const bad of ['g0', 'g17', 'guest1', 'g', 'g-1', '']) usage(() => parseGuestRef(bad), /is not a guest/);
      usage(() => parseGuestRef('g5', 4), /g5: the region has only 4 guest slots \(g1..g4\)/);
    });
  });

  describe('QEMU options', () => {
    const plain = { mode: 'plain' as const, path: '/dev/shm/kvmring-kvmring', size: 16 * M, vectors: 1 };

    it('gives a plain-mode guest a shared file backend and ivshmem-plain', () => {
      assert.deepEqual(qemuArgs(plain), [
        '-object',
        'memory-backend-file,id=kvmring0,mem-path=/dev/shm/kvmring-kvmring,size=16M,share=on',
        '-device',
        'ivshmem-plain,memdev=kvmring0',
      ]);
    });

    it('gives a doorbell-mode guest a chardev to the server and ivshmem-doorbell', () => {
      const s = { ...plain, mode: 'doorbell' as const, vectors: 2, doorbell: { socket: '/run/kvmring/host/kvmring/doorbell.sock', log: '' } };
      assert.deepEqual(qemuArgs(s, 'ring1'), [
        '-chardev',
        'socket,path=/run/kvmring/host/kvmring/doorbell.sock,id=ring1',
        '-device',
        'ivshmem-doorbell,chardev=ring1,vectors=2',
      ]);
    });

    it('doubles commas in paths, as QEMU option values need', () => {
      assert.match(qemuArgs({ ...plain, path: '/mnt/a,b/kvmring-x' })[1], /mem-path=\/mnt\/a,,b\/kvmring-x,size=/);
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

    it('is what a plain-mode region gets, read-write', () => {
      assert.deepEqual(qemuArgs(plain), ivshmemPlainArgs({ id: 'kvmring0', path: plain.path, size: plain.size }));
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
