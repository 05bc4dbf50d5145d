// ringctl serve's listeners with real clients over real sockets (temporary UNIX
// sockets and port 0), on a stand-in counter source: the Stats service, health,
// reflection, the metrics endpoint and how each fails.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

import * as grpc from '@grpc/grpc-js';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';

import { StatsSnapshot, type StatsSnapshot as Snapshot } from '../../src/gen/kvmring/v1/stats.js';
import { parseAddress } from '../../src/stats/address.js';
import { StatsClient } from '../../src/stats/grpc.js';
import { ListenError, startServer, type RunningServer } from '../../src/stats/server.js';
import { REPO } from '../helpers/lab.js';
import { requireTier } from '../helpers/tier.js';
import { sleep } from '../helpers/time.js';

/** A stand-in source: ring0's rx counter grows by 10 per read. */
function fakeSource() {
  let reads = 0;
  let failNext = false;
  const collect = (): Snapshot => {
    if (failNext) {
      failNext = false;
      throw new Error('the counters fell over');
    }
    reads++;
    return {
      ...StatsSnapshot.empty(),
      timeUnixNano: BigInt(Date.now()) * 1_000_000n,
      hostname: 'g1',
      version: '0.0.0-test',
      interfaces: [
        { device: 'ring0', rxPackets: BigInt(reads * 10), rxBytes: BigInt(reads * 1000), rxDropped: 0n, rxErrors: 0n, txPackets: 1n, txBytes: 60n, txDropped: 0n, txErrors: 0n, error: '' },
      ],
    };
  };
  return {
    collect,
    get reads() {
      return reads;
    },
    failOnce() {
      failNext = true;
    },
  };
}

type HealthClient = grpc.Client & {
  Check(req: { service: string }, cb: (err: grpc.ServiceError | null, res: { status: string }) => void): void;
};
type ReflectionClient = grpc.Client & {
  ServerReflectionInfo(): grpc.ClientDuplexStream<object, Record<string, unknown>>;
};

/** A generic grpc-js client for a service of a .proto loaded with protobufjs (the caller types its methods). */
function protoClient(file: string, service: string, target: string): grpc.Client {
  const root = new protobuf.Root();
  root.loadSync(file, { keepCase: true });
  const svc = root.lookupService(service);
  const def: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const m of svc.methodsArray) {
    m.resolve();
    const req = m.resolvedRequestType!;
    const res = m.resolvedResponseType!;
    def[m.name] = {
      path: `/${service}/${m.name}`,
      requestStream: !!m.requestStream,
      responseStream: !!m.responseStream,
      requestSerialize: (v: object) => Buffer.from(req.encode(req.fromObject(v)).finish()),
      requestDeserialize: (b: Buffer) => req.toObject(req.decode(b), { enums: String }),
      responseSerialize: (v: object) => Buffer.from(res.encode(res.fromObject(v)).finish()),
      responseDeserialize: (b: Buffer) => res.toObject(res.decode(b), { enums: String, bytes: Buffer }),
    };
  }
  const Ctor = grpc.makeGenericClientConstructor(def, service);
  return new Ctor(target, grpc.credentials.createInsecure());
}

function healthCheck(target: string, service: string): Promise<string> {
  const client = protoClient(healthProtoPath, 'grpc.health.v1.Health', target) as HealthClient;
  return new Promise((resolve, reject) => {
    client.Check({ service }, (err: grpc.ServiceError | null, res: { status: string }) => {
      client.close();
      if (err) reject(err);
      else resolve(res.status);
    });
  });
}

const require = createRequire(import.meta.url);
const REFLECTION_PROTO = join(dirname(require.resolve('@grpc/reflection/package.json')), 'build/proto/grpc/reflection/v1/reflection.proto');

/** One request over grpc.reflection.v1's bidirectional stream, and its answer. */
function reflect(target: string, request: object): Promise<Record<string, unknown>> {
  const client = protoClient(REFLECTION_PROTO, 'grpc.reflection.v1.ServerReflection', target) as ReflectionClient;
  return new Promise((resolve, reject) => {
    const call = client.ServerReflectionInfo();
    call.on('data', (m: Record<string, unknown>) => {
      resolve(m);
      call.end();
    });
    call.on('error', (e: Error) => reject(e));
    call.on('end', () => client.close());
    call.write(request);
  });
}

