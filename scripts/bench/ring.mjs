#!/usr/bin/env zx
// The ring core on the host CPU against the baselines it must beat, in one run:
// build/native/ring_bench pins a producer and a consumer to two cores and
// measures the ring, a pipe, a UNIX socket and TCP over a veth pair, plus the
// limits (one core's memcpy, the cache-line round trip between the cores, two
// copies across the cores with no ring between them), and the ring against its
// targets (100x a UNIX socket at 64 B, half an in-cache memcpy at 64 KiB).
//
// The veth pair lives between two network namespaces made here and deleted at
// the end, so the TCP traffic never leaves them; without root the TCP row is
// skipped. On a VM the host may move the two vCPUs between runs (SMT siblings,
// one CCX, two), which moves every number; so the bench runs a few rounds and
// prints the median of each, with the spread. Prints a table and writes JSON
// (every round) under bench-results/.
//
//   npm run bench:ring [-- --rounds 3 --seconds 0.5 --ring-size 262144 --cpus 0,1]
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { $, argv, chalk } from 'zx';

const root = join(import.meta.dirname, '../..');
const bench = join(root, 'build/native/ring_bench');
$.verbose = false;

if (!existsSync(bench)) {
  console.error(`bench:ring: ${bench} is missing: run npx zx scripts/build.mjs native`);
  process.exit(1);
}
if (cpus().length < 2) {
  console.error('bench:ring: needs two CPUs, one for each end of the ring');
  process.exit(1);
}

const seconds = Number(argv.seconds ?? 0.5);
if (!(seconds > 0 && seconds <= 10)) {
  console.error('bench:ring: --seconds must be in (0, 10]');
  process.exit(2);
}
const rounds = Number(argv.rounds ?? 3);
if (!(Number.isInteger(rounds) && rounds >= 1 && rounds <= 9)) {
  console.error('bench:ring: --rounds must be an integer from 1 to 9');
  process.exit(2);
}
const args = ['--seconds', String(seconds)];
if (argv['ring-size']) args.push('--ring-size', String(argv['ring-size']));
if (argv.cpus) args.push('--cpus', String(argv.cpus));

// ---- two namespaces joined by a veth pair ----------------------------------
// 198.18.0.0/15 is the range set aside for benchmarks (RFC 2544).
const ns = [`kvmring-bench-a-${process.pid}`, `kvmring-bench-b-${process.pid}`];
const addr = ['198.18.0.1', '198.18.0.2'];
let made = false;
const notes = [];

async function makeNamespaces() {
  made = true;
  for (const n of ns) await $`ip netns add ${n}`;
  await $`ip -n ${ns[0]} link add veth0 type veth peer name veth1 netns ${ns[1]}`;
  for (const i of [0, 1]) {
    await $`ip -n ${ns[i]} addr add ${addr[i]}/30 dev veth${i}`;
    await $`ip -n ${ns[i]} link set veth${i} up`;
    await $`ip -n ${ns[i]} link set lo up`;
  }
}

async function deleteNamespaces() {
  if (!made) return;
  for (const n of ns) await $`ip netns del ${n}`.nothrow();
}

