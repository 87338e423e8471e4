import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SourceRateLimiter } from './source-rate-limiter.js';

test('a source gets `burst` events at once, then ratePerSecond as time passes (fake clock)', () => {
  const clock = { ms: 0 };
  const l = new SourceRateLimiter({ ratePerSecond: 2, nowMs: () => clock.ms });
  assert.equal(l.take('a').isAllowed, true);
  assert.equal(l.take('a').isAllowed, true);
  assert.deepEqual(l.take('a'), { isAllowed: false, refusedInARow: 1 });
  assert.deepEqual(l.take('a'), { isAllowed: false, refusedInARow: 2 });
  assert.equal(l.take('b').isAllowed, true, 'other sources have their own bucket');
  clock.ms += 499;
  assert.equal(l.take('a').isAllowed, false);
  clock.ms += 1;
  assert.equal(l.take('a').isAllowed, true);
  assert.equal(l.take('a').isAllowed, false);
  clock.ms += 10_000;
  assert.equal(l.take('a').isAllowed, true);
  assert.equal(l.take('a').isAllowed, true);
  assert.equal(l.take('a').isAllowed, false, 'tokens never exceed the burst');
});

test('the map is bounded: the least recently seen source is dropped first', () => {
  const clock = { ms: 0 };
  const l = new SourceRateLimiter({ ratePerSecond: 1, maxTrackedSources: 2, nowMs: () => clock.ms });
  l.take('a');
  l.take('b');
  l.take('a'); // refused; a is now most recent
  l.take('c'); // evicts b
  assert.equal(l.trackedSources, 2);
  assert.equal(l.take('a').isAllowed, false, 'a kept its empty bucket');
  assert.equal(l.take('b').isAllowed, true, 'b was forgotten and starts full');
});

test('sourceKey: IPv4 as is, IPv4-mapped IPv6 as IPv4, other IPv6 by its /64', async () => {
  const { sourceKey } = await import('./source-rate-limiter.js');
  assert.equal(sourceKey('127.0.0.1'), '127.0.0.1');
  assert.equal(sourceKey('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(sourceKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(sourceKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64', 'one /64, one bucket');
  assert.equal(sourceKey('2001:0db8::1'), '2001:db8:0:0::/64');
  assert.equal(sourceKey('::1'), '0:0:0:0::/64');
  assert.equal(sourceKey(undefined), 'unknown');
});
