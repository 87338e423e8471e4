import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildStsRequest, rfc3986Encode, stsHost } from './sts-request.js';
import { parseToken } from './token-parse.js';
import { testIdentityOptions, vectorNowMs } from '../testkit/auth-fixtures.js';

const identity = testIdentityOptions({ acceptEksTokens: true });
const nowMs = vectorNowMs;

test('vector A: the rebuilt URL equals the spec string exactly (docs/design/token.md §2.5)', () => {
  const token = 'rsp1.eu-west-1.20261124T101500Z.AKIAIOSFODNN7EXAMPLE.a6b44196f1bb09db77b19538d13caa07a1430e155c7b2478048f4ff4adf63336';
  const req = buildStsRequest(parseToken(token, { identity, nowMs }), identity);
  const url = `https://${req.host}${req.path}`;
  assert.equal(
    url,
    'https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261124%2Feu-west-1%2Fsts%2Faws4_request&X-Amz-Date=20261124T101500Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host%3Bx-rsproxy-audience&X-Amz-Signature=a6b44196f1bb09db77b19538d13caa07a1430e155c7b2478048f4ff4adf63336',
  );
  assert.equal(url.length, 368);
  assert.deepEqual(req.headers, { host: 'sts.eu-west-1.amazonaws.com', 'x-rsproxy-audience': 'rsproxy:prod', accept: 'application/json' });
});

test('vector B: the session token is sent standard-base64 and RFC 3986 encoded', () => {
  const token =
    'rsp1.eu-west-1.20261124T101500Z.ASIAEXAMPLEEXAMPLE12.a473f44475158ed91db5caef9524f846e7bc72396550b446f7cee8b9aed3217f.IQoJb3JpZ2luX2VjEXAMPLH77__-P79yc3Byb3h5LWV4YW1wbGUtc2Vzc2lvbi10b2tlbg';
  const req = buildStsRequest(parseToken(token, { identity, nowMs }), identity);
  assert.ok(req.path.includes('&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLH77%2F%2F%2BP79yc3Byb3h5LWV4YW1wbGUtc2Vzc2lvbi10b2tlbg%3D%3D&'));
  assert.ok(!Object.keys(req.headers).some((h) => h.startsWith('x-amz-')));
});

test('the audience header is always the proxy\'s own, also for the k8s form', () => {
  const req = buildStsRequest(
    {
      format: 'k8s-aws-v1',
      region: 'eu-west-1',
      amzDate: '20261124T101500Z',
      amzDateMs: nowMs,
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      signature: '0'.repeat(64),
      expiresSeconds: 60,
      audienceHeader: 'x-k8s-aws-id',
    },
    identity,
  );
  assert.equal(req.headers['x-k8s-aws-id'], 'rsproxy:prod');
  assert.ok(req.path.includes('X-Amz-Expires=60&'));
  assert.ok(req.path.includes('X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&'));
});

test('hosts per partition and RFC 3986 encoding', () => {
  assert.equal(stsHost('cn-north-1', 'aws-cn'), 'sts.cn-north-1.amazonaws.com.cn');
  assert.equal(stsHost('us-gov-west-1', 'aws-us-gov'), 'sts.us-gov-west-1.amazonaws.com');
  assert.equal(rfc3986Encode("a/b;c+d=e!'()*~ é"), "a%2Fb%3Bc%2Bd%3De%21%27%28%29%2A~%20%C3%A9");
});
