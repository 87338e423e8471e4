import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aliceIdentity } from '../../testkit/auth-fixtures.js';
import { cstr } from '../../testkit/raw-wire.js';
import { message } from '../../testkit/session-fakes.js';
import { expectFatal, harness, loggedIn, readUntilZ, waitUntil } from '../../testkit/session-harness.js';

const query = (sql: string): Buffer => message('Q', cstr(sql));

test('a relayed session is listed with its facts and live counters, and leaves the registry when it ends (reason client)', async () => {
  const h = await harness();
  try {
    h.auth.identity = aliceIdentity;
    const { c } = await loggedIn(h);
    const [entry] = h.server.liveSessions.list();
    assert.ok(entry);
    assert.match(entry.connectionId, /^[0-9a-f]{12}$/);
    assert.equal(entry.clientAddress, '127.0.0.1');
    assert.equal(entry.identity, 'arn:aws:iam::123456789012:role/Analyst');
    assert.equal(entry.database, 'dev');
    assert.ok(!Number.isNaN(Date.parse(entry.startedAt)));
    c.write(query('select 1'));
    await readUntilZ(c);
    const after = h.server.liveSessions.list()[0];
    assert.ok(after !== undefined && after.clientToUpstreamBytes > 0 && after.upstreamToClientBytes > 0, JSON.stringify(after));
    c.write(message('X', Buffer.alloc(0)));
    await c.waitClose();
    await waitUntil(() => h.server.liveSessions.size === 0 && h.events.some((e) => e.startsWith('ended:')));
    assert.deepEqual(h.events.filter((e) => e.startsWith('ended:')), ['ended:client']);
  } finally {
    await h.close();
  }
});

test('endSession: FATAL 57P01 "terminated by administrator", reason admin; an unknown id is false', async () => {
  const h = await harness();
  try {
    h.auth.identity = aliceIdentity;
    const { c } = await loggedIn(h);
    const id = h.server.liveSessions.list()[0]?.connectionId ?? '';
    assert.equal(h.server.endSession('ffffffffffff'), false);
    assert.equal(h.server.endSession(id), true);
    assert.equal((await expectFatal(c, '57P01')).M, 'terminated by administrator');
    await waitUntil(() => h.events.includes('ended:admin') && h.server.liveSessions.size === 0);
    assert.equal(h.server.endSession(id), false, 'gone once closed');
  } finally {
    await h.close();
  }
});

test('revokeSessions: only sessions the predicate refuses end, with 57P01 "access revoked by a configuration change"', async () => {
  const h = await harness();
  try {
    h.auth.identity = aliceIdentity;
    const kept = await loggedIn(h);
    h.auth.identity = { ...aliceIdentity, canonicalArn: 'arn:aws:iam::123456789012:user/bob' };
    const revoked = await loggedIn(h);
    const n = h.server.revokeSessions((s) => s.identity?.canonicalArn === aliceIdentity.canonicalArn && s.user === 'alice' && s.database === 'dev');
    assert.equal(n, 1);
    assert.equal((await expectFatal(revoked.c, '57P01')).M, 'access revoked by a configuration change');
    kept.c.write(query('still here'));
    const answer = await readUntilZ(kept.c);
    assert.equal(answer.at(-1)?.type, 'Z', 'the other session still works');
    await waitUntil(() => h.events.includes('ended:revoked') && h.server.liveSessions.size === 1);
    kept.c.destroy();
  } finally {
    await h.close();
  }
});

test('limits.maxSessionSeconds: an idle session ends with 57P01 "session exceeded its maximum duration" after the limit, reason max_age', async () => {
  const h = await harness({ limits: { maxSessionSeconds: 1 } });
  try {
    const startedMs = Date.now();
    const { c } = await loggedIn(h);
    c.write(query('select 1'));
    await readUntilZ(c);
    assert.equal((await expectFatal(c, '57P01')).M, 'session exceeded its maximum duration');
    const ageMs = Date.now() - startedMs;
    assert.ok(ageMs >= 1000, `ended after ${ageMs} ms`);
    await waitUntil(() => h.events.includes('ended:max_age'));
  } finally {
    await h.close();
  }
});

test('sessions_ended reasons: the upstream closing is upstream; a server close at the drain deadline is shutdown', async () => {
  const h = await harness();
  try {
    const first = await loggedIn(h);
    await waitUntil(() => h.backend.sockets.size === 1);
    for (const s of h.backend.sockets) s.destroy();
    await first.c.waitClose();
    await waitUntil(() => h.events.includes('ended:upstream'));
    const second = await loggedIn(h);
    await h.server.close(0);
    assert.equal((await expectFatal(second.c, '57P01')).M, 'terminating connection due to administrator command');
    await waitUntil(() => h.events.includes('ended:shutdown'));
    assert.deepEqual(h.events.filter((e) => e.startsWith('ended:')), ['ended:upstream', 'ended:shutdown']);
  } finally {
    await h.close();
  }
});

test('a login still in progress during a revoking reload is ended as soon as it completes', async () => {
  const h = await harness();
  try {
    h.auth.identity = aliceIdentity;
    h.auth.delayMs = 300;
    const pending = loggedIn(h);
    await waitUntil(() => h.auth.requests.length === 1);
    assert.equal(h.server.revokeSessions(() => false), 0, 'nothing relayed yet');
    const { c, msgs } = await pending;
    assert.equal(msgs.at(-1)?.type, 'Z', 'the login itself completes');
    assert.equal((await expectFatal(c, '57P01')).M, 'access revoked by a configuration change');
    await waitUntil(() => h.events.includes('ended:revoked'));
  } finally {
    await h.close();
  }
});
