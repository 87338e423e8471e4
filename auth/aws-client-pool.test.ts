import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientPool, sdkClientConfig, sdkClientDefaults, sendOptions, toSdkCredentials } from './aws-client-pool.js';

test('one client per (region, access key id), reused; older clients destroyed past the bound', () => {
  const created: string[] = [];
  const destroyed: string[] = [];
  const pool = new ClientPool((region, creds) => {
    const name = `${region}/${creds?.accessKeyId ?? 'default'}`;
    created.push(name);
    return { name, destroy: () => void destroyed.push(name) };
  });
  const a = pool.get('eu-west-1', undefined);
  assert.equal(pool.get('eu-west-1', undefined), a);
  assert.notEqual(pool.get('us-east-1', undefined), a);
  assert.notEqual(pool.get('eu-west-1', { accessKeyId: 'ASIA1', secretAccessKey: 's' }), a);
  assert.deepEqual(created, ['eu-west-1/default', 'us-east-1/default', 'eu-west-1/ASIA1']);
  for (let i = 0; i < 70; i++) pool.get('eu-west-1', { accessKeyId: `ASIAX${i}`, secretAccessKey: 's' });
  assert.ok(destroyed.includes('eu-west-1/default'));
  pool.destroy();
  assert.equal(destroyed.length, created.length);
});

test('SDK defaults: one attempt, 3 s connect / 5 s request timeouts', () => {
  assert.deepEqual(sdkClientDefaults, { maxAttempts: 1, requestHandler: { connectionTimeout: 3000, requestTimeout: 5000 } });
});

test('toSdkCredentials', () => {
  assert.deepEqual(toSdkCredentials({ accessKeyId: 'A', secretAccessKey: 'S', expiresAtMs: 1 }), { accessKeyId: 'A', secretAccessKey: 'S' });
  assert.deepEqual(toSdkCredentials({ accessKeyId: 'A', secretAccessKey: 'S', sessionToken: 'T' }), { accessKeyId: 'A', secretAccessKey: 'S', sessionToken: 'T' });
});

test('sdkClientConfig adds the endpoint and SDK-shaped credentials only when given; sendOptions carries the deadline', () => {
  assert.deepEqual(sdkClientConfig('eu-west-1', undefined, undefined), { region: 'eu-west-1', ...sdkClientDefaults });
  const full = sdkClientConfig('eu-west-1', 'http://127.0.0.1:1', { accessKeyId: 'AKID', secretAccessKey: 'secret', expiresAtMs: 1 });
  assert.deepEqual(full, { region: 'eu-west-1', ...sdkClientDefaults, endpoint: 'http://127.0.0.1:1', credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' } });
  assert.deepEqual(sendOptions(undefined), {});
  const opts = sendOptions(Date.now() + 60_000);
  assert.ok(opts.abortSignal instanceof AbortSignal);
  assert.equal(opts.abortSignal.aborted, false);
});
