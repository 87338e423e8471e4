import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Logger } from '../../auth/types.js';
import { AuthError, AuthErrorCode } from '../../auth/errors.js';
import { aliceIdentity } from '../../testkit/auth-fixtures.js';
import { authFailedHint } from '../errors/proxy-error.js';
import { RawClient, message, passwordPacket, startupPacket, testPassword, upstreamLoginError } from '../../testkit/session-fakes.js';
import { alice, expectFatal, harness, loggedIn, readUntilZ, tlsClient, waitUntil } from '../../testkit/session-harness.js';

test('happy path: R 0, upstream S verbatim, proxy K, upstream Z; queries relay both ways', async () => {
  const h = await harness();
  try {
    const { c, msgs } = await loggedIn(h);
    assert.deepEqual(msgs.map((m) => m.type), ['R', 'S', 'S', 'S', 'S', 'K', 'Z']);
    assert.equal(msgs[0]!.body.readInt32BE(0), 0);
    assert.equal(msgs[1]!.body.toString('latin1'), 'server_version\x008.0.2\x00');
    const k = msgs[5]!.body;
    assert.equal(k.length, 8);
    assert.ok(k.readInt32BE(0) >= 1);
    assert.equal(msgs[6]!.body.toString(), 'I');
    assert.equal(h.auth.requests[0]?.user, 'alice');
    assert.equal(h.auth.requests[0]?.password, '<ok>');
    const call = h.upstream.calls[0]!;
    assert.equal(call.user, 'IAM:alice');
    assert.deepEqual(call.parameters, [['application_name', 'test']]);
    c.write(message('Q', Buffer.from('select 42\0')));
    const reply = await readUntilZ(c);
    assert.deepEqual(reply.map((m) => m.type), ['T', 'D', 'C', 'Z']);
    assert.ok(reply[1]!.body.toString().includes('select 42'));
    assert.equal(h.server.connectionCount, 1);
    c.write(message('X', Buffer.alloc(0)));
    await c.waitClose();
    await waitUntil(() => h.backend.sockets.size === 0 && h.server.connectionCount === 0);
    assert.ok(h.events.includes('login:ok:ok'));
    assert.ok(h.events.includes('upstreamConnect'));
    assert.ok(h.events.some((e) => e.startsWith('bytes:client_to_upstream:')));
    assert.equal(h.events.filter((e) => e === 'closed').length, 1);
  } finally {
    await h.close();
  }
});

test('bytes pipelined after the PasswordMessage are held and sent upstream after login; upstream leftover reaches the client', async () => {
  const h = await harness();
  try {
    h.upstream.leftover = message('N', Buffer.from('SNOTICE\0Mleftover\0\0'));
    h.auth.delayMs = 50;
    const c = await tlsClient(h.port);
    c.write(startupPacket(alice));
    await c.readMessage();
    c.write(Buffer.concat([passwordPacket(testPassword), message('Q', Buffer.from('pipelined\0'))]));
    const msgs = await readUntilZ(c);
    assert.equal(msgs.at(-1)!.type, 'Z');
    assert.equal((await c.readMessage()).type, 'N');
    const reply = await readUntilZ(c);
    assert.ok(reply[1]!.body.toString().includes('pipelined'));
    assert.deepEqual(h.backend.queries, ['pipelined']);
    c.destroy();
  } finally {
    await h.close();
  }
});

test('password phase: p before startup, non-p, second p → 08P01; X → quiet close', async () => {
  const h = await harness();
  try {
    const early = await RawClient.connect(h.port);
    early.write(passwordPacket(testPassword));
    await expectFatal(early, '08P01');
    const earlyTls = await tlsClient(h.port);
    earlyTls.write(passwordPacket(testPassword));
    await expectFatal(earlyTls, '08P01');
    const q = await tlsClient(h.port);
    q.write(startupPacket(alice));
    await q.readMessage();
    q.write(message('Q', Buffer.from('select 1\0')));
    await expectFatal(q, '08P01');
    const sasl = await tlsClient(h.port);
    sasl.write(startupPacket(alice));
    await sasl.readMessage();
    h.auth.delayMs = 300;
    sasl.write(Buffer.concat([passwordPacket(testPassword), passwordPacket(testPassword)]));
    await expectFatal(sasl, '08P01');
    h.auth.delayMs = 0;
    const x = await tlsClient(h.port);
    x.write(startupPacket(alice));
    await x.readMessage();
    x.write(message('X', Buffer.alloc(0)));
    assert.equal((await x.waitClose()).length, 0);
  } finally {
    await h.close();
  }
});

