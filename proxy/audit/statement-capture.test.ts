import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { capturedStatement, statementRecords, StatementMessageCode } from './statement-capture.js';
import { genesisPrev, type ConnectionFields, type SessionFields, type StatementEntry } from './record.js';
import { recordLine } from './record-encoding.js';

const cstring = (s: string): Buffer => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
/** A Parse (F) body: name, query, parameter type oids. */
const parseBody = (name: string, query: string, oids: number[]): Buffer => {
  const tail = Buffer.alloc(2 + 4 * oids.length);
  tail.writeInt16BE(oids.length, 0);
  oids.forEach((oid, i) => tail.writeInt32BE(oid, 2 + 4 * i));
  return Buffer.concat([cstring(name), cstring(query), tail]);
};

test('Query (F): the cstring is the statement, protocol simple', () => {
  assert.deepEqual(capturedStatement(0x51, cstring("SELECT 'é'; SELECT 2")), { protocol: 'simple', text: "SELECT 'é'; SELECT 2" });
  assert.deepEqual(capturedStatement(StatementMessageCode.Query, cstring('')), { protocol: 'simple', text: '' });
});

test('Parse (F): the second cstring is the statement, named or unnamed, with parameter oids after it', () => {
  assert.deepEqual(capturedStatement(0x50, parseBody('', 'SELECT $1::int', [23])), { protocol: 'extended', text: 'SELECT $1::int' });
  assert.deepEqual(capturedStatement(0x50, parseBody('stmt_1', 'INSERT INTO t VALUES ($1, $2)', [0, 25])), { protocol: 'extended', text: 'INSERT INTO t VALUES ($1, $2)' });
  // A byte fixture as pgjdbc sends it: name "S_1", query "select 1", no oids.
  const fixture = Buffer.from([0x53, 0x5f, 0x31, 0x00, 0x73, 0x65, 0x6c, 0x65, 0x63, 0x74, 0x20, 0x31, 0x00, 0x00, 0x00]);
  assert.deepEqual(capturedStatement(0x50, fixture), { protocol: 'extended', text: 'select 1' });
});

test('a body that lives inside a larger buffer (a subarray of the socket chunk) is read at its own offsets', () => {
  const chunk = Buffer.concat([Buffer.from('garbage\0'), Buffer.from([0x51, 0, 0, 0, 13]), cstring('select 42'), Buffer.from('more\0')]);
  assert.deepEqual(capturedStatement(0x51, chunk.subarray(13, 13 + 10)), { protocol: 'simple', text: 'select 42' });
});

test('other messages and malformed bodies give undefined; invalid UTF-8 is replaced, not thrown', () => {
  for (const type of [0x42, 0x45, 0x44, 0x53, 0x58, 0x70, 0x64, 0x43, 0x48, 0x46]) assert.equal(capturedStatement(type, cstring('select 1')), undefined);
  assert.equal(capturedStatement(0x51, Buffer.from('select 1')), undefined);
  assert.equal(capturedStatement(0x50, Buffer.from('name')), undefined);
  assert.equal(capturedStatement(0x50, cstring('name')), undefined);
  assert.equal(capturedStatement(0x50, Buffer.from('name\0select')), undefined);
  assert.deepEqual(capturedStatement(0x51, Buffer.from([0x73, 0xff, 0xfe, 0x00])), { protocol: 'simple', text: 's\uFFFD\uFFFD' });
});

test('property: any type byte and body never throws', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 64 }), (type, body) => {
      const r = capturedStatement(type, Buffer.from(body));
      assert.ok(r === undefined || typeof r.text === 'string');
    }),
    { seed: 5150, numRuns: 1000 },
  );
});

test('property: a Query of any bytes decodes as the WHATWG UTF-8 decoder does (U+FFFD for each bad sequence)', () => {
  const decoder = new TextDecoder('utf-8', { fatal: false });
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const sql = bytes.filter((b) => b !== 0);
      const r = capturedStatement(0x51, Buffer.concat([sql, Buffer.from([0])]));
      assert.equal(r?.text, decoder.decode(sql));
    }),
    { seed: 5151, numRuns: 2000 },
  );
});

test('statementRecords: the record of a captured statement in either mode, never the literal or password', () => {
  const session: ConnectionFields & SessionFields = {
    connectionId: 'c1', clientAddress: '10.0.0.1:1', identity: 'arn:aws:iam::123456789012:role/R', callerArn: 'arn:aws:sts::123456789012:assumed-role/R/bob',
    accountId: '123456789012', database: 'dev', dbUser: 'bob', dbGroups: [], target: 'h:5439', applicationName: 'psql', upstreamPid: 7, reused: true,
  };
  const parsed = capturedStatement(0x50, parseBody('', "ALTER USER bob PASSWORD 'hunter2' VALID UNTIL '2027-01-01'", []));
  assert.ok(parsed !== undefined);
  const chain = { seq: 1, time: '2026-12-07T18:00:00.000Z', prev: genesisPrev };
  const lineOf = (mode: 'fingerprint' | 'full', maxBytes: number): string => recordLine(chain, statementRecords(session, mode, maxBytes)(parsed));
  const fp = JSON.parse(lineOf('fingerprint', 4096)) as StatementEntry;
  assert.deepEqual({ event: fp.event, protocol: fp.protocol, text: fp.text, truncated: fp.truncated }, { event: 'statement', protocol: 'extended', text: 'ALTER USER bob PASSWORD ? VALID UNTIL ?', truncated: undefined });
  const line = lineOf('full', 30);
  const full = JSON.parse(line) as StatementEntry;
  assert.equal(full.text, "ALTER USER bob PASSWORD '***'");
  assert.equal(full.truncated, true);
  assert.ok(!line.includes('hunter2'));
  assert.deepEqual([full.upstreamPid, full.dbUser, full.reused], [7, 'bob', true]);
});
