import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AssumeRoleApi, AssumeRoleRequest } from './assume-role.js';
import type { AwsCredentials } from './aws-errors.js';
import { createAuthenticator, isKeyProducible, matchesReturnedUser } from './authenticator.js';
import { deadlineNowMs } from './deadline.js';
import { AuthError, AuthErrorCode } from './errors.js';
import type { ClusterCredentialsRequest, RedshiftApi } from './redshift-minter.js';
import type { ServerlessApi, WorkgroupCredentialsRequest } from './serverless-minter.js';
import { silentLogger, type AdmittedLogin, type AuthOptions, type AuthRequest, type Identity, type IdentityMapper, type MappedLogin, type TokenVerifier } from './types.js';

const region = 'eu-west-1';

function makeConfig(rulesOverride?: AuthOptions['rules']): AuthOptions {
  return {
    identity: { audience: 'rsproxy:test', partition: 'aws', stsRegions: [region], allowedAccounts: ['123456789012'], maxTokenAgeSeconds: 300, clockSkewSeconds: 60, allowRootAndFederated: false, acceptEksTokens: false },
    databases: {
      analytics: { cluster: 'analytics-prod', region, engine: 'redshift', dbName: 'dev', upstreamTls: { mode: 'verify-full', caFile: '/etc/ca.pem' } },
      fixed: { cluster: 'c2', host: '10.0.0.5', port: 5440, region, engine: 'postgres', dbName: 'fixed', upstreamTls: { mode: 'require' } },
      lake: { workgroup: 'wg-lake', region, engine: 'redshift', dbName: 'lake', upstreamTls: { mode: 'verify-full' } },
      shared: { workgroup: 'wg-shared', region, engine: 'redshift', dbName: 'dev', upstreamTls: { mode: 'verify-ca' } },
    },
    rules: rulesOverride ?? [
      { principal: 'arn:aws:iam::123456789012:role/Analyst', dbUser: '{sessionName}', dbGroups: ['bi', 'analysts'], databases: ['analytics', 'fixed'], autoCreate: true, trustSessionName: true },
      { principal: 'arn:aws:iam::123456789012:role/Analyst', dbGroups: ['readers', 'bi'], databases: ['lake'], autoCreate: false, trustSessionName: false, assumeRole: 'arn:aws:iam::123456789012:role/lake-bi' },
      { principal: 'arn:aws:iam::123456789012:role/Analyst', dbGroups: [], databases: ['shared'], autoCreate: false, trustSessionName: false },
      { principal: 'arn:aws:iam::123456789012:role/Ops', dbUser: 'ops', dbGroups: [], databases: ['analytics'], autoCreate: false, trustSessionName: false, assumeRole: 'arn:aws:iam::123456789012:role/ops-minter' },
    ],
    credentials: { durationSeconds: 900, refreshBeforeSeconds: 60 },
  };
}

function identityFor(session: string, role = 'Analyst'): Identity {
  return {
    partition: 'aws',
    accountId: '123456789012',
    canonicalArn: `arn:aws:iam::123456789012:role/${role}`,
    arn: `arn:aws:sts::123456789012:assumed-role/${role}/${session}`,
    principalType: 'assumed-role',
    userId: `AROAEXAMPLE:${session}`,
    roleName: role,
    sessionName: session,
    accessKeyId: 'ASIAEXAMPLEEXAMPLE01',
    stsRegion: region,
  };
}

