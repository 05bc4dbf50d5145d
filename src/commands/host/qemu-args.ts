import { Command, Option } from 'clipanion';

import { RingctlCommand } from '../../common/command.js';
import { shellQuote } from '../../host/args.js';
import { checkId, idOption, nameOption, pathsFor, stateGuest } from '../../host/cli.js';

export class HostQemuArgsCommand extends RingctlCommand {
  static override paths = [['host', 'qemu-args']];

  static override usage = Command.Usage({
    category: 'Host',
    description: "print the QEMU options that give a guest its roster, regions and doorbell",
    details: `
      Prints, as one shell-quoted line, the options for guest GUEST of the setup (its name, as \`host up\` has it: g1, g2, ... or a --guest NAME): a shared \`memory-backend-file\` and an \`ivshmem-plain\` device for its roster (read-only, at 00:10.0, where ringnet looks for it) and for each region it maps (its own read-write, the others \`readonly=on\`), each at the PCI slot its roster names; in doorbell mode also a \`socket\` chardev to its own socket of the doorbell server and an \`ivshmem-doorbell\` device at 00:0f.0. Keep those PCI slots free for them.

      \`--json\` prints the options as a JSON array of arguments, to append to an argv without parsing. \`--id\` prefixes the QEMU ids (default kvmring), for a guest in several setups.
    `,
    examples: [
      ['Options for g1', '$0 host qemu-args g1'],
      ['Start a guest with them', 'eval qemu-system-x86_64 ... "$($0 host qemu-args g1)"'],
      ['As an argv array', '$0 host qemu-args g2 --json'],
    ],
  });

  guest = Option.String({ name: 'GUEST' });

  name = nameOption();

  id = idOption();

  json = Option.Boolean('--json', false, { description: 'Print a JSON array of arguments' });

  async run(): Promise<number> {
    const id = checkId(this.id);
    const paths = pathsFor(this.name, this.context.env);
    // Loaded here, not at the top: every other verb would load it too.
    const { guestQemuArgs } = await import('../../host/qemu.js');
    const { state, slot, files } = stateGuest(paths, this.guest);
    const args = guestQemuArgs(state.plan, slot, files, id);
    this.context.stdout.write(this.json ? `${JSON.stringify(args)}\n` : `${shellQuote(args)}\n`);
    return 0;
  }
}
