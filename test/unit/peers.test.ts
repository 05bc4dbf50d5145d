import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { classifyPeers, contextFor, notUnicast } from '../../src/peers/classify.js';
import { localAddresses, type LocalAddress } from '../../src/peers/local.js';
import { peersFor } from '../../src/peers/sync.js';
import { findPeerTable, formatAge, parsePeerTable, readPeerTable } from '../../src/peers/table.js';
import { parseCidr, parseIp } from '../../src/xdp/cidr.js';
import { RingctlError } from '../../src/common/errors.js';
import { ringDeviceRow, ringDeviceState } from '../../src/xdp/ring-device.js';
import { runCli } from '../helpers/run-cli.js';
import { requireTier } from '../helpers/tier.js';

const HEADER = 'region slot state gen mac age_ms ipv4 ipv6';
const SELF = '0 0 self 3 52:54:00:12:34:01 0 198.51.100.1,192.0.2.1 2001:db8:2::1,2001:db8:1::1';
const UP2 = '0 1 up 1 4e:6c:45:0e:5d:cd 76 198.51.100.2,192.0.2.2 2001:db8:2::2,2001:db8:1::2';
const DEAD3 = '0 2 dead 2 4e:6c:45:0e:5d:ce 12345 198.51.100.3,192.0.2.3 -';
const FREE = '0 3 free 0 00:00:00:00:00:00 0 - -';

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
        region: 0,
        slot: 1,
        state: 'up',
        generation: 1,
        mac: '4e:6c:45:0e:5d:cd',
        ageMs: 76,
        ipv4: ['198.51.100.2', '192.0.2.2'],
        ipv6: ['2001:db8:2::2', '2001:db8:1::2'],
      });
      assert.deepEqual(t.peers[2].ipv6, []);
      assert.deepEqual(t.peers.map((p) => p.state), ['self', 'up', 'dead', 'free']);
    });

    it('skips and names each bad line, and keeps the good ones', () => {
      const bad = [
        '0 4 up 1 4e:6c:45:0e:5d:cd 76 198.51.100.2',
        '0 x up 1 4e:6c:45:0e:5d:cd 76 - -',
        '0 4 alive 1 4e:6c:45:0e:5d:cd 76 - -',
        '0 4 up 1 4e:6c:45:0e:5d 76 - -',
        '0 4 up 1 ff:ff:ff:ff:ff:ff 76 - -',
        '0 4 up 1 00:00:00:00:00:00 76 - -',
        '0 4 up 1 4e:6c:45:0e:5d:cd -5 - -',
        '0 4 up 1 4e:6c:45:0e:5d:cd 76 198.51.100.256 -',
        '0 4 up 1 4e:6c:45:0e:5d:cd 76 2001:db8::1 -',
        '0 4 up 1 4e:6c:45:0e:5d:cd 76 - 198.51.100.2',
        '0 4 up 1 4e:6c:45:0e:5d:cd 76 1.1.1.1,,1.1.1.2 -',
        '0 4 up 99999999999 4e:6c:45:0e:5d:cd 76 - -',
        '0 99999 up 1 4e:6c:45:0e:5d:cd 76 - -',
        `0 4 up 1 4e:6c:45:0e:5d:cd 76 ${Array.from({ length: 17 }, (_, i) => `10.0.0.${i + 1}`).join(',')} -`,
        '0  4 up 1 4e:6c:45:0e:5d:cd 76 - -',
        '\u0000\u0001 garbage',
      ];
      const t = parsePeerTable(table(SELF, ...bad, UP2));
      assert.deepEqual(t.peers.map((p) => p.slot), [0, 1]);
      assert.deepEqual(t.problems, [
        'line 3: expected 8 fields, found 7; skipped',
        'line 4: bad slot "x"; skipped',
        'line 5: bad state "alive"; skipped',
        'line 6: bad MAC "4e:6c:45:0e:5d"; skipped',
        'line 7: up peer with a MAC that is not unicast (ff:ff:ff:ff:ff:ff); skipped',
        'line 8: up peer with a MAC that is not unicast (00:00:00:00:00:00); skipped',
        'line 9: bad heartbeat age "-5"; skipped',
        'line 10: bad IPv4 address "198.51.100.256"; skipped',
        'line 11: bad IPv4 address "2001:db8::1"; skipped',
        'line 12: bad IPv6 address "198.51.100.2"; skipped',
        'line 13: bad IPv4 address ""; skipped',
        'line 14: bad generation "99999999999"; skipped',
        'line 15: bad slot "99999"; skipped',
        'line 16: more than 16 IPv4 addresses; skipped',
        'line 17: expected 8 fields, found 9; skipped',
        'line 18: expected 8 fields, found 2; skipped',
      ]);
    });

    it('reads a refused slot with the MAC it claims, whatever it is, and still parses it strictly', () => {
      const t = parsePeerTable(
        table(
          SELF,
          '0 4 refused 7 52:54:00:12:34:01 0 198.51.100.4 -',
          '0 5 refused 2 ff:ff:ff:ff:ff:ff 0 - -',
          '0 6 refused 1 00:00:00:00:00:00 0 - 2001:db8:2::6',
          '0 7 refused 1 01:00:5e:00:00:01 0 - -',
          '0 8 refused 1 4e:6c:45:0e:5d 0 - -',
          '0 8 refused 1 4e:6c:45:0e:5d:cd 0 198.51.100.256 -',
          '0 8 Refused 1 4e:6c:45:0e:5d:cd 0 - -',
        ),
      );
      assert.deepEqual(
        t.peers.map((p) => [p.slot, p.state, p.generation, p.mac]),
        [
          [0, 'self', 3, '52:54:00:12:34:01'],
          [4, 'refused', 7, '52:54:00:12:34:01'],
          [5, 'refused', 2, 'ff:ff:ff:ff:ff:ff'],
          [6, 'refused', 1, '00:00:00:00:00:00'],
          [7, 'refused', 1, '01:00:5e:00:00:01'],
        ],
      );
      assert.deepEqual(t.peers[1].ipv4, ['198.51.100.4']);
      assert.deepEqual(t.peers[3].ipv6, ['2001:db8:2::6']);
      assert.deepEqual(t.problems, [
        'line 7: bad MAC "4e:6c:45:0e:5d"; skipped',
        'line 8: bad IPv4 address "198.51.100.256"; skipped',
        'line 9: bad state "Refused"; skipped',
      ]);
    });

    it('keeps the first of a slot listed twice', () => {
      const t = parsePeerTable(table(UP2, UP2.replace('76', '80')));
      assert.equal(t.peers.length, 1);
      assert.equal(t.peers[0].ageMs, 76);
      assert.deepEqual(t.problems, ['line 3: region 0 slot 1 listed twice; skipped']);
    });

    it('says when the table fills a sysfs page and was cut short', () => {
      const lines = [];
      for (let i = 0; lines.join('\n').length < 4200; i++) lines.push(UP2.replace(/^0 1 /, `0 ${i} `));
      const text = table(...lines).slice(0, 4095);
      const t = parsePeerTable(text);
      assert.equal(t.problems.length, 1);
      assert.match(t.problems[0], /^line \d+: cut short \(the table fills a sysfs page\); slots after it are missing$/);
      assert.ok(t.peers.length > 30);
    });

    it('refuses a table whose header it does not know', () => {
      assert.throws(() => parsePeerTable('slot state mac\n1 up 4e:6c:45:0e:5d:cd\n', "ring0's peer table"), {
        name: 'RingctlError',
        message: 'ring0\'s peer table: unknown format (header "slot state mac", expected "region slot state gen mac age_ms ipv4 ipv6")',
      });
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

    it('takes live peers only, their ring0 addresses as ring addresses', () => {
      assert.deepEqual(classifyPeers(peers, ctx(false)), {
        peers: [{ slot: 1, ringMac: '4e:6c:45:0e:5d:cd', addresses: ['198.51.100.2', '2001:db8:2::2'], ordinaryAddresses: [] }],
        skipped: [],
        conflicts: [],
      });
    });

    it('adds the addresses on the attached interface\'s subnets as ordinary ones in transparent mode', () => {
      assert.deepEqual(classifyPeers(peers, ctx(true)).peers, [
        {
          slot: 1,
          ringMac: '4e:6c:45:0e:5d:cd',
          addresses: ['198.51.100.2', '2001:db8:2::2'],
          ordinaryAddresses: ['192.0.2.2', '2001:db8:1::2'],
        },
      ]);
    });

    it('counts the inter-domain subnets as ring subnets', () => {
      const t = parsePeerTable(table('0 5 up 1 02:00:00:00:00:05 1 203.0.113.5,192.0.2.5 -')).peers;
      assert.deepEqual(classifyPeers(t, ctx(true, ['203.0.113.0/24'])).peers[0].addresses, ['203.0.113.5']);
      assert.deepEqual(classifyPeers(t, ctx(true)).peers[0].addresses, []);
    });

    it('classifies by subnet, not by the order the peer published its addresses in', () => {
      const t = parsePeerTable(table('0 5 up 1 02:00:00:00:00:05 1 192.0.2.5,198.51.100.5 -')).peers;
      const p = classifyPeers(t, ctx(true)).peers[0];
      assert.deepEqual([p.addresses, p.ordinaryAddresses], [['198.51.100.5'], ['192.0.2.5']]);
    });

    it('leaves out addresses on networks neither ring0 nor the interface is on', () => {
      const t = parsePeerTable(table('0 5 up 1 02:00:00:00:00:05 1 198.51.100.5,10.9.8.7,8.8.8.8 fd00::5')).peers;
      const r = classifyPeers(t, ctx(true));
      assert.deepEqual(r.peers[0].addresses, ['198.51.100.5']);
      assert.deepEqual(r.peers[0].ordinaryAddresses, []);
      assert.deepEqual(r.skipped, []);
    });

    it('ignores, with a reason, addresses that would capture traffic that is not the peer\'s', () => {
      const t = parsePeerTable(
        table(
          SELF,
          '0 5 up 1 02:00:00:00:00:05 1 198.51.100.1,192.0.2.1,0.0.0.0,127.0.0.1,224.0.0.1,255.255.255.255,169.254.1.1,198.51.100.5 ::,::1,ff02::1,fe80::5,::ffff:198.51.100.9,2001:db8:2::5',
          '0 6 up 1 52:54:00:12:34:01 1 198.51.100.6 -',
        ),
      ).peers;
      const r = classifyPeers(t, ctx(true));
      assert.deepEqual(r.peers.map((p) => [p.slot, p.addresses, p.ordinaryAddresses]), [[5, ['198.51.100.5', '2001:db8:2::5'], []]]);
      assert.deepEqual(r.skipped, [
        'peer 5: claims 198.51.100.1, an address of this guest; ignored',
        'peer 5: claims 192.0.2.1, an address of this guest; ignored',
        'peer 5: publishes 0.0.0.0, an unspecified ("this network") address; ignored',
        'peer 5: publishes 127.0.0.1, a loopback address; ignored',
        'peer 5: publishes 224.0.0.1, a multicast address; ignored',
        'peer 5: publishes 255.255.255.255, a reserved or broadcast address; ignored',
        'peer 5: publishes 169.254.1.1, a link-local address; ignored',
        'peer 5: publishes ::, the unspecified address; ignored',
        'peer 5: publishes ::1, the loopback address; ignored',
        'peer 5: publishes ff02::1, a multicast address; ignored',
        'peer 5: publishes fe80::5, a link-local address; ignored',
        'peer 5: publishes ::ffff:c633:6409, an IPv4-mapped address; ignored',
        "peer 6: claims this guest's ring MAC 52:54:00:12:34:01; ignored",
      ]);
    });

    it('merges a guest seen in two regions into one peer, under its lower slot', () => {
      const t = parsePeerTable(
        table(
          '1 2 up 1 02:00:00:00:00:07 1 198.51.100.7 2001:db8:2::7',
          '0 4 up 1 02:00:00:00:00:07 1 198.51.100.7 2001:db8:2::7',
          '2 4 up 1 02:00:00:00:00:07 1 - -',
        ),
      ).peers;
      assert.deepEqual(classifyPeers(t, ctx(false)), {
        peers: [{ slot: 4, ringMac: '02:00:00:00:00:07', addresses: ['198.51.100.7', '2001:db8:2::7'], ordinaryAddresses: [] }],
        skipped: [],
        conflicts: [],
      });
    });

    it('gives an address two peers claim to neither of them', () => {
      // Peer 3 claims peer 1's eth1 address and its ring address: it would get their traffic.
      const t = parsePeerTable(
        table(
          SELF,
          '0 1 up 1 02:00:00:00:00:01 1 198.51.100.2,192.0.2.2 -',
          '0 3 up 1 02:00:00:00:00:03 1 198.51.100.3,192.0.2.2,198.51.100.2 -',
        ),
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
        'peer 1: 198.51.100.2 also claimed by peer 3; mapped to none of them',
        'peer 1: 192.0.2.2 also claimed by peer 3; mapped to none of them',
        'peer 3: 192.0.2.2 also claimed by peer 1; mapped to none of them',
        'peer 3: 198.51.100.2 also claimed by peer 1; mapped to none of them',
      ]);
    });

    it('counts a claim on an address of this guest, on any interface, as a conflict', () => {
      const local = [...lab(), { ifname: 'eth2', ...parseIp('192.0.2.200')!, prefix: 24 }];
      const c = contextFor(local, { ifname: 'eth1', ring: 'ring0', subnets: [], transparent: true });
      const t = parsePeerTable(table(SELF, '0 5 up 1 02:00:00:00:00:05 1 198.51.100.5,192.0.2.200 -')).peers;
      const r = classifyPeers(t, c);
      assert.deepEqual(r.peers[0].ordinaryAddresses, []);
      assert.deepEqual(r.conflicts, [{ kind: 'own-address', value: '192.0.2.200', peers: ['5'] }]);
    });

    it('gives nothing to two live peers with one MAC in a region, and a dead one does not count', () => {
      const t = parsePeerTable(
        table(
          SELF,
          '0 1 up 1 02:00:00:00:00:01 1 198.51.100.2 -',
          '0 2 up 1 02:00:00:00:00:01 1 198.51.100.9 -',
          '0 3 dead 1 02:00:00:00:00:04 1 198.51.100.3 -',
          '0 4 up 1 02:00:00:00:00:04 1 198.51.100.4 -',
        ),
      ).peers;
      const r = classifyPeers(t, ctx(false));
      assert.deepEqual(r.peers.map((p) => [p.slot, p.addresses]), [[4, ['198.51.100.4']]]);
      assert.deepEqual(r.conflicts, [{ kind: 'mac', value: '02:00:00:00:00:01', peers: ['1', '2'] }]);
      assert.deepEqual(r.skipped, [
        'peer 1: MAC 02:00:00:00:00:01 also claimed by peer 2; ignored',
        'peer 2: MAC 02:00:00:00:00:01 also claimed by peer 1; ignored',
      ]);
    });

    it('gives nothing to one MAC in two regions that publish different addresses', () => {
      // Not one guest in two regions but someone else using its MAC (and adding an address).
      const t = parsePeerTable(
        table('0 4 up 1 02:00:00:00:00:07 1 198.51.100.7 -', '1 2 up 1 02:00:00:00:00:07 1 198.51.100.7,192.0.2.254 -'),
      ).peers;
      const r = classifyPeers(t, ctx(true));
      assert.deepEqual(r.peers, []);
      assert.deepEqual(r.conflicts, [
        { kind: 'mac', value: '02:00:00:00:00:07', peers: ['4', '1/2'] },
        { kind: 'address', value: '198.51.100.7', peers: ['4', '1/2'] },
      ]);
    });

    it('gives nothing to a peer with ring0\'s MAC, and still counts its claims', () => {
      const t = parsePeerTable(
        table(SELF, '0 1 up 1 02:00:00:00:00:01 1 198.51.100.2 -', '0 6 up 1 52:54:00:12:34:01 1 198.51.100.2 -'),
      ).peers;
      const r = classifyPeers(t, ctx(false));
      assert.deepEqual(r.peers.map((p) => [p.slot, p.addresses]), [[1, []]]);
      assert.deepEqual(r.conflicts, [
        { kind: 'own-mac', value: '52:54:00:12:34:01', peers: ['6'] },
        { kind: 'address', value: '198.51.100.2', peers: ['1', '6'] },
      ]);
    });

    it('maps nothing of a refused peer, counts its MAC as a conflict and its addresses as claims', () => {
      // Peer 5's generation claims peer 1's MAC (ring0 refused it) and peer 1's ring address.
      const t = parsePeerTable(
        table(
          SELF,
          '0 1 up 1 02:00:00:00:00:01 1 198.51.100.2,192.0.2.2 -',
          '0 5 refused 2 02:00:00:00:00:01 0 198.51.100.2,198.51.100.5,192.0.2.5 2001:db8:2::5',
          '0 6 refused 1 01:00:5e:00:00:01 0 - -',
        ),
      ).peers;
      const r = classifyPeers(t, ctx(true));
      assert.deepEqual(r.peers, [{ slot: 1, ringMac: '02:00:00:00:00:01', addresses: [], ordinaryAddresses: ['192.0.2.2'] }]);
      assert.deepEqual(r.conflicts, [
        { kind: 'refused', value: '02:00:00:00:00:01', peers: ['5'] },
        { kind: 'refused', value: '01:00:5e:00:00:01', peers: ['6'] },
        { kind: 'address', value: '198.51.100.2', peers: ['1', '5'] },
      ]);
      assert.deepEqual(r.skipped, [
        "peer 5: MAC 02:00:00:00:00:01 refused by ring0 (an invalid MAC, ring0's own, or a live peer's); ignored",
        "peer 6: MAC 01:00:5e:00:00:01 refused by ring0 (an invalid MAC, ring0's own, or a live peer's); ignored",
        'peer 1: 198.51.100.2 also claimed by peer 5; mapped to none of them',
      ]);
    });

    it('sees no conflict in a guest\'s entry in another region that ring0 refused its own MAC', () => {
      // ringnet gives a MAC to one entry: the guest's second region's is refused.
      const t = parsePeerTable(
        table(
          SELF,
          '0 4 up 1 02:00:00:00:00:07 1 198.51.100.7 -',
          '1 2 refused 1 02:00:00:00:00:07 0 198.51.100.7 -',
          '2 3 refused 1 02:00:00:00:00:07 0 - -',
        ),
      ).peers;
      assert.deepEqual(classifyPeers(t, ctx(false)), {
        peers: [{ slot: 4, ringMac: '02:00:00:00:00:07', addresses: ['198.51.100.7'], ordinaryAddresses: [] }],
        skipped: [],
        conflicts: [],
      });
      // In the same region, or with other addresses, it is someone else.
      const other = parsePeerTable(table(SELF, '0 4 up 1 02:00:00:00:00:07 1 198.51.100.7 -', '1 2 refused 1 02:00:00:00:00:07 0 198.51.100.8 -'));
      assert.deepEqual(classifyPeers(other.peers, ctx(false)).conflicts, [{ kind: 'refused', value: '02:00:00:00:00:07', peers: ['1/2'] }]);
      const same = parsePeerTable(table(SELF, '0 4 up 1 02:00:00:00:00:07 1 198.51.100.7 -', '0 2 refused 1 02:00:00:00:00:07 0 - -'));
      assert.deepEqual(classifyPeers(same.peers, ctx(false)).conflicts, [{ kind: 'refused', value: '02:00:00:00:00:07', peers: ['2'] }]);
    });

    it('sees no conflict in addresses nobody would map (a private network every guest has)', () => {
      const t = parsePeerTable(
        table(SELF, '0 1 up 1 02:00:00:00:00:01 1 198.51.100.2,172.17.0.1 -', '0 2 up 1 02:00:00:00:00:02 1 198.51.100.3,172.17.0.1 -'),
      ).peers;
      const r = classifyPeers(t, ctx(true));
      assert.deepEqual(r.conflicts, []);
      assert.deepEqual(r.peers.map((p) => p.addresses), [['198.51.100.2'], ['198.51.100.3']]);
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
      assert.deepEqual(r.notes, ["ring0's peer table line 3: expected 8 fields, found 1; skipped"]);
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
    const LO_SELF = '0 0 self 3 52:54:00:12:34:01 0 127.0.0.1,203.0.113.1 2001:db8:3::1';
    const LO_UP = '0 1 up 1 4e:6c:45:0e:5d:cd 76 127.0.0.2,203.0.113.2 2001:db8:3::2';
    const LO_DEAD = '0 2 dead 2 4e:6c:45:0e:5d:ce 12345 127.0.0.3 -';
    const write = (...lines: string[]) => writeFileSync(join(dir, 'lo/ringnet/peers'), table(...lines));

    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'ringctl-sysfs-'));
      mkdirSync(join(dir, 'lo/ringnet'), { recursive: true });
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('prints the used slots as a table', async () => {
      write(LO_SELF, LO_UP, LO_DEAD, FREE);
      const r = await runCli(['peers', '--ring', 'lo'], env());
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      assert.equal(
        r.stdout,
        [
          'SLOT  STATE  GEN  MAC                HEARTBEAT   RING       OTHER',
          '0     self   3    52:54:00:12:34:01  -           127.0.0.1  203.0.113.1,2001:db8:3::1',
          '1     up     1    4e:6c:45:0e:5d:cd  76 ms ago   127.0.0.2  203.0.113.2,2001:db8:3::2',
          '2     dead   2    4e:6c:45:0e:5d:ce  12.3 s ago  127.0.0.3  -',
          '',
        ].join('\n'),
      );
    });

    it('adds free slots with --all, and a REGION column for several regions', async () => {
      write(LO_SELF, FREE, '1 0 up 1 4e:6c:45:0e:5d:cd 5 - -');
      const r = await runCli(['peers', '--ring', 'lo', '--all'], env());
      assert.equal(r.code, 0);
      assert.deepEqual(r.stdout.split('\n').map((l) => l.split(/\s+/).slice(0, 3).join(' ')), [
        'REGION SLOT STATE',
        '0 0 self',
        '0 3 free',
        '1 0 up',
        '',
      ]);
    });

    it('prints JSON with --json', async () => {
      write(LO_SELF, LO_UP, FREE);
      const r = await runCli(['peers', '--ring', 'lo', '--json'], env());
      assert.equal(r.code, 0);
      assert.deepEqual(JSON.parse(r.stdout), [
        {
          region: 0,
          slot: 0,
          state: 'self',
          generation: 3,
          mac: '52:54:00:12:34:01',
          heartbeatAgeMs: null,
          ipv4: ['127.0.0.1', '203.0.113.1'],
          ipv6: ['2001:db8:3::1'],
          ringAddresses: ['127.0.0.1'],
          otherAddresses: ['203.0.113.1', '2001:db8:3::1'],
          conflicts: [],
        },
        {
          region: 0,
          slot: 1,
          state: 'up',
          generation: 1,
          mac: '4e:6c:45:0e:5d:cd',
          heartbeatAgeMs: 76,
          ipv4: ['127.0.0.2', '203.0.113.2'],
          ipv6: ['2001:db8:3::2'],
          ringAddresses: ['127.0.0.2'],
          otherAddresses: ['203.0.113.2', '2001:db8:3::2'],
          conflicts: [],
        },
      ]);
    });

    it('marks the peers whose MAC is another live peer\'s or this guest\'s, in a CONFLICT column', async () => {
      write(LO_SELF, LO_UP, '0 2 up 1 4e:6c:45:0e:5d:cd 5 127.0.0.3 -', '0 3 up 1 52:54:00:12:34:01 5 - -', '0 4 dead 1 4e:6c:45:0e:5d:cd 5 - -');
      const r = await runCli(['peers', '--ring', 'lo'], env());
      assert.equal(r.code, 0);
      assert.deepEqual(r.stdout.split('\n').map((l) => l.split(/\s{2,}/).slice(-1)[0]), [
        'CONFLICT',
        '-',
        'MAC 4e:6c:45:0e:5d:cd also claimed by peer 2',
        'MAC 4e:6c:45:0e:5d:cd also claimed by peer 1',
        'MAC 52:54:00:12:34:01 is this guest\'s ring MAC',
        '-',
        '',
      ]);
      const json = JSON.parse((await runCli(['peers', '--ring', 'lo', '--json'], env())).stdout) as { slot: number; conflicts: unknown[] }[];
      assert.deepEqual(
        json.map((p) => [p.slot, p.conflicts]),
        [
          [0, []],
          [1, [{ kind: 'mac', value: '4e:6c:45:0e:5d:cd', with: ['2'] }]],
          [2, [{ kind: 'mac', value: '4e:6c:45:0e:5d:cd', with: ['1'] }]],
          [3, [{ kind: 'own-mac', value: '52:54:00:12:34:01', with: [] }]],
          [4, []],
        ],
      );
    });

    it('shows a refused slot with the MAC it claims and a CONFLICT entry, in the table and in JSON', async () => {
      write(LO_SELF, LO_UP, '0 5 refused 4 4e:6c:45:0e:5d:cd 0 127.0.0.5 -', '0 6 refused 1 00:00:00:00:00:00 0 - -', FREE);
      const r = await runCli(['peers', '--ring', 'lo'], env());
      assert.deepEqual([r.code, r.stderr], [0, '']);
      const why = "refused by ring0 (an invalid MAC, ring0's own, or a live peer's)";
      assert.deepEqual(
        r.stdout.split('\n').map((l) => l.split(/\s{2,}/)),
        [
          ['SLOT', 'STATE', 'GEN', 'MAC', 'HEARTBEAT', 'RING', 'OTHER', 'CONFLICT'],
          ['0', 'self', '3', '52:54:00:12:34:01', '-', '127.0.0.1', '203.0.113.1,2001:db8:3::1', '-'],
          ['1', 'up', '1', '4e:6c:45:0e:5d:cd', '76 ms ago', '127.0.0.2', '203.0.113.2,2001:db8:3::2', '-'],
          ['5', 'refused', '4', '4e:6c:45:0e:5d:cd', '-', '127.0.0.5', '-', `MAC 4e:6c:45:0e:5d:cd ${why}`],
          ['6', 'refused', '1', '00:00:00:00:00:00', '-', '-', '-', `MAC 00:00:00:00:00:00 ${why}`],
          [''],
        ],
      );
      const json = JSON.parse((await runCli(['peers', '--ring', 'lo', '--json'], env())).stdout) as {
        slot: number;
        state: string;
        mac: string;
        heartbeatAgeMs: number | null;
        conflicts: unknown[];
      }[];
      assert.deepEqual(
        json.map((p) => [p.slot, p.state, p.mac, p.heartbeatAgeMs, p.conflicts]),
        [
          [0, 'self', '52:54:00:12:34:01', null, []],
          [1, 'up', '4e:6c:45:0e:5d:cd', 76, []],
          [5, 'refused', '4e:6c:45:0e:5d:cd', null, [{ kind: 'refused', value: '4e:6c:45:0e:5d:cd', with: [] }]],
          [6, 'refused', '00:00:00:00:00:00', null, [{ kind: 'refused', value: '00:00:00:00:00:00', with: [] }]],
        ],
      );
    });

    it('counts refused slots apart from up and dead peers in ringctl status\'s ring row', () => {
      writeFileSync(join(dir, 'lo/ringnet/regions'), 'region pci size max_peers ring_size self mode\n0 0000:00:04.0 16777216 8 1048576 0 plain\n');
      try {
        write(LO_SELF, LO_UP, LO_DEAD, '0 5 refused 4 4e:6c:45:0e:5d:cd 0 - -', FREE);
        let reads = 0;
        const s = ringDeviceState('lo', dir, (ring, sysfs) => {
          reads++;
          return findPeerTable(ring, sysfs);
        });
        assert.equal(reads, 1, 'the table is read once');
        assert.deepEqual([s.peersUp, s.peersDead, s.peersRefused, s.problems], [1, 1, 1, []]);
        assert.equal(ringDeviceRow(s)[3], '1 up, 1 dead, 1 refused');
        write(LO_SELF, LO_UP, FREE);
        assert.equal(ringDeviceRow(ringDeviceState('lo', dir))[3], '1 up, 0 dead');
      } finally {
        rmSync(join(dir, 'lo/ringnet/regions'), { force: true });
      }
    });

    it('warns about bad lines on stderr and prints the rest', async () => {
      write(LO_SELF, '0 9 up 1 not-a-mac 5 - -');
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
      assert.equal(r.stderr, 'ringctl: lo\'s peer table: unknown format (header "something else entirely", expected "region slot state gen mac age_ms ipv4 ipv6")\n');
    });

    it('rejects a --ring that is not an interface name', async () => {
      const r = await runCli(['peers', '--ring', 'a/b'], env());
      assert.equal(r.code, 1);
      assert.equal(r.stdout.split('\n')[0], 'Usage Error: a/b: not an interface name (--ring)');
    });
  });
});
