import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { generate } from 'selfsigned';
import { AuthErrorCode, type AuthError } from './errors.js';
import { createStsVerifier, isLoopbackHost } from './sts-verifier.js';
import { mintToken } from './token-mint.js';
import { nullObserver, silentLogger, type Clock, type Logger } from './types.js';
import { testIdentityOptions, vectorNowMs } from '../testkit/auth-fixtures.js';

const identity = testIdentityOptions();
const t0 = vectorNowMs;
const clock: Clock = { nowMs: () => t0 };
const roleKey = {
  accessKeyId: 'ASIAEXAMPLEEXAMPLE12',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLH77//+P79yc3Byb3h5LWV4YW1wbGUtc2Vzc2lvbi10b2tlbg==',
};
const okBody = JSON.stringify({
  GetCallerIdentityResponse: {
    GetCallerIdentityResult: { Account: '123456789012', Arn: 'arn:aws:sts::123456789012:assumed-role/Analyst/alice', UserId: 'AROAEXAMPLE:alice' },
    ResponseMetadata: { RequestId: 'rid-1' },
  },
});
type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const answerOk: Handler = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(okBody);
};

async function listen(handler: Handler, tls?: { cert: string; key: string }) {
  const seen: IncomingMessage[] = [];
  const wrapped: Handler = (req, res) => {
    seen.push(req);
    handler(req, res);
  };
  const server = tls === undefined ? createHttpServer(wrapped) : createHttpsServer(tls, wrapped);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    seen,
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const token = () => mintToken({ audience: 'rsproxy:prod', region: 'eu-west-1', credentials: roleKey, nowMs: t0 });

test('https override: signed Host header, SNI = dialled host, TLS verified against the given CA', async () => {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
  });
  await using server = await listen(answerOk, { cert: pems.cert, key: pems.private });
  const verifier = createStsVerifier({ identity, clock, logger: silentLogger, observer: nullObserver, endpointUrl: `https://localhost:${server.port}`, tlsCa: pems.cert });
  const id = await verifier.verify(await token(), t0 + 4000);
  assert.equal(id.canonicalArn, 'arn:aws:iam::123456789012:role/Analyst');
  assert.equal(id.stsRequestId, 'rid-1');
  const req = server.seen[0];
  assert.ok(req);
  assert.equal(req.headers.host, 'sts.eu-west-1.amazonaws.com');
  assert.equal((req.socket as TLSSocket).servername, 'localhost');
  assert.equal(req.headers['x-rsproxy-audience'], 'rsproxy:prod');
  assert.equal(req.headers.accept, 'application/json');
  assert.ok(!Object.keys(req.headers).some((h) => h.startsWith('x-amz-')));
  verifier.close();
  const untrusting = createStsVerifier({ identity, clock, logger: silentLogger, observer: nullObserver, endpointUrl: `https://127.0.0.1:${server.port}` });
  await assert.rejects(untrusting.verify(await token(), t0 + 4000), (e: AuthError) => e.code === AuthErrorCode.StsUnavailable);
  untrusting.close();
});

test('identical tokens share one request (single-flight); clearCache forces a new one', async () => {
  await using server = await listen((req, res) => setTimeout(() => answerOk(req, res), 50));
  const verifier = createStsVerifier({ identity, clock, logger: silentLogger, observer: nullObserver, endpointUrl: `http://127.0.0.1:${server.port}` });
  const t = await token();
  const [a, b] = await Promise.all([verifier.verify(t, t0 + 4000), verifier.verify(t, t0 + 4000)]);
  assert.deepEqual(a, b);
  assert.equal(server.seen.length, 1);
  // The session strips the one trailing newline (docs/design/token.md §4 rule 3); a newline reaching auth is malformed, no STS call.
  for (const nl of ['\n', '\r\n', '\n\n', '\r\n\n']) {
    await assert.rejects(verifier.verify(`${t}${nl}`, t0 + 4000), (e: AuthError) => e.code === AuthErrorCode.TokenMalformed);
  }
  assert.equal(server.seen.length, 1);
  verifier.clearCache();
  await verifier.verify(t, t0 + 4000);
  assert.equal(server.seen.length, 2);
  verifier.close();
});

test('a 5xx is retried once, then succeeds; the observer sees both', async () => {
  let calls = 0;
  await using server = await listen((req, res) => {
    calls++;
    if (calls === 1) {
      res.writeHead(500);
      res.end();
    } else answerOk(req, res);
  });
  const results: string[] = [];
  const verifier = createStsVerifier({ identity, clock, logger: silentLogger, observer: { ...nullObserver, stsRequest: (r) => results.push(r) }, endpointUrl: `http://127.0.0.1:${server.port}`, random: () => 0 });
  await verifier.verify(await token(), t0 + 4000);
  assert.deepEqual(results, ['unavailable', 'ok']);
  verifier.close();
});