/** Tokens are "tok:<session>:<role>"; the fake mapper grants by database like the rules above. */
function fakes() {
  const clock = { t: 1_700_000_000_000, nowMs() { return this.t; } };
  const calls = { verify: 0, describe: 0, gcc: [] as Array<{ req: ClusterCredentialsRequest; creds: AwsCredentials | undefined }>, workgroup: 0, gc: [] as Array<{ req: WorkgroupCredentialsRequest; creds: AwsCredentials | undefined }>, assume: [] as AssumeRoleRequest[] };
  const verifier: TokenVerifier = {
    async verify(token) {
      calls.verify++;
      const [kind, session, role] = token.split(':');
      if (kind !== 'tok' || session === undefined) throw new AuthError(AuthErrorCode.TokenMalformed, 'bad token');
      return identityFor(session, role);
    },
  };
  const makeMapper = (config: AuthOptions): IdentityMapper => ({
    map(identity, user, database) {
      const ruleIndex = config.rules.findIndex((r) => r.principal === identity.canonicalArn && (r.databases.includes(database) || r.databases.includes('*')));
      const rule = config.rules[ruleIndex];
      if (rule === undefined) throw new AuthError(AuthErrorCode.NoRule, 'no rule');
      const dbUser = rule.dbUser === '{sessionName}' ? identity.sessionName : rule.dbUser;
      if (config.databases[database]?.cluster !== undefined && dbUser !== user.replace(/^IAMA?:/, '')) throw new AuthError(AuthErrorCode.NoRule, 'no rule');
      const login: MappedLogin = { ruleIndex, database, dbGroups: rule.dbGroups, autoCreate: rule.autoCreate, ...(dbUser === undefined ? {} : { dbUser }), ...(rule.assumeRole === undefined ? {} : { assumeRole: rule.assumeRole }) };
      return login;
    },
  });
  // gccDelayMs: answer after that many real ms, failing like an SDK abort if the call's (moving) deadline passed meanwhile.
  // gccDeadlines: each call's deadline as it stood when the call ended.
  const behaviour = { gccError: undefined as (() => Error) | undefined, gccDelayMs: 0, gccDeadlines: [] as Array<number | undefined> };
  const redshift: RedshiftApi = {
    async describeClusterEndpoint(_region, clusterId) {
      calls.describe++;
      return { host: `${clusterId}.example.com`, port: 5439 };
    },
    async getClusterCredentials(_region, req, creds, callOpts) {
      calls.gcc.push({ req, creds });
      const deadlineMs = (): number | undefined => (callOpts?.deadlineMs === undefined ? undefined : deadlineNowMs(callOpts.deadlineMs));
      if (behaviour.gccDelayMs > 0) {
        await new Promise((resolve) => setTimeout(resolve, behaviour.gccDelayMs));
        if ((deadlineMs() ?? Infinity) - clock.t < behaviour.gccDelayMs) {
          behaviour.gccDeadlines.push(deadlineMs());
          throw new AuthError(AuthErrorCode.CredentialsUnavailable, 'redshift:GetClusterCredentials aborted at its deadline');
        }
      }
      behaviour.gccDeadlines.push(deadlineMs());
      if (behaviour.gccError !== undefined) throw behaviour.gccError();
      return { dbUser: `${req.autoCreate ? 'IAMA' : 'IAM'}:${req.dbUser}`, dbPassword: `pw-${calls.gcc.length}`, expiresAtMs: clock.t + req.durationSeconds * 1000 };
    },
  };
  const serverless: ServerlessApi = {
    async getWorkgroupEndpoint(_region, workgroup) {
      calls.workgroup++;
      return { host: `${workgroup}.serverless.example.com`, port: 5440 };
    },
    async getCredentials(_region, req, creds) {
      calls.gc.push({ req, creds });
      const caller = creds === undefined ? 'IAMR:rsproxy' : `IAMR:${creds.accessKeyId === 'ASIAROLE' ? 'lake-bi' : 'other'}`;
      return { dbUser: caller, dbPassword: `wg-pw-${calls.gc.length}`, expiresAtMs: clock.t + req.durationSeconds * 1000 };
    },
  };
  const assumeRole: AssumeRoleApi = {
    async assumeRole(_region, req) {
      calls.assume.push(req);
      return { accessKeyId: 'ASIAROLE', secretAccessKey: 'secret', sessionToken: 'token', expiresAtMs: clock.t + 3600_000 };
    },
  };
  const sleeps: number[] = [];
  const config = makeConfig();
  const auth = createAuthenticator({
    config,
    verifier,
    mapper: makeMapper(config),
    redshift,
    serverless,
    assumeRole,
    clock,
    logger: silentLogger,
    backoff: { random: () => 0.5, sleep: async (ms) => { sleeps.push(ms); clock.t += ms; } },
  });
  const req = (user: string, database: string, token = 'tok:alice'): AuthRequest => ({ user, database, password: token, connectionId: 'c1', deadlineMs: clock.t + 10_000 });
  return { clock, calls, auth, req, behaviour, sleeps, makeMapper };
}

