/** The SDK-backed credential path (minters, cache, backoff, AssumeRole, endpoint discovery) against the AWS emulator. */
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

import { Buffer } from 'node:buffer';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAssumeRoleApi } from '../../auth/assume-role.js';
import { createAuthenticator, createAwsAuthenticator } from '../../auth/index.js';
import { AuthError, AuthErrorCode } from '../../auth/errors.js';
import { createIdentityMapper } from '../../auth/identity-mapper.js';
import { createRedshiftApi } from '../../auth/redshift-minter.js';
import { createServerlessApi } from '../../auth/serverless-minter.js';
import { mintToken } from '../../auth/token-mint.js';
import { silentLogger, type AuthOptions, type AuthRequest, type Identity, type TokenVerifier } from '../../auth/types.js';
import { startEmulator, type Emulator, type EmulatorPrincipal } from '../../emulator/index.js';
import { sleep, waitFor } from '../../testkit/wait.js';

const region = 'eu-west-1';
const account = '123456789012';
const audience = 'rsproxy:itest';

const proxyPrincipal: EmulatorPrincipal = {
  accessKeyId: 'AKIAPROXYEXAMPLE0001',
  secretAccessKey: 'proxySecretKeyExample/0123456789abcdefghij',
  arn: `arn:aws:iam::${account}:user/rsproxy`,
  accountId: account,
  userId: 'AIDAPROXYEXAMPLE0001',
};
const limitedPrincipal: EmulatorPrincipal = { ...proxyPrincipal, accessKeyId: 'AKIALIMITEDEXAMPLE01', allowedDbUsers: ['alice'] };
const clientPrincipal: EmulatorPrincipal = {
  accessKeyId: 'ASIACLIENTEXAMPLE001',
  secretAccessKey: 'clientSecretKeyExample/0123456789abcdefgh',
  sessionToken: `IQoJb3JpZ2luX2Vj${Buffer.from('an example session token, 48 bytes long........').toString('base64')}`,
  arn: `arn:aws:sts::${account}:assumed-role/Analyst/alice`,
  accountId: account,
  userId: 'AROACLIENTEXAMPLE0001:alice',
};
const proxyCreds = { accessKeyId: proxyPrincipal.accessKeyId, secretAccessKey: proxyPrincipal.secretAccessKey };

function config(): AuthOptions {
  return {
    identity: { audience, partition: 'aws', stsRegions: [region], allowedAccounts: [account], maxTokenAgeSeconds: 300, clockSkewSeconds: 60, allowRootAndFederated: false, acceptEksTokens: false },
    databases: {
      analytics: { cluster: 'analytics-prod', region, engine: 'redshift', dbName: 'dev', upstreamTls: { mode: 'require' } },
      missing: { cluster: 'no-such-cluster', region, engine: 'redshift', dbName: 'dev', upstreamTls: { mode: 'require' } },
      shared: { workgroup: 'wg-shared', region, engine: 'redshift', dbName: 'dev', upstreamTls: { mode: 'require' } },
      lake: { workgroup: 'wg-lake', region, engine: 'redshift', dbName: 'lake', upstreamTls: { mode: 'require' } },
    },
    rules: [
      { principal: `arn:aws:iam::${account}:role/Analyst`, dbUser: '{sessionName}', dbGroups: ['bi', 'analysts'], databases: ['analytics', 'missing'], autoCreate: true, trustSessionName: true },
      { principal: `arn:aws:iam::${account}:role/Analyst`, dbGroups: [], databases: ['shared'], autoCreate: false, trustSessionName: false },
      { principal: `arn:aws:iam::${account}:role/Analyst`, dbGroups: ['bi_readers'], databases: ['lake'], autoCreate: false, trustSessionName: false, assumeRole: `arn:aws:iam::${account}:role/lake-bi` },
    ],
    credentials: { durationSeconds: 900, refreshBeforeSeconds: 60 },
  };
}

async function emulator(): Promise<Emulator> {
  return startEmulator({
    principals: [proxyPrincipal, limitedPrincipal, clientPrincipal],
    clusters: [{ identifier: 'analytics-prod', host: '127.0.0.1', port: 15439 }],
    workgroups: [
      { name: 'wg-shared', host: '127.0.0.1', port: 15440 },
      { name: 'wg-lake', host: '127.0.0.1', port: 15441 },
    ],
  });
}

function identity(session: string): Identity {
  return {
    partition: 'aws',
    accountId: account,
    canonicalArn: `arn:aws:iam::${account}:role/Analyst`,
    arn: `arn:aws:sts::${account}:assumed-role/Analyst/${session}`,
    principalType: 'assumed-role',
    userId: `AROACLIENTEXAMPLE0001:${session}`,
    roleName: 'Analyst',
    sessionName: session,
    accessKeyId: 'ASIACLIENTEXAMPLE001',
    stsRegion: region,
  };
}

