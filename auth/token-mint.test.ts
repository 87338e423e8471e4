import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AwsCredentialsError } from './errors.js';
import { createCredentialSource, mintToken, sessionTokenToBase64url } from './token-mint.js';

const secretAccessKey = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const nowMs = Date.UTC(2026, 10, 24, 10, 15, 0);

test('vector A reproduces byte for byte (docs/design/token.md §2.5)', async () => {
  const token = await mintToken({ audience: 'rsproxy:prod', region: 'eu-west-1', credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey }, nowMs });
  assert.equal(token, 'rsp1.eu-west-1.20261124T101500Z.AKIAIOSFODNN7EXAMPLE.a6b44196f1bb09db77b19538d13caa07a1430e155c7b2478048f4ff4adf63336');
  assert.equal(token.length, 117);
});

test('vector B reproduces byte for byte (docs/design/token.md §2.5)', async () => {
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

test('createCredentialSource rereads the credentials file on each call: a removed key fails, a restored one works again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-cred-source-'));
  const keys = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_CONFIG_FILE', 'AWS_EC2_METADATA_DISABLED'];
  const saved = new Map(keys.map((k) => [k, process.env[k]] as const));
  try {
    for (const k of keys) delete process.env[k];
    const credentialsFile = join(dir, 'credentials');
    process.env['AWS_SHARED_CREDENTIALS_FILE'] = credentialsFile;
    process.env['AWS_CONFIG_FILE'] = join(dir, 'config');
    process.env['AWS_EC2_METADATA_DISABLED'] = 'true';
    writeFileSync(join(dir, 'config'), '');
    writeFileSync(credentialsFile, `[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = ${secretAccessKey}\n`);
    const source = createCredentialSource();
    assert.equal((await source()).accessKeyId, 'AKIAIOSFODNN7EXAMPLE');
    writeFileSync(credentialsFile, '[default]\n');
    await assert.rejects(source(), (err: unknown) => err instanceof AwsCredentialsError && err.profile === 'default' && /aws configure/.test(err.fix));
    writeFileSync(credentialsFile, `[default]\naws_access_key_id = AKIAI44QH8DHBEXAMPLE\naws_secret_access_key = ${secretAccessKey}\n`);
    assert.equal((await source()).accessKeyId, 'AKIAI44QH8DHBEXAMPLE');
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

test('createCredentialSource: credentials past their expiration are refused, naming when they expired', async () => {
  const keys = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_CREDENTIAL_EXPIRATION', 'AWS_PROFILE'];
  const saved = new Map(keys.map((k) => [k, process.env[k]] as const));
  try {
    for (const k of keys) delete process.env[k];
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'ASIAEXAMPLEEXAMPLE12', AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: 'IQoJ', AWS_CREDENTIAL_EXPIRATION: '2026-01-01T00:00:00Z' });
    const source = createCredentialSource({ clock: { nowMs: () => Date.UTC(2026, 5, 1) } });
    await assert.rejects(source(), (err: unknown) => err instanceof AwsCredentialsError && err.reason === 'the credentials expired at 2026-01-01T00:00:00.000Z');
    const fresh = createCredentialSource({ clock: { nowMs: () => Date.UTC(2025, 11, 31) } });
    assert.equal((await fresh()).expiresAtMs, Date.UTC(2026, 0, 1));
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});
