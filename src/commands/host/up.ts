import { Command, Option, UsageError } from 'clipanion';
import { resolve } from 'node:path';

import { RingctlCommand } from '../../common/command.js';
import { MAX_GUESTS, MIN_GUESTS, parseProvider } from '../../host/args.js';
import { nameOption, pathsFor } from '../../host/cli.js';
import { parseHostSpec } from '../../host/isolation.js';
import { DEFAULT_REGION_DIR, hostRunDir } from '../../host/state.js';
import { CONSTANTS as C } from '../../ring/layout.js';

export class HostUpCommand extends RingctlCommand {
  static override paths = [['host', 'up']];

  static override usage = Command.Usage({
    category: 'Host',
    description: "make the guests' rosters and regions (ABI v2) and, with --doorbell, start the doorbell server",
    details: `
      Plans a setup of ${MIN_GUESTS} to ${MAX_GUESTS} guests and makes its files: through the host module kvmring.ko (\`--provider kvmring\`: each a node under /dev/kvmring, memory the module allocates, physically contiguous where it can, on \`--numa-node\`), or as files in DIR (\`--provider shm\`, \`--dir\`, default ${DEFAULT_REGION_DIR}); \`--provider auto\` (default) takes the module when it is loaded and no --dir is given. The files: for every guest a roster (8K, written only by the host, mapped read-only: its slot, the guests it may talk to with their MACs, prefixes and doorbell ids, and where its regions are), and the owned regions, each written by one guest and mapped read-only into the others that read it. Every file is 0600; a region's memory is allocated as far as its lanes reach, so a full filesystem fails here, not later in a guest. The state is recorded under /run/kvmring/host/NAME/ for \`host status\`, \`host qemu-args\`, \`host libvirt-xml\` and \`host down\`.

      Guests: \`--guests N\` (named g1..gN), or one \`--guest NAME[,mac=MAC][,addr=CIDR]...\` per guest: ring0's MAC (default: one the host picks) and the prefixes the guest may claim on ring0 (up to ${C.KVMRING_ROSTER_ADDRS}; a guest's claim outside them is refused by its peers, and none given means it may claim none). Slots follow the order given.

      \`--isolation owner\` (default): a region per guest and group it is in, read-only to that group's other members; a guest can write only its own regions, but reads its neighbours' traffic to each other within a group. \`--isolation pair\`: a region per ordered pair of guests, mapped only into the two; no guest can read or touch traffic that is not its own. \`--group NAME=GUEST,GUEST,...\` (repeatable): guests talk only to guests they share a group with (default: one group of all).

      \`--queues Q\` queue pairs per pair of guests (1 to ${C.KVMRING_QUEUES_MAX}), \`--ring-size\` the data bytes of every ring (a power of two; the default shrinks as a guest talks to more others). On hugetlbfs every file is a whole number of huge pages.

      With \`--doorbell\`, a doorbell server (QEMU's ivshmem-server protocol) starts in the background with a socket per guest in /run/kvmring/host/NAME/: a guest gets the eventfds of the guests it may talk to only, and its doorbell id is written into every roster that lists it as it connects. Without it guests poll.

      A setup that is up is not re-created: run \`ringctl host down\` first.
    `,
    examples: [
      ['Three guests g1..g3, each with a region the others read, polling', '$0 host up --guests 3'],
      ['Two named guests with their MACs and prefixes, interrupts', '$0 host up --guest web,mac=02:00:00:00:00:01,addr=198.51.100.1/32 --guest db,addr=198.51.100.2/32 --doorbell'],
      ['Two tenants that share g2, a region per ordered pair', '$0 host up --guests 3 --group a=g1,g2 --group b=g2,g3 --isolation pair'],
      ['A second setup on 2M huge pages', '$0 host up --guests 4 --dir /dev/hugepages --name lab2'],
      ["Regions from kvmring.ko on NUMA node 0", '$0 host up --guests 2 --provider kvmring --numa-node 0'],
    ],
  });

  guests = Option.String('--guests', { description: `Guests g1..gN (${MIN_GUESTS}..${MAX_GUESTS}), unless --guest names them` });

  guest = Option.Array('--guest', { description: 'A guest: NAME[,mac=MAC][,addr=CIDR]... (repeat per guest)' });

  isolation = Option.String('--isolation', { description: 'owner (default): a region per guest and group; pair: a region per ordered pair' });

  group = Option.Array('--group', { description: 'Guests that may talk: NAME=GUEST,GUEST,... (repeatable; default one group of all)' });

  queues = Option.String('--queues', { description: `Queue pairs per pair of guests (1..${C.KVMRING_QUEUES_MAX}, default 1)` });

  ringSize = Option.String('--ring-size', { description: 'Data bytes of every ring, a power of two: 256K, 1M, ...' });

  doorbell = Option.Boolean('--doorbell', false, { description: 'Interrupts: start a doorbell server for ivshmem-doorbell' });

  vectors = Option.String('--vectors', { description: 'With --doorbell: interrupt vectors per guest (default 1)' });

  provider = Option.String('--provider', { description: 'kvmring (the module makes the regions), shm (files in --dir) or auto (default: kvmring when /dev/kvmring/control exists, else shm)' });

  numaNode = Option.String('--numa-node', { description: 'With kvmring: the NUMA node of the regions (default any)' });

  dir = Option.String('--dir', { description: `With shm: where the files go, tmpfs or hugetlbfs (default ${DEFAULT_REGION_DIR})` });

  name = nameOption();

  async run(): Promise<number> {
    const paths = pathsFor(this.name, this.context.env);
    const { spec, warnings } = parseHostSpec({
      name: paths.name,
      guests: this.guests,
      guest: this.guest,
      group: this.group,
      isolation: this.isolation,
      ringSize: this.ringSize,
      queues: this.queues,
      doorbell: this.doorbell,
      vectors: this.vectors,
    });
    for (const w of warnings) this.context.stderr.write(`ringctl: warning: ${w}\n`);
    // host/up.js writes the files through koffi, slow to load in a small guest.
    const { hostUp } = await import('../../host/up.js');
    const provider = parseProvider(this.provider);
    let numaNode: number | undefined;
    if (this.numaNode !== undefined) {
      numaNode = Number(this.numaNode);
      if (!/^\d+$/.test(this.numaNode) || !Number.isSafeInteger(numaNode)) throw new UsageError(`--numa-node ${JSON.stringify(this.numaNode)}: write a node number, 0 or more`);
      if (provider === 'shm') throw new UsageError('--numa-node is for --provider kvmring (files in /dev/shm go where the kernel puts them)');
    }
    const r = await hostUp({
      runDir: hostRunDir(this.context.env),
      dir: resolve(this.dir ?? DEFAULT_REGION_DIR),
      dirGiven: this.dir !== undefined,
      provider,
      ...(numaNode === undefined ? {} : { numaNode }),
      spec,
      env: this.context.env,
    });
    for (const line of r.lines) this.context.stdout.write(`${line}\n`);
    return 0;
  }
}
