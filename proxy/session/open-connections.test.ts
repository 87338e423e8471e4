import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OpenConnections } from './open-connections.js';

test('waitIdle resolves at once when none is open, and when the last one is deleted', async () => {
  const open = new OpenConnections<string>();
  await open.waitIdle(60_000);
  open.add('a');
  open.add('b');
  let isIdle = false;
  const idle = open.waitIdle(60_000).then(() => (isIdle = true));
  open.delete('a');
  await new Promise((r) => setImmediate(r));
  assert.equal(isIdle, false, 'one is still open');
  open.delete('b');
  await idle;
  assert.equal(open.size, 0);
});

test('waitIdle gives up after its timeout while connections stay open; its timer does not hold the process', async () => {
  const open = new OpenConnections<number>();
  open.add(1);
  const startedMs = Date.now();
  // The wait's own timer is unref'd: something else must keep this test's event loop alive.
  const keepAlive = setTimeout(() => {}, 5000);
  await open.waitIdle(30);
  clearTimeout(keepAlive);
  assert.ok(Date.now() - startedMs >= 25);
  assert.equal(open.size, 1);
});

test('iterating is a snapshot: deleting during the loop visits every connection once', () => {
  const open = new OpenConnections<number>();
  for (const n of [1, 2, 3]) open.add(n);
  const seen: number[] = [];
  for (const n of open) {
    seen.push(n);
    open.delete(n);
  }
  assert.deepEqual(seen, [1, 2, 3]);
  assert.equal(open.size, 0);
});
