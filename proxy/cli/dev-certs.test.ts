import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { generateCa, generateServerCert } from './dev-certs.js';

test('generateCa makes a self-signed RSA-2048 CA', async () => {
  const ca = await generateCa('rsproxy test CA');
  const x = new X509Certificate(ca.certPem);
  assert.equal(x.ca, true);
  assert.match(x.subject, /CN=rsproxy test CA/);
  assert.equal(x.verify(x.publicKey), true);
  assert.equal(createPrivateKey(ca.keyPem).asymmetricKeyDetails?.modulusLength, 2048);
});

test('generateServerCert signs with the CA and carries the SANs', async () => {
  const ca = await generateCa('rsproxy test CA');
  const leaf = await generateServerCert(ca, { commonName: 'localhost', dnsNames: ['localhost', 'db.example.test'], ipAddresses: ['127.0.0.1'] });
  const x = new X509Certificate(leaf.certPem);
  const caX = new X509Certificate(ca.certPem);
  assert.equal(x.ca, false);
  assert.equal(x.verify(caX.publicKey), true);
  assert.equal(x.checkIssued(caX), true);
  assert.equal(x.checkHost('localhost'), 'localhost');
  assert.equal(x.checkHost('db.example.test'), 'db.example.test');
  assert.equal(x.checkHost('other.example.test'), undefined);
  assert.equal(x.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(x.checkIP('10.0.0.1'), undefined);
  assert.deepEqual(x.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  assert.equal(
    createPublicKey(leaf.keyPem).export({ type: 'spki', format: 'pem' }),
    x.publicKey.export({ type: 'spki', format: 'pem' }),
  );
  // Not self-signed: the leaf's own key does not verify it.
  assert.equal(x.verify(x.publicKey), false);
});
