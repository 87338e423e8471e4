import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  canonicalQueryString,
  emptyPayloadHash,
  formatAmzDate,
  parseAmzDate,
  parseRawQuery,
  sha256Hex,
  uriEncode,
  verifyHeaderSigned,
  verifyPresigned,
  signingKey,
  stringToSign,
  type ReceivedRequest,
  type SigningPrincipal,
} from './sigv4.js';
import { createHmac } from 'node:crypto';

// docs/design/token.md §2.5
const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const host = 'sts.eu-west-1.amazonaws.com';
const audience = 'rsproxy:prod';
const amzDate = '20261124T101500Z';
const signedAtMs = Date.UTC(2026, 10, 24, 10, 15, 0);
const sessionToken = 'IQoJb3JpZ2luX2VjEXAMPLH77//+P79yc3Byb3h5LWV4YW1wbGUtc2Vzc2lvbi10b2tlbg==';
const vectorA = {
  akid: 'AKIAIOSFODNN7EXAMPLE',
  hash: '1fce15fecdad99b5010cf6c075797d7a4ecebdd56fa95378d5297be0c6c1827f',
  signature: 'a6b44196f1bb09db77b19538d13caa07a1430e155c7b2478048f4ff4adf63336',
};
const vectorB = {
  akid: 'ASIAEXAMPLEEXAMPLE12',
  hash: '2f25e174b7d4e0fa905e0ca1571a9429e3ce3282d82e056f9d2c5de404bd7392',
  signature: 'a473f44475158ed91db5caef9524f846e7bc72396550b446f7cee8b9aed3217f',
};

function presignedQuery(akid: string, signature: string, token?: string, date = amzDate): string {
  const q = [
    'Action=GetCallerIdentity',
    'Version=2011-06-15',
    'X-Amz-Algorithm=AWS4-HMAC-SHA256',
    `X-Amz-Credential=${akid}%2F${date.slice(0, 8)}%2Feu-west-1%2Fsts%2Faws4_request`,
    `X-Amz-Date=${date}`,
    'X-Amz-Expires=900',
  ];
  if (token !== undefined) q.push(`X-Amz-Security-Token=${uriEncode(token)}`);
  q.push('X-Amz-SignedHeaders=host%3Bx-rsproxy-audience', `X-Amz-Signature=${signature}`);
  return q.join('&');
}

function getRequest(rawQuery: string, aud = audience, extra: string[] = []): ReceivedRequest {
  return { method: 'GET', path: '/', rawQuery, rawHeaders: ['Host', host, 'x-rsproxy-audience', aud, 'Accept', 'application/json', ...extra], body: Buffer.alloc(0) };
}

const table = new Map<string, SigningPrincipal & { name: string }>([
  [vectorA.akid, { name: 'A', secretAccessKey: secret }],
  [vectorB.akid, { name: 'B', secretAccessKey: secret, sessionToken }],
]);
const lookup = (k: string) => table.get(k);

test('canonical request hashes match vectors A and B', () => {
  for (const [v, token] of [[vectorA, undefined], [vectorB, sessionToken]] as const) {
    const pairs = parseRawQuery(presignedQuery(v.akid, v.signature, token));
    assert.ok(pairs);
    const canonical = ['GET', '/', canonicalQueryString(pairs, 'X-Amz-Signature'), `host:${host}\nx-rsproxy-audience:${audience}\n`, 'host;x-rsproxy-audience', emptyPayloadHash].join('\n');
    assert.equal(sha256Hex(canonical), v.hash);
    const key = signingKey(secret, '20261124', 'eu-west-1', 'sts');
    const sig = createHmac('sha256', key).update(stringToSign(amzDate, '20261124/eu-west-1/sts/aws4_request', canonical)).digest('hex');
    assert.equal(sig, v.signature);
  }
});

test('vector B canonical query carries the RFC 3986 encoded session token', () => {
  const pairs = parseRawQuery(presignedQuery(vectorB.akid, vectorB.signature, sessionToken));
  assert.ok(pairs);
  assert.match(canonicalQueryString(pairs), /X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLH77%2F%2F%2BP79yc3Byb3h5LWV4YW1wbGUtc2Vzc2lvbi10b2tlbg%3D%3D/);
});

