import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import * as net from 'node:net';
import fc from 'fast-check';
import { ipBytes, proxyV1, proxyV2, tlv } from '../../testkit/proxy-header.js';
import { ProtocolError } from './protocol-error.js';
import { ProxyHeaderError, ProxyHeaderFramer, decodeProxyHeader, maxProxyV1HeaderBytes, maxProxyV2HeaderBytes, proxyV2LocalHeader } from './proxy-header.js';
import type { ProxyHeader } from './proxy-header.js';

const runs = { seed: 1313, numRuns: 400 };
const payload = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]); // an SSLRequest, the first thing a client sends

/** Node's formatting of an address, which is what the decoder must produce. */
const nodeFormat = (bytes: Buffer): string => {
  if (bytes.length === 4) return [...bytes].join('.');
  const full = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2).toString(16)).join(':');
  return new net.SocketAddress({ address: full, family: 'ipv6' }).address;
};

type Step = { header: ProxyHeader; rest: Buffer } | 'more' | ProxyHeaderError;

/** Feeds `chunks` to a fresh framer; the first result that is not "more", and the largest buffer it held. */
function feed(chunks: Buffer[]): { step: Step; rest: Buffer; maxBuffered: number } {
  const framer = new ProxyHeaderFramer();
  let maxBuffered = 0;
  for (let i = 0; i < chunks.length; i++) {
    let r;
    try {
      r = framer.push(chunks[i]!);
    } catch (err) {
      if (err instanceof ProxyHeaderError) return { step: err, rest: Buffer.alloc(0), maxBuffered };
      throw err;
    }
    maxBuffered = Math.max(maxBuffered, framer.bufferedBytes);
    if (r !== undefined) return { step: r, rest: Buffer.concat([r.rest, ...chunks.slice(i + 1)]), maxBuffered };
  }
  return { step: 'more', rest: Buffer.alloc(0), maxBuffered };
}

const splitAt = (buf: Buffer, cuts: number[]): Buffer[] => {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    out.push(buf.subarray(from, p));
    from = p;
  }
  out.push(buf.subarray(from));
  return out;
};

const v4Example = proxyV2({ source: { address: '203.0.113.7', port: 51234 }, destination: { address: '10.0.0.5', port: 5439 } });
const v1Example = proxyV1({ address: '2001:db8::7', port: 40000 }, { address: '2001:db8::1', port: 5439 });

test('decodes the spec examples and the constants', () => {
  assert.deepEqual(decodeProxyHeader(Buffer.from('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET /', 'latin1')), {
    header: { version: 1, kind: 'proxied', family: 'ipv4', source: { address: '192.168.0.1', port: 56324 }, destination: { address: '192.168.0.11', port: 443 } },
    headerBytes: 47,
  });
  assert.deepEqual(decodeProxyHeader(Buffer.from('PROXY UNKNOWN\r\n', 'latin1')), { header: { version: 1, kind: 'local' }, headerBytes: 15 });
  assert.deepEqual(decodeProxyHeader(Buffer.from('PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n', 'latin1')), {
    header: { version: 1, kind: 'local' },
    headerBytes: 107,
  });
  assert.deepEqual(decodeProxyHeader(proxyV2LocalHeader), { header: { version: 2, kind: 'local' }, headerBytes: 16 });
  assert.deepEqual(decodeProxyHeader(v4Example)?.header, {
    version: 2,
    kind: 'proxied',
    family: 'ipv4',
    source: { address: '203.0.113.7', port: 51234 },
    destination: { address: '10.0.0.5', port: 5439 },
  });
  assert.deepEqual(decodeProxyHeader(v1Example)?.header, {
    version: 1,
    kind: 'proxied',
    family: 'ipv6',
    source: { address: '2001:db8::7', port: 40000 },
    destination: { address: '2001:db8::1', port: 5439 },
  });
});

