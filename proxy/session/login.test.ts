import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import type { AuthResult, Authenticator, Identity, UpstreamTarget } from '../../auth/types.js';
import { captureLogger, type LogLine as Line } from '../../testkit/capture-logger.js';
import { AuthError, AuthErrorCode } from '../../auth/errors.js';
import { aliceIdentity } from '../../testkit/auth-fixtures.js';
import { toProxyError } from '../errors/proxy-error.js';
import { authenticateAndLogin, missingUserHint } from './login.js';
import { loginFailure, reportLoginFailure, toSessionError } from './login-failure.js';
import type { LoginProgress } from './login.js';
import { nullSessionObserver } from '../telemetry/observer.js';
import { classifyStartupParameters } from './startup-params.js';
import type { Phase } from './state.js';
import { UpstreamLoginError } from '../upstream/error.js';
import type { UpstreamLoginFn, UpstreamSession } from '../upstream/types.js';

const target: UpstreamTarget = { database: 'dev', host: '127.0.0.1', port: 5439, dbName: 'dev', engine: 'redshift', tlsMode: 'verify-full' };
const identity: Identity = { ...aliceIdentity, stsRequestId: 'req-123' };

class FakeAuth implements Authenticator {
  calls = 0;
  invalidations = 0;
  forgets = 0;
  /** What each result's invalidate() answers. */
  invalidateRetries = true;
  autoCreate = false;
  authenticate(): Promise<AuthResult> {
    this.calls++;
    return Promise.resolve({
      upstreamUser: 'IAMA:alice',
      upstreamPassword: 'secret-upstream-password',
      target,
      expiresAtMs: 0,
      identity,
      timings: { stsMs: 12, mintMs: 34 },
      invalidate: () => {
        this.invalidations++;
        return this.invalidateRetries;
      },
      forgetEndpoint: () => {
        this.forgets++;
      },
      autoCreate: this.autoCreate,
    });
  }
}

function fakeSession(): UpstreamSession {
  return { socket: new net.Socket() as never, parameterStatus: [], notices: [], readyForQuery: Buffer.from('Z'), backendKey: { pid: 1, key: Buffer.alloc(4) }, leftover: Buffer.alloc(0) };
}

function run(auth: FakeAuth, failures: Error[], clock = { ms: 1000 }, lines: Line[] = []) {
  let phase: Phase['name'] = 'Authenticating';
  let upstreamCalls = 0;
  const upstreamLogin: UpstreamLoginFn = async () => {
    upstreamCalls++;
    clock.ms += 50;
    const failure = failures.shift();
    if (failure !== undefined) throw failure;
    return fakeSession();
  };
  const progress: LoginProgress = {};
  const promise = authenticateAndLogin({
    authenticator: auth,
    upstreamLogin,
    observer: nullSessionObserver,
    logger: captureLogger(lines),
    nowMs: () => clock.ms,
    connectionId: 'c-1',
    params: classifyStartupParameters(0, [['user', 'IAMA:alice'], ['database', 'dev']]),
    password: 'rsp1.token',
    deadlineMs: 1e12,
    phaseName: () => phase,
    dispatch: (e) => {
      if (e.type === 'AuthOk') phase = 'UpstreamLogin';
    },
    onUpstreamSocket: () => {},
    progress,
  });
  return { promise, progress, lines, upstreamCalls: () => upstreamCalls };
}

const refused = (): UpstreamLoginError =>
  new UpstreamLoginError('UPSTREAM_AUTH', 'upstream refused the login', { upstreamSqlstate: '28000', upstreamMessage: 'user "IAMA:alice" does not exist' });

test('cached credentials refused → invalidate() true → one retry that succeeds', async () => {
  const auth = new FakeAuth();
  const r = run(auth, [refused()]);
  const done = await r.promise;
  assert.ok(done !== undefined);
  assert.equal(auth.calls, 2);
  assert.equal(auth.invalidations, 1);
  assert.equal(r.upstreamCalls(), 2);
  assert.equal(r.progress.upstreamMs, 100);
  assert.equal(r.lines.some((l) => l.level === 'warn'), false, 'a stale cache entry refused once is not a warning');
  // The progress object lives as long as the session: it keeps what the log lines need, never the password.
  assert.deepEqual(r.progress.facts, { identity, upstreamUser: 'IAMA:alice', upstreamHost: target.host, upstreamPort: target.port, timings: { stsMs: 12, mintMs: 34 } });
  assert.ok(!JSON.stringify(r.progress).includes('secret-upstream-password'));
});

test('fresh credentials refused → invalidate() false → no retry, 08006 at once, upstream refusal at warn with the missing-user hint', async () => {
  const auth = new FakeAuth();
  auth.invalidateRetries = false;
  const r = run(auth, [refused(), refused()]);
  await assert.rejects(r.promise, (err: unknown) => toProxyError(loginFailure(err), 'x').sqlstate === '08006');
  assert.equal(auth.calls, 1);
  assert.equal(auth.invalidations, 1);
  assert.equal(r.upstreamCalls(), 1);
  assert.equal(auth.forgets, 0, 'an auth refusal keeps the endpoint');
  const warn = r.lines.find((l) => l.obj['event'] === 'upstream_login_refused');
  assert.equal(warn?.level, 'warn');
  assert.equal(warn.obj['upstreamSqlstate'], '28000');
  assert.equal(warn.obj['upstreamMessage'], 'user "IAMA:alice" does not exist');
  assert.equal(warn.obj['hint'], missingUserHint);
  assert.equal(missingUserHint, 'database user does not exist; create it or set autoCreate');
});

