/** Cancel, client loss and upstream loss through the proxy, against real PostgreSQL. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { getTestPki } from '../../testkit/certs.js';
import { pgAvailable, requirePg, startPgCluster } from '../../testkit/pg-cluster.js';
import type { PgCluster } from '../../testkit/pg-cluster.js';
import { startProxyFixture } from '../../testkit/proxy-fixture.js';
import type { ProxyFixture } from '../../testkit/proxy-fixture.js';
import { plainSocket, rawConnect, untilClosed, upgradeToTls } from '../../testkit/raw-pg-client.js';
import { cancelPacket, i32 } from '../../testkit/raw-wire.js';
import { sleep, waitFor } from '../../testkit/wait.js';

interface Keyed {
  processID: number;
  secretKey: number;
}

/** A connected node-postgres client through the proxy, with its upstream backend pid. */
async function connectClient(fx: ProxyFixture): Promise<{ client: pg.Client; backendPid: number; key: Keyed; [Symbol.asyncDispose](): Promise<void> }> {
  const client = new pg.Client(fx.connect());
  client.on('error', () => {});
  await client.connect();
  const backendPid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
  const { processID, secretKey } = client as unknown as Keyed;
  return { client, backendPid, key: { processID, secretKey }, [Symbol.asyncDispose]: () => client.end().catch(() => {}) };
}

/** Waits until `pid` runs pg_sleep upstream (seen by the superuser directly). */
async function waitSleeping(cluster: PgCluster, pid: number): Promise<void> {
  await waitFor(async () => {
    const r = await cluster.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND query LIKE '%pg_sleep%'", [pid]);
    return r.rowCount === 1;
  }, 5000);
}

async function isActive(cluster: PgCluster, pid: number): Promise<boolean> {
  const r = await cluster.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", [pid]);
  return r.rowCount === 1;
}

/** Sends a 16-byte CancelRequest on a new plaintext socket to the proxy and waits for it to close the socket. */
async function sendPlainCancel(port: number, pid: number, key: number): Promise<void> {
  const s = await plainSocket(port);
  s.write(cancelPacket(pid, i32(key)));
  await untilClosed(s);
}

