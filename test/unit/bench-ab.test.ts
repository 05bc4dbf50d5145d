// bench:ab's arguments and table (scripts/bench/lib/ab.mjs), without a lab: the
// command line's checks, and the rows from rounds shaped as LabBench.tcp() and
// rr() return them.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { REPO } from '../helpers/lab.js';
import { requireTier } from '../helpers/tier.js';

interface Setting { label: string; cmd: string }
interface Options { a: Setting; b: Setting; mode: string; rounds: number; seconds: number; udp: boolean; help?: boolean }
interface Side {
  tcp1: { gbps: number; host: { cpuSPerGB: number | null; ctxPerPkt: number | null } };
  rr: { p50: number; p99: number };
  udp?: { kpps: number; deviceKpps: number; host: { ctxPerPkt: number | null } };
}
interface Round { a: Side; b: Side }
interface Row { key: string; label: string; a: { values: (number | null)[]; median: number | null }; b: { values: (number | null)[]; median: number | null }; ratio: number | null }
interface Results { a: Setting; b: Setting; mode: string; seconds: number; accel?: string | null; rounds: Round[] }
interface Ab {
  USAGE: string;
  AbUsageError: new (m: string) => Error;
  parseAbArgs(args: string[]): Options;
  scriptArgs(argv: string[], scriptPath: string): string[];
  median(values: (number | null)[]): number | null;
  abRows(rounds: Round[]): Row[];
  renderAbTable(results: Results): string;
  renderAbHeading(results: Results): string;
}

function side(gbps: number, cpuSPerGB: number | null, ctxPerPkt: number, p50: number, p99: number): Side {
  return { tcp1: { gbps, host: { cpuSPerGB, ctxPerPkt } }, rr: { p50, p99 } };
}

// Three rounds: B is faster and cheaper, with one slow round of A's in the middle.
const RESULTS: Results = {
  a: { label: 'off', cmd: 'ethtool -C ring0 adaptive-rx off' },
  b: { label: 'on', cmd: 'ethtool -C ring0 adaptive-rx on' },
  mode: 'plain',
  seconds: 3,
  accel: 'tcg',
  rounds: [
    { a: side(3.82, 1.12, 3.44, 308, 594), b: side(6.1, 0.41, 1.31, 250, 408) },
    { a: side(1.5, 2.5, 5.2, 450, 900), b: side(5.9, 0.45, 1.4, 262, 431) },
    { a: side(3.7, 1.2, 3.5, 310, 610), b: side(6.3, null, 1.2, 240, 400) },
  ],
};

