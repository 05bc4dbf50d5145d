// bench:profile's parts of the path (scripts/bench/lib/profile.mjs) and tcgprof's
// snapshots (scripts/bench/lib/tcgprof.mjs): guest instructions per code block,
// the difference of two snapshots, named by /proc/kallsyms, grouped into copies,
// ring0's driver, virtio, memory, TCP/IP, scheduling and the rest.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { REPO } from '../helpers/lab.js';
import type { Row, Tcgprof } from '../helpers/tcgprof.js';
import { requireTier } from '../helpers/tier.js';

interface Profile {
  partOf(sym: string): string;
  byPart(rows: Row[]): { parts: Record<string, number>; busy: number };
  renderPerUnit(columns: Record<string, { rows: Row[]; per: number }>, label: string): string;
}

// A guest's instructions by symbol during iperf3 over ring0 (tcgprof's counts, by kallsyms).
const ROWS: Row[] = [
  { sym: 'default_idle', insns: 3812 },
  { sym: 'memcpy_orig', insns: 1740 },
  { sym: 'ringnet_poll', insns: 985 },
  { sym: 'copy_user_enhanced_fast_string', insns: 601 },
  { sym: 'tcp_ack', insns: 450 },
  { sym: '__alloc_pages', insns: 320 },
  { sym: '[user space]', insns: 210 },
  { sym: '_raw_spin_lock', insns: 190 },
  { sym: 'virtnet_poll', insns: 102 },
  { sym: 'some_other_function', insns: 90 },
];

// /proc/kallsyms lines as a 6.1 guest prints them to root: code (t/T), data, a module's.
const KALLSYMS = `ffffffff81000000 T _stext
ffffffff81000000 T startup_64
ffffffff81001000 t memcpy_orig
ffffffff81001200 T tcp_ack
ffffffff82000000 D some_data
ffffffffc0200000 t ringnet_poll	[ringnet]
ffffffffc0200400 t ringnet_rx_queue	[ringnet]
`;

// tcgprof snapshots of one QEMU, earlier and later.
const SNAP0 = 'tcgprof 1 a1 4242\n0 1000 100\nffffffff81001010 50 5\nffffffffc0200010 20 2\n';
const SNAP1 = 'tcgprof 1 b2 4242\n0 1500 150\nffffffff81001010 350 35\nffffffffc0200010 20 2\nffffffffc0200480 40 4\nffffffff81001200 10 1\n';

describe('bench:profile: guest instructions by part of the path (scripts/bench/lib/profile.mjs, tcgprof.mjs)', function () {
  let p: Profile;
  let t: Tcgprof;
  before(async function () {
    requireTier(this, 'unit');
    p = (await import(pathToFileURL(join(REPO, 'scripts/bench/lib/profile.mjs')).href)) as Profile;
    t = (await import(pathToFileURL(join(REPO, 'scripts/bench/lib/tcgprof.mjs')).href)) as Tcgprof;
  });

  it("reads tcgprof's snapshots, and refuses a file that is not one", () => {
    const s = t.parseSnapshot(SNAP1);
    assert.equal(s.tag, 'b2');
    assert.equal(s.pid, 4242);
    assert.equal(s.blocks.size, 5);
    assert.deepEqual(s.blocks.get('ffffffff81001010'), { insns: 350, execs: 35 });
    assert.deepEqual(s.blocks.get('0'), { insns: 1500, execs: 150 });
    assert.throws(() => t.parseSnapshot('perf 1\n'), /not a tcgprof snapshot/);
    assert.throws(() => t.parseSnapshot('tcgprof 1\n0 1 1\n'), /not a tcgprof snapshot/);
    assert.throws(() => t.parseSnapshot('tcgprof 1 a 1\nzz 1 1\n'), /bad line "zz 1 1"/);
  });

  it('keeps what ran between two snapshots, blocks that ran only', () => {
    const d = t.diffSnapshots(t.parseSnapshot(SNAP0), t.parseSnapshot(SNAP1));
    assert.deepEqual([...d.keys()].sort(), ['0', 'ffffffff81001010', 'ffffffff81001200', 'ffffffffc0200480']);
    assert.deepEqual(d.get('ffffffff81001010'), { insns: 300, execs: 30 });
    assert.deepEqual(d.get('ffffffffc0200480'), { insns: 40, execs: 4 });
  });

  it('refuses the difference of two QEMUs\' snapshots (a guest booted again)', () => {
    const other = t.parseSnapshot(SNAP1.replace('b2 4242', 'b2 4243'));
    assert.throws(() => t.diffSnapshots(t.parseSnapshot(SNAP0), other), /two QEMUs \(pid 4242, then 4243\): the guest was booted again/);
  });

  it('names a block by the code symbol that holds it, modules included', () => {
    const syms = t.parseKallsyms(KALLSYMS);
    assert.equal(syms.names.length, 6, 'code symbols only');
    assert.equal(t.symbolOf(syms, 'ffffffff81001010'), 'memcpy_orig');
    assert.equal(t.symbolOf(syms, 'ffffffff81001200'), 'tcp_ack');
    assert.equal(t.symbolOf(syms, 'ffffffffc0200480'), 'ringnet_rx_queue');
    assert.equal(t.symbolOf(syms, 'ffffffff80000000'), '[unknown]');
    assert.equal(t.symbolOf(syms, '0'), t.USER);
    assert.throws(() => t.parseKallsyms('0000000000000000 T _stext\n'), /kptr_restrict/);
  });

  it('adds up instructions by symbol, most first, with their share', () => {
    const rows = t.bySymbol(t.diffSnapshots(t.parseSnapshot(SNAP0), t.parseSnapshot(SNAP1)), t.parseKallsyms(KALLSYMS));
    assert.deepEqual(rows.map((r) => [r.sym, r.insns, r.kernel]), [
      ['[user space]', 500, false],
      ['memcpy_orig', 300, true],
      ['ringnet_rx_queue', 40, true],
      ['tcp_ack', 10, true],
    ]);
    assert.equal(rows[1].percent.toFixed(2), (30000 / 850).toFixed(2));
  });

  it('puts each symbol in its part, the first that matches', () => {
    const cases: [string, string][] = [
      ['default_idle', 'idle'],
      ['memcpy_orig', 'copy'],
      ['clear_page_erms', 'zeroing'],
      ['memset_erms', 'zeroing'],
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
      ['[user space]', 'user space'],
      ['_raw_spin_lock', 'interrupts, timers, scheduling'],
      ['some_other_function', 'other'],
    ];
    for (const [sym, part] of cases) assert.equal(p.partOf(sym), part, sym);
  });

  it('adds up each part, and all but idle', () => {
    const { parts, busy } = p.byPart(ROWS);
    assert.equal(parts.idle, 3812);
    assert.equal(parts.copy, 2341);
    assert.equal(parts['ring0 driver'], 985);
    assert.equal(parts['user space'], 210);
    assert.equal(parts.other, 90);
    assert.equal(busy, 4688);
  });

  it('prints instructions per unit, a column per profile', () => {
    const out = p.renderPerUnit({ 'ring0 g1': { rows: ROWS, per: 2 }, empty: { rows: [], per: 0 } }, 'per GB').split('\n');
    assert.match(out[0], /^per GB\s+ring0 g1\s+empty$/);
    assert.match(out.find((l) => l.startsWith('copy'))!, /^copy\s+1171\s+0$/);
    assert.match(out.find((l) => l.startsWith('ring0 driver'))!, /^ring0 driver\s+493\s+0$/);
    assert.match(out[out.length - 1], /^all but idle\s+2344\s+0$/);
  });
});
