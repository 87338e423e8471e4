/** Test PKI: one CA and a localhost/127.0.0.1 server certificate per process, also written to files. */
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { generate } from 'selfsigned';
import { generateCa, generateServerCert, type PemPair } from '../proxy/cli/dev-certs.js';

/** The per-process test PKI. Files live in `dir`; the key file is mode 0600. */
export interface TestPki {
  caPem: string;
  caKeyPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

let pki: Promise<TestPki> | undefined;

/** The OS uid/gid of `postgres` when running as root (PostgreSQL must own its key file), else undefined. */
export function postgresOwner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

async function build(): Promise<TestPki> {
  const ca = await generateCa('rsproxy test CA');
  const server = await generateServerCert(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-pki-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const caFile = join(dir, 'ca.pem');
  const certFile = join(dir, 'server.crt');
  const keyFile = join(dir, 'server.key');
  writeFileSync(caFile, ca.certPem, { mode: 0o644 });
  writeFileSync(certFile, server.certPem, { mode: 0o644 });
  writeFileSync(keyFile, server.keyPem, { mode: 0o600 });
  chmodSync(keyFile, 0o600);
  // PostgreSQL refuses a key it does not own; root still reads everything.
  const owner = postgresOwner();
  if (owner !== undefined) {
    chmodSync(dir, 0o700);
    for (const p of [dir, caFile, certFile, keyFile]) chownSync(p, owner.uid, owner.gid);
  }
  return { caPem: ca.certPem, caKeyPem: ca.keyPem, serverCertPem: server.certPem, serverKeyPem: server.keyPem, dir, caFile, certFile, keyFile };
}

/** A server certificate of the test CA for `ipAddresses` (IP SANs) and localhost, written as files into the test PKI's directory. */
export async function issueTestServerCert(ipAddresses: readonly string[]): Promise<{ certFile: string; keyFile: string }> {
  const p = await getTestPki();
  const cert = await generateServerCert({ certPem: p.caPem, keyPem: p.caKeyPem }, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: [...ipAddresses] });
  const stem = join(p.dir, `server-${ipAddresses.join('_')}`);
  writeFileSync(`${stem}.crt`, cert.certPem, { mode: 0o644 });
  writeFileSync(`${stem}.key`, cert.keyPem, { mode: 0o600 });
  return { certFile: `${stem}.crt`, keyFile: `${stem}.key` };
}

/** Returns the test PKI, generating it once per process. */
export function getTestPki(): Promise<TestPki> {
  pki ??= build();
  return pki;
}

/** A localhost/127.0.0.1 server certificate (RSA-2048) signed by the test CA that expires exactly at `notAfter` (whole seconds). */
export async function testServerCertExpiringAt(notAfter: Date): Promise<PemPair> {
  const pki = await getTestPki();
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() - 60 * 60 * 1000),
    notAfterDate: notAfter,
    ca: { key: pki.caKeyPem, cert: pki.caPem },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    ],
  });
  return { certPem: pems.cert, keyPem: pems.private };
}
