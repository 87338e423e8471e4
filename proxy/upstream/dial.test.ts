import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { silentLogger } from '../../auth/types.js';
import { getTestPki } from '../../testkit/certs.js';
import { waitFor } from '../../testkit/wait.js';
import { createTlsSessionStore, dialUpstream } from './dial.js';
import type { DialTarget } from './dial.js';

/** A server that answers SSLRequest with 'S' and then speaks TLS with the test certificate (tickets on, as the proxy's). */
async function tlsAfterSslRequest(): Promise<{ port: number; close(): void }> {
  const pki = await getTestPki();
  const secureContext = tls.createSecureContext({ cert: pki.serverCertPem, key: pki.serverKeyPem });
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.once('data', () => {
      s.write('S');
      const t = new tls.TLSSocket(s, { isServer: true, secureContext });
      t.on('error', () => {});
      t.on('data', () => {});
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

test('dialUpstream with a TLS session store resumes the session on the next dial, only for the same target and TLS settings', async () => {
  const pki = await getTestPki();
  const server = await tlsAfterSslRequest();
  try {
    const target: DialTarget = { host: '127.0.0.1', port: server.port, tlsMode: 'verify-full', caFile: pki.caFile };
    const store = createTlsSessionStore();
    const dial = async (t: DialTarget): Promise<tls.TLSSocket> => {
      const d = await dialUpstream(t, { deadlineMs: Date.now() + 10_000, logger: silentLogger, tlsSessions: store });
      assert.equal(d.isTls, true);
      // TLS 1.3 tickets arrive after the handshake: let the socket read them.
      d.socket.resume();
      return d.socket as tls.TLSSocket;
    };
    const first = await dial(target);
    assert.equal(first.isSessionReused(), false);
    await waitFor(() => store.get(`127.0.0.1:${server.port}:verify-full:${pki.caFile}`) !== undefined, 5000);
    first.destroy();
    const second = await dial(target);
    assert.equal(second.isSessionReused(), true, 'the second dial resumes');
    second.destroy();
    const otherMode = await dial({ ...target, tlsMode: 'require' });
    assert.equal(otherMode.isSessionReused(), false, 'a session is never resumed under other TLS settings');
    otherMode.destroy();
  } finally {
    server.close();
  }
});
