/**
 * Issue 15: the front door fuzzed at the socket level. A real ProxyServer (real TLS negotiation, session
 * state machine and password phase; a fixed-password authenticator and a sink upstream) gets everything a
 * client can send before login: SSLRequest / GSSENCRequest / CancelRequest / StartupMessage / password
 * sequences, mutated, truncated and split at random points, in plaintext, after SSLRequest + TLS, and over
 * direct TLS. Every run must end in a defined outcome ('S'/'N', a FATAL with a contract SQLSTATE, a login,
 * or a close); nothing may throw; no session may stay open; the heap stays bounded.
 * Fixed seed and 100 runs here; RSPROXY_FUZZ_RUNS=100000 (socket runs = a tenth) and RSPROXY_FUZZ_SEED for more.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as tls from 'node:tls';
import fc from 'fast-check';
import { frontDoorScenario, fuzzParameters, gssEncRequest, isLongRun } from './front-door-arbitraries.js';
import type { FrontDoorScenario } from './front-door-arbitraries.js';
import { readInsideTls, readPlaintext } from './front-door-outcome.js';
import type { Outcome } from './front-door-outcome.js';
import { fakeUpstreamLogin } from '../../testkit/session-fakes.js';
import { harness, waitUntil } from '../../testkit/session-harness.js';
import { getTestPki } from '../../testkit/certs.js';
import { collectGarbage, heapUsedBytes, watchUncaught } from '../../testkit/heap.js';

/** A client whose exchange is not over yet (no FATAL, no ReadyForQuery) waits this long before it half-closes. */
const quietMs = 150;
/** After the client's EOF the proxy must close well before the login timeout. */
const closeBoundMs = 3000;

/** A TLS upstream that accepts the relay's connection and discards whatever it gets. */
async function sinkUpstream(): Promise<{ port: number; close(): Promise<void> }> {
  const pki = await getTestPki();
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ cert: pki.serverCertPem, key: pki.serverKeyPem }, (s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    s.resume();
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** Collects what a socket receives and tells when it closed. */
class Inbox {
  readonly parts: Buffer[] = [];
  isClosed = false;
  private wake: (() => void) | undefined;

  constructor(socket: net.Socket) {
    socket.on('data', this.onData);
    socket.on('error', () => {});
    socket.once('close', () => {
      this.isClosed = true;
      this.wake?.();
    });
  }

  readonly onData = (d: Buffer): void => {
    this.parts.push(d);
    this.wake?.();
  };

  get bytes(): Buffer {
    return Buffer.concat(this.parts);
  }

  /** Waits until `pred` holds, the socket closes, or `ms` pass. */
  async until(pred: () => boolean, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (!pred() && !this.isClosed && Date.now() < end) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, end - Date.now()));
        this.wake = () => (clearTimeout(t), r());
      });
      this.wake = undefined;
    }
  }
}

const connected = (s: net.Socket, event: string): Promise<boolean> =>
  new Promise((resolve) => {
    s.once(event, () => resolve(true));
    s.once('error', () => resolve(false));
    s.once('close', () => resolve(false));
  });

async function writeChunks(s: net.Socket, inbox: Inbox, chunks: readonly Buffer[]): Promise<void> {
  for (const c of chunks) {
    if (inbox.isClosed || s.destroyed) return;
    s.write(c);
    await new Promise((r) => setImmediate(r));
  }
}

/** True once the bytes hold a FATAL or a ReadyForQuery (the exchange is over). */
function isOver(read: () => Outcome): boolean {
  try {
    const o = read();
    return o.isLoggedIn || o.sqlstate !== undefined;
  } catch {
    return false; // partial so far; the final read judges it
  }
}

/** Half-closes once the exchange is over or quiet (Terminate first when logged in) and waits for the proxy to close. */
async function finish(s: net.Socket, inbox: Inbox, read: () => Outcome): Promise<void> {
  await inbox.until(() => isOver(read), quietMs);
  if (!inbox.isClosed && isOver(read) && read().isLoggedIn) s.write(Buffer.from([0x58, 0, 0, 0, 4]));
  if (!s.destroyed) s.end();
  await inbox.until(() => false, closeBoundMs);
  assert.ok(inbox.isClosed, 'the proxy closed the connection after the client was done');
}

