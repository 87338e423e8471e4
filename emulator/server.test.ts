import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startEmulator, type Emulator } from './server.js';

// docs/design/token.md §2.5 vector A / B, sent as the proxy's verifier would (Host = the signed STS host).
const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const signedAtMs = Date.UTC(2026, 10, 24, 10, 15, 0);
const sessionToken = 'IQoJb3JpZ2luX2VjEXAMPLH77//+P79yc3Byb3h5LWV4YW1wbGUtc2Vzc2lvbi10b2tlbg==';
const queryA =
  'Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261124%2Feu-west-1%2Fsts%2Faws4_request&X-Amz-Date=20261124T101500Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host%3Bx-rsproxy-audience&X-Amz-Signature=a6b44196f1bb09db77b19538d13caa07a1430e155c7b2478048f4ff4adf63336';
const queryB =
  'Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAEXAMPLEEXAMPLE12%2F20261124%2Feu-west-1%2Fsts%2Faws4_request&X-Amz-Date=20261124T101500Z&X-Amz-Expires=900&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLH77%2F%2F%2BP79yc3Byb3h5LWV4YW1wbGUtc2Vzc2lvbi10b2tlbg%3D%3D&X-Amz-SignedHeaders=host%3Bx-rsproxy-audience&X-Amz-Signature=a473f44475158ed91db5caef9524f846e7bc72396550b446f7cee8b9aed3217f';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(emu: Emulator, query: string, opts: { audience?: string; json?: boolean; timeoutMs?: number } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: 'sts.eu-west-1.amazonaws.com', 'x-rsproxy-audience': opts.audience ?? 'rsproxy:prod' };
    if (opts.json !== false) headers['accept'] = 'application/json';
    const req = http.request({ host: '127.0.0.1', port: emu.port, path: `/?${query}`, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.timeoutMs !== undefined) req.setTimeout(opts.timeoutMs, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

async function withEmulator(fn: (emu: Emulator) => Promise<void>, nowMs = signedAtMs + 60_000): Promise<void> {
  await using emu = await startEmulator({
    nowMs: () => nowMs,
    principals: [
      { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: secret, arn: 'arn:aws:iam::123456789012:user/alice', accountId: '123456789012', userId: 'AIDAEXAMPLEALICE0001' },
      {
        accessKeyId: 'ASIAEXAMPLEEXAMPLE12',
        secretAccessKey: secret,
        sessionToken,
        arn: 'arn:aws:sts::123456789012:assumed-role/Analyst/bob',
        accountId: '123456789012',
        userId: 'AROAEXAMPLEANALYST01:bob',
      },
    ],
  });
  await fn(emu);
}

test('vector A over HTTP: 200 with exactly the docs/design/token.md §6 JSON shape', () =>
  withEmulator(async (emu) => {
    assert.match(emu.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const a = await get(emu, queryA);
    assert.equal(a.status, 200);
    assert.equal(a.headers['content-type'], 'application/json');
    const parsed = JSON.parse(a.body) as { GetCallerIdentityResponse: { ResponseMetadata: { RequestId: string } } };
    const requestId = parsed.GetCallerIdentityResponse.ResponseMetadata.RequestId;
    assert.match(requestId, /^[0-9a-f-]{36}$/);
    assert.equal(
      a.body,
      `{"GetCallerIdentityResponse":{"GetCallerIdentityResult":{"Account":"123456789012","Arn":"arn:aws:iam::123456789012:user/alice","UserId":"AIDAEXAMPLEALICE0001"},"ResponseMetadata":{"RequestId":"${requestId}"}}}`,
    );
    assert.equal(emu.lastStsRequest?.headers['x-rsproxy-audience'], 'rsproxy:prod');
    assert.equal(emu.lastStsRequest?.host, 'sts.eu-west-1.amazonaws.com');
    assert.equal(emu.counters.get('GetCallerIdentity', 'ok'), 1);
  }));

test('vector B (session token) succeeds; without Accept JSON the answer is STS XML', () =>
  withEmulator(async (emu) => {
    const b = await get(emu, queryB, { json: false });
    assert.equal(b.status, 200);
    assert.equal(b.headers['content-type'], 'text/xml');
    assert.match(b.body, /^<GetCallerIdentityResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/"><GetCallerIdentityResult><Arn>arn:aws:sts::123456789012:assumed-role\/Analyst\/bob<\/Arn><UserId>AROAEXAMPLEANALYST01:bob<\/UserId><Account>123456789012<\/Account><\/GetCallerIdentityResult>/);
  }));

test('wrong audience → 403 SignatureDoesNotMatch in JSON and XML; the audience header is recorded', () =>
  withEmulator(async (emu) => {
    const j = await get(emu, queryA, { audience: 'rsproxy:staging' });
    assert.equal(j.status, 403);
    const err = JSON.parse(j.body) as { Error: { Code: string; Type: string }; RequestId: string };
    assert.equal(err.Error.Code, 'SignatureDoesNotMatch');
    assert.equal(err.Error.Type, 'Sender');
    assert.equal(emu.lastStsRequest?.headers['x-rsproxy-audience'], 'rsproxy:staging');
    const x = await get(emu, queryA, { audience: 'rsproxy:staging', json: false });
    assert.equal(x.status, 403);
    assert.match(x.body, /^<ErrorResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/"><Error><Type>Sender<\/Type><Code>SignatureDoesNotMatch<\/Code><Message>/);
    assert.equal(emu.counters.get('GetCallerIdentity', 'SignatureDoesNotMatch'), 2);
    assert.equal(emu.counters.total('GetCallerIdentity'), 2);
  }));

test('expired date → 403 with the exact "Signature expired" message', () =>
  withEmulator(async (emu) => {
    const r = await get(emu, queryA);
    assert.equal(r.status, 403);
    const err = JSON.parse(r.body) as { Error: { Code: string; Message: string } };
    assert.equal(err.Error.Code, 'SignatureDoesNotMatch');
    assert.equal(err.Error.Message, 'Signature expired: 20261124T101500Z is now earlier than 20261124T102500Z (20261124T104000Z - 15 min.)');
  }, signedAtMs + 25 * 60_000));

test('unknown action and method are rejected and counted as Unknown', () =>
  withEmulator(async (emu) => {
    const r = await get(emu, 'Action=GetSessionToken&Version=2011-06-15');
    assert.equal(r.status, 400);
    assert.match(r.body, /InvalidAction/);
    assert.equal(emu.counters.get('Unknown', 'InvalidAction'), 1);
  }));

test('fault: throttle above N per second, then failTimes expiry', () =>
  withEmulator(async (emu) => {
    emu.faults.set('GetCallerIdentity', { throttleAbovePerSecond: 1 });
    assert.equal((await get(emu, queryA)).status, 200);
    const t = await get(emu, queryA);
    assert.equal(t.status, 400);
    assert.deepEqual((JSON.parse(t.body) as { Error: { Code: string; Message: string } }).Error.Code, 'Throttling');
    assert.match(t.body, /Rate exceeded/);
    assert.equal(emu.counters.get('GetCallerIdentity', 'Throttling'), 1);
    emu.faults.set('GetCallerIdentity', { status5xx: 503, failTimes: 1 });
    assert.equal((await get(emu, queryA)).status, 503);
    assert.equal((await get(emu, queryA)).status, 200);
  }));

test('fault: redirect, content type, raw body, oversize body', () =>
  withEmulator(async (emu) => {
    emu.faults.set('GetCallerIdentity', { redirectTo: 'https://evil.example/' });
    const r = await get(emu, queryA);
    assert.equal(r.status, 302);
    assert.equal(r.headers.location, 'https://evil.example/');
    emu.faults.set('GetCallerIdentity', { contentType: 'text/html' });
    const c = await get(emu, queryA);
    assert.equal(c.status, 200);
    assert.equal(c.headers['content-type'], 'text/html');
    assert.match(c.body, /GetCallerIdentityResult/);
    emu.faults.set('GetCallerIdentity', { body: '{"GetCallerIdentityResponse":' });
    const raw = await get(emu, queryA);
    assert.equal(raw.body, '{"GetCallerIdentityResponse":');
    emu.faults.set('GetCallerIdentity', { oversizeBytes: 200_000 });
    const big = await get(emu, queryA);
    assert.equal(big.body.length, 200_000);
    emu.faults.clear();
    assert.equal((await get(emu, queryA)).status, 200);
    assert.equal(emu.counters.get('GetCallerIdentity', 'redirect'), 1);
    assert.equal(emu.counters.get('GetCallerIdentity', 'fault'), 3);
  }));

test('fault: latency and a dripped body', () =>
  withEmulator(async (emu) => {
    emu.faults.set('GetCallerIdentity', { latencyMs: 150 });
    let t0 = performance.now();
    assert.equal((await get(emu, queryA)).status, 200);
    assert.ok(performance.now() - t0 >= 140);
    emu.faults.set('GetCallerIdentity', { dripBytesPerSecond: 1 });
    t0 = performance.now();
    await assert.rejects(get(emu, queryA, { timeoutMs: 300 }), /timeout|socket hang up/);
    assert.ok(performance.now() - t0 < 2000);
  }));

test('close() is idempotent and the port stops accepting', async () => {
  const emu = await startEmulator({ principals: [] });
  await emu.close();
  await emu.close();
  await assert.rejects(get(emu, queryA), /ECONNREFUSED/);
});
