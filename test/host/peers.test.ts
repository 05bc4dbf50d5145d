// Conflicting claims in ring0's peer table, end to end: attach fills ring_peers
// from a peer table of our own (a sysfs directory beside veths in a namespace),
// `ringctl peers` shows the conflicts, and the follower restores an address
// once the second claim to it goes.
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

const HEADER = 'region slot state gen mac age_ms ipv4 ipv6';

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
  /** This guest, peer 1, and peer 2 claiming peer 1's eth1 address, peer 3 one of ours, peer 4 ring0's MAC, peers 5 and 6 one MAC. */
  const hostile = () => [
    `0 0 self 1 ${ringMac} 0 198.51.100.1,192.0.2.1 -`,
    '0 1 up 1 02:00:00:00:00:01 10 198.51.100.2,192.0.2.2 -',
    '0 2 up 1 02:00:00:00:00:02 10 198.51.100.3,192.0.2.2 -',
    '0 3 up 1 02:00:00:00:00:03 10 198.51.100.4,192.0.2.1 -',
    `0 4 up 1 ${ringMac} 10 198.51.100.5 -`,
    '0 5 up 1 02:00:00:00:00:05 10 198.51.100.6 -',
    '0 6 up 1 02:00:00:00:00:05 10 198.51.100.7 -',
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

  it('attach maps no contested address and nothing of a peer with a contested MAC, and says why', async () => {
    writeTable(...hostile());
    const r = await runCli(['attach', 'eth1', '--transparent'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(mapped(), ['198.51.100.2 1', '198.51.100.3 2', '198.51.100.4 3']);
    assert.deepEqual(r.stderr.split('\n').filter((l) => l), [
      'ringctl: warning: eth1: peer 1: 192.0.2.2 also claimed by peer 2; mapped to none of them',
      'ringctl: warning: eth1: peer 2: 192.0.2.2 also claimed by peer 1; mapped to none of them',
      'ringctl: warning: eth1: peer 3: claims 192.0.2.1, an address of this guest; ignored',
      `ringctl: warning: eth1: peer 4: claims this guest's ring MAC ${ringMac}; ignored`,
      'ringctl: warning: eth1: peer 5: MAC 02:00:00:00:00:05 also claimed by peer 6; ignored',
      'ringctl: warning: eth1: peer 6: MAC 02:00:00:00:00:05 also claimed by peer 5; ignored',
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
        [4, [`own-mac ${ringMac} `]],
        [5, ['mac 02:00:00:00:00:05 6']],
        [6, ['mac 02:00:00:00:00:05 5']],
      ],
    );
    const table = (await runCli(['peers'], env)).stdout.split('\n');
    assert.match(table[0], / CONFLICT$/);
    assert.match(table[2], / {2}192\.0\.2\.2 also claimed by peer 2$/);
    assert.match(table[4], / {2}192\.0\.2\.1 is this guest's$/);
  });

  it('the follower maps an address again once the second claim to it is gone, and unmaps it when it comes back', () => {
    const follower = new PeerFollower({ pinRoot, sysfs, keepAlive: false });
    writeTable(...hostile().filter((l) => !l.startsWith('0 2 ')));
    follower.poll();
    assert.deepEqual(mapped(), ['192.0.2.2 1 ordinary', '198.51.100.2 1', '198.51.100.4 3']);
    writeTable(...hostile());
    follower.poll();
    assert.deepEqual(mapped(), ['198.51.100.2 1', '198.51.100.3 2', '198.51.100.4 3']);
  });
});
