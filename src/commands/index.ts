// Every ringctl command, one class per file; the file path mirrors the command path.
// Add one import and one entry per command (keep the list sorted by path).
import { Builtins, type CommandClass } from 'clipanion';

import { AttachCommand } from './attach.js';
import { DetachCommand } from './detach.js';
import { StatusCommand } from './status.js';

export const COMMANDS: CommandClass[] = [
  Builtins.HelpCommand,
  Builtins.VersionCommand,
  Builtins.DefinitionsCommand,
  AttachCommand,
  DetachCommand,
  StatusCommand,
];
