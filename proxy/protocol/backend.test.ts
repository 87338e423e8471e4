import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Parser } from 'pg-protocol/dist/parser.js';
import type { BackendMessage } from 'pg-protocol/dist/messages.js';
import * as backend from './backend.js';

function parseAll(chunks: Buffer[]): BackendMessage[] {
  const parser = new Parser();
  const out: BackendMessage[] = [];
  // pg-protocol writes into / reads past a chunk that is a view of a larger buffer; sockets hand it fresh
  // buffers, so give it unpooled copies.
  for (const c of chunks) {
    const copy = Buffer.alloc(c.length);
    c.copy(copy);
    parser.parse(copy, (m) => out.push(m));
  }
  return out;
}

test('golden bytes from docs/design/wire-protocol.md: R 0, R 3, S, N, Z idle', () => {
  assert.equal(backend.authenticationOk.toString('hex'), '520000000800000000');
  assert.equal(backend.authenticationCleartextPassword.toString('hex'), '520000000800000003');
  assert.equal(backend.sslAccepted.toString('hex'), '53');
  assert.equal(backend.gssEncRefused.toString('hex'), '4e');
  assert.equal(backend.readyForQuery('I').toString('hex'), '5a0000000549');
});

test('golden bytes: BackendKeyData and NegotiateProtocolVersion', () => {
  assert.equal(backend.backendKeyData(1, Buffer.from('01020304', 'hex')).toString('hex'), '4b0000000c0000000101020304');
  assert.equal(backend.negotiateProtocolVersion([]).toString('hex'), '760000000c0003000000000000');
  const v = backend.negotiateProtocolVersion(['_pq_.a', '_pq_.bc']);
  assert.equal(v[0], 0x76);
  assert.equal(v.readInt32BE(1), v.length - 1);
  assert.equal(v.readInt32BE(5), 196608);
  assert.equal(v.readInt32BE(9), 2);
  assert.equal(v.subarray(13).toString('latin1'), '_pq_.a\0_pq_.bc\0');
});

test('golden bytes: ErrorResponse S V C M H', () => {
  const e = backend.errorResponse({ severity: 'FATAL', sqlstate: '28000', message: 'SSL connection is required' });
  const expected = Buffer.concat([
    Buffer.from([0x45, 0, 0, 0, 0]),
    Buffer.from('SFATAL\0VFATAL\0C28000\0MSSL connection is required\0\0', 'latin1'),
  ]);
  expected.writeInt32BE(expected.length - 1, 1);
  assert.ok(e.equals(expected));
});

test('pg-protocol oracle parses our messages to the same values', () => {
  const msgs = parseAll([
    Buffer.concat([
      backend.authenticationCleartextPassword,
      backend.authenticationOk,
      backend.parameterStatus('server_version', '8.0.2'),
      backend.parameterStatus('application_name', 'zoë ✓'),
      backend.backendKeyData(2147483647, Buffer.from('a1b2c3d4', 'hex')),
      backend.readyForQuery('T'),
      backend.errorResponse({ severity: 'FATAL', sqlstate: '28P01', message: 'IAM authentication failed for user "alice"', hint: 'Generate a fresh token.' }),
    ]),
  ]);
  assert.deepEqual(
    msgs.map((m) => m.name),
    ['authenticationCleartextPassword', 'authenticationOk', 'parameterStatus', 'parameterStatus', 'backendKeyData', 'readyForQuery', 'error'],
  );
  const ps = msgs[3] as unknown as { parameterName: string; parameterValue: string };
  assert.deepEqual([ps.parameterName, ps.parameterValue], ['application_name', 'zoë ✓']);
  const k = msgs[4] as unknown as { processID: number; secretKey: number };
  assert.equal(k.processID, 2147483647);
  assert.equal(k.secretKey >>> 0, 0xa1b2c3d4);
  assert.equal((msgs[5] as unknown as { status: string }).status, 'T');
  const err = msgs[6] as unknown as { severity: string; code: string; message: string; hint: string };
  assert.deepEqual([err.severity, err.code, err.message, err.hint], ['FATAL', '28P01', 'IAM authentication failed for user "alice"', 'Generate a fresh token.']);
});

test('pg-protocol parses our backend stream identically at every split point', () => {
  const stream = Buffer.concat([
    backend.authenticationOk,
    backend.parameterStatus('a', 'b'),
    backend.backendKeyData(5, Buffer.from([9, 9, 9, 9])),
    backend.readyForQuery(),
  ]);
  const names = ['authenticationOk', 'parameterStatus', 'backendKeyData', 'readyForQuery'];
  for (let cut = 0; cut <= stream.length; cut++) {
    assert.deepEqual(parseAll([stream.subarray(0, cut), stream.subarray(cut)]).map((m) => m.name), names, `cut ${cut}`);
  }
  assert.deepEqual(parseAll([...stream].map((b) => Buffer.from([b]))).map((m) => m.name), names);
});
