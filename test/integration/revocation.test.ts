/** Revocation on reload (docs/design/surface.md §10, issue 14): a rule removed and reloaded ends only the sessions it admitted, within 5 s, and cancels their queries upstream. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { sessionsRequest } from '../../testkit/admin-sessions.js';
import { iamAccountId, startIamStack } from '../../testkit/iam-stack.js';
import { waitForGone, waitForRunning } from '../../testkit/pg-activity.js';
import { requirePg } from '../../testkit/pg-cluster.js';
import { hasPsql, startPsql } from '../../testkit/psql.js';
import { requireTool } from '../../testkit/tools.js';
import { waitFor } from '../../testkit/wait.js';

const aliceArn = `arn:aws:iam::${iamAccountId}:role/Analyst`;

test('reload without alice’s rule: her psql session ends with 57P01 within 5 s and its pg_sleep is cancelled; bob’s session keeps working', { timeout: 120_000 }, async (t) => {
  if (!requirePg(t) || !requireTool(t, 'psql', hasPsql)) return;
  await using stack = await startIamStack({ logLevel: 'info' });
  const port = stack.proxy.adminAddress.port;
  assert.equal((await sessionsRequest(port, 'GET', '/sessions')).status, 404, 'no admin.tokenFile: /sessions does not exist');
  assert.equal((await sessionsRequest(port, 'GET', '/sessions', 'anything')).status, 404);

  const bob = await stack.connect(await stack.mint('bob'), 'bob');
  t.after(() => bob.end().catch(() => {}));
  assert.equal((await bob.query('SELECT 1 AS one')).rows[0]?.one, 1);
  const marker = `revoked_${process.pid}_${Date.now()}`;
  const alicePsql = startPsql(
    { port: stack.proxyPort, user: 'alice', database: 'dev', password: await stack.mint('alice'), caFile: stack.caFile },
    ['-v', 'VERBOSITY=verbose', '-c', `SELECT pg_sleep(30) AS ${marker}`],
  );
  t.after(() => alicePsql.child.kill('SIGKILL'));
  await waitForRunning(stack.pg, marker);

  // An unrelated reload (same rules) ends nothing.
  assert.equal(await stack.proxy.reload(), true);
  assert.ok(!stack.logs.some((l) => l.includes('"session_revoked"')));

  stack.config.rules = stack.config.rules.filter((r) => r['principal'] !== aliceArn);
  writeFileSync(stack.configPath, stringify(stack.config));
  const reloadedMs = Date.now();
  assert.equal(await stack.proxy.reload(), true);
  const alice = await alicePsql.done;
  const endedMs = Date.now() - reloadedMs;
  assert.ok(endedMs < 5000, `psql ended ${endedMs} ms after the reload`);
  assert.notEqual(alice.code, 0);
  assert.match(alice.stderr, /FATAL:\s+57P01: access revoked by a configuration change/, alice.stderr);
  await waitForGone(stack.pg, marker, Math.max(1, 5000 - (Date.now() - reloadedMs)));

  assert.equal((await bob.query('SELECT 2 AS two')).rows[0]?.two, 2, 'bob is still admitted and his session still works');
  const revokedLines = stack.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r['event'] === 'session_revoked');
  assert.equal(revokedLines.length, 1);
  assert.equal(revokedLines[0]?.['identity'], aliceArn);
  assert.match(String(revokedLines[0]?.['connectionId']), /^[0-9a-f]{12}$/);
  await waitFor(async () => (await stack.metric('rsproxy_sessions_ended_total', { reason: 'revoked' })) === 1);
  assert.equal(await stack.metric('rsproxy_sessions_ended_total', { reason: 'admin' }), 0);
  const failure = await stack.loginError(await stack.mint('alice'), 'alice');
  assert.equal(failure.code, '28P01', 'and alice can no longer log in');
});
