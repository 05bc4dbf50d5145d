import assert from 'node:assert/strict';

import { CidrError, formatCidr, formatIp, formatMac, parseCidr, parseCidrs, parseIp, parseMac } from '../../src/xdp/cidr.js';
import { requireTier } from '../helpers/tier.js';

describe('addresses and subnets', () => {
  before(function () {
    requireTier(this, 'unit');
  });

  it('parses IPv4 into network-order bytes', () => {
    assert.deepEqual(parseIp('198.51.100.7'), { family: 4, bytes: Uint8Array.from([198, 51, 100, 7]) });
  });

  it('parses IPv6 with ::, with an embedded IPv4 and in full', () => {
    assert.deepEqual(parseIp('2001:db8:2::6')?.bytes, Uint8Array.from([0x20, 1, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6]));
    assert.deepEqual(parseIp('::ffff:192.0.2.1')?.bytes.subarray(10), Uint8Array.from([0xff, 0xff, 192, 0, 2, 1]));
    assert.equal(formatIp(parseIp('2001:0db8:0000:0000:0000:0000:0000:0001')!), '2001:db8::1');
    assert.equal(formatIp(parseIp('::')!), '::');
  });

  it('rejects malformed addresses', () => {
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.4 ', 'fe80::1%eth1', '1::2::3', '1:2:3:4:5:6:7:8:9', 'g::1', '12345::']) {
      assert.equal(parseIp(bad), undefined, bad);
    }
  });

  it('formats IPv6 as RFC 5952 does: lower case, the longest zero run compressed, single zeros kept', () => {
    assert.equal(formatIp(parseIp('2001:DB8:0:0:1:0:0:1')!), '2001:db8::1:0:0:1');
    assert.equal(formatIp(parseIp('2001:db8:0:1:1:1:1:1')!), '2001:db8:0:1:1:1:1:1');
    assert.equal(formatIp(parseIp('1:0:0:2:0:0:0:3')!), '1:0:0:2::3');
  });

  it('parses a CIDR and prints it back canonically', () => {
    assert.equal(formatCidr(parseCidr('198.51.100.0/24')), '198.51.100.0/24');
    assert.equal(formatCidr(parseCidr('2001:DB8:2::/64')), '2001:db8:2::/64');
    assert.equal(formatCidr(parseCidr('0.0.0.0/0')), '0.0.0.0/0');
    assert.equal(formatCidr(parseCidr('198.51.100.7/32')), '198.51.100.7/32');
  });

  it('rejects a subnet with host bits set, naming the network meant', () => {
    assert.throws(() => parseCidr('198.51.100.1/24'), {
      name: 'CidrError',
      message: 'bad CIDR "198.51.100.1/24": host bits are set (the network is 198.51.100.0/24)',
    });
    assert.throws(() => parseCidr('2001:db8:2::1/64'), /host bits are set \(the network is 2001:db8:2::\/64\)/);
  });

  it('rejects a prefix out of range for the family', () => {
    assert.throws(() => parseCidr('198.51.100.0/33'), /the prefix must be 0-32 for IPv4/);
    assert.throws(() => parseCidr('2001:db8::/129'), /the prefix must be 0-128 for IPv6/);
    assert.throws(() => parseCidr('198.51.100.0/024'), /leading zero/);
  });

  it('rejects garbage, a missing prefix and a bad address', () => {
    assert.throws(() => parseCidr('ring'), /expected ADDRESS\/PREFIX/);
    assert.throws(() => parseCidr('198.51.100.0'), /expected ADDRESS\/PREFIX/);
    assert.throws(() => parseCidr('198.51.100.0/'), /expected ADDRESS\/PREFIX/);
    assert.throws(() => parseCidr('198.51.100.0/-1'), /expected ADDRESS\/PREFIX/);
    assert.throws(() => parseCidr('198.51.1000.0/24'), /198\.51\.1000\.0 is not an IPv4 or IPv6 address/);
    assert.throws(() => parseCidr('x/24'), CidrError);
  });

  it('sorts subnets (IPv4 first) and drops duplicates', () => {
    const list = parseCidrs(['2001:db8:2::/64', '198.51.100.0/24', '10.0.0.0/8', '198.51.100.0/24', '10.0.0.0/16']);
    assert.deepEqual(list.map(formatCidr), ['10.0.0.0/8', '10.0.0.0/16', '198.51.100.0/24', '2001:db8:2::/64']);
  });

  it('parses and formats MAC addresses', () => {
    assert.deepEqual(parseMac('02:00:00:00:00:AB'), Buffer.from([2, 0, 0, 0, 0, 0xab]));
    assert.deepEqual(parseMac('02-00-00-00-00-01'), Buffer.from([2, 0, 0, 0, 0, 1]));
    assert.equal(formatMac(Buffer.from([2, 0, 0, 0, 0, 0xab])), '02:00:00:00:00:ab');
    for (const bad of ['02:00:00:00:00', '02:00:00:00:00:0g', '02:00-00:00:00:00', '0200.0000.0001']) {
      assert.throws(() => parseMac(bad), /bad MAC address/, bad);
    }
  });
});
