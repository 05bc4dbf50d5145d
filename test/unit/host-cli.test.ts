import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { runCli, type CliResult } from '../helpers/run-cli.js';
import { requireTier } from '../helpers/tier.js';

describe('ringctl host: bad input is a usage error before anything is touched', () => {
  let runDir: string;
  let env: Record<string, string | undefined>;
  const cli = (...argv: string[]): Promise<CliResult> => runCli(argv, env);
  const firstLine = (s: string) => s.split('\n')[0];

  function assertUsage(r: CliResult, message: string | RegExp) {
    assert.equal(r.code, 1, `${r.stdout}${r.stderr}`);
    const line = firstLine(r.stdout);
    if (typeof message === 'string') assert.equal(line, `Usage Error: ${message}`);
    else assert.match(line, message);
  }

  before(function () {
    requireTier(this, 'unit');
    runDir = mkdtempSync(join(tmpdir(), 'host-cli-'));
    env = { ...process.env, RINGCTL_HOST_RUN_DIR: runDir, RINGCTL_KVMRING_DIR: join(runDir, 'no-kvmring') };
  });

  after(() => {
    if (runDir) {
      assert.deepEqual(readdirSync(runDir), [], 'a usage error left state behind');
      rmSync(runDir, { recursive: true, force: true });
    }
  });

  it('wants guests, from --guests or --guest', async () => {
    assertUsage(await cli('host', 'up'), 'no guests: give --guests N (guests g1..gN) or one --guest NAME[,mac=MAC][,addr=CIDR]... per guest');
    assertUsage(await cli('host', 'up', '--guests', '1'), '--guests must be a number of guests from 2 to 16, not "1"');
    assertUsage(await cli('host', 'up', '--guests', '17'), '--guests must be a number of guests from 2 to 16, not "17"');
    assertUsage(await cli('host', 'up', '--guest', 'a'), '1 --guest options: give 2 to 16 guests, one --guest each');
    assertUsage(await cli('host', 'up', '--guest', 'a', '--guest', 'b', '--guests', '3'), '--guests 3 but 2 --guest options: leave --guests out, the --guest options count the guests');
  });

  it('names what is wrong with a --guest and how to write it', async () => {
    assertUsage(await cli('host', 'up', '--guest', 'a/b', '--guest', 'c'), /^Usage Error: --guest "a\/b": a guest's name must be 1 to 31 letters, .*; write --guest NAME\[,mac=MAC\]\[,addr=CIDR\]\.\.\.$/);
    assertUsage(await cli('host', 'up', '--guest', 'a'.repeat(32), '--guest', 'c'), /a guest's name must be 1 to 31 letters/);
    assertUsage(await cli('host', 'up', '--guest', 'a,ip=10.0.0.1/32', '--guest', 'b'), '--guest a: "ip=10.0.0.1/32" is not mac=MAC or addr=CIDR; write --guest NAME[,mac=MAC][,addr=CIDR]...');
    assertUsage(await cli('host', 'up', '--guest', 'a,mac=01:00:5e:00:00:01', '--guest', 'b'), /^Usage Error: --guest a: mac=01:00:5e:00:00:01 is a multicast MAC/);
    assertUsage(await cli('host', 'up', '--guest', 'a,addr=10.0.0.1/8', '--guest', 'b'), /^Usage Error: --guest a: addr=: .*host bits are set \(the network is 10\.0\.0\.0\/8\)/);
    assertUsage(await cli('host', 'up', '--guest', 'a,mac=02:00:00:00:00:01', '--guest', 'b,mac=02:00:00:00:00:01'), /^Usage Error: guests a and b both have mac=02:00:00:00:00:01: every guest needs a MAC of its own/);
    assertUsage(
      await cli('host', 'up', '--guest', 'a,addr=10.1.0.0/16', '--guest', 'b,addr=10.1.2.0/24'),
      "a's addr=10.1.0.0/16 and b's addr=10.1.2.0/24 overlap, and both guests are in group all: give guests that share a group prefixes of their own",
    );
  });

  it('names what is wrong with groups, isolation, queues and ring sizes', async () => {
    assertUsage(await cli('host', 'up', '--guests', '3', '--group', 'a'), /^Usage Error: --group "a": write --group NAME=GUEST,GUEST,\.\.\. \(e\.g\. --group a=g1,g2\)/);
    assertUsage(await cli('host', 'up', '--guests', '3', '--group', 'a=g1,g4'), '--group a names g4, which is not a guest; the guests are g1, g2, g3');
    assertUsage(await cli('host', 'up', '--guests', '3', '--group', 'a=g1', '--group', 'a=g2'), '--group a is given twice: give each group once, with all its guests');
    assertUsage(await cli('host', 'up', '--guests', '2', '--isolation', 'none'), /^Usage Error: --isolation must be owner \(.*\) or pair \(.*\), not "none"$/);
    assertUsage(await cli('host', 'up', '--guests', '2', '--queues', '9'), '--queues must be from 1 to 8 queue pairs per pair of guests, not "9"');
    assertUsage(await cli('host', 'up', '--guests', '2', '--ring-size', '3M'), '--ring-size must be a power of two from 256K to 256M (e.g. 1M, 2M), not 3M');
    assertUsage(await cli('host', 'up', '--guests', '2', '--ring-size', 'big'), '"big" is not a size; write e.g. 16M, 64M or 1G');
    assertUsage(
      await cli('host', 'up', '--guests', '10', '--isolation', 'pair'),
      /^Usage Error: g1 would map 18 regions under --isolation pair, but a guest has PCI slots for 16 .*: put fewer guests in a group with it \(--group\), or use --isolation owner/,
    );
  });

  it('wants --doorbell for --vectors and a plain --name', async () => {
    assertUsage(await cli('host', 'up', '--guests', '2', '--vectors', '2'), '--vectors needs --doorbell');
    assertUsage(await cli('host', 'up', '--guests', '2', '--name', '../etc'), /^Usage Error: --name must be/);
    assertUsage(await cli('host', 'status', '--name', 'a/b'), /^Usage Error: --name must be/);
    assertUsage(await cli('host', 'down', '--name', ''), /^Usage Error: --name must be/);
    assertUsage(await cli('host', 'libvirt-xml', 'g1', '--name', 'a b'), /^Usage Error: --name must be/);
  });

  it('names the providers, and wants kvmring.ko for --provider kvmring and --numa-node', async () => {
    assertUsage(await cli('host', 'up', '--guests', '2', '--provider', 'tmpfs'), /^Usage Error: --provider "tmpfs": write kvmring .*, shm .* or auto/);
    assertUsage(await cli('host', 'up', '--guests', '2', '--provider', 'kvmring'), /^Usage Error: --provider kvmring: .*\/no-kvmring\/control does not exist; load the module/);
    assertUsage(await cli('host', 'up', '--guests', '2', '--provider', 'shm', '--numa-node', '0'), /^Usage Error: --numa-node is for --provider kvmring/);
    assertUsage(await cli('host', 'up', '--guests', '2', '--numa-node', 'x1'), /^Usage Error: --numa-node "x1": write a node number/);
  });

  it('takes no option of ABI v1', async () => {
    const r = await cli('host', 'up', '--guests', '2', '--size', '16M');
    assert.equal(r.code, 1);
    assert.match(r.stdout, /Unsupported option name \("--size"\)/);
  });

  it('rejects a bad --id', async () => {
    assertUsage(await cli('host', 'qemu-args', 'g1', '--id', '0bad'), /^Usage Error: --id must be a QEMU id/);
    assertUsage(await cli('host', 'libvirt-xml', 'g1', '--id', 'a,b'), /^Usage Error: --id must be a QEMU id/);
  });

  it('says how to start a setup that is not up', async () => {
    const r = await cli('host', 'status', '--name', 'nothing-here');
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'ringctl: kvmring nothing-here is not up; start it with `ringctl host up --guests N --name nothing-here`\n');
    for (const verb of ['qemu-args', 'libvirt-xml']) {
      const q = await cli('host', verb, 'g1');
      assert.equal(q.code, 1);
      assert.equal(q.stderr, 'ringctl: kvmring kvmring is not up; start it with `ringctl host up --guests N`\n');
    }
  });

  it('takes down a setup that is not up without complaint', async () => {
    const r = await cli('host', 'down', '--name', 'nothing-here');
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'nothing-here: not up; nothing to do\n');
  });

  it('lists the host verbs in --help, but not the doorbell server', async () => {
    const r = await cli('--help');
    for (const verb of ['host up', 'host down', 'host status', 'host qemu-args', 'host libvirt-xml']) assert.match(r.stdout, new RegExp(`ringctl ${verb}`));
    assert.doesNotMatch(r.stdout, /doorbell-server/);
  });
});
