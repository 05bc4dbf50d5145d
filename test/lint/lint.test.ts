// The lint tier: each linter is one test, run over the whole tree (`npm test -- lint`).
// ESLint keeps a cache in node_modules/.cache/eslint/, so a run after a small change
// re-checks only the files that changed. Further linters go here as further it()s.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** Runs `npm run --silent SCRIPT`; its exit status and everything it printed. */
function npmRun(script: string): { status: number | null; output: string } {
  const r = spawnSync('npm', ['run', '--silent', script], { cwd: root, encoding: 'utf8', timeout: 600_000 });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

describe('lint', function () {
  // A cold ESLint run (typed over src/ and test/) takes about half a minute on 2 cores.
  this.timeout(600_000);

  it('finds nothing for ESLint in the TypeScript (strict, type-checked) and the JavaScript (recommended)', () => {
    const r = npmRun('lint');
    assert.equal(r.status, 0, `npm run lint failed:\n${r.output}`);
  });

  // The first run on a machine installs Debian's linux-source (about 140 MB) and keeps
  // checkpatch.pl from it under /var/cache/kvmring/checkpatch/.
  it('finds no error for checkpatch.pl in the kernel C (guest-netdev/, kmod/, include/)', () => {
    const r = npmRun('checkpatch');
    assert.equal(r.status, 0, `npm run checkpatch failed:\n${r.output}`);
    assert.match(r.output, / 0 errors,/, `checkpatch printed no summary:\n${r.output}`);
  });
});
