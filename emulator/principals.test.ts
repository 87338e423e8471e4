import { test } from 'node:test';
import assert from 'node:assert/strict';
import { callerDbUser, PrincipalTable, roleUniqueId } from './principals.js';

test('callerDbUser maps assumed roles to IAMR: and users to IAM:', () => {
  assert.equal(callerDbUser('arn:aws:sts::123456789012:assumed-role/rsproxy-lake-bi/alice'), 'IAMR:rsproxy-lake-bi');
  assert.equal(callerDbUser('arn:aws:iam::123456789012:user/ops/bob'), 'IAM:bob');
  assert.equal(callerDbUser('arn:aws:iam::123456789012:user/bob'), 'IAM:bob');
  assert.equal(callerDbUser('arn:aws:iam::123456789012:root'), undefined);
  assert.equal(callerDbUser('arn:aws:sts::123456789012:federated-user/x'), undefined);
});

test('assumeRole registers temporary credentials with a session and db roles', () => {
  const t = new PrincipalTable();
  const nowMs = Date.UTC(2026, 0, 1);
  const c = t.assumeRole({ roleArn: 'arn:aws:iam::123456789012:role/r', roleName: 'r', accountId: '123456789012', sessionName: 'alice', durationSeconds: 900, dbRoles: ['bi'], nowMs });
  const p = c.principal;
  assert.match(p.accessKeyId, /^ASIA[A-Z0-9]{16}$/);
  assert.equal(p.arn, 'arn:aws:sts::123456789012:assumed-role/r/alice');
  assert.equal(p.userId, `${roleUniqueId('arn:aws:iam::123456789012:role/r')}:alice`);
  assert.match(p.userId, /^AROA[A-Z0-9]{17}:alice$/);
  assert.equal(p.sessionExpiresAtMs, nowMs + 900_000);
  assert.deepEqual(p.dbRoles, ['bi']);
  assert.deepEqual(t.get(p.accessKeyId), p);
  const token = p.sessionToken ?? '';
  assert.equal(Buffer.from(token, 'base64').toString('base64'), token, 'session token is canonical base64');
  assert.ok(token.length > 300);
});
