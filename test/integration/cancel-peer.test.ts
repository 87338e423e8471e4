/**
 * Cancel forwarding across a fleet (docs/design/surface.md §9): three `rsproxy serve` replicas on 127.0.0.2–4,
 * one PostgreSQL, the emulator. A cancel sent to the wrong replica reaches the session's owner.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { encodeReplicaPid, replicaTag } from '../../proxy/fleet/replica-pid.js';
import { sendCancel, sleepingSession, startFleet, startSleep } from '../../testkit/fleet.js';
import type { Fleet, Replica } from '../../testkit/fleet.js';
import { startIamStack } from '../../testkit/iam-stack.js';
import type { IamStack } from '../../testkit/iam-stack.js';
import { pgAvailable, requirePg } from '../../testkit/pg-cluster.js';
import { assertLogsHoldNoSecrets } from '../../testkit/log-hygiene.js';
import { i32 } from '../../testkit/raw-wire.js';
import { sleep, waitFor } from '../../testkit/wait.js';

const cancels = 'rsproxy_cancel_requests_total';
const results = ['forwarded', 'unknown_key', 'rate_limited', 'error', 'peer_forwarded', 'peer_forward_failed'] as const;

/** Every cancel result counter of a replica. */
async function cancelCounts(r: Replica): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const result of results) out[result] = await r.metric(cancels, { result });
  return out;
}

const zero = Object.fromEntries(results.map((r) => [r, 0]));
const counts = (over: Partial<Record<(typeof results)[number], number>>): Record<string, number> => ({ ...zero, ...over });

/** Sends the cancel to `via` and expects the running query to fail with 57014 within 2 s of sending. */
async function cancelsWithin2s(stack: IamStack, via: Replica, s: { pid: number; secret: number }, running: Promise<unknown>, overTls = false): Promise<void> {
  const startedMs = Date.now();
  await sendCancel(stack, via, s.pid, s.secret, overTls);
  await assert.rejects(running, (e: pg.DatabaseError) => e.code === '57014');
  const tookMs = Date.now() - startedMs;
  assert.ok(tookMs < 2000, `cancelled after ${tookMs} ms`);
}

