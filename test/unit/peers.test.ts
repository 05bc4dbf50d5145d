import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { classifyPeers, contextFor, describeConflict, notUnicast, type Conflict } from '../../src/peers/classify.js';
import { localAddresses, type LocalAddress } from '../../src/peers/local.js';
import { peersFor } from '../../src/peers/sync.js';
import { findPeerTable, formatAge, parsePeerTable, readPeerTable } from '../../src/peers/table.js';
import { parseCidr, parseIp } from '../../src/xdp/cidr.js';
import { RingctlError } from '../../src/common/errors.js';
import { ringDeviceRow, ringDeviceState } from '../../src/xdp/ring-device.js';
import { runCli } from '../helpers/run-cli.js';
import { requireTier } from '../helpers/tier.js';

const HEADER = 'region slot state gen mac age_ms ipv4 ipv6 tx_packets rx_packets name claimed_mac addrs_refused';
const SELF = '0 0 self 3 52:54:00:12:34:01 0 198.51.100.1,192.0.2.1 2001:db8:2::1,2001:db8:1::1 0 0 g1 - 0';
const UP2 = '1 1 up 1 4e:6c:45:0e:5d:cd 76 198.51.100.2,192.0.2.2 2001:db8:2::2,2001:db8:1::2 52 50 g2 - 0';
const DEAD3 = '2 2 dead 2 4e:6c:45:0e:5d:ce 12345 198.51.100.3,192.0.2.3 - 9 7 g3 - 0';
const FREE = '3 3 free 0 4e:6c:45:0e:5d:cf 0 - - 0 0 g4 - 0';

/** A line of the table: an up peer in slot `slot` (its own region) with these addresses, name and conflicts. */
function up(slot: number, mac: string, v4: string, v6 = '-', o: { name?: string; claimed?: string; refused?: number; state?: string } = {}): string {
  return `${slot} ${slot} ${o.state ?? 'up'} 1 ${mac} 5 ${v4} ${v6} 0 0 ${o.name ?? `g${slot + 1}`} ${o.claimed ?? '-'} ${o.refused ?? 0}`;
}

const table = (...lines: string[]) => `${[HEADER, ...lines].join('\n')}\n`;

/** This guest as in the lab: g1, ring0 and eth1 with their /24 and /64. */
function lab(n = 1): LocalAddress[] {
  const a = (ifname: string, cidr: string): LocalAddress => {
    const [addr, prefix] = cidr.split('/');
    return { ifname, ...parseIp(addr)!, prefix: Number(prefix) };
  };
  return [
    a('lo', '127.0.0.1/8'),
    a('ring0', `198.51.100.${n}/24`),
    a('ring0', `2001:db8:2::${n}/64`),
    a('eth1', `192.0.2.${n}/24`),
    a('eth1', `2001:db8:1::${n}/64`),
    a('eth1', 'fe80::1/64'),
  ];
}

const ctx = (transparent: boolean, subnets: string[] = []) =>
  contextFor(lab(), { ifname: 'eth1', ring: 'ring0', subnets: subnets.map(parseCidr), transparent });

