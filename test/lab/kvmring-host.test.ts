// kvmring.ko where modules load: a lab guest acting as a host. The guest loads the
// module, `ringctl host up --provider kvmring` makes a setup's rosters and regions,
// two processes map them and pass frames through the ring core, a read-only opener
// cannot write, a destroy while a process maps a region is refused naming it, QEMU
// (TCG, inside the guest) maps the regions through ivshmem-plain and its monitor
// reads each region's magic where SeaBIOS put the BAR, and rmmod leaves nothing.
import assert from 'node:assert/strict';

import { type Lab, REPO, kernelTrouble, labFixture } from '../helpers/lab.js';
import { requireTier } from '../helpers/tier.js';
import { SLOWDOWN, eventually } from '../helpers/time.js';

const G = 'g1';
const SETUP = 'kh';
const RINGCTL = `node ${REPO}/bin/ringctl.js`;
const MAP = `${REPO}/build/native/kvmring_map`;
const MONITOR = `${REPO}/test/guest/ivshmem_monitor.mjs`;
const DEV = '/dev/kvmring';
const MAX_BYTES = 64 << 20;
const OWNED_MAGIC = '0x4e574f474e49524b'; // KVMRING_OWNED_MAGIC, "KRINGOWN"
const ROSTER_MAGIC = '0x5254534f524d564b'; // KVMRING_ROSTER_MAGIC, "KVMROSTR"
const FRAMES = 20_000;

const owned = (g: string) => `${DEV}/kvmring-${SETUP}+${g}.owned`;
const roster = (g: string) => `${DEV}/kvmring-${SETUP}+${g}.roster`;

interface MapResult {
  ok: boolean;
  error?: string;
  [k: string]: unknown;
}

const parse = (out: string): MapResult => JSON.parse(out.trim().split('\n').at(-1)!) as MapResult;

/**
 * Free memory in kB, counting the pages on the per-CPU lists: a region's pages go
 * back one by one and wait there, where MemFree does not count them (measured in a
 * lab guest: after host down, MemFree fell while the lists grew by the regions' 24 MiB).
 */
