import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { regionFormat, regionGeom, regionPeer, RingCoreError, type RegionMemory } from '../../src/host/ring-core.js';
import { defaultRingSize, laneCount, laneOf, ownedUsed, queueOffset, recSize, ringOffset, type Geometry } from '../../src/ring/geometry.js';
import { CONSTANTS, LAYOUT, peerWord } from '../../src/ring/layout.js';
import { requireTier } from '../helpers/tier.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const MiB = 1 << 20;
const REGION_SIZES = [1, 8, 15, 16, 17, 32, 48, 64, 100, 1024].map((m) => m * MiB);
/** Readers masks of owned regions for the v2 helpers: none, one, every, every other, the top slot, all 32 bits. */
const READER_MASKS = [0, 1, 0b10, 0b101, 0b110, 0x5555, 0xaaaa, 0x8001, 0x7fff, 0xfffe, 0xffff, 0xffffffff];
const V2_RING_SIZES = [CONSTANTS.KVMRING_RING_SIZE_MIN, MiB, 2 * MiB, CONSTANTS.KVMRING_RING_SIZE_MAX];

/** A whole region in a Buffer, for the ring core library (build/native/libringnet_ring.so). */
const memory = (b: Buffer): RegionMemory => ({ path: 'buffer', ptr: b, length: b.length, fileSize: b.length });

/**
 * A C program generated from the TypeScript layout, so that every member named
 * here is looked up in the header: without arguments it prints the layout, the
 * constants and the geometry functions' results; `geom FILE` runs
 * ringnet_region_geom() on a region in a file; `format FILE SIZE PEERS` writes
 * a region formatted by ringnet_region_format().
 */
function cProgram(): string {
  const lines: string[] = [];
  for (const [name, s] of Object.entries(LAYOUT)) {
    lines.push(`S(${name});`);
    for (const m of Object.keys(s.members)) lines.push(`M(${name}, ${m});`);
  }
  for (const c of Object.keys(CONSTANTS)) lines.push(`C(${c});`);
  return `#include <stdio.h>
#include <stdlib.h>
#include "ringnet_ring.h"

#define S(t) printf("struct %s %zu\\n", #t, sizeof(struct t))
#define M(t, f) printf("member %s %s %zu %zu\\n", #t, #f, offsetof(struct t, f), sizeof(((struct t *)0)->f))
#define C(name) printf("const %s %llu\\n", #name, (unsigned long long)(name))

static unsigned long long sizes[] = { ${REGION_SIZES.map((s) => `${s}ULL`).join(', ')} };
static unsigned int masks[] = { ${READER_MASKS.map((m) => `${m}U`).join(', ')} };
static unsigned int ring_sizes[] = { ${V2_RING_SIZES.map((s) => `${s}U`).join(', ')} };

static void *load(const char *path, long *len)
{
	FILE *f = fopen(path, "rb");
	void *p;

	if (!f || fseek(f, 0, SEEK_END) || (*len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		exit(3);
	p = malloc(*len ? *len : 1);
	if (!p || fread(p, 1, *len, f) != (size_t)*len)
		exit(3);
	fclose(f);
	return p;
}

int main(int argc, char **argv)
{
	struct kvmring_geom g;
	unsigned int i, n, from, to, len, r, q, lane;
	long size;
	void *region;
	FILE *f;

	if (argc == 3 && !strcmp(argv[1], "geom")) {
		region = load(argv[2], &size);
		memset(&g, 0, sizeof(g));
		i = (unsigned int)-ringnet_region_geom(region, size, &g);
		printf("%d %llu %u %u\\n", -(int)i, (unsigned long long)g.region_size, g.max_peers, g.ring_size);
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "format")) {
		size = atol(argv[3]);
		region = calloc(1, size);
		if (!region || ringnet_region_format(region, size, atoi(argv[4]), 0, 0, 7))
			return 4;
		f = fopen(argv[2], "wb");
		if (!f || fwrite(region, 1, size, f) != (size_t)size || fclose(f))
			return 3;
		return 0;
	}
	${lines.join('\n\t')}
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (n = 0; n <= KVMRING_PEERS_MAX + 1; n++)
			printf("default %llu %u %u\\n", sizes[i], n, kvmring_default_ring_size(sizes[i], n));
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (n = 2; n <= KVMRING_PEERS_MAX; n++) {
			g.region_size = sizes[i];
			g.max_peers = n;
			g.ring_size = kvmring_default_ring_size(sizes[i], n);
			if (!g.ring_size)
				continue;
			for (from = 0; from < n; from++)
				for (to = 0; to < n; to++)
					if (from != to)
						printf("offset %llu %u %u %u %llu\\n", sizes[i], n, from, to,
						       (unsigned long long)kvmring_ring_offset(&g, from, to));
		}
	for (len = 0; len < 200; len++)
		printf("recsize %u %u\\n", len, kvmring_rec_size(len));
	printf("recsize %u %u\\n", KVMRING_FRAME_MAX, kvmring_rec_size(KVMRING_FRAME_MAX));
	for (i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
		printf("lanes %u %u\\n", masks[i], kvmring_lane_count(masks[i]));
		for (n = 0; n <= KVMRING_PEERS_MAX + 1; n++)
			printf("lane %u %u %d\\n", masks[i], n, kvmring_lane_of(masks[i], n));
		for (r = 0; r < sizeof(ring_sizes) / sizeof(ring_sizes[0]); r++)
			for (q = 1; q <= KVMRING_QUEUES_MAX; q++)
				printf("owned %u %u %u %llu\\n", masks[i], ring_sizes[r], q,
				       (unsigned long long)kvmring_owned_used(masks[i], ring_sizes[r], q));
	}
	for (r = 0; r < sizeof(ring_sizes) / sizeof(ring_sizes[0]); r++)
		for (n = 1; n <= KVMRING_QUEUES_MAX; n++)
			for (lane = 0; lane < KVMRING_PEERS_MAX; lane++)
				for (q = 0; q < n; q++)
					printf("qoff %u %u %u %u %llu\\n", ring_sizes[r], n, lane, q,
					       (unsigned long long)kvmring_queue_offset(ring_sizes[r], n, lane, q));
	return 0;
}
`;
}

