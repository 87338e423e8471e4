/** Drives the AWS emulator with the real AWS SDK clients (protocol fidelity) and checks its upstream effect on PostgreSQL. */
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DescribeClustersCommand, GetClusterCredentialsCommand, GetClusterCredentialsWithIAMCommand, RedshiftClient } from '@aws-sdk/client-redshift';
import { GetCredentialsCommand, GetWorkgroupCommand, RedshiftServerlessClient } from '@aws-sdk/client-redshift-serverless';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpRequest } from '@smithy/protocol-http';
import { Sha256 } from '@aws-crypto/sha256-js';
import pg from 'pg';
import { startEmulator, type DbUserLoginRequest, type Emulator, type EmulatorOptions, type EmulatorPrincipal, type UpstreamAdmin } from '../../emulator/index.js';
import { requirePg, startPgCluster } from '../../testkit/pg-cluster.js';
import { httpGet, type HttpAnswer } from '../../testkit/http-get.js';

const region = 'eu-west-1';
const proxyPrincipal: EmulatorPrincipal = {
  accessKeyId: 'AKIAPROXYEXAMPLE0001',
  secretAccessKey: 'proxySecretKeyExample/0123456789abcdefghij',
  arn: 'arn:aws:iam::123456789012:user/rsproxy',
  accountId: '123456789012',
  userId: 'AIDAPROXYEXAMPLE0001',
};
const limitedPrincipal: EmulatorPrincipal = {
  ...proxyPrincipal,
  accessKeyId: 'AKIALIMITEDEXAMPLE01',
  allowedDbUsers: ['alice'],
};

function baseOptions(extra: Partial<EmulatorOptions> = {}): EmulatorOptions {
  return {
    principals: [proxyPrincipal, limitedPrincipal],
    clusters: [
      { identifier: 'analytics-prod', host: '127.0.0.1', port: 5439 },
      { identifier: 'creating', host: '127.0.0.1', port: 5439, status: 'creating', hasEndpoint: false },
    ],
    workgroups: [{ name: 'wg-analytics', host: '127.0.0.1', port: 5440 }],
    ...extra,
  };
}

interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

function creds(p: { accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined }): Creds {
  return { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey, ...(p.sessionToken !== undefined ? { sessionToken: p.sessionToken } : {}) };
}

const redshift = (emu: Emulator, c: Creds = creds(proxyPrincipal)) => new RedshiftClient({ region, endpoint: emu.url, credentials: c, maxAttempts: 1 });
const serverless = (emu: Emulator, c: Creds = creds(proxyPrincipal)) => new RedshiftServerlessClient({ region, endpoint: emu.url, credentials: c, maxAttempts: 1 });
const sts = (emu: Emulator, c: Creds = creds(proxyPrincipal)) => new STSClient({ region, endpoint: emu.url, credentials: c, maxAttempts: 1 });

async function errorOf(p: Promise<unknown>): Promise<{ name: string; status: number | undefined; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
  throw new Error('expected the call to fail');
}

test('SDK: DescribeClusters and GetClusterCredentials (DbGroups list encoding, prefixes, Date parsing)', async () => {
  const seen: DbUserLoginRequest[] = [];
  const fakeAdmin: UpstreamAdmin = {
    async issueDbUserLogin(req) {
      seen.push(req);
      return 'issued';
    },
    async issueCallerLogin() {
      return [];
    },
    async close() {},
  };
  await using emu = await startEmulator(baseOptions({ upstreamAdmin: fakeAdmin }));
  const client = redshift(emu);
  const d = await client.send(new DescribeClustersCommand({ ClusterIdentifier: 'analytics-prod' }));
  assert.equal(d.Clusters?.[0]?.ClusterIdentifier, 'analytics-prod');
  assert.equal(d.Clusters?.[0]?.ClusterStatus, 'available');
  assert.deepEqual(d.Clusters?.[0]?.Endpoint, { Address: '127.0.0.1', Port: 5439 });
  const creating = await client.send(new DescribeClustersCommand({ ClusterIdentifier: 'creating' }));
  assert.equal(creating.Clusters?.[0]?.Endpoint, undefined);

  const before = Date.now();
  const c = await client.send(new GetClusterCredentialsCommand({
    ClusterIdentifier: 'analytics-prod', DbUser: 'alice', DbName: 'dev', DurationSeconds: 900, AutoCreate: true, DbGroups: ['analysts', 'bi'],
  }));
  assert.equal(c.DbUser, 'IAMA:alice');
  assert.match(c.DbPassword ?? '', /^[A-Za-z0-9]{32,}$/);
  assert.deepEqual(seen.map((r) => [r.baseUser, r.loginUser, r.autoCreate, r.groups, r.password === c.DbPassword]), [['alice', 'IAMA:alice', true, ['analysts', 'bi'], true]]);
  assert.ok(c.Expiration instanceof Date);
  const expMs = c.Expiration.getTime();
  assert.ok(expMs >= Math.floor(before / 1000) * 1000 + 900_000 && expMs <= Date.now() + 900_000, String(c.Expiration));
  const plain = await client.send(new GetClusterCredentialsCommand({ ClusterIdentifier: 'analytics-prod', DbUser: 'carol' }));
  assert.equal(plain.DbUser, 'IAM:carol');
  assert.equal(emu.counters.get('GetClusterCredentials', 'ok'), 2);
  assert.equal(emu.counters.get('DescribeClusters', 'ok'), 2);
});