async function freeKb(lab: Lab): Promise<number> {
  const zoneinfo = await lab.sh(G, 'cat /proc/zoneinfo');
  const sum = (re: RegExp) => [...zoneinfo.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
  return (sum(/^\s+pages free\s+(\d+)$/gm) + sum(/^\s+count:\s+(\d+)$/gm)) * 4;
}

describe('kvmring.ko in a lab guest acting as the host (1 guest)', function () {
  let lab: Lab;
  let logBefore = 0;

  before(async function () {
    requireTier(this, 'lab');
    this.timeout(300_000 * SLOWDOWN);
    lab = await labFixture.get({ guests: 1 });
    await lab.exec(G, ['sh', '-c', `${RINGCTL} host down --name ${SETUP}; rmmod kvmring`]);
    logBefore = (await lab.kernelLog(G)).split('\n').length;
  });

  it('loads kvmring.ko: /dev/kvmring/control, no regions', async () => {
    await lab.sh(G, `insmod ${REPO}/kmod/kvmring.ko max_bytes=${MAX_BYTES}`);
    assert.match(await lab.sh(G, 'cat /dev/kvmring/control'), new RegExp(`^kvmring regions=0 bytes=0 max_bytes=${MAX_BYTES}$`, 'm'));
  });

  it('`ringctl host up --provider kvmring` makes the v2 rosters and owned regions as module devices', async function () {
    this.timeout(60_000 * SLOWDOWN);
    const out = await lab.sh(G, `${RINGCTL} host up --provider kvmring --guests 3 --name ${SETUP}`);
    console.log(`      host up: ${out.trim().split('\n')[0]}`);
    const names = (await lab.sh(G, `ls ${DEV}`)).trim().split('\n').sort();
    assert.deepEqual(names, ['control', ...['g1', 'g2', 'g3'].flatMap((g) => [`kvmring-${SETUP}+${g}.owned`, `kvmring-${SETUP}+${g}.roster`])].sort());
    for (const g of ['g1', 'g2', 'g3']) {
      for (const [path, magic] of [[owned(g), OWNED_MAGIC], [roster(g), ROSTER_MAGIC]]) {
        const r = parse(await lab.sh(G, `${MAP} readonly ${path}`));
        assert.equal(r.magic, magic, path);
      }
    }
    const st = await lab.sh(G, 'cat /dev/kvmring/control');
    assert.match(st, /^kvmring regions=6 /m);
    assert.match(st, new RegExp(`^region kvmring-${SETUP}\\+g1\\.owned kind=owned .* openers=0 mappers=0$`, 'm'));
    assert.match(st, /^ {2}roster self=0 max_peers=\d+ nregions=3 seq=\d+$/m);
  });

  it('`ringctl host status` shows the module table with every region', async () => {
    const out = await lab.sh(G, `${RINGCTL} host status --name ${SETUP}`);
    console.log(out.replace(/^/gm, '      '));
    assert.match(out, /kvmring\.ko: 6 region\(s\) of this setup/);
    for (const g of ['g1', 'g2', 'g3']) {
      assert.match(out, new RegExp(`^kvmring-${SETUP}\\+${g}\\.owned\\s`, 'm'));
      assert.match(out, new RegExp(`^kvmring-${SETUP}\\+${g}\\.roster\\s`, 'm'));
    }
    assert.doesNotMatch(out, /^problem:/m);
  });

  it('never lets a file opened read-only write: no writable mmap (EACCES), no mprotect to write, no private copy', async () => {
    const r = parse(await lab.sh(G, `${MAP} readonly ${owned('g2')}`));
    assert.deepEqual(
      { ok: r.ok, magic: r.magic, mmapWrite: r.mmapWrite, mprotectWrite: r.mprotectWrite, mmapPrivate: r.mmapPrivate },
      { ok: true, magic: OWNED_MAGIC, mmapWrite: 'EACCES', mprotectWrite: 'EACCES', mmapPrivate: 'EINVAL' },
    );
  });

  it('carries frames between two processes, each mapping its own region read-write and the other read-only', async function () {
    this.timeout(240_000 * SLOWDOWN);
    // g1 -> g2 and g3 -> g1 at once: each ring's producer half and data are in the
    // sender's region, the consumer's half in the receiver's.
    const pair = (from: string, to: string, tag: string) =>
      `${MAP} recv ${owned(to)} ${owned(from)} ${FRAMES} > /tmp/${tag}.recv & ${MAP} send ${owned(from)} ${owned(to)} ${FRAMES} > /tmp/${tag}.send &`;
    const out = await lab.sh(G, `${pair('g1', 'g2', 'a')} ${pair('g3', 'g1', 'b')} wait; cat /tmp/a.send /tmp/a.recv /tmp/b.send /tmp/b.recv`);
    const [aSend, aRecv, bSend, bRecv] = out.trim().split('\n').map(parse);
    console.log(`      g1 -> g2: ${JSON.stringify(aSend)}\n      ${JSON.stringify(aRecv)}\n      g3 -> g1: ${JSON.stringify(bSend)}\n      ${JSON.stringify(bRecv)}`);
    for (const [s, r] of [[aSend, aRecv], [bSend, bRecv]]) {
      assert.ok(s.ok && r.ok, `${s.error ?? ''} ${r.error ?? ''}`);
      assert.equal(s.frames, FRAMES);
      assert.equal(r.frames, FRAMES);
      assert.equal(r.checksum, s.checksum);
      assert.equal(r.bytes, s.bytes);
    }
    assert.match(await lab.sh(G, 'cat /dev/kvmring/control'), /^region kvmring-kh\+g1\.owned .* openers=0 mappers=0$/m);
  });

  it("QEMU maps the regions through ivshmem-plain; its monitor reads each magic where SeaBIOS put BAR2, and the module lists QEMU's pid", async function () {
    this.timeout(600_000 * SLOWDOWN);
    const args = (await lab.sh(G, `${RINGCTL} host qemu-args g1 --name ${SETUP}`)).trim();
    assert.match(args, new RegExp(`mem-path=${DEV}/kvmring-${SETUP}\\+g1\\.roster,size=8K,share=on,readonly=on`));
    const r = await lab.exec(G, ['sh', '-c', `node ${MONITOR} --timeout ${500 * SLOWDOWN} -- ${args}`], { timeoutMs: 560_000 * SLOWDOWN });
    const res = parse(r.stdout) as MapResult & {
      pid: number;
      devices: { bdf: string; bar2: string; magic: string }[];
      mappedBy: { region: string; mapper: string }[];
      times: Record<string, number>;
    };
    console.log(`      ${JSON.stringify(res)}`);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.deepEqual(
      res.devices.map((d) => [d.bdf, d.magic]),
      [['0:10.0', ROSTER_MAGIC], ['0:11.0', OWNED_MAGIC], ['0:12.0', OWNED_MAGIC], ['0:13.0', OWNED_MAGIC]],
    );
    // g1's roster and g2's and g3's regions read-only; its own region read-write.
    assert.deepEqual(
      res.mappedBy.map((m) => [m.region, m.mapper.replace(/^\d+:/, '')]).sort(),
      [
        [`kvmring-${SETUP}+g1.owned`, 'qemu-system-x86:rw'],
        [`kvmring-${SETUP}+g1.roster`, 'qemu-system-x86:ro'],
        [`kvmring-${SETUP}+g2.owned`, 'qemu-system-x86:ro'],
        [`kvmring-${SETUP}+g3.owned`, 'qemu-system-x86:ro'],
      ],
    );
  });

  it('refuses to destroy a region while a process maps it, naming it; destroys all once it is gone', async function () {
    this.timeout(120_000 * SLOWDOWN);
    const pid = Number((await lab.sh(G, `${MAP} hold ${owned('g2')} 600 > /tmp/hold.json 2>&1 & echo $!`)).trim());
    await eventually(30_000 * SLOWDOWN, 'kvmring_map holding the region', async () => (await lab.sh(G, 'cat /tmp/hold.json')).includes('"ok":true'));
    assert.match(await lab.sh(G, `${RINGCTL} host status --name ${SETUP}`), new RegExp(`pid ${pid} \\(kvmring_map\\) read-write`));
    const down = await lab.exec(G, ['sh', '-c', `${RINGCTL} host down --name ${SETUP}`]);
    console.log(`      host down while mapped: exit ${down.code}: ${(down.stdout + down.stderr).trim()}`);
    assert.notEqual(down.code, 0);
    assert.match(down.stderr, new RegExp(`kvmring-${SETUP}\\+g2\\.owned is still in use \\(pid ${pid} \\(kvmring_map\\) read-write[,)]`));
    // ringctl looked first and asked nothing; the module refuses on its own too.
    assert.equal(parse(await lab.sh(G, `${MAP} destroy ${DEV}/control kvmring-${SETUP}+g2.owned`)).errno, 'EBUSY');
    assert.match(await lab.sh(G, 'dmesg | tail -20'), new RegExp(`kvmring: kvmring-${SETUP}\\+g2\\.owned is mapped by pid ${pid} \\(kvmring_map\\) read-write`));
    assert.match(down.stderr, /nothing was destroyed/);
    assert.match(await lab.sh(G, 'cat /dev/kvmring/control'), /^kvmring regions=6 /m);
    const freeBefore = await freeKb(lab);
    await lab.sh(G, `kill ${pid}; while kill -0 ${pid} 2>/dev/null; do sleep 0.1; done`);
    await lab.sh(G, `${RINGCTL} host down --name ${SETUP}`);
    const freed = (await freeKb(lab)) - freeBefore;
    console.log(`      free pages (with the per-CPU lists) after host down: +${freed} kB`);
    // 3 owned regions of 8 MiB and 3 rosters of 8 KiB went back to the page allocator.
    assert.ok(freed > 20 * 1024, `free memory rose by only ${freed} kB`);
    assert.equal((await lab.sh(G, `ls ${DEV}`)).trim(), 'control');
    assert.match(await lab.sh(G, 'cat /dev/kvmring/control'), /^kvmring regions=0 bytes=0 /m);
  });

  it('unloads: no module, no /dev/kvmring, and a clean kernel log', async () => {
    await lab.sh(G, 'rmmod kvmring');
    assert.doesNotMatch(await lab.sh(G, 'lsmod'), /^kvmring\s/m);
    assert.equal((await lab.exec(G, ['test', '-e', DEV])).code, 1);
    assert.equal((await lab.exec(G, ['test', '-e', '/sys/class/kvmring'])).code, 1);
    const log = (await lab.kernelLog(G)).split('\n').slice(logBefore - 1);
    console.log(log.filter((l) => /kvmring/.test(l)).map((l) => `      ${l}`).join('\n'));
    assert.deepEqual(kernelTrouble(log.join('\n')), []);
    await lab.assertKernelLogsClean();
  });
});
