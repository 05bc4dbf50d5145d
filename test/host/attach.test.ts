import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  BpfLink,
  BpfMapFd,
  tcQuery,
  xdpAttach,
  xdpDetach,
  xdpQuery,
  XDP_FLAGS_SKB_MODE,
} from '../../src/libbpf/index.js';
import { parseMac } from '../../src/xdp/cidr.js';
import { MAPS, OBJECTS, XDP_STATS } from '../../src/xdp/codecs.js';
import { readStats, syncInterfacePeers, syncPeers } from '../../src/xdp/maps.js';
import { ifNameToIndex } from '../../src/xdp/netdev.js';
import { bpfDir, openXdpObject } from '../../src/xdp/programs.js';
import { TC_FILTER } from '../../src/xdp/state.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { requireTier } from '../helpers/tier.js';
import { ensureBpffs, Netns } from './netns.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('ringctl attach, detach and status on veths in a namespace', function () {
  let ns: Netns;
  let pinRoot: string;
  let env: Record<string, string | undefined>;
  let rejectDir: string;
  let mountedBpffs = false;

  const cli = (...argv: string[]): Promise<CliResult> => runCli(argv, env);
  const lines = (s: string) => s.split('\n').filter((l) => l !== '');
  const ifindex = (name: string) => ifNameToIndex(name)!;
  const xdpId = (name: string) => {
    const q = xdpQuery(ifindex(name));
    return q.drvProgId || q.skbProgId;
  };
  const pins = (name: string) => join(pinRoot, name);
  const tcId = (name: string) => {
    try {
      return tcQuery({ ifindex: ifindex(name), direction: 'egress' }, TC_FILTER);
    } catch {
      return undefined; // no clsact qdisc
    }
  };
  const hasClsact = (name: string) => execFileSync('tc', ['-n', ns.name, 'qdisc', 'show', 'dev', name], { encoding: 'utf8' }).includes('clsact');

  /** Asserts a clipanion usage error: exit 1 and its first line. */
  function assertUsage(r: CliResult, message: string) {
    assert.equal(r.code, 1);
    assert.equal(lines(r.stdout)[0], `Usage Error: ${message}`);
  }

  /** Asserts a failure: exit 1, nothing on stdout, and the first line on stderr. */
  function assertFailure(r: CliResult, message: string) {
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(lines(r.stderr)[0], `ringctl: ${message}`);
  }

  /** Nothing of ours on the interface: no XDP, no TC filter, no pins. */
  function assertClean(name: string) {
    assert.equal(xdpId(name), 0, `no XDP program on ${name}`);
    assert.equal(tcId(name), undefined, `no TC filter on ${name}`);
    assert.equal(existsSync(pins(name)), false, `no pins for ${name}`);
  }

  before(function () {
    requireTier(this, 'host');
    mountedBpffs = ensureBpffs();
    pinRoot = `/sys/fs/bpf/ringctl-test-${process.pid}`;
    env = { ...process.env, RINGCTL_PIN_ROOT: pinRoot };

    // A stand-in for xdp_ring that the verifier rejects.
    rejectDir = mkdtempSync(join(tmpdir(), 'ringctl-reject-'));
    execFileSync('clang', ['-O2', '-g', '-target', 'bpf', '-D__TARGET_ARCH_x86', '-I', join(root, 'bpf'),
      '-I', '/usr/include/x86_64-linux-gnu', '-c', join(root, 'test/fixtures/bpf/xdp_ring_reject.bpf.c'),
      '-o', join(rejectDir, OBJECTS.xdp.file)]);

    ns = new Netns('rattach');
    ns.ip('link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'peer1');
    ns.ip('link', 'add', 'ring0', 'type', 'veth', 'peer', 'name', 'peer0');
    ns.ip('link', 'add', 'br0', 'type', 'bridge'); // no native XDP in the bridge driver
    for (const d of ['eth1', 'peer1', 'ring0', 'peer0', 'br0']) ns.ip('link', 'set', d, 'up');
    ns.enter();
  });

  afterEach(async () => {
    // Each test starts from nothing attached.
    if (!ns) return;
    for (const name of existsSync(pinRoot) ? readdirSync(pinRoot) : []) await cli('detach', name);
  });

  after(() => {
    ns?.delete();
    if (pinRoot && existsSync(pinRoot)) rmSync(pinRoot, { recursive: true });
    if (rejectDir) rmSync(rejectDir, { recursive: true, force: true });
    if (mountedBpffs && readdirSync('/sys/fs/bpf').every((f) => f.endsWith('.debug'))) {
      spawnSync('umount', ['/sys/fs/bpf']);
    }
  });

  describe('attach', () => {
    it('attaches natively, fills the maps and pins everything', async () => {
      const r = await cli('attach', 'eth1', '--subnet', '198.51.100.0/24', '--subnet', '2001:db8:2::/64');
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      const id = xdpId('eth1');
      assert.ok(id > 0);
      assert.equal(xdpQuery(ifindex('eth1')).mode, 'native');
      assert.deepEqual(lines(r.stdout), [
        `eth1: attached xdp_ring (program ${id}, native), redirecting into ring0`,
        'eth1: inter-domain subnets 198.51.100.0/24, 2001:db8:2::/64',
        `eth1: pinned under ${pins('eth1')}`,
      ]);
      assert.deepEqual(readdirSync(pins('eth1')).sort(), [
        'ring_dev', 'ring_peers', 'ring_subnets4', 'ring_subnets6', 'xdp_link', 'xdp_ring', 'xdp_stats',
      ]);
    });

    it('says so and changes nothing when attached again with the same settings', async () => {
      await cli('attach', 'eth1', '--subnet', '198.51.100.0/24');
      const id = xdpId('eth1');
      const r = await cli('attach', 'eth1', '--subnet', '198.51.100.0/24');
      assert.equal(r.code, 0);
      assert.deepEqual(lines(r.stdout), [`eth1: already attached (xdp_ring program ${id}, native); nothing to do`]);
      assert.equal(xdpId('eth1'), id);
    });

    it('refuses other settings over its own attachment without --force', async () => {
      await cli('attach', 'eth1', '--subnet', '198.51.100.0/24');
      const id = xdpId('eth1');
      const r = await cli('attach', 'eth1', '--subnet', '198.51.100.0/25', '--mode', 'generic');
      assertFailure(r, 'eth1: already attached by ringctl with other settings (mode native -> generic; '
        + 'subnets 198.51.100.0/24 -> 198.51.100.0/25); run ringctl detach eth1 first, or use --force');
      assert.equal(xdpId('eth1'), id);
    });

    it('replaces its own attachment with --force', async () => {
      await cli('attach', 'eth1');
      const old = xdpId('eth1');
      const r = await cli('attach', 'eth1', '--mode', 'generic', '--force');
      assert.equal(r.code, 0);
      const id = xdpId('eth1');
      assert.notEqual(id, old);
      assert.equal(xdpQuery(ifindex('eth1')).mode, 'generic');
      assert.deepEqual(lines(r.stdout), [
        `eth1: detached the previous attachment (xdp_ring program ${old}, native)`,
        `eth1: attached xdp_ring (program ${id}, generic), redirecting into ring0`,
        'eth1: no inter-domain subnets; only peers\' addresses are redirected',
        `eth1: pinned under ${pins('eth1')}`,
      ]);
    });

    it('adds tc_transparent on egress in transparent mode, creating clsact', async () => {
      assert.equal(hasClsact('eth1'), false);
      const r = await cli('attach', 'eth1', '--transparent', '--subnet', '198.51.100.0/24');
      assert.equal(r.code, 0, r.stderr);
      const tc = tcId('eth1');
      assert.ok(tc);
      assert.equal(lines(r.stdout)[2], `eth1: transparent mode: tc_transparent on egress (program ${tc})`);
      assert.ok(hasClsact('eth1'));
    });

    it('redirects a peer\'s traffic arriving on eth1 into the ring device, only while eth1 forwards', async () => {
      const sh = (c: string) => execFileSync('ip', ['netns', 'exec', ns.name, 'sh', '-c', c], { encoding: 'utf8' });
      sh('sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv4.conf.eth1.forwarding=1; ethtool -K peer0 gro on'); // veth takes redirects with GRO on
      try {
        await cli('attach', 'eth1', '--subnet', '198.51.100.0/24');
        const peers = BpfMapFd.openPinned(join(pins('eth1'), MAPS.peers));
        syncPeers(peers, [{ slot: 2, ringMac: '02:00:00:00:00:02', addresses: ['198.51.100.2'] }]);
        peers.close();
        const eth1Mac = sh('cat /sys/class/net/eth1/address').trim();
        const rx = () => Number(sh('cat /sys/class/net/peer0/statistics/rx_packets'));
        const ping = () => spawnSync('ip', ['netns', 'exec', ns.name, 'ping', '-c', '3', '-i', '0.2', '-W', '1', '198.51.100.2']);
        const xdpStats = () => {
          const m = BpfMapFd.openPinned(join(pins('eth1'), MAPS.xdpStats));
          try {
            return readStats(m, XDP_STATS);
          } finally {
            m.close();
          }
        };
        sh(`ip addr add 198.51.100.1/24 dev peer1 && ip neigh replace 198.51.100.2 lladdr ${eth1Mac} dev peer1`);
        let before = rx();
        ping();
        assert.equal(rx() - before, 3, 'three echo requests came out of the ring device');
        let s = xdpStats();
        assert.equal(s.redirect.packets, 3n);
        assert.equal(s.peer.packets, 3n);

        // A guest that does not forward does not route them into the ring either.
        sh('sysctl -qw net.ipv4.conf.eth1.forwarding=0');
        before = rx();
        ping();
        assert.equal(rx() - before, 0, 'nothing came out of the ring device');
        s = xdpStats();
        assert.deepEqual([s.redirect.packets, s.forwarding_off.packets], [3n, 3n]);
      } finally {
        sh('sysctl -qw net.ipv4.conf.eth1.forwarding=0; ip addr flush dev peer1; ip neigh flush dev peer1');
      }
    });

    it('diverts local traffic for a peer\'s ordinary address into the ring in transparent mode, and stops when the peer leaves', async () => {
      const sh = (c: string) => execFileSync('ip', ['netns', 'exec', ns.name, 'sh', '-c', c], { encoding: 'utf8' });
      sh('sysctl -qw net.ipv6.conf.all.disable_ipv6=1; ethtool -K peer0 gro on');
      sh('ip addr add 192.0.2.1/24 dev eth1 && ip neigh replace 192.0.2.2 lladdr 02:00:00:00:01:02 dev eth1');
      try {
        assert.equal((await cli('attach', 'eth1', '--transparent')).code, 0);
        const peers = BpfMapFd.openPinned(join(pins('eth1'), MAPS.peers));
        try {
          syncPeers(peers, [{ slot: 2, ringMac: '02:00:00:00:00:02', addresses: ['198.51.100.2'], ordinaryAddresses: ['192.0.2.2'] }]);
          const rx = (dev: string) => Number(sh(`cat /sys/class/net/${dev}/statistics/rx_packets`));
          const ping = () => spawnSync('ip', ['netns', 'exec', ns.name, 'ping', '-c', '2', '-i', '0.2', '-W', '1', '192.0.2.2']);
          let ring = rx('peer0');
          let wire = rx('peer1');
          ping();
          assert.deepEqual([rx('peer0') - ring, rx('peer1') - wire], [2, 0], 'through the ring, not eth1');

          syncPeers(peers, []);
          ring = rx('peer0');
          wire = rx('peer1');
          ping();
          assert.deepEqual([rx('peer0') - ring, rx('peer1') - wire], [0, 2], 'back on eth1');
        } finally {
          peers.close();
        }
      } finally {
        sh('ip addr flush dev eth1; ip neigh flush dev eth1');
      }
    });

    it('refuses an XDP program it did not load, and replaces it with --force', async () => {
      const foreign = openXdpObject(bpfDir(), { ringMac: parseMac('02:00:00:00:00:aa'), ringIfindex: 0, nicMac: Buffer.alloc(6) });
      try {
        foreign.load();
        xdpAttach(ifindex('eth1'), foreign.program(OBJECTS.xdp.program).fd, XDP_FLAGS_SKB_MODE);
        const id = xdpId('eth1');

        assertFailure(await cli('attach', 'eth1'), `eth1: XDP program ${id} already attached (EBUSY); use --force to replace it`);
        assert.equal(xdpId('eth1'), id);
        assert.equal(existsSync(pins('eth1')), false);

        const d = await cli('detach', 'eth1');
        assert.equal(d.code, 0);
        assert.deepEqual(lines(d.stdout), [`eth1: nothing to detach (XDP program ${id} was not attached by ringctl; left in place)`]);
        assert.equal(xdpId('eth1'), id);

        const r = await cli('attach', 'eth1', '--force', '--mode', 'generic');
        assert.equal(r.code, 0, r.stderr);
        const ours = xdpId('eth1');
        assert.notEqual(ours, id);
        assert.deepEqual(lines(r.stdout).slice(0, 2), [
          `eth1: replaced XDP program ${id} (--force)`,
          `eth1: attached xdp_ring (program ${ours}, generic), redirecting into ring0`,
        ]);
      } finally {
        if (xdpId('eth1') && !existsSync(pins('eth1'))) xdpDetach(ifindex('eth1'), XDP_FLAGS_SKB_MODE);
        foreign.close();
      }
    });
  });

  describe('detach', () => {
    it('takes everything off and removes the pins', async () => {
      await cli('attach', 'eth1', '--transparent');
      const id = xdpId('eth1');
      const tc = tcId('eth1');
      const r = await cli('detach', 'eth1');
      assert.equal(r.code, 0);
      assert.deepEqual(lines(r.stdout), [
        `eth1: detached xdp_ring (program ${id}, native)`,
        `eth1: detached tc_transparent (program ${tc})`,
        `eth1: removed ${pins('eth1')}`,
      ]);
      assertClean('eth1');
      assert.equal(hasClsact('eth1'), false, 'the clsact qdisc ringctl created is gone');
    });

    it('leaves a clsact qdisc it did not create', async () => {
      ns.ip('link', 'add', 'vq1', 'type', 'veth', 'peer', 'name', 'vq2');
      try {
        execFileSync('tc', ['-n', ns.name, 'qdisc', 'add', 'dev', 'vq1', 'clsact']);
        assert.equal((await cli('attach', 'vq1', '--transparent')).code, 0);
        assert.equal((await cli('detach', 'vq1')).code, 0);
        assertClean('vq1');
        assert.ok(hasClsact('vq1'));
      } finally {
        ns.ip('link', 'del', 'vq1');
      }
    });

    it('says there is nothing to detach', async () => {
      const r = await cli('detach', 'eth1');
      assert.equal(r.code, 0);
      assert.deepEqual(lines(r.stdout), ['eth1: nothing to detach']);
    });

    it('cleans up after the XDP link went away behind its back', async () => {
      await cli('attach', 'eth1');
      const link = BpfLink.openPinned(join(pins('eth1'), 'xdp_link'));
      link.detach();
      link.close();
      const s = await cli('status');
      assert.match(lines(s.stdout)[1], /^eth1 +stale +\d+ +- +ring0 /);
      const r = await cli('detach', 'eth1');
      assert.equal(r.code, 0);
      assert.deepEqual(lines(r.stdout), ['eth1: xdp_ring was no longer attached; removed the stale pins']);
      assertClean('eth1');
    });

    it('attaches over stale pins left by a crash', async () => {
      await cli('attach', 'eth1');
      const link = BpfLink.openPinned(join(pins('eth1'), 'xdp_link'));
      link.detach();
      link.close();
      const r = await cli('attach', 'eth1');
      assert.equal(r.code, 0);
      assert.equal(lines(r.stdout)[0], 'eth1: removed stale pins left by an earlier run');
      assert.equal(lines(r.stdout)[1], `eth1: attached xdp_ring (program ${xdpId('eth1')}, native), redirecting into ring0`);
    });

    it('cleans up the pins of an interface that is gone', async () => {
      ns.ip('link', 'add', 'vg1', 'type', 'veth', 'peer', 'name', 'vg2');
      await cli('attach', 'vg1');
      ns.ip('link', 'del', 'vg1');
      const s = await cli('status', 'vg1');
      assert.match(lines(s.stdout)[1], /^vg1 +gone +\d+ +- /);
      const r = await cli('detach', 'vg1');
      assert.equal(r.code, 0);
      assert.deepEqual(lines(r.stdout), ['vg1: the interface is gone; removed its pins']);
      assert.equal(existsSync(pins('vg1')), false);
    });
  });

  describe('status', () => {
    it('says when nothing is attached', async () => {
      const r = await cli('status');
      assert.equal(r.code, 0);
      // ... and the state of ring0, here a veth stand-in.
      assert.deepEqual(lines(r.stdout), [
        'ringctl is not attached to any interface',
        'RING   STATE  CARRIER  PEERS  REGIONS',
        'ring0  up     on       -      not a ringnet device',
      ]);
    });

    it('shows each attachment as a table', async () => {
      await cli('attach', 'eth1', '--subnet', '2001:db8:2::/64', '--subnet', '198.51.100.0/24', '--transparent');
      const r0 = syncInterfacePeers(pinRoot, 'eth1', [
        { slot: 3, ringMac: '02:00:00:00:00:03', addresses: ['198.51.100.3'], ordinaryAddresses: ['192.0.2.3'] },
      ]);
      assert.deepEqual(r0, { added: 2, updated: 0, removed: 0, rejected: [] });
      const id = xdpId('eth1');
      const tc = tcId('eth1');
      const r = await cli('status');
      assert.equal(r.code, 0);
      const w = String(id).length;
      assert.deepEqual(lines(r.stdout), [
        `IFACE  STATE     ${'PROG'.padEnd(Math.max(4, w))}  MODE    RING   TRANSPARENT  PEERS  SUBNETS`,
        `eth1   attached  ${String(id).padEnd(Math.max(4, w))}  native  ring0  ${`tc ${tc}`.padEnd(11)}  2      198.51.100.0/24,2001:db8:2::/64`,
        'RING   STATE  CARRIER  PEERS  REGIONS',
        'ring0  up     on       -      not a ringnet device',
      ]);
      ns.ip('link', 'set', 'peer0', 'down');
      try {
        assert.equal(lines((await cli('status')).stdout).at(-1), 'ring0  up     off      -      not a ringnet device');
      } finally {
        ns.ip('link', 'set', 'peer0', 'up');
      }
    });

    it('prints JSON with --json', async () => {
      await cli('attach', 'eth1', '--subnet', '198.51.100.0/24', '--mode', 'generic');
      const r = await cli('status', '--json');
      assert.equal(r.code, 0);
      const link = BpfLink.openPinned(join(pins('eth1'), 'xdp_link'));
      const linkId = link.info().id;
      link.close();
      assert.deepEqual(JSON.parse(r.stdout), [
        {
          interface: 'eth1',
          ifindex: ifindex('eth1'),
          state: 'attached',
          xdp: { program: xdpId('eth1'), link: linkId, mode: 'generic' },
          transparent: null,
          ring: { name: 'ring0', ifindex: ifindex('ring0'), present: true, up: true, carrier: true, ringnet: false, regions: [], peersUp: 0, peersDead: 0, peersConflicting: 0, problems: [] },
          subnets: ['198.51.100.0/24'],
          peers: 0,
          pins: pins('eth1'),
        },
      ]);
    });

    it('prints an empty JSON list when nothing is attached', async () => {
      const r = await cli('status', '--json');
      assert.equal(r.code, 0);
      assert.deepEqual(JSON.parse(r.stdout), []);
    });
  });

  describe('errors', () => {
    it('rejects an unknown interface', async () => {
      assertUsage(await cli('attach', 'eth9'), 'eth9: no such interface');
      assertUsage(await cli('detach', 'eth9'), 'eth9: no such interface');
    });

    it('rejects a missing ring device', async () => {
      assertUsage(await cli('attach', 'eth1', '--ring', 'ring9'), 'ring9: no such ring device (--ring)');
      assertClean('eth1');
    });

    it('rejects the interface itself as the ring device', async () => {
      assertUsage(await cli('attach', 'eth1', '--ring', 'eth1'), 'eth1: the ring device must be another interface (--ring)');
    });

    it('rejects a subnet with host bits set', async () => {
      assertUsage(await cli('attach', 'eth1', '--subnet', '198.51.100.1/24'),
        'bad CIDR "198.51.100.1/24": host bits are set (the network is 198.51.100.0/24)');
      assertClean('eth1');
    });

    it('rejects a prefix out of range', async () => {
      assertUsage(await cli('attach', 'eth1', '--subnet', '198.51.100.0/33'), 'bad CIDR "198.51.100.0/33": the prefix must be 0-32 for IPv4');
      assertUsage(await cli('attach', 'eth1', '--subnet', '2001:db8::/129'), 'bad CIDR "2001:db8::/129": the prefix must be 0-128 for IPv6');
    });

    it('rejects a subnet that is not a CIDR', async () => {
      assertUsage(await cli('attach', 'eth1', '--subnet', 'ring-subnet'),
        'bad CIDR "ring-subnet": expected ADDRESS/PREFIX, e.g. 198.51.100.0/24 or 2001:db8:2::/64');
      assertUsage(await cli('attach', 'eth1', '--subnet', '198.51.300.0/24'), 'bad CIDR "198.51.300.0/24": 198.51.300.0 is not an IPv4 or IPv6 address');
    });

    it('rejects an unknown mode', async () => {
      const r = await cli('attach', 'eth1', '--mode', 'offload');
      assert.equal(r.code, 1);
      assert.match(lines(r.stdout)[0], /^Usage Error: Invalid value for --mode: expected one of "native" or "generic"/);
    });

    it('refuses to run without root', () => {
      const r = spawnSync(process.execPath, [join(root, 'bin/ringctl.js'), 'attach', 'eth1'], { uid: 65534, gid: 65534, encoding: 'utf8' });
      assert.equal(r.status, 1);
      assert.equal(r.stderr, 'ringctl: ringctl attach needs root (CAP_BPF and CAP_NET_ADMIN)\n');
      const s = spawnSync(process.execPath, [join(root, 'bin/ringctl.js'), 'status'], { uid: 65534, gid: 65534, encoding: 'utf8' });
      assert.equal(s.status, 1);
      assert.equal(s.stderr, 'ringctl: ringctl status needs root (CAP_BPF and CAP_NET_ADMIN)\n');
    });

    it('reports a verifier rejection with the log\'s tail and leaves nothing attached', async () => {
      const r = await runCli(['attach', 'eth1'], { ...env, RINGCTL_BPF_DIR: rejectDir });
      assert.equal(r.code, 1);
      const err = lines(r.stderr);
      assert.equal(err[0], 'ringctl: eth1: the kernel\'s verifier rejected xdp_ring (EACCES)');
      assert.ok(err.some((l) => /invalid access to packet/.test(l)), r.stderr);
      assert.ok(err.length <= 16);
      assertClean('eth1');
    });

    it('says how to build a missing BPF object', async () => {
      const empty = mkdtempSync(join(tmpdir(), 'ringctl-empty-'));
      try {
        const r = await runCli(['attach', 'eth1'], { ...env, RINGCTL_BPF_DIR: empty });
        assertFailure(r, `${join(empty, OBJECTS.xdp.file)} is missing: build it with npx zx scripts/build.mjs bpf`);
        assertClean('eth1');
      } finally {
        rmSync(empty, { recursive: true });
      }
    });

    it('refuses native mode on a driver without it and leaves nothing behind', async () => {
      const r = await cli('attach', 'br0');
      assertFailure(r, 'br0: its driver has no native XDP (EOPNOTSUPP); use --mode generic');
      assertClean('br0');
    });
  });
});

