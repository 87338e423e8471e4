/** Upstream session reuse through the real proxy (docs/operations/upstream-reuse.md): hits without AWS calls, keepalive on live sockets, /sessions, and the safety matrix. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { listSessions } from '../../testkit/admin-sessions.js';
import { requirePg } from '../../testkit/pg-cluster.js';
import { rawConnect } from '../../testkit/raw-pg-client.js';
import { fe } from '../../testkit/query-wire.js';
import { proxyKey, sendCancel, sessionState, settledCount, startReuseStack, waitSettled, withoutPid } from '../../testkit/reuse-stack.js';
import type { SessionState } from '../../testkit/reuse-stack.js';
import { readKeepAliveTimer, requireSs } from '../../testkit/socket-keepalive.js';
import { sleep, waitFor } from '../../testkit/wait.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

test('a departed client\'s clean upstream is handed to the next login of the same key: same pid, no credentials call, reused in /sessions and login_ok, keepalive on both live sockets', { timeout: 120_000 }, async (t) => {
  if (!requirePg(t) || !requireSs(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-reuse-'));
  const tokenPath = join(dir, 'admin-token');
  const adminToken = randomBytes(24).toString('base64url');
  writeFileSync(tokenPath, adminToken, { mode: 0o600 });
  await using stack = await startReuseStack({}, 30, { configure: (c) => (c.admin.tokenFile = tokenPath) });

  const first = await stack.connect(await stack.mint('alice'), 'alice');
  const firstState = await sessionState(first);
  // Keepalive on the proxy's side of the client connection (local port = the proxy's) and of the upstream one.
  const upstreamPort = ((await first.query('SELECT client_port FROM pg_stat_activity WHERE pid = pg_backend_pid()')).rows[0] as { client_port: number }).client_port;
  for (const [side, port] of [['client', stack.proxyPort], ['upstream', upstreamPort]] as const) {
    // The kernel shows the keepalive timer only once no other timer (delayed ACK) runs on the socket.
    const timer = await waitFor(() => { const k = readKeepAliveTimer(port); return k.isOn ? k : undefined; }, 3000, 50).catch(() => readKeepAliveTimer(port));
    assert.ok(timer.isOn, `keepalive on the ${side} socket: ${JSON.stringify(timer)}`);
    assert.ok(timer.remainingMs !== undefined && timer.remainingMs <= 30_000, `${side}: ${String(timer.remainingMs)} ms ≤ 30 s`);
  }
  const listed = await listSessions(stack.proxy.adminAddress.port, adminToken);
  assert.equal(listed.length, 1);
  assert.equal(listed[0]?.['upstreamPid'], firstState.pid);
  assert.equal(listed[0]?.['reused'], false);

  const before = await settledCount(stack);
  await first.end();
  await waitSettled(stack, before);
  assert.equal(await stack.metric('rsproxy_upstream_idle_sessions'), 1);

  const credentialCalls = stack.emulator.counters.total('GetClusterCredentials') + stack.emulator.counters.total('DescribeClusters');
  const second = await stack.connect(await stack.mint('alice'), 'alice');
  const secondState = await sessionState(second);
  assert.equal(secondState.pid, firstState.pid, 'the same upstream backend');
  assert.deepEqual(withoutPid(secondState), withoutPid(firstState), 'the state of a fresh login');
  assert.equal(stack.emulator.counters.total('GetClusterCredentials') + stack.emulator.counters.total('DescribeClusters'), credentialCalls, 'a hit makes no credentials call');
  assert.equal(await stack.metric('rsproxy_upstream_reuse_total', { result: 'hit' }), 1);
  const again = await listSessions(stack.proxy.adminAddress.port, adminToken);
  assert.equal(again[0]?.['reused'], true);
  assert.equal(again[0]?.['upstreamPid'], firstState.pid);
  const keys = proxyKey(second);
  assert.notEqual(keys.pid, proxyKey(first).pid, 'a fresh BackendKeyData');
  const loginOk = stack.logs.filter((l) => l.includes('"event":"login_ok"')).map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(loginOk.map((l) => [l['reused'], l['upstreamPid']]), [[false, firstState.pid], [true, firstState.pid]]);
  await second.end();
});

interface MatrixCase {
  name: string;
  /** What the departing client does before it leaves (it leaves with end() unless `leave` does it). */
  act(client: pg.Client, stack: { proxyPort: number }): Promise<void>;
  /** Must the upstream be closed rather than kept? */
  mustDiscard: boolean;
  /** How the client leaves (default end()). */
  leave?: (client: pg.Client) => Promise<void>;
}

