import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import pg from 'pg';
import { silentLogger } from '../../auth/types.js';
import { ProxyServer } from './server.js';
import { getTestPki } from '../../testkit/certs.js';
import { FakeBackend, FixedPasswordAuthenticator, RawClient, fakeUpstreamLogin, sslRequest, startupPacket, testPassword } from '../../testkit/session-fakes.js';

async function setup() {
  const pki = await getTestPki();
  const backend = await FakeBackend.start();
  const auth = new FixedPasswordAuthenticator(() => backend.target('redshift'));
  const { login, state } = fakeUpstreamLogin(() => backend.port);
  const server = new ProxyServer({
    tls: { certPem: pki.serverCertPem, keyPem: pki.serverKeyPem, minVersion: 'TLSv1.2' },
    limits: { maxClientConnections: 10, loginTimeoutMs: 3000, maxStartupBytes: 10_000, maxPasswordBytes: 8192 },
    authenticator: auth,
    logger: silentLogger,
    upstreamLogin: login,
    sendUpstreamCancel: async () => {},
  });
  const { port } = await server.listen('127.0.0.1', 0);
  return { pki, backend, auth, state, server, port, close: async () => (server.destroy(), await backend.close()) };
}

test('node-postgres connects through the proxy with the CA, runs a query, sees upstream ParameterStatus', async () => {
  const s = await setup();
  try {
    const client = new pg.Client({ host: '127.0.0.1', port: s.port, user: 'alice', database: 'dev', password: testPassword, ssl: { ca: s.pki.caPem, servername: 'localhost' }, application_name: 'pgtest' });
    const seen: Record<string, string> = {};
    const conn = (client as unknown as { connection: { on(ev: 'parameterStatus', cb: (m: { parameterName: string; parameterValue: string }) => void): void } }).connection;
    conn.on('parameterStatus', (m) => (seen[m.parameterName] = m.parameterValue));
    await client.connect();
    assert.equal(seen.server_version, '8.0.2');
    assert.equal(seen.client_encoding, 'UTF8');
    const res = await client.query('SELECT 1');
    assert.deepEqual(res.rows, [{ q: 'SELECT 1' }]);
    await client.end();
    assert.deepEqual(s.backend.queries, ['SELECT 1']);
    const call = s.state.calls[0]!;
    assert.deepEqual(call.parameters.find(([k]) => k === 'application_name'), ['application_name', 'pgtest']);
  } finally {
    await s.close();
  }
});

test('node-postgres with a wrong password gets 28P01 and the uniform message', async () => {
  const s = await setup();
  try {
    const client = new pg.Client({ host: '127.0.0.1', port: s.port, user: 'bob', database: 'dev', password: 'rsp1.bad', ssl: { rejectUnauthorized: false } });
    await assert.rejects(client.connect(), (err: Error & { code?: string }) => {
      assert.equal(err.code, '28P01');
      assert.equal(err.message, 'IAM authentication failed for user "bob"');
      return true;
    });
  } finally {
    await s.close();
  }
});

test('node-postgres without TLS gets 28000', async () => {
  const s = await setup();
  try {
    const client = new pg.Client({ host: '127.0.0.1', port: s.port, user: 'bob', password: 'x', ssl: false });
    await assert.rejects(client.connect(), (err: Error & { code?: string }) => err.code === '28000');
  } finally {
    await s.close();
  }
});

test('handshake failures stay on their socket: garbage after S, a client that rejects the cert; the server keeps serving', async () => {
  const s = await setup();
  try {
    const garbage = await RawClient.connect(s.port);
    garbage.write(sslRequest);
    await garbage.readBytes(1);
    garbage.write(Buffer.from('this is not a TLS ClientHello at all........'));
    await garbage.waitClose();
    await assert.rejects(
      new Promise((resolve, reject) => {
        const raw = RawClient.connect(s.port);
        void raw.then(async (c) => {
          c.write(sslRequest);
          await c.readBytes(1);
          c.socket.removeAllListeners('data');
          const t = tls.connect({ socket: c.socket, rejectUnauthorized: true }, () => resolve(t));
          t.once('error', reject);
        });
      }),
    );
    const reset = await RawClient.connect(s.port);
    reset.write(sslRequest);
    await reset.readBytes(1);
    reset.socket.resetAndDestroy();
    const client = new pg.Client({ host: '127.0.0.1', port: s.port, user: 'alice', database: 'dev', password: testPassword, ssl: { rejectUnauthorized: false } });
    await client.connect();
    await client.end();
  } finally {
    await s.close();
  }
});

