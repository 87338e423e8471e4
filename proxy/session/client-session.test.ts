import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../auth/types.js';
import type { Logger } from '../../auth/types.js';
import { AuthError, AuthErrorCode } from '../../auth/errors.js';
import { ProxyServer } from '../server.js';
import type { ProxyServerOptions } from '../server.js';
import { authFailedHint } from '../errors.js';
import type { SessionObserver } from './observer.js';
import { getTestPki } from '../../test/helpers/certs.js';
import {
  FakeBackend,
  FixedPasswordAuthenticator,
  RawClient,
  cancelPacket,
  fakeUpstreamLogin,
  gssEncRequest,
  message,
  parseErrorFields,
  passwordPacket,
  sslRequest,
  startupPacket,
  testPassword,
  upstreamLoginError,
} from '../../test/helpers/session-fakes.js';
import type { RawMessage } from '../../test/helpers/session-fakes.js';

interface Harness {
  port: number;
  server: ProxyServer;
  backend: FakeBackend;
  auth: FixedPasswordAuthenticator;
  upstream: ReturnType<typeof fakeUpstreamLogin>['state'];
  cancels: Array<{ pid: number; key: string }>;
  events: string[];
  close(): Promise<void>;
}

async function harness(overrides: Omit<Partial<ProxyServerOptions>, 'limits'> & { limits?: Partial<ProxyServerOptions['limits']> } = {}): Promise<Harness> {
  const pki = await getTestPki();
  const backend = await FakeBackend.start();
  const auth = new FixedPasswordAuthenticator(() => backend.target());
  const { login, state } = fakeUpstreamLogin(() => backend.port);
  const cancels: Harness['cancels'] = [];
  const events: string[] = [];
  const observer: SessionObserver = {
    clientConnectionOpened: () => events.push('open'),
    clientConnectionClosed: () => events.push('closed'),
    login: (result, reason) => events.push(`login:${result}:${reason}`),
    bytes: (direction, n) => events.push(`bytes:${direction}:${n}`),
    cancel: (result) => events.push(`cancel:${result}`),
    upstreamConnect: () => events.push('upstreamConnect'),
  };
  const { limits, ...rest } = overrides;
  const server = new ProxyServer({
    tls: { certPem: pki.serverCertPem, keyPem: pki.serverKeyPem, minVersion: 'TLSv1.2' },
    limits: { maxClientConnections: 20, loginTimeoutMs: 3000, maxStartupBytes: 10_000, maxPasswordBytes: 8192, ...limits },
    authenticator: auth,
    logger: silentLogger,
    observer,
    upstreamLogin: login,
    sendUpstreamCancel: async (_t, pid, key) => {
      cancels.push({ pid, key: key.toString('hex') });
    },
    ...rest,
  });
  const addr = await server.listen('127.0.0.1', 0);
  return {
    port: addr.port,
    server,
    backend,
    auth,
    upstream: state,
    cancels,
    events,
    async close() {
      server.destroy();
      await backend.close();
    },
  };
}

async function tlsClient(port: number, alpn?: string[]): Promise<RawClient> {
  const c = await RawClient.connect(port);
  c.write(sslRequest);
  assert.equal((await c.readBytes(1)).toString(), 'S');
  await c.startTls(alpn);
  return c;
}

async function expectFatal(c: RawClient, sqlstate: string): Promise<Record<string, string>> {
  const m = await c.readMessage();
  assert.equal(m.type, 'E', `expected ErrorResponse, got ${m.type}`);
  const f = parseErrorFields(m.body);
  assert.equal(f.C, sqlstate, `message: ${f.M}`);
  assert.equal(f.S, 'FATAL');
  assert.equal(f.V, 'FATAL');
  await c.waitClose();
  return f;
}

async function readUntilZ(c: RawClient): Promise<RawMessage[]> {
  const out: RawMessage[] = [];
  for (;;) {
    const m = await c.readMessage();
    out.push(m);
    if (m.type === 'Z' || m.type === 'E') return out;
  }
}

const alice: Array<readonly [string, string]> = [['user', 'alice'], ['database', 'dev'], ['application_name', 'test']];

async function loggedIn(h: Harness): Promise<{ c: RawClient; msgs: RawMessage[] }> {
  const c = await tlsClient(h.port);
  c.write(startupPacket(alice));
  assert.equal((await c.readMessage()).body.readInt32BE(0), 3);
  c.write(passwordPacket(testPassword));
  return { c, msgs: await readUntilZ(c) };
}

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

