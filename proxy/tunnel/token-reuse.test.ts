import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTokenReuseCache } from './token-reuse.js';

function fakeMinter(): { mint: () => Promise<string>; count: () => number; failNext: (err: Error) => void } {
  let n = 0;
  let failure: Error | undefined;
  return {
    mint: async () => {
      await Promise.resolve();
      if (failure !== undefined) {
        const err = failure;
        failure = undefined;
        throw err;
      }
      n += 1;
      return `token-${n}`;
    },
    count: () => n,
    failNext: (err) => (failure = err),
  };
}

test('a token is reused while younger than the window, then a new one is minted', async () => {
  let now = 1_000_000;
  const m = fakeMinter();
  const cache = createTokenReuseCache({ mint: m.mint, reuseSeconds: 60, clock: { nowMs: () => now } });
  assert.deepEqual(await cache.token(), { token: 'token-1', isReused: false });
  now += 59_999;
  assert.deepEqual(await cache.token(), { token: 'token-1', isReused: true });
  now += 1;
  assert.deepEqual(await cache.token(), { token: 'token-2', isReused: false });
  assert.equal(m.count(), 2);
});

test('a burst of 20 concurrent requests costs one mint', async () => {
  const m = fakeMinter();
  const cache = createTokenReuseCache({ mint: m.mint, reuseSeconds: 60, clock: { nowMs: () => 5 } });
  const issued = await Promise.all(Array.from({ length: 20 }, () => cache.token()));
  assert.equal(m.count(), 1);
  assert.deepEqual(new Set(issued.map((i) => i.token)), new Set(['token-1']));
  assert.equal(issued.filter((i) => !i.isReused).length, 1);
});

test('reuse 0 mints a fresh token for every connection', async () => {
  const m = fakeMinter();
  const cache = createTokenReuseCache({ mint: m.mint, reuseSeconds: 0, clock: { nowMs: () => 5 } });
  const a = await cache.token();
  const b = await cache.token();
  assert.notEqual(a.token, b.token);
  assert.equal(m.count(), 2);
});

test('a failed mint is not cached: the next request mints again and succeeds', async () => {
  let now = 0;
  const m = fakeMinter();
  const cache = createTokenReuseCache({ mint: m.mint, reuseSeconds: 60, clock: { nowMs: () => now } });
  m.failNext(new Error('no credentials'));
  await assert.rejects(cache.token(), /no credentials/);
  now += 1;
  assert.deepEqual(await cache.token(), { token: 'token-1', isReused: false });
});