/** Plays one scenario against the proxy; returns the outcome it read off the wire. */
async function play(port: number, sc: FrontDoorScenario): Promise<Outcome> {
  if (sc.kind === 'direct') {
    const secure = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...(sc.hasAlpn ? { ALPNProtocols: ['postgresql'] } : {}) });
    const inbox = new Inbox(secure);
    const outcome: Outcome = { answers: [], isLoggedIn: false, hasTlsRecords: false };
    if (await connected(secure, 'secureConnect')) await writeChunks(secure, inbox, sc.tlsChunks);
    await finish(secure, inbox, () => readInsideTls(inbox.bytes, { ...outcome, answers: [] }));
    return readInsideTls(inbox.bytes, outcome);
  }
  const raw = net.connect({ host: '127.0.0.1', port });
  const plain = new Inbox(raw);
  if (!(await connected(raw, 'connect'))) throw new Error('connect failed');
  if (sc.kind === 'plain') {
    await writeChunks(raw, plain, sc.chunks);
    await finish(raw, plain, () => readPlaintext(plain.bytes));
    return readPlaintext(plain.bytes);
  }
  if (sc.isGssFirst) {
    raw.write(gssEncRequest);
    await plain.until(() => plain.bytes.length >= 1, closeBoundMs);
  }
  await writeChunks(raw, plain, sc.plainChunks);
  const want = sc.isGssFirst ? 2 : 1;
  await plain.until(() => plain.bytes.length >= want, closeBoundMs);
  const outcome = readPlaintext(plain.bytes);
  assert.deepEqual(outcome.answers, sc.isGssFirst ? ['N', 'S'] : ['S'], 'a well-formed SSLRequest is answered S (after N for GSSENCRequest)');
  raw.removeListener('data', plain.onData);
  const secure = tls.connect({ socket: raw, rejectUnauthorized: false });
  const inbox = new Inbox(secure);
  if (await connected(secure, 'secureConnect')) await writeChunks(secure, inbox, sc.tlsChunks);
  await finish(secure, inbox, () => readInsideTls(inbox.bytes, { ...outcome, answers: [...outcome.answers] }));
  return readInsideTls(inbox.bytes, outcome);
}

test('front door (socket level): every pre-login byte sequence ends in a defined outcome, with no crash, no leaked session and a bounded heap', { timeout: isLongRun ? 24 * 3600_000 : 120_000 }, async () => {
  const uncaught = watchUncaught();
  const sink = await sinkUpstream();
  const h = await harness({
    upstreamLogin: fakeUpstreamLogin(() => sink.port).login,
    limits: { maxClientConnections: 50, loginTimeoutMs: 5000, maxStartupBytes: 10_000, maxPasswordBytes: 8192, maxConnectionsPerSourcePerSecond: 1_000_000 },
  });
  const seen = new Map<string, number>();
  try {
    const params = fuzzParameters(100, 10);
    let heapAfterWarmup: number | undefined;
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(frontDoorScenario, async (sc) => {
        const outcome = await play(h.port, sc);
        const key = outcome.isLoggedIn ? 'login' : outcome.sqlstate !== undefined ? `fatal ${outcome.sqlstate}` : outcome.answers.length > 0 ? `answered ${outcome.answers.join('')}` : 'close';
        seen.set(key, (seen.get(key) ?? 0) + 1);
        if (++runs === 20) heapAfterWarmup = heapUsedBytes();
      }),
      { ...params, endOnFailure: true },
    );
    await waitUntil(() => h.server.connectionCount === 0, 5000);
    collectGarbage();
    const growth = heapUsedBytes() - (heapAfterWarmup ?? heapUsedBytes());
    assert.ok(growth < 32 * 1024 * 1024, `heap grew by ${Math.round(growth / 1024)} KiB over ${runs} runs`);
    // The generators reach the interesting outcomes: refusals, logins, and the single-byte answers.
    const keys = [...seen.keys()];
    assert.ok(keys.includes('login') && keys.some((k) => k.startsWith('fatal 08P01')) && keys.some((k) => k.startsWith('fatal 28P01')), `outcomes: ${JSON.stringify([...seen])}`);
    assert.deepEqual(uncaught.errors, []);
  } finally {
    uncaught.stop();
    await h.close();
    await sink.close();
  }
});