/** Real SDK-backed APIs and the real mapper; the verifier is a stand-in (password = session name). */
function sdkAuthenticator(emu: Emulator) {
  const c = config();
  const verifier: TokenVerifier = { verify: async (token) => identity(token) };
  const redshift = createRedshiftApi({ logger: silentLogger, endpoint: emu.url, credentials: proxyCreds });
  const serverless = createServerlessApi({ logger: silentLogger, endpoint: emu.url, credentials: proxyCreds });
  const assumeRole = createAssumeRoleApi({ logger: silentLogger, endpoint: emu.url, credentials: proxyCreds });
  const auth = createAuthenticator({
    config: c,
    verifier,
    mapper: createIdentityMapper({ rules: c.rules, databases: c.databases }),
    redshift,
    serverless,
    assumeRole,
    logger: silentLogger,
    backoff: { sleep: async () => {} },
  });
  const close = () => {
    redshift.destroy();
    serverless.destroy();
    assumeRole.destroy();
  };
  return { auth, close };
}

const req = (user: string, database: string, password: string): AuthRequest => ({ user, database, password, connectionId: 'itest', deadlineMs: Date.now() + 10_000 });

const withCode = (code: string) => (err: unknown) => {
  assert.ok(err instanceof AuthError, String(err));
  assert.equal(err.code, code, err.message);
  return true;
};

test('full stack (createAwsAuthenticator, env endpoints): 50 parallel cold logins → 1 GetClusterCredentials, 1 DescribeClusters', async () => {
  await using emu = await emulator();
  const saved = { ...process.env };
  // The SDK's default chain finds the proxy's own key here, as in production.
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: proxyPrincipal.accessKeyId, AWS_SECRET_ACCESS_KEY: proxyPrincipal.secretAccessKey, AWS_REGION: region });
  const auth = createAwsAuthenticator(config(), { logger: silentLogger, env: { AWS_ENDPOINT_URL: emu.url } });
  try {
    const token = await mintToken({ audience, region, credentials: { accessKeyId: clientPrincipal.accessKeyId, secretAccessKey: clientPrincipal.secretAccessKey, sessionToken: clientPrincipal.sessionToken ?? '' } });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => auth.authenticate({ ...req('alice', 'analytics', token), connectionId: `c${i}` })));
    assert.equal(emu.counters.total('GetClusterCredentials'), 1);
    assert.equal(emu.counters.total('DescribeClusters'), 1);
    const passwords = new Set(results.map((r) => r.upstreamPassword));
    assert.equal(passwords.size, 1);
    const r = results[0];
    assert.equal(r?.upstreamUser, 'IAMA:alice');
    assert.deepEqual([r?.target.host, r?.target.port, r?.target.dbName], ['127.0.0.1', 15439, 'dev']);
    assert.equal(r?.identity?.canonicalArn, `arn:aws:iam::${account}:role/Analyst`);
    assert.ok((r?.expiresAtMs ?? 0) > Date.now() + 800_000);
    assert.ok(emu.counters.total('GetCallerIdentity') >= 1);

    // A bad token never reaches the credential APIs.
    await assert.rejects(auth.authenticate(req('alice', 'analytics', 'rsp1.garbage')), withCode(AuthErrorCode.TokenMalformed));
    assert.equal(emu.counters.total('GetClusterCredentials'), 1);
  } finally {
    auth.close();
    for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
});

test('throttling: retryable error after 4 attempts, then recovery; a short burst is absorbed by the retries', async () => {
  await using emu = await emulator();
  const { auth, close } = sdkAuthenticator(emu);
  try {
    emu.faults.set('GetClusterCredentials', { throttleAbovePerSecond: 0, failTimes: 4 });
    await assert.rejects(auth.authenticate(req('alice', 'analytics', 'alice')), (err: unknown) => withCode(AuthErrorCode.CredentialsThrottled)(err) && (err as AuthError).retryable);
    assert.equal(emu.counters.get('GetClusterCredentials', 'Throttling'), 4);
    const ok = await auth.authenticate(req('alice', 'analytics', 'alice'));
    assert.equal(ok.upstreamUser, 'IAMA:alice');
    assert.equal(emu.counters.get('GetClusterCredentials', 'ok'), 1);

    emu.faults.set('GetCredentials', { throttleAbovePerSecond: 0, failTimes: 2 });
    const wg = await auth.authenticate(req('rsproxy', 'shared', 'alice'));
    assert.equal(wg.upstreamUser, 'IAM:rsproxy');
    assert.equal(emu.counters.get('GetCredentials', 'ThrottlingException'), 2);
    assert.equal(emu.counters.get('GetCredentials', 'ok'), 1);
  } finally {
    close();
  }
});

