// The Stats service over gRPC (@grpc/grpc-js): the service definition built from
// the generated method table (paths and codecs come from proto/), the server's
// handlers, and a client for `ringctl stats --remote`.
import * as grpc from '@grpc/grpc-js';

import {
  GetStatsRequest,
  StatsService,
  WatchStatsRequest,
  type GetStatsResponse,
  type Method,
  type StatsSnapshot,
  type WatchStatsResponse,
} from '../gen/kvmring/v1/stats.js';

import { watchInterval } from './watch.js';

function definition<Req, Res>(m: Method<Req, Res>, originalName: string): grpc.MethodDefinition<Req, Res> {
  return {
    path: m.path,
    requestStream: m.requestStream,
    responseStream: m.responseStream,
    requestSerialize: (v: Req) => Buffer.from(m.request.encode(v)),
    requestDeserialize: (b: Buffer) => m.request.decode(b),
    responseSerialize: (v: Res) => Buffer.from(m.response.encode(v)),
    responseDeserialize: (b: Buffer) => m.response.decode(b),
    originalName,
  };
}

/** kvmring.v1.Stats for grpc-js. */
export const STATS_SERVICE = {
  GetStats: definition(StatsService.GetStats, 'getStats'),
  WatchStats: definition(StatsService.WatchStats, 'watchStats'),
} satisfies grpc.ServiceDefinition;

export interface StatsHandlersOptions {
  /** Reads a snapshot; may throw for a bug, never for a missing source. */
  collect: () => StatsSnapshot;
  /** Logs a failed call or a stream that ended badly (one line). */
  log?: (line: string) => void;
}

/**
 * The service's handlers. Every stream is stopped (its timer cleared) when the
 * client cancels or goes away, so a consumer that disconnects mid-stream costs
 * nothing afterwards.
 */
export function statsHandlers(o: StatsHandlersOptions): grpc.UntypedServiceImplementation {
  const log = o.log ?? (() => {});
  const snapshot = (): StatsSnapshot | grpc.ServiceError => {
    try {
      return o.collect();
    } catch (err) {
      log(`ringctl serve: reading the counters failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      const e = new Error(`reading the counters failed: ${err instanceof Error ? err.message : String(err)}`) as grpc.ServiceError;
      e.code = grpc.status.INTERNAL;
      return e;
    }
  };

  const getStats: grpc.handleUnaryCall<GetStatsRequest, GetStatsResponse> = (_call, callback) => {
    const s = snapshot();
    if (s instanceof Error) callback(s);
    else callback(null, { stats: s });
  };

  const watchStats: grpc.handleServerStreamingCall<WatchStatsRequest, WatchStatsResponse> = (call) => {
    const interval = watchInterval(call.request.intervalMs);
    if (typeof interval === 'string') {
      call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: interval });
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const stop = () => {
      done = true;
      if (timer) clearTimeout(timer);
    };
    call.on('cancelled', stop);
    call.on('close', stop);
    call.on('error', stop);
    const tick = () => {
      if (done || call.cancelled) {
        stop();
        return;
      }
      const s = snapshot();
      if (s instanceof Error) {
        stop();
        call.emit('error', s);
        return;
      }
      // Send the next one once this one has gone out (or been buffered): a slow
      // reader slows the stream down instead of growing the server's memory.
      const flushed = call.write({ stats: s });
      const next = () => {
        if (!done) timer = setTimeout(tick, interval);
      };
      if (flushed) next();
      else call.once('drain', next);
    };
    tick();
  };

  return { GetStats: getStats, WatchStats: watchStats };
}

type StatsClientApi = grpc.Client & {
  GetStats(req: GetStatsRequest, options: grpc.CallOptions, cb: grpc.requestCallback<GetStatsResponse>): grpc.ClientUnaryCall;
  WatchStats(req: WatchStatsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<WatchStatsResponse>;
};

const StatsClientCtor = grpc.makeGenericClientConstructor(STATS_SERVICE, 'Stats') as unknown as new (
  address: string,
  creds: grpc.ChannelCredentials,
  options?: grpc.ChannelOptions,
) => StatsClientApi;

/** A failed call as one line: the status name and the server's or the channel's message. */
export function describeGrpcError(target: string, err: grpc.ServiceError): string {
  const details = (err.details || err.message).replace(/\s*Resolution note:\s*$/, '');
  const connect = /connect (E[A-Z]+)/.exec(details);
  if (err.code === grpc.status.UNAVAILABLE && connect) {
    const hints: Record<string, string | undefined> = { ENOENT: 'no socket there', ECONNREFUSED: 'connection refused' };
    const hint = hints[connect[1]] ?? connect[1];
    return `${target}: cannot connect (${hint}); is ringctl serve running there?`;
  }
  if (err.code === grpc.status.DEADLINE_EXCEEDED) return `${target}: no answer in time (DEADLINE_EXCEEDED)`;
  const name = (grpc.status[err.code] as string | undefined) ?? String(err.code);
  return `${target}: ${name}: ${details}`;
}

/** A client of a `ringctl serve` at `target` (a grpc-js target: unix:PATH or HOST:PORT). */
export class StatsClient {
  readonly #client: StatsClientApi;

  constructor(readonly target: string) {
    this.#client = new StatsClientCtor(target, grpc.credentials.createInsecure());
  }

  getStats(timeoutMs = 10_000): Promise<StatsSnapshot> {
    return new Promise((resolve, reject) => {
      this.#client.GetStats({}, { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(err);
        else if (!res?.stats) reject(new Error(`${this.target}: GetStats answered without stats`));
        else resolve(res.stats);
      });
    });
  }

  /** Calls onSnapshot for each snapshot until cancel() or an error; resolves when the stream ends. */
  watchStats(intervalMs: number, onSnapshot: (s: StatsSnapshot) => void): { done: Promise<void>; cancel: () => void } {
    const call = this.#client.WatchStats({ intervalMs });
    let cancelled = false;
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (m: WatchStatsResponse) => {
        if (m.stats) onSnapshot(m.stats);
      });
      call.on('error', (err: grpc.ServiceError) => {
        if (cancelled && err.code === grpc.status.CANCELLED) resolve();
        else reject(err);
      });
      call.on('end', () => resolve());
    });
    return {
      done,
      cancel: () => {
        cancelled = true;
        call.cancel();
      },
    };
  }

  close(): void {
    this.#client.close();
  }
}
