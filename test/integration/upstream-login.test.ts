import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import type * as tls from 'node:tls';
import { TLSSocket } from 'node:tls';
import type { Logger, UpstreamTarget } from '../../auth/types.js';
import { MessageFramer } from '../../proxy/protocol/framer.js';
import type { Frame } from '../../proxy/protocol/framer.js';
import { upstreamLogin, UpstreamLoginError } from '../../proxy/upstream/login.js';
import type { UpstreamLoginOptions } from '../../proxy/upstream/login.js';
import { sendUpstreamCancel } from '../../proxy/upstream/cancel.js';
import { getTestPki } from '../../testkit/certs.js';
import { startDigestServer } from '../../testkit/digest-server.js';
import { freePort } from '../../testkit/free-port.js';
import { pgAvailable, requirePg, startPgCluster } from '../../testkit/pg-cluster.js';
import type { PgCluster } from '../../testkit/pg-cluster.js';
import { waitFor } from '../../testkit/wait.js';
import { i32, typed } from '../../testkit/raw-wire.js';

interface LogRecord {
  level: string;
  obj: object;
  msg?: string | undefined;
}

function recordingLogger(records: LogRecord[] = [], bindings: object = {}): Logger & { records: LogRecord[] } {
  const rec = (level: string) => (obj: object, msg?: string) => records.push({ level, obj: { ...bindings, ...obj }, msg });
  return {
    records,
    debug: rec('debug'),
    info: rec('info'),
    warn: rec('warn'),
    error: rec('error'),
    child: (b: object) => recordingLogger(records, { ...bindings, ...b }),
  };
}

const authCodes = (log: { records: LogRecord[] }): number[] =>
  log.records.flatMap((r) => ('authCode' in r.obj ? [(r.obj as { authCode: number }).authCode] : []));

function target(port: number, over: Partial<UpstreamTarget> = {}): UpstreamTarget {
  return { database: 'dev', host: '127.0.0.1', port, dbName: 'postgres', engine: 'postgres', tlsMode: 'verify-full', ...over };
}

function loginOpts(t: UpstreamTarget, user: string, password: string, logger: Logger, over: Partial<UpstreamLoginOptions> = {}): UpstreamLoginOptions {
  return { target: t, user, password, parameters: [['application_name', 'rsproxy-test']], deadlineMs: Date.now() + 10_000, logger, ...over };
}

/** Reads typed messages from a logged-in socket until ReadyForQuery. */
function readUntilReady(socket: tls.TLSSocket, initial: Buffer): Promise<Frame[]> {
  const framer = new MessageFramer({ maxMessageBytes: 1 << 20 });
  const frames: Frame[] = [];
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      framer.push(chunk);
      for (let f = framer.next(); f; f = framer.next()) {
        frames.push({ type: f.type, body: Buffer.from(f.body), raw: Buffer.from(f.raw) });
        if (f.type === 0x5a) {
          socket.removeListener('data', onData);
          resolve(frames);
          return;
        }
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    if (initial.length > 0) onData(initial);
    socket.resume();
  });
}

function query(sql: string): Buffer {
  const body = Buffer.from(`${sql}\0`);
  const h = Buffer.alloc(5);
  h.write('Q');
  h.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([h, body]);
}

/**
 * A TCP forwarder on 127.0.0.2 (Linux routes all of 127/8 to loopback) to 127.0.0.1:`port`: an address the test
 * certificate does not name on any Node version (Node 22 reads "127.1" as the IP 127.0.0.1, Node 20 does not).
 */
async function loopbackAlias(port: number): Promise<{ port: number; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    const outbound = net.connect(port, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

async function rejectsWith(p: Promise<unknown>, check: (e: UpstreamLoginError) => void): Promise<UpstreamLoginError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof UpstreamLoginError, `expected UpstreamLoginError, got ${String(err)}`);
    check(err);
    return err;
  }
  assert.fail('expected a rejection');
}