test('provisioned: verify → map → DescribeClusters + GetClusterCredentials (sorted groups) → result; second login is a cache hit', async () => {
  const f = fakes();
  const r = await f.auth.authenticate(f.req('alice', 'analytics'));
  assert.equal(r.upstreamUser, 'IAMA:alice');
  assert.equal(r.upstreamPassword, 'pw-1');
  assert.deepEqual(r.target, { database: 'analytics', host: 'analytics-prod.example.com', port: 5439, dbName: 'dev', engine: 'redshift', tlsMode: 'verify-full', caFile: '/etc/ca.pem' });
  assert.equal(r.expiresAtMs, f.clock.t + 900_000);
  assert.equal(r.identity?.canonicalArn, 'arn:aws:iam::123456789012:role/Analyst');
  assert.equal(typeof r.timings.stsMs, 'number');
  assert.equal(typeof r.timings.mintMs, 'number');
  assert.deepEqual(f.calls.gcc[0], { req: { clusterId: 'analytics-prod', dbUser: 'alice', dbName: 'dev', dbGroups: ['analysts', 'bi'], autoCreate: true, durationSeconds: 900 }, creds: undefined });
  const again = await f.auth.authenticate(f.req('IAMA:alice', 'analytics'));
  assert.equal(again.upstreamPassword, 'pw-1');
  assert.deepEqual([f.calls.verify, f.calls.describe, f.calls.gcc.length], [2, 1, 1]);
});

test('fixed host/port: no discovery call, GetClusterCredentials still names the cluster', async () => {
  const f = fakes();
  const r = await f.auth.authenticate(f.req('alice', 'fixed'));
  assert.deepEqual([r.target.host, r.target.port, r.target.engine, r.target.tlsMode], ['10.0.0.5', 5440, 'postgres', 'require']);
  assert.equal(r.target.caFile, undefined);
  assert.equal(f.calls.describe, 0);
  assert.equal(f.calls.gcc[0]?.req.clusterId, 'c2');
});

test('provisioned with assumeRole: GetClusterCredentials is called as the role', async () => {
  const f = fakes();
  const r = await f.auth.authenticate(f.req('ops', 'analytics', 'tok:bob:Ops'));
  assert.equal(r.upstreamUser, 'IAM:ops');
  assert.deepEqual(f.calls.assume, [{ roleArn: 'arn:aws:iam::123456789012:role/ops-minter', sessionName: 'bob', dbGroups: [] }]);
  assert.equal(f.calls.gcc[0]?.creds?.accessKeyId, 'ASIAROLE');
});

test('workgroup without assumeRole: GetWorkgroup + GetCredentials as the proxy; startup user must be the returned user', async () => {
  const f = fakes();
  const r = await f.auth.authenticate(f.req('rsproxy', 'shared'));
  assert.equal(r.upstreamUser, 'IAMR:rsproxy');
  assert.deepEqual([r.target.host, r.target.port, r.target.dbName, r.target.tlsMode], ['wg-shared.serverless.example.com', 5440, 'dev', 'verify-ca']);
  assert.deepEqual(f.calls.gc[0], { req: { workgroup: 'wg-shared', dbName: 'dev', durationSeconds: 900 }, creds: undefined });
  const prefixed = await f.auth.authenticate(f.req('IAMR:rsproxy', 'shared'));
  assert.equal(prefixed.upstreamPassword, r.upstreamPassword);
  assert.deepEqual([f.calls.workgroup, f.calls.gc.length, f.calls.assume.length], [1, 1, 0]);
});

test('workgroup with assumeRole: AssumeRole (session name, sorted RedshiftDbRoles groups) then GetCredentials as the role', async () => {
  const f = fakes();
  const r = await f.auth.authenticate(f.req('lake-bi', 'lake', 'tok:alice@example.com'));
  assert.equal(r.upstreamUser, 'IAMR:lake-bi');
  assert.deepEqual(f.calls.assume, [{ roleArn: 'arn:aws:iam::123456789012:role/lake-bi', sessionName: 'alice@example.com', dbGroups: ['bi', 'readers'] }]);
  assert.deepEqual(f.calls.gc[0]?.creds, { accessKeyId: 'ASIAROLE', secretAccessKey: 'secret', sessionToken: 'token', expiresAtMs: f.clock.t + 3600_000 });
  await f.auth.authenticate(f.req('IAMR:lake-bi', 'lake', 'tok:alice@example.com'));
  assert.deepEqual([f.calls.assume.length, f.calls.gc.length], [1, 1], 'same person: cache hit');
});

