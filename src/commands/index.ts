// Every ringctl command, one class per file; the file path mirrors the command path.
// Add one import and one entry per command (keep the list sorted by path).
import { Builtins, type CommandClass } from 'clipanion';

import { AttachCommand } from './attach.js';
import { DetachCommand } from './detach.js';
import { HostDoorbellServerCommand } from './host/doorbell-server.js';
import { HostDownCommand } from './host/down.js';
import { HostLibvirtXmlCommand } from './host/libvirt-xml.js';
import { HostQemuArgsCommand } from './host/qemu-args.js';
import { HostStatusCommand } from './host/status.js';
import { HostUpCommand } from './host/up.js';
import { PeersCommand } from './peers.js';
import { ServeCommand } from './serve.js';
import { StatsCommand } from './stats.js';
import { StatusCommand } from './status.js';

export const COMMANDS: CommandClass[] = [
  Builtins.HelpCommand,
  Builtins.VersionCommand,
  Builtins.DefinitionsCommand,
  AttachCommand,
  DetachCommand,
  HostDoorbellServerCommand,
  HostDownCommand,
  HostLibvirtXmlCommand,
  HostQemuArgsCommand,
  HostStatusCommand,
  HostUpCommand,
  PeersCommand,
  ServeCommand,
  StatsCommand,
  StatusCommand,
];
