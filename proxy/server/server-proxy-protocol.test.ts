/** The PROXY protocol gate of ProxyServer with a fake upstream: who must send a header, what it changes, what is refused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import pg from 'pg';
import type { Logger } from '../../auth/types.js';
import { metricLabels } from '../telemetry/metrics.js';
import { nullSessionObserver } from '../telemetry/observer.js';
import { ProxyHeaderRejectReason } from '../protocol/proxy-header.js';
import { proxyGateRejectReasons } from './proxy-header-reader.js';
import { ProxyServer } from './server.js';
import type { ServerLimits } from './server.js';
import { getTestPki } from '../../testkit/certs.js';
import { probeConnection, proxyV1, proxyV2, startHeaderForwarder } from '../../testkit/proxy-header.js';
import { FakeBackend, FixedPasswordAuthenticator, fakeUpstreamLogin, sslRequest, testPassword } from '../../testkit/session-fakes.js';

type Line = { level: string } & Record<string, unknown>;

/** A logger that keeps child bindings (connectionId, clientAddress) on each line. */
function bindingLogger(lines: Line[], bindings: Record<string, unknown> = {}): Logger {
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, ...bindings, ...obj, msg });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (b) => bindingLogger(lines, { ...bindings, ...b }) };
}

async function setup(opts: { trustedSources: string[]; limits?: Partial<ServerLimits>; nowMs?: () => number; listenHost?: string }) {
  const pki = await getTestPki();
  const backend = await FakeBackend.start();
  const { login } = fakeUpstreamLogin(() => backend.port);
  const lines: Line[] = [];
  const rejected: string[] = [];
  const server = new ProxyServer({
    tls: { certPem: pki.serverCertPem, keyPem: pki.serverKeyPem, minVersion: 'TLSv1.2' },
    limits: { maxClientConnections: 10, loginTimeoutMs: 3000, maxStartupBytes: 10_000, maxPasswordBytes: 8192, ...opts.limits },
    authenticator: new FixedPasswordAuthenticator(() => backend.target('redshift')),
    logger: bindingLogger(lines),
    observer: { ...nullSessionObserver, proxyHeaderRejected: (reason) => rejected.push(reason) },
    upstreamLogin: login,
    sendUpstreamCancel: async () => {},
    trustedSources: opts.trustedSources,
    ...(opts.nowMs === undefined ? {} : { nowMs: opts.nowMs }),
  });
  const { port } = await server.listen(opts.listenHost ?? '127.0.0.1', 0);
  const pgLogin = async (viaPort: number): Promise<void> => {
    const client = new pg.Client({ host: '127.0.0.1', port: viaPort, user: 'alice', database: 'dev', password: testPassword, ssl: { ca: pki.caPem, servername: 'localhost' } });
    await client.connect();
    await client.query('SELECT 1');
    await client.end();
  };
  const loginLines = () => lines.filter((l) => l.event === 'login_ok');
  return { server, port, lines, rejected, pgLogin, loginLines, close: async () => (server.destroy(), await backend.close()) };
}

const probe = probeConnection;
const v2From = (address: string, port = 40001) => proxyV2({ source: { address, port }, destination: { address: '10.0.0.5', port: 5439 } });

test('trusted balancer: v1 and v2 headers name the client in the login line; LOCAL and v1 UNKNOWN keep the balancer', async () => {
  const s = await setup({ trustedSources: ['127.0.0.1/32'] });
  try {
    const cases: Array<[Buffer, string, string | undefined]> = [
      [v2From('198.51.100.7'), '198.51.100.7', '127.0.0.1'],
      [proxyV1({ address: '2001:db8::42', port: 1234 }, { address: '2001:db8::1', port: 5439 }), '2001:db8::42', '127.0.0.1'],
      [proxyV2(), '127.0.0.1', undefined],
      [proxyV1(), '127.0.0.1', undefined],
    ];
    for (const [header, clientAddress, proxiedBy] of cases) {
      await using fwd = await startHeaderForwarder({ targetPort: s.port, header: () => header });
      await s.pgLogin(fwd.port);
      const line = s.loginLines().at(-1);
      assert.equal(line?.clientAddress, clientAddress, header.toString('latin1'));
      assert.equal(line?.proxiedBy, proxiedBy);
    }
    assert.equal(s.loginLines().length, 4);
    assert.deepEqual(s.rejected, []);
  } finally {
    await s.close();
  }
});

