// Conflicts in ring0's peer table, end to end: attach fills ring_peers from a
// peer table of our own (a sysfs directory beside veths in a namespace, in the
// columns of ringnet's debugfs view), `ringctl peers` shows the conflicts, and
// the follower restores an address once the second holder of it goes. Under
// ABI v2 the MACs are the roster's: a peer that publishes another MAC or
// addresses outside its prefixes keeps its roster MAC and allowed addresses.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

import { BpfMapFd } from '../../src/libbpf/index.js';
import { PeerFollower } from '../../src/peers/follower.js';
import { formatMac } from '../../src/xdp/cidr.js';
import { MAPS } from '../../src/xdp/codecs.js';
import { readPeers } from '../../src/xdp/maps.js';
import { hwAddr } from '../../src/xdp/netdev.js';
import { runCli } from '../helpers/run-cli.js';
import { requireTier } from '../helpers/tier.js';
import { ensureBpffs, Netns } from './netns.js';

const HEADER = 'region slot state gen mac age_ms ipv4 ipv6 tx_packets rx_packets name claimed_mac addrs_refused';

describe('conflicting peer claims, from a peer table to ring_peers, on veths in a namespace', function () {
  let ns: Netns;
  let pinRoot: string;
  let sysfs: string;
  let env: Record<string, string | undefined>;
  let mountedBpffs = false;
  let ringMac: string;

  const writeTable = (...lines: string[]) => writeFileSync(join(sysfs, 'ring0/ringnet/peers'), `${[HEADER, ...lines].join('\n')}\n`);
  const mapped = () => {
    const m = BpfMapFd.openPinned(join(pinRoot, 'eth1', MAPS.peers));
    try {
      return readPeers(m).map((e) => `${e.address} ${e.slot}${e.ordinary ? ' ordinary' : ''}`);
    } finally {
      m.close();
    }
  };
  /**
   * This guest; peer 1; peer 2 (another group, an overlapping prefix) holding
   * peer 1's eth1 address; peer 3 one of ours; peer 4 publishing ring0's MAC;
   * peer 5 publishing two addresses outside its prefixes.
   */
  const hostile = () => [
    `0 0 self 1 ${ringMac} 0 198.51.100.1,192.0.2.1 - 0 0 g1 - 0`,
    '1 1 up 1 02:00:00:00:00:01 10 198.51.100.2,192.0.2.2 - 0 0 g2 - 0',
    '2 2 up 1 02:00:00:00:00:02 10 198.51.100.3,192.0.2.2 - 0 0 g3 - 0',
    '3 3 up 1 02:00:00:00:00:03 10 198.51.100.4,192.0.2.1 - 0 0 g4 - 0',
    `4 4 up 1 02:00:00:00:00:04 10 198.51.100.5 - 0 0 g5 ${ringMac} 0`,
    '5 5 up 1 02:00:00:00:00:05 10 198.51.100.6 - 0 0 g6 - 2',
  ];

  before(function () {
    requireTier(this, 'host');
    mountedBpffs = ensureBpffs();
    pinRoot = `/sys/fs/bpf/ringctl-peers-test-${process.pid}`;
    sysfs = mkdtempSync(join(tmpdir(), 'ringctl-peers-sysfs-'));
    mkdirSync(join(sysfs, 'ring0/ringnet'), { recursive: true });
    env = { ...process.env, RINGCTL_PIN_ROOT: pinRoot, RINGCTL_SYSFS_NET: sysfs };

    ns = new Netns('rpeers');
    ns.ip('link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'peer1');
    ns.ip('link', 'add', 'ring0', 'type', 'veth', 'peer', 'name', 'peer0');
    for (const d of ['lo', 'eth1', 'peer1', 'ring0', 'peer0']) ns.ip('link', 'set', d, 'up');
    ns.ip('addr', 'add', '192.0.2.1/24', 'dev', 'eth1');
    ns.ip('addr', 'add', '198.51.100.1/24', 'dev', 'ring0');
    ns.enter();
    ringMac = formatMac(hwAddr('ring0')!);
  });

  after(async () => {
    if (ns && existsSync(pinRoot)) await runCli(['detach', 'eth1'], env);
    ns?.delete();
    if (pinRoot && existsSync(pinRoot)) rmSync(pinRoot, { recursive: true });
    if (sysfs) rmSync(sysfs, { recursive: true, force: true });
    if (mountedBpffs && readdirSync('/sys/fs/bpf').every((f) => f.endsWith('.debug'))) spawnSync('umount', ['/sys/fs/bpf']);
  });

  it('attach maps no contested address, keeps the roster MAC of a peer that claims another, and says why', async () => {
    writeTable(...hostile());
    const r = await runCli(['attach', 'eth1', '--transparent'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(mapped(), ['198.51.100.2 1', '198.51.100.3 2', '198.51.100.4 3', '198.51.100.5 4', '198.51.100.6 5']);
    const m = BpfMapFd.openPinned(join(pinRoot, 'eth1', MAPS.peers));
    try {
      assert.equal(readPeers(m).find((e) => e.slot === 4)?.ringMac, '02:00:00:00:00:04', "peer 4's roster MAC, not the one it claims");
    } finally {
      m.close();
    }
    assert.deepEqual(r.stderr.split('\n').filter((l) => l), [
      'ringctl: warning: eth1: peer 1 (g2): 192.0.2.2 also held by peer 2 (g3); mapped to none of them',
      'ringctl: warning: eth1: peer 2 (g3): 192.0.2.2 also held by peer 1 (g2); mapped to none of them',
      'ringctl: warning: eth1: peer 3 (g4): holds 192.0.2.1, an address of this guest; ignored',
      `ringctl: warning: eth1: peer 4 (g5) publishes MAC ${ringMac}, not its roster MAC: ignored`,
      'ringctl: warning: eth1: peer 5 (g6) publishes 2 addresses outside its roster prefixes: ignored',
    ]);
  });

  it('ringctl peers names each conflict and with whom', async () => {
    writeTable(...hostile());
    const r = await runCli(['peers', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as { slot: number; conflicts: { kind: string; value: string; with: string[] }[] }[];
    assert.deepEqual(
      rows.map((p) => [p.slot, p.conflicts.map((c) => `${c.kind} ${c.value} ${c.with.join(',')}`)]),
      [
        [0, []],
        [1, ['address 192.0.2.2 2']],
        [2, ['address 192.0.2.2 1']],
        [3, ['own-address 192.0.2.1 ']],
        [4, [`claimed-mac ${ringMac} `]],
        [5, ['addrs-refused 2 ']],
      ],
    );
    const table = (await runCli(['peers'], env)).stdout.split('\n');
    assert.match(table[0], /^SLOT +NAME +STATE .* CONFLICT$/);
    assert.match(table[2], / {2}192\.0\.2\.2 also held by peer 2 \(g3\)$/);
    assert.match(table[4], / {2}192\.0\.2\.1 is this guest's$/);
    assert.match(table[5], new RegExp(` {2}publishes MAC ${ringMac}, not its roster MAC: ignored$`));
  });

  it('the follower maps an address again once the second holder of it is gone, and unmaps it when it comes back', () => {
    const follower = new PeerFollower({ pinRoot, sysfs, keepAlive: false });
    writeTable(...hostile().filter((l) => !l.startsWith('2 2 ')));
    follower.poll();
    assert.deepEqual(mapped(), ['192.0.2.2 1 ordinary', '198.51.100.2 1', '198.51.100.4 3', '198.51.100.5 4', '198.51.100.6 5']);
    writeTable(...hostile());
    follower.poll();
    assert.deepEqual(mapped(), ['198.51.100.2 1', '198.51.100.3 2', '198.51.100.4 3', '198.51.100.5 4', '198.51.100.6 5']);
  });
});
