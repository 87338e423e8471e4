/**
 * docs/design/token.md §15 attack cases at the auth level: one test per case. Cases 19–31 run against a small fake
 * STS on 127.0.0.1 that counts requests; it checks signatures by re-minting with the known secret
 * (the independent SigV4 check lives in emulator/ and the integration tests).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AuthErrorCode, type AuthError } from './errors.js';
import { createIdentityMapper } from './identity-mapper.js';
import { createStsVerifier, type StsVerifier } from './sts-verifier.js';
import { mintToken } from './token-mint.js';
import { parseToken } from './token-parse.js';
import { silentLogger, type Clock, type Identity, type IdentityOptions } from './types.js';
import { aliceIdentity, testIdentityOptions, vectorA, vectorNowMs, vectorSig } from '../testkit/auth-fixtures.js';

const identity = testIdentityOptions({ stsRegions: ['eu-west-1', 'us-east-1'] });
const t0 = vectorNowMs;
const secretAccessKey = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const userKey = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey };
const roleKey = { accessKeyId: 'ASIAEXAMPLEEXAMPLE12', secretAccessKey, sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLH77//+P79yc3Byb3h5LWV4YW1wbGUtc2Vzc2lvbi10b2tlbg==' };
const principals: Record<string, { arn: string; userId: string; account: string }> = {
  AKIAIOSFODNN7EXAMPLE: { arn: 'arn:aws:iam::123456789012:user/bob', userId: 'AIDAEXAMPLEBOB', account: '123456789012' },
  ASIAEXAMPLEEXAMPLE12: { arn: 'arn:aws:sts::123456789012:assumed-role/Analyst/alice', userId: 'AROAEXAMPLE:alice', account: '123456789012' },
};
const sig = vectorSig;

type Reply = { status: number; headers?: Record<string, string>; body: string | Buffer };
interface FakeSts {
  url: string;
  requests: { path: string; headers: IncomingMessage['headers'] }[];
  /** Overrides the default (signature-checking) answer. */
  reply?: (req: IncomingMessage) => Reply | Promise<Reply>;
  [Symbol.asyncDispose](): Promise<void>;
}

const json = (status: number, body: unknown): Reply => ({ status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const stsError = (status: number, code: string) => json(status, { Error: { Code: code, Message: 'm', Type: 'Sender' }, RequestId: 'rid-err' });
const identityBody = (p: { arn: string; userId: string; account: string }) =>
  json(200, { GetCallerIdentityResponse: { GetCallerIdentityResult: { Account: p.account, Arn: p.arn, UserId: p.userId }, ResponseMetadata: { RequestId: 'rid-ok' } } });

/** Answers like STS: re-mints the rsp1 signature from the received query and audience header and compares. */
async function verifyLikeSts(req: IncomingMessage): Promise<Reply> {
  const q = new URLSearchParams((req.url ?? '').replace(/^\/\?/, ''));
  const [akid = '', date = '', region = ''] = (q.get('X-Amz-Credential') ?? '').split('/');
  const p = principals[akid];
  const audience = req.headers['x-rsproxy-audience'];
  if (p === undefined || typeof audience !== 'string' || q.get('X-Amz-SignedHeaders') !== 'host;x-rsproxy-audience') return stsError(403, 'SignatureDoesNotMatch');
  const amzDate = q.get('X-Amz-Date') ?? '';
  const nowMs = Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8), +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15));
  const sessionToken = q.get('X-Amz-Security-Token');
  const creds = sessionToken === null ? { accessKeyId: akid, secretAccessKey } : { accessKeyId: akid, secretAccessKey, sessionToken };
  const expected = await mintToken({ audience, region, credentials: creds, nowMs });
  const ok = expected.split('.')[4] === q.get('X-Amz-Signature') && date === amzDate.slice(0, 8) && req.headers.host === `sts.${region}.amazonaws.com`;
  return ok ? identityBody(p) : stsError(403, 'SignatureDoesNotMatch');
}

