import { Command, Option, UsageError } from 'clipanion';
import { resolve } from 'node:path';

import { RingctlCommand } from '../../common/command.js';
import { checkRegionSize, DEFAULT_REGION_SIZE, formatSize, MAX_GUESTS, MIN_GUESTS, parseGuests, parseSize, parseVectors } from '../../host/args.js';
import { pathsFor, nameOption } from '../../host/cli.js';
import { DEFAULT_REGION_DIR, hostRunDir } from '../../host/state.js';

export class HostUpCommand extends RingctlCommand {
  static override paths = [['host', 'up']];

  static override usage = Command.Usage({
    category: 'Host',
    description: 'create and format the shared region the guests join',
    details: `
      Creates DIR/kvmring-NAME, SIZE bytes, and formats it for N guest slots (\`--guests\`, ${MIN_GUESTS} to ${MAX_GUESTS}) with one ring per ordered pair of guests, as large as fit (a power of two from 256K). Every format has a fresh random instance, so guests notice a new region. The state is recorded under /run/kvmring/host/NAME/ for \`host status\`, \`host qemu-args\` and \`host down\`.

      SIZE is a power of two such as 16M, 64M or 1G (default ${formatSize(DEFAULT_REGION_SIZE)}); it must hold N*(N-1) rings of 256K, so 16 guests need 64M. DIR is /dev/shm by default, or a hugetlbfs mount (SIZE is then a multiple of its huge page size). The file's memory is allocated at once: a full filesystem fails here, not later in a guest.

      With \`--doorbell\`, the region is formatted for interrupts and a doorbell server (QEMU's ivshmem-server protocol) starts in the background on /run/kvmring/host/NAME/doorbell.sock: guests use \`-device ivshmem-doorbell\` and get their slot as their ivshmem id. Without it guests use \`-device ivshmem-plain\` and poll.

      A region that is up is not re-created: run \`ringctl host down\` first.
    `,
    examples: [
      ['Two guests, 16M in /dev/shm, polling', '$0 host up --guests 2'],
      ['Eight guests with interrupts and 64M', '$0 host up --guests 8 --size 64M --doorbell'],
      ['A second region on 2M huge pages', '$0 host up --guests 4 --size 64M --dir /dev/hugepages --name lab2'],
    ],
  });

  guests = Option.String('--guests', { required: true, description: `Guest slots in the region (${MIN_GUESTS}..${MAX_GUESTS})` });

  size = Option.String('--size', formatSize(DEFAULT_REGION_SIZE), { description: 'Region size, a power of two: 16M, 64M, 1G, ...' });

  doorbell = Option.Boolean('--doorbell', false, { description: 'Interrupts: start a doorbell server for ivshmem-doorbell' });

  vectors = Option.String('--vectors', { description: 'With --doorbell: interrupt vectors per guest (default 1)' });

  dir = Option.String('--dir', DEFAULT_REGION_DIR, { description: 'Where the region file goes: tmpfs or hugetlbfs' });

  name = nameOption();

  async run(): Promise<number> {
    const guests = parseGuests(this.guests);
    const size = parseSize(this.size);
    checkRegionSize(size, guests);
    if (this.vectors !== undefined && !this.doorbell) throw new UsageError('--vectors needs --doorbell');
    const vectors = parseVectors(this.vectors ?? '1');
    const paths = pathsFor(this.name, this.context.env);
    // host/up.js formats the region through koffi and ring-core, slow to load in a small guest.
    const { hostUp } = await import('../../host/up.js');
    const r = await hostUp({
      name: paths.name,
      runDir: hostRunDir(this.context.env),
      dir: resolve(this.dir),
      size,
      guests,
      doorbell: this.doorbell,
      vectors,
      env: this.context.env,
    });
    for (const line of r.lines) this.context.stdout.write(`${line}\n`);
    return 0;
  }
}