test('SDK: Redshift errors surface as the SDK error names', async () => {
  await using emu = await startEmulator(baseOptions());
  const client = redshift(emu);
  const nf = await errorOf(client.send(new DescribeClustersCommand({ ClusterIdentifier: 'nope' })));
  assert.deepEqual([nf.name, nf.status], ['ClusterNotFoundFault', 404]);
  const nf2 = await errorOf(client.send(new GetClusterCredentialsCommand({ ClusterIdentifier: 'nope', DbUser: 'alice' })));
  assert.deepEqual([nf2.name, nf2.status], ['ClusterNotFoundFault', 404]);
  const inv = await errorOf(client.send(new GetClusterCredentialsCommand({ ClusterIdentifier: 'analytics-prod', DbUser: 'alice', DbGroups: ['Analysts'] })));
  assert.deepEqual([inv.name, inv.status], ['InvalidParameterValue', 400]);
  const dur = await errorOf(client.send(new GetClusterCredentialsCommand({ ClusterIdentifier: 'analytics-prod', DbUser: 'alice', DurationSeconds: 60 })));
  assert.deepEqual([dur.name, dur.status], ['InvalidParameterValue', 400]);
  const denied = await errorOf(redshift(emu, creds(limitedPrincipal)).send(new GetClusterCredentialsCommand({ ClusterIdentifier: 'analytics-prod', DbUser: 'admin' })));
  assert.deepEqual([denied.name, denied.status], ['AccessDenied', 403]);
  assert.match(denied.message, /redshift:GetClusterCredentials on resource: arn:aws:redshift:eu-west-1:123456789012:dbuser:analytics-prod\/admin/);
  emu.faults.set('GetClusterCredentials', { throttleAbovePerSecond: 0, failTimes: 1 });
  const thr = await errorOf(client.send(new GetClusterCredentialsCommand({ ClusterIdentifier: 'analytics-prod', DbUser: 'alice' })));
  assert.deepEqual([thr.name, thr.status, thr.message], ['Throttling', 400, 'Rate exceeded']);
  emu.faults.set('DescribeClusters', { status5xx: 503, failTimes: 1 });
  const s5 = await errorOf(client.send(new DescribeClustersCommand({ ClusterIdentifier: 'analytics-prod' })));
  assert.equal(s5.status, 503);
  const badKey = await errorOf(redshift(emu, { ...creds(proxyPrincipal), secretAccessKey: 'wrong' }).send(new DescribeClustersCommand({})));
  assert.deepEqual([badKey.name, badKey.status], ['SignatureDoesNotMatch', 403]);
  const unknownKey = await errorOf(redshift(emu, { accessKeyId: 'AKIAUNKNOWNEXAMPLE01', secretAccessKey: 'x' }).send(new DescribeClustersCommand({})));
  assert.deepEqual([unknownKey.name, unknownKey.status], ['InvalidClientTokenId', 403]);
  assert.equal(emu.counters.get('GetClusterCredentials', 'Throttling'), 1);
  assert.equal(emu.counters.get('GetClusterCredentials', 'AccessDenied'), 1);
});