async function startFakeSts(): Promise<FakeSts> {
  const fake: FakeSts = { url: '', requests: [], async [Symbol.asyncDispose]() {} };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    fake.requests.push({ path: req.url ?? '', headers: req.headers });
    void Promise.resolve((fake.reply ?? verifyLikeSts)(req)).then((r) => {
      res.writeHead(r.status, r.headers ?? {});
      res.end(r.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake[Symbol.asyncDispose] = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return fake;
}

function setup(fake: FakeSts, over: Partial<IdentityOptions> = {}, nowMs = t0) {
  const clock: Clock & { now: number } = { now: nowMs, nowMs: () => clock.now };
  const results: string[] = [];
  const verifier: StsVerifier = createStsVerifier({
    identity: { ...identity, ...over },
    clock,
    logger: silentLogger,
    observer: { stsRequest: (r) => results.push(r), credentialRequest() {}, credentialCache() {} },
    endpointUrl: fake.url,
    random: () => 0,
  });
  const verify = (token: string): Promise<Identity> => verifier.verify(token, clock.nowMs() + 4000);
  return { verifier, verify, clock, results, [Symbol.dispose]: () => verifier.close() };
}

const hasCode = (code: string) => (err: AuthError) => err.code === code;
const eks = (url: string): string => `k8s-aws-v1.${Buffer.from(url, 'latin1').toString('base64url')}`;
const eksUrl = (host = 'sts.eu-west-1.amazonaws.com', extra = '') =>
  `https://${host}/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261124%2Feu-west-1%2Fsts%2Faws4_request&X-Amz-Date=20261124T101500Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&X-Amz-Signature=${sig}${extra}`;

/** Runs local-check cases: each password is rejected with `code` and STS sees zero requests. */
async function rejectedLocally(rows: [string, string][], over: Partial<IdentityOptions> = {}): Promise<void> {
  await using fake = await startFakeSts();
  using s = setup(fake, over);
  for (const [password, code] of rows) await assert.rejects(s.verify(password), hasCode(code), JSON.stringify(password.slice(0, 60)));
  assert.equal(fake.requests.length, 0);
}
const M = AuthErrorCode.TokenMalformed;
const R = AuthErrorCode.RegionNotAllowed;

// The session strips at most one trailing newline before auth (docs/design/token.md §4 rule 3), so at auth level any CR/LF is malformed.
test('case 1: empty, spaces-only and newline-only passwords; a valid token with any trailing newline', () =>
  rejectedLocally([['', M], ['   ', M], ['\n', M], ['\r\n', M], [`${vectorA}\n`, M], [`${vectorA}\r\n`, M], [`${vectorA}\n\n`, M], [`${vectorA}\r\n\n`, M]]));

test('case 2: oversize passwords are a wire-level check (proxy/session framer, 08P01); no length cap lives in auth', () => {
  // The 08P01 side: proxy/protocol/frontend.test.ts ('PasswordMessage cap …') and proxy/session/client-session.test.ts ('oversize startup and password …').
  // The auth layer accepts a long session token field: the only bound is limits.maxPasswordBytes at the framer.
  const long = `rsp1.eu-west-1.20261124T101500Z.ASIAEXAMPLEEXAMPLE12.${sig}.${'A'.repeat(4000)}`;
  assert.equal(parseToken(long, { identity, nowMs: t0 }).sessionToken?.length, 4000);
});

test('case 3: wrong or unknown prefixes; k8s-aws-v1 while disabled', () =>
  rejectedLocally([
    [vectorA.replace('rsp1', 'rsp2'), M],
    [vectorA.replace('rsp1', 'RSP1'), M],
    ['rsp1', M],
    [vectorA.slice(5), M],
    [eks(eksUrl()).replace('k8s-aws-v1', 'k8s-aws-v2'), M],
    [eks(eksUrl()).replace('k8s-aws-v1', 'K8S-AWS-V1'), M],
    [eks(eksUrl()), AuthErrorCode.EksDisabled],
  ]));

test('case 4: bad characters and encodings', () =>
  rejectedLocally(
    [
      ...['+', '/', '=', '%', ' ', '\t', '\n', '\0', 'é'].map((c): [string, string] => [vectorA.replace('.AKIA', `.${c}AKIA`), M]),
      [`rsp1.eu-west-1.20261124T101500Z.ASIAEXAMPLEEXAMPLE12.${sig}.QUJDR`, M],
      [`rsp1.eu-west-1.20261124T101500Z.ASIAEXAMPLEEXAMPLE12.${sig}.QR`, M],
      [`${eks(eksUrl())}==`, M],
      [`k8s-aws-v1.${Buffer.from(eksUrl()).toString('base64')}`, M],
      [eks(`${eksUrl()}\u00ff`), M],
    ],
    { acceptEksTokens: true },
  ));

test('case 5: URL scheme attacks (k8s) and URL-ish rsp1 fields', () =>
  rejectedLocally(
    [
      [eks(eksUrl().replace('https://', 'http://')), M],
      [eks(eksUrl().replace('https://', 'HTTPS://')), M],
      [eks(eksUrl().replace('https:', '')), M],
      [eks(eksUrl().replace('https://', '')), M],
      [vectorA.replace('eu-west-1', 'https://eu-west-1'), M],
      [vectorA.replace('eu-west-1', '//eu-west-1'), M],
    ],
    { acceptEksTokens: true },
  ));

test('case 6: host attacks, no outbound I/O', () =>
  rejectedLocally(
    [
      [vectorA.replace('eu-west-1', 'evil.com'), M],
      [vectorA.replace('eu-west-1', 'not-a-region'), M],
      [vectorA.replace('eu-west-1', 'us-west-2'), R],
      [vectorA.replace('eu-west-1', 'cn-north-1'), R],
      [vectorA.replace('eu-west-1', 'EU-WEST-1'), M],
      ...[
        'evil.com',
        'sts.amazonaws.com.evil.com',
        'sts.eu-west-1.amazonaws.com.',
        'sts.eu-west-1.arnazonaws.com',
        'xn--sts-eu-west-1-amazonaws-com',
        '52.94.0.1',
        '127.0.0.1',
        'localhost',
        'sts.not-a-region.amazonaws.com',
        'sts.cn-north-1.amazonaws.com.cn',
        'sts.amazonaws.com',
      ].map((h): [string, string] => [eks(eksUrl(h)), R]),
      ...['sts.amazonaws.com@evil.com', 'sts.amazonaws.com\\@evil.com', 'sts.eu-west-1.amazonaws.com:444', 'sts.eu-west-1.amazonaws.com:443', 'STS.EU-WEST-1.AMAZONAWS.COM', '[::1]', 'stѕ.eu-west-1.amazonaws.com'].map(
        (h): [string, string] => [eks(eksUrl(h)), M],
      ),
    ],
    { acceptEksTokens: true },
  ));

test('case 7: paths other than / (k8s form)', () =>
  rejectedLocally(
    [
      [eks(eksUrl().replace('.com/?', '.com/x?')), M],
      [eks(eksUrl().replace('.com/?', '.com//?')), M],
      [eks(eksUrl().replace('.com/?', '.com/%2F?')), M],
      [eks(eksUrl().replace('.com/?', '.com/./?')), M],
      [eks('https://sts.eu-west-1.amazonaws.com/?'), M],
      [eks(`${eksUrl()}#x`), M],
    ],
    { acceptEksTokens: true },
  ));

test('case 8: extra or unknown parameters; a 7th rsp1 field', () =>
  rejectedLocally(
    [
      ...['RoleArn=x', 'DurationSeconds=900', 'X-Amz-Region-Set=*', 'X-Amz-Content-Sha256=x', 'x-id=GetCallerIdentity', '=x'].map((p): [string, string] => [eks(eksUrl(undefined, `&${p}`)), M]),
      [`rsp1.eu-west-1.20261124T101500Z.ASIAEXAMPLEEXAMPLE12.${sig}.QQ.QQ`, M],
    ],
    { acceptEksTokens: true },
  ));

test('case 9: duplicate parameters, also case-insensitively (CVE-2022-2385)', () =>
  rejectedLocally(
    [
      '&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261124%2Feu-west-1%2Fsts%2Faws4_request',
      '&x-amz-credential=eve',
      '&x-amz-signedheaders=host%3Bx-k8s-aws-id',
      '&action=GetCallerIdentity',
      '&x-amz-date=20261124T101500Z',
    ].map((extra): [string, string] => [eks(eksUrl(undefined, extra)), M]),
    { acceptEksTokens: true },
  ));

test('case 10: wrong-case parameter name alone', () =>
  rejectedLocally([[eks(eksUrl().replace('?Action=', '?action=')), M]], { acceptEksTokens: true }));

test('case 11: Action other than GetCallerIdentity', () =>
  rejectedLocally(
    ['AssumeRole', 'GetSessionToken', 'DecodeAuthorizationMessage', 'getcalleridentity', ''].map((a): [string, string] => [eks(eksUrl().replace('Action=GetCallerIdentity', `Action=${a}`)), M]),
    { acceptEksTokens: true },
  ));

test('case 12: Version and algorithm', () =>
  rejectedLocally(
    [
      [eks(eksUrl().replace('&Version=2011-06-15', '')), M],
      [eks(eksUrl().replace('Version=2011-06-15', 'Version=2012-01-01')), M],
      [eks(eksUrl().replace('AWS4-HMAC-SHA256', 'AWS4-ECDSA-P256-SHA256')), M],
      [eks(eksUrl().replace('&X-Amz-Algorithm=AWS4-HMAC-SHA256', '')), M],
    ],
    { acceptEksTokens: true },
  ));

test('case 13: signed headers not exactly host;x-k8s-aws-id', () =>
  rejectedLocally(
    ['host', 'host%3Bx-k8s-aws', 'host%3Bx-k8s-aws-id-2', 'host%3BX-K8S-AWS-ID', 'host%3Bcontent-type%3Bx-k8s-aws-id', 'host%3Bx-k8s-aws-id%3Bx-k8s-aws-id'].map((h): [string, string] => [
      eks(eksUrl().replace('host%3Bx-k8s-aws-id', h)),
      M,
    ]),
    { acceptEksTokens: true },
  ));

test('case 14: amzDate grammar, calendar and window edges', async () => {
  await rejectedLocally([
    [vectorA.replace('20261124T101500Z', '20261124101500Z'), M],
    [vectorA.replace('20261124T101500Z', '20261301T000000Z'), M],
    [vectorA.replace('20261124T101500Z', '20260230T000000Z'), M],
    [vectorA.replace('20261124T101500Z', '20991231T000000Z'), AuthErrorCode.TokenNotYetValid],
  ]);
  const at = (offsetSeconds: number) => ({ identity, nowMs: t0 + offsetSeconds * 1000 });
  assert.throws(() => parseToken(vectorA, at(301)), hasCode(AuthErrorCode.TokenExpired));
  assert.equal(parseToken(vectorA, at(299)).amzDateMs, t0);
  assert.throws(() => parseToken(vectorA, at(-61)), hasCode(AuthErrorCode.TokenNotYetValid));
  assert.equal(parseToken(vectorA, at(-59)).amzDateMs, t0);
});

test('case 15: X-Amz-Expires (k8s form)', () =>
  rejectedLocally(
    [
      [eks(eksUrl().replace('&X-Amz-Expires=60', '')), M],
      ...['-1', '901', '9999999', '60abc', '%2B60', '0x3c'].map((e): [string, string] => [eks(eksUrl().replace('X-Amz-Expires=60', `X-Amz-Expires=${e}`)), M]),
    ],
    { acceptEksTokens: true },
  ));

test('case 16: credential scope and key grammar', () =>
  rejectedLocally(
    [
      ...['20261123%2Feu-west-1%2Fsts%2Faws4_request', '20261124%2Fus-east-1%2Fsts%2Faws4_request', '20261124%2Feu-west-1%2Frds-db%2Faws4_request', '20261124%2Feu-west-1%2Fs3%2Faws4_request', '20261124%2Feu-west-1%2Fsts%2Faws4_requesx', '20261124%2Feu-west-1%2Fsts%2Faws4_request%2Fx'].map((s): [string, string] => [
        eks(eksUrl().replace('20261124%2Feu-west-1%2Fsts%2Faws4_request', s)),
        M,
      ]),
      [vectorA.replace('AKIAIOSFODNN7EXAMPLE', 'AKIAIOSFODNN7EXAMPL'), M],
      [vectorA.replace('AKIAIOSFODNN7EXAMPLE', 'AKIAIOSFODNN7EXAMPLE1'), M],
      [vectorA.replace('AKIAIOSFODNN7EXAMPLE', 'AKIAiosfodnn7example'), M],
      [vectorA.replace('AKIA', 'ASIA'), M],
      [`${vectorA}.QQ`, M],
    ],
    { acceptEksTokens: true },
  ));

test('case 17: signature length, case and alphabet', () =>
  rejectedLocally([
    [vectorA.replace(sig, sig.slice(1)), M],
    [vectorA.replace(sig, `${sig}0`), M],
    [vectorA.replace(sig, sig.toUpperCase()), M],
    [vectorA.replace(sig, `${sig.slice(1)}g`), M],
  ]));

test('case 18: an RDS IAM token as the password', () =>
  rejectedLocally(
    [
      ['mydb.123456789012.eu-west-1.rds.amazonaws.com:5432/?Action=connect&DBUser=alice&X-Amz-Algorithm=AWS4-HMAC-SHA256', M],
      [eks('https://mydb.123456789012.eu-west-1.rds.amazonaws.com:5432/?Action=connect&DBUser=alice'), M],
    ],
    { acceptEksTokens: true },
  ));

test('case 19: an EKS token for a real cluster passes local checks, is sent with our audience, STS says 403', async () => {
  await using fake = await startFakeSts();
  using s = setup(fake, { acceptEksTokens: true });
  await assert.rejects(s.verify(eks(eksUrl())), hasCode(AuthErrorCode.StsRejected));
  assert.equal(fake.requests.length, 1);
  assert.equal(fake.requests[0]?.headers['x-k8s-aws-id'], 'rsproxy:prod');
  assert.equal(fake.requests[0]?.headers['x-rsproxy-audience'], undefined);
  assert.deepEqual(s.results, ['rejected']);
});

test('case 20: a token minted for another audience fails at STS, which sees our audience', async () => {
  await using fake = await startFakeSts();
  using s = setup(fake);
  const token = await mintToken({ audience: 'rsproxy:staging', region: 'eu-west-1', credentials: userKey, nowMs: t0 });
  await assert.rejects(s.verify(token), hasCode(AuthErrorCode.StsRejected));
  assert.equal(fake.requests.length, 1);
  assert.equal(fake.requests[0]?.headers['x-rsproxy-audience'], 'rsproxy:prod');
  assert.equal(fake.requests[0]?.headers.host, 'sts.eu-west-1.amazonaws.com');
});

test('case 21: replay inside the window is a cache hit; after maxTokenAgeSeconds it is expired', async () => {
  await using fake = await startFakeSts();
  using s = setup(fake);
  const token = await mintToken({ audience: 'rsproxy:prod', region: 'eu-west-1', credentials: roleKey, nowMs: t0 });
  assert.equal((await s.verify(token)).canonicalArn, 'arn:aws:iam::123456789012:role/Analyst');
  assert.equal((await s.verify(token)).sessionName, 'alice');
  assert.equal(fake.requests.length, 1);
  s.clock.now = t0 + 301_000;
  await assert.rejects(s.verify(token), hasCode(AuthErrorCode.TokenExpired));
  assert.equal(fake.requests.length, 1);
});

test('case 22: a changed session token or signature character is not served from the cache', async () => {
  await using fake = await startFakeSts();
  using s = setup(fake);
  const token = await mintToken({ audience: 'rsproxy:prod', region: 'eu-west-1', credentials: roleKey, nowMs: t0 });
  await s.verify(token);
  const fields = token.split('.');
  const otherSession = [...fields.slice(0, 5), `${fields[5]?.slice(0, -4) ?? ''}AAAA`].join('.');
  const flipped = fields[4]?.endsWith('0') === true ? '1' : '0';
  const otherSig = [...fields.slice(0, 4), `${fields[4]?.slice(0, -1) ?? ''}${flipped}`, fields[5]].join('.');
  await assert.rejects(s.verify(otherSession), hasCode(AuthErrorCode.StsRejected));
  await assert.rejects(s.verify(otherSig), hasCode(AuthErrorCode.StsRejected));
  assert.equal(fake.requests.length, 3);
});

test('case 23: a flood of distinct well-formed tokens keeps at most 64 STS requests in flight', async () => {
  await using fake = await startFakeSts();
  let inFlight = 0;
  let maxInFlight = 0;
  fake.reply = async () => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((resolve) => setTimeout(resolve, 20));
    inFlight--;
    return stsError(403, 'SignatureDoesNotMatch');
  };
  using s = setup(fake);
  const tokens = Array.from({ length: 200 }, (_, i) => vectorA.replace(sig, i.toString(16).padStart(64, '0')));
  const outcomes = await Promise.allSettled(tokens.map((t) => s.verify(t)));
  assert.ok(outcomes.every((o) => o.status === 'rejected'));
  assert.equal(fake.requests.length, 200);
  assert.ok(maxInFlight <= 64, `max in flight ${maxInFlight}`);
  // Connection caps (53300) and /livez are proxy-level: see the proxy server tests.
});

test('case 24: bad signature → 403 → rejected after exactly one request, no retry', async () => {
  await using fake = await startFakeSts();
  using s = setup(fake);
  await assert.rejects(s.verify(vectorA.replace(sig, '0'.repeat(64))), hasCode(AuthErrorCode.StsRejected));
  assert.equal(fake.requests.length, 1);
});

test('case 25: a redirect is not followed and is unavailable', async () => {
  await using fake = await startFakeSts();
  await using target = await startFakeSts();
  fake.reply = () => ({ status: 302, headers: { location: `${target.url}/` }, body: '' });
  using s = setup(fake);
  const token = await mintToken({ audience: 'rsproxy:prod', region: 'eu-west-1', credentials: userKey, nowMs: t0 });
  await assert.rejects(s.verify(token), hasCode(AuthErrorCode.StsUnavailable));
  assert.equal(target.requests.length, 0);
  assert.equal(fake.requests.length, 1, 'a redirect is not retried either');
});

test('case 26: 200 with wrong content type, XML, missing or empty fields → sts_response', async () => {
  await using fake = await startFakeSts();
  using s = setup(fake);
  const bob = principals.AKIAIOSFODNN7EXAMPLE;
  assert.ok(bob);
  const replies: Reply[] = [
    { ...identityBody(bob), headers: { 'content-type': 'text/html' } },
    { status: 200, headers: { 'content-type': 'text/xml' }, body: '<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>x</Arn></GetCallerIdentityResult></GetCallerIdentityResponse>' },
    json(200, { GetCallerIdentityResponse: { GetCallerIdentityResult: { Account: bob.account, UserId: bob.userId } } }),
    json(200, { GetCallerIdentityResponse: { GetCallerIdentityResult: { Arn: bob.arn, UserId: bob.userId } } }),
    json(200, { GetCallerIdentityResponse: { GetCallerIdentityResult: { Account: bob.account, Arn: bob.arn } } }),
    json(200, { GetCallerIdentityResponse: { GetCallerIdentityResult: { Account: bob.account, Arn: '', UserId: bob.userId } } }),
  ];
  for (const [i, reply] of replies.entries()) {
    fake.reply = () => reply;
    await assert.rejects(s.verify(vectorA.replace(sig, i.toString(16).padStart(64, '0'))), hasCode(AuthErrorCode.StsResponseInvalid));
  }
  assert.equal(fake.requests.length, replies.length);
  assert.ok(s.results.every((r) => r === 'invalid_response'));
});

test('case 27: duplicate result keys, extra wrapper, unknown key, identity inside an error → sts_response', async () => {
  await using fake = await startFakeSts();
  using s = setup(fake);
  const ok = identityBody({ arn: 'arn:aws:iam::123456789012:user/bob', userId: 'AIDAEXAMPLEBOB', account: '123456789012' }).body.toString();
  const bodies = [
    ok.replace('"ResponseMetadata"', '"GetCallerIdentityResult":{"Account":"1","Arn":"2","UserId":"3"},"ResponseMetadata"'),
    `{"Wrapper":${ok}}`,
    ok.replace('"UserId"', '"Extra":"x","UserId"'),
    JSON.stringify({ Error: { Code: 'X', Message: ok } }),
  ];
  for (const [i, body] of bodies.entries()) {
    fake.reply = () => ({ status: 200, headers: { 'content-type': 'application/json' }, body });
    await assert.rejects(s.verify(vectorA.replace(sig, i.toString(16).padStart(64, '0'))), hasCode(AuthErrorCode.StsResponseInvalid));
  }
});

test('case 28: a 10 MB body hits the 64 KiB cap; a dripped body hits the timeout → unavailable', async () => {
  await using fake = await startFakeSts();
  using s = setup(fake);
  fake.reply = () => ({ status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.alloc(10 * 1024 * 1024, 0x20) });
  await assert.rejects(s.verify(vectorA), hasCode(AuthErrorCode.StsUnavailable));
  const drip = createStsVerifier({ identity, clock: s.clock, logger: silentLogger, observer: { stsRequest() {}, credentialRequest() {}, credentialCache() {} }, endpointUrl: fake.url, totalTimeoutMs: 300 });
  fake.reply = () => new Promise<Reply>(() => {});
  const started = Date.now();
  await assert.rejects(drip.verify(vectorA, t0 + 4000), hasCode(AuthErrorCode.StsUnavailable));
  assert.ok(Date.now() - started < 2000);
  drip.close();
});

test('case 29: throttling and 5xx are unavailable, not cached, and the next login calls STS again', async () => {
  await using fake = await startFakeSts();
  using s = setup(fake);
  const token = await mintToken({ audience: 'rsproxy:prod', region: 'eu-west-1', credentials: userKey, nowMs: t0 });
  for (const [reply, code] of [
    [stsError(400, 'Throttling'), AuthErrorCode.StsThrottled],
    [stsError(429, 'TooManyRequests'), AuthErrorCode.StsThrottled],
    [stsError(503, 'ServiceUnavailable'), AuthErrorCode.StsUnavailable],
  ] as const) {
    fake.reply = () => reply;
    const before = fake.requests.length;
    await assert.rejects(s.verify(token), hasCode(code));
    assert.equal(fake.requests.length - before, 2, 'one retry');
  }
  assert.deepEqual(s.results, ['throttled', 'throttled', 'throttled', 'throttled', 'unavailable', 'unavailable']);
  delete fake.reply;
  assert.equal((await s.verify(token)).canonicalArn, 'arn:aws:iam::123456789012:user/bob');
  assert.equal(fake.requests.length, 7);
});

test('case 30: inconsistent identities and denied principal types → 28P01 reasons', async () => {
  await using fake = await startFakeSts();
  using s = setup(fake);
  const rows: [{ arn: string; userId: string; account: string }, string][] = [
    [{ account: '123456789012', arn: 'arn:aws:iam::210987654321:user/bob', userId: 'AIDAX' }, AuthErrorCode.StsResponseInvalid],
    [{ account: '123456789012', arn: 'arn:aws-cn:iam::123456789012:user/bob', userId: 'AIDAX' }, AuthErrorCode.StsResponseInvalid],
    [{ account: '123456789012', arn: 'arn:aws:iam::123456789012:root', userId: '123456789012' }, AuthErrorCode.PrincipalTypeDenied],
    [{ account: '123456789012', arn: 'arn:aws:sts::123456789012:federated-user/carol', userId: '123456789012:carol' }, AuthErrorCode.PrincipalTypeDenied],
    [{ account: '123456789012', arn: 'arn:aws:sts::123456789012:assumed-role/OnlyRole', userId: 'AROAX:s' }, AuthErrorCode.StsResponseInvalid],
    [{ account: '123456789012', arn: 'arn:aws:sts::123456789012:assumed-role/R/alice', userId: 'AROAX:mallory' }, AuthErrorCode.StsResponseInvalid],
    [{ account: '123456789012', arn: 'arn:aws:sts::123456789012:assumed-role/R/alice', userId: 'AIDAX' }, AuthErrorCode.StsResponseInvalid],
  ];
  for (const [i, [p, code]] of rows.entries()) {
    fake.reply = () => identityBody(p);
    await assert.rejects(s.verify(vectorA.replace(sig, i.toString(16).padStart(64, '0'))), hasCode(code), p.arn);
  }
});

test('case 31: an account outside allowedAccounts → account, also on a cache hit after a reload-free check', async () => {
  await using fake = await startFakeSts();
  fake.reply = () => identityBody({ account: '210987654321', arn: 'arn:aws:iam::210987654321:user/eve', userId: 'AIDAEVE' });
  using s = setup(fake);
  await assert.rejects(s.verify(vectorA), hasCode(AuthErrorCode.AccountNotAllowed));
  await assert.rejects(s.verify(vectorA), hasCode(AuthErrorCode.AccountNotAllowed));
  assert.equal(fake.requests.length, 1, 'the verified identity is cached; the allow-list runs on every use');
});

const roleIdentity: Identity = aliceIdentity;
const analytics = { cluster: 'c1', region: 'eu-west-1', engine: 'redshift', dbName: 'dev', upstreamTls: { mode: 'verify-full' } } as const;
const mapper = createIdentityMapper({
  rules: [{ principal: 'arn:aws:iam::123456789012:role/Analyst', dbUser: '{sessionName}', dbGroups: ['analysts'], databases: ['analytics'], autoCreate: true, trustSessionName: true }],
  databases: { analytics, other: analytics },
});

test('case 32: a valid identity that no rule matches → no_rule', () => {
  assert.throws(() => mapper.map({ ...roleIdentity, canonicalArn: 'arn:aws:iam::123456789012:role/Other', roleName: 'Other' }, 'alice', 'analytics'), hasCode(AuthErrorCode.NoRule));
});

test('case 33: startup user admin / IAM:admin while the rule renders alice → no_rule (startup-parameter forwarding is in proxy/session tests)', () => {
  assert.throws(() => mapper.map(roleIdentity, 'admin', 'analytics'), hasCode(AuthErrorCode.NoRule));
  assert.throws(() => mapper.map(roleIdentity, 'IAM:admin', 'analytics'), hasCode(AuthErrorCode.NoRule));
  assert.equal(mapper.map(roleIdentity, 'alice', 'analytics').dbUser, 'alice');
});

test('case 34: rendered dbUser breaking the name rules → db_name_rules before any AWS call', () => {
  for (const session of ['a=b', 'a:b', 'x'.repeat(65), '1alice', 'PUBLIC']) {
    assert.throws(() => mapper.map({ ...roleIdentity, sessionName: session }, session, 'analytics'), hasCode(AuthErrorCode.DbNameInvalid), session);
  }
});

test('case 35: database not configured, or not allowed by the matching rule → no_rule', () => {
  assert.throws(() => mapper.map(roleIdentity, 'alice', 'missing'), hasCode(AuthErrorCode.NoRule));
  assert.throws(() => mapper.map(roleIdentity, 'alice', 'other'), hasCode(AuthErrorCode.NoRule));
});

// Cases 36-41 are wire-level: the verifier never sees those connections. Their tests live in
//   36 plaintext startup → 28000, no R 3: proxy/session/client-session.test.ts ('plaintext StartupMessage → 28000 …')
//   37 bytes pipelined after SSLRequest → 08P01: proxy/session/client-session.test.ts ('SSLRequest with pipelined bytes …')
//   38 SSLRequest / GSSENCRequest inside TLS, two GSSENCRequests → 08P01: proxy/session/client-session.test.ts ('two GSSENCRequests …')
//   39 oversize / malformed StartupMessage → 08P01: proxy/protocol/startup-framer.test.ts, proxy/protocol/frontend.test.ts
//      ('startup layout violations …'), proxy/session/client-session.test.ts ('oversize startup and password …', 'startup rejections …')
//   40 p before startup, second p, SASL-shaped p, non-p → 08P01: proxy/session/client-session.test.ts ('password phase …')
//      and, against the real proxy, test/integration/attack-wire.test.ts
//   41 cancel with a random key, rate limit, exact key only: proxy/session/cancel-registry.test.ts, test/integration/proxy-cancel.test.ts
// Case 23 (flood) is test/integration/flood.test.ts; cases 33-35 through the real proxy are test/integration/attack-mapping.test.ts.