describe('cancel forwarding between three replicas (static peers)', () => {
  let stack: IamStack;
  let fleet: Fleet;
  let a: Replica;
  let b: Replica;
  let c: Replica;

  before(async () => {
    if (!pgAvailable()) return;
    stack = await startIamStack({ logLevel: 'info' });
    fleet = await startFleet({ stack, hosts: ['127.0.0.2', '127.0.0.3', '127.0.0.4'], cluster: (self, all) => ({ self, peers: [...all] }) });
    [a, b, c] = fleet.replicas as [Replica, Replica, Replica];
  });
  after(async () => {
    // Tokens, DB passwords and key material never reach any replica's log.
    for (const r of fleet?.replicas ?? []) assertLogsHoldNoSecrets(r.logs, stack.secrets);
    await fleet?.close();
    await stack?.close();
  });

  test('a session on A is cancelled by a CancelRequest sent to B, plaintext and over TLS (57014 within 2 s); A, B, C count it right', async (t) => {
    if (!requirePg(t)) return;
    const s = await sleepingSession(stack, a);
    try {
      assert.equal(Math.floor(s.pid / 2 ** 16) & 0x3fff, replicaTag(a.endpoint), 'the key names A');
      await cancelsWithin2s(stack, b, s, s.running);
      assert.equal((await s.client.query('SELECT 1 AS v')).rows[0].v, 1, 'the session survives');

      await startSleep(stack, s);
      await cancelsWithin2s(stack, b, s, s.running, true);
    } finally {
      await s.close();
    }
    assert.deepEqual(await cancelCounts(b), counts({ peer_forwarded: 2 }));
    assert.deepEqual(await cancelCounts(a), counts({ forwarded: 2 }));
    assert.deepEqual(await cancelCounts(c), counts({}));
    // A accepted them from B's own address (the forwarded connection leaves from B's listen IP).
    assert.deepEqual(a.events('cancel_forwarded').map((e) => e['source']), ['127.0.0.3', '127.0.0.3']);
    assert.deepEqual(b.events('cancel_peer_forwarded').map((e) => e['peer']), [a.endpoint, a.endpoint]);
    const secretHex = i32(s.secret).toString('hex');
    for (const r of [a, b, c]) assert.ok(!r.logs.some((l) => l.includes(secretHex) || l.includes(String(s.pid))), 'no key bytes in logs');
  });

  test('a key naming an address outside the peer set, and a forged key, forward nothing upstream; no crash', async (t) => {
    if (!requirePg(t)) return;
    const before = { a: await cancelCounts(a), b: await cancelCounts(b), c: await cancelCounts(c) };
    await sendCancel(stack, b, encodeReplicaPid(replicaTag(`127.0.0.9:${b.port}`), 123), 0x01020304);
    assert.equal(await b.metric(cancels, { result: 'unknown_key' }), before.b['unknown_key']! + 1);
    assert.deepEqual(b.events('cancel_not_forwarded').map((e) => e['reason']), ['not_in_peer_set']);

    const s = await sleepingSession(stack, a);
    try {
      // Right replica id, wrong secret: B cannot tell, forwards it once; A refuses it and the query keeps running.
      await sendCancel(stack, b, s.pid, (s.secret ^ 0x5a5a5a5a) | 0);
      await waitFor(async () => (await a.metric(cancels, { result: 'unknown_key' })) === before.a['unknown_key']! + 1, 5000);
      await sleep(300);
      const rows = await stack.pg.query("SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT pg_sleep(30)%'");
      assert.equal(rows.rowCount, 1, 'the forged key cancelled nothing');
      assert.equal(await a.metric(cancels, { result: 'forwarded' }), before.a['forwarded']!);
      assert.equal(await b.metric(cancels, { result: 'peer_forwarded' }), before.b['peer_forwarded']! + 1);
      await cancelsWithin2s(stack, a, s, s.running);
    } finally {
      await s.close();
    }
    assert.deepEqual(await cancelCounts(c), before.c, 'C saw nothing');
  });

  test('a key whose owner is down: peer_forward_failed on B, B keeps serving', async (t) => {
    if (!requirePg(t)) return;
    await c.stop();
    const failedBefore = await b.metric(cancels, { result: 'peer_forward_failed' });
    await sendCancel(stack, b, encodeReplicaPid(replicaTag(c.endpoint), 4321), 0x0a0b0c0d);
    assert.equal(await b.metric(cancels, { result: 'peer_forward_failed' }), failedBefore + 1);
    const failed = b.events('cancel_peer_forward_failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0]?.['peer'], c.endpoint);
    assert.ok(!b.logs.some((l) => l.includes('0a0b0c0d')));
    // B still works: a session through it and a cancel to A for it.
    const s = await sleepingSession(stack, b);
    try {
      await cancelsWithin2s(stack, a, s, s.running);
    } finally {
      await s.close();
    }
    assert.equal(await a.metric(cancels, { result: 'peer_forwarded' }), 1);
  });
});

describe('cancel forwarding with peers from DNS (cluster.peerDns, re-resolved)', () => {
  let stack: IamStack;
  let fleet: Fleet;
  const answers = new Map<string, string[]>([['fleet.test', ['127.0.0.3']]]);
  let lookups = 0;
  const refreshIntervalMs = 300;

  before(async () => {
    if (!pgAvailable()) return;
    stack = await startIamStack({ logLevel: 'info' });
    fleet = await startFleet({
      stack,
      hosts: ['127.0.0.2', '127.0.0.3'],
      cluster: (self, all) => ({ self, peerDns: `fleet.test:${all[0]?.split(':')[1]}` }),
      serve: {
        refreshIntervalMs,
        resolveHost: async (host) => {
          lookups += 1;
          const a = answers.get(host);
          if (a === undefined) throw new Error(`ENOTFOUND ${host}`);
          return a;
        },
      },
    });
  });
  after(async () => {
    await fleet?.close();
    await stack?.close();
  });

  test('a replica added to the name while running becomes a peer at the next re-resolve, and its sessions can be cancelled via the other', async (t) => {
    if (!requirePg(t)) return;
    const [a, b] = fleet.replicas as [Replica, Replica];
    const s1 = await sleepingSession(stack, a);
    try {
      await sendCancel(stack, b, s1.pid, s1.secret);
      assert.equal(await b.metric(cancels, { result: 'unknown_key' }), 1, 'A is not in the DNS answer yet');
      assert.deepEqual(b.events('cancel_not_forwarded').map((e) => e['reason']), ['not_in_peer_set']);

      const lookupsBefore = lookups;
      answers.set('fleet.test', ['127.0.0.3', '127.0.0.2']);
      const replicas = [a.endpoint, b.endpoint].sort();
      const changedAtMs = Date.now();
      const seen = (r: Replica) => r.events('peer_set_changed').find((e) => JSON.stringify(e['replicas']) === JSON.stringify(replicas));
      const seenByB = await waitFor(() => seen(b), 20 * refreshIntervalMs);
      await waitFor(() => seen(a), 20 * refreshIntervalMs);
      assert.ok(lookups > lookupsBefore, 're-resolved');
      // Picked up by the next periodic re-resolve: within one interval (plus scheduling slack on a busy machine).
      assert.ok(Date.parse(String(seenByB['time'])) - changedAtMs < refreshIntervalMs + 1500, `seen after ${Date.parse(String(seenByB['time'])) - changedAtMs} ms`);
      await cancelsWithin2s(stack, b, s1, s1.running);
    } finally {
      await s1.close();
    }
    assert.equal(await b.metric(cancels, { result: 'peer_forwarded' }), 1);
    assert.equal(await a.metric(cancels, { result: 'forwarded' }), 1);
  });
});
