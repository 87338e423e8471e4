import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelayMs, createRetrier } from './backoff.js';
import { AuthError, AuthErrorCode } from './errors.js';

function harness(startMs = 1_000_000) {
  const clock = { t: startMs, nowMs() { return this.t; } };
  const sleeps: number[] = [];
  const sleep = async (ms: number): Promise<void> => {
    sleeps.push(ms);
    clock.t += ms;
  };
  return { clock, sleeps, sleep };
}

const throttled = () => new AuthError(AuthErrorCode.CredentialsThrottled, 'Rate exceeded');

test('delay ceiling doubles from 200 ms and is capped at 3 s (full jitter scales it)', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((i) => backoffDelayMs(i, () => 0.5)), [100, 200, 400, 800, 1500, 1500]);
  assert.deepEqual([0, 1, 2, 3, 4].map((i) => backoffDelayMs(i, () => 0.99999)), [199, 399, 799, 1599, 2999]);
  assert.equal(backoffDelayMs(3, () => 0), 0);
});

test('throttling: exactly 4 attempts with the exact jittered delays, then the last error', async () => {
  const h = harness();
  const retry = createRetrier({ clock: h.clock, random: () => 0.5, sleep: h.sleep });
  let calls = 0;
  await assert.rejects(
    retry(async () => {
      calls++;
      throw throttled();
    }, h.clock.t + 60_000),
    (err: unknown) => err instanceof AuthError && err.code === AuthErrorCode.CredentialsThrottled,
  );
  assert.equal(calls, 4);
  assert.deepEqual(h.sleeps, [100, 200, 400]);
});

test('recovers when a later attempt succeeds', async () => {
  const h = harness();
  const retry = createRetrier({ clock: h.clock, random: () => 0.25, sleep: h.sleep });
  const attempts: number[] = [];
  const out = await retry(async (attempt) => {
    attempts.push(attempt);
    if (attempt < 3) throw new AuthError(AuthErrorCode.CredentialsUnavailable, '503');
    return 'ok';
  }, h.clock.t + 60_000);
  assert.equal(out, 'ok');
  assert.deepEqual(attempts, [1, 2, 3]);
  assert.deepEqual(h.sleeps, [50, 100]);
});

test('non-retryable errors (AccessDenied → CREDENTIALS_FAILED, plain errors) are not retried', async () => {
  const h = harness();
  const retry = createRetrier({ clock: h.clock, random: () => 0.5, sleep: h.sleep });
  let calls = 0;
  await assert.rejects(retry(async () => {
    calls++;
    throw new AuthError(AuthErrorCode.CredentialsFailed, 'AccessDenied');
  }, h.clock.t + 60_000), /AccessDenied/);
  await assert.rejects(retry(async () => {
    calls++;
    throw new Error('bug');
  }, h.clock.t + 60_000), /bug/);
  assert.equal(calls, 2);
  assert.deepEqual(h.sleeps, []);
});

test('never sleeps past the deadline', async () => {
  const h = harness();
  const retry = createRetrier({ clock: h.clock, random: () => 0.5, sleep: h.sleep });
  let calls = 0;
  // 100 ms fits (now+100 < deadline 250), then 200 would reach 300 ≥ 250: stop after 2 attempts.
  await assert.rejects(retry(async () => {
    calls++;
    throw throttled();
  }, h.clock.t + 250), /Rate exceeded/);
  assert.equal(calls, 2);
  assert.deepEqual(h.sleeps, [100]);
});

test('a deadline function is read before every sleep, so a joined fetch can be extended', async () => {
  const h = harness();
  const retry = createRetrier({ clock: h.clock, random: () => 0.5, sleep: h.sleep });
  let deadlineMs = h.clock.t + 250;
  let calls = 0;
  // Same as above, but after the first sleep a later waiter moves the deadline out: all 4 attempts run.
  await assert.rejects(retry(async () => {
    calls++;
    if (calls === 2) deadlineMs = h.clock.t + 10_000;
    throw throttled();
  }, () => deadlineMs), /Rate exceeded/);
  assert.equal(calls, 4);
  assert.deepEqual(h.sleeps, [100, 200, 400]);
});
