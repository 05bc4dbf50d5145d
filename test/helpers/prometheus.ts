// Reading Prometheus text exposition in the stats tests.
import assert from 'node:assert/strict';

/** Prometheus text -> `name{labels}` -> value (labels as prom-client prints them). */
export function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{.*\})? (\S+)$/.exec(line);
    assert.ok(m, `cannot parse exposition line ${JSON.stringify(line)}`);
    out.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return out;
}
