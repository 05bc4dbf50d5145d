// Every ringctl command, one class per file; the file path mirrors the command path.
// Add one import and one entry per command (keep the list sorted by path).
import { Builtins, type CommandClass } from 'clipanion';

export const COMMANDS: CommandClass[] = [
  Builtins.HelpCommand,
  Builtins.VersionCommand,
  Builtins.DefinitionsCommand,
];