test('upstream refusal with autoCreate on carries no missing-user hint', async () => {
  const auth = new FakeAuth();
  auth.invalidateRetries = false;
  auth.autoCreate = true;
  const r = run(auth, [refused()]);
  await assert.rejects(r.promise);
  const warn = r.lines.find((l) => l.obj['event'] === 'upstream_login_refused');
  assert.equal(warn?.level, 'warn');
  assert.equal(warn.obj['hint'], undefined);
});

for (const code of ['UPSTREAM_CONNECT', 'UPSTREAM_TLS', 'UPSTREAM_TIMEOUT'] as const) {
  test(`${code} forgets the endpoint and does not retry or invalidate`, async () => {
    const auth = new FakeAuth();
    const r = run(auth, [new UpstreamLoginError(code, 'failed')]);
    await assert.rejects(r.promise);
    assert.equal(auth.forgets, 1);
    assert.equal(auth.invalidations, 0);
    assert.equal(auth.calls, 1);
    const warn = r.lines.find((l) => l.obj['event'] === 'upstream_login_failed');
    assert.equal(warn?.level, 'warn');
    assert.equal(warn.obj['code'], code);
  });
}

test('cached credentials refused, and the fresh ones too → the final refusal is logged at warn with the hint; one retry only', async () => {
  const auth = new FakeAuth();
  const r = run(auth, [refused(), refused()]);
  await assert.rejects(r.promise);
  assert.equal(auth.calls, 2);
  assert.equal(r.upstreamCalls(), 2);
  const warns = r.lines.filter((l) => l.level === 'warn');
  assert.equal(warns.length, 1);
  assert.equal(warns[0]?.obj['hint'], missingUserHint);
});

test('upstream failures map to the closed reason "upstream"', () => {
  for (const err of [refused(), new UpstreamLoginError('UPSTREAM_CONNECT', 'x')]) {
    const e = toSessionError(loginFailure(err), 'alice');
    assert.equal(e.sqlstate, '08006');
    assert.equal(e.reason, 'upstream');
  }
});

test('login_failed carries identity, dbUser, database, reason and latencies; credentials_failed logs at error with the operator message; no secrets', async () => {
  const lines: Line[] = [];
  const auth = new FakeAuth();
  auth.invalidateRetries = false;
  const r = run(auth, [refused()], { ms: 0 }, lines);
  const err = await r.promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  const logger = captureLogger(lines);
  const client = new net.Socket();
  const params = classifyStartupParameters(0, [['user', 'IAMA:alice'], ['database', 'dev']]);
  reportLoginFailure({ client, error: toSessionError(loginFailure(err), 'IAMA:alice'), logger, observer: nullSessionObserver, user: 'IAMA:alice', durationSeconds: 0.2, params, progress: r.progress });
  const failed = lines.find((l) => l.obj['event'] === 'login_failed');
  assert.ok(failed);
  assert.equal(failed.level, 'info');
  assert.deepEqual(
    {
      canonicalArn: failed.obj['canonicalArn'],
      userId: failed.obj['userId'],
      accessKeyId: failed.obj['accessKeyId'],
      stsRegion: failed.obj['stsRegion'],
      stsRequestId: failed.obj['stsRequestId'],
      dbUser: failed.obj['dbUser'],
      database: failed.obj['database'],
      result: failed.obj['result'],
      reason: failed.obj['reason'],
      stsMs: failed.obj['stsMs'],
      mintMs: failed.obj['mintMs'],
      upstreamMs: failed.obj['upstreamMs'],
    },
    {
      canonicalArn: identity.canonicalArn,
      userId: identity.userId,
      accessKeyId: identity.accessKeyId,
      stsRegion: 'eu-west-1',
      stsRequestId: 'req-123',
      dbUser: 'IAMA:alice',
      database: 'dev',
      result: 'failed',
      reason: 'upstream',
      stsMs: 12,
      mintMs: 34,
      upstreamMs: 50,
    },
  );

  const denied = new AuthError(AuthErrorCode.CredentialsFailed, 'AccessDenied: redshift:GetClusterCredentials on arn:aws:redshift:eu-west-1:123456789012:dbuser:c/alice');
  reportLoginFailure({ client, error: toSessionError(denied, 'IAMA:alice'), logger, observer: nullSessionObserver, user: 'IAMA:alice', durationSeconds: 0.1, params });
  const failedCreds = lines.filter((l) => l.obj['event'] === 'login_failed').at(-1);
  assert.equal(failedCreds?.level, 'error');
  assert.equal(failedCreds.obj['reason'], 'credentials_failed');
  assert.match(String(failedCreds.obj['operatorMessage']), /redshift:GetClusterCredentials on arn:aws:redshift:/);
  const all = JSON.stringify(lines);
  assert.equal(all.includes('secret-upstream-password'), false);
  assert.equal(all.includes('rsp1.token'), false);
  client.destroy();
});
