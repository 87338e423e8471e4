/** A ProxyServer wired to session fakes, plus raw-client helpers shared by the client-session unit tests. */
import assert from 'node:assert/strict';
import { silentLogger } from '../auth/types.js';
import { ProxyServer } from '../proxy/server/server.js';
import type { ProxyServerOptions } from '../proxy/server/server.js';
import type { SessionObserver } from '../proxy/telemetry/observer.js';
import { getTestPki } from './certs.js';
import {
  FakeBackend,
  FixedPasswordAuthenticator,
  RawClient,
  fakeUpstreamLogin,
  parseErrorFields,
  passwordPacket,
  sslRequest,
  startupPacket,
  testPassword,
} from './session-fakes.js';
import type { RawMessage } from './session-fakes.js';

/** A listening ProxyServer with its fake backend, authenticator and upstream login, and the cancels and observer events it recorded. */
export interface Harness {
  port: number;
  server: ProxyServer;
  backend: FakeBackend;
  auth: FixedPasswordAuthenticator;
  upstream: ReturnType<typeof fakeUpstreamLogin>['state'];
  cancels: Array<{ pid: number; key: string }>;
  events: string[];
  close(): Promise<void>;
}

/** Starts a ProxyServer on 127.0.0.1 with test TLS, fakes and small limits; `overrides` replace options (limits are merged). */
export async function harness(overrides: Omit<Partial<ProxyServerOptions>, 'limits'> & { limits?: Partial<ProxyServerOptions['limits']> } = {}): Promise<Harness> {
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
    sessionEnded: (reason) => events.push(`ended:${reason}`),
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

/** Connects, sends SSLRequest, expects 'S' and completes the TLS handshake (optionally offering `alpn`). */
export async function tlsClient(port: number, alpn?: string[]): Promise<RawClient> {
  const c = await RawClient.connect(port);
  c.write(sslRequest);
  assert.equal((await c.readBytes(1)).toString(), 'S');
  await c.startTls(alpn);
  return c;
}

/** Asserts the next message is a FATAL ErrorResponse with `sqlstate` and that the connection then closes; returns its fields. */
export async function expectFatal(c: RawClient, sqlstate: string): Promise<Record<string, string>> {
  const m = await c.readMessage();
  assert.equal(m.type, 'E', `expected ErrorResponse, got ${m.type}`);
  const f = parseErrorFields(m.body);
  assert.equal(f.C, sqlstate, `message: ${f.M}`);
  assert.equal(f.S, 'FATAL');
  assert.equal(f.V, 'FATAL');
  await c.waitClose();
  return f;
}

/** Reads messages up to and including the first ReadyForQuery or ErrorResponse. */
export async function readUntilZ(c: RawClient): Promise<RawMessage[]> {
  const out: RawMessage[] = [];
  for (;;) {
    const m = await c.readMessage();
    out.push(m);
    if (m.type === 'Z' || m.type === 'E') return out;
  }
}

/** Startup parameters of the test user alice on database dev. */
export const alice: Array<readonly [string, string]> = [['user', 'alice'], ['database', 'dev'], ['application_name', 'test']];

/** Logs alice in over TLS with the test password; returns the client and the messages up to ReadyForQuery (or the error). */
export async function loggedIn(h: Harness): Promise<{ c: RawClient; msgs: RawMessage[] }> {
  const c = await tlsClient(h.port);
  c.write(startupPacket(alice));
  assert.equal((await c.readMessage()).body.readInt32BE(0), 3);
  c.write(passwordPacket(testPassword));
  return { c, msgs: await readUntilZ(c) };
}

/** Polls `pred` every 10 ms until it holds; throws after `timeoutMs`. */
export async function waitUntil(pred: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
}
