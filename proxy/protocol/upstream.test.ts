import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { serialize } from 'pg-protocol';
import { Parser } from 'pg-protocol/dist/parser.js';
import type { BackendMessage } from 'pg-protocol/dist/messages.js';
import {
  cancelRequest,
  md5PasswordHash,
  md5PasswordMessage,
  parseAuthenticationRequest,
  parseBackendKeyData,
  parseErrorFields,
  parseParameterStatus,
  passwordMessage,
  redshiftDigestMessage,
  saslInitialResponse,
  saslResponse,
  sslRequest,
  startupMessage,
  terminateMessage,
} from './upstream.js';
import { MessageFramer } from './framer.js';
import { ProtocolError } from './protocol-error.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Parses backend bytes with pg-protocol (the oracle). */
function oracle(bytes: Buffer): BackendMessage[] {
  const out: BackendMessage[] = [];
  new Parser().parse(bytes, (m) => out.push(m));
  return out;
}

/** Body of the only typed message in `bytes`, via the framer. */
function body(bytes: Buffer): Buffer {
  const f = new MessageFramer({ maxMessageBytes: 1 << 20 });
  f.push(bytes);
  const frame = f.next();
  assert.ok(frame);
  assert.equal(f.bufferedBytes, 0);
  return frame.body;
}

function msg(type: string, payload: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.write(type, 0, 'latin1');
  h.writeInt32BE(payload.length + 4, 1);
  return Buffer.concat([h, payload]);
}
const i32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

test('SSLRequest and Terminate golden bytes', () => {
  assert.deepEqual(sslRequest, hex('00000008 04d2162f'));
  assert.deepEqual(sslRequest, serialize.requestSsl());
  assert.deepEqual(terminateMessage, serialize.end());
});

test('StartupMessage golden bytes and pg-protocol agreement', () => {
  const m = startupMessage([['user', 'IAMA:alice'], ['database', 'dev']]);
  assert.deepEqual(m, Buffer.concat([hex('00000026 00030000'), Buffer.from('user\0IAMA:alice\0database\0dev\0\0')]));
  const withEnc = startupMessage([['user', 'u'], ['database', 'd'], ['client_encoding', 'UTF8']]);
  assert.deepEqual(withEnc, serialize.startup({ user: 'u', database: 'd' }));
  assert.throws(() => startupMessage([['', 'x']]));
  assert.throws(() => startupMessage([['user', 'a\0b']]));
});

test('PasswordMessage golden bytes', () => {
  assert.deepEqual(passwordMessage('secret'), Buffer.concat([hex('70 0000000b'), Buffer.from('secret\0')]));
  assert.deepEqual(passwordMessage('pässwörd'), serialize.password('pässwörd'));
  assert.throws(() => passwordMessage('a\0b'));
});

test('MD5 response matches the documented formula and node-postgres', async () => {
  const salt = hex('01020304');
  const inner = createHash('md5').update('secretIAMA:alice').digest('hex');
  const expected = 'md5' + createHash('md5').update(Buffer.concat([Buffer.from(inner), salt])).digest('hex');
  assert.equal(md5PasswordHash('IAMA:alice', 'secret', salt), expected);
  assert.equal(expected.length, 35);
  const require = createRequire(import.meta.url);
  const utils = require('pg/lib/crypto/utils') as { postgresMd5PasswordHash(u: string, p: string, s: Buffer): Promise<string> };
  assert.equal(await utils.postgresMd5PasswordHash('IAMA:alice', 'secret', salt), expected);
  assert.deepEqual(md5PasswordMessage('IAMA:alice', 'secret', salt), Buffer.concat([hex('70 00000028'), Buffer.from(expected + '\0')]));
  assert.throws(() => md5PasswordHash('u', 'p', hex('0102')));
});

