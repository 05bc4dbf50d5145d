import { Command, Option } from 'clipanion';

import { table } from '../../common/cli.js';
import { RingctlCommand } from '../../common/command.js';
import { nameOption, pathsFor, requireState } from '../../host/cli.js';
import type { RegionStatus } from '../../host/status.js';

export class HostStatusCommand extends RingctlCommand {
  static override paths = [['host', 'status']];

  static override usage = Command.Usage({
    category: 'Host',
    description: 'show the shared region and its peer table',
    details: `
      The region (file, size, ABI version, slots and ring size, instance, mode; in doorbell mode the socket, the server and the ids connected) and one line per guest slot: its state (free, claimed, up), generation, MAC, MTU, heartbeat and whether it moves, and the addresses the guest publishes.

      The heartbeat is sampled twice, 300 ms apart: \`alive\` when it moved, \`stale Ns\` when it did not, N being how long it has been seen still (by this and earlier runs of status). Everything in the region is written by guests and checked: a bad field is printed as an error under the table. The exit status is 1 when the region itself is unusable (missing, unformatted, re-formatted, or the doorbell server is gone), else 0.
    `,
    examples: [
      ['Show the default region', '$0 host status'],
      ['The same, for scripts', '$0 host status --json'],
    ],
  });

  name = nameOption();

  json = Option.Boolean('--json', false, { description: 'Print JSON' });

  async run(): Promise<number> {
    const paths = pathsFor(this.name, this.context.env);
    // host/status.js maps the region through koffi, slow to load in a small guest.
    const { formatStatus, hostStatus } = await import('../../host/status.js');
    const r: RegionStatus = await hostStatus(paths, requireState(paths));
    if (this.json) this.context.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    else this.context.stdout.write(formatStatus(r, table));
    if (r.problems.length) {
      this.context.stderr.write(`ringctl: ${r.name}: ${r.problems[0]}\n`);
      return 1;
    }
    return 0;
  }
}
