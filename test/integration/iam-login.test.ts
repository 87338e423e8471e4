/**
 * Issue "IAM identity", end to end: real proxy (runServe) + AWS emulator (real SigV4) + throwaway
 * PostgreSQL. Token reuse costs one STS call; every token or mapping failure is the same 28P01 with
 * no upstream work; STS throttling is 57P03 and recovers without a restart; reasons reach /metrics;
 * nothing secret reaches the logs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { authFailedHint } from '../../proxy/errors/proxy-error.js';
import { pgAvailable, requirePg } from '../../testkit/pg-cluster.js';
import { iamAudience, startIamStack } from '../../testkit/iam-stack.js';
import { assertLogsHoldNoSecrets } from '../../testkit/log-hygiene.js';
import type { IamStack } from '../../testkit/iam-stack.js';

const unavailableMessage = 'the database is not available right now; try again';

interface Counts {
  sts: number;
  describe: number;
  credentials: number;
}

function counts(stack: IamStack): Counts {
  const c = stack.emulator.counters;
  return { sts: c.total('GetCallerIdentity'), describe: c.total('DescribeClusters'), credentials: c.total('GetClusterCredentials') };
}

describe('IAM identity through the proxy', { skip: !pgAvailable() && process.env['CI'] !== 'true' ? 'PostgreSQL binaries not found' : false }, () => {
  let stack: IamStack | undefined;

  before(async () => {
    if (!pgAvailable()) return;
    stack = await startIamStack();
  });
  after(async () => {
    await stack?.close();
  });

  const ready = (t: Parameters<typeof requirePg>[0]): IamStack | undefined => {
    if (!requirePg(t)) return undefined;
    assert.ok(stack !== undefined, 'stack did not start');
    return stack;
  };

  test('one token reused by 20 parallel connections costs exactly one STS call', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    const token = await s.mint('alice');
    const before = counts(s);
    const okBefore = await s.metric('rsproxy_logins_total', { result: 'ok', reason: 'ok' });
    const clients = await Promise.all(Array.from({ length: 20 }, () => s.connectUnderLoad(token, 'alice')));
    try {
      const users = await Promise.all(clients.map(async (c) => (await c.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u));
      assert.deepEqual(new Set(users), new Set(['IAMA:alice']));
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
    const after = counts(s);
    assert.equal(after.sts - before.sts, 1, 'STS GetCallerIdentity calls');
    assert.equal(after.credentials - before.credentials, 1, 'GetClusterCredentials calls (credential cache)');
    assert.equal((await s.metric('rsproxy_logins_total', { result: 'ok', reason: 'ok' })) - okBefore, 20);
    assert.ok(s.loadRetries <= 3, `at most a few upstream dial timeouts under load (got ${s.loadRetries})`);

    // A 21st connection later with the same token: still no STS call (verified-token cache).
    const again = await s.connect(token, 'alice');
    await again.end();
    assert.equal(counts(s).sts, after.sts);
  });

  const failureCases: Array<{ name: string; principal: string; user: string; reason: string; stsCalls: number; mint: () => { audience?: string; nowMs?: number } }> = [
    { name: 'expired token (signed 301 s ago)', principal: 'alice', user: 'alice', reason: 'expired', stsCalls: 0, mint: () => ({ nowMs: Date.now() - 301_000 }) },
    { name: 'token minted for another audience', principal: 'alice', user: 'alice', reason: 'sts_rejected', stsCalls: 1, mint: () => ({ audience: 'rsproxy:staging' }) },
    { name: 'principal from an account not in allowedAccounts', principal: 'mallory', user: 'mallory', reason: 'account', stsCalls: 1, mint: () => ({}) },
    { name: 'verified identity with no rule (role Intern)', principal: 'ivan', user: 'ivan', reason: 'no_rule', stsCalls: 1, mint: () => ({}) },
    { name: 'valid identity asking for a user its rule does not render', principal: 'alice', user: 'admin', reason: 'no_rule', stsCalls: 1, mint: () => ({}) },
  ];

  for (const c of failureCases) {
    test(`${c.name} → 28P01, reason ${c.reason}, no upstream work`, async (t) => {
      const s = ready(t);
      if (s === undefined) return;
      const token = await s.mint(c.principal, c.mint());
      const before = counts(s);
      const reasonBefore = await s.metric('rsproxy_logins_total', { result: 'failed', reason: c.reason });
      const rolesBefore = (await s.pg.query("SELECT count(*)::int AS n FROM pg_roles WHERE rolname LIKE 'IAM%'")).rows[0] as { n: number };

      const failure = await s.loginError(token, c.user);
      assert.equal(failure.code, '28P01');
      assert.equal(failure.severity, 'FATAL');
      assert.equal(failure.message, `IAM authentication failed for user "${c.user}"`);
      assert.equal(failure.hint, authFailedHint);

      const after = counts(s);
      assert.equal(after.sts - before.sts, c.stsCalls, 'STS calls');
      assert.equal(after.describe - before.describe, 0, 'DescribeClusters calls');
      assert.equal(after.credentials - before.credentials, 0, 'GetClusterCredentials calls');
      const rolesAfter = (await s.pg.query("SELECT count(*)::int AS n FROM pg_roles WHERE rolname LIKE 'IAM%'")).rows[0] as { n: number };
      assert.equal(rolesAfter.n, rolesBefore.n, 'no database user was created upstream');
      if (c.stsCalls === 1) assert.equal(s.emulator.lastStsRequest?.headers['x-rsproxy-audience'], iamAudience, 'the proxy sends its own audience');
      assert.equal((await s.metric('rsproxy_logins_total', { result: 'failed', reason: c.reason })) - reasonBefore, 1, `rsproxy_logins_total{reason="${c.reason}"}`);
    });
  }

  test('a rejected token is not cached: the same token is checked at STS again', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    const token = await s.mint('alice', { audience: 'rsproxy:staging' });
    const before = counts(s).sts;
    for (let i = 0; i < 2; i++) assert.equal((await s.loginError(token, 'alice')).code, '28P01');
    assert.equal(counts(s).sts - before, 2);
  });

  test('STS throttling → 57P03; once STS recovers the same client logs in without a restart', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    const token = await s.mint('bob');
    const throttledBefore = await s.metric('rsproxy_logins_total', { result: 'failed', reason: 'sts_throttled' });
    const stsBefore = counts(s).sts;
    const throttledCallsBefore = s.emulator.counters.get('GetCallerIdentity', 'Throttling');
    s.emulator.faults.set('GetCallerIdentity', { throttleAbovePerSecond: 0 });
    try {
      const failure = await s.loginError(token, 'bob');
      assert.equal(failure.code, '57P03');
      assert.equal(failure.message, unavailableMessage);
      const calls = counts(s).sts - stsBefore;
      assert.ok(calls >= 1 && calls <= 2, `one try plus at most one retry (got ${calls})`);
      assert.equal(s.emulator.counters.get('GetCallerIdentity', 'Throttling') - throttledCallsBefore, calls, 'every call was answered Throttling');
    } finally {
      s.emulator.faults.clear('GetCallerIdentity');
    }
    assert.equal((await s.metric('rsproxy_logins_total', { result: 'failed', reason: 'sts_throttled' })) - throttledBefore, 1);
    const stsBeforeRecovery = counts(s).sts;
    const client = await s.connect(token, 'bob');
    assert.equal(counts(s).sts - stsBeforeRecovery, 1, 'the throttled answer was not cached: STS is asked again');
    try {
      assert.equal((await client.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u, 'IAMA:bob');
    } finally {
      await client.end();
    }
  });

  test('STS 503 → 57P03 (sts_unavailable), then recovery', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    const token = await s.mint('alice');
    const before = await s.metric('rsproxy_logins_total', { result: 'failed', reason: 'sts_unavailable' });
    s.emulator.faults.set('GetCallerIdentity', { status5xx: 503 });
    try {
      const failure = await s.loginError(token, 'alice');
      assert.equal(failure.code, '57P03');
      assert.equal(failure.message, unavailableMessage);
    } finally {
      s.emulator.faults.clear('GetCallerIdentity');
    }
    assert.equal((await s.metric('rsproxy_logins_total', { result: 'failed', reason: 'sts_unavailable' })) - before, 1);
    const client = await s.connect(token, 'alice');
    await client.end();
  });

  test('/metrics counts STS requests by result', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    assert.ok((await s.metric('rsproxy_sts_requests_total', { result: 'ok' })) >= 3);
    assert.ok((await s.metric('rsproxy_sts_requests_total', { result: 'rejected' })) >= 3);
    assert.ok((await s.metric('rsproxy_sts_requests_total', { result: 'throttled' })) >= 1);
  });

  test('the proxy logs hold no token, signature, session token, secret key or DB password', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    assert.ok(s.logs.length > 0, 'the proxy logged something');
    for (const reason of ['expired', 'sts_rejected', 'account', 'no_rule', 'sts_throttled']) {
      assert.ok(s.logs.some((l) => l.includes(`"reason":"${reason}"`)), `reason ${reason} is logged`);
    }
    assert.ok(s.secrets.size > 10);
    assertLogsHoldNoSecrets(s.logs, s.secrets);
  });
});
