import { test } from 'node:test';
import assert from 'node:assert/strict';
import { handleRedshift, newDbPassword, type CallContext, type EmulatorCluster, type RedshiftDeps } from './redshift.js';
import { MissingGroupError, type CallerLoginRequest, type DbUserLoginRequest, type UpstreamAdmin } from './upstream-admin.js';
import type { PrincipalRecord } from './principals.js';

const nowMs = Date.UTC(2026, 10, 24, 10, 15, 0, 500);
const user: PrincipalRecord = { accessKeyId: 'AKIAEXAMPLEEXAMPLE01', secretAccessKey: 's', arn: 'arn:aws:iam::123456789012:user/proxy', accountId: '123456789012', userId: 'AIDAEXAMPLE' };
const role: PrincipalRecord = { ...user, accessKeyId: 'ASIAEXAMPLEEXAMPLE01', arn: 'arn:aws:sts::123456789012:assumed-role/rsproxy-bi/alice', userId: 'AROAX:alice', dbRoles: ['bi_readers'] };

class FakeAdmin implements UpstreamAdmin {
  dbUserCalls: DbUserLoginRequest[] = [];
  callerCalls: CallerLoginRequest[] = [];
  existing = new Set(['alice', 'analysts', 'bi']);
  async issueDbUserLogin(req: DbUserLoginRequest) {
    this.dbUserCalls.push(req);
    const missing = req.groups.find((g) => !this.existing.has(g));
    if (missing !== undefined) throw new MissingGroupError(missing);
    return this.existing.has(req.baseUser) || req.autoCreate ? ('issued' as const) : ('base_missing' as const);
  }
  async issueCallerLogin(req: CallerLoginRequest) {
    this.callerCalls.push(req);
    return [];
  }
  async close() {}
}

function setup(principal: PrincipalRecord = user) {
  const admin = new FakeAdmin();
  const clusters = new Map<string, EmulatorCluster>([
    ['analytics-prod', { identifier: 'analytics-prod', host: '127.0.0.1', port: 5439 }],
    ['creating', { identifier: 'creating', host: 'x', port: 1, status: 'creating', hasEndpoint: false }],
  ]);
  const deps: RedshiftDeps = { clusters, admin, logger: { info() {}, warn() {} } };
  const ctx: CallContext = { principal, region: 'eu-west-1', nowMs, requestId: 'rid-1' };
  return { admin, deps, ctx };
}

function form(s: string): Map<string, string> {
  return new Map(new URLSearchParams(`Version=2012-12-01&${s}`));
}

test('GetClusterCredentials: IAMA: prefix, password, expiration = now + duration, upstream call', async () => {
  const { admin, deps, ctx } = setup();
  const r = await handleRedshift('GetClusterCredentials', form('DbUser=alice&DbName=dev&ClusterIdentifier=analytics-prod&DurationSeconds=900&AutoCreate=true&DbGroups.DbGroup.1=analysts&DbGroups.DbGroup.2=bi'), deps, ctx);
  assert.equal(r.status, 200);
  assert.equal(r.contentType, 'text/xml');
  const m = /^<GetClusterCredentialsResponse xmlns="http:\/\/redshift\.amazonaws\.com\/doc\/2012-12-01\/"><GetClusterCredentialsResult><DbUser>IAMA:alice<\/DbUser><DbPassword>([A-Za-z0-9]{40})<\/DbPassword><Expiration>2026-11-24T10:30:00Z<\/Expiration><\/GetClusterCredentialsResult><ResponseMetadata><RequestId>rid-1<\/RequestId><\/ResponseMetadata><\/GetClusterCredentialsResponse>\n$/.exec(r.body);
  assert.ok(m, r.body);
  assert.equal(admin.dbUserCalls.length, 1);
  assert.deepEqual({ ...admin.dbUserCalls[0], password: '' }, {
    baseUser: 'alice', loginUser: 'IAMA:alice', password: '', validUntil: new Date('2026-11-24T10:30:00Z'), autoCreate: true, groups: ['analysts', 'bi'],
  });
  assert.equal(admin.dbUserCalls[0]?.password, m[1]);
});

