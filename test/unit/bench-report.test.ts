// bench:lab's table, the demo's short lines and the SVG picture
// (scripts/bench/lib/report.mjs and svg.mjs), from results shaped as
// lib/measure.mjs makes them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { REPO } from '../helpers/lab.js';
import { requireTier } from '../helpers/tier.js';

interface Host {
  cpuSPerGB: number | null;
  cpuMsPer1000Pkts: number | null;
  ctxPerPkt: number | null;
}
interface PathResult {
  tcp1: { gbps: number; host: Host };
  tcp4: { gbps: number; host: Host };
  udp: { kpps: number; deviceKpps: number; host: Host };
  rr: { p50: number; p99: number; guestBusy: number };
  rrBusy: { p50: number; p99: number; guestBusy: number };
}
interface Mode {
  mode: string;
  paths: Partial<Record<'eth1' | 'ring0' | 'transparent', PathResult>>;
}
interface Report {
  renderTable(mode: Mode): string;
  renderShort(mode: Mode): string;
  ratio(a: number | undefined, b: number | undefined): number | null;
  fmt(v: number | null | undefined): string;
  busyText(busy: Record<string, number>): string;
  metricRows(mode: Mode): { metric: { key: string }; values: Record<string, number | undefined> }[];
}
interface Svg {
  renderSvg(results: { modes: Mode[]; seconds: number; date: string; accel?: string }): string;
  escapeXml(s: string): string;
}

const load = async <T>(path: string) => (await import(pathToFileURL(join(REPO, path)).href)) as T;

function path(gbps: number, p50: number, cpuSPerGB: number, ctxPerPkt: number): PathResult {
  const host = { cpuSPerGB, cpuMsPer1000Pkts: cpuSPerGB * 50, ctxPerPkt };
  return {
    tcp1: { gbps, host },
    tcp4: { gbps: gbps * 1.1, host },
    udp: { kpps: 23.68, deviceKpps: 61.5, host: { cpuSPerGB: 123.5, cpuMsPer1000Pkts: 13.09, ctxPerPkt: 0.226 } },
    rr: { p50, p99: p50 * 2, guestBusy: 0.29 },
    rrBusy: { p50: p50 * 0.9, p99: p50 * 3, guestBusy: 0.5 },
  };
}

const PLAIN: Mode = { mode: 'plain', paths: { eth1: path(1.015, 606.3, 2.29, 2.18), ring0: path(0.881, 497.4, 0, 5.33) } };
const DOORBELL: Mode = {
  mode: 'doorbell',
  paths: { eth1: path(1.2, 600, 2, 2), ring0: path(2.4, 300, 0.5, 0.5), transparent: path(1.8, 450, 1, 1) },
};

describe('bench:lab: its table and picture (scripts/bench/lib/report.mjs, svg.mjs)', function () {
  let report: Report;
  let svg: Svg;
  before(async function () {
    requireTier(this, 'unit');
    report = await load<Report>('scripts/bench/lib/report.mjs');
    svg = await load<Svg>('scripts/bench/lib/svg.mjs');
  });

  it('formats numbers to about three digits and ratios only where both sides are there', () => {
    assert.deepEqual([1234.5, 606.3, 23.68, 2.294, 0.226, 0.0042, 0, undefined, null, NaN].map((v) => report.fmt(v)), [
      '1235', '606', '23.7', '2.29', '0.226', '0.0042', '0', '-', '-', '-',
    ]);
    assert.equal(report.ratio(2, 1), 0.5);
    assert.equal(report.ratio(0, 1), null);
    assert.equal(report.ratio(undefined, 1), null);
    assert.equal(report.busyText({ g1: 0.054, g2: 0.056 }), 'g1 5.4%, g2 5.6%');
  });

  it('prints every metric with eth1, ring0 and their ratio', () => {
    const lines = report.renderTable(PLAIN).split('\n');
    assert.equal(lines.length, 17);
    assert.match(lines[0], /^metric +eth1 +ring0 +ring0\/eth1$/);
    assert.match(lines[1], /^TCP, 1 stream, Gbit\/s +1\.01 +0\.881 +0\.868$/);
    assert.match(lines[4], /^UDP 64 B at g2's device, kpps +61\.5 +61\.5 +1\.00$/);
    assert.match(lines[5], /^TCP RR p50, µs +606 +497 +0\.820$/);
    assert.match(lines[9], /^g1 CPU busy, RR, % +29\.0 +29\.0 +1\.00$/);
    assert.match(lines[11], /^host CPU per GB, TCP 1, s\/GB +2\.29 +0 +0$/);
    assert.match(lines[15], /^host ctx switches per pkt, TCP 1 +2\.18 +5\.33 +2\.44$/);
    // Columns line up: every value ends where the header's does.
    const end = lines[0].length;
    for (const l of lines) assert.equal(l.length, end, l);
  });

  it('adds the transparent column and its ratio when transparent mode was measured', () => {
    const lines = report.renderTable(DOORBELL).split('\n');
    assert.match(lines[0], /^metric +eth1 +ring0 +ring0\/eth1 +transparent +transp\.\/eth1$/);
    assert.match(lines[1], /^TCP, 1 stream, Gbit\/s +1\.20 +2\.40 +2\.00 +1\.80 +1\.50$/);
    assert.match(lines[16], /^host ctx switches per pkt, UDP +0\.226 +0\.226 +1\.00 +0\.226 +1\.00$/);
  });

  it("prints the demo's four lines: TCP, RR p50, host CPU per GB, context switches per packet", () => {
    assert.deepEqual(report.renderShort(DOORBELL).split('\n').map((l) => l.split(/ {2,}/)), [
      ['', 'eth1', 'ring0', 'ring0/eth1'],
      ['TCP, 1 stream, Gbit/s', '1.20', '2.40', '2.00'],
      ['TCP RR p50, µs', '600', '300', '0.500'],
      ['host CPU per GB, TCP 1, s/GB', '2.00', '0.500', '0.250'],
      ['host ctx switches per pkt, TCP 1', '2.00', '0.500', '0.250'],
    ]);
  });

  it('draws well-formed SVG: a panel per mode, bars as long as their value relative to the longest in their group', () => {
    const text = svg.renderSvg({ modes: [PLAIN, DOORBELL], seconds: 3, date: '2026-12-03T13:00:00Z', accel: 'tcg' });
    const lint = spawnSync('xmllint', ['--noout', '-'], { input: text, encoding: 'utf8' });
    if (!lint.error) assert.equal(lint.status, 0, lint.stderr);
    assert.match(text, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(text, />plain mode</);
    assert.match(text, />doorbell mode</);
    assert.match(text, /tcg, 3 s runs, 2026-12-03/);
    // Doorbell TCP 1 stream: ring0 2.40 is the longest (230 px), eth1 1.20 half, transparent 1.80 three quarters.
    const bars = [...text.matchAll(/<rect x="(\d+)" y="\d+" width="([\d.]+)" height="\d+" fill="#\w+"><title>(\w+): ([\d.]+)<\/title>/g)];
    const tcp = bars.filter((m) => Number(m[1]) > 570).slice(0, 3);
    assert.deepEqual(tcp.map((m) => [m[3], m[2], m[4]]), [
      ['eth1', '115.0', '1.20'],
      ['ring0', '230.0', '2.40'],
      ['transparent', '172.5', '1.80'],
    ]);
    // Plain mode has no transparent bars; 16 metrics x 2 paths.
    assert.equal(bars.filter((m) => Number(m[1]) < 570).length, 32);
    assert.equal(svg.escapeXml('a<b & "c"'), 'a&lt;b &amp; &quot;c&quot;');
  });
});
