process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { queryError, startAwsStub } from '../testkit/aws-stub.js';
import { createAssumeRoleApi, createRoleCredentialSource, dbRolesTagValue, roleSessionName, type AssumeRoleApi, type AssumeRoleRequest } from './assume-role.js';
import { AuthError, AuthErrorCode } from './errors.js';
import { aliceIdentity } from '../testkit/auth-fixtures.js';
import { silentLogger } from './types.js';

// The Analyst identity without its session and role names: each test adds the ones it needs.
const { sessionName: _sessionName, roleName: _roleName, ...base } = aliceIdentity;

test('roleSessionName: own session or user name, reduced to [\\w+=,.@-], 2..64 characters', () => {
  assert.equal(roleSessionName({ ...base, sessionName: 'alice@example.com' }), 'alice@example.com');
  assert.equal(roleSessionName({ ...base, sessionName: 'Alice Smith/ü:#1' }), 'AliceSmith1');
  assert.equal(roleSessionName({ ...base, principalType: 'user', userName: 'bob' }), 'bob');
  assert.equal(roleSessionName({ ...base, sessionName: 'x'.repeat(100) }), 'x'.repeat(64));
  assert.equal(roleSessionName({ ...base, sessionName: 'a' }), 'a_');
  assert.equal(roleSessionName({ ...base, sessionName: '!!!' }), '__');
});

test('dbRolesTagValue: colon-joined, at most 256 characters', () => {
  assert.equal(dbRolesTagValue(['analysts', 'bi']), 'analysts:bi');
  assert.equal(dbRolesTagValue(['g'.repeat(256)]).length, 256);
  assert.throws(() => dbRolesTagValue(['g'.repeat(200), 'h'.repeat(60)]), (err: unknown) => err instanceof AuthError && err.code === AuthErrorCode.CredentialsFailed);
});

const assumeOk = `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>ASIAROLEEXAMPLE00001</AccessKeyId><SecretAccessKey>roleSecret</SecretAccessKey><SessionToken>roleToken</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/lake-bi/alice</Arn><AssumedRoleId>AROAX:alice</AssumedRoleId></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>`;

test('AssumeRole over the SDK: RoleSessionName and RedshiftDbRoles tag on the wire; errors mapped', async () => {
  await using stub = await startAwsStub();
  const api = createAssumeRoleApi({ logger: silentLogger, endpoint: stub.url, credentials: { accessKeyId: 'AKIAPROXYEXAMPLE0001', secretAccessKey: 's' } });
  stub.reply({ status: 200, body: assumeOk });
  const c = await api.assumeRole('eu-west-1', { roleArn: 'arn:aws:iam::123456789012:role/lake-bi', sessionName: 'alice', dbGroups: ['analysts', 'bi'] });
  assert.deepEqual(c, { accessKeyId: 'ASIAROLEEXAMPLE00001', secretAccessKey: 'roleSecret', sessionToken: 'roleToken', expiresAtMs: Date.parse('2030-01-01T00:00:00Z') });
  const f = stub.requests[0]?.form;
  assert.equal(f?.get('Action'), 'AssumeRole');
  assert.equal(f?.get('RoleArn'), 'arn:aws:iam::123456789012:role/lake-bi');
  assert.equal(f?.get('RoleSessionName'), 'alice');
  assert.equal(f?.get('Tags.member.1.Key'), 'RedshiftDbRoles');
  assert.equal(f?.get('Tags.member.1.Value'), 'analysts:bi');
  assert.match(String(stub.requests[0]?.headers['authorization']), /\/eu-west-1\/sts\/aws4_request/);

  stub.reply({ status: 200, body: assumeOk });
  await api.assumeRole('eu-west-1', { roleArn: 'arn:aws:iam::123456789012:role/lake-bi', sessionName: 'alice', dbGroups: [] });
  assert.equal([...(stub.requests[1]?.form.keys() ?? [])].some((k) => k.startsWith('Tags')), false);

  stub.reply({ status: 403, body: queryError('AccessDenied', 'not authorized to perform: sts:AssumeRole') });
  await assert.rejects(api.assumeRole('eu-west-1', { roleArn: 'arn:aws:iam::123456789012:role/x', sessionName: 'alice', dbGroups: [] }), (err: unknown) =>
    err instanceof AuthError && err.code === AuthErrorCode.CredentialsFailed && err.message.startsWith('sts:AssumeRole on arn:aws:iam::123456789012:role/x failed: AccessDenied'));
  stub.reply({ status: 400, body: queryError('Throttling', 'Rate exceeded') });
  await assert.rejects(api.assumeRole('eu-west-1', { roleArn: 'arn:aws:iam::123456789012:role/x', sessionName: 'alice', dbGroups: [] }), (err: unknown) =>
    err instanceof AuthError && err.code === AuthErrorCode.CredentialsThrottled);
  api.destroy();
});

test('role credentials: cached per (role, session, tags) until 5 minutes before expiry, single-flight', async () => {
  const clock = { t: 1_000_000_000, nowMs() { return this.t; } };
  const calls: AssumeRoleRequest[] = [];
  const fake: AssumeRoleApi = {
    async assumeRole(_region, req) {
      calls.push(req);
      await new Promise((r) => setImmediate(r));
      return { accessKeyId: `ASIA${calls.length}`, secretAccessKey: 's', expiresAtMs: clock.t + 3600_000 };
    },
  };
  const source = createRoleCredentialSource({ api: fake, clock });
  const req = { roleArn: 'arn:aws:iam::1:role/r', sessionName: 'alice', dbGroups: ['bi'] };
  const many = await Promise.all(Array.from({ length: 20 }, () => source.get('eu-west-1', req)));
  assert.ok(many.every((c) => c.accessKeyId === 'ASIA1'));
  assert.equal(calls.length, 1);
  await source.get('eu-west-1', { ...req, sessionName: 'bob' });
  await source.get('eu-west-1', { ...req, dbGroups: ['bi', 'x'] });
  assert.equal(calls.length, 3);
  clock.t += 3600_000 - 300_001;
  assert.equal((await source.get('eu-west-1', req)).accessKeyId, 'ASIA1');
  clock.t += 2;
  assert.equal((await source.get('eu-west-1', req)).accessKeyId, 'ASIA4');
  source.retainRoles(() => false);
  await source.get('eu-west-1', req);
  assert.equal(calls.length, 5);
});
