// bench:ab's pure half (scripts/bench/ab.mjs runs the lab): its arguments, the
// medians of its rounds and its table. The metrics are bench:lab's own
// (report.mjs's METRICS, read from what LabBench.tcp() and rr() return), so an
// A/B row means what the same row of bench:lab's table means. Pure:
// test/unit/bench-ab.test.ts.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { METRICS, fmt, ratio } from './report.mjs';

export const USAGE =
  'usage: npm run bench:ab -- --a CMD --b CMD [--mode plain|doorbell] [--rounds 3] [--seconds 3] [--udp] [--label-a A] [--label-b B]';

export const MODES = ['plain', 'doorbell'];
export const ROUNDS = { default: 3, min: 1, max: 20 };
export const SECONDS = { default: 3, min: 1, max: 60 };

/**
 * What bench:ab compares, in its table's order: bench:lab's rows for TCP 1 stream,
 * RR without busy polling and, with --udp, UDP 64 B (a row no round measured is left out).
 */
export const AB_METRICS = ['tcp1', 'hostGB1', 'ctx1', 'rrP50', 'rrP99', 'udp', 'udpDevice', 'ctxUdp'].map((key) => METRICS.find((m) => m.key === key));

/** Arguments bench:ab cannot run with; the script prints the message and USAGE and exits 2. */
export class AbUsageError extends Error {}

/**
 * The arguments a script got, whether run as `node script.mjs ...` or `zx script.mjs ...`
 * (zx leaves its own arguments and the script's path in process.argv).
 */
export function scriptArgs(argv, scriptPath) {
  const at = argv.findIndex((a, i) => i > 0 && resolve(a) === resolve(scriptPath));
  return argv.slice(at < 0 ? 2 : at + 1);
}

function whole(name, text, { default: dflt, min, max }) {
  if (text === undefined) return dflt;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new AbUsageError(`--${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(text)})`);
  }
  return Number(text);
}

/**
 * bench:ab's command line: { a: { label, cmd }, b: { label, cmd }, mode, rounds,
 * seconds }, or { help: true }. Throws AbUsageError with what is wrong.
 */
export function parseAbArgs(args) {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        a: { type: 'string' },
        b: { type: 'string' },
        'label-a': { type: 'string' },
        'label-b': { type: 'string' },
        mode: { type: 'string' },
        rounds: { type: 'string' },
        seconds: { type: 'string' },
        udp: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    // node:util's messages name the argument in quotes: 'ARG' or '--name <value>'.
    const arg = /'(-*[^' ]*)/.exec(err.message)?.[1];
    const quote = `quote each setting's command, as in --a "ethtool -C ring0 adaptive-rx off"`;
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      throw new AbUsageError(`unknown option ${arg}${/^-[^-]/.test(arg) ? ` (${quote})` : ''}`);
    }
    if (err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') throw new AbUsageError(`unexpected argument ${arg}: ${quote}`);
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && arg) throw new AbUsageError(`${arg} needs a value`);
    throw new AbUsageError(err.message.split('\n')[0]);
  }
  if (values.help) return { help: true };
  const setting = (key) => {
    const cmd = values[key]?.trim();
    if (!cmd) throw new AbUsageError(`--${key} is required: the command that sets setting ${key.toUpperCase()} in both guests`);
    const label = (values[`label-${key}`] ?? key.toUpperCase()).trim();
    if (!label) throw new AbUsageError(`--label-${key} must not be empty`);
    return { label, cmd };
  };
  const a = setting('a');
  const b = setting('b');
  if (a.label === b.label) throw new AbUsageError(`--label-a and --label-b must differ (both are ${JSON.stringify(a.label)})`);
  const mode = values.mode ?? 'plain';
  if (!MODES.includes(mode)) throw new AbUsageError(`--mode is ${MODES.join(' or ')} (got ${JSON.stringify(mode)})`);
  return { a, b, mode, rounds: whole('rounds', values.rounds, ROUNDS), seconds: whole('seconds', values.seconds, SECONDS), udp: values.udp === true };
}

/** The median of the finite values, or null when there are none. */
export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
  if (!v.length) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/**
 * One row per metric over the rounds ([{ a, b }], each side { tcp1, rr, udp? } as
 * LabBench.tcp(), rr() and udp64() return them): every round's value (null where
 * a run gave none), each side's median, and B's median over A's. A metric no
 * round has a value for (UDP without --udp) has no row.
 */
export function abRows(rounds) {
  const measured = (metric) => rounds.some((r) => [r.a, r.b].some((x) => Number.isFinite(metric.get(x))));
  return AB_METRICS.filter(measured).map((metric) => {
    const side = (key) => {
      const values = rounds.map((r) => metric.get(r[key]) ?? null);
      return { values, median: median(values) };
    };
    const a = side('a');
    const b = side('b');
    return { key: metric.key, label: metric.unit ? `${metric.label}, ${metric.unit}` : metric.label, better: metric.better, a, b, ratio: ratio(a.median, b.median) };
  });
}

/**
 * The table: a row per metric with A's and B's medians, B/A, then a column per
 * round of A's and of B's ("A 1", "A 2", ..., "B 1", ...), so that the spread
 * shows. results: { a: { label }, b: { label }, rounds: [{ a, b }] }.
 */
export function renderAbTable(results) {
  const { a, b } = results;
  const rounds = results.rounds.map((_, i) => i + 1);
  const table = [
    ['metric', `${a.label} median`, `${b.label} median`, `${b.label}/${a.label}`, ...rounds.map((i) => `${a.label} ${i}`), ...rounds.map((i) => `${b.label} ${i}`)],
    ...abRows(results.rounds).map((r) => [r.label, fmt(r.a.median), fmt(r.b.median), fmt(r.ratio), ...r.a.values.map(fmt), ...r.b.values.map(fmt)]),
  ];
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  return table.map((r) => r.map((c, i) => (i ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd()).join('\n');
}

/** The lines above the table: what ran where, and each setting's command. */
export function renderAbHeading(results) {
  const { a, b } = results;
  const n = results.rounds.length;
  const w = Math.max(a.label.length, b.label.length);
  return [
    `bench:ab: g1 -> g2 over ring0, ${results.mode} mode, ${n} round${n === 1 ? '' : 's'} of ${a.label} then ${b.label}, ${results.seconds} s per run${results.accel ? ` (${results.accel})` : ''}, one boot`,
    `${a.label.padEnd(w)}: ${a.cmd}`,
    `${b.label.padEnd(w)}: ${b.cmd}`,
  ].join('\n');
}
