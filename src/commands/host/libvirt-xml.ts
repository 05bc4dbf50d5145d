import { Command, Option } from 'clipanion';

import { RingctlCommand } from '../../common/command.js';
import { checkId, idOption, nameOption, pathsFor, stateGuest } from '../../host/cli.js';

export class HostLibvirtXmlCommand extends RingctlCommand {
  static override paths = [['host', 'libvirt-xml']];

  static override usage = Command.Usage({
    category: 'Host',
    description: "print what a libvirt domain needs for a guest's roster, regions and doorbell",
    details: `
      Prints for guest GUEST of the setup (its name, as \`host up\` has it) what to add to its libvirt domain (\`virsh edit DOMAIN\`): the \`xmlns:qemu\` namespace, a \`<qemu:commandline>\` with the same options as \`host qemu-args\` for its roster and regions (libvirt's \`<shmem>\` can neither name a file nor map it read-only), and in doorbell mode a \`<shmem>\` for the doorbell at its PCI address. An XML comment first says where each part goes and what libvirt leaves to you: the PCI slots to keep free, and access for QEMU (its user, AppArmor or SELinux) to the files.

      \`--json\` prints the parts as a JSON object (namespace, devices, commandline, notes) instead. \`--id\` prefixes the QEMU ids, as for \`host qemu-args\`.
    `,
    examples: [
      ['For g1', '$0 host libvirt-xml g1'],
      ['The parts, for a script that edits the domain', '$0 host libvirt-xml g2 --json'],
    ],
  });

  guest = Option.String({ name: 'GUEST' });

  name = nameOption();

  id = idOption();

  json = Option.Boolean('--json', false, { description: 'Print the parts as JSON' });

  async run(): Promise<number> {
    const id = checkId(this.id);
    const paths = pathsFor(this.name, this.context.env);
    const { libvirtXml } = await import('../../host/libvirt.js');
    const { state, slot, files } = stateGuest(paths, this.guest);
    const x = libvirtXml(state.plan, slot, files, id);
    if (this.json) {
      const { namespace, devices, commandline, notes } = x;
      this.context.stdout.write(`${JSON.stringify({ namespace, devices, commandline, notes }, null, 2)}\n`);
    } else this.context.stdout.write(`${x.text}\n`);
    return 0;
  }
}
