// The TypeScript encoder that the formatter in C must match byte for byte.
export { encodeRoster as encodeRosterTs, ownedHeader as ownedHeaderTs, writeRoster as writeRosterTs } from '../../src/host/roster.js';
