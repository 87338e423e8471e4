/**
 * docs/design/token.md §15 cases 33-35 through the real proxy (runServe + AWS emulator + PostgreSQL): a startup
 * user the rule does not render, a rendered name that breaks the Redshift name rules and a database
 * outside the rule are each 28P01 with zero GetClusterCredentials calls; `replication` is 0A000.
 * Also docs/design/wire-protocol.md §14 item 19: an established session outlives its token; a new login with it is `expired`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { authFailedHint } from '../../proxy/errors/proxy-error.js';
import { iamAccountId, startIamStack } from '../../testkit/iam-stack.js';
import type { IamStack } from '../../testkit/iam-stack.js';
import { pgAvailable, requirePg } from '../../testkit/pg-cluster.js';

const maxTokenAgeSeconds = 300;

interface Calls {
  sts: number;
  credentials: number;
}

describe('mapping attacks and token expiry through the real proxy', { skip: !pgAvailable() && process.env['CI'] !== 'true' ? 'PostgreSQL binaries not found' : false }, () => {
  let stack: IamStack | undefined;
  before(async () => {
    if (!pgAvailable()) return;
    stack = await startIamStack({
      logLevel: 'warn',
      principals: [{ name: 'eq', arn: `arn:aws:sts::${iamAccountId}:assumed-role/Analyst/a=b`, userId: 'AROAANALYSTROLE000001:a=b' }],
      configure: (config) => {
        config.identity['maxTokenAgeSeconds'] = maxTokenAgeSeconds;
        // A second database the Analyst rule does not list.
        const dev = config.databases['dev'];
        assert.ok(dev !== undefined);
        config.databases['other'] = { ...dev };
      },
    });
  });
  after(async () => {
    await stack?.close();
  });
  const ready = (t: Parameters<typeof requirePg>[0]): IamStack | undefined => {
    if (!requirePg(t)) return undefined;
    assert.ok(stack !== undefined, 'stack did not start');
    return stack;
  };
  const calls = (s: IamStack): Calls => ({ sts: s.emulator.counters.total('GetCallerIdentity'), credentials: s.emulator.counters.total('GetClusterCredentials') });
  const failed = (s: IamStack, reason: string): Promise<number> => s.metric('rsproxy_logins_total', { result: 'failed', reason });

  async function expectUniform28P01(s: IamStack, token: string, user: string, database: string, reason: string): Promise<void> {
    const before = await failed(s, reason);
    const err = await s.loginError(token, user, database);
    assert.equal(err.code, '28P01', `${user}@${database}: ${err.message}`);
    assert.equal(err.severity, 'FATAL');
    assert.equal(err.hint, authFailedHint);
    assert.equal((await failed(s, reason)) - before, 1, `rsproxy_logins_total{reason=${reason}}`);
  }

  test('case 33: startup user admin / IAM:admin while the rule renders alice → 28P01 no_rule, no GetClusterCredentials', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    const token = await s.mint('alice');
    const before = calls(s);
    for (const user of ['admin', 'IAM:admin', 'IAMA:admin']) await expectUniform28P01(s, token, user, 'dev', 'no_rule');
    const after = calls(s);
    assert.equal(after.credentials - before.credentials, 0, 'GetClusterCredentials never called (so never with DbUser=admin)');
    assert.equal(after.sts - before.sts, 1, 'one STS call, then the verified-token cache');
    // The same token still works for the user the rule renders (IAMA:<x> is an alias of <x>, docs/design/token.md §8).
    const ok = await s.connect(token, 'IAMA:alice');
    try {
      assert.equal((await ok.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u, 'IAMA:alice');
    } finally {
      await ok.end();
    }
    assert.equal(calls(s).credentials - after.credentials, 1);
  });

  test('case 34: session name a=b rendered through {sessionName} → 28P01 db_name_rules, zero GetClusterCredentials', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    const token = await s.mint('eq');
    const before = calls(s);
    await expectUniform28P01(s, token, 'a=b', 'dev', 'db_name_rules');
    const after = calls(s);
    assert.equal(after.credentials - before.credentials, 0, 'no Redshift call for an invalid name');
    assert.equal(after.sts - before.sts, 1, 'the identity itself was verified');
  });

  test('case 35: database not in databases, or not allowed by the rule → 28P01 no_rule, zero GetClusterCredentials', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    const token = await s.mint('alice');
    const before = calls(s);
    await expectUniform28P01(s, token, 'alice', 'missing', 'no_rule');
    await expectUniform28P01(s, token, 'alice', 'other', 'no_rule');
    assert.equal(calls(s).credentials - before.credentials, 0);
  });

  test('case 33: replication=database → FATAL 0A000 before any AWS call', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    const token = await s.mint('alice');
    const before = calls(s);
    // node-postgres sends `replication` in the startup packet; its typings omit the option.
    const config = { host: '127.0.0.1', port: s.proxyPort, user: 'alice', database: 'dev', password: token, replication: 'database', ssl: { ca: s.caPem, servername: 'localhost' } };
    const client = new pg.Client(config);
    client.on('error', () => {});
    const err = await client.connect().then(
      () => undefined,
      (e: unknown) => e as { code?: string; severity?: string },
    );
    await client.end().catch(() => {});
    assert.ok(err !== undefined, 'a replication connection must be refused');
    assert.equal(err.code, '0A000');
    assert.deepEqual(calls(s), before, 'no STS and no credentials call');
  });

  test('docs/design/wire-protocol.md §14 item 19: a session outlives its token; a new login with the expired token → 28P01 expired, no STS call', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    const signedAtMs = Date.now() - (maxTokenAgeSeconds - 3) * 1000;
    const token = await s.mint('alice', { nowMs: signedAtMs });
    const client = await s.connect(token, 'alice');
    try {
      assert.equal((await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one, 1);
      // Wait until the token is past maxTokenAgeSeconds (plus a margin for the 1 s amzDate resolution).
      const expiredAtMs = Math.floor(signedAtMs / 1000) * 1000 + maxTokenAgeSeconds * 1000;
      await new Promise((r) => setTimeout(r, Math.max(0, expiredAtMs - Date.now()) + 1200));
      const res = await client.query<{ u: string; n: number }>('SELECT current_user AS u, 41 + 1 AS n');
      assert.deepEqual(res.rows[0], { u: 'IAMA:alice', n: 42 }, 'the established session keeps working');
      const before = calls(s);
      await expectUniform28P01(s, token, 'alice', 'dev', 'expired');
      assert.deepEqual(calls(s), before, 'an expired token is rejected locally (and not served from the cache)');
      assert.equal((await client.query<{ ok: boolean }>('SELECT true AS ok')).rows[0]?.ok, true, 'still usable after the failed reconnect');
    } finally {
      await client.end();
    }
  });
});
