import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deadlineNowMs, deadlineSignal } from './deadline.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('deadlineSignal: a fixed deadline aborts with a TimeoutError once it passes', async () => {
  const signal = deadlineSignal(Date.now() + 5);
  assert.equal(signal.aborted, false);
  await sleep(40);
  assert.equal(signal.aborted, true);
  assert.equal((signal.reason as DOMException).name, 'TimeoutError');
});

test('deadlineSignal: a moving deadline is re-read when its timer fires, so a later waiter keeps the call alive', async () => {
  let deadlineMs = Date.now() + 10;
  const signal = deadlineSignal(() => deadlineMs);
  deadlineMs += 60;
  await sleep(35);
  assert.equal(signal.aborted, false, 'extended before the first timer fired');
  await sleep(80);
  assert.equal(signal.aborted, true);
  assert.equal((signal.reason as DOMException).name, 'TimeoutError');
});

test('deadlineSignal: a moving deadline already past aborts at once; deadlineNowMs reads either form', () => {
  assert.equal(deadlineSignal(() => Date.now() - 1).aborted, true);
  assert.equal(deadlineSignal(() => Number.NaN).aborted, true, 'a NaN deadline ends at once instead of spinning');
  assert.equal(deadlineNowMs(5), 5);
  assert.equal(deadlineNowMs(() => 7), 7);
});