test('every split point of a v1 and a v2 header followed by client bytes gives the same header and the same rest', () => {
  for (const header of [v4Example, v1Example, proxyV2LocalHeader, proxyV2({ source: { address: '2001:db8::9', port: 1 }, tlvBytes: tlv(0xea, Buffer.from('vpce-0123456789abcdef0')) })]) {
    const whole = Buffer.concat([header, payload]);
    const expected = decodeProxyHeader(whole)?.header;
    assert.ok(expected !== undefined);
    for (let a = 0; a <= whole.length; a++) {
      for (let b = a; b <= whole.length; b++) {
        const { step, rest } = feed([whole.subarray(0, a), whole.subarray(a, b), whole.subarray(b)]);
        assert.ok(typeof step === 'object' && !(step instanceof Error), `split ${a}/${b}`);
        assert.deepEqual(step.header, expected, `split ${a}/${b}`);
        assert.deepEqual(rest, payload, `split ${a}/${b}`);
      }
    }
  }
});

test('round trip: any valid v2 header (IPv4/IPv6, any ports, TLVs) in any chunking', () => {
  const tlvs = fc.array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 60 })), { maxLength: 5 });
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.integer({ min: 0, max: 65535 }),
      fc.integer({ min: 0, max: 65535 }),
      tlvs,
      fc.array(fc.nat(), { maxLength: 6 }),
      (isV4, src16, dst16, sport, dport, tlvList, cuts) => {
        const src = Buffer.from(isV4 ? src16.subarray(0, 4) : src16);
        const dst = Buffer.from(isV4 ? dst16.subarray(0, 4) : dst16);
        const header = proxyV2({ source: { address: src, port: sport }, destination: { address: dst, port: dport }, tlvBytes: Buffer.concat(tlvList.map(([t, v]) => tlv(t, Buffer.from(v)))) });
        const { step, rest, maxBuffered } = feed(splitAt(Buffer.concat([header, payload]), cuts));
        assert.ok(maxBuffered < maxProxyV2HeaderBytes);
        assert.ok(typeof step === 'object' && !(step instanceof Error), String(step));
        assert.deepEqual(step.header, {
          version: 2,
          kind: 'proxied',
          family: isV4 ? 'ipv4' : 'ipv6',
          source: { address: nodeFormat(src), port: sport },
          destination: { address: nodeFormat(dst), port: dport },
        });
        assert.deepEqual(rest, payload);
      },
    ),
    runs,
  );
});

test('round trip: any valid v1 header (canonical, full or upper-case IPv6 text) in any chunking', () => {
  const ipv6Text = (b: Buffer, style: number): string => {
    const groups = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16));
    if (style === 0) return nodeFormat(b);
    if (style === 1) return groups.map((g) => g.padStart(4, '0')).join(':');
    return nodeFormat(b).toUpperCase().replace('FFFF', 'ffff');
  };
  fc.assert(
    fc.property(fc.boolean(), fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 }), fc.array(fc.nat(), { maxLength: 6 }), (isV4, s, d, style, sport, dport, cuts) => {
      const src = Buffer.from(isV4 ? s.subarray(0, 4) : s);
      const dst = Buffer.from(isV4 ? d.subarray(0, 4) : d);
      const text = (b: Buffer): string => (isV4 ? [...b].join('.') : ipv6Text(b, style));
      const line = Buffer.from(`PROXY ${isV4 ? 'TCP4' : 'TCP6'} ${text(src)} ${text(dst)} ${sport} ${dport}\r\n`, 'latin1');
      assert.ok(line.length <= maxProxyV1HeaderBytes);
      const { step, rest, maxBuffered } = feed(splitAt(Buffer.concat([line, payload]), cuts));
      assert.ok(maxBuffered < maxProxyV1HeaderBytes);
      assert.ok(typeof step === 'object' && !(step instanceof Error), `${line.toString('latin1')}: ${String(step)}`);
      assert.deepEqual(step.header, { version: 1, kind: 'proxied', family: isV4 ? 'ipv4' : 'ipv6', source: { address: nodeFormat(src), port: sport }, destination: { address: nodeFormat(dst), port: dport } });
      assert.deepEqual(rest, payload);
    }),
    runs,
  );
});

