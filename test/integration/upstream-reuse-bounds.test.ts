/** Upstream session reuse under churn (docs/operations/upstream-reuse.md): isolation between identities, late cancels, and the idle bounds, timeouts, age and reload. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { requirePg } from '../../testkit/pg-cluster.js';
import { proxyKey, sendCancel, settledCount, startReuseStack, waitSettled } from '../../testkit/reuse-stack.js';
import { sleep, waitFor } from '../../testkit/wait.js';

const backendPid = async (c: pg.Client): Promise<number> => ((await c.query('SELECT pg_backend_pid() AS pid')).rows[0] as { pid: number }).pid;

test('isolation: two identities mapped to the same database user churn 1,000 connections each and never share an upstream backend', { timeout: 600_000 }, async (t) => {
  if (!requirePg(t)) return;
  // Reused logins from one address go past the default 100 new connections per second, which would close some at accept.
  await using stack = await startReuseStack({}, 30, { configure: (c) => (c['limits'] = { ...(c['limits'] as object), maxConnectionsPerSourcePerSecond: 100_000 }) });
  // A token may be replayed until it ages out, so a fresh one every 100 logins is enough (and keeps the stack
  // from back-dating distinct tokens past maxTokenAgeSeconds).
  const rounds = 1000;
  const tokensEvery = 100;
  const pids = new Map<string, Set<number>>([
    ['alice', new Set()],
    ['alicetwin', new Set()],
  ]);
  const worker = async (name: string): Promise<void> => {
    let token = '';
    for (let i = 0; i < rounds; i++) {
      if (i % tokensEvery === 0) token = await stack.mint(name);
      const c = await stack.connectUnderLoad(token, 'alice');
      const who = ((await c.query('SELECT pg_backend_pid() AS pid, session_user AS su')).rows[0] as { pid: number; su: string });
      pids.get(name)!.add(who.pid);
      await c.end();
    }
  };
  await Promise.all([worker('alice'), worker('alicetwin')]);
  const a = pids.get('alice')!;
  const b = pids.get('alicetwin')!;
  const shared = [...a].filter((p) => b.has(p));
  assert.deepEqual(shared, [], 'no upstream backend served both identities');
  const hits = await stack.metric('rsproxy_upstream_reuse_total', { result: 'hit' });
  assert.ok(hits > rounds, `most logins were hits (${hits} of ${2 * rounds})`);
});

test('late cancel: a CancelRequest with a departed client\'s key never cancels the query of the client its upstream was handed to (1,000 trials)', { timeout: 900_000 }, async (t) => {
  if (!requirePg(t)) return;
  await using stack = await startReuseStack({});
  const trials = 1000;
  let token = await stack.mint('alice');
  let handedOn = 0;
  let departing = await stack.connect(token, 'alice');
  let departingPid = await backendPid(departing);
  const unknownBefore = await stack.metric('rsproxy_cancel_requests_total', { result: 'unknown_key' });
  const forwardedBefore = await stack.metric('rsproxy_cancel_requests_total', { result: 'forwarded' });
  for (let i = 0; i < trials; i++) {
    const key = proxyKey(departing);
    const before = await settledCount(stack);
    await departing.end();
    await waitSettled(stack, before);
    if (i % 100 === 99) token = await stack.mint('alice');
    const next = await stack.connect(token, 'alice');
    const nextPid = await backendPid(next);
    if (nextPid === departingPid) handedOn++;
    // 0.12 s per trial keeps the cancels under the per-source cancel rate limit (10/s), so each one is judged by its key.
    const running = next.query('SELECT pg_sleep(0.12)');
    await sendCancel(stack.proxyPort, key.pid, key.secretKey);
    await running; // a cancelled query rejects with 57014
    departing = next;
    departingPid = nextPid;
  }
  await departing.end();
  assert.ok(handedOn >= trials * 0.9, `the upstream was handed on in ${handedOn} of ${trials} trials`);
  assert.equal((await stack.metric('rsproxy_cancel_requests_total', { result: 'unknown_key' })) - unknownBefore, trials, 'every late cancel found its key dead');
  assert.equal(await stack.metric('rsproxy_cancel_requests_total', { result: 'forwarded' }), forwardedBefore, 'none was forwarded');
});

test('bounds: per-key and total idle limits, idle timeout, max age, and reload close or refuse what they must', { timeout: 180_000 }, async (t) => {
  if (!requirePg(t)) return;
  await using stack = await startReuseStack({ maxIdlePerKey: 2, maxIdleTotal: 3, idleTimeoutSeconds: 2, maxAgeSeconds: 4 });
  let maxIdleSeen = 0;
  let isSampling = true;
  const sampler = (async () => {
    while (isSampling) {
      maxIdleSeen = Math.max(maxIdleSeen, await stack.metric('rsproxy_upstream_idle_sessions').catch(() => 0));
      await sleep(20);
    }
  })();
  t.after(() => {
    isSampling = false;
  });

  // Four of alice's and three of the twin's at once, then all leave: at most 2 per key, 3 in all.
  const clients = await Promise.all([...Array(4).fill('alice'), ...Array(3).fill('alicetwin')].map(async (name: string) => stack.connect(await stack.mint(name), 'alice')));
  await Promise.all(clients.map((c) => c.end()));
  await waitFor(async () => (await stack.metric('rsproxy_upstream_discards_total', { reason: 'evicted' })) >= 4 || undefined, 10_000);
  assert.equal(await stack.metric('rsproxy_upstream_idle_sessions'), 3);
  const leftAtMs = Date.now();

  // idleTimeoutSeconds + 1 s: all closed.
  await waitFor(async () => (await stack.metric('rsproxy_upstream_idle_sessions')) === 0 || undefined, 3000 + 1000);
  assert.ok(Date.now() - leftAtMs <= 3500, 'closed by idleTimeoutSeconds + 1 s');
  assert.ok((await stack.metric('rsproxy_upstream_discards_total', { reason: 'idle_timeout' })) >= 3);

  // Max age: a session older than maxAgeSeconds at check-in is not kept.
  const old = await stack.connect(await stack.mint('alice'), 'alice');
  const oldPid = await backendPid(old);
  await sleep(4200);
  let before = await settledCount(stack);
  await old.end();
  await waitSettled(stack, before);
  assert.ok((await stack.metric('rsproxy_upstream_discards_total', { reason: 'max_age' })) >= 1);
  const young = await stack.connect(await stack.mint('alice'), 'alice');
  assert.notEqual(await backendPid(young), oldPid, 'none handed out past max age');

  // An idle session whose backend goes away (pg_terminate_backend, an upstream restart) is dropped, never handed out.
  const doomedPid = await backendPid(young);
  before = await settledCount(stack);
  await young.end();
  await waitSettled(stack, before);
  const closedBefore = await stack.metric('rsproxy_upstream_discards_total', { reason: 'upstream_closed' });
  await stack.pg.query('SELECT pg_terminate_backend($1)', [doomedPid]);
  await waitFor(async () => (await stack.metric('rsproxy_upstream_discards_total', { reason: 'upstream_closed' })) > closedBefore || undefined, 5000);
  const survivor = await stack.connect(await stack.mint('alice'), 'alice');
  assert.notEqual(await backendPid(survivor), doomedPid);

  // Reload: nothing idle from before is handed out.
  const youngPid = await backendPid(survivor);
  before = await settledCount(stack);
  await survivor.end();
  await waitSettled(stack, before);
  assert.equal(await stack.metric('rsproxy_upstream_idle_sessions'), 1);
  assert.equal(await stack.proxy.reload(), true);
  assert.equal(await stack.metric('rsproxy_upstream_idle_sessions'), 0);
  assert.ok((await stack.metric('rsproxy_upstream_discards_total', { reason: 'reload' })) >= 1);
  const after = await stack.connect(await stack.mint('alice'), 'alice');
  assert.notEqual(await backendPid(after), youngPid, 'nothing idle from before the reload');
  await after.end();

  isSampling = false;
  await sampler;
  assert.ok(maxIdleSeen <= 3, `idle sessions never above maxIdleTotal (saw ${maxIdleSeen})`);
});

test('shutdown closes idle upstream sessions at the start of the drain, while a live session still drains', { timeout: 120_000 }, async (t) => {
  if (!requirePg(t)) return;
  await using stack = await startReuseStack({});
  const parked = await stack.connect(await stack.mint('alice'), 'alice');
  const parkedPid = await backendPid(parked);
  const before = await settledCount(stack);
  await parked.end();
  await waitSettled(stack, before);
  const live = await stack.connect(await stack.mint('bob'), 'bob');
  const backends = async (pid: number): Promise<number> => ((await stack.pg.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [pid])).rows[0] as { n: number }).n;
  assert.equal(await backends(parkedPid), 1);
  stack.proxy.shutdown('SIGTERM');
  await waitFor(async () => (await backends(parkedPid)) === 0 || undefined, 5000);
  assert.equal((await live.query('SELECT 1 AS n')).rows[0]?.n, 1, 'the live session still drains');
  await live.end();
  assert.equal(await stack.proxy.done, 143);
});
