#!/usr/bin/env zx
// Two guest settings against each other in ONE boot of the lab. On a busy 2-core
// host whole boots fall into a fast or a slow regime (README, bench:lab), so two
// settings measured in two boots compare the boots as much as the settings; here
// both run in the same boot, alternately. Boots g1 and g2 (plain or doorbell mode),
// measures the host's work idle, then for each round runs setting A's command in
// both guests and measures g1 -> g2 over ring0 (198.51.100.2) as bench:lab does
// (lib/measure.mjs's LabBench): TCP with 1 stream and the host's CPU seconds per GB
// and context switches per packet meanwhile, and sockperf's TCP request/response
// p50 and p99 without busy polling; then the same with setting B; A, B, A, B, ...
// for --rounds rounds. Each command must set the whole state it compares: A's
// setting stays in force until B's command runs. Prints a row per metric (A's and
// B's medians, B/A, every round's value) and writes JSON under bench-results/.
// Its own lab (KVMRING_LAB, default "ab"), taken down at the end.
//
//   npm run bench:ab -- --a CMD --b CMD [--mode plain|doorbell] [--rounds 3] [--seconds 3]
//                       [--udp (UDP 64 B too)] [--label-a A --label-b B]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { $, chalk } from 'zx';

import { AbUsageError, USAGE, abRows, parseAbArgs, renderAbHeading, renderAbTable, scriptArgs } from './lib/ab.mjs';
import { LabBench } from './lib/measure.mjs';
import { busyText } from './lib/report.mjs';

const root = join(import.meta.dirname, '../..');
$.cwd = root;
$.verbose = false;
process.env.KVMRING_LAB = process.env.KVMRING_LAB || 'ab';

let opts;
try {
  opts = parseAbArgs(scriptArgs(process.argv, import.meta.filename));
} catch (err) {
  if (!(err instanceof AbUsageError)) throw err;
  console.error(`bench:ab: ${err.message}\n${USAGE}`);
  process.exit(2);
}
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}

const RING0_PEER = '198.51.100.2';
const bench = new LabBench({ root, seconds: opts.seconds });
const log = (s) => console.log(chalk.dim(`bench:ab: ${s}`));

// Ctrl-C reaches the command running in a guest too, whose failure ends the bench
// and takes the lab down; a signal to this process alone stops it after the run
// under way.
let stopping = null;
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => (stopping = sig));

/** One setting's runs over ring0: TCP 1 stream with the host's work, RR without busy polling, and with --udp UDP 64 B. */
async function measure(setting, round) {
  const step = (what) => {
    if (stopping) throw new Error(`stopped by ${stopping}`);
    log(`round ${round}/${opts.rounds}, ${setting.label}: ${what}`);
  };
  step(`${setting.cmd} (g1, g2)`);
  await bench.applySetting(setting.cmd, `setting ${setting.label}`);
  step('TCP, 1 stream');
  const tcp1 = await bench.tcp(RING0_PEER, 1);
  step('TCP request/response');
  const rr = await bench.rr(RING0_PEER);
  if (!opts.udp) return { tcp1, rr };
  step('UDP, 64 B');
  return { tcp1, rr, udp: await bench.udp64(RING0_PEER) };
}

const results = {
  date: new Date().toISOString(),
  lab: process.env.KVMRING_LAB,
  mode: opts.mode,
  seconds: opts.seconds,
  peer: RING0_PEER,
  a: opts.a,
  b: opts.b,
  accel: null,
  rounds: [],
  notes: [],
};
let failed = false;
try {
  log(`booting two guests (${opts.mode} mode)...`);
  Object.assign(results, await bench.boot(opts.mode));
  await bench.startServers();
  log(`the host's work with the guests idle (${opts.seconds} s)`);
  results.idle = await bench.measureIdle();
  results.idleGuestBusy = bench.idleGuestBusy;
  for (let round = 1; round <= opts.rounds; round++) {
    const r = { a: await measure(opts.a, round) };
    r.b = await measure(opts.b, round);
    results.rounds.push(r);
  }
} catch (err) {
  failed = true;
  console.error(chalk.red(`bench:ab: ${(err.stderr || err.message).trim()}`));
} finally {
  log('taking the lab down');
  await bench.lab('down').catch((err) => console.error(chalk.yellow(`bench:ab: lab down: ${(err.stderr || err.message).trim()}`)));
}
if (failed) process.exit(1);

for (const why of bench.retries) results.notes.push(`ran again after it got stuck: ${why}`);
results.summary = abRows(results.rounds);
console.log(`\n${renderAbHeading(results)}`);
console.log(renderAbTable(results));
if (results.idleGuestBusy) {
  console.log(`guests idle (before any setting), CPU busy: ${busyText(results.idleGuestBusy)}`);
}
for (const n of results.notes) console.log(chalk.yellow(`note: ${n}`));
console.log(
  chalk.dim(
    '\nhost work: CPU time and context switches of the QEMU threads that are not vCPUs, ksoftirqd and vhost,\n' +
      "above their idle rate (measured once, before either setting), per what g2 received. RR: sockperf round\n" +
      'trips without busy polling. Compare the medians against the spread of the rounds.',
  ),
);
mkdirSync(join(root, 'bench-results'), { recursive: true });
const json = join(root, 'bench-results', `ab-${results.date.replace(/[:.]/g, '-')}.json`);
writeFileSync(json, JSON.stringify(results, null, 2));
console.log(`wrote ${relative(root, json)}`);
process.exit(0);
