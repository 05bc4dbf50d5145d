import { Command, Option, UsageError } from 'clipanion';
import * as t from 'typanion';

import { requireRoot, untilSignal } from '../common/cli.js';
import { RingctlCommand } from '../common/command.js';
import { RingctlError } from '../common/errors.js';
import type { PeerFollower } from '../peers/follower.js';
import type { InterfacePeers } from '../peers/sync.js';
import { sysfsNet } from '../peers/table.js';
import { CidrError, parseCidrs } from '../xdp/cidr.js';
import { pinRoot } from '../xdp/pins.js';

export class AttachCommand extends RingctlCommand {
  static override paths = [['attach']];

  static override usage = Command.Usage({
    category: 'Guest',
    description: 'attach the ring redirect to an interface',
    details: `
      Loads xdp_ring onto IFACE (the ordinary NIC, eth1): frames for a co-resident peer's address are re-addressed to the peer's ring MAC and redirected into the ring device; everything else passes. Subnets given with \`--subnet\` are the inter-domain subnets: an address inside one that no peer has is left for the kernel to route.

      With \`--transparent\`, tc_transparent also goes on IFACE's egress, sending locally originated traffic for a peer's ordinary address into the ring.

      The peer map is filled from the ring device's peer table (over ringnet's generic netlink family), live peers only. A peer's addresses inside the ring device's subnets or the inter-domain subnets are redirected; with \`--transparent\`, so are its addresses inside IFACE's own subnets (its "ordinary" addresses). Anything a peer publishes that is not unicast, or is one of this guest's addresses, is left out with a warning.

      Programs, maps and the XDP link are pinned under /sys/fs/bpf/ringctl/IFACE/. Attaching again with the same settings changes nothing but the peers (synced again). A program ringctl did not load, or ringctl's own with other settings, is only replaced with \`--force\`.

      The peer map is a snapshot: peers that come or go later are only noticed with \`--follow\`, which stays in the foreground after attaching and keeps the peers of every interface ringctl has attached in step with their ring's peer table (polled every 500 ms), printing each change, until SIGINT or SIGTERM. Stopping it leaves the attachment and its peers as they are. When the ring device goes away (ringnet.ko unloaded), the follower removes every peer, so traffic stays on IFACE; when it comes back (as a new device, with a new ifindex), the follower attaches IFACE to it again with the same settings.
    `,
    examples: [
      ['Attach to eth1, redirecting into ring0, with the lab\'s inter-domain subnets', '$0 attach eth1 --subnet 198.51.100.0/24 --subnet 2001:db8:2::/64'],
      ['Use generic (skb) XDP and transparent mode', '$0 attach eth1 --mode generic --transparent'],
      ['Attach, then keep the peers in step with ring0 until Ctrl-C', '$0 attach eth1 --subnet 198.51.100.0/24 --transparent --follow'],
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

  follow = Option.Boolean('--follow', false, {
    description: 'Stay in the foreground and keep the peers in step with the ring\'s peer table until SIGINT/SIGTERM',
  });

  async run(): Promise<number> {
    let subnets;
    try {
      subnets = parseCidrs(this.subnets);
    } catch (err) {
      if (err instanceof CidrError) throw new UsageError(err.message);
      throw err;
    }
    requireRoot('attach');
    // koffi and libbpf take seconds to load in a small guest: only for this verb.
    const { hwAddr, ifNameToIndex } = await import('../xdp/netdev.js');
    if (ifNameToIndex(this.ifname) === undefined) throw new UsageError(`${this.ifname}: no such interface`);
    if (ifNameToIndex(this.ring) === undefined) {
      // The default ring missing is a guest without ringnet, not a typo.
      if (this.ring === 'ring0') throw new RingctlError('ring0 not found: is ringnet.ko loaded?');
      throw new UsageError(`${this.ring}: no such ring device (--ring)`);
    }
    if (this.ring === this.ifname) throw new UsageError(`${this.ifname}: the ring device must be another interface (--ring)`);
    if (!hwAddr(this.ring)) throw new UsageError(`${this.ring}: not an Ethernet device; --ring must name ring0 or a stand-in with a MAC`);

    const { bpfDir } = await import('../xdp/programs.js');
    const { initialPeers } = await import('../peers/sync.js');
    const { attach } = await import('../xdp/attach.js');
    const { PeerFollower } = await import('../peers/follower.js');
    const root = pinRoot(this.context.env);
    const sysfs = sysfsNet(this.context.env);
    const peers: InterfacePeers | undefined = initialPeers({ ifname: this.ifname, ring: this.ring, subnets, transparent: this.transparent }, sysfs);
    const r = attach({
      ifname: this.ifname,
      ring: this.ring,
      subnets,
      mode: this.mode,
      transparent: this.transparent,
      force: this.force,
      pinRoot: root,
      bpfDir: bpfDir(this.context.env),
      peers: peers?.peers,
    });
    for (const line of r.lines) this.context.stdout.write(`${line}\n`);
    for (const note of [...(peers?.notes ?? []), ...r.rejected]) this.context.stderr.write(`ringctl: warning: ${this.ifname}: ${note}\n`);
    if (this.follow) {
      const out = this.context.stdout;
      // Also attaches eth1 to ring0 again after ringnet reloads (a new ifindex).
      const follower = new PeerFollower({ pinRoot: root, sysfs, log: (line) => out.write(`${line}\n`), ring: this.ring, bpfDir: bpfDir(this.context.env) });
      await this.followUntilSignal(follower);
    }
    return 0;
  }

  /** Runs `follower` until SIGINT or SIGTERM. */
  private async followUntilSignal(follower: PeerFollower): Promise<void> {
    const out = this.context.stdout;
    const signal = await untilSignal(() => {
      follower.start();
      out.write(`following the peer tables ${follower.how}; SIGINT or SIGTERM stops\n`);
    });
    follower.stop();
    out.write(`stopped following (${signal}); the attachment and its peers stay as they are\n`);
  }
}
