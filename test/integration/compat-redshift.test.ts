/**
 * docs/design/wire-protocol.md §14 items 8/9 and 22 at byte level. Against a Redshift-like upstream (digest auth R 13) the
 * Redshift JDBC / redshift_connector startup extras are forwarded verbatim (no `_pq_.*`), the upstream's
 * ParameterStatus (server_version 8.0.2, server_protocol_version) and an opaque extended RowDescription
 * reach the client byte-identical; an `engine: postgres` upstream never gets those keys. Against real
 * PostgreSQL, ParameterStatus sent during a session (SET application_name / TimeZone) is relayed untouched.
 */
import type * as net from 'node:net';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { UpstreamTarget } from '../../auth/types.js';
import { createLogger } from '../../proxy/telemetry/log.js';
import { ProxyServer } from '../../proxy/server/server.js';
import { getTestPki } from '../../testkit/certs.js';
import { startDigestServer } from '../../testkit/digest-server.js';
import type { DigestServer } from '../../testkit/digest-server.js';
import { pgAvailable, requirePg, startPgCluster } from '../../testkit/pg-cluster.js';
import { startProxyFixture } from '../../testkit/proxy-fixture.js';
import { rawConnect } from '../../testkit/raw-pg-client.js';
import { TestAuthenticator } from '../../testkit/test-authenticator.js';
import { cstr, parameterStatus, splitMessages, startupPacket, tlsWire, typed } from '../../testkit/raw-wire.js';

const upstreamPassword = 'digest-password-for-compat';
const clientPassword = 'rsp1.test-only.compat';
const upstreamParams: ReadonlyArray<readonly [string, string]> = [
  ['server_version', '8.0.2'],
  ['server_protocol_version', '3'],
  ['client_encoding', 'UTF8'],
  ['DateStyle', 'ISO, MDY'],
  ['integer_datetimes', 'on'],
  ['datashare_enabled', 'off'],
];

/** A Redshift extended RowDescription (schema/table/column/catalog + Int16 flags after the standard field data), a DataRow, C and Z. */
function extendedResult(): Buffer {
  const i16 = (n: number): Buffer => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
  const i32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    return b;
  };
  const field = Buffer.concat([cstr('id'), i32(0), i16(0), i32(23), i16(4), i32(-1), i16(0), cstr('public'), cstr('t'), cstr('id'), cstr('dev'), i16(0b1_1011)]);
  return Buffer.concat([
    typed('T', Buffer.concat([i16(1), field])),
    typed('D', Buffer.concat([i16(1), i32(2), Buffer.from('42')])),
    typed('C', cstr('SELECT 1')),
    typed('Z', Buffer.from('I')),
  ]);
}

const jdbcExtras: ReadonlyArray<readonly [string, string]> = [
  ['client_encoding', 'UTF8'],
  ['DateStyle', 'ISO'],
  ['extra_float_digits', '2'],
  ['application_name', 'DBeaver 24.1'],
  ['driver_version', 'Redshift JDBC Driver 2.1.0.30'],
  ['os_version', 'Linux 6.5.0'],
  ['plugin_name', 'com.amazon.redshift.plugin.BrowserAzureCredentialsProvider'],
  ['client_protocol_version', '3'],
];
const connectorExtras: ReadonlyArray<readonly [string, string]> = [
  ['application_name', 'redshift_connector'],
  ['client_protocol_version', '2'],
  ['driver_version', '2.1.1'],
  ['os_version', 'Linux-6.5.0-x86_64'],
  ['driver_discovery_version', '2'],
];
const dropped: ReadonlyArray<readonly [string, string]> = [
  ['_pq_.compression', 'lz4:1'],
  ['idp_type', 'AzureAD'],
  ['token_type', 'ACCESS_TOKEN'],
];
const redshiftOnly = new Set(['client_protocol_version', 'driver_version', 'os_version', 'plugin_name', 'driver_discovery_version']);

async function proxyFor(ds: DigestServer, engine: UpstreamTarget['engine']): Promise<{ port: number; caPem: string; close: () => void }> {
  const pki = await getTestPki();
  const authenticator = new TestAuthenticator({
    clientPassword,
    upstreamUser: 'IAMA:alice',
    upstreamPassword,
    target: { database: 'dev', host: '127.0.0.1', port: ds.port, dbName: 'dev', engine, tlsMode: 'verify-full', caFile: ds.caFile },
  });
  const proxy = new ProxyServer({
    tls: { certPem: pki.serverCertPem, keyPem: pki.serverKeyPem, minVersion: 'TLSv1.2' },
    limits: { maxClientConnections: 10, loginTimeoutMs: 10_000, maxStartupBytes: 10_000, maxPasswordBytes: 8192 },
    authenticator,
    logger: createLogger({ level: 'error', destination: { write: () => {} } }),
  });
  const { port } = await proxy.listen('127.0.0.1', 0);
  return { port, caPem: pki.caPem, close: () => proxy.destroy() };
}

/** Logs in through the proxy with `extras`; returns the ParameterStatus messages (raw) and the bytes after Z. */
async function login(port: number, caPem: string, extras: ReadonlyArray<readonly [string, string]>, tailBytes: number): Promise<{ statuses: Buffer[]; types: string; tail: Buffer; socket: net.Socket }> {
  const { socket, reader } = await tlsWire(port, caPem);
  socket.write(startupPacket([['user', 'alice'], ['database', 'dev'], ...extras, ...dropped]));
  assert.deepEqual((await reader.next()).raw, Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]), 'R 3 (no v: _pq_.compression is stripped silently)');
  socket.write(typed('p', cstr(clientPassword)));
  const statuses: Buffer[] = [];
  let types = '';
  for (;;) {
    const m = await reader.next();
    types += m.type;
    if (m.type === 'S') statuses.push(m.raw);
    if (m.type === 'E') throw new Error(`login failed: ${m.body.toString('utf8')}`);
    if (m.type === 'Z') break;
  }
  return { statuses, types, tail: await reader.bytes(tailBytes), socket };
}