test('assumeRole: the session name is part of the credential key, so each person calls AWS as themselves (CloudTrail)', async () => {
  const f = fakes();
  const alice = await f.auth.authenticate(f.req('lake-bi', 'lake', 'tok:alice'));
  const bob = await f.auth.authenticate(f.req('lake-bi', 'lake', 'tok:bob'));
  assert.deepEqual(f.calls.assume.map((a) => a.sessionName), ['alice', 'bob']);
  assert.equal(f.calls.gc.length, 2);
  assert.notEqual(bob.upstreamPassword, alice.upstreamPassword);
  // Cluster rule with assumeRole and a literal dbUser: two people, one database user, still two role sessions.
  await f.auth.authenticate(f.req('ops', 'analytics', 'tok:bob:Ops'));
  await f.auth.authenticate(f.req('ops', 'analytics', 'tok:carol:Ops'));
  assert.deepEqual(f.calls.assume.slice(2).map((a) => a.sessionName), ['bob', 'carol']);
  assert.equal(f.calls.gcc.length, 2);
  assert.equal((await f.auth.authenticate(f.req('ops', 'analytics', 'tok:carol:Ops'))).upstreamPassword, 'pw-2', 'same person: cache hit');
});

test('workgroup user mismatch → AUTH_NO_RULE', async () => {
  const f = fakes();
  await assert.rejects(f.auth.authenticate(f.req('alice', 'shared')), (err: unknown) => err instanceof AuthError && err.code === AuthErrorCode.NoRule);
});

test('throttled → AUTH_CREDENTIALS_THROTTLED after 4 attempts with backoff; nothing cached', async () => {
  const f = fakes();
  f.behaviour.gccError = () => new AuthError(AuthErrorCode.CredentialsThrottled, 'redshift:GetClusterCredentials … Throttling: Rate exceeded');
  await assert.rejects(f.auth.authenticate(f.req('alice', 'analytics')), (err: unknown) => err instanceof AuthError && err.code === AuthErrorCode.CredentialsThrottled && err.retryable);
  assert.equal(f.calls.gcc.length, 4);
  assert.deepEqual(f.sleeps, [100, 200, 400]);
  f.behaviour.gccError = undefined;
  const r = await f.auth.authenticate(f.req('alice', 'analytics'));
  assert.equal(r.upstreamPassword, 'pw-5');
});

test('AccessDenied → AUTH_CREDENTIALS_FAILED at once, no retry', async () => {
  const f = fakes();
  f.behaviour.gccError = () => new AuthError(AuthErrorCode.CredentialsFailed, 'redshift:GetClusterCredentials on arn:aws:redshift:eu-west-1:123456789012:dbuser:analytics-prod/alice failed: AccessDenied');
  await assert.rejects(f.auth.authenticate(f.req('alice', 'analytics')), (err: unknown) => err instanceof AuthError && err.code === AuthErrorCode.CredentialsFailed && !err.retryable);
  assert.equal(f.calls.gcc.length, 1);
  assert.deepEqual(f.sleeps, []);
});

test('a shared credential fetch follows its latest waiter: a late first login times out alone, its joiners get the same call\'s credentials', async () => {
  const f = fakes();
  f.behaviour.gccDelayMs = 150;
  const late = f.auth.authenticate({ ...f.req('alice', 'fixed'), deadlineMs: f.clock.t + 50 });
  const joiners = Array.from({ length: 5 }, () => f.auth.authenticate(f.req('alice', 'fixed')));
  await assert.rejects(late, (err: unknown) => err instanceof AuthError && err.code === AuthErrorCode.CredentialsUnavailable && /login deadline/.test(err.message));
  const results = await Promise.all(joiners);
  assert.ok(results.every((r) => r.upstreamPassword === 'pw-1'));
  assert.equal(f.calls.gcc.length, 1);
  assert.deepEqual(f.behaviour.gccDeadlines, [f.clock.t + 10_000], 'the call ran on the joiners\' deadline, not the first login\'s');
  // The late login's fetch was not wasted: the next login is a cache hit.
  assert.equal((await f.auth.authenticate(f.req('alice', 'fixed'))).invalidate(), true);
});

