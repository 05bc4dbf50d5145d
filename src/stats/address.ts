// Listen and connect addresses of `ringctl serve` and `ringctl stats --remote`:
// unix:PATH, HOST:PORT, or [IPV6]:PORT. Strict: a missing port, a port out of
// range or an empty path is an error naming what is wrong.
import { resolve } from 'node:path';

export type Address = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export class AddressError extends Error {
  override readonly name = 'AddressError';
}

export const DEFAULT_GRPC_ADDRESS = 'unix:/run/kvmring/ringctl.sock';
export const DEFAULT_METRICS_ADDRESS = '127.0.0.1:9477';

/** Parses an address; `tcpOnly` refuses unix: (the metrics endpoint is HTTP over TCP). */
export function parseAddress(s: string, opts: { tcpOnly?: boolean } = {}): Address {
  if (s.startsWith('unix:')) {
    if (opts.tcpOnly) throw new AddressError(`${s}: expected HOST:PORT, e.g. 127.0.0.1:9477`);
    // unix:///abs/path, as grpc-js also writes it, is unix:/abs/path.
    const path = s.slice('unix:'.length).replace(/^\/\/(?=\/)/, '');
    if (!path) throw new AddressError(`${s}: the socket path is empty`);
    if (path.includes('\0')) throw new AddressError(`${JSON.stringify(s)}: the socket path has a NUL byte`);
    return { kind: 'unix', path: resolve(path) };
  }
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]/]+)):(\d{1,5})$/.exec(s);
  if (!m) {
    throw new AddressError(
      `${JSON.stringify(s)}: expected ${opts.tcpOnly ? '' : 'unix:PATH, '}HOST:PORT or [IPV6]:PORT, e.g. ${opts.tcpOnly ? '127.0.0.1:9477' : '127.0.0.1:50051'}`,
    );
  }
  const port = Number(m[3]);
  if (port > 65535 || (m[3].length > 1 && m[3].startsWith('0'))) throw new AddressError(`${s}: the port must be 0-65535`);
  const [, bracketed, plain] = m as (string | undefined)[];
  return { kind: 'tcp', host: bracketed ?? plain ?? '', port };
}

/** The address as grpc-js takes it (unix:/abs/path, HOST:PORT, [IPV6]:PORT). */
export function grpcTarget(a: Address): string {
  if (a.kind === 'unix') return `unix:${a.path}`;
  return `${formatHost(a.host)}:${a.port}`;
}

export function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export function formatAddress(a: Address): string {
  return grpcTarget(a);
}
