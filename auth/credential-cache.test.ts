import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CredentialCache, credentialKeyId, type CacheResult, type CredentialKey, type FetchReason } from './credential-cache.js';
import { AuthError, AuthErrorCode } from './errors.js';
import type { AuthObserver } from './types.js';

interface Val {
  password: string;
  expiresAtMs: number;
}

function fakeClock(t = 1_700_000_000_000) {
  return { t, nowMs() { return this.t; } };
}

function countingObserver() {
  const counts: Record<string, number> = {};
  const observer: AuthObserver = {
    stsRequest() {},
    credentialRequest() {},
    credentialCache(result) {
      counts[result] = (counts[result] ?? 0) + 1;
    },
  };
  return { counts, observer };
}

function setup(opts: { refreshBeforeSeconds?: number; maxEntries?: number; durationSeconds?: number; purgeIntervalMs?: number } = {}) {
  const clock = fakeClock();
  const { counts, observer } = countingObserver();
  const cache = new CredentialCache<string, Val>({
    keyId: (k) => k,
    refreshBeforeSeconds: opts.refreshBeforeSeconds ?? 60,
    clock,
    observer,
    ...(opts.maxEntries === undefined ? {} : { maxEntries: opts.maxEntries }),
    ...(opts.purgeIntervalMs === undefined ? {} : { purgeIntervalMs: opts.purgeIntervalMs }),
  });
  const durationMs = (opts.durationSeconds ?? 900) * 1000;
  const reasons: FetchReason[] = [];
  let n = 0;
  const fetch = async (reason: FetchReason): Promise<Val> => {
    reasons.push(reason);
    n++;
    return { password: `p${n}`, expiresAtMs: clock.t + durationMs };
  };
  return { clock, cache, counts, reasons, fetch, calls: () => n };
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

test('credentialKeyId sorts groups and distinguishes every key field', () => {
  const base: CredentialKey = { target: 'cluster:eu-west-1:c', dbUser: 'alice', dbName: 'dev', dbGroups: ['b', 'a'], autoCreate: true, durationSeconds: 900, assumeRole: '', roleSessionName: '' };
  assert.equal(credentialKeyId(base), credentialKeyId({ ...base, dbGroups: ['a', 'b'] }));
  const variants: CredentialKey[] = [
    { ...base, target: 'cluster:eu-west-1:d' },
    { ...base, dbUser: 'bob' },
    { ...base, dbName: 'prod' },
    { ...base, dbGroups: ['a'] },
    { ...base, autoCreate: false },
    { ...base, durationSeconds: 3600 },
    { ...base, assumeRole: 'arn:aws:iam::1:role/r' },
    { ...base, assumeRole: 'arn:aws:iam::1:role/r', roleSessionName: 'bob' },
  ];
  const ids = new Set([credentialKeyId(base), ...variants.map(credentialKeyId)]);
  assert.equal(ids.size, variants.length + 1);
});

test('miss then hit: one fetch', async () => {
  const s = setup();
  const a = await s.cache.get('k', s.fetch);
  s.clock.t += 60_000;
  const b = await s.cache.get('k', s.fetch);
  assert.deepEqual([a.result, b.result], ['miss', 'hit']);
  assert.equal(b.value.password, 'p1');
  assert.equal(s.calls(), 1);
  assert.deepEqual(s.counts, { miss: 1, hit: 1 });
});

test('expired entry is a miss and is fetched again', async () => {
  const s = setup();
  await s.cache.get('k', s.fetch);
  s.clock.t += 901_000;
  const r = await s.cache.get('k', s.fetch);
  assert.equal(r.result, 'miss');
  assert.equal(r.value.password, 'p2');
  assert.deepEqual(s.reasons, ['miss', 'miss']);
});

test('refresh-ahead: inside the window the current value is served (stale) and one background refresh runs', async () => {
  const s = setup();
  await s.cache.get('k', s.fetch);
  s.clock.t += 840_000; // exactly exp − 60 s: no longer a hit
  const r = await s.cache.get('k', s.fetch);
  assert.equal(r.result, 'stale');
  assert.equal(r.value.password, 'p1');
  await flush();
  const after = await s.cache.get('k', s.fetch);
  assert.deepEqual([after.result, after.value.password], ['hit', 'p2']);
  assert.deepEqual(s.reasons, ['miss', 'refresh']);
  assert.deepEqual(s.counts, { miss: 1, stale: 1, refresh: 1, hit: 1 });
});

test('usable floor: an entry with less than 30 s left is a miss even with a short refresh window', async () => {
  const s = setup({ refreshBeforeSeconds: 10 });
  await s.cache.get('k', s.fetch);
  s.clock.t += 900_000 - 29_000;
  const r = await s.cache.get('k', s.fetch);
  assert.deepEqual([r.result, r.value.password], ['miss', 'p2']);
});

test('single-flight: 100 concurrent cold callers → 1 fetch, all get the same value', async () => {
  const s = setup();
  const gate = deferred<Val>();
  let calls = 0;
  const slowFetch = () => {
    calls++;
    return gate.promise;
  };
  const all = Promise.all(Array.from({ length: 100 }, () => s.cache.get('k', slowFetch)));
  gate.resolve({ password: 'only', expiresAtMs: s.clock.t + 900_000 });
  const results = await all;
  assert.equal(calls, 1);
  assert.ok(results.every((r) => r.value.password === 'only' && r.result === 'miss'));
  assert.equal(s.counts['miss'], 100);
});

test('serve-while-refreshing: logins during a slow refresh get the current value; only one refresh starts', async () => {
  const s = setup();
  await s.cache.get('k', s.fetch);
  s.clock.t += 850_000;
  const gate = deferred<Val>();
  let refreshes = 0;
  const slow = () => {
    refreshes++;
    return gate.promise;
  };
  const served: CacheResult[] = [];
  for (let i = 0; i < 5; i++) served.push((await s.cache.get('k', slow)).result);
  assert.deepEqual(served, ['stale', 'stale', 'stale', 'stale', 'stale']);
  assert.equal(refreshes, 1);
  assert.equal(s.counts['refresh'], 1);
  gate.resolve({ password: 'new', expiresAtMs: s.clock.t + 900_000 });
  await flush();
  assert.equal((await s.cache.get('k', slow)).value.password, 'new');
});

test('failures are not cached, every waiter gets the error, a usable entry keeps being served', async () => {
  const s = setup();
  let calls = 0;
  const failing = async (): Promise<Val> => {
    calls++;
    await flush();
    throw new AuthError(AuthErrorCode.CredentialsThrottled, 'Rate exceeded');
  };
  const results = await Promise.allSettled([s.cache.get('k', failing), s.cache.get('k', failing), s.cache.get('k', failing)]);
  assert.equal(calls, 1);
  assert.ok(results.every((r) => r.status === 'rejected' && r.reason instanceof AuthError && r.reason.code === AuthErrorCode.CredentialsThrottled));
  // Throttling is never cached: the next login calls again.
  await assert.rejects(s.cache.get('k', failing), /Rate exceeded/);
  assert.equal(calls, 2);
  assert.equal(s.cache.size, 0);

  await s.cache.get('k', s.fetch);
  s.clock.t += 850_000;
  assert.equal((await s.cache.get('k', failing)).result, 'stale');
  await flush();
  await flush();
  const again = await s.cache.get('k', failing);
  assert.deepEqual([again.result, again.value.password], ['stale', 'p1']);
  assert.equal(calls, 4);
});

test('LRU bound: the least recently used entry goes first', async () => {
  const s = setup({ maxEntries: 3 });
  for (const k of ['a', 'b', 'c']) await s.cache.get(k, s.fetch);
  assert.equal((await s.cache.get('a', s.fetch)).result, 'hit');
  await s.cache.get('d', s.fetch);
  assert.equal(s.cache.size, 3);
  assert.equal(s.cache.peek('b'), undefined);
  assert.ok(s.cache.peek('a') && s.cache.peek('c') && s.cache.peek('d'));
});

test('evict(key, onlyIf) and retain(predicate), including a fetch in flight', async () => {
  const s = setup();
  for (const k of ['keep-1', 'drop-1', 'keep-2']) await s.cache.get(k, s.fetch);
  assert.equal(s.cache.evict('keep-1', (v) => v.password === 'other'), false);
  assert.equal(s.cache.evict('keep-1', (v) => v.password === 'p1'), true);
  assert.equal(s.cache.peek('keep-1'), undefined);

  const gate = deferred<Val>();
  const pending = s.cache.get('drop-2', () => gate.promise);
  assert.equal(s.cache.retain((k) => k.startsWith('keep')), 1);
  gate.resolve({ password: 'late', expiresAtMs: s.clock.t + 900_000 });
  assert.equal((await pending).value.password, 'late');
  assert.equal(s.cache.peek('drop-2'), undefined);
  assert.equal(s.cache.peek('drop-1'), undefined);
  assert.ok(s.cache.peek('keep-2'));
});

test('200 logins over 2 simulated hours, durationSeconds 900 / refresh 60 → ceil(7200 / 840) fetches', async () => {
  const s = setup({ refreshBeforeSeconds: 60, durationSeconds: 900 });
  const start = s.clock.t;
  for (let i = 0; i < 200; i++) {
    s.clock.t = start + i * 36_000;
    const r = await s.cache.get('k', s.fetch);
    assert.ok(r.value.expiresAtMs - s.clock.t >= 30_000, `login ${i} got a nearly expired password`);
    await flush();
  }
  assert.equal(s.calls(), Math.ceil(7200 / (900 - 60)));
  assert.equal(s.calls(), 9);
  assert.equal((s.counts['hit'] ?? 0) + (s.counts['stale'] ?? 0) + (s.counts['miss'] ?? 0), 200);
});

test('expired entries are purged on a periodic timer, well below the LRU bound; close() stops it', async () => {
  const s = setup({ purgeIntervalMs: 10 });
  try {
    await s.cache.get('a', s.fetch);
    await s.cache.get('b', s.fetch);
    assert.equal(s.cache.isPurging, true);
    await new Promise((resolve) => setTimeout(resolve, 40));
    assert.equal(s.cache.size, 2, 'usable entries survive the purge');
    s.clock.t += 901_000;
    await new Promise((resolve) => setTimeout(resolve, 40));
    assert.equal(s.cache.size, 0, 'expired entries purged without any get() or overflow');
    s.cache.close();
    assert.equal(s.cache.isPurging, false);
    await s.cache.get('c', s.fetch);
    s.clock.t += 901_000;
    await new Promise((resolve) => setTimeout(resolve, 40));
    assert.equal(s.cache.size, 1, 'no purge after close()');
  } finally {
    s.cache.close();
  }
});

test('the purge timer is on by default (60 s) and unref\'d; purgeIntervalMs 0 disables it', () => {
  const on = setup();
  assert.equal(on.cache.isPurging, true);
  on.cache.close();
  assert.equal(on.cache.isPurging, false);
  const off = setup({ purgeIntervalMs: 0 });
  assert.equal(off.cache.isPurging, false);
});

test('a shared miss runs until the latest waiter deadline, never past it (docs/design/aws.md §8)', async () => {
  const s = setup();
  const gate = deferred<Val>();
  let readDeadline: (() => number) | undefined;
  const fetch = (_reason: FetchReason, deadlineMs: () => number): Promise<Val> => {
    readDeadline = deadlineMs;
    return gate.promise;
  };
  const first = s.cache.get('k', fetch, s.clock.t + 10_000);
  assert.equal(readDeadline?.(), s.clock.t + 10_000);
  const later = s.cache.get('k', fetch, s.clock.t + 12_000);
  assert.equal(readDeadline?.(), s.clock.t + 12_000, 'a later waiter extends the fetch');
  const earlier = s.cache.get('k', fetch, s.clock.t + 5_000);
  assert.equal(readDeadline?.(), s.clock.t + 12_000, 'an earlier waiter does not shorten it');
  gate.resolve({ password: 'p', expiresAtMs: s.clock.t + 900_000 });
  assert.deepEqual((await Promise.all([first, later, earlier])).map((r) => r.value.password), ['p', 'p', 'p']);
});

test('a background refresh and a miss without a deadline run on the refresh budget', async () => {
  const clock = fakeClock();
  const cache = new CredentialCache<string, Val>({ keyId: (k) => k, refreshBeforeSeconds: 60, clock, refreshBudgetMs: 7_000, purgeIntervalMs: 0 });
  const seen: Array<[FetchReason, number]> = [];
  const fetch = async (reason: FetchReason, deadlineMs: () => number): Promise<Val> => {
    seen.push([reason, deadlineMs() - clock.t]);
    return { password: 'p', expiresAtMs: clock.t + 120_000 };
  };
  await cache.get('k', fetch);
  clock.t += 61_000;
  await cache.get('k', fetch, clock.t + 1_000);
  await flush();
  assert.deepEqual(seen, [['miss', 7_000], ['refresh', 7_000]], 'the refresh ignores the deadline of the login that triggered it');
});