test('a throttled miss retries only until the login deadline, never past it (docs/design/aws.md §8)', async () => {
  const f = fakes();
  f.behaviour.gccError = () => new AuthError(AuthErrorCode.CredentialsThrottled, 'redshift:GetClusterCredentials … Throttling: Rate exceeded');
  // Full jitter at 0.5: 100 ms fits before the deadline at +250, the next 200 ms would not.
  await assert.rejects(f.auth.authenticate({ ...f.req('alice', 'analytics'), deadlineMs: f.clock.t + 250 }), (err: unknown) => err instanceof AuthError && err.code === AuthErrorCode.CredentialsThrottled);
  assert.equal(f.calls.gcc.length, 2);
  assert.deepEqual(f.sleeps, [100]);
});

test('token failure: no AWS call at all', async () => {
  const f = fakes();
  await assert.rejects(f.auth.authenticate(f.req('alice', 'analytics', 'garbage')), (err: unknown) => err instanceof AuthError && err.code === AuthErrorCode.TokenMalformed);
  assert.deepEqual([f.calls.describe, f.calls.gcc.length], [0, 0]);
});

test('invalidate: drops the password; true only when it was served from the cache; the endpoint is kept', async () => {
  const f = fakes();
  const first = await f.auth.authenticate(f.req('alice', 'analytics'));
  assert.equal(first.invalidate(), false, 'fetched for this login: a retry would only cost another AWS call');
  const second = await f.auth.authenticate(f.req('alice', 'analytics'));
  assert.equal(second.upstreamPassword, 'pw-2');
  assert.deepEqual([f.calls.gcc.length, f.calls.describe], [2, 1]);
  const hit = await f.auth.authenticate(f.req('alice', 'analytics'));
  assert.equal(hit.upstreamPassword, 'pw-2');
  assert.equal(hit.invalidate(), true, 'served from the cache: one retry with fresh credentials can help');
  assert.equal((await f.auth.authenticate(f.req('alice', 'analytics'))).upstreamPassword, 'pw-3');
  // A stale invalidate() must not drop the newer password.
  first.invalidate();
  assert.equal((await f.auth.authenticate(f.req('alice', 'analytics'))).upstreamPassword, 'pw-3');
  f.clock.t += 850_000;
  const stale = await f.auth.authenticate(f.req('alice', 'analytics'));
  assert.equal(stale.invalidate(), true, 'stale is served from the cache too');
});

test('forgetEndpoint → the next login rediscovers the endpoint, credentials stay cached; autoCreate is the rule\'s', async () => {
  const f = fakes();
  const first = await f.auth.authenticate(f.req('alice', 'analytics'));
  assert.equal(first.autoCreate, true);
  first.forgetEndpoint();
  const second = await f.auth.authenticate(f.req('alice', 'analytics'));
  assert.deepEqual([f.calls.gcc.length, f.calls.describe, second.upstreamPassword], [1, 2, 'pw-1']);
  assert.equal((await f.auth.authenticate(f.req('ops', 'analytics', 'tok:bob:Ops'))).autoCreate, false);
  assert.equal((await f.auth.authenticate(f.req('rsproxy', 'shared'))).autoCreate, false);
});

test('refresh-ahead through the authenticator: a stale password is served while one refresh runs', async () => {
  const f = fakes();
  await f.auth.authenticate(f.req('alice', 'analytics'));
  f.clock.t += 850_000;
  const r = await f.auth.authenticate(f.req('alice', 'analytics'));
  assert.equal(r.upstreamPassword, 'pw-1');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(f.calls.gcc.length, 2);
  assert.equal((await f.auth.authenticate(f.req('alice', 'analytics'))).upstreamPassword, 'pw-2');
});

