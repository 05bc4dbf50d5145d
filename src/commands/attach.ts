import { Command, Option, UsageError } from 'clipanion';
import * as t from 'typanion';

import { attach, type XdpMode } from '../xdp/attach.js';
import { CidrError, parseCidrs } from '../xdp/cidr.js';
import { reportFailure, requireRoot } from '../xdp/cli.js';
import { hwAddr, ifNameToIndex } from '../xdp/netdev.js';
import { pinRoot } from '../xdp/pins.js';
import { bpfDir } from '../xdp/programs.js';

export class AttachCommand extends Command {
  static override paths = [['attach']];

  static override usage = Command.Usage({
    category: 'Guest',
    description: 'attach the ring redirect to an interface',
    details: `
      Loads xdp_ring onto IFACE (the ordinary NIC, eth1): frames for a co-resident peer's address are re-addressed to the peer's ring MAC and redirected into the ring device; everything else passes. Subnets given with \`--subnet\` are the inter-domain subnets: an address inside one that no peer has is left for the kernel to route.

      With \`--transparent\`, tc_transparent also goes on IFACE's egress, sending locally originated traffic for a peer's ordinary address into the ring.

      Programs, maps and the XDP link are pinned under /sys/fs/bpf/ringctl/IFACE/. Attaching again with the same settings does nothing. A program ringctl did not load, or ringctl's own with other settings, is only replaced with \`--force\`.
    `,
    examples: [
      ['Attach to eth1, redirecting into ring0, with the lab\'s inter-domain subnets', '$0 attach eth1 --subnet 198.51.100.0/24 --subnet 2001:db8:2::/64'],
      ['Use generic (skb) XDP and transparent mode', '$0 attach eth1 --mode generic --transparent'],
    ],
  });

  ifname = Option.String({ name: 'IFACE' });

  ring = Option.String('--ring', 'ring0', { description: 'The ring device frames are redirected into' });

  subnets = Option.Array('--subnet', [], { description: 'An inter-domain subnet (CIDR); repeat for more' });

  mode = Option.String('--mode', 'native', {
    description: 'XDP mode: native (driver) or generic (skb)',
    validator: t.isEnum(['native', 'generic'] as const),
  });

  transparent = Option.Boolean('--transparent', false, {
    description: 'Also divert locally originated traffic for peers\' ordinary addresses (TC egress)',
  });

  force = Option.Boolean('--force', false, { description: 'Replace an XDP program already on IFACE' });

  async execute(): Promise<number> {
    let subnets;
    try {
      subnets = parseCidrs(this.subnets);
    } catch (err) {
      if (err instanceof CidrError) throw new UsageError(err.message);
      throw err;
    }
    try {
      requireRoot('attach');
    } catch (err) {
      return reportFailure(this.context.stderr, err);
    }
    if (ifNameToIndex(this.ifname) === undefined) throw new UsageError(`${this.ifname}: no such interface`);
    if (ifNameToIndex(this.ring) === undefined) throw new UsageError(`${this.ring}: no such ring device (--ring)`);
    if (this.ring === this.ifname) throw new UsageError(`${this.ifname}: the ring device must be another interface (--ring)`);
    if (!hwAddr(this.ring)) throw new UsageError(`${this.ring}: not an Ethernet device; --ring must name ring0 or a stand-in with a MAC`);

    try {
      const r = attach({
        ifname: this.ifname,
        ring: this.ring,
        subnets,
        mode: this.mode as XdpMode,
        transparent: this.transparent,
        force: this.force,
        pinRoot: pinRoot(this.context.env),
        bpfDir: bpfDir(this.context.env),
      });
      for (const line of r.lines) this.context.stdout.write(`${line}\n`);
      return 0;
    } catch (err) {
      return reportFailure(this.context.stderr, err);
    }
  }
}
