import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { requirePg, startPgCluster } from '../../testkit/pg-cluster.js';

test('pg-cluster: TLS on, scram enforced, md5 hashes stored', async (t) => {
  if (!requirePg(t)) return;
  await using cluster = await startPgCluster();
  assert.equal(cluster.host, '127.0.0.1');
  assert.ok(cluster.port > 0);

  const ssl = await cluster.query('SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
  assert.equal(ssl.rows[0]?.ssl, true);
  assert.match(String(ssl.rows[0]?.version), /^TLSv1\.[23]$/);

  const hba = await cluster.query("SELECT type, auth_method FROM pg_hba_file_rules WHERE address = '127.0.0.1' ORDER BY line_number");
  assert.deepEqual(hba.rows, [
    { type: 'hostssl', auth_method: 'scram-sha-256' },
    { type: 'host', auth_method: 'scram-sha-256' },
  ]);
  const hash = await cluster.query("SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'");
  assert.match(String(hash.rows[0]?.rolpassword), /^SCRAM-SHA-256\$4096:/);

  const bad = new pg.Client({ connectionString: cluster.url('postgres', 'postgres', 'wrong-password'), ssl: { ca: cluster.caPem } });
  await assert.rejects(bad.connect(), (err: unknown) => (err as { code?: string }).code === '28P01');

  const good = new pg.Client({ connectionString: cluster.url(), ssl: { ca: cluster.caPem } });
  await good.connect();
  try {
    const r = await good.query('SELECT current_user AS u, current_setting($1) AS m', ['max_connections']);
    assert.deepEqual(r.rows[0], { u: 'postgres', m: '100' });
  } finally {
    await good.end();
  }
});

test('pg-cluster: md5 method stores md5 hashes; maxConnections applies; stop is idempotent', async (t) => {
  if (!requirePg(t)) return;
  const cluster = await startPgCluster({ authMethod: 'md5', maxConnections: 7 });
  const hash = await cluster.query("SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'");
  assert.match(String(hash.rows[0]?.rolpassword), /^md5[0-9a-f]{32}$/);
  const mc = await cluster.query("SELECT current_setting('max_connections') AS m");
  assert.equal(mc.rows[0]?.m, '7');
  await cluster.stop();
  await cluster.stop();
  const c = new pg.Client({ connectionString: cluster.url(), ssl: { ca: cluster.caPem }, connectionTimeoutMillis: 1000 });
  await assert.rejects(c.connect());
});
