import { Command, Option, UsageError } from 'clipanion';
import * as t from 'typanion';

import { RingctlCommand } from '../common/command.js';
import { RingctlError } from '../common/errors.js';
import type { StatsSnapshot as Snapshot } from '../gen/kvmring/v1/stats.js';
import { sysfsNet } from '../peers/table.js';
import { AddressError, grpcTarget, parseAddress } from '../stats/address.js';
import { renderStats } from '../stats/table.js';
import { MAX_WATCH_MS, MIN_WATCH_MS } from '../stats/watch.js';
import { isValidIfname } from '../xdp/ifname.js';
import { pinRoot } from '../xdp/pins.js';

export class StatsCommand extends RingctlCommand {
  static override paths = [['stats']];

  static override usage = Command.Usage({
    category: 'Guest',
    description: 'show the counters of the ring, its peers and the XDP programs',
    details: `
      One table of every counter: the ring device's and each attached interface's packets, bytes, drops and errors; the verdicts and reasons of the XDP (and TC) programs ringctl attached, summed over CPUs; ring0's counters per peer and per region (\`ethtool -S ring0\`); then ring0's peer table. Error and drop counters that are zero are left out unless \`--all\`.

      With \`--watch SECONDS\` the table is printed again every SECONDS with rates per second, until interrupted (or \`--count\` tables). With \`--remote ADDR\` the counters come from a \`ringctl serve\` over gRPC (unix:PATH or HOST:PORT) instead of this machine.

      \`--json\` prints the kvmring.v1.StatsSnapshot message (proto/kvmring/v1/stats.proto) in the proto3 JSON mapping: lowerCamelCase names, 64-bit counters as decimal strings. With \`--watch\`, one snapshot per line.

      Reading the XDP programs' counters needs root; without it their entries say so.
    `,
    examples: [
      ['Show every counter', '$0 stats'],
      ['Rates every 2 seconds', '$0 stats --watch 2'],
      ['From a ringctl serve', '$0 stats --remote unix:/run/kvmring/ringctl.sock'],
      ['For scripts', '$0 stats --json'],
    ],
  });

  json = Option.Boolean('--json', false, { description: 'Print the snapshot as JSON (proto3 JSON mapping)' });

  watch = Option.String('--watch', {
    description: 'Print again every SECONDS (0.1 to 3600), with rates',
    validator: t.cascade(t.isNumber(), [t.isInInclusiveRange(MIN_WATCH_MS / 1000, MAX_WATCH_MS / 1000)]),
  });

  count = Option.String('--count', {
    description: 'With --watch: stop after this many snapshots',
    validator: t.cascade(t.isNumber(), [t.isInteger(), t.isAtLeast(1)]),
  });

  all = Option.Boolean('--all', false, { description: 'Also show error and drop counters that are zero' });

  remote = Option.String('--remote', { description: 'Read from a ringctl serve at unix:PATH or HOST:PORT' });

  ring = Option.String('--ring', 'ring0', { description: 'The ring device' });

  interfaces = Option.Array('--interface', [], { description: 'Also show this interface\'s counters; repeat for more' });

  async run(): Promise<number> {
    if (this.count !== undefined && this.watch === undefined) throw new UsageError('--count needs --watch');
    if (!isValidIfname(this.ring)) throw new UsageError(`${this.ring}: not an interface name (--ring)`);
    for (const i of this.interfaces) if (!isValidIfname(i)) throw new UsageError(`${i}: not an interface name (--interface)`);
    let target: string | undefined;
    if (this.remote !== undefined) {
      try {
        target = grpcTarget(parseAddress(this.remote));
      } catch (err) {
        if (err instanceof AddressError) throw new UsageError(`--remote ${err.message}`);
        throw err;
      }
      if (this.interfaces.length || this.ring !== 'ring0') throw new UsageError('--ring and --interface are the server\'s settings; they do not go with --remote');
    }

    // protobufjs and grpc-js take seconds to load in a small guest: only when needed.
    const gen = this.json ? await import('../gen/kvmring/v1/stats.js') : undefined;
    const toJSON = gen && ((s: Snapshot) => gen.StatsSnapshot.toJSON(s));
    let previous: Snapshot | undefined;
    const print = (s: Snapshot) => {
      const out = this.context.stdout;
      if (toJSON) out.write(`${JSON.stringify(toJSON(s), null, this.watch === undefined ? 2 : undefined)}\n`);
      else {
        if (this.watch !== undefined) {
          const when = new Date(Number(s.timeUnixNano / 1_000_000n)).toISOString();
          out.write(`${previous ? '\n' : ''}${s.hostname} ${when} (every ${this.watch} s)\n`);
        }
        out.write(renderStats(s, { all: this.all, previous }));
      }
      previous = s;
    };

    if (target !== undefined) return this.#remote(target, print);

    const { collectStats } = await import('../stats/collect.js');
    const read = () =>
      collectStats({
        ring: this.ring,
        interfaces: this.interfaces,
        pinRoot: pinRoot(this.context.env),
        sysfsNet: sysfsNet(this.context.env),
      });
    if (this.watch === undefined) {
      print(read());
      return 0;
    }
    const intervalMs = this.watch * 1000;
    for (let n = 0; this.count === undefined || n < this.count; n++) {
      if (n) await new Promise((r) => setTimeout(r, intervalMs));
      print(read());
    }
    return 0;
  }

  async #remote(target: string, print: (s: Snapshot) => void): Promise<number> {
    const { describeGrpcError, StatsClient } = await import('../stats/grpc.js');
    const client = new StatsClient(target);
    try {
      if (this.watch === undefined) {
        print(await client.getStats());
        return 0;
      }
      let n = 0;
      const w = client.watchStats(Math.round(this.watch * 1000), (s) => {
        if (this.count !== undefined && n >= this.count) return;
        print(s);
        if (this.count !== undefined && ++n >= this.count) w.cancel();
      });
      await w.done;
      return 0;
    } catch (err) {
      const e = err as { code?: unknown; details?: unknown };
      if (typeof e.code === 'number' && typeof e.details === 'string') {
        throw new RingctlError(describeGrpcError(target, err as Parameters<typeof describeGrpcError>[1]), { cause: err });
      }
      throw err;
    } finally {
      client.close();
    }
  }
}
