import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import * as net from 'node:net';
import fc from 'fast-check';
import { CidrSet, formatIpv6, parseCidr, parseIpv4, parseIpv6 } from './ip-address.js';

const runs = { seed: 1313, numRuns: 300 };
// Node's own formatting of an IPv6 address (inet_ntop), the form socket.remoteAddress has.
const nodeFormat = (bytes: Buffer): string => {
  const full = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2).toString(16)).join(':');
  return new net.SocketAddress({ address: full, family: 'ipv6' }).address;
};

test('parseIpv4 accepts canonical dotted quads only (PROXY v1: no leading zeros)', () => {
  assert.deepEqual(parseIpv4('10.0.255.1'), Buffer.from([10, 0, 255, 1]));
  for (const bad of ['010.0.0.1', '1.2.3', '1.2.3.4.5', '256.0.0.1', '1.2.3.-4', ' 1.2.3.4', '1.2.3.4 ', '1..2.3', 'a.b.c.d', '1.2.3.4/8', '']) {
    assert.equal(parseIpv4(bad), undefined, bad);
  }
});

test('parseIpv6 accepts what inet_pton accepts and rejects the rest', () => {
  const good: Record<string, string> = {
    '::': '::',
    '::1': '::1',
    '2001:DB8::1': '2001:db8::1',
    '0:0:0:0:0:ffff:10.1.2.3': '::ffff:10.1.2.3',
    '::ffff:0a01:0203': '::ffff:10.1.2.3',
    '1:2:3:4:5:6:7::': '1:2:3:4:5:6:7:0',
    '1:0:0:2:0:0:0:3': '1:0:0:2::3',
    'fe80:0000:0000:0000:0000:0000:0000:0001': 'fe80::1',
  };
  for (const [text, formatted] of Object.entries(good)) {
    const b = parseIpv6(text);
    assert.ok(b !== undefined, text);
    assert.equal(formatIpv6(b), formatted, text);
  }
  for (const bad of [':', ':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::', 'g::1', '1.2.3.4::', '::1.2.3', 'fe80::1%eth0', '::1/64', ' ::1', '1:2:3:4:5:6:7:8::']) {
    assert.equal(parseIpv6(bad), undefined, bad);
  }
});

test('formatIpv6 matches Node (inet_ntop) for every address, and parseIpv6 reads it back', () => {
  const interesting = fc.oneof(
    fc.uint8Array({ minLength: 16, maxLength: 16 }),
    // Mostly zeros: exercises the `::` choice, the mapped and the IPv4-compatible forms.
    fc.array(fc.constantFrom(0, 0, 0, 1, 0xff), { minLength: 16, maxLength: 16 }),
    fc.uint8Array({ minLength: 4, maxLength: 4 }).map((v4) => Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4])),
  );
  fc.assert(
    fc.property(interesting, (arr) => {
      const bytes = Buffer.from(arr);
      const text = formatIpv6(bytes);
      assert.equal(text, nodeFormat(bytes));
      assert.deepEqual(parseIpv6(text), bytes);
    }),
    runs,
  );
});

test('parseCidr validates strictly: address, prefix length, host bits', () => {
  for (const ok of ['10.0.0.0/8', '127.0.0.1/32', '127.0.0.1', '0.0.0.0/0', '::1/128', '2001:db8::/32', '::/0', '::ffff:10.0.0.0/104']) assert.ok('cidr' in parseCidr(ok), ok);
  const problems: Record<string, RegExp> = {
    '10.0.0.1/8': /host bits are set; the network is 10\.0\.0\.0\/8/,
    '10.0.0.0/33': /over 32/,
    '2001:db8::1/32': /host bits are set; the network is 2001:db8::\/32/,
    '::/129': /over 128/,
    '10.0.0.256/8': /not an IPv4 or IPv6 address/,
    ':::/8': /not an IPv4 or IPv6 address/,
    '10.0.0.0/08': /not a number/,
    '10.0.0.0/': /not a number/,
  };
  for (const [text, re] of Object.entries(problems)) {
    const r = parseCidr(text);
    assert.ok('problem' in r, text);
    assert.match(r.problem, re, text);
  }
});

test('CidrSet matches IPv4, IPv6 and IPv4-mapped IPv6 peers', () => {
  const set = new CidrSet(['10.0.0.0/16', '127.0.0.1/32', '2001:db8::/32']);
  assert.equal(set.size, 3);
  for (const yes of ['10.0.0.1', '10.0.255.255', '127.0.0.1', '::ffff:10.0.3.4', '::ffff:127.0.0.1', '2001:db8::5', '2001:db8:ffff::1']) assert.equal(set.has(yes), true, yes);
  for (const no of ['10.1.0.0', '127.0.0.5', '::ffff:127.0.0.5', '2001:db9::1', '::1', 'not-an-ip', '', undefined]) assert.equal(set.has(no), false, String(no));
  assert.equal(new CidrSet(['::ffff:10.0.0.0/104']).has('10.9.9.9'), true, 'a mapped CIDR covers plain IPv4');
  assert.equal(new CidrSet([]).has('127.0.0.1'), false);
  assert.throws(() => new CidrSet(['10.0.0.1/8']), /host bits/);
});

test('CidrSet agrees with node:net BlockList on random IPv4 blocks and addresses', () => {
  fc.assert(
    fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), fc.ipV4(), (base, bits, probe) => {
      const b = Buffer.from(base.split('.').map(Number));
      const masked = Buffer.from(b.map((x, i) => x & ((0xff << (8 - Math.max(0, Math.min(8, bits - i * 8)))) & 0xff)));
      const network = [...masked].join('.');
      const list = new net.BlockList();
      list.addSubnet(network, bits, 'ipv4');
      assert.equal(new CidrSet([`${network}/${bits}`]).has(probe), list.check(probe, 'ipv4'), `${network}/${bits} ∋ ${probe}`);
    }),
    runs,
  );
});
