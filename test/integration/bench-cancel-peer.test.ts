/** Keeps bench/cancel-peer.ts working: 4 cancels per path, both measured; the shape only, never the speed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatCancelBench, runCancelBench } from '../../bench/cancel-peer.js';
import { requirePg } from '../../testkit/pg-cluster.js';

test('bench/cancel-peer: 4 cancels to the owner and 4 via the other replica all cancel the query', { timeout: 120_000 }, async (t) => {
  if (!requirePg(t)) return;
  const r = await runCancelBench(4);
  assert.equal(r.owner.count, 4);
  assert.equal(r.viaPeer.count, 4);
  for (const s of [r.owner, r.viaPeer]) assert.ok(s.minMs > 0 && s.maxMs >= s.medianMs && s.p95Ms >= s.medianMs);
  assert.match(formatCancelBench(r), /^to another replica \(peer forward\)\s+4\s+[\d.]+\s+[\d.]+\s+[\d.]+$/m);
  await assert.rejects(runCancelBench(3), /--cancels must be an integer from 4 to 500/);
});
