// bench:profile's parts of the path (scripts/bench/lib/profile.mjs): perf report
// lines as perf 6.1 prints them, grouped into copies, ring0's driver, virtio,
// memory, TCP/IP, scheduling and the rest.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { REPO } from '../helpers/lab.js';
import { requireTier } from '../helpers/tier.js';

interface Row {
  percent: number;
  kernel: boolean;
  sym: string;
}
interface Profile {
  parsePerfReport(text: string): Row[];
  partOf(sym: string): string;
  byPart(rows: Row[]): { parts: Record<string, number>; busy: number };
  renderParts(profiles: Record<string, Row[]>): string;
}

// `perf report --stdio --no-children --sort sym -q` in a lab guest during iperf3 over ring0.
const REPORT = `
    38.12%  [k] default_idle
    17.40%  [k] memcpy_orig
     9.85%  [k] ringnet_poll
     6.01%  [k] copy_user_enhanced_fast_string
     4.50%  [k] tcp_ack
     3.20%  [k] __alloc_pages
     2.10%  [.] 0x00000000000a1b2c
     1.90%  [k] _raw_spin_lock
     1.02%  [k] virtnet_poll
     0.90%  [k] some_other_function

`;

describe('bench:profile: perf samples by part of the path (scripts/bench/lib/profile.mjs)', function () {
  let p: Profile;
  before(async function () {
    requireTier(this, 'unit');
    p = (await import(pathToFileURL(join(REPO, 'scripts/bench/lib/profile.mjs')).href)) as Profile;
  });

  it("reads perf report's lines: percent, kernel or user, symbol", () => {
    const rows = p.parsePerfReport(REPORT);
    assert.equal(rows.length, 10);
    assert.deepEqual(rows[0], { percent: 38.12, kernel: true, sym: 'default_idle' });
    assert.deepEqual(rows[6], { percent: 2.1, kernel: false, sym: '0x00000000000a1b2c' });
    assert.deepEqual(p.parsePerfReport('# comment\n\nno rows here\n'), []);
  });

  it('puts each symbol in its part, the first that matches', () => {
    const cases: [string, string][] = [
      ['default_idle', 'idle'],
      ['memcpy_orig', 'copy'],
      ['skb_copy_bits', 'copy'],
      ['copy_user_enhanced_fast_string', 'copy'],
      ['ringnet_poll', 'ring0 driver'],
      ['ringnet_tx_reserve', 'ring0 driver'],
      ['virtnet_poll', 'virtio'],
      ['virtqueue_add_outbuf', 'virtio'],
      ['__alloc_pages', 'memory'],
      ['kmem_cache_alloc_node', 'memory'],
      ['tcp_ack', 'TCP/IP'],
      ['napi_gro_receive', 'TCP/IP'],
      ['_raw_spin_lock', 'interrupts, timers, scheduling'],
      ['some_other_function', 'other'],
    ];
    for (const [sym, part] of cases) assert.equal(p.partOf(sym), part, sym);
  });

  it('adds up each part, and the busy share (all but idle)', () => {
    const { parts, busy } = p.byPart(p.parsePerfReport(REPORT));
    assert.equal(parts.idle, 38.12);
    assert.equal(Number(parts.copy.toFixed(2)), 23.41);
    assert.equal(parts['ring0 driver'], 9.85);
    assert.equal(Number(parts.other.toFixed(2)), 3.0);
    assert.equal(Number(busy.toFixed(2)), 46.88);
  });

  it("prints each part's share of the busy time, a column per profile", () => {
    const out = p.renderParts({ 'ring0 g1': p.parsePerfReport(REPORT), empty: [] }).split('\n');
    assert.match(out[0], /^part of the busy time\s+ring0 g1\s+empty$/);
    assert.match(out.find((l) => l.startsWith('copy'))!, /^copy\s+49\.9%\s+-$/);
    assert.match(out[out.length - 1], /^busy \(of all samples\)\s+46\.9%\s+0\.0%$/);
  });
});