describe('ringctl serve: listeners, services and failures', function () {
  this.timeout(30_000);
  let dir: string;
  const running: RunningServer[] = [];

  const serve = async (grpcAddrs: string[], metrics: string[], source = fakeSource(), log: string[] = []) => {
    const s = await startServer({
      grpc: grpcAddrs.map((a) => parseAddress(a)),
      metrics: metrics.map((a) => parseAddress(a, { tcpOnly: true })),
      collect: source.collect,
      log: (l) => log.push(l),
    });
    running.push(s);
    return s;
  };

  before(function () {
    requireTier(this, 'unit');
    dir = mkdtempSync(join(tmpdir(), 'ringctl-serve-'));
  });

  afterEach(async () => {
    for (const s of running.splice(0)) await s.stop();
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('logs one line per listener, with the port a port 0 became', async () => {
    const sock = join(dir, 'a.sock');
    const s = await serve([`unix:${sock}`, '127.0.0.1:0'], ['127.0.0.1:0']);
    assert.equal(s.listeners.length, 3);
    assert.equal(s.listeners[0], `gRPC on unix:${sock} (kvmring.v1.Stats, grpc.health.v1.Health, reflection)`);
    assert.match(s.listeners[1], /^gRPC on 127\.0\.0\.1:[1-9]\d* \(kvmring\.v1\.Stats/);
    assert.match(s.listeners[2], /^Prometheus metrics on http:\/\/127\.0\.0\.1:[1-9]\d*\/metrics$/);
  });

  it('answers GetStats over a UNIX socket and TCP, with counters read per call', async () => {
    const source = fakeSource();
    const s = await serve([`unix:${join(dir, 'b.sock')}`, '127.0.0.1:0'], [], source);
    for (const target of s.grpcTargets) {
      const client = new StatsClient(target);
      try {
        const a = await client.getStats();
        const b = await client.getStats();
        assert.equal(a.hostname, 'g1');
        assert.equal(b.interfaces[0].rxPackets - a.interfaces[0].rxPackets, 10n);
      } finally {
        client.close();
      }
    }
  });

  it('streams WatchStats at the interval asked for, and stops reading once the client cancels', async () => {
    const source = fakeSource();
    const s = await serve(['127.0.0.1:0'], [], source);
    const client = new StatsClient(s.grpcTargets[0]);
    try {
      const got: Snapshot[] = [];
      const t0 = Date.now();
      const w = client.watchStats(100, (snap) => {
        got.push(snap);
        if (got.length === 4) w.cancel();
      });
      await w.done;
      const elapsed = Date.now() - t0;
      assert.equal(got.length, 4);
      assert.ok(elapsed >= 280, `4 snapshots 100 ms apart took only ${elapsed} ms`);
      const rx = got.map((g) => g.interfaces[0].rxPackets);
      assert.ok(rx.every((v, i) => i === 0 || v > rx[i - 1]), `counters did not move: ${rx.join(' ')}`);
      await sleep(100);
      const reads = source.reads;
      await sleep(400);
      assert.equal(source.reads, reads, 'the server kept reading counters for a cancelled stream');
    } finally {
      client.close();
    }
  });

  it('survives a consumer that is killed mid-stream', async () => {
    const source = fakeSource();
    const s = await serve(['127.0.0.1:0'], [], source);
    // A client in another process, killed (no cancel, no goodbye) after two snapshots.
    const grpcModule = pathToFileURL(join(REPO, 'dist/src/stats/grpc.js')).href;
    const child = spawn(process.execPath, ['--input-type=module', '-e', `
      const { StatsClient } = await import(${JSON.stringify(grpcModule)});
      new StatsClient(${JSON.stringify(s.grpcTargets[0])}).watchStats(100, (x) => console.log(x.interfaces[0].rxPackets));
    `], { stdio: ['ignore', 'pipe', 'inherit'] });
    let lines = 0;
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (b: Buffer) => {
        lines += b.toString().split('\n').filter(Boolean).length;
        if (lines >= 2) resolve();
      });
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    await sleep(300);
    const reads = source.reads;
    await sleep(500);
    assert.equal(source.reads, reads, 'the server kept reading counters for a consumer that is gone');
    const client = new StatsClient(s.grpcTargets[0]);
    try {
      assert.equal((await client.getStats()).hostname, 'g1');
    } finally {
      client.close();
    }
  });

  it('refuses a WatchStats interval out of range with INVALID_ARGUMENT', async () => {
    const s = await serve(['127.0.0.1:0'], []);
    const client = new StatsClient(s.grpcTargets[0]);
    try {
      await assert.rejects(client.watchStats(5, () => {}).done, (e: grpc.ServiceError) => {
        assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
        assert.match(e.details, /interval_ms must be 0 \(for 1000\) or 100 to 3600000, not 5/);
        return true;
      });
    } finally {
      client.close();
    }
  });

  it('answers INTERNAL when reading the counters throws, and goes on serving', async () => {
    const source = fakeSource();
    const log: string[] = [];
    const s = await serve(['127.0.0.1:0'], [], source, log);
    const client = new StatsClient(s.grpcTargets[0]);
    try {
      source.failOnce();
      await assert.rejects(client.getStats(), (e: grpc.ServiceError) => e.code === grpc.status.INTERNAL && /the counters fell over/.test(e.details));
      assert.equal((await client.getStats()).hostname, 'g1');
      assert.ok(log.some((l) => l.startsWith('ringctl serve: reading the counters failed: Error: the counters fell over')), log.join('\n'));
    } finally {
      client.close();
    }
  });

  it('reports SERVING on the standard health service, for the server and for kvmring.v1.Stats', async () => {
    const s = await serve(['127.0.0.1:0'], []);
    assert.equal(await healthCheck(s.grpcTargets[0], ''), 'SERVING');
    assert.equal(await healthCheck(s.grpcTargets[0], 'kvmring.v1.Stats'), 'SERVING');
    await assert.rejects(healthCheck(s.grpcTargets[0], 'no.such.Service'), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
  });

  it('describes itself through server reflection', async () => {
    const s = await serve(['127.0.0.1:0'], []);
    const list = (await reflect(s.grpcTargets[0], { list_services: '' })) as { list_services_response: { service: { name: string }[] } };
    const names = list.list_services_response.service.map((x) => x.name);
    assert.ok(names.includes('kvmring.v1.Stats'), names.join(', '));
    const file = (await reflect(s.grpcTargets[0], { file_containing_symbol: 'kvmring.v1.Stats' })) as {
      file_descriptor_response: { file_descriptor_proto: Buffer[] };
    };
    const { FileDescriptorProto } = descriptor as unknown as { FileDescriptorProto: protobuf.Type };
    const fds = file.file_descriptor_response.file_descriptor_proto.map(
      (b) => FileDescriptorProto.toObject(FileDescriptorProto.decode(b)) as { name: string; service?: { name: string }[] },
    );
    const stats = fds.find((f) => f.name === 'kvmring/v1/stats.proto');
    assert.ok(stats, fds.map((f) => f.name).join(', '));
    assert.deepEqual(stats.service?.map((x) => x.name), ['Stats']);
  });

  it('serves Prometheus text at /metrics, read at each scrape, and nothing else', async () => {
    const source = fakeSource();
    const s = await serve([], ['127.0.0.1:0'], source);
    const url = s.metricsUrls[0];
    const r1 = await fetch(url);
    assert.equal(r1.status, 200);
    assert.match(r1.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const t1 = await r1.text();
    assert.match(t1, /^kvmring_network_receive_packets_total\{device="ring0"\} 10$/m);
    assert.match(t1, /^kvmring_build_info\{version="[^"]+",nodejs="[^"]+"\} 1$/m);
    assert.match(await (await fetch(url)).text(), /^kvmring_network_receive_packets_total\{device="ring0"\} 20$/m);
    assert.equal((await fetch(url.replace('/metrics', '/nope'))).status, 404);
    assert.equal((await fetch(url, { method: 'POST' })).status, 405);
    source.failOnce();
    assert.equal((await fetch(url)).status, 500);
    assert.equal((await fetch(url)).status, 200);
  });

  it('refuses a port in use, and closes the listeners it had opened', async () => {
    const first = await serve(['127.0.0.1:0'], []);
    const port = Number(first.grpcTargets[0].split(':')[1]);
    const sock = join(dir, 'c.sock');
    await assert.rejects(serve([`unix:${sock}`], [`127.0.0.1:${port}`]), (e: Error) => {
      assert.ok(e instanceof ListenError);
      assert.equal(e.message, `127.0.0.1:${port}: cannot listen for metrics (address in use)`);
      return true;
    });
    assert.equal(existsSync(sock), false, 'the UNIX socket it had opened is gone again');
    await assert.rejects(serve([`127.0.0.1:${port}`], []), /^ListenError: 127\.0\.0\.1:\d+: cannot listen for gRPC \(address in use\)$/);
  });

  it('replaces a stale UNIX socket, and refuses one a live server holds or a path that is not a socket', async () => {
    const path = join(dir, 'stale.sock');
    // A server that dies leaves its socket file behind: one in another process, SIGKILLed.
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise((r) => child.stdout.once('data', r));
    await assert.rejects(serve([`unix:${path}`], []), /^ListenError: unix:.*stale\.sock: in use \(another ringctl serve\?\)$/);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    assert.ok(existsSync(path), 'the killed server left its socket file');
    const s = await serve([`unix:${path}`], []);
    const c = new StatsClient(s.grpcTargets[0]);
    try {
      assert.equal((await c.getStats()).hostname, 'g1');
    } finally {
      c.close();
    }
    const file = join(dir, 'plain-file');
    writeFileSync(file, 'x');
    await assert.rejects(serve([`unix:${file}`], []), /the path exists and is not a socket/);
  });

  it('removes its UNIX socket when stopped', async () => {
    const sock = join(dir, 'd.sock');
    const s = await serve([`unix:${sock}`], []);
    assert.ok(existsSync(sock));
    await s.stop();
    assert.equal(existsSync(sock), false);
  });
});
