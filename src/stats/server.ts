// `ringctl serve`'s listeners: a gRPC server with kvmring.v1.Stats, the standard
// health service (grpc.health.v1) and server reflection, and an HTTP server
// for Prometheus. Counters are read when a call or scrape arrives.
import { lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { dirname } from 'node:path';

import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';

import { FILE_DESCRIPTOR_PROTO, STATS_SERVICE_NAME, type StatsSnapshot } from '../gen/kvmring/v1/stats.js';
import { formatHost, grpcTarget, type Address } from './address.js';
import { STATS_SERVICE, statsHandlers } from './grpc.js';
import { StatsMetrics } from './prometheus.js';

/** A listener that could not be set up: one line for the user. */
export class ListenError extends Error {
  override readonly name = 'ListenError';
}

export interface ServeOptions {
  grpc: Address[];
  metrics: Address[];
  collect: () => StatsSnapshot;
  log: (line: string) => void;
}

export interface RunningServer {
  /** Where each listener ended up (a port 0 resolved), one line each. */
  readonly listeners: string[];
  readonly grpcTargets: string[];
  readonly metricsUrls: string[];
  stop(): Promise<void>;
}

/** True if something accepts connections on the UNIX socket at `path`. */
function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Makes room for a UNIX socket: its directory, and no stale socket where it goes. */
async function prepareUnixSocket(path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new ListenError(`unix:${path}: the path exists and is not a socket`);
  if (await socketInUse(path)) throw new ListenError(`unix:${path}: in use (another ringctl serve?)`);
  unlinkSync(path); // left by a server that died
}

function bind(server: grpc.Server, target: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(target, grpc.ServerCredentials.createInsecure(), (err, port) => {
      if (err) {
        const why = /EADDRINUSE/.test(err.message) ? 'address in use' : /EADDRNOTAVAIL/.test(err.message) ? 'address not available here' : err.message;
        reject(new ListenError(`${target}: cannot listen for gRPC (${why})`));
      } else resolve(port);
    });
  });
}

function listenHttp(server: HttpServer, a: Extract<Address, { kind: 'tcp' }>): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'address in use' : err.code === 'EADDRNOTAVAIL' ? 'address not available here' : (err.code ?? err.message);
      reject(new ListenError(`${formatHost(a.host)}:${a.port}: cannot listen for metrics (${why})`));
    };
    server.once('error', onError);
    server.listen({ host: a.host, port: a.port }, () => {
      server.off('error', onError);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : a.port);
    });
  });
}

function metricsHandler(metrics: StatsMetrics, collect: () => StatsSnapshot, log: (line: string) => void) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path === '/') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end('kvmring ringctl serve: metrics at /metrics\n');
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found; metrics are at /metrics\n');
      return;
    }
    metrics.render(collect).then(
      (text) => res.writeHead(200, { 'Content-Type': metrics.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (err: unknown) => {
        log(`ringctl serve: a scrape failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('reading the counters failed\n');
      },
    );
  };
}

/** Starts every listener, or none: a failure closes the ones already up. */
export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const listeners: string[] = [];
  const grpcTargets: string[] = [];
  const metricsUrls: string[] = [];
  const sockets: string[] = [];
  const http: HttpServer[] = [];

  // grpc-js logs a failed bind on stderr; ListenError says it better. GRPC_VERBOSITY still works.
  if (!process.env.GRPC_VERBOSITY) grpc.setLogVerbosity(grpc.logVerbosity.NONE);
  const server = new grpc.Server();
  server.addService(STATS_SERVICE, statsHandlers({ collect: o.collect, log: o.log }));
  const health = new HealthImplementation({ '': 'SERVING', [STATS_SERVICE_NAME]: 'SERVING' });
  health.addToServer(server);
  // @grpc/reflection reads the FileDescriptorProtos of a proto-loader package
  // definition; ours come from the generated module.
  const reflectionPkg = {
    [STATS_SERVICE_NAME]: { format: 'Protocol Buffer 3 DescriptorProto', fileDescriptorProtos: [Buffer.from(FILE_DESCRIPTOR_PROTO)] },
  };
  new ReflectionService(reflectionPkg as unknown as ConstructorParameters<typeof ReflectionService>[0]).addToServer(server);

  const metrics = new StatsMetrics();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    health.setStatus('', 'NOT_SERVING');
    health.setStatus(STATS_SERVICE_NAME, 'NOT_SERVING');
    await new Promise<void>((resolve) => {
      // Streams (WatchStats) never end by themselves: give unary calls a moment, then cut.
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 1000);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    await Promise.all(
      http.map(
        (h) =>
          new Promise<void>((resolve) => {
            h.close(() => resolve());
            h.closeAllConnections();
          }),
      ),
    );
    for (const path of sockets) {
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    }
  };

  try {
    for (const a of o.grpc) {
      if (a.kind === 'unix') await prepareUnixSocket(a.path);
      const port = await bind(server, grpcTarget(a));
      if (a.kind === 'unix') sockets.push(a.path);
      const target = a.kind === 'unix' ? grpcTarget(a) : grpcTarget({ ...a, port });
      grpcTargets.push(target);
      listeners.push(`gRPC on ${target} (${STATS_SERVICE_NAME}, grpc.health.v1.Health, reflection)`);
    }
    for (const a of o.metrics) {
      if (a.kind !== 'tcp') throw new ListenError(`${grpcTarget(a)}: metrics are served over TCP only`);
      const h = createServer(metricsHandler(metrics, o.collect, o.log));
      http.push(h);
      const port = await listenHttp(h, a);
      const url = `http://${formatHost(a.host)}:${port}/metrics`;
      metricsUrls.push(url);
      listeners.push(`Prometheus metrics on ${url}`);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { listeners, grpcTargets, metricsUrls, stop };
}
