/**
 * docs/design/token.md §15 case 23, bounded: a burst of 300 connections from one address, each with a distinct
 * well-formed token signed by unknown keys, against the real proxy (maxClientConnections 100) while
 * the emulator's GetCallerIdentity takes 1 s. The excess get 53300 (or are closed), STS never has
 * more than 64 requests in flight, /livez stays 200, memory stays bounded, and the proxy recovers.
 */
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { mintToken } from '../../auth/token-mint.js';
import { Operation } from '../../emulator/index.js';
import { pgAvailable, requirePg } from '../../testkit/pg-cluster.js';
import { startStack, stackAudience, stackRegion } from '../../testkit/stack.js';
import type { StackHandle } from '../../testkit/stack.js';
import { metricValue } from '../../testkit/iam-stack.js';
import { cstr, errorFields, expectError, startupPacket, tlsWire, typed } from '../../testkit/raw-wire.js';
import { httpGet, type HttpAnswer } from '../../testkit/http-get.js';

const connections = 300;
const burstMs = 500;
const stsLatencyMs = 1000;
const maxClientConnections = 100;
const stsConcurrencyCap = 64;

const get = (port: number, path: string): Promise<HttpAnswer> => httpGet(`http://127.0.0.1:${port}${path}`);

function fakeKeyId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let id = 'AKIA';
  for (const b of randomBytes(16)) id += alphabet[b % alphabet.length];
  return id;
}

/** One attacker connection: SQLSTATE of the FATAL it got, or `closed` / `reset`. */
async function attempt(s: StackHandle, token: string): Promise<string> {
  try {
    const { socket, reader } = await tlsWire(s.proxyPort, s.caPem);
    try {
      socket.write(startupPacket([['user', s.dbUser], ['database', s.database]]));
      const first = await reader.next(20_000);
      if (first.type === 'E') return errorFields(first.body).get('C') ?? 'E?';
      socket.write(typed('p', cstr(token)));
      return (await expectError(reader, 20_000)).get('C') ?? 'E?';
    } finally {
      socket.destroy();
    }
  } catch {
    return 'closed';
  }
}

describe('case 23: token flood (bounded)', { skip: !pgAvailable() && process.env['CI'] !== 'true' ? 'PostgreSQL binaries not found' : false }, () => {
  let stack: StackHandle | undefined;
  before(async () => {
    if (!pgAvailable()) return;
    stack = await startStack({
      configure: (c) => {
        // The per-source accept rate would otherwise close most of a one-address burst before the cap is reached.
        c['limits'] = { maxClientConnections, loginTimeoutMs: 10_000, maxConnectionsPerSourcePerSecond: 100_000 };
      },
    });
  });
  after(async () => {
    await stack?.close();
  });

  test('300 distinct tokens in 0.5 s: 53300 over the cap, ≤ 64 STS in flight, /livez 200, bounded memory, then recovery', { timeout: 30_000 }, async (t) => {
    if (!requirePg(t)) return;
    const s = stack;
    assert.ok(s !== undefined, 'stack did not start');
    const tokens = await Promise.all(
      Array.from({ length: connections }, () =>
        mintToken({ audience: stackAudience, region: stackRegion, credentials: { accessKeyId: fakeKeyId(), secretAccessKey: randomBytes(30).toString('base64') } }),
      ),
    );
    assert.equal(new Set(tokens).size, connections, 'distinct tokens');
    s.emulator.faults.set(Operation.GetCallerIdentity, { latencyMs: stsLatencyMs });
    const stsBefore = s.emulator.counters.total(Operation.GetCallerIdentity);
    const rssBefore = process.memoryUsage().rss;

    // Sample STS completions, /livez and RSS every 50 ms while the flood runs.
    const samples: Array<{ atMs: number; sts: number }> = [];
    const livez: number[] = [];
    let rssMax = rssBefore;
    let peakOpen = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples.push({ atMs: performance.now(), sts: s.emulator.counters.total(Operation.GetCallerIdentity) });
        rssMax = Math.max(rssMax, process.memoryUsage().rss);
        if (samples.length % 2 === 0) livez.push(await get(s.adminPort, '/livez').then((r) => r.status, () => 0));
        if (samples.length % 4 === 0) peakOpen = Math.max(peakOpen, await get(s.adminPort, '/metrics').then((r) => metricValue(r.body, 'rsproxy_client_connections'), () => 0));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    const startedMs = performance.now();
    const outcomes = await Promise.all(
      tokens.map(async (token, i) => {
        await new Promise((r) => setTimeout(r, Math.floor((i * burstMs) / connections)));
        return attempt(s, token);
      }),
    );
    const floodMs = performance.now() - startedMs;
    sampling = false;
    await sampler;
    s.emulator.faults.clear(Operation.GetCallerIdentity);

    const byCode = new Map<string, number>();
    for (const o of outcomes) byCode.set(o, (byCode.get(o) ?? 0) + 1);
    const summary = JSON.stringify(Object.fromEntries(byCode));
    t.diagnostic(`outcomes ${summary} in ${Math.round(floodMs)} ms, peak open connections ${peakOpen}`);
    // Each GetCallerIdentity takes ≥ 1 s, so completions within any 900 ms window ≤ requests in flight.
    let maxInWindow = 0;
    for (const cur of samples) {
      const earlier = samples.filter((p) => p.atMs <= cur.atMs - 900).at(-1);
      if (earlier !== undefined) maxInWindow = Math.max(maxInWindow, cur.sts - earlier.sts);
    }
    const stsCalls = s.emulator.counters.total(Operation.GetCallerIdentity) - stsBefore;
    t.diagnostic(`STS calls ${stsCalls}, max completions in 900 ms ${maxInWindow}, RSS +${Math.round((rssMax - rssBefore) / 1e6)} MB`);
    assert.ok((byCode.get('53300') ?? 0) > 0, `connections over the cap get 53300: ${summary}`);
    assert.ok((byCode.get('28P01') ?? 0) > 0, `some got as far as STS and were rejected: ${summary}`);
    for (const code of byCode.keys()) assert.ok(['28P01', '53300', '57P03', 'closed'].includes(code), `unexpected outcome ${code}: ${summary}`);

    assert.ok(maxInWindow <= stsConcurrencyCap, `at most ${stsConcurrencyCap} STS requests in flight (saw ${maxInWindow} completions in 900 ms)`);
    assert.ok(stsCalls <= (byCode.get('28P01') ?? 0) + (byCode.get('57P03') ?? 0), 'no STS call for a connection refused at the cap');

    assert.ok(livez.length > 0 && livez.every((status) => status === 200), `/livez during the flood: ${livez.join(',')}`);
    assert.equal((await get(s.adminPort, '/livez')).status, 200, '/livez after the flood');
    assert.ok(rssMax - rssBefore < 200 * 1024 * 1024, `RSS grew by ${Math.round((rssMax - rssBefore) / 1e6)} MB`);

    // The proxy recovers: the connection gauge drains and a real client logs in.
    const deadline = Date.now() + 5000;
    let open = Number.NaN;
    while (Date.now() < deadline && open !== 0) {
      open = metricValue((await get(s.adminPort, '/metrics')).body, 'rsproxy_client_connections');
      if (open !== 0) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(open, 0, 'rsproxy_client_connections back to 0');
    const client = new pg.Client({ host: '127.0.0.1', port: s.proxyPort, user: s.dbUser, database: s.database, password: await s.mintToken(), ssl: { ca: s.caPem, servername: 'localhost' } });
    await client.connect();
    try {
      assert.equal((await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one, 1);
    } finally {
      await client.end();
    }
  });
});
