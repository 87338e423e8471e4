/** SIGTERM drain with a real session: an open transaction completes, new clients are refused, then exit 143. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import pg from 'pg';
import { requirePg } from '../../testkit/pg-cluster.js';
import { startStack } from '../../testkit/stack.js';
import type { StackHandle } from '../../testkit/stack.js';
import { httpGet } from '../../testkit/http-get.js';

async function httpStatus(port: number, path: string): Promise<number> {
  return (await httpGet(`http://127.0.0.1:${port}${path}`)).status;
}

/** A node-postgres client for the stack's proxy with a fresh token (not yet connected). */
async function clientOf(stack: StackHandle): Promise<pg.Client> {
  return new pg.Client({
    host: 'localhost',
    port: stack.proxyPort,
    user: stack.dbUser,
    database: stack.database,
    password: await stack.mintToken(),
    ssl: { ca: stack.caPem },
  });
}

/** A stack whose proxy drains for `drainSeconds`, logging at info (the session_terminated lines). */
function stackDrainingFor(drainSeconds: number): Promise<StackHandle> {
  return startStack({
    logLevel: 'info',
    configure: (config) => {
      config['shutdown'] = { drainSeconds };
    },
  });
}

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

test('SIGTERM: an open transaction commits during the drain, new connections are refused, exit 143 before drainSeconds', { timeout: 90_000 }, async (t) => {
  if (!requirePg(t)) return;
  const drainSeconds = 30;
  await using stack = await stackDrainingFor(drainSeconds);
  const client = await clientOf(stack);
  await client.connect();
  let isClientOpen = true;
  try {
    await client.query('BEGIN');
    await client.query('CREATE TEMP TABLE drained (n int) ON COMMIT PRESERVE ROWS');
    await client.query('INSERT INTO drained VALUES (1)');
    assert.equal(await httpStatus(stack.adminPort, '/readyz'), 200);

    const startedMs = Date.now();
    stack.proxy.shutdown('SIGTERM');
    assert.equal(await httpStatus(stack.adminPort, '/readyz'), 503, 'not ready while draining');
    assert.equal(await httpStatus(stack.adminPort, '/livez'), 200, 'still alive while draining');
    assert.equal(await refusesConnections(stack.proxyPort), true, 'the listener is closed');

    // The established session keeps working until the client is done.
    await client.query('INSERT INTO drained VALUES (2)');
    await client.query('COMMIT');
    const { rows } = await client.query<{ total: number }>('SELECT sum(n)::int AS total FROM drained');
    assert.equal(rows[0]?.total, 3);
    await client.end();
    isClientOpen = false;

    const code = await stack.proxy.done;
    assert.equal(code, 143);
    assert.ok(Date.now() - startedMs < (drainSeconds * 1000) / 2, 'the drain ends when the last session does, not at the deadline');
  } finally {
    if (isClientOpen) await client.end().catch(() => {});
  }
});

test('SIGTERM: an idle session still open at the end of drainSeconds gets FATAL 57P01, then exit 143', { timeout: 90_000 }, async (t) => {
  if (!requirePg(t)) return;
  await using stack = await stackDrainingFor(1);
  const client = await clientOf(stack);
  await client.connect();
  // node-postgres reports the FATAL, then the close that follows it.
  const errors: Array<Error & { code?: string }> = [];
  client.on('error', (err: Error & { code?: string }) => errors.push(err));
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
  try {
    assert.equal((await client.query('SELECT 1 AS one')).rows[0]?.one, 1);
    stack.proxy.shutdown('SIGTERM');
    assert.equal(await stack.proxy.done, 143);
    await ended;
    const fatal = errors.find((e) => e.code === '57P01');
    assert.ok(fatal, `a 57P01 ErrorResponse reached the client (got: ${errors.map((e) => e.message).join('; ')})`);
    assert.match(fatal.message, /terminating connection due to administrator command/);
    assert.ok(stack.logs.some((l) => l.includes('"session_terminated"') && l.includes('"isFarewellSent":true')));
  } finally {
    await client.end().catch(() => {});
  }
});

test('SIGTERM: a query still running at the end of drainSeconds is cancelled upstream, not left running on the database', { timeout: 90_000 }, async (t) => {
  if (!requirePg(t)) return;
  await using stack = await stackDrainingFor(1);
  const client = await clientOf(stack);
  await client.connect();
  client.on('error', () => {});
  const marker = `drain_cancel_${process.pid}_${Date.now()}`;
  try {
    const running = client.query(`SELECT pg_sleep(60) AS ${marker}`).catch((err: unknown) => err);
    const isRunning = async (): Promise<boolean> => {
      const { rows } = await stack.pg.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%${marker}%' AND pid <> pg_backend_pid()`);
      return (rows[0] as { n: number }).n > 0;
    };
    const seenUntil = Date.now() + 10_000;
    while (!(await isRunning())) {
      assert.ok(Date.now() < seenUntil, 'the query never started upstream');
      await new Promise((r) => setTimeout(r, 50));
    }
    stack.proxy.shutdown('SIGTERM');
    assert.equal(await stack.proxy.done, 143);
    await running;
    // PostgreSQL runs a query to its end after its client socket closes; only the CancelRequest stops it.
    const goneUntil = Date.now() + 10_000;
    while (await isRunning()) {
      assert.ok(Date.now() < goneUntil, 'pg_sleep(60) still runs upstream 10 s after the proxy exited');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(stack.logs.some((l) => l.includes('"session_terminated"') && l.includes('"isUpstreamCancelled":true')));
  } finally {
    await client.end().catch(() => {});
  }
});
