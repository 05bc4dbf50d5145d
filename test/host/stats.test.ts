// `ringctl serve` and `ringctl stats` on a veth pair in a namespace with xdp_ring
// attached (a second veth stands in for ring0): a real server process, real
// gRPC clients in Node and in Python (generated from the .proto alone), the
// Prometheus endpoint checked by promtool and against `ringctl stats --json`.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BpfMapFd } from '../../src/libbpf/index.js';
import { StatsSnapshot, type StatsSnapshot as Snapshot } from '../../src/gen/kvmring/v1/stats.js';
import { MAPS } from '../../src/xdp/codecs.js';
import { syncPeers } from '../../src/xdp/maps.js';
import { StatsClient } from '../../src/stats/grpc.js';
import { samples } from '../../src/stats/prometheus.js';
import { REPO } from '../helpers/lab.js';
import { runCli } from '../helpers/run-cli.js';
import { parseExposition } from '../helpers/prometheus.js';
import { requireTier } from '../helpers/tier.js';
import { eventually } from '../helpers/time.js';
import { ensureBpffs, Netns } from './netns.js';

const PYTHON = '/usr/bin/python3';

function sampleKey(name: string, labels: Record<string, string>): string {
  const l = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return l.length ? `${name}{${l.join(',')}}` : name;
}

const xdp = (s: Snapshot, verdict: string) =>
  s.programs.find((p) => p.device === 'eth1' && p.hook === 'HOOK_XDP')?.verdicts.find((v) => v.name === verdict)?.packets ?? -1n;
const reason = (s: Snapshot, name: string) =>
  s.programs.find((p) => p.device === 'eth1' && p.hook === 'HOOK_XDP')?.reasons.find((v) => v.name === name)?.packets ?? -1n;
const iface = (s: Snapshot, dev: string) => s.interfaces.find((i) => i.device === dev);

