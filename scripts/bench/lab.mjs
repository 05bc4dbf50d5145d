#!/usr/bin/env zx
// ring0 against eth1 between the same two lab guests, in one run: iperf3 TCP
// throughput, UDP packet rate with 64-byte datagrams, ping latency and TCP
// request/response latency. eth1 is the ordinary path (virtio-net, QEMU, a tap
// and a bridge on the host); ring0 is the shared-memory ring.
//
// Under TCG every guest instruction is emulated while QEMU's own copies run
// natively, so these ratios are indicative only; bench:ring measures the ring
// on the real CPU. Boots its own lab (KVMRING_LAB=bench) and takes it down.
// Prints a table and writes JSON under bench-results/.
//
//   npm run bench:lab [-- --doorbell --seconds 5]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { $, argv, chalk } from 'zx';

const root = join(import.meta.dirname, '../..');
$.cwd = root;
$.verbose = false;
process.env.KVMRING_LAB = process.env.KVMRING_LAB || 'bench';

const seconds = Number(argv.seconds ?? 5);
if (!(Number.isInteger(seconds) && seconds >= 1 && seconds <= 60)) {
  console.error('bench:lab: --seconds must be an integer from 1 to 60');
  process.exit(2);
}
const mode = argv.doorbell ? 'doorbell' : 'plain';
const lab = (...args) => $`node scripts/lab.mjs ${args}`;
const inGuest = async (g, ...cmd) => (await lab('exec', '--timeout', String(seconds + 90), g, '--', ...cmd)).stdout;

const PATHS = {
  eth1: { peer: '192.0.2.2' },
  ring0: { peer: '198.51.100.2' },
};

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function tcpThroughput(peer) {
  const out = JSON.parse(await inGuest('g1', 'iperf3', '-c', peer, '-t', String(seconds), '-J'));
  return out.end.sum_received.bits_per_second / 1e9;
}

async function udpRate(peer) {
  const out = JSON.parse(
    await inGuest('g1', 'iperf3', '-c', peer, '-u', '-b', '0', '-l', '64', '-t', String(seconds), '-J'),
  );
  const s = out.end.sum;
  return (s.packets - s.lost_packets) / s.seconds / 1e3;
}

async function pingLatency(peer) {
  const out = await inGuest('g1', 'ping', '-c', '200', '-i', '0.01', '-W', '2', peer);
  const times = [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), min: times[0], n: times.length };
}

// TCP request/response: 1-byte ping-pong over one connection, as netperf TCP_RR does.
const RR = `
const net = require('net');
const [mode, host, n] = process.argv.slice(1);
if (mode === 'server') {
  net.createServer((s) => { s.setNoDelay(true); s.on('data', (b) => s.write(b)); }).listen(5299, host);
} else {
  const s = net.connect(5299, host, () => {
    s.setNoDelay(true);
    const lat = []; let t = process.hrtime.bigint(); let left = Number(n);
    s.on('data', () => {
      const now = process.hrtime.bigint(); lat.push(Number(now - t) / 1e3);
      if (--left === 0) { console.log(JSON.stringify(lat)); s.destroy(); return; }
      t = process.hrtime.bigint(); s.write('x');
    });
    s.write('x');
  });
}`;

async function tcpRr(peer) {
  const lat = JSON.parse(await inGuest('g1', 'node', '-e', RR, 'client', peer, '500')).sort((a, b) => a - b);
  return { p50: percentile(lat, 50) / 1e3, p99: percentile(lat, 99) / 1e3 };
}

const results = { mode, seconds, date: new Date().toISOString(), paths: {} };
let failed = false;
try {
  console.log(`bench:lab: booting two guests (${mode} mode)...`);
  await lab('up', '--guests', '2', ...(mode === 'doorbell' ? ['--doorbell'] : []));
  await inGuest('g2', 'iperf3', '-s', '-D');
  for (const { peer } of Object.values(PATHS)) {
    // Each path gets its own RR server bound to its address; lab down ends them
    // (so nothing waits for them here: `void`).
    void $({ quiet: true, nothrow: true })`node scripts/lab.mjs exec g2 -- timeout 600 node -e ${RR} server ${peer}`;
  }
  await new Promise((r) => setTimeout(r, 2000));
  for (const [name, { peer }] of Object.entries(PATHS)) {
    console.log(`bench:lab: measuring ${name} (g1 -> ${peer})...`);
    results.paths[name] = {
      tcpGbps: await tcpThroughput(peer),
      udpKpps: await udpRate(peer),
      ping: await pingLatency(peer),
      rr: await tcpRr(peer),
    };
  }
} catch (err) {
  failed = true;
  console.error(chalk.red(`bench:lab failed: ${err.stderr || err.message}`));
} finally {
  await lab('down').catch(() => {});
}
if (failed) process.exit(1);

const e = results.paths.eth1;
const r = results.paths.ring0;
const rows = [
  ['metric', 'eth1 (host path)', 'ring0 (kvmring)', 'ring0 / eth1'],
  ['TCP throughput, Gbit/s', e.tcpGbps.toFixed(2), r.tcpGbps.toFixed(2), (r.tcpGbps / e.tcpGbps).toFixed(2)],
  ['UDP 64 B, kpps received', e.udpKpps.toFixed(1), r.udpKpps.toFixed(1), (r.udpKpps / e.udpKpps).toFixed(2)],
  ['ping p50, ms', e.ping.p50.toFixed(3), r.ping.p50.toFixed(3), (r.ping.p50 / e.ping.p50).toFixed(2)],
  ['ping p99, ms', e.ping.p99.toFixed(3), r.ping.p99.toFixed(3), (r.ping.p99 / e.ping.p99).toFixed(2)],
  ['TCP RR p50, ms', e.rr.p50.toFixed(3), r.rr.p50.toFixed(3), (r.rr.p50 / e.rr.p50).toFixed(2)],
  ['TCP RR p99, ms', e.rr.p99.toFixed(3), r.rr.p99.toFixed(3), (r.rr.p99 / e.rr.p99).toFixed(2)],
];
const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
console.log(`\nbench:lab: two guests under QEMU, ${mode} mode, ${seconds} s per throughput run`);
for (const row of rows) console.log(row.map((c, i) => (i ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  '));
console.log('(TCG emulates the guests\' copies but not QEMU\'s: see bench:ring for the ring on the real CPU)');

mkdirSync(join(root, 'bench-results'), { recursive: true });
const file = join(root, 'bench-results', `lab-${mode}-${results.date.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify(results, null, 2));
console.log(`wrote ${file}`);