test('verifyPresigned accepts vectors A and B', () => {
  const a = verifyPresigned(getRequest(presignedQuery(vectorA.akid, vectorA.signature)), lookup, signedAtMs + 60_000, 'sts');
  assert.ok(a.ok);
  assert.equal(a.principal.name, 'A');
  assert.equal(a.region, 'eu-west-1');
  const b = verifyPresigned(getRequest(presignedQuery(vectorB.akid, vectorB.signature, sessionToken)), lookup, signedAtMs, 'sts');
  assert.ok(b.ok);
  assert.equal(b.principal.name, 'B');
});

test('query parameter order in the URL does not matter', () => {
  const parts = presignedQuery(vectorA.akid, vectorA.signature).split('&').reverse().join('&');
  assert.ok(verifyPresigned(getRequest(parts), lookup, signedAtMs, 'sts').ok);
});

function rejected(r: ReturnType<typeof verifyPresigned>): { status: number; code: string; message: string } {
  assert.equal(r.ok, false);
  if (r.ok) throw new Error('unreachable');
  return { status: r.status, code: r.code, message: r.message };
}

test('one flipped signature character → SignatureDoesNotMatch', () => {
  const flipped = vectorA.signature.slice(0, 10) + (vectorA.signature[10] === '0' ? '1' : '0') + vectorA.signature.slice(11);
  const r = rejected(verifyPresigned(getRequest(presignedQuery(vectorA.akid, flipped)), lookup, signedAtMs, 'sts'));
  assert.equal(r.status, 403);
  assert.equal(r.code, 'SignatureDoesNotMatch');
});

test('wrong audience header, other host, or missing signed header → SignatureDoesNotMatch', () => {
  const q = presignedQuery(vectorA.akid, vectorA.signature);
  assert.equal(rejected(verifyPresigned(getRequest(q, 'rsproxy:staging'), lookup, signedAtMs, 'sts')).code, 'SignatureDoesNotMatch');
  const otherHost: ReceivedRequest = { ...getRequest(q), rawHeaders: ['Host', 'sts.us-east-1.amazonaws.com', 'x-rsproxy-audience', audience] };
  assert.equal(rejected(verifyPresigned(otherHost, lookup, signedAtMs, 'sts')).code, 'SignatureDoesNotMatch');
  const noAudience: ReceivedRequest = { ...getRequest(q), rawHeaders: ['Host', host] };
  assert.equal(rejected(verifyPresigned(noAudience, lookup, signedAtMs, 'sts')).code, 'SignatureDoesNotMatch');
});

test('tampered session token, unknown key, missing token → InvalidClientTokenId', () => {
  const other = verifyPresigned(getRequest(presignedQuery(vectorB.akid, vectorB.signature, sessionToken.replace('IQ', 'IR'))), lookup, signedAtMs, 'sts');
  assert.deepEqual(rejected(other), { status: 403, code: 'InvalidClientTokenId', message: 'The security token included in the request is invalid.' });
  const unknown = verifyPresigned(getRequest(presignedQuery('AKIAUNKNOWNUNKNOWN12', vectorA.signature)), lookup, signedAtMs, 'sts');
  assert.equal(rejected(unknown).code, 'InvalidClientTokenId');
  const noToken = verifyPresigned(getRequest(presignedQuery(vectorB.akid, vectorB.signature)), lookup, signedAtMs, 'sts');
  assert.equal(rejected(noToken).code, 'InvalidClientTokenId');
});

test('expired session → ExpiredToken', () => {
  const expiring = new Map([[vectorB.akid, { secretAccessKey: secret, sessionToken, sessionExpiresAtMs: signedAtMs + 1000 }]]);
  const r = verifyPresigned(getRequest(presignedQuery(vectorB.akid, vectorB.signature, sessionToken)), (k) => expiring.get(k), signedAtMs + 2000, 'sts');
  assert.deepEqual(rejected(r), { status: 403, code: 'ExpiredToken', message: 'The security token included in the request is expired' });
});

test('15-minute window, whatever X-Amz-Expires says, with the exact STS messages', () => {
  const q = presignedQuery(vectorA.akid, vectorA.signature);
  assert.ok(verifyPresigned(getRequest(q), lookup, signedAtMs + 15 * 60_000, 'sts').ok);
  const late = rejected(verifyPresigned(getRequest(q), lookup, signedAtMs + 15 * 60_000 + 1000, 'sts'));
  assert.deepEqual(late, {
    status: 403,
    code: 'SignatureDoesNotMatch',
    message: 'Signature expired: 20261124T101500Z is now earlier than 20261124T101501Z (20261124T103001Z - 15 min.)',
  });
  const early = rejected(verifyPresigned(getRequest(q), lookup, signedAtMs - 15 * 60_000 - 1000, 'sts'));
  assert.deepEqual(early, {
    status: 403,
    code: 'SignatureDoesNotMatch',
    message: 'Signature not yet current: 20261124T101500Z is still later than 20261124T101459Z (20261124T095959Z + 15 min.)',
  });
});

