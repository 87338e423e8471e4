/**
 * Issue "Redshift credentials", end to end: real proxy + AWS emulator (which really creates the
 * login roles upstream) + throwaway PostgreSQL. One GetClusterCredentials call serves many cold
 * connections; throttling is 57P03 and recovers; databases route to their cluster and dbName;
 * upstream-expired credentials are replaced transparently; Serverless with assumeRole works;
 * AWS refusals are 08006 without AWS text; refresh-ahead happens in real time.
 */
import { after, before, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { pgAvailable, requirePg } from '../../testkit/pg-cluster.js';
import { iamAccountId, iamRegion, logSummary, startIamStack } from '../../testkit/iam-stack.js';
import { assertLogsHoldNoSecrets, leakedSecrets } from '../../testkit/log-hygiene.js';
import type { IamStack } from '../../testkit/iam-stack.js';
import { sleep, waitFor } from '../../testkit/wait.js';

const skipLocally = !pgAvailable() && process.env['CI'] !== 'true' ? 'PostgreSQL binaries not found' : false;
const lakeRole = 'rsproxy-lake-bi';
const unavailableMessage = 'the database is not available right now; try again';
const upstreamFailedMessage = 'could not connect to the database';

function gate(t: TestContext, stack: IamStack | undefined): IamStack | undefined {
  if (!requirePg(t)) return undefined;
  assert.ok(stack !== undefined, 'stack did not start');
  return stack;
}

async function scalar<T>(client: { query(sql: string): Promise<{ rows: Array<Record<string, unknown>> }> }, sql: string): Promise<T> {
  const r = await client.query(sql);
  return Object.values(r.rows[0] ?? {})[0] as T;
}

/** No AWS detail (codes, ARNs, "Rate exceeded", cluster ids) in what the client saw. */
function assertNoAwsText(message: string): void {
  assert.doesNotMatch(message, /arn:|AccessDenied|ClusterNotFound|Throttling|Rate exceeded|not authorized|ghost-cluster|GetClusterCredentials/i);
}

describe('Redshift credentials through the proxy', { skip: skipLocally }, () => {
  let stack: IamStack | undefined;

  before(async () => {
    if (!pgAvailable()) return;
    stack = await startIamStack({
      principals: [
        { name: 'dave', arn: `arn:aws:sts::${iamAccountId}:assumed-role/Analyst/dave`, userId: 'AROAANALYSTROLE000001:dave' },
        { name: 'erin', arn: `arn:aws:sts::${iamAccountId}:assumed-role/Restricted/erin`, userId: 'AROARESTRICTED000001:erin' },
        { name: 'carol', arn: `arn:aws:sts::${iamAccountId}:assumed-role/BI-team/carol`, userId: 'AROABITEAMROLE000001:carol' },
      ],
      // The proxy's own IAM policy allows these database users only (emulated AccessDenied for others).
      proxyAllowedDbUsers: ['alice', 'bob', 'dave'],
      clusters: [{ identifier: 'second-cluster' }],
      workgroups: ['wg-lake'],
      configure(config, ctx) {
        const tls = { mode: 'verify-full', caFile: ctx.caFile };
        config.databases['analytics'] = { cluster: 'second-cluster', region: iamRegion, engine: 'postgres', dbName: 'analytics', upstreamTls: tls };
        config.databases['ghost'] = { cluster: 'ghost-cluster', region: iamRegion, engine: 'postgres', dbName: 'postgres', upstreamTls: tls };
        config.databases['ghost-fixed'] = { cluster: 'ghost-cluster', host: ctx.pg.host, port: ctx.pg.port, region: iamRegion, engine: 'postgres', dbName: 'postgres', upstreamTls: tls };
        config.databases['lake'] = { workgroup: 'wg-lake', region: iamRegion, engine: 'postgres', dbName: 'postgres', upstreamTls: tls };
        const analyst = config.rules[0];
        assert.ok(analyst !== undefined);
        analyst['databases'] = ['dev', 'analytics', 'ghost', 'ghost-fixed'];
        config.rules.push(
          { principal: `arn:aws:iam::${iamAccountId}:role/Restricted`, dbUser: '{sessionName}', trustSessionName: true, autoCreate: true, databases: ['dev'] },
          { principal: `arn:aws:iam::${iamAccountId}:role/BI-*`, databases: ['lake'], assumeRole: `arn:aws:iam::${iamAccountId}:role/${lakeRole}`, dbGroups: ['bi_readers'] },
        );
      },
    });
    await stack.pg.query('CREATE DATABASE analytics');
    await stack.pg.query('CREATE ROLE bi_readers NOLOGIN');
  });
  after(async () => {
    await stack?.close();
  });

  test('50 parallel cold connections with one identity → one GetClusterCredentials call', async (t) => {
    const s = gate(t, stack);
    if (s === undefined) return;
    const token = await s.mint('alice');
    const gccBefore = s.emulator.counters.total('GetClusterCredentials');
    assert.equal(gccBefore, 0, 'cold cache');
    const lookupsBefore = (await s.metric('rsproxy_credential_cache_total', { result: 'miss' })) + (await s.metric('rsproxy_credential_cache_total', { result: 'hit' }));
    const clients = await Promise.all(Array.from({ length: 50 }, () => s.connectUnderLoad(token, 'alice')));
    try {
      const users = await Promise.all(clients.map((c) => scalar<string>(c, 'SELECT current_user')));
      assert.deepEqual(new Set(users), new Set(['IAMA:alice']));
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
    assert.equal(s.emulator.counters.total('GetClusterCredentials') - gccBefore, 1, logSummary(s.logs));
    assert.equal(s.emulator.counters.get('GetClusterCredentials', 'ok'), 1, JSON.stringify(s.emulator.counters.snapshot()));
    // Every login looked the credentials up once (callers that join the in-flight fetch count as misses).
    const lookups = (await s.metric('rsproxy_credential_cache_total', { result: 'miss' })) + (await s.metric('rsproxy_credential_cache_total', { result: 'hit' }));
    assert.equal(lookups - lookupsBefore, 50 + s.loadRetries);
    assert.ok(s.loadRetries <= 5, `at most a few upstream dial timeouts under load (got ${s.loadRetries})`);
    assert.ok((await s.metric('rsproxy_credential_requests_total', { api: 'GetClusterCredentials', result: 'ok' })) >= 1);
  });

  test('GetClusterCredentials throttled → 57P03 for the waiting clients, then recovery without restart', async (t) => {
    const s = gate(t, stack);
    if (s === undefined) return;
    const token = await s.mint('dave');
    const before = await s.metric('rsproxy_logins_total', { result: 'failed', reason: 'credentials_throttled' });
    s.emulator.faults.set('GetClusterCredentials', { throttleAbovePerSecond: 0 });
    let failures;
    try {
      failures = await Promise.all(Array.from({ length: 5 }, () => s.loginError(token, 'dave')));
    } finally {
      s.emulator.faults.clear('GetClusterCredentials');
    }
    for (const f of failures) {
      assert.equal(f.code, '57P03');
      assert.equal(f.message, unavailableMessage);
      assertNoAwsText(f.message);
    }
    const throttledCalls = s.emulator.counters.get('GetClusterCredentials', 'Throttling');
    assert.ok(throttledCalls >= 1 && throttledCalls <= 5 * 3, `bounded retries (got ${throttledCalls} throttled calls)`);
    assert.equal((await s.metric('rsproxy_logins_total', { result: 'failed', reason: 'credentials_throttled' })) - before, 5);
    assert.ok((await s.metric('rsproxy_credential_requests_total', { api: 'GetClusterCredentials', result: 'throttled' })) >= 1);

    const client = await s.connect(token, 'dave');
    try {
      assert.equal(await scalar<string>(client, 'SELECT current_user'), 'IAMA:dave');
    } finally {
      await client.end();
    }
  });

  test('two databases on two emulated clusters route to their own dbName', async (t) => {
    const s = gate(t, stack);
    if (s === undefined) return;
    const token = await s.mint('alice');
    const dev = await s.connect(token, 'alice', 'dev');
    const analytics = await s.connect(token, 'alice', 'analytics');
    try {
      assert.equal(await scalar<string>(dev, 'SELECT current_database()'), 'postgres');
      assert.equal(await scalar<string>(analytics, 'SELECT current_database()'), 'analytics');
      assert.equal(await scalar<number>(analytics, 'SELECT inet_server_port()'), s.pg.port);
      assert.equal(await scalar<string>(analytics, 'SELECT current_user'), 'IAMA:alice');
    } finally {
      await Promise.all([dev.end(), analytics.end()]);
    }
  });

  test('credentials that expired upstream are replaced transparently (invalidate and retry once)', async (t) => {
    const s = gate(t, stack);
    if (s === undefined) return;
    const token = await s.mint('bob');
    const first = await s.connect(token, 'bob');
    await first.end();
    const gccBefore = s.emulator.counters.total('GetClusterCredentials');
    // The cached password is still within its lifetime for the proxy, but the upstream now refuses it.
    await s.pg.query(`ALTER ROLE "IAMA:bob" VALID UNTIL '2000-01-01'`);
    const second = await s.connect(token, 'bob');
    try {
      assert.equal(await scalar<string>(second, 'SELECT current_user'), 'IAMA:bob');
    } finally {
      await second.end();
    }
    assert.equal(s.emulator.counters.total('GetClusterCredentials') - gccBefore, 1, 'one fresh GetClusterCredentials call');
    assert.ok(s.logs.some((l) => l.includes('upstream_auth_rejected_retry')), 'the retry is logged');
  });

  test('Serverless workgroup with assumeRole: user IAMR:<role>, dbGroups as role grants', async (t) => {
    const s = gate(t, stack);
    if (s === undefined) return;
    const token = await s.mint('carol');
    const before = { assume: s.emulator.counters.total('AssumeRole'), creds: s.emulator.counters.total('GetCredentials') };
    const clients = await Promise.all([s.connect(token, `IAMR:${lakeRole}`, 'lake'), s.connect(token, lakeRole, 'lake')]);
    try {
      for (const c of clients) {
        assert.equal(await scalar<string>(c, 'SELECT current_user'), `IAMR:${lakeRole}`);
        assert.equal(await scalar<boolean>(c, "SELECT pg_has_role(current_user, 'bi_readers', 'member')"), true);
      }
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
    assert.equal(s.emulator.counters.get('AssumeRole', 'ok') >= 1, true);
    assert.equal(s.emulator.counters.total('AssumeRole') - before.assume, 1, 'role credentials cached');
    assert.equal(s.emulator.counters.total('GetCredentials') - before.creds, 1, 'database credentials cached');

    const wrongUser = await s.loginError(token, 'carol', 'lake');
    assert.equal(wrongUser.code, '28P01');
  });

  test('GetClusterCredentials AccessDenied → 08006, no AWS text, no retry', async (t) => {
    const s = gate(t, stack);
    if (s === undefined) return;
    const token = await s.mint('erin');
    const before = s.emulator.counters.total('GetClusterCredentials');
    const reasonBefore = await s.metric('rsproxy_logins_total', { result: 'failed', reason: 'credentials_failed' });
    const f = await s.loginError(token, 'erin');
    assert.equal(f.code, '08006');
    assert.equal(f.message, upstreamFailedMessage);
    assertNoAwsText(`${f.message} ${f.hint ?? ''}`);
    assert.equal(s.emulator.counters.total('GetClusterCredentials') - before, 1);
    assert.equal(s.emulator.counters.get('GetClusterCredentials', 'AccessDenied'), 1);
    assert.equal((await s.metric('rsproxy_logins_total', { result: 'failed', reason: 'credentials_failed' })) - reasonBefore, 1);
    // The operator's log names the action.
    assert.ok(s.logs.some((l) => l.includes('GetClusterCredentials') && l.includes('AccessDenied')), 'operator log names the AWS error');
  });

  test('cluster not found (DescribeClusters, and GetClusterCredentials with a fixed endpoint) → 08006', async (t) => {
    const s = gate(t, stack);
    if (s === undefined) return;
    const token = await s.mint('alice');
    for (const database of ['ghost', 'ghost-fixed']) {
      const f = await s.loginError(token, 'alice', database);
      assert.equal(f.code, '08006', database);
      assert.equal(f.message, upstreamFailedMessage);
      assertNoAwsText(`${f.message} ${f.hint ?? ''}`);
    }
    assert.ok(s.emulator.counters.get('DescribeClusters', 'ClusterNotFound') >= 1);
    assert.ok(s.emulator.counters.get('GetClusterCredentials', 'ClusterNotFound') >= 1);
  });

  test('the proxy logs hold no token, signature, session token, secret key or DB password', async (t) => {
    const s = gate(t, stack);
    if (s === undefined) return;
    assert.ok(s.logs.length > 0);
    assert.ok(s.dbPasswords.size >= 5, `the emulator's DbPasswords are known (${s.dbPasswords.size})`);
    assertLogsHoldNoSecrets(s.logs, s.secrets);
  });
});

describe('refresh-ahead in real time', { skip: skipLocally }, () => {
  let stack: IamStack | undefined;

  before(async () => {
    if (!pgAvailable()) return;
    // 900 s credentials refreshed 897 s before expiry: a refresh is due 3 s after each mint.
    stack = await startIamStack({ durationSeconds: 900, refreshBeforeSeconds: 897 });
  });
  after(async () => {
    await stack?.close();
  });

  test('a connection after the refresh point causes one new GetClusterCredentials call and still logs in', async (t) => {
    const s = gate(t, stack);
    if (s === undefined) return;
    const token = await s.mint('alice');
    const c1 = await s.connect(token, 'alice');
    await c1.end();
    const c2 = await s.connect(token, 'alice');
    await c2.end();
    assert.equal(s.emulator.counters.total('GetClusterCredentials'), 1, 'cache hit before the refresh point');
    await sleep(3500);
    const c3 = await s.connect(token, 'alice');
    try {
      assert.equal(await scalar<string>(c3, 'SELECT current_user'), 'IAMA:alice');
    } finally {
      await c3.end();
    }
    await waitFor(() => s.emulator.counters.total('GetClusterCredentials') === 2, 5000);
    assert.ok((await s.metric('rsproxy_credential_cache_total', { result: 'refresh' })) + (await s.metric('rsproxy_credential_cache_total', { result: 'stale' })) >= 1);
    assert.deepEqual(leakedSecrets(s.logs, s.secrets), []);
  });
});
