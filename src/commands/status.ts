import { Command, Option, UsageError } from 'clipanion';

import { requireRoot, table } from '../common/cli.js';
import { RingctlCommand } from '../common/command.js';
import { sysfsNet } from '../peers/table.js';
import { formatCidr } from '../xdp/cidr.js';
import { isValidIfname } from '../xdp/ifname.js';
import type { IfaceState } from '../xdp/state.js';

export class StatusCommand extends RingctlCommand {
  static override paths = [['status']];

  static override usage = Command.Usage({
    category: 'Guest',
    description: 'show where the ring redirect is attached, and the ring device',
    details: `
      For every interface ringctl has attached to (or the ones named): its state (attached; stale when pins outlived the attachment; gone when the interface did), the XDP program and mode, the ring device, transparent mode, the inter-domain subnets and how many peer addresses are known.

      Then the ring devices they redirect into (ring0 when there are none): up or down, carrier, how many peers are up or dead (and how many publish a MAC or addresses their roster entry does not give them, when any: see \`ringctl peers\`), this guest's slot, the mode and how many regions the host maps into this guest (and how many of them it owns). With \`--json\`, each attachment's \`ring\` carries the same, every region with its owner and readers.
    `,
    examples: [
      ['Show every attachment', '$0 status'],
      ['The same, for scripts', '$0 status --json'],
    ],
  });

  json = Option.Boolean('--json', false, { description: 'Print JSON' });

  ifnames = Option.Rest({ name: 'IFACE' });

  async run(): Promise<number> {
    for (const name of this.ifnames) if (!isValidIfname(name)) throw new UsageError(`${name}: not an interface name`);
    requireRoot('status');
    // koffi and libbpf take seconds to load in a small guest: only for this verb.
    const { pinnedInterfaces, pinRoot, requireBpffs } = await import('../xdp/pins.js');
    const { inspect, stateJson } = await import('../xdp/state.js');
    const { ringDeviceRow, ringDeviceState } = await import('../xdp/ring-device.js');
    const sysfs = sysfsNet(this.context.env);
    const root = pinRoot(this.context.env);
    requireBpffs(root);
    const names = this.ifnames.length ? this.ifnames : pinnedInterfaces(root);
    const states: IfaceState[] = names.map((n) => inspect(root, n));

    if (this.json) {
      const json = states.map((s) => {
        const j = stateJson(s);
        if (!j.ring || s.ringName === undefined) return j;
        const { name, ...device } = ringDeviceState(s.ringName, sysfs);
        return { ...j, ring: { ...j.ring, ...device, name } };
      });
      this.context.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
      return 0;
    }
    const rings = [...new Set(states.map((s) => s.ringName).filter((r): r is string => r !== undefined))];
    const ringTable = () => {
      const devices = (rings.length ? rings : ['ring0']).map((r) => ringDeviceState(r, sysfs));
      let out = `\n${table(['RING', 'STATE', 'CARRIER', 'PEERS', 'REGIONS'], devices.map(ringDeviceRow))}`;
      for (const d of devices) for (const p of d.problems) out += `${d.name}: warning: ${p}\n`;
      return out;
    };
    if (!states.length) {
      this.context.stdout.write(`ringctl is not attached to any interface\n${ringTable()}`);
      return 0;
    }
    const rows = states.map((s) => [
      s.ifname,
      s.state === 'none' ? 'not attached' : s.state,
      s.xdpProgId === undefined ? '-' : String(s.xdpProgId),
      s.mode ?? '-',
      s.ringIfindex === undefined ? '-' : (s.ringName ?? `ifindex ${s.ringIfindex}`),
      s.tcProgId === undefined ? 'no' : s.tcAttached ? `tc ${s.tcProgId}` : `tc ${s.tcProgId} (detached)`,
      String(s.peers),
      s.subnets.length ? s.subnets.map(formatCidr).join(',') : '-',
    ]);
    this.context.stdout.write(table(['IFACE', 'STATE', 'PROG', 'MODE', 'RING', 'TRANSPARENT', 'PEERS', 'SUBNETS'], rows) + ringTable());
    return 0;
  }
}