describe('cancel and connection loss through the proxy', () => {
  let cluster: PgCluster;
  let fx: ProxyFixture;
  let caPem: string;

  before(async () => {
    // Each test gates itself with requirePg (skip locally, fail under CI=true).
    if (!pgAvailable()) return;
    ({ caPem } = await getTestPki());
    cluster = await startPgCluster();
    fx = await startProxyFixture({ pg: cluster });
  });
  after(async () => {
    await fx?.close();
    await cluster?.stop();
  });

  test('plaintext CancelRequest with the proxy key cancels (57014); wrong key or pid does nothing', async (t) => {
    if (!requirePg(t)) return;
    await using s = await connectClient(fx);
    const running = s.client.query('SELECT pg_sleep(30)');
    running.catch(() => {});
    await waitSleeping(cluster, s.backendPid);

    await sendPlainCancel(fx.port, s.key.processID, s.key.secretKey ^ 1);
    await sendPlainCancel(fx.port, s.key.processID ^ 1, s.key.secretKey);
    // The upstream pid with the upstream key is not known to the proxy either; we only have the proxy's key.
    await sendPlainCancel(fx.port, s.backendPid, s.key.secretKey);
    await sleep(500);
    assert.equal(await isActive(cluster, s.backendPid), true, 'wrong keys must not cancel');

    const startedMs = Date.now();
    await sendPlainCancel(fx.port, s.key.processID, s.key.secretKey);
    await assert.rejects(running, (e: pg.DatabaseError) => e.code === '57014' && /cancel/i.test(e.message));
    assert.ok(Date.now() - startedMs < 5000);
    assert.equal((await s.client.query('SELECT 3 AS v')).rows[0].v, 3, 'the session survives the cancel');
    const results = fx.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r['event'] === 'cancel_request').map((r) => r['result']);
    assert.deepEqual(results, ['unknown_key', 'unknown_key', 'unknown_key', 'forwarded']);
  });

  test('CancelRequest after SSLRequest + TLS cancels the query', async (t) => {
    if (!requirePg(t)) return;
    await using s = await connectClient(fx);
    const running = s.client.query('SELECT pg_sleep(30)');
    running.catch(() => {});
    await waitSleeping(cluster, s.backendPid);
    const secure = await upgradeToTls(await plainSocket(fx.port), caPem);
    secure.write(cancelPacket(s.key.processID, i32(s.key.secretKey)));
    await untilClosed(secure);
    await assert.rejects(running, (e: pg.DatabaseError) => e.code === '57014');
    assert.equal((await s.client.query('SELECT 4 AS v')).rows[0].v, 4);
  });

  test('client killed mid-query: the proxy closes the upstream session and drops the cancel key', async (t) => {
    if (!requirePg(t)) return;
    // PostgreSQL does not read its socket during pg_sleep, so closing the upstream alone would leave the
    // backend running for 30 s: the proxy must send a CancelRequest upstream after a short grace period.
    const setting = await cluster.query("SELECT setting FROM pg_settings WHERE name = 'client_connection_check_interval'");
    assert.equal(setting.rows[0]?.setting ?? '0', '0', 'the cluster must not detect the closed socket by itself');
    const roleSettings = await cluster.query('SELECT 1 FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = $1', [fx.pgUser]);
    assert.equal(roleSettings.rowCount, 0, 'nor may the role');
    const s = await connectClient(fx);
    const running = s.client.query('SELECT pg_sleep(30)');
    running.catch(() => {});
    await waitSleeping(cluster, s.backendPid);
    const registered = fx.proxy.cancelRegistry.size;
    assert.ok(registered >= 1);
    const logsBefore = fx.logs.length;
    const startedMs = Date.now();
    s.client.connection.stream.destroy();
    await waitFor(async () => (await cluster.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [s.backendPid])).rowCount === 0, 5000);
    assert.ok(Date.now() - startedMs < 5000);
    await waitFor(() => fx.proxy.connectionCount === 0, 5000);
    assert.equal(fx.proxy.cancelRegistry.size, 0);
    const events = fx.logs.slice(logsBefore).map((l) => JSON.parse(l) as Record<string, unknown>);
    const cancelLog = events.find((r) => r['event'] === 'upstream_cancel_on_client_loss');
    assert.equal(cancelLog?.['level'], 'info', 'the proxy cancelled the upstream query itself');
    const end = events.find((r) => r['event'] === 'session_end');
    assert.equal(end?.['endedBy'], 'client');
    await s[Symbol.asyncDispose]();
  });

  test('clean Terminate while idle: the upstream closes by itself, no upstream cancel is sent', async (t) => {
    if (!requirePg(t)) return;
    const s = await connectClient(fx);
    const logsBefore = fx.logs.length;
    await s.client.end();
    await waitFor(async () => (await cluster.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [s.backendPid])).rowCount === 0, 5000);
    await waitFor(() => fx.proxy.connectionCount === 0, 5000);
    // The connection counts as closed only once the upstream socket is gone too (session_end comes first).
    assert.ok(fx.logs.slice(logsBefore).some((l) => (JSON.parse(l) as Record<string, unknown>)['event'] === 'session_end'));
    await sleep(300);
    const events = fx.logs.slice(logsBefore).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(events.some((r) => r['event'] === 'upstream_cancel_on_client_loss'), false);
  });

  test('upstream backend terminated: 57P01 relayed, client closed, proxy keeps serving', async (t) => {
    if (!requirePg(t)) return;
    await using raw = await rawConnect({ port: fx.port, caPem, user: fx.clientUser, database: fx.clientDatabase, password: fx.clientPassword });
    raw.sendQuery('SELECT pg_backend_pid()');
    let backendPid = 0;
    for (let m = await raw.next(); m.name !== 'readyForQuery'; m = await raw.next()) {
      if (m.name === 'dataRow') backendPid = Number((m as unknown as { fields: string[] }).fields[0]);
    }
    assert.ok(backendPid > 0);
    raw.sendQuery('SELECT pg_sleep(30)');
    await waitSleeping(cluster, backendPid);
    const closed = untilClosed(raw.socket, 5000);
    const terminated = await cluster.query('SELECT pg_terminate_backend($1) AS ok', [backendPid]);
    assert.equal(terminated.rows[0].ok, true);
    let fatal: { severity?: string; code?: string; message?: string } | undefined;
    for (;;) {
      const m = await raw.next();
      if (m.name === 'error') {
        fatal = m as unknown as { severity: string; code: string; message: string };
        break;
      }
    }
    assert.equal(fatal.code, '57P01');
    assert.equal(fatal.severity, 'FATAL');
    assert.match(fatal.message ?? '', /terminating connection due to administrator command/);
    await closed;
    await waitFor(() => fx.proxy.connectionCount === 0, 5000);
    const records = fx.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(records.some((r) => r['event'] === 'session_end' && r['endedBy'] === 'upstream'));
    assert.equal(records.some((r) => r['level'] === 'error'), false, 'an upstream close is not a proxy fault');

    await using next = await connectClient(fx);
    assert.equal((await next.client.query('SELECT 5 AS v')).rows[0].v, 5);
    assert.equal(fx.proxy.isListening, true);
  });
});