test('ClusterNotFound → AUTH_CREDENTIALS_FAILED, not retried', async () => {
  await using emu = await emulator();
  const { auth, close } = sdkAuthenticator(emu);
  try {
    await assert.rejects(auth.authenticate(req('alice', 'missing', 'alice')), (err: unknown) => withCode(AuthErrorCode.CredentialsFailed)(err) && /ClusterNotFoundFault/.test((err as Error).message));
    // Discovery and minting run side by side; each is tried exactly once (no retry on ClusterNotFound).
    await waitFor(() => emu.counters.total('DescribeClusters') + emu.counters.total('GetClusterCredentials') >= 2 || undefined);
    await sleep(100);
    assert.equal(emu.counters.get('DescribeClusters', 'ClusterNotFound'), 1);
    assert.equal(emu.counters.get('GetClusterCredentials', 'ClusterNotFound'), 1);
  } finally {
    close();
  }
});

test('AccessDenied on the proxy role → AUTH_CREDENTIALS_FAILED naming the action and the dbuser ARN', async () => {
  await using emu = await emulator();
  const api = createRedshiftApi({ logger: silentLogger, endpoint: emu.url, credentials: { accessKeyId: limitedPrincipal.accessKeyId, secretAccessKey: limitedPrincipal.secretAccessKey } });
  try {
    const request = { clusterId: 'analytics-prod', dbUser: 'admin', dbName: 'dev', dbGroups: [], autoCreate: false, durationSeconds: 900 };
    await assert.rejects(api.getClusterCredentials(region, request), (err: unknown) =>
      withCode(AuthErrorCode.CredentialsFailed)(err) &&
      (err as Error).message.startsWith(`redshift:GetClusterCredentials on arn:aws:redshift:${region}:${account}:dbuser:analytics-prod/admin failed: AccessDenied (HTTP 403)`));
    const ok = await api.getClusterCredentials(region, { ...request, dbUser: 'alice' });
    assert.equal(ok.dbUser, 'IAM:alice');
    assert.equal(emu.counters.get('GetClusterCredentials', 'AccessDenied'), 1);
  } finally {
    api.destroy();
  }
});

test('workgroup: GetWorkgroup + GetCredentials as the proxy; the startup user must be the returned user', async () => {
  await using emu = await emulator();
  const { auth, close } = sdkAuthenticator(emu);
  try {
    const r = await auth.authenticate(req('rsproxy', 'shared', 'alice'));
    assert.equal(r.upstreamUser, 'IAM:rsproxy');
    assert.deepEqual([r.target.host, r.target.port], ['127.0.0.1', 15440]);
    await auth.authenticate(req('IAM:rsproxy', 'shared', 'bob'));
    assert.deepEqual([emu.counters.get('GetWorkgroup', 'ok'), emu.counters.get('GetCredentials', 'ok')], [1, 1]);
    await assert.rejects(auth.authenticate(req('alice', 'shared', 'alice')), withCode(AuthErrorCode.NoRule));
  } finally {
    close();
  }
});

test('workgroup with assumeRole: AssumeRole (tagged) then GetCredentials as the role → IAMR:<role>; cached per person (session name)', async () => {
  await using emu = await emulator();
  const { auth, close } = sdkAuthenticator(emu);
  try {
    const r = await auth.authenticate(req('IAMR:lake-bi', 'lake', 'alice'));
    assert.equal(r.upstreamUser, 'IAMR:lake-bi');
    assert.deepEqual([r.target.port, r.target.dbName], [15441, 'lake']);
    // Bob gets his own AssumeRole session (CloudTrail shows bob, docs/design/surface.md §3), never Alice's cached result.
    const bob = await auth.authenticate(req('lake-bi', 'lake', 'bob'));
    assert.equal(bob.upstreamUser, 'IAMR:lake-bi');
    assert.notEqual(bob.upstreamPassword, r.upstreamPassword);
    assert.deepEqual([emu.counters.get('AssumeRole', 'ok'), emu.counters.get('GetCredentials', 'ok')], [2, 2]);
    const again = await auth.authenticate(req('lake-bi', 'lake', 'alice'));
    assert.equal(again.upstreamPassword, r.upstreamPassword);
    assert.deepEqual([emu.counters.get('AssumeRole', 'ok'), emu.counters.get('GetCredentials', 'ok')], [2, 2]);
    assert.equal(again.invalidate(), true, 'served from the cache: a retry can help');
    const fresh = await auth.authenticate(req('lake-bi', 'lake', 'alice'));
    assert.notEqual(fresh.upstreamPassword, r.upstreamPassword);
    assert.equal(fresh.invalidate(), false, 'fetched for this login: a retry cannot help');
    // Role credentials are reused (same role, session name and tags); only the database password is new; the endpoint is kept.
    assert.deepEqual([emu.counters.get('AssumeRole', 'ok'), emu.counters.get('GetCredentials', 'ok'), emu.counters.get('GetWorkgroup', 'ok')], [2, 3, 1]);
  } finally {
    close();
  }
});