async function waitUntil(pred: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
}

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

test('plaintext StartupMessage → 28000 "SSL connection is required", no R 3', async () => {
  const h = await harness();
  try {
    const c = await RawClient.connect(h.port);
    c.write(startupPacket(alice));
    const f = await expectFatal(c, '28000');
    assert.equal(f.M, 'SSL connection is required');
    assert.equal(c.pending.length, 0);
    assert.equal(h.auth.requests.length, 0);
  } finally {
    await h.close();
  }
});

test('SSLRequest with pipelined bytes → 08P01 in plaintext, no S, no handshake', async () => {
  const h = await harness();
  try {
    const c = await RawClient.connect(h.port);
    c.write(Buffer.concat([sslRequest, message('Q', Buffer.from('select 1\0'))]));
    const f = await expectFatal(c, '08P01');
    assert.equal(f.M, 'received unencrypted data after SSL request');
  } finally {
    await h.close();
  }
});

test('GSSENCRequest → N, then SSLRequest → S and a full login', async () => {
  const h = await harness();
  try {
    const c = await RawClient.connect(h.port);
    c.write(gssEncRequest);
    assert.equal((await c.readBytes(1)).toString(), 'N');
    c.write(sslRequest);
    assert.equal((await c.readBytes(1)).toString(), 'S');
    await c.startTls();
    c.write(startupPacket(alice));
    await c.readMessage();
    c.write(passwordPacket(testPassword));
    assert.equal((await readUntilZ(c)).at(-1)!.type, 'Z');
    c.destroy();
  } finally {
    await h.close();
  }
});

test('two GSSENCRequests → 08P01; SSLRequest or GSSENCRequest inside TLS → 08P01', async () => {
  const h = await harness();
  try {
    const c = await RawClient.connect(h.port);
    c.write(gssEncRequest);
    assert.equal((await c.readBytes(1)).toString(), 'N');
    c.write(gssEncRequest);
    await expectFatal(c, '08P01');
    const t1 = await tlsClient(h.port);
    t1.write(sslRequest);
    await expectFatal(t1, '08P01');
    const t2 = await tlsClient(h.port);
    t2.write(gssEncRequest);
    await expectFatal(t2, '08P01');
  } finally {
    await h.close();
  }
});

test('direct TLS with ALPN postgresql logs in; without ALPN it is closed', async () => {
  const h = await harness();
  try {
    const c = await RawClient.connectDirectTls(h.port, ['postgresql']);
    c.write(startupPacket(alice));
    assert.equal((await c.readMessage()).body.readInt32BE(0), 3);
    c.write(passwordPacket(testPassword));
    assert.equal((await readUntilZ(c)).at(-1)!.type, 'Z');
    c.destroy();
    const bare = await RawClient.connectDirectTls(h.port, undefined);
    bare.write(startupPacket(alice));
    assert.equal((await bare.waitClose()).length, 0);
    await assert.rejects(RawClient.connectDirectTls(h.port, ['http/1.1']));
  } finally {
    await h.close();
  }
});

test('protocol negotiation: 3.2 → v(n=0) then R 3; 3.9999 grease → v listing _pq_ keys; _pq_.compression in 3.0 → no v', async () => {
  const h = await harness();
  try {
    const c32 = await tlsClient(h.port);
    c32.write(startupPacket(alice, (3 << 16) | 2));
    const v = await c32.readMessage();
    assert.equal(v.type, 'v');
    assert.equal(v.body.toString('hex'), '0003000000000000');
    assert.equal((await c32.readMessage()).type, 'R');
    c32.destroy();

    const grease = await tlsClient(h.port);
    grease.write(startupPacket([...alice, ['_pq_.test_grease', 'x'], ['_pq_.other', 'y']], 0x0003270f));
    const vg = await grease.readMessage();
    assert.equal(vg.type, 'v');
    assert.equal(vg.body.readInt32BE(0), 196608);
    assert.equal(vg.body.readInt32BE(4), 2);
    assert.equal(vg.body.subarray(8).toString('latin1'), '_pq_.test_grease\0_pq_.other\0');
    assert.equal((await grease.readMessage()).type, 'R');
    grease.write(passwordPacket(testPassword));
    const msgs = await readUntilZ(grease);
    assert.equal(msgs.find((m) => m.type === 'K')!.body.length, 8); // 4-byte key under 3.0 rules
    assert.deepEqual(h.upstream.calls[0]!.parameters, [['application_name', 'test']]);
    grease.destroy();

    const comp = await tlsClient(h.port);
    comp.write(startupPacket([...alice, ['_pq_.compression', 'lz4']]));
    const first = await comp.readMessage();
    assert.equal(first.type, 'R');
    comp.destroy();
  } finally {
    await h.close();
  }
});