describe('ring0\'s peer table', () => {
  before(function () {
    requireTier(this, 'unit');
  });

  describe('parsing', () => {
    it('reads every field of every slot', () => {
      const t = parsePeerTable(table(SELF, UP2, DEAD3, FREE));
      assert.deepEqual(t.problems, []);
      assert.equal(t.peers.length, 4);
      assert.deepEqual(t.peers[1], {
        region: 1,
        slot: 1,
        state: 'up',
        generation: 1,
        mac: '4e:6c:45:0e:5d:cd',
        name: 'g2',
        ageMs: 76,
        ipv4: ['198.51.100.2', '192.0.2.2'],
        ipv6: ['2001:db8:2::2', '2001:db8:1::2'],
        addrsRefused: 0,
      });
      assert.deepEqual(t.peers[2].ipv6, []);
      assert.deepEqual(t.peers.map((p) => [p.state, p.name]), [['self', 'g1'], ['up', 'g2'], ['dead', 'g3'], ['free', 'g4']]);
    });

    it('reads a conflict: the MAC a peer claims, whatever it is, and how many addresses were refused', () => {
      const t = parsePeerTable(
        table(
          up(1, '02:00:00:00:00:01', '198.51.100.2', '-', { claimed: '52:54:00:12:34:01', refused: 3 }),
          up(2, '02:00:00:00:00:02', '-', '-', { claimed: 'ff:ff:ff:ff:ff:ff' }),
          up(3, '02:00:00:00:00:03', '-', '-', { claimed: '00:00:00:00:00:00', state: 'dead' }),
          up(4, '02:00:00:00:00:04', '-', '-', { name: '-' }),
        ),
      );
      assert.deepEqual(t.problems, []);
      assert.deepEqual(
        t.peers.map((p) => [p.slot, p.mac, p.claimedMac, p.addrsRefused, p.name]),
        [
          [1, '02:00:00:00:00:01', '52:54:00:12:34:01', 3, 'g2'],
          [2, '02:00:00:00:00:02', 'ff:ff:ff:ff:ff:ff', 0, 'g3'],
          [3, '02:00:00:00:00:03', '00:00:00:00:00:00', 0, 'g4'],
          [4, '02:00:00:00:00:04', undefined, 0, ''],
        ],
      );
      assert.equal('claimedMac' in t.peers[3], false);
    });

    it('skips and names each bad line, and keeps the good ones', () => {
      const ok = (f: string) => `4 4 up 1 4e:6c:45:0e:5d:cd 76 ${f}`;
      const bad = [
        '4 4 up 1 4e:6c:45:0e:5d:cd 76 198.51.100.2 - 0 0 g5 -',
        ok('- - 0 0 g5 - 0').replace(' 4 up', ' x up'),
        ok('- - 0 0 g5 - 0').replace(' up ', ' alive '),
        ok('- - 0 0 g5 - 0').replace(' up ', ' refused '),
        ok('- - 0 0 g5 - 0').replace('4e:6c:45:0e:5d:cd', '4e:6c:45:0e:5d'),
        ok('- - 0 0 g5 - 0').replace('4e:6c:45:0e:5d:cd', 'ff:ff:ff:ff:ff:ff'),
        ok('- - 0 0 g5 - 0').replace('4e:6c:45:0e:5d:cd', '00:00:00:00:00:00'),
        ok('- - 0 0 g5 - 0').replace(' 76 ', ' -5 '),
        ok('198.51.100.256 - 0 0 g5 - 0'),
        ok('2001:db8::1 - 0 0 g5 - 0'),
        ok('- 198.51.100.2 0 0 g5 - 0'),
        ok('1.1.1.1,,1.1.1.2 - 0 0 g5 - 0'),
        ok('- - 0 0 g5 - 0').replace(' up 1 ', ' up 99999999999 '),
        ok('- - 0 0 g5 - 0').replace(/^4 4 /, '4 99999 '),
        ok(`${Array.from({ length: 17 }, (_, i) => `10.0.0.${i + 1}`).join(',')} - 0 0 g5 - 0`),
        ok('- - x 0 g5 - 0'),
        ok(`- - 0 0 ${'n'.repeat(32)} - 0`),
        ok('- - 0 0 g5 4e:6c:45 0'),
        ok('- - 0 0 g5 - -1'),
        ok('- - 0 0 g5 - 0').replace('4 4', '4  4'),
        '\u0000\u0001 garbage',
      ];
      const t = parsePeerTable(table(SELF, ...bad, UP2));
      assert.deepEqual(t.peers.map((p) => p.slot), [0, 1]);
      assert.deepEqual(t.problems, [
        'line 3: expected 13 fields, found 12; skipped',
        'line 4: bad slot "x"; skipped',
        'line 5: bad state "alive"; skipped',
        'line 6: bad state "refused"; skipped',
        'line 7: bad MAC "4e:6c:45:0e:5d"; skipped',
        'line 8: up peer with a MAC that is not unicast (ff:ff:ff:ff:ff:ff); skipped',
        'line 9: up peer with a MAC that is not unicast (00:00:00:00:00:00); skipped',
        'line 10: bad heartbeat age "-5"; skipped',
        'line 11: bad IPv4 address "198.51.100.256"; skipped',
        'line 12: bad IPv4 address "2001:db8::1"; skipped',
        'line 13: bad IPv6 address "198.51.100.2"; skipped',
        'line 14: bad IPv4 address ""; skipped',
        'line 15: bad generation "99999999999"; skipped',
        'line 16: bad slot "99999"; skipped',
        'line 17: more than 16 IPv4 addresses; skipped',
        'line 18: bad packet counts "x 0"; skipped',
        `line 19: bad name "${'n'.repeat(32)}"; skipped`,
        'line 20: bad claimed MAC "4e:6c:45"; skipped',
        'line 21: bad addrs_refused "-1"; skipped',
        'line 22: expected 13 fields, found 14; skipped',
        'line 23: expected 13 fields, found 2; skipped',
      ]);
    });

    it('keeps the first of a slot listed twice, whatever region the second names', () => {
      const t = parsePeerTable(table(UP2, UP2.replace(' 76 ', ' 80 ').replace(/^1 /, '2 ')));
      assert.equal(t.peers.length, 1);
      assert.equal(t.peers[0].ageMs, 76);
      assert.deepEqual(t.problems, ['line 3: slot 1 listed twice; skipped']);
    });

    it('refuses a table whose header it does not know, ABI v1\'s too', () => {
      assert.throws(() => parsePeerTable('slot state mac\n1 up 4e:6c:45:0e:5d:cd\n', "ring0's peer table"), {
        name: 'RingctlError',
        message: `ring0's peer table: unknown format (header "slot state mac", expected "${HEADER}")`,
      });
      assert.throws(() => parsePeerTable('region slot state gen mac age_ms ipv4 ipv6\n0 1 up 1 4e:6c:45:0e:5d:cd 76 - -\n'), /unknown format/);
      assert.throws(() => parsePeerTable(''), RingctlError);
    });

    it('accepts an empty table', () => {
      assert.deepEqual(parsePeerTable(`${HEADER}\n`), { peers: [], problems: [] });
    });

    it('formats heartbeat ages for people', () => {
      assert.deepEqual([0, 76, 999, 1000, 12345, 59_999, 60_000, 250_000, 7_300_000].map(formatAge), [
        '0 ms', '76 ms', '999 ms', '1.0 s', '12.3 s', '60.0 s', '1 min 0 s', '4 min 10 s', '2 h 1 min',
      ]);
    });
  });

  describe('reading', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'ringctl-sysfs-'));
      mkdirSync(join(dir, 'ring0/ringnet'), { recursive: true });
      mkdirSync(join(dir, 'eth1'));
      writeFileSync(join(dir, 'ring0/ringnet/peers'), table(SELF, UP2));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('reads a ring device\'s table', () => {
      assert.equal(readPeerTable('ring0', dir).peers.length, 2);
    });

    it('says ring0 is missing, and what is probably why', () => {
      assert.throws(() => readPeerTable('ring1', dir), { name: 'RingctlError', message: 'ring1 not found: is ringnet.ko loaded?' });
    });

    it('says a device is not a ringnet device', () => {
      assert.throws(() => readPeerTable('eth1', dir), {
        name: 'RingctlError',
        message: `eth1 is not a ringnet device (it has no ${join(dir, 'eth1/ringnet/peers')})`,
      });
    });
  });

  describe('classification', () => {
    const peers = parsePeerTable(table(SELF, UP2, DEAD3, FREE)).peers;

    it('takes live peers only, under their roster MAC and name, their ring0 addresses as ring addresses', () => {
      assert.deepEqual(classifyPeers(peers, ctx(false)), {
        peers: [{ slot: 1, name: 'g2', ringMac: '4e:6c:45:0e:5d:cd', addresses: ['198.51.100.2', '2001:db8:2::2'], ordinaryAddresses: [] }],
        skipped: [],
        conflicts: [],
      });
    });

    it('adds the addresses on the attached interface\'s subnets as ordinary ones in transparent mode', () => {
      assert.deepEqual(classifyPeers(peers, ctx(true)).peers, [
        {
          slot: 1,
          name: 'g2',
          ringMac: '4e:6c:45:0e:5d:cd',
          addresses: ['198.51.100.2', '2001:db8:2::2'],
          ordinaryAddresses: ['192.0.2.2', '2001:db8:1::2'],
        },
      ]);
    });

    it('counts the inter-domain subnets as ring subnets', () => {
      const t = parsePeerTable(table(up(5, '02:00:00:00:00:05', '203.0.113.5,192.0.2.5'))).peers;
      assert.deepEqual(classifyPeers(t, ctx(true, ['203.0.113.0/24'])).peers[0].addresses, ['203.0.113.5']);
      assert.deepEqual(classifyPeers(t, ctx(true)).peers[0].addresses, []);
    });

    it('classifies by subnet, not by the order the peer published its addresses in', () => {
      const t = parsePeerTable(table(up(5, '02:00:00:00:00:05', '192.0.2.5,198.51.100.5'))).peers;
      const p = classifyPeers(t, ctx(true)).peers[0];
      assert.deepEqual([p.addresses, p.ordinaryAddresses], [['198.51.100.5'], ['192.0.2.5']]);
    });

    it('leaves out addresses on networks neither ring0 nor the interface is on', () => {
      const t = parsePeerTable(table(up(5, '02:00:00:00:00:05', '198.51.100.5,10.9.8.7,8.8.8.8', 'fd00::5'))).peers;
      const r = classifyPeers(t, ctx(true));
      assert.deepEqual(r.peers[0].addresses, ['198.51.100.5']);
      assert.deepEqual(r.peers[0].ordinaryAddresses, []);
      assert.deepEqual(r.skipped, []);
    });

    it('ignores, with a reason, addresses that would capture traffic that is not the peer\'s', () => {
      // A roster whose prefixes allow such addresses is the host's mistake; ringctl still maps none of them.
      const t = parsePeerTable(
        table(
          SELF,
          up(5, '02:00:00:00:00:05', '198.51.100.1,192.0.2.1,0.0.0.0,127.0.0.1,224.0.0.1,255.255.255.255,169.254.1.1,198.51.100.5', '::,::1,ff02::1,fe80::5,::ffff:198.51.100.9,2001:db8:2::5', { name: 'web' }),
        ),
      ).peers;
      const r = classifyPeers(t, ctx(true));
      assert.deepEqual(r.peers.map((p) => [p.slot, p.addresses, p.ordinaryAddresses]), [[5, ['198.51.100.5', '2001:db8:2::5'], []]]);
      assert.deepEqual(r.skipped, [
        'peer 5 (web): holds 198.51.100.1, an address of this guest; ignored',
        'peer 5 (web): holds 192.0.2.1, an address of this guest; ignored',
        'peer 5 (web): publishes 0.0.0.0, an unspecified ("this network") address; ignored',
        'peer 5 (web): publishes 127.0.0.1, a loopback address; ignored',
        'peer 5 (web): publishes 224.0.0.1, a multicast address; ignored',
        'peer 5 (web): publishes 255.255.255.255, a reserved or broadcast address; ignored',
        'peer 5 (web): publishes 169.254.1.1, a link-local address; ignored',
        'peer 5 (web): publishes ::, the unspecified address; ignored',
        'peer 5 (web): publishes ::1, the loopback address; ignored',
        'peer 5 (web): publishes ff02::1, a multicast address; ignored',
        'peer 5 (web): publishes fe80::5, a link-local address; ignored',
        'peer 5 (web): publishes ::ffff:c633:6409, an IPv4-mapped address; ignored',
      ]);
      assert.deepEqual(r.conflicts, [
        { kind: 'own-address', value: '198.51.100.1', peers: ['5'] },
        { kind: 'own-address', value: '192.0.2.1', peers: ['5'] },
      ]);
    });

    it('gives an address two peers hold (overlapping prefixes in two groups) to neither of them', () => {
      // This guest is in both groups: slot 1 in one, slot 3 in the other, with prefixes that overlap.
      const t = parsePeerTable(
        table(SELF, up(1, '02:00:00:00:00:01', '198.51.100.2,192.0.2.2'), up(3, '02:00:00:00:00:03', '198.51.100.3,192.0.2.2,198.51.100.2')),
      ).peers;
      const r = classifyPeers(t, ctx(true));
      assert.deepEqual(r.peers.map((p) => [p.slot, p.addresses, p.ordinaryAddresses]), [
        [1, [], []],
        [3, ['198.51.100.3'], []],
      ]);
      assert.deepEqual(r.conflicts, [
        { kind: 'address', value: '198.51.100.2', peers: ['1', '3'] },
        { kind: 'address', value: '192.0.2.2', peers: ['1', '3'] },
      ]);
      assert.deepEqual(r.skipped, [
        'peer 1 (g2): 198.51.100.2 also held by peer 3 (g4); mapped to none of them',
        'peer 1 (g2): 192.0.2.2 also held by peer 3 (g4); mapped to none of them',
        'peer 3 (g4): 192.0.2.2 also held by peer 1 (g2); mapped to none of them',
        'peer 3 (g4): 198.51.100.2 also held by peer 1 (g2); mapped to none of them',
      ]);
    });

    it('counts a peer\'s address that is this guest\'s, on any interface, as a conflict', () => {
      const local = [...lab(), { ifname: 'eth2', ...parseIp('192.0.2.200')!, prefix: 24 }];
      const c = contextFor(local, { ifname: 'eth1', ring: 'ring0', subnets: [], transparent: true });
      const t = parsePeerTable(table(SELF, up(5, '02:00:00:00:00:05', '198.51.100.5,192.0.2.200'))).peers;
      const r = classifyPeers(t, c);
      assert.deepEqual(r.peers[0].ordinaryAddresses, []);
      assert.deepEqual(r.conflicts, [{ kind: 'own-address', value: '192.0.2.200', peers: ['5'] }]);
    });

    it('keeps a peer that claims another MAC or addresses outside its prefixes at its roster MAC and allowed addresses', () => {
      // Slot 5 publishes g1's MAC and three addresses its roster prefixes do not
      // hold: ringnet kept to the roster's MAC and passed on only 198.51.100.5.
      // A dead peer's claims are still shown; an up one's address counts only while up.
      const t = parsePeerTable(
        table(
          SELF,
          up(5, '02:00:00:00:00:05', '198.51.100.5', '-', { claimed: '52:54:00:12:34:01', refused: 3 }),
          up(6, '02:00:00:00:00:06', '198.51.100.5', '-', { claimed: '01:00:5e:00:00:01', state: 'dead' }),
        ),
      ).peers;
      const r = classifyPeers(t, ctx(false));
      assert.deepEqual(r.peers, [{ slot: 5, name: 'g6', ringMac: '02:00:00:00:00:05', addresses: ['198.51.100.5'], ordinaryAddresses: [] }]);
      assert.deepEqual(r.conflicts, [
        { kind: 'claimed-mac', value: '52:54:00:12:34:01', peers: ['5'] },
        { kind: 'addrs-refused', value: '3', peers: ['5'] },
        { kind: 'claimed-mac', value: '01:00:5e:00:00:01', peers: ['6'] },
      ]);
      assert.deepEqual(r.skipped, [
        'peer 5 (g6) publishes MAC 52:54:00:12:34:01, not its roster MAC: ignored',
        'peer 5 (g6) publishes 3 addresses outside its roster prefixes: ignored',
        'peer 6 (g7) publishes MAC 01:00:5e:00:00:01, not its roster MAC: ignored',
      ]);
    });

    it('sees no conflict in addresses nobody would map (a private network every guest has)', () => {
      const t = parsePeerTable(table(SELF, up(1, '02:00:00:00:00:01', '198.51.100.2,172.17.0.1'), up(2, '02:00:00:00:00:02', '198.51.100.3,172.17.0.1'))).peers;
      const r = classifyPeers(t, ctx(true));
      assert.deepEqual(r.conflicts, []);
      assert.deepEqual(r.peers.map((p) => p.addresses), [['198.51.100.2'], ['198.51.100.3']]);
    });

    it('names a peer without a name by its slot alone', () => {
      const t = parsePeerTable(table(up(5, '02:00:00:00:00:05', '198.51.100.1', '-', { name: '-', refused: 1 }))).peers;
      assert.deepEqual(classifyPeers(t, ctx(false)).skipped, [
        'peer 5: holds 198.51.100.1, an address of this guest; ignored',
        'peer 5 publishes 1 address outside its roster prefixes: ignored',
      ]);
      assert.equal(classifyPeers(t, ctx(false)).peers[0].name, undefined);
    });

    it('describes each conflict from one peer\'s side or whole, with the roster\'s names', () => {
      const names = new Map([['1', 'g2'], ['3', 'g4']]);
      const held: Conflict = { kind: 'address', value: '198.51.100.2', peers: ['1', '3', '5'] };
      assert.equal(describeConflict(held, '1', names), '198.51.100.2 also held by peer 3 (g4), peer 5');
      assert.equal(describeConflict(held, undefined, names), '198.51.100.2 held by peer 1 (g2), peer 3 (g4), peer 5');
      const own: Conflict = { kind: 'own-address', value: '192.0.2.1', peers: ['1', '3'] };
      assert.equal(describeConflict(own, '3', names), "192.0.2.1 is this guest's (also held by peer 1 (g2))");
      assert.equal(describeConflict({ ...own, peers: ['3'] }, '3', names), "192.0.2.1 is this guest's");
      const mac: Conflict = { kind: 'claimed-mac', value: '02:00:00:00:00:09', peers: ['3'] };
      assert.equal(describeConflict(mac, '3', names), 'publishes MAC 02:00:00:00:00:09, not its roster MAC: ignored');
      assert.equal(describeConflict(mac, undefined, names), 'peer 3 (g4) publishes MAC 02:00:00:00:00:09, not its roster MAC: ignored');
      assert.equal(describeConflict({ kind: 'addrs-refused', value: '1', peers: ['7'] }), 'peer 7 publishes 1 address outside its roster prefixes: ignored');
    });

    it('names non-unicast addresses', () => {
      assert.equal(notUnicast(parseIp('198.51.100.2')!), undefined);
      assert.equal(notUnicast(parseIp('2001:db8::2')!), undefined);
      assert.equal(notUnicast(parseIp('fec0::1')!), undefined);
      assert.equal(notUnicast(parseIp('febf::1')!), 'a link-local address');
    });

    it('gives a ring-less interface (its ring device gone) no peers, and prefixes table problems', () => {
      const t = parsePeerTable(table(UP2, 'junk'));
      assert.deepEqual(peersFor({ ifname: 'eth1', subnets: [], transparent: true }, t, lab()), { peers: [], notes: [] });
      const r = peersFor({ ifname: 'eth1', ring: 'ring0', subnets: [], transparent: false }, t, lab());
      assert.equal(r.peers.length, 1);
      assert.deepEqual(r.notes, ["ring0's peer table line 3: expected 13 fields, found 1; skipped"]);
    });
  });

  describe('this guest\'s addresses', () => {
    it('lists lo\'s with their prefixes', () => {
      const lo = localAddresses().filter((a) => a.ifname === 'lo');
      assert.ok(
        lo.some((a) => a.family === 4 && a.prefix === 8 && a.bytes.join('.') === '127.0.0.1'),
        JSON.stringify(lo),
      );
    });
  });

  describe('ringctl peers', () => {
    // The device is `lo` in a sysfs of our own: the RING column comes from the
    // device's real addresses (127.0.0.1/8), so the test needs no ring0. The
    // CONFLICT column comes from this machine's real addresses too: the peers'
    // other addresses are in 203.0.113.0/24 and 2001:db8:3::/64, which no test
    // machine should have.
    let dir: string;
    const env = () => ({ ...process.env, RINGCTL_SYSFS_NET: dir });
    const LO_SELF = '0 0 self 3 52:54:00:12:34:01 0 127.0.0.1,203.0.113.1 2001:db8:3::1 0 0 g1 - 0';
    const LO_UP = '1 1 up 1 4e:6c:45:0e:5d:cd 76 127.0.0.2,203.0.113.2 2001:db8:3::2 10 12 g2 - 0';
    const LO_DEAD = '2 2 dead 2 4e:6c:45:0e:5d:ce 12345 127.0.0.3 - 0 0 g3 - 0';
    const write = (...lines: string[]) => writeFileSync(join(dir, 'lo/ringnet/peers'), table(...lines));

    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'ringctl-sysfs-'));
      mkdirSync(join(dir, 'lo/ringnet'), { recursive: true });
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('prints the used slots as a table, with the roster\'s names', async () => {
      write(LO_SELF, LO_UP, LO_DEAD, FREE);
      const r = await runCli(['peers', '--ring', 'lo'], env());
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      assert.equal(
        r.stdout,
        [
          'SLOT  NAME  STATE  GEN  MAC                HEARTBEAT   RING       OTHER',
          '0     g1    self   3    52:54:00:12:34:01  -           127.0.0.1  203.0.113.1,2001:db8:3::1',
          '1     g2    up     1    4e:6c:45:0e:5d:cd  76 ms ago   127.0.0.2  203.0.113.2,2001:db8:3::2',
          '2     g3    dead   2    4e:6c:45:0e:5d:ce  12.3 s ago  127.0.0.3  -',
          '',
        ].join('\n'),
      );
    });

    it('adds free slots with --all, and leaves the NAME column out when no row has a name', async () => {
      const anon = (l: string) => l.replace(/ g\d - /, ' - - ');
      write(anon(LO_SELF), anon(FREE), anon(LO_UP));
      const r = await runCli(['peers', '--ring', 'lo', '--all'], env());
      assert.equal(r.code, 0);
      assert.deepEqual(r.stdout.split('\n').map((l) => l.split(/\s+/).slice(0, 3).join(' ')), [
        'SLOT STATE GEN',
        '0 self 3',
        '1 up 1',
        '3 free 0',
        '',
      ]);
    });

    it('prints JSON with --json', async () => {
      write(LO_SELF, LO_UP, FREE);
      const r = await runCli(['peers', '--ring', 'lo', '--json'], env());
      assert.equal(r.code, 0);
      assert.deepEqual(JSON.parse(r.stdout), [
        {
          slot: 0,
          name: 'g1',
          region: 0,
          state: 'self',
          generation: 3,
          mac: '52:54:00:12:34:01',
          heartbeatAgeMs: null,
          ipv4: ['127.0.0.1', '203.0.113.1'],
          ipv6: ['2001:db8:3::1'],
          ringAddresses: ['127.0.0.1'],
          otherAddresses: ['203.0.113.1', '2001:db8:3::1'],
          claimedMac: null,
          addrsRefused: 0,
          conflicts: [],
        },
        {
          slot: 1,
          name: 'g2',
          region: 1,
          state: 'up',
          generation: 1,
          mac: '4e:6c:45:0e:5d:cd',
          heartbeatAgeMs: 76,
          ipv4: ['127.0.0.2', '203.0.113.2'],
          ipv6: ['2001:db8:3::2'],
          ringAddresses: ['127.0.0.2'],
          otherAddresses: ['203.0.113.2', '2001:db8:3::2'],
          claimedMac: null,
          addrsRefused: 0,
          conflicts: [],
        },
      ]);
    });

    it('shows a peer that claims another MAC or addresses outside its prefixes in a CONFLICT column', async () => {
      // (Address conflicts need this machine's subnets: the classification tests cover them.)
      write(
        LO_SELF,
        LO_UP.replace(/ - 0$/, ' 52:54:00:12:34:01 2'),
        LO_DEAD.replace(/ - 0$/, ' ff:ff:ff:ff:ff:ff 0'),
        '4 4 up 1 02:00:00:00:00:04 5 127.0.0.4 - 0 0 g5 - 0',
        FREE.replace(/ - 0$/, ' 02:00:00:00:00:09 1'),
      );
      const r = await runCli(['peers', '--ring', 'lo'], env());
      assert.deepEqual([r.code, r.stderr], [0, '']);
      assert.deepEqual(r.stdout.split('\n').map((l) => l.split(/\s{2,}/).slice(-1)[0]), [
        'CONFLICT',
        '-',
        'publishes MAC 52:54:00:12:34:01, not its roster MAC: ignored; publishes 2 addresses outside its roster prefixes: ignored',
        'publishes MAC ff:ff:ff:ff:ff:ff, not its roster MAC: ignored',
        '-',
        '',
      ]);
      const json = JSON.parse((await runCli(['peers', '--ring', 'lo', '--json'], env())).stdout) as { slot: number; mac: string; claimedMac: string | null; addrsRefused: number; conflicts: unknown[] }[];
      assert.deepEqual(
        json.map((p) => [p.slot, p.mac, p.claimedMac, p.addrsRefused, p.conflicts]),
        [
          [0, '52:54:00:12:34:01', null, 0, []],
          [1, '4e:6c:45:0e:5d:cd', '52:54:00:12:34:01', 2, [
            { kind: 'claimed-mac', value: '52:54:00:12:34:01', with: [] },
            { kind: 'addrs-refused', value: '2', with: [] },
          ]],
          [2, '4e:6c:45:0e:5d:ce', 'ff:ff:ff:ff:ff:ff', 0, [{ kind: 'claimed-mac', value: 'ff:ff:ff:ff:ff:ff', with: [] }]],
          [4, '02:00:00:00:00:04', null, 0, []],
        ],
      );
    });

    it('counts the peers in conflict in ringctl status\'s ring row, and says how many regions the host maps and which are ours', () => {
      writeFileSync(
        join(dir, 'lo/ringnet/regions'),
        'region pci size max_peers ring_size self mode owner readers\n0 0000:00:11.0 8388608 4 2097152 0 plain 0 0xe\n1 0000:00:12.0 8388608 4 2097152 0 plain 1 0xd\n2 0000:00:13.0 8388608 4 2097152 0 plain 2 0xb\n',
      );
      try {
        write(LO_SELF, LO_UP.replace(/ - 0$/, ' - 1'), LO_DEAD, FREE);
        let reads = 0;
        const s = ringDeviceState('lo', dir, (ring, sysfs) => {
          reads++;
          return findPeerTable(ring, sysfs);
        });
        assert.equal(reads, 1, 'the table is read once');
        assert.deepEqual([s.peersUp, s.peersDead, s.peersConflicting, s.problems], [1, 1, 1, []]);
        assert.deepEqual(s.regions.map((r) => [r.region, r.owner, r.readers]), [[0, 0, [1, 2, 3]], [1, 1, [0, 2, 3]], [2, 2, [0, 1, 3]]]);
        assert.deepEqual(ringDeviceRow(s).slice(3), ['1 up, 1 dead, 1 in conflict', 'slot 0 of 4, plain, 3 regions (1 own)']);
        write(LO_SELF, LO_UP, FREE);
        assert.equal(ringDeviceRow(ringDeviceState('lo', dir))[3], '1 up, 0 dead');
        writeFileSync(join(dir, 'lo/ringnet/regions'), 'region pci size max_peers ring_size self mode\n0 0000:00:04.0 16777216 8 1048576 0 plain\n');
        const v1 = ringDeviceState('lo', dir);
        assert.deepEqual([ringDeviceRow(v1)[4], v1.problems], ['-', ['ringnet/regions: unknown format (header "region pci size max_peers ring_size self mode", expected "region pci size max_peers ring_size self mode owner readers")']]);
      } finally {
        rmSync(join(dir, 'lo/ringnet/regions'), { force: true });
      }
    });

    it('warns about bad lines on stderr and prints the rest', async () => {
      write(LO_SELF, '9 9 up 1 not-a-mac 5 - - 0 0 g9 - 0');
      const r = await runCli(['peers', '--ring', 'lo'], env());
      assert.equal(r.code, 0);
      assert.equal(r.stderr, 'ringctl: warning: lo\'s peer table line 3: bad MAC "not-a-mac"; skipped\n');
      assert.equal(r.stdout.split('\n').length, 3);
    });

    it('says when no slot is in use', async () => {
      write(FREE);
      const r = await runCli(['peers', '--ring', 'lo'], env());
      assert.deepEqual([r.code, r.stdout], [0, 'lo: the peer table has no used slots\n']);
      assert.deepEqual(JSON.parse((await runCli(['peers', '--ring', 'lo', '--json'], env())).stdout), []);
    });

    it('fails with one line when ring0 does not exist', async () => {
      const r = await runCli(['peers'], env());
      assert.deepEqual([r.code, r.stdout, r.stderr], [1, '', 'ringctl: ring0 not found: is ringnet.ko loaded?\n']);
    });

    it('fails with one line on a table it cannot read', async () => {
      writeFileSync(join(dir, 'lo/ringnet/peers'), 'something else entirely\n');
      const r = await runCli(['peers', '--ring', 'lo'], env());
      assert.deepEqual([r.code, r.stdout], [1, '']);
      assert.equal(r.stderr, `ringctl: lo's peer table: unknown format (header "something else entirely", expected "${HEADER}")\n`);
    });

    it('rejects a --ring that is not an interface name', async () => {
      const r = await runCli(['peers', '--ring', 'a/b'], env());
      assert.equal(r.code, 1);
      assert.equal(r.stdout.split('\n')[0], 'Usage Error: a/b: not an interface name (--ring)');
    });
  });
});
