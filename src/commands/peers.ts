import { Command, Option, UsageError } from 'clipanion';

import { formatAge, readPeerTable, sysfsNet, type TablePeer } from '../peers/table.js';
import { parseIp, type Cidr } from '../xdp/cidr.js';
import { reportFailure, table } from '../xdp/cli.js';
import { isValidIfname } from '../xdp/ifname.js';

export class PeersCommand extends Command {
  static override paths = [['peers']];

  static override usage = Command.Usage({
    category: 'Guest',
    description: 'show the ring device\'s peer table',
    details: `
      The peer table as this guest's ringnet sees it (/sys/class/net/ring0/ringnet/peers): one line per slot in use with its state (self: this guest; up: a live peer; dead: its heartbeat stopped), generation, ring MAC, how long ago its heartbeat last moved, and the addresses it publishes: RING are those inside ring0's own subnets, OTHER its other interfaces' (what transparent mode diverts). \`--all\` adds the free slots. A REGION column appears when ring0 serves several regions.

      The table's contents come from other guests: a line that does not parse is skipped with a warning on stderr.
    `,
    examples: [
      ['Show ring0\'s peers', '$0 peers'],
      ['The same, for scripts', '$0 peers --json'],
    ],
  });

  ring = Option.String('--ring', 'ring0', { description: 'The ring device' });

  all = Option.Boolean('--all', false, { description: 'Include free slots' });

  json = Option.Boolean('--json', false, { description: 'Print JSON' });

  async execute(): Promise<number> {
    if (!isValidIfname(this.ring)) throw new UsageError(`${this.ring}: not an interface name (--ring)`);
    // localAddresses() goes through koffi, which takes seconds to load in a small guest.
    const { localAddresses } = await import('../peers/local.js');
    const { inCidr, subnetOf } = await import('../peers/classify.js');
    let peers: TablePeer[];
    let problems: string[];
    let ringSubnets: Cidr[];
    try {
      ({ peers, problems } = readPeerTable(this.ring, sysfsNet(this.context.env)));
      ringSubnets = localAddresses()
        .filter((a) => a.ifname === this.ring)
        .map(subnetOf);
    } catch (err) {
      return reportFailure(this.context.stderr, err);
    }
    for (const p of problems) this.context.stderr.write(`ringctl: warning: ${this.ring}'s peer table ${p}\n`);

    const shown = peers.filter((p) => this.all || p.state !== 'free').sort((a, b) => a.region - b.region || a.slot - b.slot);
    const onRing = (s: string) => {
      const a = parseIp(s);
      return a !== undefined && ringSubnets.some((c) => inCidr(c, a));
    };
    const rows = shown.map((p) => {
      const all = [...p.ipv4, ...p.ipv6];
      return {
        peer: p,
        heartbeat: p.state === 'up' || p.state === 'dead' ? p.ageMs : null,
        ring: all.filter(onRing),
        other: all.filter((a) => !onRing(a)),
      };
    });

    if (this.json) {
      const out = rows.map(({ peer: p, heartbeat, ring, other }) => ({
        region: p.region,
        slot: p.slot,
        state: p.state,
        generation: p.generation,
        mac: p.mac,
        heartbeatAgeMs: heartbeat,
        ipv4: p.ipv4,
        ipv6: p.ipv6,
        ringAddresses: ring,
        otherAddresses: other,
      }));
      this.context.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return 0;
    }
    if (!rows.length) {
      this.context.stdout.write(`${this.ring}: the peer table has no ${this.all ? '' : 'used '}slots\n`);
      return 0;
    }
    const regions = new Set(peers.map((p) => p.region)).size > 1;
    const header = [...(regions ? ['REGION'] : []), 'SLOT', 'STATE', 'GEN', 'MAC', 'HEARTBEAT', 'RING', 'OTHER'];
    const cells = rows.map(({ peer: p, heartbeat, ring, other }) => [
      ...(regions ? [String(p.region)] : []),
      String(p.slot),
      p.state,
      String(p.generation),
      p.mac,
      heartbeat === null ? '-' : `${formatAge(heartbeat)} ago`,
      ring.length ? ring.join(',') : '-',
      other.length ? other.join(',') : '-',
    ]);
    this.context.stdout.write(table(header, cells));
    return 0;
  }
}