test('a credential scoped to another service is rejected', () => {
  const q = presignedQuery(vectorA.akid, vectorA.signature).replace('%2Fsts%2F', '%2Frds-db%2F');
  assert.equal(rejected(verifyPresigned(getRequest(q), lookup, signedAtMs, 'sts')).code, 'SignatureDoesNotMatch');
});

test('missing or duplicated SigV4 parameters → IncompleteSignature', () => {
  const q = presignedQuery(vectorA.akid, vectorA.signature);
  assert.equal(rejected(verifyPresigned(getRequest(q.replace('&X-Amz-Expires=900', '')), lookup, signedAtMs, 'sts')).code, 'IncompleteSignature');
  assert.equal(rejected(verifyPresigned(getRequest(`${q}&X-Amz-Date=${amzDate}`), lookup, signedAtMs, 'sts')).code, 'IncompleteSignature');
});

test('amz date helpers round-trip and reject impossible instants', () => {
  assert.equal(formatAmzDate(signedAtMs), amzDate);
  assert.equal(parseAmzDate(amzDate), signedAtMs);
  assert.equal(parseAmzDate('20260230T000000Z'), undefined);
  assert.equal(parseAmzDate('20261301T000000Z'), undefined);
});

function headerSigned(body: string, secretKey: string, token?: string, tamper?: (h: string[]) => string[]): ReceivedRequest {
  const date = formatAmzDate(signedAtMs);
  const headers: Array<[string, string]> = [
    ['content-type', 'application/x-www-form-urlencoded'],
    ['host', '127.0.0.1:9999'],
    ['x-amz-date', date],
  ];
  if (token !== undefined) headers.push(['x-amz-security-token', token]);
  const signed = headers.map(([n]) => n).sort().join(';');
  const canonHeaders = [...headers].sort((a, b) => a[0].localeCompare(b[0])).map(([n, v]) => `${n}:${v}\n`).join('');
  const canonical = ['POST', '/', '', canonHeaders, signed, sha256Hex(body)].join('\n');
  const scope = `${date.slice(0, 8)}/eu-west-1/redshift/aws4_request`;
  const sig = createHmac('sha256', signingKey(secretKey, date.slice(0, 8), 'eu-west-1', 'redshift')).update(stringToSign(date, scope, canonical)).digest('hex');
  let raw = headers.flat();
  raw.push('Authorization', `AWS4-HMAC-SHA256 Credential=${vectorA.akid}/${scope}, SignedHeaders=${signed}, Signature=${sig}`);
  if (tamper) raw = tamper(raw);
  return { method: 'POST', path: '/', rawQuery: '', rawHeaders: raw, body: Buffer.from(body) };
}

test('header-signed requests verify, and a changed body or header fails', () => {
  const body = 'Action=DescribeClusters&Version=2012-12-01';
  assert.ok(verifyHeaderSigned(headerSigned(body, secret), lookup, signedAtMs, 'redshift').ok);
  const changedBody = { ...headerSigned(body, secret), body: Buffer.from(`${body}&x=1`) };
  assert.equal(rejected(verifyHeaderSigned(changedBody, lookup, signedAtMs, 'redshift')).code, 'SignatureDoesNotMatch');
  const wrongSecret = headerSigned(body, 'not-the-secret');
  assert.equal(rejected(verifyHeaderSigned(wrongSecret, lookup, signedAtMs, 'redshift')).code, 'SignatureDoesNotMatch');
  const changedHeader = headerSigned(body, secret, undefined, (h) => h.map((v) => (v === '127.0.0.1:9999' ? '127.0.0.1:9998' : v)));
  assert.equal(rejected(verifyHeaderSigned(changedHeader, lookup, signedAtMs, 'redshift')).code, 'SignatureDoesNotMatch');
  const noAuth = { ...headerSigned(body, secret), rawHeaders: ['host', 'x'] };
  assert.equal(rejected(verifyHeaderSigned(noAuth, lookup, signedAtMs, 'redshift')).code, 'MissingAuthenticationToken');
  assert.equal(rejected(verifyHeaderSigned(headerSigned(body, secret), lookup, signedAtMs, 'sts')).code, 'SignatureDoesNotMatch');
});