test('setTlsContext swaps the certificate for new connections; an invalid one throws and keeps the old', async () => {
  const s = await setup();
  try {
    assert.throws(() => s.server.setTlsContext({ certPem: 'nope', keyPem: 'nope', minVersion: 'TLSv1.2' }));
    const { generateCa, generateServerCert } = await import('../cli/dev-certs.js');
    const ca2 = await generateCa('second CA');
    const cert2 = await generateServerCert(ca2, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    s.server.setTlsContext({ certPem: cert2.certPem, keyPem: cert2.keyPem, minVersion: 'TLSv1.2' });
    const client = new pg.Client({ host: '127.0.0.1', port: s.port, user: 'alice', database: 'dev', password: testPassword, ssl: { ca: ca2.certPem, servername: 'localhost' } });
    await client.connect();
    await client.end();
  } finally {
    await s.close();
  }
});

test('setAuthenticator applies to new connections', async () => {
  const s = await setup();
  try {
    const other = new FixedPasswordAuthenticator(() => s.backend.target());
    s.server.setAuthenticator(other);
    const c = await RawClient.connect(s.port);
    c.write(sslRequest);
    await c.readBytes(1);
    await c.startTls();
    c.write(startupPacket([['user', 'carol']]));
    await c.readMessage();
    c.destroy();
    const client = new pg.Client({ host: '127.0.0.1', port: s.port, user: 'dave', database: 'dev', password: testPassword, ssl: { rejectUnauthorized: false } });
    await client.connect();
    await client.end();
    assert.equal(other.requests.length, 1);
    assert.equal(s.auth.requests.length, 0);
  } finally {
    await s.close();
  }
});

test('per-source connection rate: over limits.maxConnectionsPerSourcePerSecond the socket is closed at accept with no reply, logged at warn, no login counted', async () => {
  const pki = await getTestPki();
  const clock = { ms: 1_000_000 };
  const warnings: Array<Record<string, unknown>> = [];
  const logins: string[] = [];
  const logger = { ...silentLogger, warn: (obj: object) => void warnings.push(obj as Record<string, unknown>), child: () => logger };
  const server = new ProxyServer({
    tls: { certPem: pki.serverCertPem, keyPem: pki.serverKeyPem, minVersion: 'TLSv1.2' },
    limits: { maxClientConnections: 10, loginTimeoutMs: 3000, maxStartupBytes: 10_000, maxPasswordBytes: 8192, maxConnectionsPerSourcePerSecond: 2 },
    authenticator: new FixedPasswordAuthenticator(() => ({ database: 'dev', host: '127.0.0.1', port: 1, dbName: 'dev', engine: 'redshift', tlsMode: 'require' })),
    logger,
    observer: { clientConnectionOpened() {}, clientConnectionClosed() {}, login: (r, reason) => void logins.push(`${r}:${reason}`), bytes() {}, cancel() {}, upstreamConnect() {}, sessionEnded() {} },
    nowMs: () => clock.ms,
  });
  const { port } = await server.listen('127.0.0.1', 0);
  try {
    const a = await RawClient.connect(port);
    const b = await RawClient.connect(port);
    const refused = await RawClient.connect(port);
    assert.equal((await refused.waitClose(2000)).length, 0, 'no reply at all');
    for (const c of [a, b]) {
      c.write(sslRequest);
      assert.equal((await c.readBytes(1)).toString(), 'S');
      c.destroy();
    }
    const refusal = warnings.find((w) => w['event'] === 'connection_refused');
    assert.equal(refusal?.['reason'], 'source_rate');
    assert.equal(typeof refusal['connectionId'], 'string');
    assert.deepEqual(logins, []);
    clock.ms += 500;
    const later = await RawClient.connect(port);
    later.write(sslRequest);
    assert.equal((await later.readBytes(1)).toString(), 'S', 'a token is back after 1/rate seconds');
    later.destroy();
  } finally {
    server.destroy();
  }
});
