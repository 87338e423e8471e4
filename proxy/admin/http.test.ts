import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { silentLogger } from '../../auth/types.js';
import { createMetrics } from '../telemetry/metrics.js';
import { startAdminServer } from './http.js';

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('health endpoints follow the state; /metrics serves the registry; others 404', async () => {
  const metrics = createMetrics();
  const state = { started: false, ready: false };
  const admin = await startAdminServer({
    host: '127.0.0.1',
    port: 0,
    registry: metrics.registry,
    logger: silentLogger,
    health: { isStarted: () => state.started, isReady: () => state.ready },
  });
  try {
    const port = admin.address.port;
    assert.equal((await get(port, '/livez')).status, 200);
    assert.equal((await get(port, '/startupz')).status, 503);
    assert.equal((await get(port, '/readyz')).status, 503);
    state.started = true;
    state.ready = true;
    assert.equal((await get(port, '/startupz')).status, 200);
    assert.equal((await get(port, '/readyz')).status, 200);
    assert.equal((await get(port, '/readyz?verbose')).status, 200);
    state.ready = false;
    assert.equal((await get(port, '/readyz')).status, 503);
    assert.equal((await get(port, '/livez')).status, 200);

    metrics.login('failed', 'expired', 0.01);
    const m = await get(port, '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.type, /^text\/plain; version=0\.0\.4/);
    assert.match(m.body, /rsproxy_logins_total\{result="failed",reason="expired"\} 1/);

    assert.equal((await get(port, '/')).status, 404);
    assert.equal((await get(port, '/metricsx')).status, 404);
    assert.equal((await get(port, '/metrics', 'POST')).status, 404);
  } finally {
    await admin.close();
  }
});
