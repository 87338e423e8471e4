import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../auth/types.js';
import { sessionsRequest } from '../../testkit/admin-sessions.js';
import { startAdminServer } from './http.js';
import type { AdminSessionsPort } from './sessions.js';
import { AdminToken } from './token.js';
import { createMetrics } from '../telemetry/metrics.js';
import type { LiveSessionInfo } from '../session/live-sessions.js';

const info: LiveSessionInfo = {
  connectionId: '0123456789ab',
  clientAddress: '127.0.0.1',
  identity: 'arn:aws:iam::123456789012:role/Analyst',
  dbUser: 'IAMA:alice',
  database: 'dev',
  startedAt: '2026-12-02T10:00:00.000Z',
  clientToUpstreamBytes: 12,
  upstreamToClientBytes: 345,
  upstreamPid: 4242,
  reused: false,
};

async function adminWith(sessions: AdminSessionsPort | undefined) {
  const metrics = createMetrics();
  return startAdminServer({
    host: '127.0.0.1',
    port: 0,
    registry: metrics.registry,
    logger: silentLogger,
    health: { isStarted: () => true, isReady: () => true },
    ...(sessions === undefined ? {} : { sessions }),
  });
}

test('/sessions without admin.tokenFile: 404 for every method, with or without a token', async () => {
  const admin = await adminWith(undefined);
  try {
    const port = admin.address.port;
    assert.equal((await sessionsRequest(port, 'GET', '/sessions', 'x')).status, 404);
    assert.equal((await sessionsRequest(port, 'GET', '/sessions')).status, 404);
    assert.equal((await sessionsRequest(port, 'DELETE', `/sessions/${info.connectionId}`, 'x')).status, 404);
    assert.equal((await sessionsRequest(port, 'GET', '/livez')).status, 200, 'the rest of the admin server is unchanged');
  } finally {
    await admin.close();
  }
});

test('/sessions with a token: 401 (WWW-Authenticate) without it or when wrong; list and delete with it', async () => {
  const ended: string[] = [];
  const token = new AdminToken('the-admin-token');
  const admin = await adminWith({ token, list: () => [info], end: (id) => (id === info.connectionId ? (ended.push(id), true) : false) });
  try {
    const port = admin.address.port;
    for (const t of [undefined, 'wrong', 'the-admin-token-', 'the-admin-toke']) {
      const r = await sessionsRequest(port, 'GET', '/sessions', t);
      assert.equal(r.status, 401, String(t));
      assert.equal(r.headers['www-authenticate'], 'Bearer realm="rsproxy"');
      assert.ok(!r.body.includes('the-admin-token'));
      assert.equal((await sessionsRequest(port, 'DELETE', `/sessions/${info.connectionId}`, t)).status, 401);
    }
    assert.deepEqual(ended, [], 'an unauthorized DELETE ends nothing');

    const list = await sessionsRequest(port, 'GET', '/sessions', 'the-admin-token');
    assert.equal(list.status, 200);
    assert.match(String(list.headers['content-type']), /^application\/json/);
    assert.deepEqual(JSON.parse(list.body), [info]);

    assert.equal((await sessionsRequest(port, 'DELETE', `/sessions/${info.connectionId}`, 'the-admin-token')).status, 204);
    assert.deepEqual(ended, [info.connectionId]);
    assert.equal((await sessionsRequest(port, 'DELETE', '/sessions/ffffffffffff', 'the-admin-token')).status, 404, 'unknown id');
    assert.equal((await sessionsRequest(port, 'DELETE', '/sessions/..%2F..', 'the-admin-token')).status, 404, 'not an id');
    assert.equal((await sessionsRequest(port, 'DELETE', '/sessions', 'the-admin-token')).status, 405);
    assert.equal((await sessionsRequest(port, 'POST', '/sessions', 'the-admin-token')).status, 405);
    assert.equal((await sessionsRequest(port, 'GET', `/sessions/${info.connectionId}`, 'the-admin-token')).status, 405);
    assert.equal((await sessionsRequest(port, 'GET', `/sessions/${'a'.repeat(200)}`, 'the-admin-token')).status, 414);

    token.set('rotated');
    assert.equal((await sessionsRequest(port, 'GET', '/sessions', 'the-admin-token')).status, 401, 'the old token no longer works');
    assert.equal((await sessionsRequest(port, 'GET', '/sessions', 'rotated')).status, 200);
  } finally {
    await admin.close();
  }
});