describe('bench:ab: its arguments and table (scripts/bench/lib/ab.mjs)', function () {
  let ab: Ab;
  before(async function () {
    requireTier(this, 'unit');
    ab = (await import(pathToFileURL(join(REPO, 'scripts/bench/lib/ab.mjs')).href)) as Ab;
  });

  const usageError = (args: string[], message: RegExp) => {
    assert.throws(() => ab.parseAbArgs(args), (err: Error) => err instanceof ab.AbUsageError && message.test(err.message), args.join(' '));
  };

  it('takes both commands and fills in the rest: plain mode, 3 rounds of 3 s, labels A and B', () => {
    assert.deepEqual(ab.parseAbArgs(['--a', 'sysctl -w net.core.busy_read=0', '--b', ' sysctl -w net.core.busy_read=50 ']), {
      a: { label: 'A', cmd: 'sysctl -w net.core.busy_read=0' },
      b: { label: 'B', cmd: 'sysctl -w net.core.busy_read=50' },
      mode: 'plain',
      rounds: 3,
      seconds: 3,
      udp: false,
    });
  });

  it('measures UDP 64 B too with --udp, in rows of their own', () => {
    assert.equal(ab.parseAbArgs(['--a', 'x', '--b', 'y', '--udp']).udp, true);
    const udp = (kpps: number, deviceKpps: number, ctxPerPkt: number) => ({ kpps, deviceKpps, host: { ctxPerPkt } });
    const rounds = RESULTS.rounds.map((r, i) => ({ a: { ...r.a, udp: udp(10 + i, 40, 0.1) }, b: { ...r.b, udp: udp(30 + i, 35, 0.05) } }));
    const rows = ab.abRows(rounds);
    assert.deepEqual(rows.slice(5).map((r) => r.key), ['udp', 'udpDevice', 'ctxUdp']);
    assert.deepEqual(rows[5].a, { values: [10, 11, 12], median: 11 });
    assert.equal(rows[5].ratio, 31 / 11);
    assert.deepEqual(rows[6].b, { values: [35, 35, 35], median: 35 });
  });

  it('takes the mode, rounds, seconds and labels, in any order and as --name=value', () => {
    const o = ab.parseAbArgs([
      '--label-b', 'on', '--mode=doorbell', '--a', 'ethtool -C ring0 adaptive-rx off', '--rounds', '5',
      '--b=ethtool -C ring0 adaptive-rx on', '--seconds', '10', '--label-a', 'off',
    ]);
    assert.deepEqual(o, {
      a: { label: 'off', cmd: 'ethtool -C ring0 adaptive-rx off' },
      b: { label: 'on', cmd: 'ethtool -C ring0 adaptive-rx on' },
      mode: 'doorbell',
      rounds: 5,
      seconds: 10,
      udp: false,
    });
    assert.deepEqual(ab.parseAbArgs(['--help']), { help: true });
  });

  it('refuses a command line it cannot run, saying what is wrong', () => {
    usageError([], /^--a is required/);
    usageError(['--a', 'x'], /^--b is required/);
    usageError(['--a', '  ', '--b', 'y'], /^--a is required/);
    usageError(['--a', 'x', '--b'], /^--b needs a value$/);
    usageError(['--a', '--b', 'y'], /^--a needs a value$/);
    usageError(['--a', 'x', '--b', 'y', '--round', '3'], /^unknown option --round$/);
    // An unquoted command: its words spill out as options and arguments.
    usageError(['--a', 'sysctl', '-w', 'x', '--b', 'y'], /^unknown option -w \(quote each setting's command/);
    usageError(['--a', 'ethtool', 'x', '--b', 'y'], /^unexpected argument x: quote each setting's command/);
    usageError(['--a', 'x', '--b', 'y', '--mode', 'both'], /^--mode is plain or doorbell \(got "both"\)$/);
    for (const bad of ['0', '21', '2.5', '-1', 'three', '']) {
      usageError(['--a', 'x', '--b', 'y', `--rounds=${bad}`], /^--rounds must be an integer from 1 to 20/);
    }
    for (const bad of ['0', '61', '1e1']) {
      usageError(['--a', 'x', '--b', 'y', `--seconds=${bad}`], /^--seconds must be an integer from 1 to 60/);
    }
    usageError(['--a', 'x', '--b', 'y', '--label-a', 'on', '--label-b', 'on'], /^--label-a and --label-b must differ/);
    usageError(['--a', 'x', '--b', 'y', '--label-b', 'A'], /^--label-a and --label-b must differ \(both are "A"\)$/);
    usageError(['--a', 'x', '--b', 'y', '--label-a', ' '], /^--label-a must not be empty$/);
    assert.match(ab.USAGE, /--a CMD --b CMD/);
  });

  it("finds the script's own arguments under node and under zx", () => {
    const script = join(REPO, 'scripts/bench/ab.mjs');
    assert.deepEqual(ab.scriptArgs(['/usr/bin/node', script, '--a', 'x'], script), ['--a', 'x']);
    assert.deepEqual(ab.scriptArgs(['/usr/bin/node', '/x/zx', '--quiet', script, '--a', 'x'], script), ['--a', 'x']);
    assert.deepEqual(ab.scriptArgs(['/usr/bin/node', 'other.mjs', '--a', 'x'], script), ['--a', 'x']);
  });

  it('takes the median of the values there are', () => {
    assert.equal(ab.median([3, 1, 2]), 2);
    assert.equal(ab.median([4, 1, 3, 2]), 2.5);
    assert.equal(ab.median([null, 5]), 5);
    assert.equal(ab.median([null]), null);
    assert.equal(ab.median([]), null);
  });

  it("has a row per metric, bench:lab's own labels, each side's rounds and medians and B/A", () => {
    const rows = ab.abRows(RESULTS.rounds);
    assert.deepEqual(rows.map((r) => [r.key, r.label]), [
      ['tcp1', 'TCP, 1 stream, Gbit/s'],
      ['hostGB1', 'host CPU per GB, TCP 1, s/GB'],
      ['ctx1', 'host ctx switches per pkt, TCP 1'],
      ['rrP50', 'TCP RR p50, µs'],
      ['rrP99', 'TCP RR p99, µs'],
    ]);
    assert.deepEqual(rows[0].a, { values: [3.82, 1.5, 3.7], median: 3.7 });
    assert.equal(rows[0].ratio, 6.1 / 3.7);
    // A run that moved nothing has no per-GB figure: left out of the median, shown as '-'.
    assert.deepEqual(rows[1].b, { values: [0.41, 0.45, null], median: 0.43 });
  });

  it('prints the table: medians, B/A and a column per round of each side, lined up', () => {
    const lines = ab.renderAbTable(RESULTS).split('\n');
    assert.equal(lines.length, 6);
    assert.match(lines[0], /^metric +off median +on median +on\/off +off 1 +off 2 +off 3 +on 1 +on 2 +on 3$/);
    assert.deepEqual(lines.slice(1).map((l) => l.split(/ {2,}/)), [
      ['TCP, 1 stream, Gbit/s', '3.70', '6.10', '1.65', '3.82', '1.50', '3.70', '6.10', '5.90', '6.30'],
      ['host CPU per GB, TCP 1, s/GB', '1.20', '0.430', '0.358', '1.12', '2.50', '1.20', '0.410', '0.450', '-'],
      ['host ctx switches per pkt, TCP 1', '3.50', '1.31', '0.374', '3.44', '5.20', '3.50', '1.31', '1.40', '1.20'],
      ['TCP RR p50, µs', '310', '250', '0.806', '308', '450', '310', '250', '262', '240'],
      ['TCP RR p99, µs', '610', '408', '0.669', '594', '900', '610', '408', '431', '400'],
    ]);
    // Columns line up: every value ends where the header's does.
    const end = lines[0].length;
    for (const l of lines) assert.equal(l.length, end, l);
    // One round, default labels.
    assert.match(ab.renderAbTable({ ...RESULTS, a: { label: 'A', cmd: 'x' }, b: { label: 'B', cmd: 'y' }, rounds: RESULTS.rounds.slice(0, 1) }).split('\n')[0], /^metric +A median +B median +B\/A +A 1 +B 1$/);
  });

  it('names the mode, the rounds and each setting\'s command above the table', () => {
    assert.deepEqual(ab.renderAbHeading(RESULTS).split('\n'), [
      'bench:ab: g1 -> g2 over ring0, plain mode, 3 rounds of off then on, 3 s per run (tcg), one boot',
      'off: ethtool -C ring0 adaptive-rx off',
      'on : ethtool -C ring0 adaptive-rx on',
    ]);
  });
});
