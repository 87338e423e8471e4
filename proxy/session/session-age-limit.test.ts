import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { armSessionAgeLimit, maxSessionGraceMs } from './session-age-limit.js';

/** A relay stand-in: idle or busy, and the waiter whenIdle registered. */
function fakeRelay(isBusy: boolean) {
  const relay = {
    isBusy,
    waiter: undefined as (() => void) | undefined,
    whenIdle(onIdle: () => void): () => void {
      if (!relay.isBusy) {
        onIdle();
        return () => {};
      }
      relay.waiter = onIdle;
      return () => (relay.waiter = undefined);
    },
    becomeIdle(): void {
      relay.isBusy = false;
      const w = relay.waiter;
      relay.waiter = undefined;
      w?.();
    },
  };
  return relay;
}

function useFakeTimers(t: TestContext): void {
  t.mock.timers.enable({ apis: ['setTimeout'] });
}

test('an idle session ends when the limit is reached, not before', (t) => {
  useFakeTimers(t);
  const relay = fakeRelay(false);
  let ends = 0;
  armSessionAgeLimit({ maxAgeMs: 3000, whenIdle: relay.whenIdle, end: () => ends++ });
  t.mock.timers.tick(2999);
  assert.equal(ends, 0);
  t.mock.timers.tick(1);
  assert.equal(ends, 1);
  t.mock.timers.tick(maxSessionGraceMs);
  assert.equal(ends, 1, 'once only');
});

test('a busy session ends at its first idle moment after the limit', (t) => {
  useFakeTimers(t);
  const relay = fakeRelay(true);
  let ends = 0;
  armSessionAgeLimit({ maxAgeMs: 3000, whenIdle: relay.whenIdle, end: () => ends++ });
  t.mock.timers.tick(5000);
  assert.equal(ends, 0, 'the query still runs');
  relay.becomeIdle();
  assert.equal(ends, 1);
  t.mock.timers.tick(maxSessionGraceMs);
  assert.equal(ends, 1, 'the grace timer was cleared');
});

test('a session that never goes idle ends at the grace deadline (300 s after the limit), and stops waiting for idle', (t) => {
  useFakeTimers(t);
  const relay = fakeRelay(true);
  let ends = 0;
  armSessionAgeLimit({ maxAgeMs: 1000, whenIdle: relay.whenIdle, end: () => ends++ });
  t.mock.timers.tick(1000);
  assert.ok(relay.waiter !== undefined, 'waiting for an idle moment');
  t.mock.timers.tick(maxSessionGraceMs - 1);
  assert.equal(ends, 0);
  t.mock.timers.tick(1);
  assert.equal(ends, 1);
  assert.equal(relay.waiter, undefined);
  assert.equal(maxSessionGraceMs, 300_000);
});

test('disarm before the limit: nothing happens; a limit longer than setTimeout allows is reached in steps', (t) => {
  useFakeTimers(t);
  const relay = fakeRelay(false);
  let ends = 0;
  const disarm = armSessionAgeLimit({ maxAgeMs: 1000, whenIdle: relay.whenIdle, end: () => ends++ });
  disarm();
  t.mock.timers.tick(10_000);
  assert.equal(ends, 0);
  const yearMs = 365 * 24 * 3600 * 1000;
  armSessionAgeLimit({ maxAgeMs: yearMs, whenIdle: relay.whenIdle, end: () => ends++ });
  // Tick one timer step at a time (a fake tick does not run timers armed during it).
  const step = 2 ** 31 - 1;
  let left = yearMs;
  for (; left > step; left -= step) {
    t.mock.timers.tick(step);
    assert.equal(ends, 0, 'not fired early by a setTimeout overflow');
  }
  t.mock.timers.tick(left - 1);
  assert.equal(ends, 0);
  t.mock.timers.tick(1);
  assert.equal(ends, 1);
});