test('trusted balancer without a header, or with a broken one: closed with nothing written back, reason counted, no client address logged', async () => {
  const s = await setup({ trustedSources: ['127.0.0.0/8'], limits: { loginTimeoutMs: 400 } });
  try {
    const cases: Array<[string, Buffer[], string]> = [
      ['no header', [sslRequest], 'signature'],
      ['v2 bad version', [Buffer.concat([v2From('1.2.3.4').subarray(0, 12), Buffer.from([0x11])])], 'version'],
      ['v1 garbage address', [Buffer.from('PROXY TCP4 1.2.3.999 10.0.0.5 1 2\r\n')], 'address'],
      ['oversize v2', [proxyV2({ source: { address: '1.2.3.4', port: 1 }, length: 4000 })], 'oversize'],
      ['truncated, then idle', [v2From('203.0.113.9').subarray(0, 20)], 'timeout'],
      ['truncated, then gone', [v2From('203.0.113.9').subarray(0, 20)], 'closed'],
    ];
    for (const [name, bytes, reason] of cases) {
      const before = s.rejected.length;
      if (reason === 'closed') {
        await new Promise<void>((resolve) => {
          const c = net.connect(s.port, '127.0.0.1', () => c.end(bytes[0]!, () => setTimeout(resolve, 200)));
          c.on('error', () => {});
        });
      } else {
        assert.deepEqual(await probe(s.port, bytes, { localAddress: '127.0.0.3' }), Buffer.alloc(0), name);
      }
      assert.deepEqual(s.rejected.slice(before), [reason], name);
    }
    const refusals = s.lines.filter((l) => l.event === 'proxy_header_rejected');
    assert.ok(refusals.length >= 1);
    assert.ok(refusals.every((l) => l.clientAddress === undefined && !JSON.stringify(l).includes('203.0.113.9') && !JSON.stringify(l).includes('1.2.3.4')));
    assert.equal(refusals.find((l) => l.reason === 'address')?.peerAddress, '127.0.0.3');
    assert.equal(s.server.connectionCount, 0);
  } finally {
    await s.close();
  }
});

test('untrusted peer: a header is refused unread, a plain client is served as before with its own address', async () => {
  const s = await setup({ trustedSources: ['127.0.0.1/32'] });
  try {
    for (const header of [v2From('198.51.100.7'), proxyV1({ address: '198.51.100.7', port: 1 }, { address: '10.0.0.5', port: 5439 }), proxyV2()]) {
      assert.deepEqual(await probe(s.port, [header, sslRequest], { localAddress: '127.0.0.5' }), Buffer.alloc(0));
    }
    assert.deepEqual(s.rejected, ['untrusted', 'untrusted', 'untrusted']);
    // A direct client from an untrusted address: no header expected, SSLRequest answered.
    const answer = await probe(s.port, [sslRequest], { localAddress: '127.0.0.5', waitMs: 300 });
    assert.equal(answer, 'open');
    await using fwd = await startHeaderForwarder({ targetPort: s.port, localAddress: '127.0.0.5', header: () => Buffer.alloc(0) });
    await s.pgLogin(fwd.port);
    assert.equal(s.loginLines().at(-1)?.clientAddress, '127.0.0.5');
    assert.equal(s.loginLines().at(-1)?.proxiedBy, undefined);
  } finally {
    await s.close();
  }
});

test('a header split into single bytes with pauses, followed at once by the SSLRequest, is read whole', async () => {
  const s = await setup({ trustedSources: ['127.0.0.1/32'] });
  try {
    const header = v2From('192.0.2.44');
    const bytes = [...header].map((b) => Buffer.from([b]));
    const answer = await probe(s.port, [...bytes.slice(0, -1), Buffer.concat([bytes.at(-1)!, sslRequest])], { gapMs: 2, waitMs: 1500 });
    assert.equal(answer, 'open', 'the session answered S and waits for TLS');
    assert.deepEqual(s.rejected, []);
  } finally {
    await s.close();
  }
});