describe('ringctl serve and stats on veths in a namespace, with xdp_ring attached', function () {
  this.timeout(120_000);
  let ns: Netns;
  let pinRoot: string;
  let env: Record<string, string | undefined>;
  let dir: string;
  let sock: string;
  let server: ChildProcess | undefined;
  let serverLog = '';
  let metricsUrl: string;
  let mountedBpffs = false;

  const sh = (c: string) => execFileSync('ip', ['netns', 'exec', ns.name, 'sh', '-c', c], { encoding: 'utf8' });
  const ping = (n: number) => spawnSync('ip', ['netns', 'exec', ns.name, 'ping', '-c', String(n), '-i', '0.2', '-W', '1', '198.51.100.2']);
  const client = () => new StatsClient(`unix:${sock}`);

  async function getStats(): Promise<Snapshot> {
    const c = client();
    try {
      return await c.getStats();
    } finally {
      c.close();
    }
  }

  before(async function () {
    requireTier(this, 'host');
    mountedBpffs = ensureBpffs();
    pinRoot = `/sys/fs/bpf/ringctl-stats-test-${process.pid}`;
    env = { ...process.env, RINGCTL_PIN_ROOT: pinRoot };
    dir = mkdtempSync(join(tmpdir(), 'ringctl-stats-host-'));
    sock = join(dir, 'ringctl.sock');

    ns = new Netns('rstats');
    ns.ip('link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'peer1');
    ns.ip('link', 'add', 'ring0', 'type', 'veth', 'peer', 'name', 'peer0');
    for (const d of ['lo', 'eth1', 'peer1', 'ring0', 'peer0']) ns.ip('link', 'set', d, 'up');
    // eth1 forwards: xdp_ring's redirect into ring0 is routing (lib/forward.h).
    sh('sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv4.conf.eth1.forwarding=1; ethtool -K peer0 gro on');
    ns.enter();

    const a = await runCli(['attach', 'eth1', '--subnet', '198.51.100.0/24'], env);
    assert.equal(a.code, 0, a.stderr);
    const peers = BpfMapFd.openPinned(join(pinRoot, 'eth1', MAPS.peers));
    try {
      syncPeers(peers, [{ slot: 2, ringMac: '02:00:00:00:00:02', addresses: ['198.51.100.2'] }]);
    } finally {
      peers.close();
    }
    const eth1Mac = sh('cat /sys/class/net/eth1/address').trim();
    sh(`ip addr add 198.51.100.1/24 dev peer1 && ip neigh replace 198.51.100.2 lladdr ${eth1Mac} dev peer1`);

    // The server, as a user starts it; forked from this thread, so in the namespace.
    server = spawn(
      process.execPath,
      [join(REPO, 'bin/ringctl.js'), 'serve', '--grpc', `unix:${sock}`, '--metrics', '127.0.0.1:0', '--interface', 'peer1'],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    server.stdout!.on('data', (b: Buffer) => (serverLog += b.toString()));
    server.stderr!.on('data', (b: Buffer) => (serverLog += b.toString()));
    const up = await eventually(
      20_000,
      'ringctl serve coming up',
      () => {
        const m = /Prometheus metrics on (\S+)/.exec(serverLog);
        if (!m) assert.equal(server!.exitCode, null, `ringctl serve exited before it came up:\n${serverLog}`);
        return m;
      },
      { every: 100, detail: () => serverLog },
    );
    metricsUrl = up[1];
  });

  after(async () => {
    if (server && server.exitCode === null) {
      server.kill('SIGKILL');
      await new Promise((r) => server!.once('close', r));
    }
    if (ns) {
      await runCli(['detach', 'eth1'], env);
      ns.delete();
    }
    if (pinRoot && existsSync(pinRoot)) rmSync(pinRoot, { recursive: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (mountedBpffs && readdirSync('/sys/fs/bpf').every((f) => f.endsWith('.debug'))) spawnSync('umount', ['/sys/fs/bpf']);
  });

  it('logs one line per listener', () => {
    const lines = serverLog.split('\n').filter(Boolean);
    assert.deepEqual(lines.slice(0, 2).map((l) => l.replace(/:\d+\//, ':PORT/')), [
      `ringctl serve: gRPC on unix:${sock} (kvmring.v1.Stats, grpc.health.v1.Health, reflection)`,
      'ringctl serve: Prometheus metrics on http://127.0.0.1:PORT/metrics',
    ]);
  });

  it('GetStats: the XDP counters and the interface counters move when traffic moves', async () => {
    const before = await getStats();
    assert.equal(iface(before, 'eth1')?.error, '');
    assert.match(before.ring?.error ?? '', /^ring0 is not a ringnet device \(driver veth\)$/);
    ping(3);
    const after = await getStats();
    assert.equal(xdp(after, 'redirect') - xdp(before, 'redirect'), 3n, 'three echo requests redirected');
    assert.equal(reason(after, 'peer') - reason(before, 'peer'), 3n);
    assert.ok(iface(after, 'peer1')!.txPackets - iface(before, 'peer1')!.txPackets >= 3n, 'peer1 sent them');
    assert.ok(after.timeUnixNano > before.timeUnixNano);
  });

  it('WatchStats: streams snapshots whose counters follow the traffic', async () => {
    const c = client();
    const got: Snapshot[] = [];
    const w = c.watchStats(200, (s) => {
      got.push(s);
      if (got.length === 1) setImmediate(() => ping(2));
      if (got.length >= 6 && xdp(s, 'redirect') - xdp(got[0], 'redirect') >= 2n) w.cancel();
    });
    const timeout = setTimeout(() => w.cancel(), 20_000);
    try {
      await w.done;
    } finally {
      clearTimeout(timeout);
      c.close();
    }
    assert.ok(got.length >= 6, `only ${got.length} snapshots`);
    assert.equal(xdp(got[got.length - 1], 'redirect') - xdp(got[0], 'redirect'), 2n);
    const times = got.map((s) => Number(s.timeUnixNano / 1_000_000n));
    for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= 150, `snapshots ${times[i] - times[i - 1]} ms apart`);
  });

  it('ringctl stats --remote prints the table from the server', async () => {
    const r = await runCli(['stats', '--remote', `unix:${sock}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^SOURCE\s+DEVICE\s+PEER\s+COUNTER\s+PACKETS\s+BYTES$/m);
    assert.match(r.stdout, /^xdp\s+eth1\s+-\s+redirect\s+5\s+\d+$/m);
    assert.match(r.stdout, /^not read: ring0 is not a ringnet device \(driver veth\)$/m);
    const w = await runCli(['stats', '--remote', `unix:${sock}`, '--watch', '0.2', '--count', '2']);
    assert.equal(w.code, 0, w.stderr);
    assert.equal(w.stdout.match(/^SOURCE/gm)?.length, 2);
    assert.match(w.stdout, /PACKETS\/S\s+BYTES\/S$/m);
  });

  it('serves Prometheus text that promtool accepts and that agrees with ringctl stats --json', async () => {
    const scrape = async () => (await fetch(metricsUrl)).text();
    const first = await scrape();
    const json = await runCli(['stats', '--json', '--interface', 'peer1'], env);
    assert.equal(json.code, 0, json.stderr);
    const second = await scrape();

    const check = spawnSync('promtool', ['check', 'metrics'], { input: first, encoding: 'utf8' });
    assert.equal(check.status, 0, `promtool check metrics:\n${check.stdout}${check.stderr}`);

    // Counters only grow: the JSON read between two scrapes lies between them.
    const s = StatsSnapshot.fromJSON(JSON.parse(json.stdout));
    const [a, b] = [parseExposition(first), parseExposition(second)];
    let compared = 0;
    for (const x of samples(s)) {
      if (!x.name.endsWith('_total')) continue;
      const key = sampleKey(x.name, x.labels);
      assert.ok(a.has(key) && b.has(key), `${key} is in ringctl stats --json but not in /metrics`);
      const v = Number(x.value);
      assert.ok(a.get(key)! <= v && v <= b.get(key)!, `${key}: ${a.get(key)} <= ${v} <= ${b.get(key)} does not hold`);
      compared++;
    }
    assert.ok(compared > 30, `only ${compared} counters compared`);
    assert.equal(a.get('kvmring_xdp_packets_total{device="eth1",action="redirect"}'), Number(xdp(s, 'redirect')));
    assert.equal(a.get('kvmring_source_up{source="ring",device="ring0"}'), 0);
  });

  it('a Python grpcio client generated from the .proto alone reads the stats', async function () {
    const probe = spawnSync(PYTHON, ['-c', 'import grpc, grpc_tools']);
    if (probe.status !== 0) {
      if (process.env.CI === 'true') assert.fail(`${PYTHON} lacks grpcio or grpc_tools (python3-grpcio, python3-grpc-tools)`);
      this.skip();
    }
    const out = join(dir, 'py');
    execFileSync('mkdir', ['-p', out]);
    execFileSync(PYTHON, ['-m', 'grpc_tools.protoc', '-I', join(REPO, 'proto'), `--python_out=${out}`, `--grpc_python_out=${out}`, 'kvmring/v1/stats.proto']);
    const script = join(dir, 'client.py');
    writeFileSync(
      script,
      `import json, sys
import grpc
from google.protobuf import json_format
from kvmring.v1 import stats_pb2, stats_pb2_grpc

with grpc.insecure_channel(sys.argv[1]) as channel:
    stub = stats_pb2_grpc.StatsStub(channel)
    got = stub.GetStats(stats_pb2.GetStatsRequest(), timeout=10).stats
    watched = []
    stream = stub.WatchStats(stats_pb2.WatchStatsRequest(interval_ms=200), timeout=20)
    for m in stream:
        watched.append(m.stats)
        if len(watched) == 2:
            stream.cancel()
            break
    xdp = next(p for p in got.programs if p.device == "eth1" and p.hook == stats_pb2.HOOK_XDP)
    print(json.dumps({
        "redirect": next(v.packets for v in xdp.verdicts if v.name == "redirect"),
        "devices": [i.device for i in got.interfaces],
        "ring_error": got.ring.error,
        "watched": [w.time_unix_nano for w in watched],
        "snapshot": json_format.MessageToDict(got),
    }))
`,
    );
    const before = await getStats();
    ping(2);
    const r = spawnSync(PYTHON, [script, `unix:${sock}`], { env: { ...process.env, PYTHONPATH: out }, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `python client failed:\n${r.stdout}${r.stderr}`);
    const py = JSON.parse(r.stdout) as { redirect: number; devices: string[]; ring_error: string; watched: string[]; snapshot: Record<string, unknown> };
    assert.equal(BigInt(py.redirect), xdp(before, 'redirect') + 2n);
    assert.deepEqual(py.devices, ['ring0', 'eth1', 'peer1']);
    assert.equal(py.ring_error, 'ring0 is not a ringnet device (driver veth)');
    assert.equal(py.watched.length, 2);
    assert.ok(BigInt(py.watched[1]) > BigInt(py.watched[0]));
    // Python's JSON of the message is ours: the same field names, 64-bit values as strings.
    const mine = StatsSnapshot.fromJSON(py.snapshot);
    assert.equal(xdp(mine, 'redirect'), BigInt(py.redirect));
  });

  it('keeps serving when a counter source vanishes: an entry with an error, not a crash', async () => {
    ns.ip('link', 'del', 'ring0');
    const s = await getStats();
    assert.equal(s.ring?.error, 'ring0: no such device (is ringnet.ko loaded?)');
    assert.equal(iface(s, 'ring0')?.error, 'ring0: no such device (is ringnet.ko loaded?)');
    assert.equal(iface(s, 'eth1')?.error, '');

    assert.equal((await runCli(['detach', 'eth1'], env)).code, 0);
    const s2 = await getStats();
    assert.deepEqual(s2.programs, [], 'no attachment, no program entries');
    const m = await (await fetch(metricsUrl)).text();
    assert.match(m, /^kvmring_source_up\{source="ring",device="ring0"\} 0$/m);
    assert.equal(server!.exitCode, null, 'the server is still running');
  });

  it('stops on SIGTERM: logs it, exits 0 and removes its socket', async () => {
    server!.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => server!.once('close', (c) => r(c)));
    assert.equal(code, 0, serverLog);
    assert.match(serverLog, /ringctl serve: SIGTERM, stopping\nringctl serve: stopped\n$/);
    assert.equal(existsSync(sock), false);
  });
});