test('GetClusterCredentials: AutoCreate omitted → IAM: prefix, default 900 s', async () => {
  const { deps, ctx } = setup();
  const r = await handleRedshift('GetClusterCredentials', form('DbUser=carol&ClusterIdentifier=analytics-prod'), deps, ctx);
  assert.equal(r.status, 200);
  assert.match(r.body, /<DbUser>IAM:carol<\/DbUser>/);
  assert.match(r.body, /<Expiration>2026-11-24T10:30:00Z<\/Expiration>/);
});

test('GetClusterCredentials validation → 400 InvalidParameterValue', async () => {
  const bad = [
    'ClusterIdentifier=analytics-prod',
    'DbUser=PUBLIC&ClusterIdentifier=analytics-prod',
    'DbUser=a:b&ClusterIdentifier=analytics-prod',
    'DbUser=1abc&ClusterIdentifier=analytics-prod',
    `DbUser=${'a'.repeat(65)}&ClusterIdentifier=analytics-prod`,
    'DbUser=alice&DbName=Dev&ClusterIdentifier=analytics-prod',
    'DbUser=alice&DbGroups.DbGroup.1=Analysts&ClusterIdentifier=analytics-prod',
    'DbUser=alice&DurationSeconds=899&ClusterIdentifier=analytics-prod',
    'DbUser=alice&DurationSeconds=3601&ClusterIdentifier=analytics-prod',
    'DbUser=alice&DurationSeconds=abc&ClusterIdentifier=analytics-prod',
    'DbUser=alice&AutoCreate=yes&ClusterIdentifier=analytics-prod',
    'DbUser=alice',
  ];
  for (const b of bad) {
    const { admin, deps, ctx } = setup();
    const r = await handleRedshift('GetClusterCredentials', form(b), deps, ctx);
    assert.equal(r.status, 400, b);
    assert.equal(r.outcome, 'InvalidParameterValue', b);
    assert.match(r.body, /^<ErrorResponse xmlns="http:\/\/redshift\.amazonaws\.com\/doc\/2012-12-01\/"><Error><Type>Sender<\/Type><Code>InvalidParameterValue<\/Code><Message>[^<]+<\/Message><\/Error><RequestId>rid-1<\/RequestId><\/ErrorResponse>/);
    assert.equal(admin.dbUserCalls.length, 0, b);
  }
  const { deps, ctx } = setup();
  for (const d of ['900', '3600']) {
    assert.equal((await handleRedshift('GetClusterCredentials', form(`DbUser=alice&DurationSeconds=${d}&ClusterIdentifier=analytics-prod`), deps, ctx)).status, 200);
  }
});

test('GetClusterCredentials: unknown cluster 404, missing group 400, allow-list 403', async () => {
  const { deps, ctx } = setup();
  const nf = await handleRedshift('GetClusterCredentials', form('DbUser=alice&ClusterIdentifier=nope'), deps, ctx);
  assert.equal(nf.status, 404);
  assert.match(nf.body, /<Code>ClusterNotFound<\/Code><Message>Cluster nope not found\.<\/Message>/);
  const mg = await handleRedshift('GetClusterCredentials', form('DbUser=alice&ClusterIdentifier=analytics-prod&DbGroups.DbGroup.1=ghosts'), deps, ctx);
  assert.equal(mg.status, 400);
  assert.match(mg.body, /InvalidParameterValue.*ghosts/);
  const limited = setup({ ...user, allowedDbUsers: ['alice'] });
  const denied = await handleRedshift('GetClusterCredentials', form('DbUser=admin&ClusterIdentifier=analytics-prod'), limited.deps, limited.ctx);
  assert.equal(denied.status, 403);
  assert.match(denied.body, /<Code>AccessDenied<\/Code><Message>User: arn:aws:iam::123456789012:user\/proxy is not authorized to perform: redshift:GetClusterCredentials on resource: arn:aws:redshift:eu-west-1:123456789012:dbuser:analytics-prod\/admin<\/Message>/);
  assert.equal((await handleRedshift('GetClusterCredentials', form('DbUser=alice&ClusterIdentifier=analytics-prod'), limited.deps, limited.ctx)).status, 200);
});

