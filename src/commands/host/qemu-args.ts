import { Command, Option, UsageError } from 'clipanion';

import { RingctlCommand } from '../../common/command.js';
import { parseGuestRef, shellQuote } from '../../host/args.js';
import { nameOption, pathsFor, requireState } from '../../host/cli.js';

export class HostQemuArgsCommand extends RingctlCommand {
  static override paths = [['host', 'qemu-args']];

  static override usage = Command.Usage({
    category: 'Host',
    description: 'print the QEMU options that give a guest the region',
    details: `
      Prints, as one shell-quoted line, the options for guest GUEST (g1, g2, ... up to the region's number of slots): in plain mode a shared \`memory-backend-file\` on the region and an \`ivshmem-plain\` device; in doorbell mode a \`socket\` chardev to the doorbell server and an \`ivshmem-doorbell\` device (the server hands QEMU the region and the guest's id, its slot).

      \`--json\` prints the options as a JSON array of arguments, to append to an argv without parsing. \`--id\` names the QEMU objects (default kvmring0), for a guest with several regions.
    `,
    examples: [
      ['Options for g1', '$0 host qemu-args g1'],
      ['Start a guest with them', 'eval qemu-system-x86_64 ... "$($0 host qemu-args g1)"'],
      ['As an argv array', '$0 host qemu-args g2 --json'],
    ],
  });

  guest = Option.String({ name: 'GUEST' });

  name = nameOption();

  id = Option.String('--id', 'kvmring0', { description: 'The QEMU id of the backend/chardev' });

  json = Option.Boolean('--json', false, { description: 'Print a JSON array of arguments' });

  async run(): Promise<number> {
    parseGuestRef(this.guest);
    if (!/^[A-Za-z][A-Za-z0-9_.-]{0,31}$/.test(this.id)) throw new UsageError(`--id must be a QEMU id (a letter, then letters, digits, '.', '_', '-'), not ${JSON.stringify(this.id)}`);
    const paths = pathsFor(this.name, this.context.env);
    // Loaded here, not at the top: every other verb would load it too.
    const { qemuArgs } = await import('../../host/qemu.js');
    const s = requireState(paths);
    parseGuestRef(this.guest, s.maxPeers);
    const args = qemuArgs(s, this.id);
    this.context.stdout.write(this.json ? `${JSON.stringify(args)}\n` : `${shellQuote(args)}\n`);
    return 0;
  }
}
