import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, cancelPacket, passwordPacket, startupPacket, testPassword } from '../../testkit/session-fakes.js';
import { alice, expectFatal, harness, loggedIn, tlsClient, waitUntil } from '../../testkit/session-harness.js';

test('cancel: unknown key → silent close, nothing forwarded; the session key on a plaintext socket forwards the upstream pid/key', async () => {
  const h = await harness();
  try {
    const bad = await RawClient.connect(h.port);
    bad.write(cancelPacket(12345, Buffer.from('deadbeef', 'hex')));
    assert.equal((await bad.waitClose()).length, 0);
    assert.deepEqual(h.cancels, []);
    const { c, msgs } = await loggedIn(h);
    const k = msgs.find((m) => m.type === 'K')!.body;
    const plain = await RawClient.connect(h.port);
    plain.write(cancelPacket(k.readInt32BE(0), k.subarray(4, 8)));
    assert.equal((await plain.waitClose()).length, 0);
    assert.deepEqual(h.cancels, [{ pid: 4242, key: '01020304' }]);
    const inTls = await tlsClient(h.port);
    inTls.write(cancelPacket(k.readInt32BE(0), k.subarray(4, 8)));
    await inTls.waitClose();
    assert.equal(h.cancels.length, 2);
    c.destroy();
    await waitUntil(() => h.server.cancelRegistry.size === 0);
    assert.ok(h.events.includes('cancel:unknown_key') && h.events.includes('cancel:forwarded'));
  } finally {
    await h.close();
  }
});

test('connection cap: over maxClientConnections → 53300 after TLS in answer to the startup', async () => {
  const h = await harness({ limits: { maxClientConnections: 1 } });
  try {
    const first = await tlsClient(h.port);
    first.write(startupPacket(alice));
    assert.equal((await first.readMessage()).type, 'R');
    const second = await tlsClient(h.port);
    second.write(startupPacket(alice));
    assert.equal((await expectFatal(second, '53300')).M, 'sorry, too many clients already');
    first.destroy();
  } finally {
    await h.close();
  }
});

test('sockets beyond twice the cap are closed right after accept with no reply', async () => {
  const h = await harness({ limits: { maxClientConnections: 1 } });
  try {
    const a = await RawClient.connect(h.port);
    const b = await RawClient.connect(h.port);
    await waitUntil(() => h.server.connectionCount === 2);
    const c = await RawClient.connect(h.port);
    assert.equal((await c.waitClose()).length, 0);
    a.destroy();
    b.destroy();
  } finally {
    await h.close();
  }
});

test('login timeout: silent client → plain close; STS or credentials pending → 57P03 with that stage as reason; upstream pending → 08006', async () => {
  const h = await harness({ limits: { loginTimeoutMs: 300 } });
  try {
    const silent = await RawClient.connect(h.port);
    assert.equal((await silent.waitClose(2000)).length, 0);
    h.auth.delayMs = 2000;
    for (const isTokenVerified of [false, true]) {
      h.auth.isTokenVerifiedBeforeDelay = isTokenVerified;
      const a = await tlsClient(h.port);
      a.write(startupPacket(alice));
      await a.readMessage();
      a.write(passwordPacket(testPassword));
      await expectFatal(a, '57P03');
    }
    assert.deepEqual(h.events.filter((e) => e.startsWith('login:')), ['login:failed:sts_unavailable', 'login:failed:credentials_unavailable']);
    h.auth.delayMs = 0;
    h.upstream.delayMs = 2000;
    const u = await tlsClient(h.port);
    u.write(startupPacket(alice));
    await u.readMessage();
    u.write(passwordPacket(testPassword));
    await expectFatal(u, '08006');
  } finally {
    await h.close();
  }
});

test('drain: a startup during drain → 57P01; close() ends relaying sessions', async () => {
  const h = await harness();
  try {
    const { c } = await loggedIn(h);
    const pending = await tlsClient(h.port);
    h.server.beginDrain();
    pending.write(startupPacket(alice));
    assert.equal((await expectFatal(pending, '57P01')).M, 'terminating connection due to administrator command');
    await h.server.close(100);
    await c.waitClose();
    assert.equal(h.server.connectionCount, 0);
  } finally {
    await h.close();
  }
});
