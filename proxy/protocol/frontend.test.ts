import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serialize } from 'pg-protocol';
import { decodePasswordMessage, decodeStartupPacket, isPasswordMessage, isTerminate, passwordMessageCapBytes } from './frontend.js';
import { MessageFramer } from './framer.js';
import type { Frame } from './framer.js';
import { StartupFramer } from './startup-framer.js';
import { ProtocolError } from './protocol-error.js';

function startup(body: Buffer, version = 196608): Buffer {
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(version, 4);
  return Buffer.concat([head, body]);
}

test('golden bytes: SSLRequest, GSSENCRequest, 3.0 CancelRequest', () => {
  assert.deepEqual(decodeStartupPacket(Buffer.from('0000000804d2162f', 'hex')), { kind: 'SSLRequest' });
  assert.deepEqual(decodeStartupPacket(Buffer.from('0000000804d21630', 'hex')), { kind: 'GSSENCRequest' });
  const cancel = decodeStartupPacket(Buffer.from('0000001004d2162e00000457deadbeef', 'hex'));
  assert.equal(cancel.kind, 'CancelRequest');
  if (cancel.kind !== 'CancelRequest') return;
  assert.equal(cancel.pid, 1111);
  assert.equal(cancel.key.toString('hex'), 'deadbeef');
  assert.equal(cancel.packetBytes, 16);
});

test('3.2 CancelRequest with a 32-byte key; key over 256 bytes rejected', () => {
  const key = Buffer.alloc(32, 0xab);
  const head = Buffer.alloc(12);
  head.writeInt32BE(12 + key.length, 0);
  head.writeInt32BE(80877102, 4);
  head.writeInt32BE(7, 8);
  const c = decodeStartupPacket(Buffer.concat([head, key]));
  assert.ok(c.kind === 'CancelRequest' && c.key.equals(key) && c.packetBytes === 44);
  const big = Buffer.alloc(257);
  head.writeInt32BE(12 + big.length, 0);
  assert.throws(() => decodeStartupPacket(Buffer.concat([head, big])), ProtocolError);
});

test('SSLRequest / GSSENCRequest with a wrong length are protocol errors', () => {
  assert.throws(() => decodeStartupPacket(Buffer.from('0000000c04d2162f00000000', 'hex')), ProtocolError);
  assert.throws(() => decodeStartupPacket(Buffer.from('0000000c04d2163000000000', 'hex')), ProtocolError);
});

test('pg-protocol oracle: serialize.startup / requestSsl / cancel decode to the same values', () => {
  // pg-protocol adds client_encoding=UTF8 itself.
  const s = decodeStartupPacket(serialize.startup({ user: 'alice', database: 'dev', application_name: 'psql' }));
  assert.deepEqual(s, {
    kind: 'StartupMessage',
    majorVersion: 3,
    minorVersion: 0,
    parameters: [['user', 'alice'], ['database', 'dev'], ['application_name', 'psql'], ['client_encoding', 'UTF8']],
  });
  assert.deepEqual(decodeStartupPacket(serialize.requestSsl()), { kind: 'SSLRequest' });
  const c = decodeStartupPacket(serialize.cancel(1234, 0x01020304));
  assert.ok(c.kind === 'CancelRequest' && c.pid === 1234 && c.key.toString('hex') === '01020304');
});

test('startup values may be empty and UTF-8', () => {
  const s = decodeStartupPacket(startup(Buffer.from('user\0zoë\0options\0\0\0', 'utf8')));
  assert.ok(s.kind === 'StartupMessage');
  assert.deepEqual(s.parameters, [['user', 'zoë'], ['options', '']]);
});

test('3.2 and 3.9999 startups decode with their minor version; majors 2 and 4 are UnsupportedProtocol', () => {
  const body = Buffer.from('user\0a\0\0');
  const v32 = decodeStartupPacket(startup(body, (3 << 16) | 2));
  assert.ok(v32.kind === 'StartupMessage' && v32.minorVersion === 2);
  const grease = decodeStartupPacket(startup(body, 0x0003270f));
  assert.ok(grease.kind === 'StartupMessage' && grease.minorVersion === 9999);
  assert.deepEqual(decodeStartupPacket(startup(Buffer.alloc(296), 2 << 16)), { kind: 'UnsupportedProtocol', majorVersion: 2, minorVersion: 0 });
  assert.deepEqual(decodeStartupPacket(startup(body, 4 << 16)), { kind: 'UnsupportedProtocol', majorVersion: 4, minorVersion: 0 });
});