test('reload drops only the entries no rule can produce', async () => {
  const f = fakes();
  await f.auth.authenticate(f.req('alice', 'analytics'));
  await f.auth.authenticate(f.req('rsproxy', 'shared'));
  const base = makeConfig();
  const next = makeConfig(base.rules.map((r, i) => (i === 0 ? { ...r, dbGroups: ['analysts'] } : r)));
  f.auth.reload(next, f.makeMapper(next));
  await f.auth.authenticate(f.req('rsproxy', 'shared'));
  assert.equal(f.calls.gc.length, 1, 'workgroup entry kept');
  await f.auth.authenticate(f.req('alice', 'analytics'));
  assert.equal(f.calls.gcc.length, 2, 'changed rule: entry dropped, refetched');
  assert.deepEqual(f.calls.gcc[1]?.req.dbGroups, ['analysts']);
});

test('isKeyProducible: template dbUser, durationSeconds and assumeRole are part of the decision', () => {
  const config = makeConfig();
  const key = { target: `cluster:${region}:analytics-prod`, dbUser: 'alice', dbName: 'dev', dbGroups: ['analysts', 'bi'], autoCreate: true, durationSeconds: 900, assumeRole: '', roleSessionName: '' };
  assert.equal(isKeyProducible(config, key), true);
  assert.equal(isKeyProducible(config, { ...key, durationSeconds: 3600 }), false);
  assert.equal(isKeyProducible(config, { ...key, autoCreate: false }), false);
  assert.equal(isKeyProducible(config, { ...key, dbUser: 'ops', dbGroups: [], autoCreate: false, assumeRole: 'arn:aws:iam::123456789012:role/ops-minter', roleSessionName: 'bob' }), true);
  assert.equal(isKeyProducible(config, { ...key, dbUser: 'eve', dbGroups: [], autoCreate: false, assumeRole: 'arn:aws:iam::123456789012:role/ops-minter', roleSessionName: 'bob' }), false);
});

test('matchesReturnedUser accepts the IAMR:/IAM: prefix and nothing else', () => {
  assert.equal(matchesReturnedUser('IAMR:lake', 'IAMR:lake'), true);
  assert.equal(matchesReturnedUser('lake', 'IAMR:lake'), true);
  assert.equal(matchesReturnedUser('bob', 'IAM:bob'), true);
  assert.equal(matchesReturnedUser('IAM:lake', 'IAMR:lake'), false);
  assert.equal(matchesReturnedUser('lake2', 'IAMR:lake'), false);
});

test('onAdmitted: called after verify and admission with the target, groups and user; true skips the credentials (no AWS credentials call)', async () => {
  const f = fakes();
  const seen: AdmittedLogin[] = [];
  const skip = await f.auth.authenticate({ ...f.req('alice', 'analytics'), onAdmitted: async (a) => (seen.push(a), true) });
  assert.equal(skip.isCredentialless, true);
  assert.equal(skip.upstreamPassword, '');
  assert.equal(f.calls.gcc.length, 0, 'no GetClusterCredentials');
  assert.equal(skip.target.host, 'analytics-prod.example.com');
  assert.deepEqual(seen.map((a) => [a.identity.canonicalArn, a.target.database, a.dbUser, a.dbGroups, a.assumedRole]), [
    ['arn:aws:iam::123456789012:role/Analyst', 'analytics', 'alice', ['analysts', 'bi'], undefined],
  ]);
  const fetched = await f.auth.authenticate({ ...f.req('alice', 'analytics'), onAdmitted: async () => false });
  assert.equal(fetched.isCredentialless, undefined);
  assert.equal(fetched.upstreamPassword, 'pw-1');
  assert.equal(f.calls.gcc.length, 1);
  await assert.rejects(f.auth.authenticate({ ...f.req('alice', 'analytics', 'tok:mallory:Nobody'), onAdmitted: async () => assert.fail('never asked for a refused login') }), AuthError);
});

test('onAdmitted on an assumeRole rule names the role and the session name', async () => {
  const f = fakes();
  let admitted: AdmittedLogin | undefined;
  await f.auth.authenticate({ ...f.req('bob', 'lake', 'tok:bob'), onAdmitted: async (a) => ((admitted = a), true) });
  assert.deepEqual(admitted?.assumedRole, { roleArn: 'arn:aws:iam::123456789012:role/lake-bi', sessionName: 'bob' });
  assert.deepEqual(admitted?.dbGroups, ['bi', 'readers']);
  assert.equal(f.calls.assume.length, 0, 'no AssumeRole either');
});
