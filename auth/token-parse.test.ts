import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { AuthErrorCode, type AuthError } from './errors.js';
import { isCanonicalBase64url, parseAmzDate, parseToken } from './token-parse.js';
import { testIdentityOptions, vectorA, vectorNowMs, vectorSig } from '../testkit/auth-fixtures.js';

const identity = testIdentityOptions({ stsRegions: ['eu-west-1', 'us-east-1'], acceptEksTokens: true });
const nowMs = vectorNowMs;
const sig = vectorSig;
const vectorB =
  'rsp1.eu-west-1.20261124T101500Z.ASIAEXAMPLEEXAMPLE12.a473f44475158ed91db5caef9524f846e7bc72396550b446f7cee8b9aed3217f.IQoJb3JpZ2luX2VjEXAMPLH77__-P79yc3Byb3h5LWV4YW1wbGUtc2Vzc2lvbi10b2tlbg';
const opts = { identity, nowMs };
const eksQuery = (over: Record<string, string> = {}): string => {
  const base: Record<string, string> = {
    Action: 'GetCallerIdentity',
    Version: '2011-06-15',
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': 'AKIAIOSFODNN7EXAMPLE%2F20261124%2Feu-west-1%2Fsts%2Faws4_request',
    'X-Amz-Date': '20261124T101500Z',
    'X-Amz-Expires': '60',
    'X-Amz-SignedHeaders': 'host%3Bx-k8s-aws-id',
    'X-Amz-Signature': sig,
  };
  return Object.entries({ ...base, ...over })
    .filter(([, v]) => v !== '<drop>')
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
};
const eks = (url: string): string => `k8s-aws-v1.${Buffer.from(url, 'latin1').toString('base64url')}`;
const eksUrl = (over: Record<string, string> = {}): string => `https://sts.eu-west-1.amazonaws.com/?${eksQuery(over)}`;

function rejects(password: string, code: string, o = opts): void {
  assert.throws(
    () => parseToken(password, o),
    (err: AuthError) => err.code === code,
    `expected ${code} for ${JSON.stringify(password.slice(0, 80))}`,
  );
}

test('vector A parses to its fields', () => {
  const p = parseToken(vectorA, opts);
  assert.deepEqual(p, {
    format: 'rsp1',
    region: 'eu-west-1',
    amzDate: '20261124T101500Z',
    amzDateMs: nowMs,
    accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
    signature: sig,
    expiresSeconds: 900,
    audienceHeader: 'x-rsproxy-audience',
  });
});

test('vector B converts the session token to standard base64', () => {
  const p = parseToken(vectorB, opts);
  assert.equal(p.sessionToken, 'IQoJb3JpZ2luX2VjEXAMPLH77//+P79yc3Byb3h5LWV4YW1wbGUtc2Vzc2lvbi10b2tlbg==');
  assert.equal(p.accessKeyId, 'ASIAEXAMPLEEXAMPLE12');
});

test('any CR or LF is malformed: the session strips the one trailing newline, auth strips none', () => {
  // docs/design/token.md §4 rule 3 is applied once, by proxy/session, before the authenticator sees the password.
  for (const suffix of ['\n', '\r\n', '\r', '\n\n', '\r\n\n']) rejects(`${vectorA}${suffix}`, AuthErrorCode.TokenMalformed);
  rejects(`${vectorB}\n`, AuthErrorCode.TokenMalformed);
  rejects(`${eks(eksUrl())}\r\n`, AuthErrorCode.TokenMalformed);
  rejects(vectorA.replace('.AKIA', '.\nAKIA'), AuthErrorCode.TokenMalformed);
  rejects(` ${vectorA}`, AuthErrorCode.TokenMalformed);
  rejects(`${vectorA} `, AuthErrorCode.TokenMalformed);
  assert.equal(parseToken(vectorA, opts).signature, sig);
});

test('rsp1 rejection table: one row per rule with the exact code', () => {
  const M = AuthErrorCode.TokenMalformed;
  const rows: [string, string][] = [
    ['', M],
    ['\n', M],
    ['rsp1', M],
    ['RSP1.eu-west-1', M],
    [vectorA.replace('rsp1.', 'rsp1..'), M],
    [`${vectorA}.`, M],
    [`${vectorB}.extra`, M],
    [vectorA.replace('eu-west-1', 'us-west-2'), AuthErrorCode.RegionNotAllowed],
    [vectorA.replace('eu-west-1', 'EU-WEST-1'), M],
    [vectorA.replace('eu-west-1', 'not-a-region'), M],
    [vectorA.replace('20261124T101500Z', '20261301T000000Z'), M],
    [vectorA.replace('20261124T101500Z', '20260230T000000Z'), M],
    [vectorA.replace('20261124T101500Z', '20261124T240000Z'), M],
    [vectorA.replace('20261124T101500Z', '20261124T101560Z'), M],
    [vectorA.replace('20261124T101500Z', '20261124101500Z'), M],
    [vectorA.replace('20261124T101500Z', '20991231T000000Z'), AuthErrorCode.TokenNotYetValid],
    [vectorA.replace('AKIAIOSFODNN7EXAMPLE', 'AKIAIOSFODNN7EXAMPL'), M],
    [vectorA.replace('AKIAIOSFODNN7EXAMPLE', 'akiaIOSFODNN7EXAMPLE'), M],
    [vectorA.replace('AKIAIOSFODNN7EXAMPLE', 'ASIAIOSFODNN7EXAMPLE'), M],
    [`${vectorA}.abcd`, M],
    [vectorA.replace(sig, sig.slice(1)), M],
    [vectorA.replace(sig, sig.toUpperCase()), M],
    [vectorA.replace(sig, `${sig}0`), M],
    [`${vectorB.slice(0, -1)}`, M], // session token length ≡ 1 (mod 4)
    [`${vectorB.slice(0, -2)}h`, M], // non-zero unused trailing bits
    [`${vectorA}+`, M],
    [vectorA.replace('.eu', '.https://eu'), M],
  ];
  for (const [token, code] of rows) rejects(token, code);
});