const swallow = (p: Promise<unknown>): Promise<void> => p.then(() => {}, () => {});
const destroy = async (client: pg.Client): Promise<void> => {
  (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
  await swallow(client.end());
};

const matrix: MatrixCase[] = [
  { name: 'SET', act: async (c) => void (await c.query("SET work_mem = '7MB'")), mustDiscard: false },
  { name: 'set_config', act: async (c) => void (await c.query("SELECT set_config('statement_timeout', '12345', false)")), mustDiscard: false },
  { name: 'SET search_path', act: async (c) => void (await c.query('SET search_path = pg_catalog')), mustDiscard: false },
  { name: 'SET ROLE', act: async (c) => void (await c.query('SET ROLE reuse_other_role')), mustDiscard: true },
  {
    name: 'SET SESSION AUTHORIZATION (refused to a non-superuser)',
    act: async (c) => {
      await assert.rejects(c.query('SET SESSION AUTHORIZATION postgres'), (err: { code?: string }) => err.code === '42501');
    },
    mustDiscard: false,
  },
  { name: 'CREATE TEMP TABLE', act: async (c) => void (await c.query('CREATE TEMP TABLE reuse_tmp (x int)')), mustDiscard: true },
  { name: 'SELECT … INTO TEMP', act: async (c) => void (await c.query('SELECT 1 AS x INTO TEMP reuse_tmp2')), mustDiscard: true },
  { name: 'SQL PREPARE', act: async (c) => void (await c.query('PREPARE reuse_p AS SELECT 1')), mustDiscard: true },
  { name: 'a named protocol statement', act: async (c) => void (await c.query({ name: 'reuse_named', text: 'SELECT $1::int AS n', values: [1] })), mustDiscard: false },
  { name: 'an open transaction', act: async (c) => void (await c.query('BEGIN')), mustDiscard: true },
  {
    name: 'an aborted transaction',
    act: async (c) => {
      await c.query('BEGIN');
      await swallow(c.query('SELECT 1/0'));
    },
    mustDiscard: true,
  },
  { name: 'an open cursor (WITH HOLD)', act: async (c) => void (await c.query('DECLARE reuse_cur CURSOR WITH HOLD FOR SELECT 1')), mustDiscard: true },
  {
    name: 'a client killed mid-query',
    act: async (c) => {
      void swallow(c.query('SELECT pg_sleep(5)'));
      await sleep(100);
    },
    leave: destroy,
    mustDiscard: true,
  },
  {
    name: 'a CancelRequest just before leaving',
    act: async (c, s) => {
      const { pid, secretKey } = proxyKey(c);
      void sendCancel(s.proxyPort, pid, secretKey);
    },
    mustDiscard: false,
  },
];

test('safety matrix: after each thing a departing client did, the next client of the key sees a fresh login\'s state (or another backend)', { timeout: 300_000 }, async (t) => {
  if (!requirePg(t)) return;
  await using stack = await startReuseStack({});
  const fresh = await stack.connect(await stack.mint('alice'), 'alice');
  const baseline: SessionState = await sessionState(fresh);
  await stack.pg.query('CREATE ROLE reuse_other_role');
  await stack.pg.query(`GRANT reuse_other_role TO "${baseline.sessionUser}"`);
  let before = await settledCount(stack);
  await fresh.end();
  await waitSettled(stack, before);

  for (const c of matrix) {
    await t.test(c.name, async () => {
      const departing = await stack.connect(await stack.mint('alice'), 'alice');
      const departingPid = (await sessionState(departing)).pid;
      await c.act(departing, stack);
      before = await settledCount(stack);
      await (c.leave ?? ((x: pg.Client) => x.end()))(departing);
      await waitSettled(stack, before);
      const next = await stack.connect(await stack.mint('alice'), 'alice');
      const state = await sessionState(next);
      assert.deepEqual(withoutPid(state), withoutPid(baseline), 'the state of a fresh login');
      if (c.mustDiscard) assert.notEqual(state.pid, departingPid, 'the departing client\'s upstream was not kept');
      else if (c.name !== 'a CancelRequest just before leaving') assert.equal(state.pid, departingPid, 'reset and handed on');
      // The next client's own query is never cancelled by anything the departed one did.
      await next.query('SELECT pg_sleep(0.2)');
      before = await settledCount(stack);
      await next.end();
      await waitSettled(stack, before);
    });
  }

  await t.test('COPY in progress', async () => {
    const departing = await rawConnect({ port: stack.proxyPort, caPem: stack.caPem, user: 'alice', database: 'dev', password: await stack.mint('alice') });
    departing.sendQuery('SELECT pg_backend_pid()');
    let departingPid = 0;
    for (;;) {
      const m = await departing.next();
      if (m.name === 'dataRow') departingPid = Number((m as unknown as { fields: string[] }).fields[0]);
      if (m.name === 'readyForQuery') break;
    }
    departing.sendQuery('COPY (SELECT 1) TO STDOUT');
    departing.socket.write(fe.query('CREATE TEMP TABLE reuse_copy (x int)'));
    departing.socket.write(fe.query('COPY reuse_copy FROM STDIN'));
    for (;;) if ((await departing.next()).name === 'copyInResponse') break;
    before = await settledCount(stack);
    departing.socket.end(fe.terminate());
    await waitSettled(stack, before);
    assert.ok((await stack.metric('rsproxy_upstream_discards_total', { reason: 'copy' })) >= 1);
    const next = await stack.connect(await stack.mint('alice'), 'alice');
    const state = await sessionState(next);
    assert.notEqual(state.pid, departingPid);
    assert.deepEqual(withoutPid(state), withoutPid(baseline));
    await next.end();
  });
  assert.ok((await stack.metric('rsproxy_upstream_reuse_total', { result: 'hit' })) >= 5, 'clean sessions were reused');
});