test('startup layout violations are protocol errors (docs/design/wire-protocol.md §4 rules 2–4)', () => {
  const bad: Array<[string, Buffer]> = [
    ['missing final NUL', Buffer.from('user\0a\0')],
    ['key without value', Buffer.from('user\0a\0database\0')],
    ['key without value and no NUL', Buffer.from('user\0a\0database')],
    ['trailing bytes after the terminator', Buffer.from('user\0a\0\0x')],
    ['duplicate user', Buffer.from('user\0a\0user\0b\0\0')],
    ['duplicate user, other case', Buffer.from('user\0a\0USER\0b\0\0')],
    ['duplicate DateStyle', Buffer.from('DateStyle\0ISO\0datestyle\0ISO\0\0')],
    ['invalid UTF-8 key', Buffer.concat([Buffer.from([0xc3, 0x28, 0]), Buffer.from('a\0\0')])],
    ['invalid UTF-8 value', Buffer.concat([Buffer.from('user\0'), Buffer.from([0xff, 0]), Buffer.from([0])])],
    ['empty body', Buffer.alloc(0)],
  ];
  for (const [what, body] of bad) assert.throws(() => decodeStartupPacket(startup(body)), ProtocolError, what);
});

test('an empty parameter list (just the terminator) decodes', () => {
  const s = decodeStartupPacket(startup(Buffer.from([0])));
  assert.ok(s.kind === 'StartupMessage' && s.parameters.length === 0);
});

test('PasswordMessage: pg-protocol serialize.password round-trips; interior NUL and bad UTF-8 are reported, missing NUL throws', () => {
  const framer = new MessageFramer({ maxMessageBytes: passwordMessageCapBytes(8192) });
  framer.push(serialize.password('rsp1.abc-DEF_123'));
  const frame = framer.next();
  assert.ok(frame !== undefined && isPasswordMessage(frame));
  assert.deepEqual(decodePasswordMessage(frame.body), { ok: true, password: 'rsp1.abc-DEF_123' });
  assert.deepEqual(decodePasswordMessage(Buffer.from('ab\0cd\0')), { ok: false, reason: 'interior_nul' });
  assert.deepEqual(decodePasswordMessage(Buffer.from([0xff, 0])), { ok: false, reason: 'invalid_utf8' });
  assert.deepEqual(decodePasswordMessage(Buffer.from([0])), { ok: true, password: '' });
  assert.throws(() => decodePasswordMessage(Buffer.from('abc')), ProtocolError);
  assert.throws(() => decodePasswordMessage(Buffer.alloc(0)), ProtocolError);
});

test('PasswordMessage cap: 8,192 password bytes pass, 8,193 are refused from the header', () => {
  const cap = passwordMessageCapBytes(8192);
  const ok = new MessageFramer({ maxMessageBytes: cap });
  ok.push(serialize.password('a'.repeat(8192)));
  const f = ok.next();
  assert.ok(f !== undefined && decodePasswordMessage(f.body).ok);
  const over = new MessageFramer({ maxMessageBytes: cap });
  over.push(serialize.password('a'.repeat(8193)).subarray(0, 5)); // header only
  assert.throws(() => over.next(), ProtocolError);
});

test('Terminate: pg-protocol serialize.end is recognised', () => {
  const framer = new MessageFramer({ maxMessageBytes: 100 });
  framer.push(serialize.end());
  const f = framer.next();
  assert.ok(f !== undefined && isTerminate(f) && !isPasswordMessage(f));
});

test('frontend stream split at every offset and byte-by-byte: startup, then password + terminate', () => {
  const start = serialize.startup({ user: 'alice', database: 'dev' });
  const typed = Buffer.concat([serialize.password('secret'), serialize.end()]);
  const stream = Buffer.concat([serialize.requestSsl(), start, typed]);
  const run = (chunks: Buffer[]): string[] => {
    const sf = new StartupFramer({ maxStartupBytes: 10_000 });
    const mf = new MessageFramer({ maxMessageBytes: 100 });
    const seen: string[] = [];
    let typedPhase = false;
    const onFrame = (fr: Frame): void => {
      if (isPasswordMessage(fr)) {
        const d = decodePasswordMessage(fr.body);
        seen.push(d.ok ? `p:${d.password}` : 'p:bad');
      } else if (isTerminate(fr)) seen.push('X');
    };
    for (const chunk of chunks) {
      if (typedPhase) mf.push(chunk);
      else {
        sf.push(chunk);
        for (let p = sf.next(); p !== undefined && !typedPhase; p = sf.next()) {
          const d = decodeStartupPacket(p);
          seen.push(d.kind);
          if (d.kind === 'StartupMessage') {
            typedPhase = true;
            mf.push(sf.takeLeftover());
          }
        }
      }
      for (let fr = mf.next(); fr !== undefined; fr = mf.next()) onFrame(fr);
    }
    return seen;
  };
  const expected = ['SSLRequest', 'StartupMessage', 'p:secret', 'X'];
  for (let cut = 0; cut <= stream.length; cut++) assert.deepEqual(run([stream.subarray(0, cut), stream.subarray(cut)]), expected, `cut ${cut}`);
  assert.deepEqual(run([...stream].map((b) => Buffer.from([b]))), expected);
});