test('time window is inclusive at both edges', () => {
  const at = (ms: number) => ({ identity, nowMs: nowMs + ms });
  assert.ok(parseToken(vectorA, at(300_000)));
  rejects(vectorA, AuthErrorCode.TokenExpired, at(300_001));
  assert.ok(parseToken(vectorA, at(-60_000)));
  rejects(vectorA, AuthErrorCode.TokenNotYetValid, at(-60_001));
});

test('real calendar dates only', () => {
  assert.equal(parseAmzDate('20240229T235959Z'), Date.UTC(2024, 1, 29, 23, 59, 59));
  assert.equal(parseAmzDate('20250229T000000Z'), undefined);
  assert.equal(parseAmzDate('20261124T101500'), undefined);
});

test('canonical base64url round trip', () => {
  assert.equal(isCanonicalBase64url('QQ'), true);
  assert.equal(isCanonicalBase64url('QR'), false);
  assert.equal(isCanonicalBase64url('Q'), false);
  assert.equal(isCanonicalBase64url('QQ=='), false);
});

test('k8s-aws-v1: a well-formed token parses with its own expiry and audience header', () => {
  const p = parseToken(eks(eksUrl()), opts);
  assert.equal(p.format, 'k8s-aws-v1');
  assert.equal(p.expiresSeconds, 60);
  assert.equal(p.audienceHeader, 'x-k8s-aws-id');
  assert.equal(p.region, 'eu-west-1');
  rejects(eks(eksUrl()), AuthErrorCode.EksDisabled, { identity: { ...identity, acceptEksTokens: false }, nowMs });
});

test('k8s-aws-v1 rejection table', () => {
  const M = AuthErrorCode.TokenMalformed;
  const R = AuthErrorCode.RegionNotAllowed;
  const q = eksQuery();
  const rows: [string, string][] = [
    [`${eks(eksUrl())}=`, M],
    [`k8s-aws-v1.${Buffer.from(eksUrl()).toString('base64')}`, M],
    [eks(`${eksUrl()}\u00e9`), M],
    [eks(`http://sts.eu-west-1.amazonaws.com/?${q}`), M],
    [eks(`HTTPS://sts.eu-west-1.amazonaws.com/?${q}`), M],
    [eks(`//sts.eu-west-1.amazonaws.com/?${q}`), M],
    [eks(`https://evil.com/?${q}`), R],
    [eks(`https://sts.amazonaws.com.evil.com/?${q}`), R],
    [eks(`https://sts.amazonaws.com@evil.com/?${q}`), M],
    [eks(`https://sts.eu-west-1.amazonaws.com:443/?${q}`), M],
    [eks(`https://sts.eu-west-1.amazonaws.com./?${q}`), R],
    [eks(`https://STS.eu-west-1.amazonaws.com/?${q}`), M],
    [eks(`https://sts.amazonaws.com/?${q}`), R],
    [eks(`https://sts.eu-west-1.amazonaws.com/x?${q}`), M],
    [eks('https://sts.eu-west-1.amazonaws.com/?'), M],
    [eks(`${eksUrl()}#x`), M],
    [eks(`${eksUrl()}&RoleArn=x`), M],
    [eks(`${eksUrl()}&=x`), M],
    [eks(`${eksUrl()}&x-amz-credential=eve`), M],
    [eks(`${eksUrl()}&Action=GetCallerIdentity`), M],
    [eks(eksUrl({ Action: 'AssumeRole' })), M],
    [eks(eksUrl({ Version: '<drop>' })), M],
    [eks(eksUrl({ 'X-Amz-Algorithm': 'AWS4-ECDSA-P256-SHA256' })), M],
    [eks(eksUrl({ 'X-Amz-SignedHeaders': 'host' })), M],
    [eks(eksUrl({ 'X-Amz-Expires': '901' })), M],
    [eks(eksUrl({ 'X-Amz-Expires': '+60' })), M],
    [eks(eksUrl({ 'X-Amz-Credential': 'AKIAIOSFODNN7EXAMPLE%2F20261123%2Feu-west-1%2Fsts%2Faws4_request' })), M],
    [eks(eksUrl({ 'X-Amz-Credential': 'AKIAIOSFODNN7EXAMPLE%2F20261124%2Fus-east-1%2Fsts%2Faws4_request' })), M],
    [eks(eksUrl({ 'X-Amz-Credential': 'AKIAIOSFODNN7EXAMPLE%2F20261124%2Feu-west-1%2Fs3%2Faws4_request' })), M],
    [eks(eksUrl({ 'X-Amz-Date': '20261124T100000Z' })), AuthErrorCode.TokenExpired],
    [eks(eksUrl({ 'X-Amz-Signature': '%zz' })), M],
  ];
  for (const [token, code] of rows) rejects(token, code);
});
