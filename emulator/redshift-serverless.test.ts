import { test } from 'node:test';
import assert from 'node:assert/strict';
import { handleServerless, parseJsonBody, type EmulatorWorkgroup, type ServerlessDeps } from './redshift-serverless.js';
import type { CallContext } from './redshift.js';
import type { PrincipalRecord } from './principals.js';
import type { CallerLoginRequest, UpstreamAdmin } from './upstream-admin.js';

const nowMs = Date.UTC(2026, 10, 24, 10, 15, 0);
const role: PrincipalRecord = { accessKeyId: 'ASIAEXAMPLEEXAMPLE01', secretAccessKey: 's', arn: 'arn:aws:sts::123456789012:assumed-role/rsproxy-lake-bi/alice', accountId: '123456789012', userId: 'AROAX:alice', dbRoles: ['bi_readers', 'x'] };

function setup(principal: PrincipalRecord = role) {
  const calls: CallerLoginRequest[] = [];
  const admin: UpstreamAdmin = {
    async issueDbUserLogin() { throw new Error('not used'); },
    async issueCallerLogin(req) { calls.push(req); return []; },
    async close() {},
  };
  const workgroups = new Map<string, EmulatorWorkgroup>([['wg-analytics', { name: 'wg-analytics', host: '127.0.0.1', port: 5440 }]]);
  const deps: ServerlessDeps = { workgroups, admin, logger: { info() {}, warn() {} } };
  const ctx: CallContext = { principal, region: 'eu-west-1', nowMs, requestId: 'rid-2' };
  return { calls, deps, ctx };
}

test('GetWorkgroup: endpoint and AVAILABLE; unknown → 404 ResourceNotFoundException', async () => {
  const { deps, ctx } = setup();
  const r = await handleServerless('GetWorkgroup', { workgroupName: 'wg-analytics' }, deps, ctx);
  assert.equal(r.status, 200);
  assert.equal(r.contentType, 'application/x-amz-json-1.1');
  const wg = (JSON.parse(r.body) as { workgroup: { workgroupName: string; status: string; endpoint: { address: string; port: number } } }).workgroup;
  assert.deepEqual([wg.workgroupName, wg.status, wg.endpoint.address, wg.endpoint.port], ['wg-analytics', 'AVAILABLE', '127.0.0.1', 5440]);
  const nf = await handleServerless('GetWorkgroup', { workgroupName: 'nope' }, deps, ctx);
  assert.equal(nf.status, 404);
  assert.deepEqual(JSON.parse(nf.body), { __type: 'ResourceNotFoundException', message: 'Workgroup nope not found.' });
});

test('GetCredentials: IAMR:<role>, epoch-second timestamps, tag roles upstream', async () => {
  const { calls, deps, ctx } = setup();
  const r = await handleServerless('GetCredentials', { workgroupName: 'wg-analytics', dbName: 'dev', durationSeconds: 1800 }, deps, ctx);
  assert.equal(r.status, 200);
  const body = JSON.parse(r.body) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body), ['dbUser', 'dbPassword', 'expiration', 'nextRefreshTime']);
  assert.equal(body['dbUser'], 'IAMR:rsproxy-lake-bi');
  assert.match(String(body['dbPassword']), /^[A-Za-z0-9]{40}$/);
  assert.equal(body['expiration'], nowMs / 1000 + 1800);
  assert.equal(body['nextRefreshTime'], nowMs / 1000 + 900);
  assert.deepEqual(calls.map((c) => [c.loginUser, c.roles, c.validUntil.getTime()]), [['IAMR:rsproxy-lake-bi', ['bi_readers', 'x'], nowMs + 1_800_000]]);
});

test('GetCredentials validation → 400 ValidationException; unknown workgroup → 404', async () => {
  const { deps, ctx } = setup();
  for (const input of [{}, { dbName: 'dev' }, { workgroupName: 'wg-analytics', durationSeconds: 899 }, { workgroupName: 'wg-analytics', durationSeconds: 3601 }, { workgroupName: 'wg-analytics', durationSeconds: '900' }]) {
    const r = await handleServerless('GetCredentials', input, deps, ctx);
    assert.equal(r.status, 400, JSON.stringify(input));
    assert.equal((JSON.parse(r.body) as { __type: string }).__type, 'ValidationException');
  }
  assert.equal((await handleServerless('GetCredentials', { workgroupName: 'nope' }, deps, ctx)).status, 404);
});

test('IAM user caller → IAM:<user>; root → 403 AccessDeniedException', async () => {
  const u = setup({ ...role, arn: 'arn:aws:iam::123456789012:user/proxy' });
  assert.equal((JSON.parse((await handleServerless('GetCredentials', { workgroupName: 'wg-analytics' }, u.deps, u.ctx)).body) as { dbUser: string }).dbUser, 'IAM:proxy');
  const root = setup({ ...role, arn: 'arn:aws:iam::123456789012:root' });
  const r = await handleServerless('GetCredentials', { workgroupName: 'wg-analytics' }, root.deps, root.ctx);
  assert.equal(r.status, 403);
  assert.equal((JSON.parse(r.body) as { __type: string }).__type, 'AccessDeniedException');
});

test('parseJsonBody accepts objects and empty bodies only', () => {
  assert.deepEqual(parseJsonBody(Buffer.from('')), {});
  assert.deepEqual(parseJsonBody(Buffer.from('{"a":1}')), { a: 1 });
  assert.equal(typeof parseJsonBody(Buffer.from('[1]')), 'string');
  assert.equal(typeof parseJsonBody(Buffer.from('{')), 'string');
});