describe('kvmring/abi.h in TypeScript (src/ring)', () => {
  let dir: string;
  let prog: string;
  const structs = new Map<string, { size: number; members: Map<string, [number, number]> }>();
  const constants = new Map<string, bigint>();
  const other: string[][] = [];

  before(function () {
    requireTier(this, 'unit');
    dir = mkdtempSync(join(tmpdir(), 'ring-layout-'));
    prog = join(dir, 'layout');
    writeFileSync(join(dir, 'layout.c'), cProgram());
    execFileSync(
      'cc',
      ['-std=gnu11', '-Wall', '-Wextra', '-Werror', '-I', 'include', '-I', 'guest-netdev', join(dir, 'layout.c'), 'guest-netdev/ringnet_ring.c', '-o', prog],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    for (const line of execFileSync(prog, { encoding: 'utf8' }).trim().split('\n')) {
      const w = line.split(' ');
      if (w[0] === 'struct') structs.set(w[1], { size: Number(w[2]), members: new Map() });
      else if (w[0] === 'member') structs.get(w[1])!.members.set(w[2], [Number(w[3]), Number(w[4])]);
      else if (w[0] === 'const') constants.set(w[1], BigInt(w[2]));
      else other.push(w);
    }
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const [name, layout] of Object.entries(LAYOUT)) {
    it(`lays out struct ${name} as the header does`, () => {
      const c = structs.get(name);
      assert.ok(c, `no struct ${name} in the C output`);
      assert.equal(layout.size, c.size, `sizeof(struct ${name})`);
      assert.deepEqual(layout.members, Object.fromEntries(c.members));
    });

    it(`covers every byte of struct ${name} with its members`, () => {
      // Members checked against C and tiling the struct leave no C member unnamed.
      const spans = Object.entries(layout.members as Record<string, readonly [number, number]>).sort((a, b) => a[1][0] - b[1][0]);
      let end = 0;
      for (const [m, [offset, size]] of spans) {
        assert.equal(offset, end, `${name}.${m} starts at ${offset}, after a gap or an overlap at ${end}`);
        end = offset + size;
      }
      assert.equal(end, layout.size);
    });
  }

  it("copies every constant with the header's value", () => {
    const ts = Object.fromEntries(Object.entries(CONSTANTS).map(([k, v]) => [k, BigInt(v)]));
    assert.deepEqual(ts, Object.fromEntries(constants));
  });

  it("chooses ring sizes and places rings as the header's functions do", () => {
    let offsets = 0;
    for (const w of other) {
      if (w[0] === 'default') assert.equal(defaultRingSize(Number(w[1]), Number(w[2])), Number(w[3]), `default ring size for ${w[1]} bytes, ${w[2]} peers`);
      if (w[0] === 'recsize') assert.equal(recSize(Number(w[1])), Number(w[2]), `record size of ${w[1]} bytes`);
      if (w[0] === 'offset') {
        const g: Geometry = { regionSize: Number(w[1]), maxPeers: Number(w[2]), ringSize: defaultRingSize(Number(w[1]), Number(w[2])) };
        assert.equal(ringOffset(g, Number(w[3]), Number(w[4])), Number(w[5]), `ring ${w[3]} -> ${w[4]} of ${w[2]} peers in ${w[1]} bytes`);
        offsets++;
      }
    }
    assert.ok(offsets > 1000, `only ${offsets} ring offsets compared`);
    assert.equal(defaultRingSize(16 * MiB, 8), 256 * 1024);
    assert.equal(defaultRingSize(64 * MiB, 8), MiB);
  });

  it("finds lanes and queue blocks in owned regions as the header's v2 functions do", () => {
    const seen = { lanes: 0, lane: 0, owned: 0, qoff: 0 };
    for (const w of other) {
      const n = w.slice(1).map(Number);
      if (w[0] === 'lanes') assert.equal(laneCount(n[0]), n[1], `lanes of readers ${w[1]}`);
      else if (w[0] === 'lane') assert.equal(laneOf(n[0], n[1]), n[2], `lane of slot ${w[2]} among readers ${w[1]}`);
      else if (w[0] === 'owned') assert.equal(ownedUsed(n[0], n[1], n[2]), n[3], `bytes used with readers ${w[1]}, rings of ${w[2]}, ${w[3]} queues`);
      else if (w[0] === 'qoff') assert.equal(queueOffset(n[0], n[1], n[2], n[3]), n[4], `queue ${w[4]} of lane ${w[3]}, rings of ${w[1]}, ${w[2]} queues`);
      else continue;
      seen[w[0]]++;
    }
    assert.deepEqual(seen, {
      lanes: READER_MASKS.length,
      lane: READER_MASKS.length * (CONSTANTS.KVMRING_PEERS_MAX + 2),
      owned: READER_MASKS.length * V2_RING_SIZES.length * CONSTANTS.KVMRING_QUEUES_MAX,
      qoff: V2_RING_SIZES.length * CONSTANTS.KVMRING_PEERS_MAX * ((CONSTANTS.KVMRING_QUEUES_MAX * (CONSTANTS.KVMRING_QUEUES_MAX + 1)) / 2),
    });
    // The header's example: slots {0,1,2} in owner mode, the region of slot 1 is read by 0 and 2.
    assert.equal(laneOf(0b101, 2), 1);
    assert.equal(laneOf(0b101, 1), -1);
    assert.equal(ownedUsed(0b101, MiB, 1), CONSTANTS.KVMRING_LANES_OFF + 2 * (CONSTANTS.KVMRING_QUEUE_CTL_SIZE + MiB));
  });

  it('formats a region through the ring core library that the C core accepts', () => {
    for (const [size, peers] of [
      [16 * MiB, 8],
      [64 * MiB, 16],
      [32 * MiB, 2],
    ]) {
      const region = Buffer.alloc(size, 0xa5);
      const mem = memory(region);
      regionFormat(mem, { maxPeers: peers, flags: 0, instance: 42n });
      const g = regionGeom(mem);
      assert.equal(g.ringSize, defaultRingSize(size, peers));
      const file = join(dir, 'lib-region');
      writeFileSync(file, region);
      assert.equal(execFileSync(prog, ['geom', file], { encoding: 'utf8' }).trim(), `0 ${size} ${peers} ${g.ringSize}`);
      assert.ok(regionPeer(mem, peers - 1).entry.every((b) => b === 0), 'an empty peer entry');
    }
  });

  it('reads a region that the C core formatted', () => {
    const file = join(dir, 'c-region');
    execFileSync(prog, ['format', file, String(16 * MiB), '8']);
    const mem = memory(readFileSync(file));
    assert.deepEqual(regionGeom(mem), { regionSize: 16 * MiB, maxPeers: 8, ringSize: 256 * 1024 });
    for (let slot = 0; slot < 8; slot++) {
      const { entry, stable } = regionPeer(mem, slot);
      assert.equal(stable, true);
      assert.ok(entry.every((b) => b === 0), `slot ${slot} is empty`);
    }
  });

  it('copies what a guest writes into its peer slot, and says when its addresses were changing', () => {
    const region = Buffer.alloc(16 * MiB);
    const mem = memory(region);
    regionFormat(mem, { maxPeers: 8, flags: 0, instance: 1n });
    const p = CONSTANTS.KVMRING_PEER_TABLE_OFF + 3 * LAYOUT.kvmring_peer.size;
    region.writeBigUInt64LE(peerWord(9, CONSTANTS.KVMRING_PEER_UP), p);
    region.writeBigUInt64LE(1234n, p + 8);
    region.writeUInt32LE(3, p + 16);
    region.set([2, 0, 0, 0, 0, 3], p + 28);
    region.writeUInt32LE(4, p + 64);
    region.set([198, 51, 100, 3], p + 80);
    let copy = regionPeer(mem, 3);
    assert.equal(copy.stable, true);
    assert.deepEqual(copy.entry, region.subarray(p, p + LAYOUT.kvmring_peer.size));
    region.writeUInt32LE(5, p + 64); // the owner is writing its addresses
    copy = regionPeer(mem, 3);
    assert.equal(copy.stable, false);
    assert.equal(copy.entry.readUInt32LE(64), 5);
    assert.throws(() => regionPeer(mem, CONSTANTS.KVMRING_PEERS_MAX), RangeError);
    assert.throws(() => regionPeer({ ...mem, length: p + 100 }, 3), RangeError);
  });

  it('refuses the regions the C core refuses, with its errno', () => {
    const base = Buffer.alloc(16 * MiB);
    regionFormat(memory(base), { maxPeers: 8, flags: 0, instance: 1n });
    const cases: [string, (b: Buffer) => void][] = [
      ['no magic', (b) => b.writeBigUInt64LE(0n, 0)],
      ['another ABI version', (b) => b.writeUInt32LE(2, 8)],
      ['a ring size not a power of two', (b) => b.writeUInt32LE(3 << 17, 28)],
      ['rings that do not fit', (b) => b.writeUInt32LE(1 << 20, 28)],
      ['a region larger than the file', (b) => b.writeBigUInt64LE(BigInt(32 * MiB), 16)],
      ['one peer', (b) => b.writeUInt32LE(1, 24)],
      ['another ring header size', (b) => b.writeUInt32LE(128, 40)],
      ['another stride', (b) => b.writeBigUInt64LE(BigInt(256 * 1024), 64)],
    ];
    const file = join(dir, 'bad-region');
    for (const [what, corrupt] of cases) {
      const region = Buffer.from(base);
      corrupt(region);
      writeFileSync(file, region);
      const c = Number(execFileSync(prog, ['geom', file], { encoding: 'utf8' }).split(' ')[0]);
      assert.notEqual(c, 0, `C accepted ${what}`);
      assert.throws(
        () => regionGeom(memory(region)),
        (e: unknown) => e instanceof RingCoreError && -e.errno === c,
        `the library and the C program disagree on ${what} (C says ${c})`,
      );
    }
    assert.throws(() => {
      regionFormat(memory(Buffer.alloc(16 * MiB)), { maxPeers: 16, flags: 0, instance: 1n });
    }, /EINVAL/);
  });
});
