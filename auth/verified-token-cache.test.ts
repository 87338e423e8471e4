import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Identity } from './types.js';
import { createVerifiedTokenCache, tokenCacheKey } from './verified-token-cache.js';

const id: Identity = {
  partition: 'aws',
  accountId: '123456789012',
  canonicalArn: 'arn:aws:iam::123456789012:user/bob',
  arn: 'arn:aws:iam::123456789012:user/bob',
  principalType: 'user',
  userId: 'AIDAEXAMPLE',
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  stsRegion: 'eu-west-1',
};

test('entries live until their expiry, and hits return copies', () => {
  const cache = createVerifiedTokenCache();
  cache.set('k', id, 1000);
  const hit = cache.get('k', 999);
  assert.deepEqual(hit, id);
  assert.ok(hit);
  hit.accountId = '999999999999';
  assert.equal(cache.get('k', 999)?.accountId, '123456789012');
  assert.equal(cache.get('k', 1000), undefined);
  assert.equal(cache.size, 0);
});

test('LRU bound evicts the least recently used', () => {
  const cache = createVerifiedTokenCache({ maxEntries: 2 });
  cache.set('a', id, 10);
  cache.set('b', id, 10);
  cache.get('a', 0);
  cache.set('c', id, 10);
  assert.equal(cache.size, 2);
  assert.equal(cache.get('b', 0), undefined);
  assert.ok(cache.get('a', 0));
  cache.clear();
  assert.equal(cache.size, 0);
});

test('keys differ for any byte difference', () => {
  assert.notEqual(tokenCacheKey('rsp1.a'), tokenCacheKey('rsp1.b'));
  assert.match(tokenCacheKey('x'), /^[0-9a-f]{64}$/);
});
