import { Command } from 'clipanion';

import { RingctlCommand } from '../../common/command.js';
import { nameOption, pathsFor } from '../../host/cli.js';
import { hostRunDir } from '../../host/state.js';

export class HostDownCommand extends RingctlCommand {
  static override paths = [['host', 'down']];

  static override usage = Command.Usage({
    category: 'Host',
    description: "remove a setup's rosters and regions and stop its doorbell server",
    details: `
      Stops the doorbell server \`host up\` started (only that process: its pid is checked against its command line), removes every roster and region file of the setup (those its state names, and any other kvmring-NAME+... file in its directory, or in /dev/shm when the state is lost) and the state under /run/kvmring/host/NAME/. Guests still attached keep their mappings until they stop; remove their devices first.

      Safe to run twice, and after a crash of \`host up\` or of the server: it removes whatever is left.
    `,
    examples: [
      ['Take the default setup down', '$0 host down'],
      ['Another setup', '$0 host down --name lab2'],
    ],
  });

  name = nameOption();

  async run(): Promise<number> {
    const paths = pathsFor(this.name, this.context.env);
    // host/down.js pulls in the libc binding (koffi), slow to load in a small guest.
    const { hostDown } = await import('../../host/down.js');
    for (const line of await hostDown(hostRunDir(this.context.env), paths.name, this.context.env)) this.context.stdout.write(`${line}\n`);
    return 0;
  }
}