test('SDK: Serverless GetWorkgroup and GetCredentials (epoch timestamps → Dates) and its errors', async () => {
  await using emu = await startEmulator(baseOptions());
  const client = serverless(emu);
  const wg = await client.send(new GetWorkgroupCommand({ workgroupName: 'wg-analytics' }));
  assert.equal(wg.workgroup?.status, 'AVAILABLE');
  assert.equal(wg.workgroup?.endpoint?.address, '127.0.0.1');
  assert.equal(wg.workgroup?.endpoint?.port, 5440);
  assert.ok(wg.workgroup?.creationDate instanceof Date);
  const c = await client.send(new GetCredentialsCommand({ workgroupName: 'wg-analytics', dbName: 'dev', durationSeconds: 900 }));
  assert.equal(c.dbUser, 'IAM:rsproxy');
  assert.ok(c.expiration instanceof Date && c.nextRefreshTime instanceof Date);
  assert.ok(Math.abs(c.expiration.getTime() - (Date.now() + 900_000)) < 5000);
  const nf = await errorOf(client.send(new GetWorkgroupCommand({ workgroupName: 'nope' })));
  assert.deepEqual([nf.name, nf.status], ['ResourceNotFoundException', 404]);
  const val = await errorOf(client.send(new GetCredentialsCommand({ dbName: 'dev' })));
  assert.deepEqual([val.name, val.status], ['ValidationException', 400]);
  const dur = await errorOf(client.send(new GetCredentialsCommand({ workgroupName: 'wg-analytics', durationSeconds: 4000 })));
  assert.equal(dur.name, 'ValidationException');
  emu.faults.set('GetCredentials', { throttleAbovePerSecond: 0, failTimes: 1 });
  const thr = await errorOf(client.send(new GetCredentialsCommand({ workgroupName: 'wg-analytics' })));
  assert.equal(thr.name, 'ThrottlingException');
  const bad = await errorOf(serverless(emu, { ...creds(proxyPrincipal), secretAccessKey: 'wrong' }).send(new GetWorkgroupCommand({ workgroupName: 'wg-analytics' })));
  assert.equal(bad.status, 403);
  assert.equal(emu.counters.get('GetCredentials', 'ThrottlingException'), 1);
});

test('SDK: AssumeRole with tags, then GetCredentials and WithIAM as the role → IAMR:<role>', async () => {
  await using emu = await startEmulator(baseOptions());
  const out = await sts(emu).send(new AssumeRoleCommand({
    RoleArn: 'arn:aws:iam::123456789012:role/rsproxy-lake-bi',
    RoleSessionName: 'alice',
    DurationSeconds: 900,
    Tags: [{ Key: 'RedshiftDbRoles', Value: 'bi_readers:analysts' }],
  }));
  assert.match(out.Credentials?.AccessKeyId ?? '', /^ASIA[A-Z0-9]{16}$/);
  assert.ok(out.Credentials?.Expiration instanceof Date);
  assert.equal(out.AssumedRoleUser?.Arn, 'arn:aws:sts::123456789012:assumed-role/rsproxy-lake-bi/alice');
  assert.match(out.AssumedRoleUser?.AssumedRoleId ?? '', /^AROA[A-Z0-9]+:alice$/);
  const roleCreds = creds({ accessKeyId: out.Credentials?.AccessKeyId ?? '', secretAccessKey: out.Credentials?.SecretAccessKey ?? '', sessionToken: out.Credentials?.SessionToken });
  const c = await serverless(emu, roleCreds).send(new GetCredentialsCommand({ workgroupName: 'wg-analytics' }));
  assert.equal(c.dbUser, 'IAMR:rsproxy-lake-bi');
  const w = await redshift(emu, roleCreds).send(new GetClusterCredentialsWithIAMCommand({ ClusterIdentifier: 'analytics-prod', DbName: 'dev' }));
  assert.equal(w.DbUser, 'IAMR:rsproxy-lake-bi');
  assert.ok(w.NextRefreshTime instanceof Date);
  const noToken = await errorOf(serverless(emu, { accessKeyId: roleCreds.accessKeyId, secretAccessKey: roleCreds.secretAccessKey }).send(new GetWorkgroupCommand({ workgroupName: 'wg-analytics' })));
  assert.deepEqual([noToken.name, noToken.status], ['UnrecognizedClientException', 403]);
  const badRole = await errorOf(sts(emu).send(new AssumeRoleCommand({ RoleArn: 'not-an-arn', RoleSessionName: 'alice' })));
  assert.deepEqual([badRole.name, badRole.status], ['ValidationError', 400]);
  assert.equal(emu.counters.get('AssumeRole', 'ok'), 1);
});

function presignedGet(emu: Emulator, url: string, signedHost: string, audience: string): Promise<HttpAnswer> {
  const path = url.slice(url.indexOf('/', 'https://'.length));
  return httpGet({ host: '127.0.0.1', port: emu.port, path, headers: { host: signedHost, 'x-rsproxy-audience': audience, accept: 'application/json' } });
}

