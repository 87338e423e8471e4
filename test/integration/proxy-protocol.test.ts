/**
 * PROXY protocol v1/v2 on the real stack (PostgreSQL, the emulator, `rsproxy serve` in process) with
 * 127.0.0.1/32 as the trusted balancer (issue 13, docs/design/surface.md §9).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import type pg from 'pg';
import { pgAvailable, requirePg } from '../../testkit/pg-cluster.js';
import { startIamStack } from '../../testkit/iam-stack.js';
import type { IamStack } from '../../testkit/iam-stack.js';
import { probeConnection, proxyV1, proxyV2, startHeaderForwarder } from '../../testkit/proxy-header.js';
import { cancelPacket, i32 } from '../../testkit/raw-wire.js';
import { sslRequest } from '../../testkit/raw-pg-client.js';
import { waitFor } from '../../testkit/wait.js';

type Rec = Record<string, unknown>;
const records = (stack: IamStack): Rec[] => stack.logs.map((l) => JSON.parse(l) as Rec);
const v2From = (address: string, port = 50000) => proxyV2({ source: { address, port }, destination: { address: '10.0.0.5', port: 5439 } });

describe('PROXY protocol through the real stack', () => {
  let stack: IamStack;

  before(async () => {
    if (!pgAvailable()) return;
    stack = await startIamStack({
      logLevel: 'debug',
      configure: (c) => {
        c.proxyProtocol = { trustedSources: ['127.0.0.1/32'] };
        c.limits = { loginTimeoutMs: 4000, maxConnectionsPerSourcePerSecond: 2 };
      },
    });
  });
  after(async () => stack?.close());

  /** Logs in as alice through a forwarder that sends `header` first; returns the client and its login_ok record. */
  async function loginVia(header: Buffer): Promise<{ client: pg.Client; port: number; line: Rec; close(): Promise<void> }> {
    const fwd = await startHeaderForwarder({ targetPort: stack.proxyPort, header: () => header });
    const from = stack.logs.length;
    const token = await stack.mint('alice');
    const pgMod = (await import('pg')).default;
    const client = new pgMod.Client({ host: '127.0.0.1', port: fwd.port, user: 'alice', database: 'dev', password: token, ssl: { ca: stack.caPem, servername: 'localhost' } });
    client.on('error', () => {});
    await client.connect();
    const line = await waitFor(() => records(stack).slice(from).find((r) => r.event === 'login_ok'));
    return { client, port: fwd.port, line, close: async () => (await client.end().catch(() => {}), await fwd.close()) };
  }

  test('v2 and v1 from the trusted balancer: a real login, logged with the header source as the client address', async (t) => {
    if (!requirePg(t)) return;
    for (const [header, clientAddress] of [
      [v2From('198.51.100.10'), '198.51.100.10'],
      [proxyV1({ address: '2001:db8::10', port: 41000 }, { address: '2001:db8::1', port: 5439 }), '2001:db8::10'],
    ] as const) {
      const s = await loginVia(header);
      try {
        assert.deepEqual((await s.client.query('SELECT current_user AS u')).rows, [{ u: 'IAMA:alice' }]);
        assert.equal(s.line.clientAddress, clientAddress);
        assert.equal(s.line.proxiedBy, '127.0.0.1');
      } finally {
        await s.close();
      }
      const end = await waitFor(() => records(stack).find((r) => r.event === 'session_end' && r.connectionId === s.line.connectionId));
      assert.equal(end.clientAddress, clientAddress, 'the session_end line names the client too');
    }
  });

  test('v2 LOCAL (health check, a peer replica) is the balancer speaking for itself', async (t) => {
    if (!requirePg(t)) return;
    const s = await loginVia(proxyV2());
    try {
      assert.equal(s.line.clientAddress, '127.0.0.1');
      assert.equal(s.line.proxiedBy, undefined);
    } finally {
      await s.close();
    }
  });

  test('a CancelRequest through the balancer, with its own header, cancels (57014) and is counted against the header source', async (t) => {
    if (!requirePg(t)) return;
    const s = await loginVia(v2From('198.51.100.20'));
    try {
      const { processID, secretKey } = s.client as unknown as { processID: number; secretKey: number };
      const running = s.client.query('SELECT pg_sleep(30)');
      const outcome = running.then(() => 'finished', (err: { code?: string }) => err.code);
      await waitFor(async () => (await stack.pg.query("SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT pg_sleep%'")).rowCount === 1, 10_000);
      const startedMs = Date.now();
      const cancel = net.connect(s.port, '127.0.0.1', () => cancel.write(cancelPacket(processID, i32(secretKey))));
      cancel.on('error', () => {});
      assert.equal(await outcome, '57014');
      assert.ok(Date.now() - startedMs < 2000, 'cancelled within 2 s');
      const forwarded = await waitFor(() => records(stack).find((r) => r.event === 'cancel_forwarded'));
      assert.equal(forwarded.source, '198.51.100.20');
    } finally {
      await s.close();
    }
  });

  test('maxConnectionsPerSourcePerSecond (2) counts the header source, not the balancer', async (t) => {
    if (!requirePg(t)) return;
    const admitted = async (header: Buffer): Promise<boolean> => {
      const r = await probeConnection(stack.proxyPort, [header, sslRequest], { waitMs: 300 });
      return r === 'open' || r.length > 0;
    };
    // Concurrent, so all three land within the same second (the bucket refills at 2/s).
    const same = await Promise.all([1, 2, 3].map(() => admitted(v2From('203.0.113.50'))));
    assert.deepEqual(same.sort(), [false, true, true], 'the third from one source within a second is closed');
    const different = await Promise.all(['203.0.113.51', '203.0.113.52', '203.0.113.53'].map((a) => admitted(v2From(a))));
    assert.deepEqual(different, [true, true, true], 'six connections from the balancer, three sources: all admitted');
    const refused = records(stack).filter((r) => r.event === 'connection_refused' && r.reason === 'source_rate');
    assert.deepEqual(refused.map((r) => r.remoteAddress), ['203.0.113.50']);
  });

  test('refused: a header from an untrusted address, and no header from the trusted one; nothing written back', async (t) => {
    if (!requirePg(t)) return;
    const untrustedBefore = await stack.metric('rsproxy_proxy_protocol_rejected_total', { reason: 'untrusted' });
    const signatureBefore = await stack.metric('rsproxy_proxy_protocol_rejected_total', { reason: 'signature' });
    // 127.0.0.5 is a local address but not in trustedSources.
    assert.deepEqual(await probeConnection(stack.proxyPort, [v2From('192.0.2.61'), sslRequest], { localAddress: '127.0.0.5' }), Buffer.alloc(0));
    assert.deepEqual(await probeConnection(stack.proxyPort, [proxyV1({ address: '192.0.2.62', port: 1 }, { address: '10.0.0.5', port: 5439 })], { localAddress: '127.0.0.5' }), Buffer.alloc(0));
    // The trusted balancer connecting without a header (a client that bypassed it, or a misconfigured target group).
    assert.deepEqual(await probeConnection(stack.proxyPort, [sslRequest]), Buffer.alloc(0));
    assert.equal(await stack.metric('rsproxy_proxy_protocol_rejected_total', { reason: 'untrusted' }), untrustedBefore + 2);
    assert.equal(await stack.metric('rsproxy_proxy_protocol_rejected_total', { reason: 'signature' }), signatureBefore + 1);
    // An untrusted direct client without a header is an ordinary client.
    assert.equal(await probeConnection(stack.proxyPort, [sslRequest], { localAddress: '127.0.0.5', waitMs: 300 }), 'open');
  });

  test('hostile headers: split, truncated then idle, oversize, bad family, bytes after; all closed, nothing crashes, no client address logged', async (t) => {
    if (!requirePg(t)) return;
    const hostile = '192.0.2.77';
    const header = v2From(hostile);
    // Split across many reads: still one valid header, and the session then answers the SSLRequest.
    const split = [...v2From('198.51.100.77')].map((b) => Buffer.from([b]));
    assert.equal(await probeConnection(stack.proxyPort, [...split, sslRequest], { gapMs: 1, waitMs: 500 }), 'open');
    const cases: Array<[string, Buffer[], number]> = [
      ['truncated, then idle past loginTimeoutMs', [header.subarray(0, 17)], 8000],
      ['oversize v2 length', [proxyV2({ source: { address: hostile, port: 1 }, length: 60_000 })], 2000],
      ['oversize v1 line', [Buffer.from(`PROXY TCP4 ${hostile} 10.0.0.5 1 ${'9'.repeat(120)}`)], 2000],
      ['v2 PROXY over AF_UNIX', [proxyV2({ verCmd: 0x21, fam: 0x31, tlvBytes: Buffer.alloc(216) })], 2000],
      ['v1 with a lone LF', [Buffer.from(`PROXY TCP4 ${hostile} 10.0.0.5 1 2\n`)], 2000],
    ];
    for (const [name, bytes, waitMs] of cases) {
      const startedMs = Date.now();
      assert.deepEqual(await probeConnection(stack.proxyPort, bytes, { waitMs }), Buffer.alloc(0), name);
      if (name.startsWith('truncated')) assert.ok(Date.now() - startedMs >= 3500, 'held until the login timeout');
    }
    // A valid LOCAL header followed by a second header: the second is PostgreSQL garbage → 08P01, closed.
    const after = await probeConnection(stack.proxyPort, [Buffer.concat([proxyV2(), v2From(hostile)])]);
    assert.ok(after !== 'open' && after[0] === 'E'.charCodeAt(0), 'an ErrorResponse, then close');
    assert.match(after.toString('latin1'), /08P01/);
    const leaked = stack.logs.filter((l) => l.includes(hostile));
    assert.deepEqual(leaked, [], 'the address of a refused header is never logged');
    const refusals = records(stack).filter((r) => r.event === 'proxy_header_rejected');
    assert.ok(refusals.length >= 5);
    assert.ok(refusals.every((r) => r.clientAddress === undefined && (r.peerAddress === '127.0.0.1' || r.peerAddress === '127.0.0.5')), 'refusals name only the TCP peer');
    for (const reason of ['timeout', 'oversize', 'family', 'format']) {
      assert.ok((await stack.metric('rsproxy_proxy_protocol_rejected_total', { reason })) >= 1, reason);
    }
    // The proxy is still serving.
    const s = await loginVia(v2From('198.51.100.99'));
    await s.close();
  });
});