test('GetClusterCredentialsWithIAM derives IAMR:<role> with the tag roles and NextRefreshTime', async () => {
  const { admin, deps, ctx } = setup(role);
  const r = await handleRedshift('GetClusterCredentialsWithIAM', form('DbName=dev&ClusterIdentifier=analytics-prod&DurationSeconds=3600'), deps, ctx);
  assert.equal(r.status, 200);
  assert.match(r.body, /<DbUser>IAMR:rsproxy-bi<\/DbUser><DbPassword>[A-Za-z0-9]{40}<\/DbPassword><Expiration>2026-11-24T11:15:00Z<\/Expiration><NextRefreshTime>2026-11-24T11:00:00Z<\/NextRefreshTime>/);
  assert.deepEqual(admin.callerCalls.map((c) => [c.loginUser, c.roles]), [['IAMR:rsproxy-bi', ['bi_readers']]]);
  const u = setup(user);
  assert.match((await handleRedshift('GetClusterCredentialsWithIAM', form('ClusterIdentifier=analytics-prod'), u.deps, u.ctx)).body, /<DbUser>IAM:proxy<\/DbUser>/);
});

test('DescribeClusters: one, all, unknown, and no Endpoint while creating', async () => {
  const { deps, ctx } = setup();
  const one = await handleRedshift('DescribeClusters', form('ClusterIdentifier=analytics-prod'), deps, ctx);
  assert.match(one.body, /^<DescribeClustersResponse xmlns="http:\/\/redshift\.amazonaws\.com\/doc\/2012-12-01\/"><DescribeClustersResult><Clusters><Cluster><ClusterIdentifier>analytics-prod<\/ClusterIdentifier>.*<ClusterStatus>available<\/ClusterStatus>.*<Endpoint><Address>127\.0\.0\.1<\/Address><Port>5439<\/Port><\/Endpoint>.*<\/Cluster><\/Clusters><\/DescribeClustersResult><ResponseMetadata><RequestId>rid-1<\/RequestId><\/ResponseMetadata><\/DescribeClustersResponse>/);
  const all = await handleRedshift('DescribeClusters', form(''), deps, ctx);
  assert.equal(all.body.match(/<Cluster>/g)?.length, 2);
  const creating = await handleRedshift('DescribeClusters', form('ClusterIdentifier=creating'), deps, ctx);
  assert.match(creating.body, /<ClusterStatus>creating<\/ClusterStatus>/);
  assert.doesNotMatch(creating.body, /<Endpoint>/);
  const nf = await handleRedshift('DescribeClusters', form('ClusterIdentifier=nope'), deps, ctx);
  assert.equal(nf.status, 404);
});

test('wrong API version is rejected', async () => {
  const { deps, ctx } = setup();
  const r = await handleRedshift('DescribeClusters', new Map([['Version', '2011-06-15']]), deps, ctx);
  assert.equal(r.status, 400);
});

test('newDbPassword: 40 alphanumerics, fresh each time', () => {
  const a = newDbPassword();
  assert.match(a, /^[A-Za-z0-9]{40}$/);
  assert.notEqual(a, newDbPassword());
});

test('GetClusterCredentials with kept passwords: a still-valid password is handed out again and its VALID UNTIL extended; by default every call rotates', async () => {
  const call = (deps: RedshiftDeps, ctx: CallContext) =>
    handleRedshift('GetClusterCredentials', form('DbUser=alice&DbName=dev&ClusterIdentifier=analytics-prod&DurationSeconds=900&AutoCreate=true'), deps, ctx);
  const rotating = setup();
  await call(rotating.deps, rotating.ctx);
  await call(rotating.deps, rotating.ctx);
  assert.notEqual(rotating.admin.dbUserCalls[0]?.password, rotating.admin.dbUserCalls[1]?.password);

  const kept = setup();
  const deps: RedshiftDeps = { ...kept.deps, passwords: new Map() };
  await call(deps, kept.ctx);
  await call(deps, { ...kept.ctx, nowMs: nowMs + 300_000 });
  const [first, second] = kept.admin.dbUserCalls;
  assert.equal(second?.password, first?.password);
  assert.deepEqual(second?.validUntil, new Date('2026-11-24T10:35:00Z'));
  // Within a minute of its expiry a kept password is replaced, never handed out to expire under its new holder.
  await call(deps, { ...kept.ctx, nowMs: Date.UTC(2026, 10, 24, 10, 34, 30) });
  assert.notEqual(kept.admin.dbUserCalls[2]?.password, first?.password);
});
