import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthResult, Identity } from '../../auth/types.js';
import { genesisPrev, recordLine, type AuditEntry, type AuditWriteResult, type CapturedStatement } from '../audit/index.js';
import { authFailed } from '../errors/proxy-error.js';
import { admittedSessionFields, applicationName, auditLogin, hostPort, loginDeniedEntry, SessionAuditTrail, type SessionAudit } from './session-audit.js';
import type { StartupParams } from './startup-params.js';

const identity: Identity = {
  partition: 'aws',
  accountId: '123456789012',
  canonicalArn: 'arn:aws:iam::123456789012:role/Analyst',
  arn: 'arn:aws:sts::123456789012:assumed-role/Analyst/alice',
  principalType: 'assumed-role',
  userId: 'AROA:alice',
  accessKeyId: 'ASIAEXAMPLE',
  stsRegion: 'eu-west-1',
} as Identity;

const result = {
  upstreamUser: 'IAMA:alice',
  upstreamPassword: 'db-password-never-recorded',
  target: { database: 'analytics', host: '2001:db8::5', port: 5439, dbName: 'dev', engine: 'redshift', tlsMode: 'verify-full' },
  expiresAtMs: 0,
  identity,
  timings: {},
  invalidate: () => false,
  forgetEndpoint: () => {},
  autoCreate: true,
  dbGroups: ['analysts'],
} as AuthResult;

const params: StartupParams = { user: 'alice', database: 'analytics', shouldNegotiate: false, unsupportedProtocolOptions: [], forwarded: [['application_name', 'DBeaver']], redshiftOnly: [], dropped: [] };
const connection = { connectionId: 'c1', clientAddress: '10.0.0.1:5000' };

function fakeAudit(results: AuditWriteResult[] = [], statements: SessionAudit['statements'] = 'full'): SessionAudit & { entries: AuditEntry[] } {
  const entries: AuditEntry[] = [];
  const next = (): AuditWriteResult => results.shift() ?? { written: true, proceed: true };
  return {
    entries,
    statements,
    maxStatementBytes: 4096,
    write: async (e) => (entries.push(e), next()),
    appendThen: (sealed, done) => {
      entries.push(JSON.parse(recordLine({ seq: 1, time: '2026-12-07T18:00:00.000Z', prev: genesisPrev }, sealed)) as AuditEntry);
      const result = next();
      queueMicrotask(() => done(result));
    },
  };
}

/** The trail's statement as a promise of whether it may go on. */
const statementOf = (trail: SessionAuditTrail, captured: CapturedStatement): Promise<boolean> => new Promise((resolve) => trail.statement(captured, resolve));

test('hostPort and applicationName', () => {
  assert.equal(hostPort('10.0.0.5', 5439), '10.0.0.5:5439');
  assert.equal(hostPort('2001:db8::5', 5439), '[2001:db8::5]:5439');
  assert.equal(applicationName(params), 'DBeaver');
  assert.equal(applicationName(undefined), '');
});

test('session fields: canonical ARN, the STS caller ARN, groups, target, pid; never the password', () => {
  const fields = admittedSessionFields({ result, params, upstreamPid: 1073815613 });
  assert.deepEqual(fields, {
    identity: 'arn:aws:iam::123456789012:role/Analyst',
    callerArn: 'arn:aws:sts::123456789012:assumed-role/Analyst/alice',
    accountId: '123456789012',
    database: 'analytics',
    dbUser: 'IAMA:alice',
    dbGroups: ['analysts'],
    target: '[2001:db8::5]:5439',
    applicationName: 'DBeaver',
    upstreamPid: 1073815613,
    reused: false,
  });
});

test('login_denied: what is known, null for the rest, the SQLSTATE and the log reason', () => {
  const entry = loginDeniedEntry(connection, authFailed('alice', 'expired'), params, undefined);
  assert.equal(entry.event, 'login_denied');
  assert.deepEqual({ ...entry }, { ...connection, identity: null, callerArn: null, accountId: null, database: 'analytics', dbUser: null, dbGroups: null, target: null, applicationName: 'DBeaver', upstreamPid: null, reused: null, event: 'login_denied', sqlstate: '28P01', reason: 'expired' });
});