describe('Redshift startup extras and ParameterStatus against a digest-auth upstream (items 8/9)', () => {
  for (const [client, extras] of [['Redshift JDBC', jdbcExtras], ['redshift_connector', connectorExtras]] as const) {
    test(`${client}: extras forwarded verbatim, no _pq_/IdP keys; upstream S and extended T relayed byte-identical`, async () => {
      const opaque = extendedResult();
      await using ds = await startDigestServer({ password: upstreamPassword, parameterStatus: upstreamParams, afterReady: opaque });
      const proxy = await proxyFor(ds, 'redshift');
      try {
        const { statuses, types, tail, socket } = await login(proxy.port, proxy.caPem, extras, opaque.length);
        socket.destroy();
        const seen = ds.connections[0];
        assert.ok(seen !== undefined && seen.verified === true, 'the proxy completed digest auth upstream');
        for (const [k, v] of extras) assert.equal(seen.startup.get(k), v, `upstream got ${k} verbatim`);
        assert.equal(seen.startup.get('user'), 'IAMA:alice');
        assert.equal(seen.startup.get('database'), 'dev');
        for (const k of seen.startup.keys()) assert.ok(!k.startsWith('_pq_.') && k !== 'idp_type' && k !== 'token_type', `${k} must not be forwarded`);
        assert.equal(types, `R${'S'.repeat(upstreamParams.length)}KZ`);
        assert.deepEqual(statuses, upstreamParams.map(([k, v]) => typed('S', Buffer.concat([cstr(k), cstr(v)]))), 'ParameterStatus verbatim, in upstream order');
        assert.deepEqual(statuses.map((s) => parameterStatus(s.subarray(5))).slice(0, 2), [['server_version', '8.0.2'], ['server_protocol_version', '3']]);
        assert.deepEqual(tail, opaque, 'the extended RowDescription / DataRow bytes are untouched');
      } finally {
        proxy.close();
      }
    });
  }

  test('engine postgres: the Redshift-only keys are not forwarded, the standard ones are', async () => {
    await using ds = await startDigestServer({ password: upstreamPassword, parameterStatus: upstreamParams });
    const proxy = await proxyFor(ds, 'postgres');
    try {
      const { socket } = await login(proxy.port, proxy.caPem, [...jdbcExtras, ['driver_discovery_version', '2']], 0);
      socket.destroy();
      const seen = ds.connections[0];
      assert.ok(seen !== undefined);
      for (const k of redshiftOnly) assert.equal(seen.startup.has(k), false, `${k} must not reach a postgres upstream`);
      for (const k of ['client_encoding', 'DateStyle', 'extra_float_digits', 'application_name']) assert.equal(seen.startup.has(k), true, `${k} forwarded`);
      for (const k of seen.startup.keys()) assert.ok(!k.startsWith('_pq_.'));
    } finally {
      proxy.close();
    }
  });
});

describe('ParameterStatus during a session is relayed untouched (item 22)', { skip: !pgAvailable() && process.env['CI'] !== 'true' ? 'PostgreSQL binaries not found' : false }, () => {
  test('SET application_name / TimeZone / DateStyle: the proxied response bytes equal a direct connection’s', async (t) => {
    if (!requirePg(t)) return;
    await using cluster = await startPgCluster();
    await using fx = await startProxyFixture({ pg: cluster });
    const statements = ["SET application_name = 'x'", "SET TimeZone = 'UTC'", "SET DateStyle = 'ISO, DMY'"];

    const direct = new pg.Client({ host: cluster.host, port: cluster.port, user: fx.pgUser, password: fx.pgPassword, database: 'postgres', ssl: { ca: cluster.caPem, servername: 'localhost' } });
    await direct.connect();
    const directBytes: Buffer[] = [];
    try {
      // node-postgres swaps its stream for the TLS socket during connect; read raw bytes from it.
      const stream = (direct as unknown as { connection: { stream: net.Socket } }).connection.stream;
      let captured: Buffer[] = [];
      stream.on('data', (c: Buffer) => captured.push(c));
      for (const sql of statements) {
        captured = [];
        await direct.query(sql);
        directBytes.push(Buffer.concat(captured));
      }
    } finally {
      await direct.end();
    }

    const session = await rawConnect({ port: fx.port, caPem: (await getTestPki()).caPem, user: fx.clientUser, database: fx.clientDatabase, password: fx.clientPassword });
    try {
      let captured: Buffer[] = [];
      session.socket.on('data', (c: Buffer) => captured.push(c));
      for (const [i, sql] of statements.entries()) {
        captured = [];
        session.sendQuery(sql);
        while ((await session.next()).name !== 'readyForQuery');
        const proxied = Buffer.concat(captured);
        const statusMessages = splitMessages(proxied).filter((m) => m.type === 'S');
        assert.ok(statusMessages.length >= 1, `${sql}: a ParameterStatus was relayed`);
        assert.deepEqual(proxied, directBytes[i], `${sql}: identical bytes (${splitMessages(proxied).map((m) => m.type).join('')})`);
      }
      const names = splitMessages(Buffer.concat(directBytes)).filter((m) => m.type === 'S').map((m) => parameterStatus(m.body));
      assert.deepEqual(names.find(([k]) => k === 'application_name'), ['application_name', 'x']);
      assert.deepEqual(names.find(([k]) => k === 'TimeZone'), ['TimeZone', 'UTC']);
    } finally {
      session.close();
    }
  });
});