test('SASLInitialResponse and SASLResponse golden bytes', () => {
  const first = 'n,,n=,r=abc';
  assert.deepEqual(
    saslInitialResponse('SCRAM-SHA-256', Buffer.from(first)),
    Buffer.concat([hex('70 00000021'), Buffer.from('SCRAM-SHA-256\0'), hex('0000000b'), Buffer.from(first)]),
  );
  assert.deepEqual(saslInitialResponse('SCRAM-SHA-256', Buffer.from(first)), serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', first));
  assert.deepEqual(saslResponse(Buffer.from('c=biws,r=x,p=y')), serialize.sendSCRAMClientFinalMessage('c=biws,r=x,p=y'));
  assert.deepEqual(saslResponse(Buffer.from('ab')), hex('70 00000006 6162'));
});

test("Redshift digest 'd' layout (docs/design/wire-protocol.md §7)", () => {
  const password = 'tmpPass123';
  const salt = hex('a1a2a3a4');
  const serverNonce = hex('00112233445566778899');
  const clientNonce = Buffer.from('1764000000000');
  const inner = createHash('sha256').update(Buffer.concat([Buffer.from(password), salt])).digest();
  const digest = createHash('sha256').update(Buffer.concat([inner, serverNonce, clientNonce])).digest();
  const m = redshiftDigestMessage(password, salt, serverNonce, clientNonce);
  assert.deepEqual(m, Buffer.concat([Buffer.from('d'), i32(4 + 4 + 32 + 4 + 13), i32(32), digest, i32(13), clientNonce]));
  assert.equal(m.length, 1 + 4 + 4 + 32 + 4 + 13);
  assert.equal(m.includes(0, m.length - 13), false);
});

test('CancelRequest golden bytes and pg-protocol agreement', () => {
  const key = hex('deadbeef');
  assert.deepEqual(cancelRequest(4242, key), hex('00000010 04d2162e 00001092 deadbeef'));
  assert.deepEqual(cancelRequest(4242, key), serialize.cancel(4242, key.readInt32BE()));
  assert.throws(() => cancelRequest(1, hex('00')));
});

test('Authentication requests agree with pg-protocol where it applies', () => {
  const ok = msg('R', i32(0));
  assert.deepEqual(parseAuthenticationRequest(body(ok)), { kind: 'ok', code: 0 });
  assert.equal(oracle(ok)[0]?.name, 'authenticationOk');

  const clear = hex('52 00000008 00000003');
  assert.deepEqual(parseAuthenticationRequest(body(clear)), { kind: 'cleartext', code: 3 });
  assert.equal(oracle(clear)[0]?.name, 'authenticationCleartextPassword');

  const md5 = msg('R', Buffer.concat([i32(5), hex('0a0b0c0d')]));
  assert.deepEqual(parseAuthenticationRequest(body(md5)), { kind: 'md5', code: 5, salt: hex('0a0b0c0d') });
  assert.deepEqual((oracle(md5)[0] as unknown as { salt: Buffer }).salt, hex('0a0b0c0d'));

  const sasl = msg('R', Buffer.concat([i32(10), Buffer.from('SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0')]));
  const parsed = parseAuthenticationRequest(body(sasl));
  assert.deepEqual(parsed, { kind: 'sasl', code: 10, mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] });
  assert.deepEqual((oracle(sasl)[0] as unknown as { mechanisms: string[] }).mechanisms, ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256']);

  const cont = msg('R', Buffer.concat([i32(11), Buffer.from('r=abc,s=c2FsdA==,i=4096')]));
  assert.deepEqual(parseAuthenticationRequest(body(cont)), { kind: 'saslContinue', code: 11, data: Buffer.from('r=abc,s=c2FsdA==,i=4096') });
  assert.equal((oracle(cont)[0] as unknown as { data: string }).data, 'r=abc,s=c2FsdA==,i=4096');

  const fin = msg('R', Buffer.concat([i32(12), Buffer.from('v=xyz')]));
  assert.deepEqual(parseAuthenticationRequest(body(fin)), { kind: 'saslFinal', code: 12, data: Buffer.from('v=xyz') });
  assert.equal((oracle(fin)[0] as unknown as { data: string }).data, 'v=xyz');

  const digest = msg('R', Buffer.concat([i32(13), i32(0), i32(4), hex('01020304'), i32(3), hex('aabbcc')]));
  assert.deepEqual(parseAuthenticationRequest(body(digest)), { kind: 'redshiftDigest', code: 13, algorithm: 0, salt: hex('01020304'), serverNonce: hex('aabbcc') });

  assert.deepEqual(parseAuthenticationRequest(i32(14)), { kind: 'unsupported', code: 14 });
  assert.deepEqual(parseAuthenticationRequest(i32(7)), { kind: 'unsupported', code: 7 });
});

test('Authentication request decoder never trusts a length', () => {
  const bad: Buffer[] = [
    Buffer.alloc(0),
    hex('000000'),
    Buffer.concat([i32(0), hex('00')]),
    Buffer.concat([i32(3), hex('00')]),
    Buffer.concat([i32(5), hex('010203')]),
    Buffer.concat([i32(5), hex('0102030405')]),
    Buffer.concat([i32(10), Buffer.from('SCRAM-SHA-256\0')]),
    Buffer.concat([i32(10), Buffer.from('SCRAM-SHA-256\0\0x')]),
    Buffer.concat([i32(10), Buffer.from('m\0'.repeat(17) + '\0')]),
    Buffer.concat([i32(13), i32(0), i32(-1)]),
    Buffer.concat([i32(13), i32(0), i32(0x7fffffff), hex('01')]),
    Buffer.concat([i32(13), i32(0), i32(1025), Buffer.alloc(1025)]),
    Buffer.concat([i32(13), i32(0), i32(4), hex('010203')]),
    Buffer.concat([i32(13), i32(0), i32(1), hex('01'), i32(5), hex('01')]),
    Buffer.concat([i32(13), i32(0), i32(1), hex('01'), i32(1025), Buffer.alloc(1025)]),
    Buffer.concat([i32(13), i32(0), i32(1), hex('01'), i32(1), hex('0102')]),
  ];
  for (const b of bad) assert.throws(() => parseAuthenticationRequest(b), ProtocolError, b.toString('hex'));
});

test('ErrorResponse fields agree with pg-protocol', () => {
  const e = msg('E', Buffer.from('SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user "x"\0Fauth.c\0L330\0Rauth_failed\0\0'));
  const fields = parseErrorFields(body(e));
  assert.equal(fields.severity, 'FATAL');
  assert.equal(fields.sqlstate, '28P01');
  assert.equal(fields.message, 'password authentication failed for user "x"');
  assert.equal(fields.fields['R'], 'auth_failed');
  const o = oracle(e)[0] as unknown as { code: string; message: string; severity: string; routine: string };
  assert.equal(o.code, fields.sqlstate);
  assert.equal(o.message, fields.message);
  assert.equal(o.severity, fields.severity);
  assert.equal(o.routine, fields.fields['R']);
  assert.throws(() => parseErrorFields(Buffer.from('SFATAL')), ProtocolError);
  assert.throws(() => parseErrorFields(Buffer.from('SFATAL\0')), ProtocolError);
  assert.throws(() => parseErrorFields(Buffer.from('SFATAL\0\0x')), ProtocolError);
  assert.throws(() => parseErrorFields(Buffer.from('Mx\0'.repeat(65) + '\0')), ProtocolError);
  assert.deepEqual(parseErrorFields(Buffer.from([0])), { fields: {} });
});

test('BackendKeyData and ParameterStatus agree with pg-protocol', () => {
  const k = msg('K', Buffer.concat([i32(1234), hex('01020304')]));
  const key = parseBackendKeyData(body(k));
  assert.deepEqual(key, { pid: 1234, key: hex('01020304') });
  const o = oracle(k)[0] as unknown as { processID: number; secretKey: number };
  assert.equal(o.processID, 1234);
  assert.equal(o.secretKey, 0x01020304);
  assert.throws(() => parseBackendKeyData(i32(1)), ProtocolError);
  assert.throws(() => parseBackendKeyData(Buffer.alloc(9)), ProtocolError);

  const s = msg('S', Buffer.from('server_version\x008.0.2\0'));
  assert.deepEqual(parseParameterStatus(body(s)), { name: 'server_version', value: '8.0.2' });
  const os = oracle(s)[0] as unknown as { parameterName: string; parameterValue: string };
  assert.deepEqual([os.parameterName, os.parameterValue], ['server_version', '8.0.2']);
  assert.throws(() => parseParameterStatus(Buffer.from('a\0b')), ProtocolError);
  assert.throws(() => parseParameterStatus(Buffer.from('a\0b\0c')), ProtocolError);
});
