import { Command, Option } from 'clipanion';

import { table } from '../../common/cli.js';
import { RingctlCommand } from '../../common/command.js';
import { nameOption, pathsFor, requireState } from '../../host/cli.js';
import type { SetupStatus } from '../../host/status.js';

export class HostStatusCommand extends RingctlCommand {
  static override paths = [['host', 'status']];

  static override usage = Command.Usage({
    category: 'Host',
    description: "show a setup's guests, their rosters and the owners' entries in the regions",
    details: `
      The setup (isolation level, queues and ring size, instance, where the files are, mode; in doorbell mode the server and the ids connected), then one line per guest as the host decided it: slot, name, ring0 MAC, the prefixes it may claim, its doorbell id as its roster says, and the regions it maps (#N, \`rw\` for its own). Then one line per owned region: file, owner, readers (lane order) and the owner's entry as read from it: state, generation, heartbeat, MTU, and the MAC and addresses the owner claims, marked \`!\` where they differ from its roster entry (a MAC not its own, an address outside its prefixes), with the difference spelled out under the table.

      The heartbeat is sampled twice, 300 ms apart: \`alive\` when it moved, \`stale Ns\` when it did not, N being how long it has been seen still (by this and earlier runs of status). Everything an owner writes is checked: a bad field is printed as an error under the table. The exit status is 1 when the setup itself is unusable (a file missing or resized, a region header or a roster that is not what host up wrote, or the doorbell server gone), else 0.
    `,
    examples: [
      ['Show the default setup', '$0 host status'],
      ['The same, for scripts', '$0 host status --json'],
    ],
  });

  name = nameOption();

  json = Option.Boolean('--json', false, { description: 'Print JSON' });

  async run(): Promise<number> {
    const paths = pathsFor(this.name, this.context.env);
    // host/status.js maps the files through koffi, slow to load in a small guest.
    const { formatStatus, hostStatus } = await import('../../host/status.js');
    const r: SetupStatus = await hostStatus(paths, requireState(paths));
    if (this.json) this.context.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    else this.context.stdout.write(formatStatus(r, table));
    if (r.problems.length) {
      this.context.stderr.write(`ringctl: ${r.name}: ${r.problems[0]}\n`);
      return 1;
    }
    return 0;
  }
}