test('maxConnectionsPerSourcePerSecond counts the header address, not the balancer', async () => {
  const s = await setup({ trustedSources: ['127.0.0.1/32'], limits: { maxConnectionsPerSourcePerSecond: 2 }, nowMs: () => 1_000_000 });
  try {
    const admitted = async (header: Buffer): Promise<boolean> => {
      const r = await probe(s.port, [header, sslRequest], { waitMs: 300 });
      return r === 'open' || r.length > 0;
    };
    assert.deepEqual([await admitted(v2From('203.0.113.1')), await admitted(v2From('203.0.113.1')), await admitted(v2From('203.0.113.1'))], [true, true, false]);
    assert.deepEqual([await admitted(v2From('203.0.113.2')), await admitted(v2From('203.0.113.3')), await admitted(v2From('203.0.113.4'))], [true, true, true]);
    const refused = s.lines.filter((l) => l.event === 'connection_refused');
    assert.equal(refused.length, 1);
    assert.equal(refused[0]?.remoteAddress, '203.0.113.1');
  } finally {
    await s.close();
  }
});

test('without trustedSources nothing changes: a PROXY header is not read, it is a bad startup packet (08P01), and the peer is the client', async () => {
  const s = await setup({ trustedSources: [] });
  try {
    const answer = await probe(s.port, [v2From('198.51.100.7')]);
    assert.ok(answer !== 'open' && answer[0] === 'E'.charCodeAt(0), 'an ErrorResponse');
    assert.match(answer.toString('latin1'), /08P01/);
    assert.deepEqual(s.rejected, []);
    await s.pgLogin(s.port);
    assert.equal(s.loginLines().at(-1)?.clientAddress, '127.0.0.1');
    assert.equal(s.loginLines().at(-1)?.proxiedBy, undefined);
  } finally {
    await s.close();
  }
});

test('a dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d: an IPv4 trusted CIDR still matches them', async () => {
  const s = await setup({ trustedSources: ['127.0.0.1/32'], listenHost: '::' });
  try {
    await using fwd = await startHeaderForwarder({ targetPort: s.port, header: () => v2From('198.51.100.8') });
    await s.pgLogin(fwd.port);
    assert.equal(s.loginLines().at(-1)?.clientAddress, '198.51.100.8');
    assert.equal(s.loginLines().at(-1)?.proxiedBy, '::ffff:127.0.0.1');
    // And an untrusted IPv4 peer on the same listener is still untrusted.
    assert.deepEqual(await probe(s.port, [v2From('198.51.100.9')], { localAddress: '127.0.0.5' }), Buffer.alloc(0));
    assert.deepEqual(s.rejected, ['untrusted']);
  } finally {
    await s.close();
  }
});

test('the reason label set of rsproxy_proxy_protocol_rejected_total is exactly the gate\'s reasons, decoder reasons included', () => {
  assert.deepEqual([...metricLabels.proxyHeaderReason], [...proxyGateRejectReasons]);
  for (const reason of Object.values(ProxyHeaderRejectReason)) assert.ok(proxyGateRejectReasons.includes(reason), reason);
});

test('the login timeout counts from accept, not from the end of a slow header', async () => {
  const s = await setup({ trustedSources: ['127.0.0.1/32'], limits: { loginTimeoutMs: 1000 } });
  try {
    const header = v2From('198.51.100.30');
    const startedMs = Date.now();
    // Half the header now, the rest after 900 ms, then silence: the session has ~100 ms left, not a fresh second.
    const answer = await probe(s.port, [header.subarray(0, 10), header.subarray(10)], { gapMs: 900, waitMs: 5000 });
    const elapsedMs = Date.now() - startedMs;
    assert.notEqual(answer, 'open');
    assert.ok(elapsedMs >= 950 && elapsedMs < 1600, `closed after ${elapsedMs} ms`);
    assert.deepEqual(s.rejected, []);
  } finally {
    await s.close();
  }
});