test('the login deadline caps the exchange', async () => {
  await using server = await listen(() => {});
  const verifier = createStsVerifier({ identity, clock, logger: silentLogger, observer: nullObserver, endpointUrl: `http://127.0.0.1:${server.port}` });
  const started = Date.now();
  await assert.rejects(verifier.verify(await token(), t0 + 300), (e: AuthError) => e.code === AuthErrorCode.StsUnavailable);
  assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
  verifier.close();
});

test('a shared request keeps its own budget: a late first caller times out alone, its joiner still succeeds on the same request', async () => {
  await using server = await listen((req, res) => setTimeout(() => answerOk(req, res), 300));
  const verifier = createStsVerifier({ identity, clock, logger: silentLogger, observer: nullObserver, endpointUrl: `http://127.0.0.1:${server.port}` });
  const t = await token();
  const late = verifier.verify(t, t0 + 100);
  const joiner = verifier.verify(t, t0 + 4000);
  await assert.rejects(late, (e: AuthError) => e.code === AuthErrorCode.StsUnavailable && /login deadline/.test(e.message));
  assert.equal((await joiner).canonicalArn, 'arn:aws:iam::123456789012:role/Analyst');
  assert.equal(server.seen.length, 1);
  verifier.close();
});

test('http: endpoint overrides are refused unless loopback; https: may point anywhere', () => {
  const make = (endpointUrl: string) => createStsVerifier({ identity, clock, logger: silentLogger, observer: nullObserver, endpointUrl });
  for (const url of ['http://10.0.0.1:8080', 'http://sts.example.com', 'http://128.0.0.1', 'http://localhost.example.com', 'http://[::2]:80', 'http://0.0.0.0:80']) {
    assert.throws(() => make(url), /http: outside loopback/, url);
  }
  for (const url of ['http://127.0.0.1:1', 'http://127.9.8.7:1', 'http://localhost:1', 'http://LOCALHOST:1', 'http://[::1]:1', 'https://sts.example.com', 'https://10.0.0.1:8443']) {
    make(url).close();
  }
  assert.throws(() => make('ftp://127.0.0.1'), /must be http\(s\)/);
  assert.deepEqual(['127.0.0.1', '[::1]', 'localhost', '127.255.255.255', '127.0.0.256', '10.0.0.1', '::'].map(isLoopbackHost), [true, true, true, true, false, false, false]);
});

test('HTTPS_PROXY / HTTP_PROXY are ignored', async () => {
  await using server = await listen(answerOk);
  const saved = { http: process.env.HTTP_PROXY, https: process.env.HTTPS_PROXY };
  process.env.HTTP_PROXY = 'http://127.0.0.1:1';
  process.env.HTTPS_PROXY = 'http://127.0.0.1:1';
  try {
    const verifier = createStsVerifier({ identity, clock, logger: silentLogger, observer: nullObserver, endpointUrl: `http://127.0.0.1:${server.port}` });
    assert.equal((await verifier.verify(await token(), t0 + 4000)).accountId, '123456789012');
    verifier.close();
  } finally {
    if (saved.http === undefined) delete process.env.HTTP_PROXY;
    else process.env.HTTP_PROXY = saved.http;
    if (saved.https === undefined) delete process.env.HTTPS_PROXY;
    else process.env.HTTPS_PROXY = saved.https;
  }
});

test('logs name akid, region and ARN but never the token, signature or session token', async () => {
  const records: unknown[] = [];
  const logger: Logger = {
    debug: (o) => records.push(o),
    info: (o) => records.push(o),
    warn: (o) => records.push(o),
    error: (o) => records.push(o),
    child: () => logger,
  };
  const answers: Handler[] = [
    answerOk,
    (_q, res) => {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end('{"Error":{"Code":"SignatureDoesNotMatch"},"RequestId":"r"}');
    },
    (_q, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html/>');
    },
    (_q, res) => {
      res.writeHead(302, { location: 'https://evil.example/' });
      res.end();
    },
  ];
  let i = 0;
  await using server = await listen((req, res) => answers[i]?.(req, res));
  const verifier = createStsVerifier({ identity, clock, logger, observer: nullObserver, endpointUrl: `http://127.0.0.1:${server.port}` });
  const t = await token();
  for (i = 0; i < answers.length; i++) {
    verifier.clearCache();
    await verifier.verify(t, t0 + 4000).catch(() => undefined);
  }
  verifier.close();
  const text = JSON.stringify(records);
  const [, , , , signature = '', sessionField = ''] = t.split('.');
  assert.ok(text.includes('ASIAEXAMPLEEXAMPLE12') && text.includes('eu-west-1') && text.includes('assumed-role/Analyst/alice'));
  for (const secret of [t, signature, sessionField, roleKey.sessionToken, 'IQoJb3JpZ2lu']) assert.ok(!text.includes(secret), 'secret leaked into logs');
});