test('startup rejections: protocol 2 and 4 → 0A000, replication → 0A000, no user → 28000, duplicate user → 08P01', async () => {
  const h = await harness();
  try {
    const p4 = await tlsClient(h.port);
    p4.write(startupPacket(alice, 4 << 16));
    assert.equal((await expectFatal(p4, '0A000')).M, 'unsupported frontend protocol 4.0: server supports 3.0 to 3.0');
    const p2 = await tlsClient(h.port);
    const v2 = Buffer.alloc(296);
    v2.writeInt32BE(296, 0);
    v2.writeInt32BE(2 << 16, 4);
    p2.write(v2);
    await expectFatal(p2, '0A000');
    const rep = await tlsClient(h.port);
    rep.write(startupPacket([...alice, ['replication', 'database']]));
    await expectFatal(rep, '0A000');
    const nouser = await tlsClient(h.port);
    nouser.write(startupPacket([['database', 'dev']]));
    assert.equal((await expectFatal(nouser, '28000')).M, 'no PostgreSQL user name specified in startup packet');
    const dup = await tlsClient(h.port);
    dup.write(startupPacket([['user', 'a'], ['user', 'admin']]));
    await expectFatal(dup, '08P01');
  } finally {
    await h.close();
  }
});

test('oversize startup and password are refused from the header without waiting for the body', async () => {
  const h = await harness();
  try {
    const big = await tlsClient(h.port);
    const head = Buffer.alloc(8);
    head.writeInt32BE(10_001, 0);
    head.writeInt32BE(196608, 4);
    big.write(head);
    assert.equal((await expectFatal(big, '08P01')).M, 'invalid startup packet length');
    const small = await tlsClient(h.port);
    small.write(Buffer.from([0, 0, 0, 7, 0, 3, 0, 0]));
    await expectFatal(small, '08P01');
    const pw = await tlsClient(h.port);
    pw.write(startupPacket(alice));
    await pw.readMessage();
    const ph = Buffer.alloc(5);
    ph[0] = 0x70;
    ph.writeInt32BE(4 + 8193 + 1, 1);
    pw.write(ph);
    await expectFatal(pw, '08P01');
    assert.equal(h.auth.requests.length, 0);
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

test('login_ok carries identity, dbUser, database, result and STS/mint/upstream latencies; every line carries the connection id; no secrets', async () => {
  const lines: Array<Record<string, unknown>> = [];
  const capture = (bindings: Record<string, unknown>): Logger => {
    const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, msg, ...bindings, ...(obj as Record<string, unknown>) });
    return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (b: object) => capture({ ...bindings, ...(b as Record<string, unknown>) }) };
  };
  const h = await harness({ logger: capture({}) });
  try {
    h.auth.identity = {
      partition: 'aws',
      accountId: '123456789012',
      canonicalArn: 'arn:aws:iam::123456789012:role/analyst',
      arn: 'arn:aws:sts::123456789012:assumed-role/analyst/alice',
      principalType: 'assumed-role',
      userId: 'AROAEXAMPLE:alice',
      stsRequestId: 'req-1',
      accessKeyId: 'ASIAEXAMPLE',
      stsRegion: 'eu-west-1',
    };
    h.auth.timings = { stsMs: 7, mintMs: 9 };
    const { c } = await loggedIn(h);
    c.write(message('X', Buffer.alloc(0)));
    await c.waitClose();
    await waitUntil(() => h.server.connectionCount === 0);
    const ok = lines.find((l) => l['event'] === 'login_ok');
    assert.ok(ok);
    assert.equal(ok['level'], 'info');
    for (const [k, v] of Object.entries({
      canonicalArn: 'arn:aws:iam::123456789012:role/analyst',
      userId: 'AROAEXAMPLE:alice',
      accessKeyId: 'ASIAEXAMPLE',
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
