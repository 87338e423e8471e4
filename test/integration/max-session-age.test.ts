/** `limits.maxSessionSeconds` on the real stack (docs/design/surface.md §10, issue 14): an idle session ends at the limit; a busy one right after its query returns. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { startIamStack } from '../../testkit/iam-stack.js';
import { activeQueries } from '../../testkit/pg-activity.js';
import { requirePg } from '../../testkit/pg-cluster.js';
import { waitFor } from '../../testkit/wait.js';

/** When the client was told it is over: the first 57P01 ErrorResponse node-postgres reports. */
function fatalSeen(client: pg.Client): Promise<{ atMs: number; message: string }> {
  return new Promise((resolve) => {
    client.on('error', (err: Error & { code?: string }) => {
      if (err.code === '57P01') resolve({ atMs: Date.now(), message: err.message });
    });
  });
}

test('maxSessionSeconds 3: an idle session ends after ~3 s; a session in pg_sleep(5) gets its whole result first, then ends', { timeout: 120_000 }, async (t) => {
  if (!requirePg(t)) return;
  await using stack = await startIamStack({ logLevel: 'info', configure: (c) => (c['limits'] = { ...(c['limits'] as object), maxSessionSeconds: 3 }) });

  const idleStartMs = Date.now();
  const idle = await stack.connect(await stack.mint('alice'), 'alice');
  t.after(() => idle.end().catch(() => {}));
  const idleConnectedMs = Date.now();
  const idleEnd = fatalSeen(idle);

  const marker = `max_age_${process.pid}_${Date.now()}`;
  const busyStartMs = Date.now();
  const busy = await stack.connect(await stack.mint('bob'), 'bob');
  t.after(() => busy.end().catch(() => {}));
  const busyEnd = fatalSeen(busy);
  // Had the FATAL come before the query's ReadyForQuery, node-postgres would reject the query with it.
  const result = await busy.query(`SELECT pg_sleep(5) AS ${marker}, 'complete'::text AS status, repeat('x', 100000) AS payload`);
  const queryDoneMs = Date.now();

  const idleEnded = await idleEnd;
  assert.equal(idleEnded.message, 'session exceeded its maximum duration');
  assert.ok(idleEnded.atMs - idleStartMs >= 3000, `idle session ended ${idleEnded.atMs - idleStartMs} ms after login began`);
  assert.ok(idleEnded.atMs - idleConnectedMs < 4500, `idle session ended ${idleEnded.atMs - idleConnectedMs} ms after login`);

  assert.ok(queryDoneMs - busyStartMs >= 5000, 'the query ran to its end (not cancelled at the 3 s limit)');
  assert.equal(result.rows[0]?.status, 'complete');
  assert.equal(String(result.rows[0]?.payload).length, 100000, 'the whole result arrived');
  const busyEnded = await busyEnd;
  assert.equal(busyEnded.message, 'session exceeded its maximum duration');
  assert.ok(busyEnded.atMs - busyStartMs >= 5000, 'no FATAL before the query had run its 5 s');
  assert.ok(busyEnded.atMs - queryDoneMs < 1500, `busy session ended ${busyEnded.atMs - queryDoneMs} ms after its query returned`);
  assert.equal(await activeQueries(stack.pg, marker), 0);

  await waitFor(async () => (await stack.metric('rsproxy_sessions_ended_total', { reason: 'max_age' })) === 2);
  assert.equal(await stack.metric('rsproxy_sessions_ended_total', { reason: 'client' }), 0);
  assert.ok(stack.logs.some((l) => l.includes('"session_terminated"') && l.includes('"endReason":"max_age"')));
});