describe('upstream login against real PostgreSQL', () => {
  let scram: PgCluster;
  before(async () => {
    // Each test gates itself with requirePg (skip locally, fail under CI=true).
    if (pgAvailable()) scram = await startPgCluster();
  });
  after(async () => {
    await scram?.stop();
  });

  test('SCRAM login yields a paused TLS socket, ParameterStatus, K and Z; socket is usable', async (t) => {
    if (!requirePg(t)) return;
    const log = recordingLogger();
    const s = await upstreamLogin(loginOpts(target(scram.port, { caFile: scram.caFile }), 'postgres', scram.superPassword, log));
    try {
      assert.deepEqual(authCodes(log), [10, 11, 12, 0]);
      assert.equal(s.socket.isPaused(), true);
      assert.equal(s.socket.listenerCount('data'), 0);
      assert.equal(s.socket.encrypted, true);
      assert.deepEqual(s.readyForQuery, Buffer.from([0x5a, 0, 0, 0, 5, 0x49]));
      assert.ok(s.backendKey.pid > 0);
      assert.equal(s.backendKey.key.length, 4);
      assert.match(s.serverVersion ?? '', /^1\d/);
      const params = new Map(s.parameterStatus.map((m) => {
        assert.equal(m[0], 0x53);
        const [k, v] = m.subarray(5).toString().split('\0');
        return [k, v];
      }));
      assert.equal(params.get('application_name'), 'rsproxy-test');
      assert.equal(params.get('client_encoding'), 'UTF8');
      assert.equal(s.leftover.length, 0);
      s.socket.write(query('SELECT pg_backend_pid()::text AS pid, current_user AS u'));
      const frames = await readUntilReady(s.socket, s.leftover);
      const row = frames.find((f) => f.type === 0x44);
      assert.ok(row);
      assert.match(row.raw.toString(), new RegExp(`${s.backendKey.pid}.*postgres`));
      assert.equal(JSON.stringify(log.records).includes(scram.superPassword), false);
    } finally {
      s.socket.destroy();
    }
  });

  test('wrong password → UPSTREAM_AUTH, isAuthRejected, no upstream text or password in message', async (t) => {
    if (!requirePg(t)) return;
    const log = recordingLogger();
    const err = await rejectsWith(upstreamLogin(loginOpts(target(scram.port, { caFile: scram.caFile }), 'postgres', 'wrong-pass-xyz', log)), (e) => {
      assert.equal(e.code, 'UPSTREAM_AUTH');
      assert.equal(e.isAuthRejected, true);
      assert.equal(e.upstreamSqlstate, '28P01');
      assert.match(e.upstreamMessage ?? '', /password authentication failed/);
    });
    assert.equal(err.message.includes('password authentication failed'), false);
    assert.equal(JSON.stringify(log.records).includes('wrong-pass-xyz'), false);
  });

  test('unknown database → UPSTREAM_AUTH with 3D000, not isAuthRejected', async (t) => {
    if (!requirePg(t)) return;
    await rejectsWith(
      upstreamLogin(loginOpts(target(scram.port, { caFile: scram.caFile, dbName: 'nope' }), 'postgres', scram.superPassword, recordingLogger())),
      (e) => {
        assert.equal(e.upstreamSqlstate, '3D000');
        assert.equal(e.isAuthRejected, false);
      },
    );
  });

  test('TLS modes: verify-full ok / wrong host fails / no CA fails; verify-ca ignores host; require needs no CA', async (t) => {
    if (!requirePg(t)) return;
    const ok = async (tg: UpstreamTarget): Promise<void> => {
      const s = await upstreamLogin(loginOpts(tg, 'postgres', scram.superPassword, recordingLogger()));
      assert.equal(s.socket.encrypted, true);
      s.socket.destroy();
    };
    await ok(target(scram.port, { caFile: scram.caFile }));
    await ok(target(scram.port, { caFile: scram.caFile, host: 'localhost' }));
    const alias = await loopbackAlias(scram.port);
    try {
      await rejectsWith(upstreamLogin(loginOpts(target(alias.port, { caFile: scram.caFile, host: '127.0.0.2' }), 'postgres', scram.superPassword, recordingLogger())), (e) => {
        assert.equal(e.code, 'UPSTREAM_TLS');
        assert.match(e.message, /altnames|Hostname/i);
      });
      await ok(target(alias.port, { caFile: scram.caFile, host: '127.0.0.2', tlsMode: 'verify-ca' }));
      await ok(target(alias.port, { tlsMode: 'require', host: '127.0.0.2' }));
    } finally {
      alias.close();
    }
    await rejectsWith(upstreamLogin(loginOpts(target(scram.port), 'postgres', scram.superPassword, recordingLogger())), (e) => assert.equal(e.code, 'UPSTREAM_TLS'));
    await rejectsWith(upstreamLogin(loginOpts(target(scram.port, { tlsMode: 'verify-ca' }), 'postgres', scram.superPassword, recordingLogger())), (e) =>
      assert.equal(e.code, 'UPSTREAM_TLS'),
    );
    await rejectsWith(upstreamLogin(loginOpts(target(scram.port, { caFile: '/nonexistent/ca.pem' }), 'postgres', scram.superPassword, recordingLogger())), (e) =>
      assert.equal(e.code, 'UPSTREAM_TLS'),
    );
  });

  test('cancel: pg_sleep(30) through a raw upstream session is cancelled via sendUpstreamCancel → 57014', async (t) => {
    if (!requirePg(t)) return;
    const tg = target(scram.port, { caFile: scram.caFile });
    const s = await upstreamLogin(loginOpts(tg, 'postgres', scram.superPassword, recordingLogger()));
    try {
      const started = Date.now();
      const done = readUntilReady(s.socket, s.leftover);
      s.socket.write(query('SELECT pg_sleep(30)'));
      await waitFor(async () => {
        const r = await scram.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND query LIKE 'SELECT pg_sleep%'", [s.backendKey.pid]);
        return r.rowCount === 1;
      }, 5000);
      await sendUpstreamCancel(tg, s.backendKey.pid, s.backendKey.key, 5000);
      const frames = await done;
      const e = frames.find((f) => f.type === 0x45);
      assert.ok(e, 'expected an ErrorResponse');
      assert.match(e.body.toString(), /C57014\0/);
      assert.ok(Date.now() - started < 10_000);
    } finally {
      s.socket.destroy();
    }
  });

  for (const method of ['md5', 'password'] as const) {
    test(`${method} cluster: login uses auth code ${method === 'md5' ? 5 : 3}`, async (t) => {
      if (!requirePg(t)) return;
      await using cluster = await startPgCluster({ authMethod: method });
      const log = recordingLogger();
      const s = await upstreamLogin(loginOpts(target(cluster.port, { caFile: cluster.caFile }), 'postgres', cluster.superPassword, log));
      assert.deepEqual(authCodes(log), [method === 'md5' ? 5 : 3, 0]);
      assert.deepEqual(s.readyForQuery, Buffer.from([0x5a, 0, 0, 0, 5, 0x49]));
      s.socket.destroy();
      await rejectsWith(upstreamLogin(loginOpts(target(cluster.port, { caFile: cluster.caFile }), 'postgres', 'bad', recordingLogger())), (e) => {
        assert.equal(e.isAuthRejected, true);
        assert.equal(e.upstreamSqlstate, '28P01');
      });
    });
  }
});