test('wrong password → 28P01 with the exact message and hint; empty, interior NUL → 28P01 without calling auth; trailing newline stripped', async () => {
  const h = await harness();
  try {
    const wrong = await tlsClient(h.port);
    wrong.write(startupPacket(alice));
    await wrong.readMessage();
    wrong.write(passwordPacket('rsp1.nope'));
    const f = await expectFatal(wrong, '28P01');
    assert.equal(f.M, 'IAM authentication failed for user "alice"');
    assert.equal(f.H, authFailedHint);
    assert.equal(h.auth.requests.length, 1);
    for (const pw of ['', '\n', '\r\n', Buffer.from('ab\0cd')]) {
      const c = await tlsClient(h.port);
      c.write(startupPacket(alice));
      await c.readMessage();
      c.write(passwordPacket(pw));
      await expectFatal(c, '28P01');
    }
    assert.equal(h.auth.requests.length, 1);
    const nl = await tlsClient(h.port);
    nl.write(startupPacket(alice));
    await nl.readMessage();
    nl.write(passwordPacket(`${testPassword}\r\n`));
    assert.equal((await readUntilZ(nl)).at(-1)!.type, 'Z');
    nl.destroy();
  } finally {
    await h.close();
  }
});

test('AWS unavailable → 57P03; upstream failure → 08006; upstream auth rejection → invalidate and retry once', async () => {
  const h = await harness();
  try {
    h.auth.failWith = new AuthError(AuthErrorCode.StsThrottled, 'throttled');
    const c1 = await tlsClient(h.port);
    c1.write(startupPacket(alice));
    await c1.readMessage();
    c1.write(passwordPacket(testPassword));
    await expectFatal(c1, '57P03');
    h.auth.failWith = undefined;

    h.upstream.failures.push(upstreamLoginError('UPSTREAM_CONNECT', false));
    const c2 = await tlsClient(h.port);
    c2.write(startupPacket(alice));
    await c2.readMessage();
    c2.write(passwordPacket(testPassword));
    assert.equal((await expectFatal(c2, '08006')).M, 'could not connect to the database');

    h.upstream.failures.push(upstreamLoginError('UPSTREAM_AUTH', true));
    const c3 = await tlsClient(h.port);
    c3.write(startupPacket(alice));
    await c3.readMessage();
    c3.write(passwordPacket(testPassword));
    assert.equal((await readUntilZ(c3)).at(-1)!.type, 'Z');
    assert.equal(h.auth.invalidations, 1);
    c3.destroy();

    h.upstream.failures.push(upstreamLoginError('UPSTREAM_AUTH', true), upstreamLoginError('UPSTREAM_AUTH', true));
    const c4 = await tlsClient(h.port);
    c4.write(startupPacket(alice));
    await c4.readMessage();
    c4.write(passwordPacket(testPassword));
    await expectFatal(c4, '08006');
    assert.equal(h.auth.invalidations, 2);
  } finally {
    await h.close();
  }
});

test('login_ok carries identity, dbUser, database, result and STS/mint/upstream latencies; every line carries the connection id; no secrets', async () => {
  const lines: Array<Record<string, unknown>> = [];
  const capture = (bindings: Record<string, unknown>): Logger => {
    const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, msg, ...bindings, ...(obj as Record<string, unknown>) });
    return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (b: object) => capture({ ...bindings, ...(b as Record<string, unknown>) }) };
  };
  const h = await harness({ logger: capture({}) });
  try {
    const identity = { ...aliceIdentity, stsRequestId: 'req-1' };
    h.auth.identity = identity;
    h.auth.timings = { stsMs: 7, mintMs: 9 };
    const { c } = await loggedIn(h);
    c.write(message('X', Buffer.alloc(0)));
    await c.waitClose();
    await waitUntil(() => h.server.connectionCount === 0);
    const ok = lines.find((l) => l['event'] === 'login_ok');
    assert.ok(ok);
    assert.equal(ok['level'], 'info');
    for (const [k, v] of Object.entries({
      canonicalArn: identity.canonicalArn,
      userId: identity.userId,
      accessKeyId: identity.accessKeyId,
      stsRegion: 'eu-west-1',
      stsRequestId: 'req-1',
      dbUser: 'IAM:alice',
      database: 'dev',
      result: 'ok',
      reason: 'ok',
      stsMs: 7,
      mintMs: 9,
    })) {
      assert.equal(ok[k], v, k);
    }
    assert.equal(typeof ok['upstreamMs'], 'number');
    assert.ok(lines.length > 1);
    for (const l of lines) assert.equal(typeof l['connectionId'], 'string', `line without connectionId: ${JSON.stringify(l)}`);
    const all = JSON.stringify(lines);
    assert.equal(all.includes(testPassword), false);
    assert.equal(all.includes('upstream-temp-password'), false);
  } finally {
    await h.close();
  }
});