test('hostile headers are refused with the right reason', () => {
  const sig = proxyV2LocalHeader.subarray(0, 12);
  const cases: Array<[string, Buffer, string]> = [
    ['no header (a StartupMessage)', Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]), 'signature'],
    ['TLS record', Buffer.from([0x16, 3, 1, 0, 5]), 'signature'],
    ['lower-case proxy', Buffer.from('proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n'), 'signature'],
    ['PROXY without space', Buffer.from('PROXYTCP4'), 'signature'],
    ['v2 signature byte 6 wrong', Buffer.concat([sig.subarray(0, 5), Buffer.from([0x0e])]), 'signature'],
    ['v1 UDP4', Buffer.from('PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n'), 'family'],
    ['v1 TCP5', Buffer.from('PROXY TCP5 '), 'family'],
    ['v1 UNKNOWNX', Buffer.from('PROXY UNKNOWNX\r\n'), 'family'],
    ['v1 TCP4 with IPv6', Buffer.from('PROXY TCP4 ::1 ::1 1 2\r\n'), 'address'],
    ['v1 TCP6 with IPv4', Buffer.from('PROXY TCP6 1.2.3.4 1.2.3.4 1 2\r\n'), 'address'],
    ['v1 leading zero', Buffer.from('PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n'), 'address'],
    ['v1 octet 256', Buffer.from('PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n'), 'address'],
    ['v1 port 65536', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n'), 'address'],
    ['v1 port leading zero', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n'), 'address'],
    ['v1 port negative', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n'), 'address'],
    ['v1 hostname', Buffer.from('PROXY TCP4 example.com 5.6.7.8 1 2\r\n'), 'address'],
    ['v1 double space', Buffer.from('PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n'), 'format'],
    ['v1 missing port', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n'), 'format'],
    ['v1 trailing space', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n'), 'format'],
    ['v1 LF only', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'), 'format'],
    ['v1 CR only', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX'), 'format'],
    ['v1 no CRLF in 107 bytes', Buffer.from(`PROXY UNKNOWN ${'x'.repeat(100)}`), 'oversize'],
    ['v1 CRLF at bytes 107-108', Buffer.from(`PROXY UNKNOWN ${'x'.repeat(92)}\r\n`), 'oversize'],
    ['v2 version 1', proxyV2({ verCmd: 0x11 }), 'version'],
    ['v2 version 3', proxyV2({ verCmd: 0x31 }), 'version'],
    ['v2 command 2', proxyV2({ verCmd: 0x22 }), 'command'],
    ['v2 family 4', proxyV2({ fam: 0x41 }), 'family'],
    ['v2 transport 3', proxyV2({ fam: 0x13 }), 'family'],
    ['v2 PROXY over UNSPEC', proxyV2({ verCmd: 0x21, fam: 0x00 }), 'family'],
    ['v2 PROXY over UDP', proxyV2({ source: { address: '1.2.3.4', port: 1 }, fam: 0x12 }), 'family'],
    ['v2 PROXY over AF_UNIX', proxyV2({ verCmd: 0x21, fam: 0x31, tlvBytes: Buffer.alloc(216) }), 'family'],
    ['v2 IPv4 length 11', proxyV2({ source: { address: '1.2.3.4', port: 1 }, length: 11 }), 'length'],
    ['v2 IPv6 family with IPv4 addresses', proxyV2({ source: { address: '1.2.3.4', port: 1 }, fam: 0x21 }), 'length'],
    ['v2 TLV past the end', proxyV2({ source: { address: '1.2.3.4', port: 1 }, tlvBytes: Buffer.from([0x04, 0x00, 0x05, 1, 2]) }), 'length'],
    ['v2 trailing 2 bytes (half a TLV)', proxyV2({ source: { address: '1.2.3.4', port: 1 }, tlvBytes: Buffer.from([0x04, 0x00]) }), 'length'],
    ['v2 length 65535', proxyV2({ source: { address: '1.2.3.4', port: 1 }, length: 65535 }), 'oversize'],
    ['v2 one byte over the cap', proxyV2({ source: { address: '1.2.3.4', port: 1 }, tlvBytes: tlv(4, Buffer.alloc(maxProxyV2HeaderBytes - 16 - 12 - 3 + 1)) }), 'oversize'],
  ];
  for (const [name, bytes, reason] of cases) {
    const { step } = feed([Buffer.concat([bytes, payload])]);
    assert.ok(step instanceof ProxyHeaderError, `${name}: expected a ProxyHeaderError, got ${typeof step === 'string' ? step : JSON.stringify(step)}`);
    assert.ok(step instanceof ProtocolError, name);
    assert.equal(step.code, 'PROXY_PROTOCOL_VIOLATION', name);
    assert.equal(step.reason, reason, `${name}: ${step.message}`);
    assert.doesNotMatch(step.message, /\d+\.\d+\.\d+\.\d+|::/, `${name}: the message names no address`);
  }
  // At the cap exactly is fine.
  const atCap = proxyV2({ source: { address: '1.2.3.4', port: 1 }, tlvBytes: tlv(4, Buffer.alloc(maxProxyV2HeaderBytes - 16 - 12 - 3)) });
  assert.equal(atCap.length, maxProxyV2HeaderBytes);
  assert.equal(decodeProxyHeader(atCap)?.headerBytes, maxProxyV2HeaderBytes);
});

test('refusals come as early as the bytes allow: a bad first byte, signature or version needs no more input', () => {
  const early: Array<[Buffer, string]> = [
    [Buffer.from([0x00]), 'signature'],
    [Buffer.from('PRX'), 'signature'],
    [Buffer.concat([proxyV2LocalHeader.subarray(0, 12), Buffer.from([0x10])]), 'version'],
    [Buffer.from('PROXY X'), 'family'],
  ];
  for (const [bytes, reason] of early) assert.throws(() => decodeProxyHeader(bytes), (e: unknown) => e instanceof ProxyHeaderError && e.reason === reason, bytes.toString('hex'));
  // A truncated but so-far valid header is "need more", whatever its length.
  for (const h of [v4Example, v1Example]) for (let n = 1; n < h.length; n++) assert.equal(decodeProxyHeader(h.subarray(0, n)), undefined, `prefix ${n}`);
});

test('mutated, truncated and random input: a header, "need more" or a ProxyHeaderError, never a crash, never an unbounded buffer', () => {
  const base = fc.constantFrom(v4Example, v1Example, proxyV2LocalHeader, proxyV1(), proxyV2({ source: { address: ipBytes('2001:db8::1'), port: 9 }, tlvBytes: tlv(1, Buffer.from('pg')) }));
  const mutation = fc.oneof(
    fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, v]) => (b: Buffer) => {
      const c = Buffer.from(b);
      if (c.length > 0) c[at % c.length] = v;
      return c;
    }),
    fc.nat().map((n) => (b: Buffer) => b.subarray(0, n % (b.length + 1))),
    fc.tuple(fc.nat(), fc.uint8Array({ maxLength: 700 })).map(([at, ins]) => (b: Buffer) => Buffer.concat([b.subarray(0, at % (b.length + 1)), Buffer.from(ins), b.subarray(at % (b.length + 1))])),
  );
  const input = fc.oneof(
    fc.tuple(base, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([b, ms]) => ms.reduce((acc, m) => m(acc), b)),
    fc.uint8Array({ maxLength: 1200 }).map((a) => Buffer.from(a)),
    fc.uint8Array({ maxLength: 1200 }).map((a) => Buffer.concat([proxyV2LocalHeader.subarray(0, 12), Buffer.from(a)])),
    fc.string({ maxLength: 200 }).map((s) => Buffer.from(`PROXY ${s}`, 'latin1')),
  );
  fc.assert(
    fc.property(input, fc.array(fc.nat(), { maxLength: 8 }), (bytes, cuts) => {
      const { step, maxBuffered } = feed(splitAt(bytes, cuts));
      assert.ok(maxBuffered < maxProxyV2HeaderBytes, `buffered ${maxBuffered}`);
      if (step === 'more') assert.ok(bytes.length < maxProxyV2HeaderBytes);
    }),
    { ...runs, numRuns: 1500 },
  );
});