async function presign(c: Creds, audience: string): Promise<string> {
  const host = `sts.${region}.amazonaws.com`;
  const signer = new SignatureV4({ service: 'sts', region, credentials: c, sha256: Sha256 });
  const req = new HttpRequest({ method: 'GET', protocol: 'https:', hostname: host, path: '/', query: { Action: 'GetCallerIdentity', Version: '2011-06-15' }, headers: { host, 'x-rsproxy-audience': audience } });
  const signed = await signer.presign(req, { expiresIn: 900 });
  const query = Object.entries(signed.query ?? {}).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&');
  return `https://${host}/?${query}`;
}

test('@smithy/signature-v4 presigned GetCallerIdentity is accepted; wrong secret or audience → 403', async () => {
  await using emu = await startEmulator(baseOptions());
  const host = `sts.${region}.amazonaws.com`;
  const good = await presignedGet(emu, await presign(creds(proxyPrincipal), 'rsproxy:prod'), host, 'rsproxy:prod');
  assert.equal(good.status, 200, good.body);
  assert.deepEqual(JSON.parse(good.body).GetCallerIdentityResponse.GetCallerIdentityResult, { Account: '123456789012', Arn: proxyPrincipal.arn, UserId: proxyPrincipal.userId });
  const wrongSecret = await presignedGet(emu, await presign({ ...creds(proxyPrincipal), secretAccessKey: 'wrong' }, 'rsproxy:prod'), host, 'rsproxy:prod');
  assert.equal(wrongSecret.status, 403);
  assert.equal(JSON.parse(wrongSecret.body).Error.Code, 'SignatureDoesNotMatch');
  const wrongAudience = await presignedGet(emu, await presign(creds(proxyPrincipal), 'rsproxy:staging'), host, 'rsproxy:prod');
  assert.equal(wrongAudience.status, 403);
  assert.equal(emu.lastStsRequest?.headers['x-rsproxy-audience'], 'rsproxy:prod');
  // Temporary credentials from AssumeRole work for presigned tokens too.
  const out = await sts(emu).send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::123456789012:role/Analyst', RoleSessionName: 'bob' }));
  const roleCreds = creds({ accessKeyId: out.Credentials?.AccessKeyId ?? '', secretAccessKey: out.Credentials?.SecretAccessKey ?? '', sessionToken: out.Credentials?.SessionToken });
  const asRole = await presignedGet(emu, await presign(roleCreds, 'rsproxy:prod'), host, 'rsproxy:prod');
  assert.equal(asRole.status, 200, asRole.body);
  assert.equal(JSON.parse(asRole.body).GetCallerIdentityResponse.GetCallerIdentityResult.Arn, 'arn:aws:sts::123456789012:assumed-role/Analyst/bob');
  assert.equal(emu.counters.get('GetCallerIdentity', 'ok'), 2);
  assert.equal(emu.counters.get('GetCallerIdentity', 'SignatureDoesNotMatch'), 2);
});

