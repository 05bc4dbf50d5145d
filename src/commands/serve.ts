import { Command, Option, UsageError } from 'clipanion';

import { untilSignal } from '../common/cli.js';
import { RingctlCommand } from '../common/command.js';
import { RingctlError } from '../common/errors.js';
import type { PeerFollower } from '../peers/follower.js';
import { sysfsNet } from '../peers/table.js';
import { AddressError, DEFAULT_GRPC_ADDRESS, DEFAULT_METRICS_ADDRESS, parseAddress, type Address } from '../stats/address.js';
import type { RunningServer } from '../stats/server.js';
import { isValidIfname } from '../xdp/ifname.js';
import { pinRoot } from '../xdp/pins.js';

export class ServeCommand extends RingctlCommand {
  static override paths = [['serve']];

  static override usage = Command.Usage({
    category: 'Guest',
    description: 'serve the counters over gRPC and to Prometheus',
    details: `
      Runs in the foreground until SIGINT or SIGTERM, logging one line per listener.

      \`--grpc\` serves kvmring.v1.Stats (proto/kvmring/v1/stats.proto: GetStats, and WatchStats streaming a snapshot every interval), the standard health service (grpc.health.v1.Health) and server reflection, at unix:PATH or HOST:PORT (default ${DEFAULT_GRPC_ADDRESS}). \`--metrics\` serves Prometheus text at http://HOST:PORT/metrics (default ${DEFAULT_METRICS_ADDRESS}); counters are read at each call and scrape. Repeat either for more listeners; \`none\` turns one off. Port 0 picks a free port (the log says which).

      With \`--follow\`, it also keeps every attached interface's peer map in step with ring0's peer table, as \`ringctl attach --follow\` does, and attaches an interface to the ring device again when ringnet is reloaded.
    `,
    examples: [
      ['Serve on the defaults', '$0 serve'],
      ['gRPC on a TCP port as well, metrics on all addresses', '$0 serve --grpc unix:/run/kvmring/ringctl.sock --grpc 127.0.0.1:50051 --metrics 0.0.0.0:9477'],
    ],
  });

  grpc = Option.Array('--grpc', [], { description: `gRPC listener: unix:PATH or HOST:PORT (default ${DEFAULT_GRPC_ADDRESS}); none for no gRPC` });

  metrics = Option.Array('--metrics', [], { description: `Prometheus listener: HOST:PORT (default ${DEFAULT_METRICS_ADDRESS}); none for no metrics` });

  follow = Option.Boolean('--follow', false, { description: 'Also keep the attached interfaces\' peer maps in step with the peer table' });

  ring = Option.String('--ring', 'ring0', { description: 'The ring device' });

  interfaces = Option.Array('--interface', [], { description: 'Also report this interface\'s counters; repeat for more' });

  #addresses(list: string[], fallback: string, what: string, tcpOnly: boolean): Address[] {
    if (list.includes('none')) {
      if (list.length > 1) throw new UsageError(`--${what} none goes alone`);
      return [];
    }
    try {
      return (list.length ? list : [fallback]).map((s) => parseAddress(s, { tcpOnly }));
    } catch (err) {
      if (err instanceof AddressError) throw new UsageError(`--${what} ${err.message}`);
      throw err;
    }
  }

  async run(): Promise<number> {
    const grpcAddrs = this.#addresses(this.grpc, DEFAULT_GRPC_ADDRESS, 'grpc', false);
    const metricsAddrs = this.#addresses(this.metrics, DEFAULT_METRICS_ADDRESS, 'metrics', true);
    if (!grpcAddrs.length && !metricsAddrs.length) throw new UsageError('nothing to serve: --grpc none and --metrics none');
    if (!isValidIfname(this.ring)) throw new UsageError(`${this.ring}: not an interface name (--ring)`);
    for (const i of this.interfaces) if (!isValidIfname(i)) throw new UsageError(`${i}: not an interface name (--interface)`);

    // grpc-js, protobufjs and prom-client load only for this verb: they take
    // seconds in a small guest, which every other verb would pay for.
    const { ListenError, startServer } = await import('../stats/server.js');
    const { collectStats } = await import('../stats/collect.js');
    const { PeerFollower } = await import('../peers/follower.js');
    const { bpfDir } = await import('../xdp/programs.js');
    const log = (line: string) => this.context.stdout.write(`${line}\n`);
    const env = this.context.env;
    const collect = () =>
      collectStats({ ring: this.ring, interfaces: this.interfaces, pinRoot: pinRoot(env), sysfsNet: sysfsNet(env) });

    let server: RunningServer;
    try {
      server = await startServer({ grpc: grpcAddrs, metrics: metricsAddrs, collect, log });
    } catch (err) {
      if (err instanceof ListenError) throw new RingctlError(err.message, { cause: err });
      throw err;
    }
    for (const l of server.listeners) log(`ringctl serve: ${l}`);

    let follower: PeerFollower | undefined;
    if (this.follow) {
      follower = new PeerFollower({
        pinRoot: pinRoot(env),
        sysfs: sysfsNet(env),
        log: (l) => log(`ringctl serve: peers: ${l}`),
        keepAlive: false,
        // Attaches an interface to the ring device again after ringnet reloads.
        ring: this.ring,
        bpfDir: bpfDir(env),
      });
      follower.start();
      log(`ringctl serve: following ring0's peer table ${follower.how}`);
    }

    const signal = await untilSignal();
    log(`ringctl serve: ${signal}, stopping`);
    follower?.stop();
    await server.stop();
    log('ringctl serve: stopped');
    return 0;
  }
}