const results = [];
try {
  if (process.getuid?.() === 0) {
    try {
      await makeNamespaces();
      args.push('--netns-a', ns[0], '--netns-b', ns[1], '--addr-b', addr[1]);
    } catch (err) {
      notes.push(`TCP over veth skipped: could not make the namespaces (${(err.stderr || err.message).trim()})`);
    }
  } else {
    notes.push('TCP over veth skipped: making network namespaces needs root');
  }
  for (let i = 0; i < rounds; i++) {
    // Each of the 20 measurements is bounded by --seconds; the binary's own
    // bounds stop a stuck side after a few seconds more.
    const r = await $({ timeout: `${Math.ceil(seconds * 20 + 60)}s`, nothrow: true })`${bench} ${args}`;
    if (r.exitCode !== 0 && !r.stdout.trim().startsWith('{')) {
      throw new Error(`ring_bench failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
    }
    results.push(JSON.parse(r.stdout));
    if (r.exitCode !== 0) notes.push(`round ${i + 1}: ring_bench exited ${r.exitCode}: the ring counted bad records or indices`);
  }
} catch (err) {
  console.error(chalk.red(`bench:ring: ${err.message}`));
  process.exitCode = 1;
} finally {
  await deleteNamespaces();
}
if (!results.length) process.exit(1);

/** The median over the rounds of the number at `path` (keys), or undefined. */
function median(...path) {
  const xs = results.map((r) => path.reduce((o, k) => o?.[k], r)).filter((x) => typeof x === 'number');
  if (!xs.length) return undefined;
  xs.sort((a, b) => a - b);
  return xs.length % 2 ? xs[(xs.length - 1) / 2] : (xs[xs.length / 2 - 1] + xs[xs.length / 2]) / 2;
}
const spread = (...path) => {
  const xs = results.map((r) => path.reduce((o, k) => o?.[k], r)).filter((x) => typeof x === 'number');
  return [Math.min(...xs), Math.max(...xs)];
};

// ---- report -----------------------------------------------------------------
const NAMES = { ring: 'ring', pipe: 'pipe', unix: 'unix socket', tcp_veth: 'TCP over veth' };
const header = ['transport', '64 B Mpps', '1500 B GB/s', '64 KiB GB/s', 'RTT p50 µs', 'RTT p99 µs'];
const fixed = (x, scale) => (x === undefined ? '-' : (x / scale).toFixed(2));
const result = results[0];
const rows = Object.entries(result.transports).map(([key, t]) => {
  if (t.skipped) return [NAMES[key] ?? key, '-', '-', '-', '-', '-'];
  const tp = ['transports', key, 'throughput'];
  const pp = ['transports', key, 'pingpong_64'];
  return [
    NAMES[key] ?? key,
    fixed(median(...tp, '64', 'frames_per_s'), 1e6),
    fixed(median(...tp, '1500', 'bytes_per_s'), 1e9),
    fixed(median(...tp, '65536', 'bytes_per_s'), 1e9),
    fixed(median(...pp, 'rtt_p50_ns'), 1e3),
    fixed(median(...pp, 'rtt_p99_ns'), 1e3),
  ];
});
for (const [key, t] of Object.entries(result.transports)) if (t.skipped && !notes.some((n) => n.startsWith('TCP'))) notes.push(`${NAMES[key]} skipped: ${t.skipped}`);
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const fmt = (r) => r.map((c, i) => (i ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
const c = result.config;
const lim = (k) => median('limits', k);
console.log(
  chalk.bold(
    `ring bench: producer on CPU ${c.cpus[0]}, consumer on CPU ${c.cpus[1]}, ${c.ring_size / 1024} KiB ring, ` +
      `batches of ${c.batch}, ${c.seconds} s per measurement, median of ${results.length} rounds; ` +
      `${cpus()[0]?.model ?? '?'}, kernel ${release()}`,
  ),
);
console.log(fmt(header));
for (const r of rows) console.log(fmt(r));
console.log(
  `limits: memcpy on one core ${(lim('memcpy_cache_bytes_per_s') / 1e9).toFixed(1)} GB/s in cache (64 KiB), ` +
    `${(lim('memcpy_dram_bytes_per_s') / 1e9).toFixed(1)} GB/s from DRAM (256 MiB); ` +
    `cache-line round trip between the cores ${lim('cacheline_rtt_ns').toFixed(0)} ns`,
);
const xcopy = lim('xcore_copy_64k_bytes_per_s');
console.log(
  `two copies across the cores, 64 KiB frames through ${result.limits.xcore_copy_slots} slots (as many as the ring holds) and no ring (the ceiling of any copy-in, ` +
    `copy-out transport): ${(xcopy / 1e9).toFixed(1)} GB/s`,
);
const ring64 = median('transports', 'ring', 'throughput', '64', 'frames_per_s');
const unix64 = median('transports', 'unix', 'throughput', '64', 'frames_per_s');
const ring64k = median('transports', 'ring', 'throughput', '65536', 'bytes_per_s');
const pct = (a, b) => `${((100 * a) / b).toFixed(0)}%`;
console.log(
  `ring against its targets: ${(ring64 / unix64).toFixed(0)}x a UNIX socket at 64 B (target 100x); at 64 KiB ` +
    `${pct(ring64k, lim('memcpy_cache_bytes_per_s'))} of one core's in-cache memcpy (target 50%), ` +
    `${pct(ring64k, xcopy)} of two copies across the cores`,
);
console.log('RTT: a 64-byte ping-pong, one frame there and back, timed per round trip (clock_gettime included).');
if (results.length > 1) {
  const [lo, hi] = spread('transports', 'ring', 'throughput', '64', 'frames_per_s');
  const [llo, lhi] = spread('limits', 'cacheline_rtt_ns');
  console.log(
    `spread over the rounds: ring at 64 B ${(lo / 1e6).toFixed(1)}..${(hi / 1e6).toFixed(1)} Mpps, ` +
      `cache-line round trip ${llo.toFixed(0)}..${lhi.toFixed(0)} ns (where the host runs the two vCPUs)`,
  );
}
for (const n of notes) console.log(`note: ${n}`);

const out = join(root, 'bench-results');
mkdirSync(out, { recursive: true });
const file = join(out, `ring-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(
  file,
  `${JSON.stringify({ bench: 'ring', date: new Date().toISOString(), kernel: release(), cpus: cpus().length, cpu: cpus()[0]?.model, config: result.config, table: { header, rows }, rounds: results, notes }, null, 2)}\n`,
);
console.log(`wrote ${file}`);
