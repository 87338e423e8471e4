import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { auditEvents, formatAuditTime, genesisPrev, recordKeys, type AuditEntry, type SessionFields, type StatementEntry } from './record.js';
import { recordLine, sealEntry, serializeRecord, statementSealer } from './record-encoding.js';

const session: SessionFields = {
  identity: 'arn:aws:iam::123456789012:role/Analyst',
  callerArn: 'arn:aws:sts::123456789012:assumed-role/Analyst/alice',
  accountId: '123456789012',
  database: 'analytics',
  dbUser: 'alice',
  dbGroups: ['analysts'],
  target: 'cluster.example:5439',
  applicationName: 'psql',
  upstreamPid: 4242,
  reused: false,
};
const chain = { seq: 7, time: '2026-12-07T18:00:00.123Z', prev: genesisPrev };

test('records are written with the head, session and event keys in a fixed order, whatever order they were built in', () => {
  const entry: AuditEntry = { event: 'session_end', ...session, statements: 3, upstreamToClientBytes: 20, clientToUpstreamBytes: 10, durationMs: 1500, reason: 'client', clientAddress: '10.0.0.1:5000', connectionId: 'c1' };
  const line = serializeRecord(chain, entry);
  assert.deepEqual(Object.keys(JSON.parse(line)), [
    'seq', 'time', 'event', 'connectionId', 'clientAddress', 'prev',
    'identity', 'callerArn', 'accountId', 'database', 'dbUser', 'dbGroups', 'target', 'applicationName', 'upstreamPid', 'reused',
    'reason', 'durationMs', 'clientToUpstreamBytes', 'upstreamToClientBytes', 'statements',
  ]);
  assert.ok(line.startsWith('{"seq":7,"time":"2026-12-07T18:00:00.123Z","event":"session_end","connectionId":"c1"'));
  assert.ok(!line.includes('\n'));
});

test('every event has its own keys: login_denied adds sqlstate and reason; statement adds protocol, text and truncated only when cut', () => {
  assert.deepEqual(recordKeys('login').slice(16), []);
  assert.deepEqual(recordKeys('revoked').slice(16), []);
  assert.deepEqual(recordKeys('admin_terminate').slice(16), []);
  assert.deepEqual(recordKeys('login_denied').slice(16), ['sqlstate', 'reason']);
  assert.deepEqual(recordKeys('statement').slice(16), ['protocol', 'text', 'truncated']);
  const base = { connectionId: 'c1', clientAddress: '10.0.0.1:5000', ...session } as const;
  const plain = JSON.parse(serializeRecord(chain, { ...base, event: 'statement', protocol: 'simple', text: 'SELECT ?' }));
  assert.equal('truncated' in plain, false);
  const cut = JSON.parse(serializeRecord(chain, { ...base, event: 'statement', protocol: 'extended', text: 'SELECT', truncated: true }));
  assert.equal(cut.truncated, true);
  assert.equal(auditEvents.length, 6);
});

test('a denied login writes null for what the login had not learnt; stray fields (a token) are never written', () => {
  const entry = {
    event: 'login_denied', connectionId: 'c2', clientAddress: '10.0.0.2:1', sqlstate: '28P01', reason: 'AUTH_TOKEN_EXPIRED',
    identity: null, callerArn: null, accountId: null, database: 'analytics', dbUser: null, dbGroups: null, target: null, applicationName: 'psql', upstreamPid: null, reused: null,
    password: 'rsp1.secret-token',
  } as AuditEntry;
  const line = serializeRecord(chain, entry);
  assert.ok(!line.includes('secret'));
  const rec = JSON.parse(line);
  assert.equal(rec.identity, null);
  assert.equal(rec.sqlstate, '28P01');
  assert.equal(rec.reason, 'AUTH_TOKEN_EXPIRED');
});

test('time is RFC 3339 UTC with milliseconds', () => {
  assert.equal(formatAuditTime(Date.UTC(2026, 11, 7, 18, 0, 0, 5)), '2026-12-07T18:00:00.005Z');
});

test('property: formatAuditTime is Date#toISOString for any time from 1970 to 9999 (the per-second cache never shows)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 253402300799999 }), fc.integer({ min: -2000, max: 2000 }), (ms, step) => {
      assert.equal(formatAuditTime(ms), new Date(ms).toISOString());
      const next = Math.min(253402300799999, Math.max(0, ms + step));
      assert.equal(formatAuditTime(next), new Date(next).toISOString());
    }),
    { seed: 2026, numRuns: 2000 },
  );
});

const jsonText = fc.string({ unit: 'binary', maxLength: 40 });
const sessionArb = fc.record({
  connectionId: jsonText,
  clientAddress: jsonText,
  identity: jsonText,
  callerArn: jsonText,
  accountId: jsonText,
  database: jsonText,
  dbUser: jsonText,
  dbGroups: fc.array(jsonText, { maxLength: 3 }),
  target: jsonText,
  applicationName: jsonText,
  upstreamPid: fc.option(fc.integer({ min: 0, max: 2 ** 31 - 1 }), { nil: null }),
  reused: fc.boolean(),
});

test('property: a statement sealed once per session is byte for byte the line serializeRecord writes for the same record', () => {
  fc.assert(
    fc.property(sessionArb, fc.constantFrom('simple', 'extended' as const), jsonText, fc.boolean(), fc.nat(), (s, protocol, text, truncated, seq) => {
      const seal = statementSealer(s);
      const entry: StatementEntry = { ...s, event: 'statement', protocol, text, ...(truncated ? { truncated: true as const } : {}) };
      const at = { seq: seq + 1, time: '2026-12-07T18:00:00.123Z', prev: genesisPrev };
      const line = recordLine(at, seal(protocol, text, truncated));
      assert.equal(line, serializeRecord(at, entry));
      assert.deepEqual(Object.keys(JSON.parse(line)), recordKeys('statement').filter((k) => k !== 'truncated' || truncated));
    }),
    { seed: 77, numRuns: 500 },
  );
});

test('property: every event sealed and put on the chain keeps the key order of recordKeys', () => {
  fc.assert(
    fc.property(sessionArb, fc.constantFrom(...auditEvents), (s, event) => {
      const entry = { ...s, event, sqlstate: '57P03', reason: 'x', durationMs: 1, clientToUpstreamBytes: 2, upstreamToClientBytes: 3, statements: 4, protocol: 'simple', text: 'SELECT ?' } as AuditEntry;
      const keys = Object.keys(JSON.parse(recordLine(chain, sealEntry(entry))));
      assert.deepEqual(keys, recordKeys(event).filter((k) => k !== 'truncated'));
    }),
    { seed: 78, numRuns: 300 },
  );
});