test('upstream effect on PostgreSQL: returned credentials log in over TLS; wrong password, missing user and expiry fail', async (t) => {
  if (!requirePg(t)) return;
  await using cluster = await startPgCluster();
  const ssl = { ca: cluster.caPem };
  await cluster.query('CREATE ROLE analysts NOLOGIN; CREATE ROLE bi NOLOGIN; CREATE ROLE bi_readers NOLOGIN; CREATE ROLE carol NOLOGIN');
  const login = async (user: string, password: string): Promise<string> => {
    const c = new pg.Client({ host: cluster.host, port: cluster.port, user, password, database: 'postgres', ssl });
    await c.connect();
    try {
      return (await c.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u ?? '';
    } finally {
      await c.end();
    }
  };
  const memberships = async (role: string): Promise<string[]> =>
    (await cluster.query(
      'SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1 ORDER BY 1',
      [role],
    )).rows.map((r: { rolname: string }) => r.rolname);

  await using emu = await startEmulator(baseOptions({
    clusters: [{ identifier: 'analytics-prod', host: cluster.host, port: cluster.port }],
    upstreamAdmin: { connectionString: cluster.url(), ssl },
  }));
  const client = redshift(emu);
  const c = await client.send(new GetClusterCredentialsCommand({ ClusterIdentifier: 'analytics-prod', DbUser: 'alice', DbName: 'postgres', AutoCreate: true, DbGroups: ['analysts', 'bi'] }));
  assert.equal(await login('IAMA:alice', c.DbPassword ?? ''), 'IAMA:alice');
  assert.deepEqual(await memberships('IAMA:alice'), ['alice', 'analysts', 'bi']);
  assert.equal((await cluster.query("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'alice'")).rows[0]?.rolcanlogin, false);
  await assert.rejects(login('IAMA:alice', 'wrong-password'), /password authentication failed/);

  // Memberships become exactly base + requested groups; a new password replaces the old one.
  const c2 = await client.send(new GetClusterCredentialsCommand({ ClusterIdentifier: 'analytics-prod', DbUser: 'alice', AutoCreate: true, DbGroups: ['bi'] }));
  assert.deepEqual(await memberships('IAMA:alice'), ['alice', 'bi']);
  assert.equal(await login('IAMA:alice', c2.DbPassword ?? ''), 'IAMA:alice');
  await assert.rejects(login('IAMA:alice', c.DbPassword ?? ''), /password authentication failed/);

  // A missing group is a 400 and changes nothing.
  const missing = await errorOf(client.send(new GetClusterCredentialsCommand({ ClusterIdentifier: 'analytics-prod', DbUser: 'alice', AutoCreate: true, DbGroups: ['ghosts'] })));
  assert.deepEqual([missing.name, missing.status], ['InvalidParameterValue', 400]);
  assert.equal(await login('IAMA:alice', c2.DbPassword ?? ''), 'IAMA:alice');

  // AutoCreate=false: existing user → IAM:carol member of carol; missing user → success but no login role.
  const carol = await client.send(new GetClusterCredentialsCommand({ ClusterIdentifier: 'analytics-prod', DbUser: 'carol' }));
  assert.equal(await login('IAM:carol', carol.DbPassword ?? ''), 'IAM:carol');
  assert.deepEqual(await memberships('IAM:carol'), ['carol']);
  const dave = await client.send(new GetClusterCredentialsCommand({ ClusterIdentifier: 'analytics-prod', DbUser: 'dave' }));
  assert.equal(dave.DbUser, 'IAM:dave');
  await assert.rejects(login('IAM:dave', dave.DbPassword ?? ''), /password authentication failed/);
  assert.equal((await cluster.query("SELECT 1 FROM pg_roles WHERE rolname IN ('dave', 'IAM:dave')")).rowCount, 0);

  // Serverless as an assumed role: IAMR:<role> with the RedshiftDbRoles grants (missing roles skipped).
  emu.addWorkgroup({ name: 'wg-pg', host: cluster.host, port: cluster.port });
  const out = await sts(emu).send(new AssumeRoleCommand({
    RoleArn: 'arn:aws:iam::123456789012:role/rsproxy-lake-bi', RoleSessionName: 'alice', Tags: [{ Key: 'RedshiftDbRoles', Value: 'bi_readers:nosuchrole' }],
  }));
  const roleCreds = creds({ accessKeyId: out.Credentials?.AccessKeyId ?? '', secretAccessKey: out.Credentials?.SecretAccessKey ?? '', sessionToken: out.Credentials?.SessionToken });
  const sc = await serverless(emu, roleCreds).send(new GetCredentialsCommand({ workgroupName: 'wg-pg' }));
  assert.equal(await login('IAMR:rsproxy-lake-bi', sc.dbPassword ?? ''), 'IAMR:rsproxy-lake-bi');
  assert.deepEqual(await memberships('IAMR:rsproxy-lake-bi'), ['bi_readers']);
});

test('upstream effect: a password past VALID UNTIL no longer logs in', async (t) => {
  if (!requirePg(t)) return;
  await using cluster = await startPgCluster();
  const ssl = { ca: cluster.caPem };
  // The emulator's clock runs 15 min − 3 s behind: the SDK's signature is still inside the
  // 15-minute window, and the minimum 900 s credential expires about 3 s from now.
  const lagMs = 15 * 60_000 - 3000;
  await using emu = await startEmulator(baseOptions({
    nowMs: () => Date.now() - lagMs,
    clusters: [{ identifier: 'analytics-prod', host: cluster.host, port: cluster.port }],
    upstreamAdmin: { connectionString: cluster.url(), ssl },
  }));
  const c = await redshift(emu).send(new GetClusterCredentialsCommand({ ClusterIdentifier: 'analytics-prod', DbUser: 'erin', AutoCreate: true, DurationSeconds: 900 }));
  const connect = async () => {
    const client = new pg.Client({ host: cluster.host, port: cluster.port, user: c.DbUser, password: c.DbPassword, database: 'postgres', ssl });
    await client.connect();
    await client.end();
  };
  await connect();
  const waitMs = (c.Expiration?.getTime() ?? 0) - Date.now() + 1200;
  assert.ok(waitMs > 0 && waitMs < 6000, `unexpected wait ${waitMs}`);
  await new Promise((r) => setTimeout(r, waitMs));
  await assert.rejects(connect(), /password authentication failed/);
});
