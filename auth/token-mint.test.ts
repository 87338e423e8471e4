import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mintToken, sessionTokenToBase64url } from './token-mint.js';

const secretAccessKey = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const nowMs = Date.UTC(2026, 10, 24, 10, 15, 0);

test('vector A reproduces byte for byte (token.md §2.5)', async () => {
  const token = await mintToken({ audience: 'rsproxy:prod', region: 'eu-west-1', credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey }, nowMs });
  assert.equal(token, 'rsp1.eu-west-1.20261124T101500Z.AKIAIOSFODNN7EXAMPLE.a6b44196f1bb09db77b19538d13caa07a1430e155c7b2478048f4ff4adf63336');
  assert.equal(token.length, 117);
});

test('vector B reproduces byte for byte (token.md §2.5)', async () => {
  const token = await mintToken({
    audience: 'rsproxy:prod',
    region: 'eu-west-1',
    credentials: { accessKeyId: 'ASIAEXAMPLEEXAMPLE12', secretAccessKey, sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLH77//+P79yc3Byb3h5LWV4YW1wbGUtc2Vzc2lvbi10b2tlbg==' },
    nowMs,
  });
  assert.equal(
    token,
    'rsp1.eu-west-1.20261124T101500Z.ASIAEXAMPLEEXAMPLE12.a473f44475158ed91db5caef9524f846e7bc72396550b446f7cee8b9aed3217f.IQoJb3JpZ2luX2VjEXAMPLH77__-P79yc3Byb3h5LWV4YW1wbGUtc2Vzc2lvbi10b2tlbg',
  );
  assert.equal(token.length, 188);
});

test('a different audience gives a different signature', async () => {
  const creds = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey };
  const a = await mintToken({ audience: 'rsproxy:prod', region: 'eu-west-1', credentials: creds, nowMs });
  const b = await mintToken({ audience: 'rsproxy:staging', region: 'eu-west-1', credentials: creds, nowMs });
  assert.notEqual(a, b);
});

test('non-canonical session tokens and bad inputs fail loudly', async () => {
  assert.throws(() => sessionTokenToBase64url('QR=='), /not canonical base64/);
  assert.throws(() => sessionTokenToBase64url('QQ'), /not canonical base64/);
  assert.equal(sessionTokenToBase64url('+/8='), '-_8');
  const creds = { accessKeyId: 'ASIAEXAMPLEEXAMPLE12', secretAccessKey, sessionToken: 'QR==' };
  await assert.rejects(mintToken({ audience: 'rsproxy:prod', region: 'eu-west-1', credentials: creds, nowMs }), /not canonical base64/);
  await assert.rejects(mintToken({ audience: ' rsproxy', region: 'eu-west-1', credentials: creds, nowMs }), /audience/);
  await assert.rejects(mintToken({ audience: 'rsproxy:prod', region: 'evil.com', credentials: creds, nowMs }), /region/);
});
