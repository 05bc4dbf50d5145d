#!/usr/bin/env zx
// ring0 beside eth1 between the same two lab guests (g1 sends, g2 receives), in
// plain and doorbell mode, over ring0's addresses (direct) and over eth1's
// addresses steered into ring0 by ringctl's XDP and TC programs (transparent):
// TCP throughput with 1 and 4 streams, UDP packets/s with 64-byte datagrams,
// sockperf's TCP request/response round trips with and without busy polling (and
// g1's CPU meanwhile), and the host's work during each throughput run: CPU time and
// context switches of the QEMU threads that are not vCPUs plus ksoftirqd and vhost,
// above what they do idle, per GB and per packet g2 received.
//
// Under TCG every guest instruction is emulated while QEMU's own copies (the host
// path's) run natively, so throughput and latency ratios are distorted; the host's
// work per packet is not. Boots its own lab (KVMRING_LAB, default "bench") for each
// mode and takes it down. Prints a table per mode and writes JSON and an SVG under
// bench-results/; a run of both modes also writes docs/bench-lab.svg.
//
//   npm run bench:lab [-- --mode plain|doorbell|both] [--seconds 5] [--no-transparent]
//                     [--busy-poll-us N (50 on KVM, 1000 under TCG)]
//                     [--setup CMD (run in g1 and g2 after boot, e.g.
//                      "echo 1 > /sys/class/net/ring0/threaded")]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { $, argv, chalk } from 'zx';
import { BUSY_POLL_US, BUSY_POLL_US_TCG, LabBench, busyPollUsFor } from './lib/measure.mjs';
import { busyText, renderTable } from './lib/report.mjs';
import { renderSvg } from './lib/svg.mjs';

const root = join(import.meta.dirname, '../..');
$.cwd = root;
$.verbose = false;
process.env.KVMRING_LAB = process.env.KVMRING_LAB || 'bench';

const seconds = Number(argv.seconds ?? 5);
if (!(Number.isInteger(seconds) && seconds >= 1 && seconds <= 60)) {
  console.error('bench:lab: --seconds must be an integer from 1 to 60');
  process.exit(2);
}
const modeArg = argv.mode ?? (argv.doorbell ? 'doorbell' : 'both');
if (!['plain', 'doorbell', 'both'].includes(modeArg)) {
  console.error('bench:lab: --mode is plain, doorbell or both');
  process.exit(2);
}
const modes = modeArg === 'both' ? ['plain', 'doorbell'] : [modeArg];
const busyPollArg = argv['busy-poll-us'] === undefined ? undefined : Number(argv['busy-poll-us']);
if (busyPollArg !== undefined && !(Number.isInteger(busyPollArg) && busyPollArg >= 1 && busyPollArg <= 100000)) {
  console.error(`bench:lab: --busy-poll-us must be an integer from 1 to 100000 (net.core.busy_read and busy_poll while busy polling; default ${BUSY_POLL_US} on KVM, ${BUSY_POLL_US_TCG} under TCG)`);
  process.exit(2);
}
const transparent = argv.transparent !== false;
const setup = argv.setup === undefined ? undefined : String(argv.setup).trim();
if (setup !== undefined && (!setup || setup === 'true')) {
  console.error('bench:lab: --setup needs a command, run in g1 and g2 after they boot, e.g. --setup "echo 1 > /sys/class/net/ring0/threaded"');
  process.exit(2);
}

const bench = new LabBench({ root, seconds });
const log = (s) => console.log(chalk.dim(`bench:lab: ${s}`));