test('the trail: login, statements counted when written, revoked once, session_end with the count', async () => {
  const audit = fakeAudit([{ written: true, proceed: true }, { written: true, proceed: true }, { written: false, proceed: true }]);
  const trail = await auditLogin(audit, { result, params, upstreamPid: 7, connection, nowMs: 1000, isStillLoggingIn: () => true });
  assert.ok(trail instanceof SessionAuditTrail);
  assert.equal(await statementOf(trail, { protocol: 'simple', text: "ALTER USER x PASSWORD 'hunter2'" }), true);
  assert.equal(await statementOf(trail, { protocol: 'extended', text: 'SELECT 1' }), true, 'continue: not written, still forwarded');
  await trail.ending('revoked');
  await trail.ending('revoked');
  await trail.ending('max_age');
  trail.ended('revoked', { clientToUpstreamBytes: 10, upstreamToClientBytes: 20, endedBy: 'local', isClientTerminate: false }, 3500);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(audit.entries.map((e) => e.event), ['login', 'statement', 'statement', 'revoked', 'session_end']);
  assert.ok(!JSON.stringify(audit.entries).includes('hunter2'), 'a PASSWORD literal is masked');
  const end = audit.entries.at(-1) as Extract<AuditEntry, { event: 'session_end' }>;
  assert.deepEqual([end.reason, end.durationMs, end.statements, end.upstreamPid], ['revoked', 2500, 1, 7]);
  assert.ok(!JSON.stringify(audit.entries).includes('db-password-never-recorded'));
});

test('a statement record carries the session and the fingerprint; a refused one does not go on and is not counted', async () => {
  const audit = fakeAudit([{ written: true, proceed: true }, { written: true, proceed: true }, { written: false, proceed: false }], 'fingerprint');
  const trail = await auditLogin(audit, { result, params, upstreamPid: 7, connection, nowMs: 1000, isStillLoggingIn: () => true });
  assert.ok(trail instanceof SessionAuditTrail);
  assert.equal(await statementOf(trail, { protocol: 'simple', text: "SELECT * FROM t WHERE a = 'x'" }), true);
  assert.equal(await statementOf(trail, { protocol: 'simple', text: 'SELECT 2' }), false, 'refuse: not written, not forwarded');
  const statement = audit.entries[1] as Extract<AuditEntry, { event: 'statement' }>;
  assert.deepEqual([statement.event, statement.protocol, statement.text, statement.dbUser, statement.upstreamPid], ['statement', 'simple', 'SELECT * FROM t WHERE a = ?', 'IAMA:alice', 7]);
  trail.ended('client', { clientToUpstreamBytes: 1, upstreamToClientBytes: 1, endedBy: 'client', isClientTerminate: true }, 2000);
  await new Promise((r) => setImmediate(r));
  assert.equal((audit.entries.at(-1) as Extract<AuditEntry, { event: 'session_end' }>).statements, 1);
});

test('statements off: the trail never builds a statement record', async () => {
  const audit = fakeAudit([], 'off');
  const trail = new SessionAuditTrail(audit, connection, admittedSessionFields({ result, params, upstreamPid: 7 }), 0);
  assert.equal(await statementOf(trail, { protocol: 'simple', text: 'SELECT 1' }), true);
  assert.equal(audit.entries.length, 0);
});

test('auditLogin: refused under refuse, gone when the session left meanwhile', async () => {
  assert.equal(await auditLogin(fakeAudit([{ written: false, proceed: false }]), { result, params, upstreamPid: 7, connection, nowMs: 0, isStillLoggingIn: () => true }), 'refused');
  assert.equal(await auditLogin(fakeAudit(), { result, params, upstreamPid: 7, connection, nowMs: 0, isStillLoggingIn: () => false }), 'gone');
});
