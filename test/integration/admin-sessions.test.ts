/** Admin `/sessions` on the real stack (docs/design/surface.md §6, issue 14): bearer token, listing, DELETE ending a psql session and its query upstream, token re-read on reload. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listSessions, sessionsRequest } from '../../testkit/admin-sessions.js';
import { iamAccountId, startIamStack } from '../../testkit/iam-stack.js';
import { waitForGone, waitForRunning } from '../../testkit/pg-activity.js';
import { requirePg } from '../../testkit/pg-cluster.js';
import { hasPsql, runPsql, startPsql } from '../../testkit/psql.js';
import { requireTool } from '../../testkit/tools.js';
import { waitFor } from '../../testkit/wait.js';

const aliceArn = `arn:aws:iam::${iamAccountId}:role/Analyst`;
const bobArn = `arn:aws:iam::${iamAccountId}:user/bob`;

test('/sessions: 401 without the token, the live sessions with it, DELETE ends a psql session and cancels its pg_sleep, reload re-reads the token', { timeout: 120_000 }, async (t) => {
  if (!requirePg(t) || !requireTool(t, 'psql', hasPsql)) return;
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-admin-token-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const tokenPath = join(dir, 'admin-token');
  const firstToken = randomBytes(24).toString('base64url');
  writeFileSync(tokenPath, `  ${firstToken}\n`, { mode: 0o600 });
  await using stack = await startIamStack({ logLevel: 'info', configure: (c) => (c.admin.tokenFile = tokenPath) });
  const port = stack.proxy.adminAddress.port;

  for (const token of [undefined, 'wrong', `${firstToken}x`]) {
    const r = await sessionsRequest(port, 'GET', '/sessions', token);
    assert.equal(r.status, 401, `token ${String(token)}`);
    assert.equal(r.headers['www-authenticate'], 'Bearer realm="rsproxy"');
  }
  assert.deepEqual(await listSessions(port, firstToken), []);

  const alice = await stack.connect(await stack.mint('alice'), 'alice');
  t.after(() => alice.end().catch(() => {}));
  assert.equal((await alice.query('SELECT 41 + 1 AS n')).rows[0]?.n, 42);
  const marker = `admin_delete_${process.pid}_${Date.now()}`;
  const bobPsql = startPsql(
    { port: stack.proxyPort, user: 'bob', database: 'dev', password: await stack.mint('bob'), caFile: stack.caFile },
    ['-v', 'VERBOSITY=verbose', '-c', `SELECT pg_sleep(30) AS ${marker}`],
  );
  t.after(() => bobPsql.child.kill('SIGKILL'));
  await waitForRunning(stack.pg, marker);

  const listing = await sessionsRequest(port, 'GET', '/sessions', firstToken);
  assert.equal(listing.status, 200);
  assert.match(String(listing.headers['content-type']), /^application\/json/);
  const sessions = JSON.parse(listing.body) as Array<Record<string, unknown>>;
  assert.equal(sessions.length, 2);
  for (const s of sessions) {
    assert.deepEqual(Object.keys(s).sort(), ['clientAddress', 'clientToUpstreamBytes', 'connectionId', 'database', 'dbUser', 'identity', 'reused', 'startedAt', 'upstreamPid', 'upstreamToClientBytes']);
    assert.equal(s['reused'], false);
    assert.ok(Number.isInteger(s['upstreamPid']) && (s['upstreamPid'] as number) > 0, 'the upstream backend pid');
    assert.match(String(s['connectionId']), /^[0-9a-f]{12}$/);
    assert.equal(s['clientAddress'], '127.0.0.1');
    assert.equal(s['database'], 'dev');
    assert.equal(typeof s['startedAt'], 'string');
    assert.equal(new Date(String(s['startedAt'])).toISOString(), s['startedAt'], 'ISO 8601');
    assert.ok(Number.isInteger(s['clientToUpstreamBytes']) && (s['clientToUpstreamBytes'] as number) > 0, 'each sent a query');
    assert.ok(Number.isInteger(s['upstreamToClientBytes']));
  }
  const byIdentity = new Map(sessions.map((s) => [s['identity'], s]));
  assert.equal(byIdentity.get(aliceArn)?.['dbUser'], 'IAMA:alice');
  assert.equal(byIdentity.get(bobArn)?.['dbUser'], 'IAMA:bob');
  assert.ok((byIdentity.get(aliceArn)?.['upstreamToClientBytes'] as number) > 0, "alice's answer was relayed");
  for (const secret of [firstToken, ...stack.secrets]) assert.ok(!listing.body.includes(secret), 'no token, signature or password in /sessions');

  const bobId = String(byIdentity.get(bobArn)?.['connectionId']);
  const deletedMs = Date.now();
  assert.equal((await sessionsRequest(port, 'DELETE', `/sessions/${bobId}`, 'wrong')).status, 401);
  assert.equal((await sessionsRequest(port, 'DELETE', `/sessions/${bobId}`, firstToken)).status, 204);
  const bobResult = await bobPsql.done;
  assert.notEqual(bobResult.code, 0);
  assert.match(bobResult.stderr, /FATAL:\s+57P01: terminated by administrator/, bobResult.stderr);
  const goneMs = await waitForGone(stack.pg, marker);
  assert.ok(Date.now() - deletedMs < 5000, `pg_sleep gone ${goneMs} ms after the check started`);
  assert.equal((await sessionsRequest(port, 'DELETE', `/sessions/${bobId}`, firstToken)).status, 404, 'already gone');
  assert.equal((await sessionsRequest(port, 'DELETE', '/sessions/000000000000', firstToken)).status, 404, 'no such session');
  await waitFor(async () => (await listSessions(port, firstToken)).length === 1);
  assert.equal((await listSessions(port, firstToken))[0]?.['identity'], aliceArn);
  assert.equal((await alice.query('SELECT 1 AS one')).rows[0]?.one, 1, 'the other session is untouched');

  // The token file is re-read on reload: the old token stops working at once.
  const secondToken = randomBytes(24).toString('base64url');
  writeFileSync(tokenPath, `${secondToken}\n`);
  assert.equal(await stack.proxy.reload(), true);
  assert.equal((await sessionsRequest(port, 'GET', '/sessions', firstToken)).status, 401);
  assert.equal((await sessionsRequest(port, 'GET', '/sessions', secondToken)).status, 200);
  // An unreadable file at reload keeps the last good token.
  rmSync(tokenPath);
  await stack.proxy.reload();
  assert.equal((await sessionsRequest(port, 'GET', '/sessions', secondToken)).status, 200);
  assert.ok(stack.logs.some((l) => l.includes('"admin_token_reload_failed"')));

  // A psql that finishes by itself is a client end.
  const plain = await runPsql({ port: stack.proxyPort, user: 'bob', database: 'dev', password: await stack.mint('bob'), caFile: stack.caFile }, ['-At', '-c', 'SELECT 7']);
  assert.equal(plain.code, 0, plain.stderr);
  await waitFor(async () => (await stack.metric('rsproxy_sessions_ended_total', { reason: 'client' })) >= 1);
  assert.equal(await stack.metric('rsproxy_sessions_ended_total', { reason: 'admin' }), 1);
  assert.equal(await stack.metric('rsproxy_sessions_ended_total', { reason: 'revoked' }), 0);

  const logText = stack.logs.join('\n');
  for (const secret of [firstToken, secondToken, ...stack.secrets]) assert.ok(!logText.includes(secret), 'no admin token or other secret in the logs');
  assert.ok(stack.logs.some((l) => l.includes('"session_delete"') && l.includes(bobId)));
});
