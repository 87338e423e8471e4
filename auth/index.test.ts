process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthError, AuthErrorCode } from './errors.js';
import { createAwsAuthenticator, createAuthenticator } from './index.js';
import { createIdentityMapper } from './identity-mapper.js';
import { silentLogger, type AuthObserver, type AuthOptions } from './types.js';

const config: AuthOptions = {
  identity: { audience: 'rsproxy:test', partition: 'aws', stsRegions: ['eu-west-1'], allowedAccounts: ['123456789012'], maxTokenAgeSeconds: 300, clockSkewSeconds: 60, allowRootAndFederated: false, acceptEksTokens: false },
  databases: { analytics: { cluster: 'c', region: 'eu-west-1', engine: 'redshift', dbName: 'dev', upstreamTls: { mode: 'require' } } },
  rules: [{ principal: 'arn:aws:iam::123456789012:role/Analyst', dbUser: 'alice', dbGroups: [], databases: ['analytics'], autoCreate: false, trustSessionName: false }],
  credentials: { durationSeconds: 900, refreshBeforeSeconds: 60 },
};

test('createAwsAuthenticator composes the real verifier: a malformed token fails locally, with no AWS call', async () => {
  const calls: string[] = [];
  const observer: AuthObserver = { stsRequest: (r) => void calls.push(`sts:${r}`), credentialRequest: (a) => void calls.push(a), credentialCache: (r) => void calls.push(r) };
  // An unroutable endpoint: any network call would fail as unavailable, not malformed.
  const auth = createAwsAuthenticator(config, { logger: silentLogger, observer, env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:9' } });
  try {
    await assert.rejects(
      auth.authenticate({ user: 'alice', database: 'analytics', password: 'not-a-token', connectionId: 'c1', deadlineMs: Date.now() + 5000 }),
      (err: unknown) => err instanceof AuthError && err.code === AuthErrorCode.TokenMalformed,
    );
    assert.deepEqual(calls, []);
    auth.reload({ ...config, rules: [] });
    auth.reload(config, createIdentityMapper({ rules: config.rules, databases: config.databases }));
  } finally {
    auth.close();
  }
});

test('createAwsAuthenticator(...).close() stops every periodic purge timer its caches started', () => {
  const started = mock.method(globalThis, 'setInterval');
  const cleared = mock.method(globalThis, 'clearInterval');
  try {
    const auth = createAwsAuthenticator(config, { logger: silentLogger, env: {} });
    const timers = started.mock.calls.map((c) => c.result);
    assert.ok(timers.length >= 2, 'credential cache and role-credential cache each purge periodically');
    auth.close();
    const stopped = new Set(cleared.mock.calls.map((c) => c.arguments[0]));
    assert.ok(timers.every((t) => stopped.has(t)), 'close() clears them all');
  } finally {
    mock.restoreAll();
  }
});

test('index re-exports createAuthenticator', () => {
  assert.equal(typeof createAuthenticator, 'function');
});
