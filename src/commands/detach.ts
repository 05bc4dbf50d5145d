import { Command, Option, UsageError } from 'clipanion';
import { existsSync } from 'node:fs';

import { requireRoot } from '../common/cli.js';
import { RingctlCommand } from '../common/command.js';
import { isValidIfname } from '../xdp/ifname.js';
import { pinPaths, pinRoot } from '../xdp/pins.js';

export class DetachCommand extends RingctlCommand {
  static override paths = [['detach']];

  static override usage = Command.Usage({
    category: 'Guest',
    description: 'take the ring redirect off an interface',
    details: `
      Detaches ringctl's XDP program (and the transparent-mode TC program) from IFACE and removes its pins. Also cleans up after a crash: pins whose link is gone, or whose interface is gone. A program ringctl did not attach is left in place.
    `,
    examples: [['Detach from eth1', '$0 detach eth1']],
  });

  ifname = Option.String({ name: 'IFACE' });

  async run(): Promise<number> {
    if (!isValidIfname(this.ifname)) throw new UsageError(`${this.ifname}: not an interface name`);
    requireRoot('detach');
    // koffi and libbpf take seconds to load in a small guest: only for this verb.
    const { ifNameToIndex } = await import('../xdp/netdev.js');
    const { detach } = await import('../xdp/detach.js');
    const root = pinRoot(this.context.env);
    // A gone interface is fine if it left pins (that is what detach cleans up).
    if (ifNameToIndex(this.ifname) === undefined && !existsSync(pinPaths(root, this.ifname).dir)) {
      throw new UsageError(`${this.ifname}: no such interface`);
    }
    const r = detach(root, this.ifname);
    for (const line of r.lines) this.context.stdout.write(`${line}\n`);
    return 0;
  }
}
