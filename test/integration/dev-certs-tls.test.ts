import { test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { generateCa } from '../../proxy/cli/dev-certs.js';
import { getTestPki } from '../../testkit/certs.js';

function handshake(port: number, opts: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ...opts }, () => resolve(s));
    s.once('error', reject);
  });
}

test('test PKI server cert verifies against its CA over node:tls (localhost and 127.0.0.1)', async () => {
  const pki = await getTestPki();
  assert.equal(await getTestPki(), await getTestPki());
  const server = tls.createServer({ cert: pki.serverCertPem, key: pki.serverKeyPem }, (s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  try {
    for (const servername of ['localhost', undefined]) {
      const s = await handshake(port, {
        ca: pki.caPem,
        ...(servername ? { servername } : {}),
        checkServerIdentity: (_h, cert) => tls.checkServerIdentity(servername ?? '127.0.0.1', cert),
      });
      assert.equal(s.authorized, true);
      s.destroy();
    }
    await assert.rejects(
      handshake(port, { ca: pki.caPem, servername: 'wrong.example.test' }),
      (err: NodeJS.ErrnoException) => err.code === 'ERR_TLS_CERT_ALTNAME_INVALID',
    );
    const other = await generateCa('another CA');
    await assert.rejects(handshake(port, { ca: other.certPem, servername: 'localhost' }), /signature|issuer|self.signed|unable to (get|verify)/i);
  } finally {
    server.close();
  }
});