describe('upstream login against fake upstreams', () => {
  test('Redshift digest (R 13): good password logs in; startup carries user, database, parameters', async () => {
    const afterReady = Buffer.from('N\0\0\0\x05\0', 'latin1');
    await using srv = await startDigestServer({ password: 'Tmp-Pass-1', afterReady });
    const log = recordingLogger();
    const before = Date.now();
    const s = await upstreamLogin(
      loginOpts(target(srv.port, { caFile: srv.caFile, dbName: 'dev', engine: 'redshift' }), 'IAMA:alice', 'Tmp-Pass-1', log, {
        parameters: [['client_protocol_version', '2'], ['user', 'ignored'], ['Database', 'ignored']],
      }),
    );
    s.socket.destroy();
    const conn = srv.connections[0];
    assert.ok(conn);
    assert.equal(conn.verified, true);
    assert.deepEqual([...conn.startup], [['user', 'IAMA:alice'], ['database', 'dev'], ['client_protocol_version', '2']]);
    assert.match(conn.clientNonce ?? '', /^\d{13}$/);
    assert.ok(Math.abs(Number(conn.clientNonce) - before) < 5000);
    assert.equal(conn.digestReply?.length, 4 + 32 + 4 + 13);
    assert.equal(s.serverVersion, '8.0.2');
    assert.equal(s.parameterStatus.length, 4);
    assert.deepEqual(s.backendKey, { pid: 4242, key: Buffer.from([1, 2, 3, 4]) });
    assert.deepEqual(s.leftover, afterReady);
    assert.deepEqual(authCodes(log), [13, 0]);
    assert.equal(JSON.stringify(log.records).includes('Tmp-Pass-1'), false);
  });

  test('Redshift digest (R 13): wrong password → 28P01, isAuthRejected', async () => {
    await using srv = await startDigestServer({ password: 'right' });
    await rejectsWith(upstreamLogin(loginOpts(target(srv.port, { caFile: srv.caFile }), 'IAMA:bob', 'wrong', recordingLogger())), (e) => {
      assert.equal(e.code, 'UPSTREAM_AUTH');
      assert.equal(e.isAuthRejected, true);
      assert.equal(e.upstreamSqlstate, '28P01');
    });
    assert.equal(srv.connections[0]?.verified, false);
  });

  test('unsupported digest algorithm and R 14 (IdP) fail with UPSTREAM_AUTH', async () => {
    {
      await using srv = await startDigestServer({ digestAlgorithm: 1 });
      await rejectsWith(upstreamLogin(loginOpts(target(srv.port, { caFile: srv.caFile }), 'u', 'digest-password', recordingLogger())), (e) => {
        assert.equal(e.code, 'UPSTREAM_AUTH');
        assert.match(e.message, /algorithm 1/);
      });
    }
    await using srv = await startDigestServer({ authCode: 14 });
    await rejectsWith(upstreamLogin(loginOpts(target(srv.port, { caFile: srv.caFile }), 'u', 'p', recordingLogger())), (e) => {
      assert.equal(e.code, 'UPSTREAM_AUTH');
      assert.equal(e.isAuthRejected, false);
      assert.match(e.message, /method 14/);
    });
  });

  test("upstream answering 'N' to SSLRequest → UPSTREAM_TLS, no plaintext startup", async () => {
    await using srv = await startDigestServer({ sslAnswer: 'N' });
    await rejectsWith(upstreamLogin(loginOpts(target(srv.port, { tlsMode: 'require' }), 'u', 'p', recordingLogger())), (e) => {
      assert.equal(e.code, 'UPSTREAM_TLS');
      assert.match(e.message, /answered N/);
    });
    assert.equal(srv.connections.length, 0);
  });

  test('sendUpstreamCancel: inside TLS when offered, plaintext fallback after N', async () => {
    {
      await using srv = await startDigestServer();
      await sendUpstreamCancel(target(srv.port, { caFile: srv.caFile }), 77, Buffer.from([9, 8, 7, 6]), 2000);
      assert.deepEqual(srv.cancels, [{ pid: 77, key: Buffer.from([9, 8, 7, 6]), isTls: true }]);
      assert.equal(srv.connections.length, 0);
    }
    await using srv = await startDigestServer({ sslAnswer: 'N' });
    await sendUpstreamCancel(target(srv.port, { caFile: srv.caFile }), 78, Buffer.from([1, 1, 1, 1]), 2000);
    assert.deepEqual(srv.cancels, [{ pid: 78, key: Buffer.from([1, 1, 1, 1]), isTls: false }]);
    const closedPort = await freePort();
    await assert.rejects(sendUpstreamCancel(target(closedPort), 1, Buffer.alloc(4), 1000), UpstreamLoginError);
  });

  test("bytes right after 'S' → fail before any startup (CVE-2021-23222)", async () => {
    await using srv = await startDigestServer({ sslAnswer: 'S+garbage' });
    await rejectsWith(upstreamLogin(loginOpts(target(srv.port, { tlsMode: 'require' }), 'u', 'p', recordingLogger())), (e) => {
      // One write on loopback arrives as one chunk (PROTOCOL); if split, the handshake fails on the plaintext (TLS).
      assert.ok(['UPSTREAM_PROTOCOL', 'UPSTREAM_TLS'].includes(e.code), e.code);
    });
    assert.equal(srv.connections.length, 0);
  });

  test('connection refused → UPSTREAM_CONNECT; silent upstream → UPSTREAM_TIMEOUT by the deadline; past deadline → UPSTREAM_TIMEOUT', async () => {
    const closedPort = await freePort();
    await rejectsWith(upstreamLogin(loginOpts(target(closedPort, { tlsMode: 'require' }), 'u', 'p', recordingLogger())), (e) => assert.equal(e.code, 'UPSTREAM_CONNECT'));

    const held: net.Socket[] = [];
    const silent = net.createServer((s) => held.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const started = Date.now();
      await rejectsWith(upstreamLogin(loginOpts(target(port, { tlsMode: 'require' }), 'u', 'p', recordingLogger(), { deadlineMs: Date.now() + 300 })), (e) =>
        assert.equal(e.code, 'UPSTREAM_TIMEOUT'),
      );
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 250 && elapsed < 2000, `elapsed ${elapsed}`);
      await rejectsWith(upstreamLogin(loginOpts(target(port, { tlsMode: 'require' }), 'u', 'p', recordingLogger(), { deadlineMs: Date.now() - 1 })), (e) =>
        assert.equal(e.code, 'UPSTREAM_TIMEOUT'),
      );
    } finally {
      for (const s of held) s.destroy();
      silent.close();
    }
  });

  test('an oversize upstream message during login → UPSTREAM_PROTOCOL', async () => {
    const big = Buffer.alloc(5);
    big.write('S');
    big.writeInt32BE(2 * 1024 * 1024, 1);
    await using srv = await scriptedUpstream([big]);
    await rejectsWith(upstreamLogin(loginOpts(target(srv.port, { tlsMode: 'require' }), 'u', 'p', recordingLogger())), (e) => {
      assert.equal(e.code, 'UPSTREAM_PROTOCOL');
      assert.match(e.message, /limit/);
    });
  });

  test("unexpected 'v' is logged and ignored; cleartext R 3 works", async () => {
    const v = typed('v', Buffer.concat([i32(196608), i32(1), Buffer.from('_pq_.x\0')]));
    await using srv = await scriptedUpstream([Buffer.concat([v, typed('R', i32(3))]), 'read', Buffer.concat([typed('R', i32(0)), keyData, ready])]);
    const log = recordingLogger();
    const s = await upstreamLogin(loginOpts(target(srv.port, { tlsMode: 'require' }), 'u', 'clear-pw', log));
    s.socket.destroy();
    assert.equal(log.records.filter((r) => r.level === 'warn' && /NegotiateProtocolVersion/.test(r.msg ?? '')).length, 1);
    assert.deepEqual(srv.received[0], Buffer.concat([Buffer.from('p'), i32(13), Buffer.from('clear-pw\0')]));
  });

  test('protocol violations during login → UPSTREAM_PROTOCOL / UPSTREAM_AUTH', async () => {
    const cases: Array<[string, ScriptStep[], string, RegExp]> = [
      ['Z without K', [Buffer.concat([typed('R', i32(0)), ready])], 'UPSTREAM_PROTOCOL', /without BackendKeyData/],
      ['data row during login', [Buffer.concat([typed('R', i32(0)), typed('D', i32(0))])], 'UPSTREAM_PROTOCOL', /unexpected upstream message 'D'/],
      ['K before auth', [keyData], 'UPSTREAM_PROTOCOL', /during authentication/],
      ['R 11 without SASL', [typed('R', Buffer.concat([i32(11), Buffer.from('r=x')]))], 'UPSTREAM_PROTOCOL', /without SASL/],
      ['SASL without SCRAM-SHA-256', [typed('R', Buffer.concat([i32(10), Buffer.from('OTHER\0\0')]))], 'UPSTREAM_AUTH', /no supported SASL/],
      ['malformed R', [typed('R', Buffer.concat([i32(5), Buffer.from([1])]))], 'UPSTREAM_PROTOCOL', /malformed/],
      ['close mid-login', ['close'], 'UPSTREAM_PROTOCOL', /closed/],
    ];
    for (const [name, script, code, re] of cases) {
      await using srv = await scriptedUpstream(script);
      await rejectsWith(upstreamLogin(loginOpts(target(srv.port, { tlsMode: 'require' }), 'u', 'p', recordingLogger())), (e) => {
        assert.equal(e.code, code, name);
        assert.match(e.message, re, name);
      });
    }
  });

  test('SCRAM: AuthenticationOk without a verified server signature → UPSTREAM_AUTH', async () => {
    // The server skips R 12 (a server that does not know the password could do this).
    const sasl = typed('R', Buffer.concat([i32(10), Buffer.from('SCRAM-SHA-256\0\0')]));
    let nonce = '';
    await using srv = await scriptedUpstream([
      sasl,
      'read',
      (received) => {
        nonce = /r=([^,]+)/.exec(received.at(-1)?.toString('latin1') ?? '')?.[1] ?? '';
        return typed('R', Buffer.concat([i32(11), Buffer.from(`r=${nonce}srv,s=${Buffer.from('salty').toString('base64')},i=4096`)]));
      },
      'read',
      Buffer.concat([typed('R', i32(0)), keyData, ready]),
    ]);
    await rejectsWith(upstreamLogin(loginOpts(target(srv.port, { tlsMode: 'require' }), 'u', 'p', recordingLogger())), (e) => {
      assert.equal(e.code, 'UPSTREAM_AUTH');
      assert.match(e.message, /SCRAM server signature/);
    });
    assert.ok(nonce.length > 0);
    assert.match(srv.received[0]?.toString('latin1') ?? '', /SCRAM-SHA-256\0....n,,n=,r=/s);
  });
});

