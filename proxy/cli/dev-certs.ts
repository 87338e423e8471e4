/** Development PKI: a throwaway CA and CA-signed server certificates (tests and `rsproxy demo`). */
import { generate } from 'selfsigned';

/** A PEM certificate and its PEM private key. */
export interface PemPair {
  certPem: string;
  keyPem: string;
}

/** What a server certificate is issued for. */
export interface ServerCertRequest {
  commonName: string;
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
}

const validityDays = 30;

function validity(): { notBeforeDate: Date; notAfterDate: Date } {
  // Backdate a little so a peer with a slightly slow clock accepts the certificate.
  const notBeforeDate = new Date(Date.now() - 60 * 60 * 1000);
  const notAfterDate = new Date(notBeforeDate.getTime() + validityDays * 24 * 60 * 60 * 1000);
  return { notBeforeDate, notAfterDate };
}

/** Generates a self-signed RSA-2048/SHA-256 CA certificate valid for 30 days. */
export async function generateCa(commonName: string): Promise<PemPair> {
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    ...validity(),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { certPem: pems.cert, keyPem: pems.private };
}

/** Generates an RSA-2048/SHA-256 serverAuth certificate signed by `ca`, with DNS and IP SANs. */
export async function generateServerCert(ca: PemPair, req: ServerCertRequest): Promise<PemPair> {
  const altNames: Array<{ type: 2; value: string } | { type: 7; ip: string }> = [
    ...req.dnsNames.map((value) => ({ type: 2 as const, value })),
    ...req.ipAddresses.map((ip) => ({ type: 7 as const, ip })),
  ];
  const pems = await generate([{ name: 'commonName', value: req.commonName }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    ...validity(),
    ca: { key: ca.keyPem, cert: ca.certPem },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { certPem: pems.cert, keyPem: pems.private };
}
