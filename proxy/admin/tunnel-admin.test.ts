import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTunnelAdminServer } from './tunnel-admin.js';

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

test('/livez always, /readyz follows the port\'s answer, POST /quitquitquit quits once; other methods and paths are refused', async () => {
  let reason: string | undefined = 'the listeners are not up yet';
  let quits = 0;
  const admin = await startTunnelAdminServer({
    host: '127.0.0.1',
    port: 0,
    logger: silent,
    tunnel: { notReadyReason: async () => reason, quit: () => void quits++ },
  });
  const url = (path: string): string => `http://127.0.0.1:${admin.address.port}${path}`;
  try {
    assert.equal((await fetch(url('/livez'))).status, 200);
    const early = await fetch(url('/readyz'));
    assert.equal(early.status, 503);
    assert.match(await early.text(), /not ready: the listeners are not up yet/);
    reason = undefined;
    assert.equal((await fetch(url('/readyz'))).status, 200);
    reason = 'no usable AWS credentials (profile default): x';
    assert.equal((await fetch(url('/readyz'))).status, 503);
    assert.equal((await fetch(url('/quitquitquit'))).status, 405);
    assert.equal(quits, 0, 'a GET never quits');
    assert.equal((await fetch(url('/readyz'), { method: 'POST' })).status, 405);
    assert.equal((await fetch(url('/metrics'))).status, 404);
    const q = await fetch(url('/quitquitquit'), { method: 'POST' });
    assert.equal(q.status, 200);
    assert.equal(quits, 1);
  } finally {
    await admin.close();
  }
});

test('a /readyz check that throws answers 503 with its message', async () => {
  const admin = await startTunnelAdminServer({
    host: '127.0.0.1',
    port: 0,
    logger: silent,
    tunnel: { notReadyReason: () => Promise.reject(new Error('no usable AWS credentials (profile p): expired')), quit: () => {} },
  });
  try {
    const r = await fetch(`http://127.0.0.1:${admin.address.port}/readyz`);
    assert.equal(r.status, 503);
    assert.match(await r.text(), /expired/);
  } finally {
    await admin.close();
  }
});