async function measureMode(mode) {
  const out = { mode, paths: {}, notes: [] };
  log(`booting two guests (${mode} mode)...`);
  Object.assign(out, await bench.boot(mode));
  out.busyPollUs = bench.busyPollUs = busyPollArg ?? busyPollUsFor(out.accel);
  if (setup) {
    log(`${mode}: --setup in g1 and g2: ${setup}`);
    await bench.applySetting(setup, '--setup');
    out.setup = setup;
  }
  await bench.startServers();
  log(`${mode}: the host's work with the guests idle (${seconds} s)`);
  out.idle = await bench.measureIdle();
  out.idleGuestBusy = bench.idleGuestBusy;
  for (const [name, peer] of [['eth1', '192.0.2.2'], ['ring0', '198.51.100.2']]) {
    out.paths[name] = await bench.path(peer, (what) => log(`${mode}, ${name} (g1 -> ${peer}): ${what}`));
  }
  for (const why of bench.retries.splice(0)) out.notes.push(`ran again after it got stuck: ${why}`);
  if (transparent) {
    try {
      log(`${mode}: ringctl attach eth1 --transparent in g1 and g2`);
      await bench.transparentOn();
      const p = await bench.path('192.0.2.2', (what) => log(`${mode}, transparent (g1 -> 192.0.2.2 over ring0): ${what}`));
      const share = p.tcp1.rx.bytes ? p.tcp1.rx.ring0Bytes / p.tcp1.rx.bytes : 0;
      if (share < 0.9) throw new Error(`ring0 received only ${(share * 100).toFixed(0)}% of the transparent TCP run's bytes`);
      out.paths.transparent = p;
      for (const why of bench.retries.splice(0)) out.notes.push(`transparent mode: ran again after it got stuck: ${why}`);
    } catch (err) {
      out.notes.push(`transparent mode: ${err.stderr || err.message}`);
      console.error(chalk.yellow(`bench:lab: ${mode}: transparent mode not measured: ${err.stderr || err.message}`));
    }
  }
  return out;
}

const results = { seconds, date: new Date().toISOString(), lab: process.env.KVMRING_LAB, modes: [] };
let failed = false;
for (const mode of modes) {
  try {
    results.modes.push(await measureMode(mode));
  } catch (err) {
    failed = true;
    console.error(chalk.red(`bench:lab: ${mode} mode failed: ${err.stderr || err.message}`));
  } finally {
    await bench.lab('down').catch(() => {});
  }
}
results.accel = results.modes.find((m) => m.accel)?.accel ?? null;

for (const m of results.modes) {
  console.log(`\nbench:lab: g1 -> g2, ${m.mode} mode, ${seconds} s per run${results.accel ? ` (${results.accel})` : ''}, busy poll ${m.busyPollUs} µs`);
  if (m.setup) console.log(`setup in g1 and g2: ${m.setup}`);
  console.log(renderTable(m));
  if (m.idleGuestBusy) {
    console.log(`guests idle, CPU busy: ${busyText(m.idleGuestBusy)}${m.mode === 'plain' ? " (ring0's poll timers, backing off to poll_idle_us)" : ''}`);
  }
  for (const n of m.notes) console.log(chalk.yellow(`note: ${n}`));
}
if (results.modes.length) {
  console.log(
    chalk.dim(
      "\nhost work: CPU time and context switches of the QEMU threads that are not vCPUs, ksoftirqd and vhost,\n" +
        'above their idle rate, per what g2 received (eth1 + ring0 counters). RR: sockperf round trips.\n' +
        "Under TCG the guests' copies are emulated while QEMU's run natively: the host's work per packet is the\n" +
        'number TCG does not distort; bench:ring measures the ring itself on the real CPU.',
    ),
  );
  mkdirSync(join(root, 'bench-results'), { recursive: true });
  const stamp = results.date.replace(/[:.]/g, '-');
  const json = join(root, 'bench-results', `lab-${modeArg}-${stamp}.json`);
  writeFileSync(json, JSON.stringify(results, null, 2));
  const svg = renderSvg(results);
  const pic = join(root, 'bench-results', `lab-${modeArg}-${stamp}.svg`);
  writeFileSync(pic, svg);
  console.log(`wrote ${relative(root, json)}\nwrote ${relative(root, pic)}`);
  // docs/bench-lab.svg is the defaults' picture.
  if (!failed && results.modes.length === 2 && !setup) {
    writeFileSync(join(root, 'docs', 'bench-lab.svg'), svg);
    console.log('wrote docs/bench-lab.svg');
  }
}
process.exit(failed ? 1 : 0);
