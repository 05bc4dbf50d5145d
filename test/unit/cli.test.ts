import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { runCli } from '../helpers/run-cli.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
const bin = fileURLToPath(new URL('../../../bin/ringctl.js', import.meta.url));

// A loader hook that appends the URL of every module loaded to the file it is given.
const RECORD_LOADS = `
import { appendFileSync } from 'node:fs';
let out;
export function initialize(data) { out = data.out; }
export async function load(url, context, next) { appendFileSync(out, url + '\\n'); return next(url, context); }
`;

/** Runs bin/ringctl.js with `argv` in a new node and returns the URLs of the modules it loaded. */
function modulesLoaded(argv: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'ringctl-loads-'));
  try {
    const out = join(dir, 'loads');
    const hooks = `data:text/javascript,${encodeURIComponent(RECORD_LOADS)}`;
    const register = `import { register } from 'node:module'; register(${JSON.stringify(hooks)}, { data: { out: ${JSON.stringify(out)} } });`;
    const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, bin, ...argv], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return readFileSync(out, 'utf8').trim().split('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('ringctl', () => {
  it('prints the package version for --version', async () => {
    const r = await runCli(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), pkg.version);
  });

  it('names itself and its usage in --help', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /kvmring controller/);
    assert.match(r.stdout, /\$ ringctl <command>/);
  });

  // Every module costs in a TCG guest: a verb loads the native bindings (koffi, and
  // through it libbpf and libc) and grpc-js/protobufjs only when it runs.
  for (const argv of [['--version'], ['--help'], ['detach', '--help'], ['host', 'up', '--help'], ['host', 'libvirt-xml', '--help']]) {
    it(`loads neither koffi nor grpc-js nor protobufjs for ${argv.join(' ')}`, () => {
      const loaded = modulesLoaded(argv);
      assert.ok(loaded.some((u) => u.endsWith('/dist/src/commands/index.js')), `the hook saw nothing:\n${loaded.join('\n')}`);
      const heavy = loaded.filter((u) => /\/node_modules\/(koffi|@grpc|protobufjs|prom-client)\/|\/dist\/src\/(libbpf|gen)\//.test(u));
      assert.deepEqual(heavy, []);
    });
  }

  it('rejects an unknown verb with a non-zero code', async () => {
    const r = await runCli(['frobnicate']);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /Command not found/);
  });
});
