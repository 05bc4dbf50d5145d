import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { laneCount, laneOf, ownedUsed, queueOffset, recSize } from '../../src/ring/geometry.js';
import { CONSTANTS, LAYOUT } from '../../src/ring/layout.js';
import { requireTier } from '../helpers/tier.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const MiB = 1 << 20;
/** Readers masks of owned regions for the v2 helpers: none, one, every, every other, the top slot, all 32 bits. */
const READER_MASKS = [0, 1, 0b10, 0b101, 0b110, 0x5555, 0xaaaa, 0x8001, 0x7fff, 0xfffe, 0xffff, 0xffffffff];
const V2_RING_SIZES = [CONSTANTS.KVMRING_RING_SIZE_MIN, MiB, 2 * MiB, CONSTANTS.KVMRING_RING_SIZE_MAX];

/**
 * A C program generated from the TypeScript layout, so that every member named
 * here is looked up in the header: it prints the layout, the constants and the
 * results of the header's functions that src/ring/geometry.ts copies.
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

static unsigned int masks[] = { ${READER_MASKS.map((m) => `${m}U`).join(', ')} };
static unsigned int ring_sizes[] = { ${V2_RING_SIZES.map((s) => `${s}U`).join(', ')} };

int main(void)
{
	unsigned int i, n, len, r, q, lane;

	${lines.join('\n\t')}
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

  it("sizes records as the header's function does", () => {
    let sizes = 0;
    for (const w of other) {
      if (w[0] !== 'recsize') continue;
      assert.equal(recSize(Number(w[1])), Number(w[2]), `record size of ${w[1]} bytes`);
      sizes++;
    }
    assert.equal(sizes, 201);
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
});
