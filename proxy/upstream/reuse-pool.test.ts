import { test } from 'node:test';
import { socketPair as pair } from '../../testkit/socket-pair.js';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import type * as tls from 'node:tls';
import { silentLogger } from '../../auth/types.js';
import type { UpstreamTarget } from '../../auth/types.js';
import { be } from '../../testkit/query-wire.js';
import type { ReuseDiscardReason } from '../telemetry/reuse-metrics.js';
import { UpstreamReusePool } from './reuse-pool.js';
import type { PooledUpstream } from './reuse-pool.js';
import { UpstreamLoginError, UpstreamLoginErrorCode } from './error.js';

const target: UpstreamTarget = { database: 'dev', host: '127.0.0.1', port: 5439, dbName: 'dev', engine: 'postgres', tlsMode: 'require' };

function makePool(now = { t: 1_000_000 }) {
  const discards: ReuseDiscardReason[] = [];
  const results: string[] = [];
  const pool = new UpstreamReusePool({
    limits: { maxIdlePerKey: 2, maxIdleTotal: 4, idleTimeoutSeconds: 60, maxAgeSeconds: 3600, checkAfterIdleSeconds: 30, resetTimeoutMs: 1000 },
    isEnabledFor: (db) => db === 'dev',
    clock: { nowMs: () => now.t },
    logger: silentLogger,
    observer: { upstreamReuse: (r) => results.push(r), upstreamIdleSessions: () => {}, upstreamDiscard: (r) => discards.push(r), upstreamResetDuration: () => {} },
  });
  return { pool, discards, results, now };
}

function session(socket: net.Socket, key = 'k', generation = 0): PooledUpstream {
  return {
    socket: socket as tls.TLSSocket,
    parameterStatus: [],
    backendKey: { pid: 42, key: Buffer.alloc(4) },
    loginUser: 'alice',
    target,
    info: { key, target: '127.0.0.1:5439', loginAtMs: 1_000_000, hardExpiryMs: Number.POSITIVE_INFINITY, generation },
  };
}

/** Answers the reset like PostgreSQL does, with `user` as session_user and current_user. */
function answerReset(far: net.Socket, user = 'alice', schemas = '{public}'): void {
  far.once('data', () => far.write(Buffer.concat([be.commandComplete('RESET'), be.rowDescription(['session_user', 'current_user', 'current_schemas']), be.dataRow([user, user, schemas]), be.commandComplete('SELECT 1'), be.readyForQuery('I')])));
}

const until = async (pred: () => boolean): Promise<void> => {
  const end = Date.now() + 3000;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
};

test('a reset session is parked and handed out to its key only; a miss and a hit are counted', async () => {
  const { pool, results } = makePool();
  const [near, far] = await pair();
  answerReset(far);
  pool.checkIn(session(near), []);
  await until(() => pool.idleCount === 1);
  assert.equal(await pool.checkOut('other'), undefined);
  const out = await pool.checkOut('k');
  assert.equal(out?.socket, near);
  assert.deepEqual(results, ['miss', 'hit']);
  assert.equal(pool.idleCount, 0);
  pool.close();
  near.destroy();
  far.destroy();
});

test('a reset that shows another user or a temporary schema closes the session with that reason', async () => {
  const { pool, discards } = makePool();
  const [a, aFar] = await pair();
  answerReset(aFar, 'postgres');
  pool.checkIn(session(a), []);
  const [b, bFar] = await pair();
  answerReset(bFar, 'alice', '{pg_temp_3,public}');
  pool.checkIn(session(b), []);
  await until(() => discards.length === 2);
  assert.deepEqual(discards.sort(), ['session_user', 'temp_schema']);
  assert.equal(pool.idleCount, 0);
  pool.close();
});

test('an idle session whose upstream closes is discarded (upstream_closed); reload and close empty the pool', async () => {
  const { pool, discards } = makePool();
  const socks: net.Socket[] = [];
  for (let i = 0; i < 3; i++) {
    const [near, far] = await pair();
    socks.push(far);
    answerReset(far);
    pool.checkIn(session(near, `k${i}`), []);
  }
  await until(() => pool.idleCount === 3);
  socks[0]!.end();
  await until(() => discards.includes('upstream_closed'));
  assert.equal(pool.idleCount, 2);
  pool.reload();
  assert.equal(pool.idleCount, 0);
  assert.deepEqual(discards.filter((r) => r === 'reload').length, 2);
  const [late, lateFar] = await pair();
  answerReset(lateFar);
  pool.checkIn(session(late, 'k9', 0), []);
  await until(() => discards.length === 4);
  assert.equal(discards[3], 'reload', 'a session logged in before the reload is not kept');
  pool.close();
  assert.equal(pool.isEnabledFor('dev'), false, 'nothing is kept after shutdown');
});

test('wrapLogin: a 53300 refusal closes the idle sessions of that endpoint and retries once', async () => {
  const { pool } = makePool();
  const [near, far] = await pair();
  answerReset(far);
  pool.checkIn(session(near), []);
  await until(() => pool.idleCount === 1);
  let calls = 0;
  const tooMany = (): Error => new UpstreamLoginError(UpstreamLoginErrorCode.Auth, 'too many', { upstreamSqlstate: '53300' });
  const login = pool.wrapLogin(async () => {
    calls++;
    if (calls === 1) throw tooMany();
    return 'second' as never;
  });
  assert.equal(await login({ target } as never), 'second');
  assert.equal(calls, 2);
  assert.equal(pool.idleCount, 0);
  const failing = pool.wrapLogin(async () => {
    throw tooMany();
  });
  await assert.rejects(failing({ target } as never), /too many/);
  pool.close();
});
