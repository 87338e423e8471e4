import { test } from 'node:test';
import assert from 'node:assert/strict';
import { percentile, summarize } from './login-latency.js';

test('percentile uses the nearest rank', () => {
  const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(sorted, 50), 50);
  assert.equal(percentile(sorted, 95), 95);
  assert.equal(percentile(sorted, 100), 100);
  assert.equal(percentile([7], 95), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
});

test('summarize sorts before ranking', () => {
  assert.deepEqual(summarize([5, 1, 3, 2, 4]), { count: 5, medianMs: 3, p95Ms: 5, minMs: 1, maxMs: 5 });
});
