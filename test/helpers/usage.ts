// Asserts that a function refuses its input the way a command does: with a
// clipanion UsageError whose message matches.
import assert from 'node:assert/strict';
import { UsageError } from 'clipanion';

export function assertUsageError(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    assert.match(err.message, message);
    return true;
  });
}
