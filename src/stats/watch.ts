// The limits of a watch interval, shared by `ringctl stats --watch` and the
// WatchStats handler. Kept apart from grpc.ts so that the CLI can check its
// options without loading gRPC.

export const DEFAULT_WATCH_MS = 1000;
export const MIN_WATCH_MS = 100;
export const MAX_WATCH_MS = 3_600_000;

/** The checked interval of a WatchStats request, or why it is bad. */
export function watchInterval(ms: number): number | string {
  if (ms === 0) return DEFAULT_WATCH_MS;
  if (!Number.isInteger(ms) || ms < MIN_WATCH_MS || ms > MAX_WATCH_MS) {
    return `interval_ms must be 0 (for ${DEFAULT_WATCH_MS}) or ${MIN_WATCH_MS} to ${MAX_WATCH_MS}, not ${ms}`;
  }
  return ms;
}
