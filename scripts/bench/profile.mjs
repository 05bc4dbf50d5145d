#!/usr/bin/env zx
// Where a byte and a packet spend the guests' time, over eth1 and over ring0.
// Under TCG a guest's time is what TCG emulates, so this counts that exactly:
// both guests' QEMUs load the tcgprof plugin (`lab up --tcg-profile`,
// scripts/bench/tcgprof/), which adds up the guest kernel's instructions per
// code block; a snapshot before and after each run, minus each other, by the
// guest's /proc/kallsyms, grouped into the parts of the path
// (scripts/bench/lib/profile.mjs), per GB or per packet g2 received. g1 sends
// with iperf3: TCP for bytes, UDP with 64-byte datagrams for packets. One vCPU
// per guest (the plugin's counters are exact there). perf's cpu-clock samples
// a TCG guest's idle loop, not its work, so this does not use perf; on a KVM
// host, `perf record -a` in the guests gives time instead of instructions.
//
//   npm run bench:profile [-- --mode plain|doorbell --seconds 5 --top 8]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { $, argv, chalk } from 'zx';

import { renderPerUnit } from './lib/profile.mjs';
import { bySymbol, diffSnapshots, parseKallsyms, requestSnapshot } from './lib/tcgprof.mjs';
import { LabBench } from './lib/measure.mjs';
import { busyFraction, parseCpuLine } from './lib/hostwork.mjs';
import { guestPaths, labPaths } from '../lib/lab-config.mjs';

const root = join(import.meta.dirname, '../..');
$.cwd = root;
$.verbose = false;
process.env.KVMRING_LAB = process.env.KVMRING_LAB || 'profile';

const seconds = Number(argv.seconds ?? 5);
const top = Number(argv.top ?? 8);
const mode = argv.mode ?? 'doorbell';
if (!(Number.isInteger(seconds) && seconds >= 2 && seconds <= 60) || !['plain', 'doorbell'].includes(mode) || !(top >= 1)) {
  console.error('bench:profile: --mode plain|doorbell, --seconds from 2 to 60, --top N');
  process.exit(2);
}

const bench = new LabBench({ root, seconds: seconds + 30 });
const GUESTS = ['g1', 'g2'];
const PATHS = { eth1: '192.0.2.2', ring0: '198.51.100.2' };
const WORKLOADS = {
  TCP: { iperf: [], label: 'M guest instructions per GB', per: (rx) => rx.bytes / 1e3 },
  'UDP 64 B': { iperf: ['-u', '-b', '0', '-l', '64'], label: 'guest instructions per packet', per: (rx) => rx.packets },
};

/** Snapshots of both guests' counters, and their /proc/stat cpu lines. */
async function sample() {
  const snaps = {};
  const stat = {};
  for (const g of GUESTS) {
    snaps[g] = await requestSnapshot(guestPaths(labPaths(), Number(g.slice(1))).tcgprof);
    stat[g] = parseCpuLine(await bench.sh(g, 'head -1 /proc/stat'));
  }
  return { snaps, stat };
}

const results = { mode, seconds, date: new Date().toISOString(), counted: 'guest instructions (TCG, tcgprof)', workloads: {} };
let failed = false;
try {
  console.log(`bench:profile: booting two guests (${mode} mode, TCG with tcgprof)...`);
  await bench.lab('up', '--guests', '2', '--accel', 'tcg', '--tcg-profile', ...(mode === 'doorbell' ? ['--doorbell'] : []));
  await bench.startServers();
  const syms = {};
  for (const g of GUESTS) syms[g] = parseKallsyms(await bench.sh(g, "grep -i ' t ' /proc/kallsyms"));
  for (const [wname, w] of Object.entries(WORKLOADS)) {
    results.workloads[wname] = {};
    for (const [path, peer] of Object.entries(PATHS)) {
      console.log(`bench:profile: ${wname}, ${path}...`);
      const c0 = await bench.received();
      const s0 = await sample();
      const iperf = JSON.parse(await bench.inGuest('g1', 'iperf3', '-c', peer, ...w.iperf, '-t', String(seconds), '-J'));
      const s1 = await sample();
      const c1 = await bench.received();
      const rx = { packets: c1.packets - c0.packets, bytes: c1.bytes - c0.bytes };
      const r = { rx, iperf: iperf.end };
      for (const g of GUESTS) {
        const rows = bySymbol(diffSnapshots(s0.snaps[g], s1.snaps[g]), syms[g]);
        r[g] = { rows: rows.slice(0, 400), insns: rows.reduce((s, x) => s + x.insns, 0), busy: busyFraction(s0.stat[g], s1.stat[g]) };
      }
      results.workloads[wname][path] = r;
    }
  }
} catch (err) {
  failed = true;
  console.error(chalk.red(`bench:profile failed: ${err.stderr || err.message}`));
} finally {
  await bench.lab('down').catch(() => {});
}
if (failed) process.exit(1);

for (const [wname, w] of Object.entries(WORKLOADS)) {
  const r = results.workloads[wname];
  const columns = {};
  for (const path of Object.keys(PATHS)) {
    for (const g of GUESTS) columns[`${path} ${g}`] = { rows: r[path][g].rows, per: w.per(r[path].rx) };
  }
  console.log(`\n${chalk.bold(`bench:profile: ${wname}, ${mode} mode, ${seconds} s, g1 sends to g2`)}`);
  console.log(renderPerUnit(columns, w.label));
  const both = {};
  for (const path of Object.keys(PATHS)) {
    both[path] = (r[path].g1.insns + r[path].g2.insns) / Math.max(w.per(r[path].rx), 1e-12);
    const rate = GUESTS.map((g) => `${g} ${(r[path][g].insns / seconds / 1e6).toFixed(0)} M/s at ${(100 * r[path][g].busy).toFixed(0)}% busy`).join(', ');
    console.log(`  ${path}: ${both[path].toPrecision(3)} ${w.label} in both guests; ${r[path].rx.packets} packets, ${(r[path].rx.bytes / 1e6).toFixed(1)} MB received; instructions run: ${rate}`);
  }
  console.log(`  ring0/eth1, both guests' instructions per unit: ${(both.ring0 / both.eth1).toFixed(2)}`);
  for (const path of Object.keys(PATHS)) {
    for (const g of GUESTS) {
      const rows = r[path][g].rows.slice(0, top).map((x) => `${x.percent.toFixed(1)}% ${x.sym}`);
      console.log(chalk.dim(`  top of ${path} ${g}: ${rows.join(' | ')}`));
    }
  }
}

mkdirSync(join(root, 'bench-results'), { recursive: true });
const file = join('bench-results', `profile-${mode}-${results.date.replace(/[:.]/g, '-')}.json`);
writeFileSync(join(root, file), JSON.stringify(results, null, 2));
console.log(`\nwrote ${file}`);