const keyData = typed('K', Buffer.concat([i32(7), Buffer.from([1, 2, 3, 4])]));
const ready = typed('Z', Buffer.from('I'));

type ScriptStep = Buffer | 'read' | 'close' | ((received: Buffer[]) => Buffer);

/** A TLS upstream that reads the startup, then plays `script`: send bytes, wait for one client chunk, or close. */
async function scriptedUpstream(script: ScriptStep[]): Promise<{ port: number; received: Buffer[]; [Symbol.asyncDispose](): Promise<void> }> {
  const pki = await getTestPki();
  const received: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((raw) => {
    sockets.add(raw);
    raw.on('error', () => {});
    raw.once('data', () => {
      raw.write('S');
      const s = new TLSSocket(raw, { isServer: true, cert: pki.serverCertPem, key: pki.serverKeyPem });
      s.on('error', () => {});
      const chunks: Buffer[] = [];
      let wake: (() => void) | undefined;
      s.on('data', (c: Buffer) => {
        chunks.push(c);
        wake?.();
      });
      const nextChunk = async (): Promise<Buffer> => {
        while (chunks.length === 0) await new Promise<void>((r) => (wake = r));
        return chunks.shift()!;
      };
      void (async () => {
        await nextChunk(); // startup
        for (const step of script) {
          if (step === 'read') received.push(await nextChunk());
          else if (step === 'close') s.destroy();
          else s.write(typeof step === 'function' ? step(received) : step);
        }
      })().catch(() => s.destroy());
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    received,
    async [Symbol.asyncDispose]() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    },
  };
}
