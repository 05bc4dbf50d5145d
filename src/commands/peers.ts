import { Command, Option, UsageError } from 'clipanion';

import { table } from '../common/cli.js';
import { RingctlCommand } from '../common/command.js';
import { formatAge, readPeerTable, sysfsNet } from '../peers/table.js';
import { parseIp } from '../xdp/cidr.js';
import { isValidIfname } from '../xdp/ifname.js';

export class PeersCommand extends RingctlCommand {
  static override paths = [['peers']];

  static override usage = Command.Usage({
    category: 'Guest',
    description: 'show the ring device\'s peer table',
    details: `
      The peer table as this guest's ringnet sees it (a dump of ringnet's generic netlink family; /sys/kernel/debug/ringnet/ring0/peers shows the same to people): this guest's slot and every slot the host's roster lists, with its name and ring MAC (the roster's: the host decides them), state (self: this guest; up: a live peer; dead: its heartbeat stopped; free: not there), generation (a new one each time the guest's ringnet starts), how long ago its heartbeat last moved, and the addresses it publishes that its roster prefixes allow: RING are those inside ring0's own subnets, OTHER its other interfaces' (what transparent mode diverts). \`--all\` adds the free slots.

      A peer that publishes more than its roster entry gives it is in conflict, shown in a CONFLICT column (\`conflicts\` in JSON): a MAC other than its roster MAC, or addresses outside its roster prefixes. ringnet uses none of it and neither does ringctl. So is an address, inside this guest's subnets, that two peers hold (guests in different groups may have overlapping prefixes) or that is this guest's own: ringctl maps it to no peer. A line that does not parse is skipped with a warning on stderr.
    `,
    examples: [
      ['Show ring0\'s peers', '$0 peers'],
      ['The same, for scripts', '$0 peers --json'],
    ],
  });

  ring = Option.String('--ring', 'ring0', { description: 'The ring device' });

  all = Option.Boolean('--all', false, { description: 'Include free slots' });

  json = Option.Boolean('--json', false, { description: 'Print JSON' });

  async run(): Promise<number> {
    if (!isValidIfname(this.ring)) throw new UsageError(`${this.ring}: not an interface name (--ring)`);
    // localAddresses() goes through koffi, which takes seconds to load in a small guest.
    const { localAddresses } = await import('../peers/local.js');
    const { describeConflict, guestConflicts, inCidr, namesOf, peerName, subnetOf } = await import('../peers/classify.js');
    const { peers, problems } = readPeerTable(this.ring, sysfsNet(this.context.env));
    const local = localAddresses();
    const ringSubnets = local.filter((a) => a.ifname === this.ring).map(subnetOf);
    const conflicts = guestConflicts(peers, local);
    const names = namesOf(peers);
    for (const p of problems) this.context.stderr.write(`ringctl: warning: ${this.ring}'s peer table ${p}\n`);

    const shown = peers.filter((p) => this.all || p.state !== 'free').sort((a, b) => a.slot - b.slot);
    const onRing = (s: string) => {
      const a = parseIp(s);
      return a !== undefined && ringSubnets.some((c) => inCidr(c, a));
    };
    const rows = shown.map((p) => {
      const all = [...p.ipv4, ...p.ipv6];
      const id = peerName(p);
      return {
        peer: p,
        heartbeat: p.state === 'up' || p.state === 'dead' ? p.ageMs : null,
        ring: all.filter(onRing),
        other: all.filter((a) => !onRing(a)),
        conflicts: p.state === 'self' ? [] : conflicts.filter((c) => c.peers.includes(id)).map((c) => ({ c, id })),
      };
    });

    if (this.json) {
      const out = rows.map(({ peer: p, heartbeat, ring, other, conflicts: mine }) => ({
        slot: p.slot,
        name: p.name,
        region: p.region,
        state: p.state,
        generation: p.generation,
        mac: p.mac,
        heartbeatAgeMs: heartbeat,
        ipv4: p.ipv4,
        ipv6: p.ipv6,
        ringAddresses: ring,
        otherAddresses: other,
        claimedMac: p.claimedMac ?? null,
        addrsRefused: p.addrsRefused,
        conflicts: mine.map(({ c, id }) => ({ kind: c.kind, value: c.value, with: c.peers.filter((x) => x !== id) })),
      }));
      this.context.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return 0;
    }
    if (!rows.length) {
      this.context.stdout.write(`${this.ring}: the peer table has no ${this.all ? '' : 'used '}slots\n`);
      return 0;
    }
    // Like NAME, the column appears only when it has something to say.
    const anyName = rows.some((r) => r.peer.name);
    const anyConflict = rows.some((r) => r.conflicts.length);
    const header = ['SLOT', ...(anyName ? ['NAME'] : []), 'STATE', 'GEN', 'MAC', 'HEARTBEAT', 'RING', 'OTHER', ...(anyConflict ? ['CONFLICT'] : [])];
    const cells = rows.map(({ peer: p, heartbeat, ring, other, conflicts: mine }) => [
      String(p.slot),
      ...(anyName ? [p.name || '-'] : []),
      p.state,
      String(p.generation),
      p.mac,
      heartbeat === null ? '-' : `${formatAge(heartbeat)} ago`,
      ring.length ? ring.join(',') : '-',
      other.length ? other.join(',') : '-',
      ...(anyConflict ? [mine.length ? mine.map(({ c, id }) => describeConflict(c, id, names)).join('; ') : '-'] : []),
    ]);
    this.context.stdout.write(table(header, cells));
    return 0;
  }
}
