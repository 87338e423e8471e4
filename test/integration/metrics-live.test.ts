/**
 * /metrics of a live proxy (the whole stack, after a real login and query): `promtool check metrics` prints
 * nothing, and every metric the Grafana dashboard and the alert rules name is exposed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { httpGet } from '../../testkit/http-get.js';
import { alertExprs, dashboardExprs, exposedMetricNames, metricNamesIn, promtool, promtoolPath, readDashboard } from '../../testkit/promtool.js';
import { startStack } from '../../testkit/stack.js';
import { commandWorks, requireTool } from '../../testkit/tools.js';

test('a live proxy: promtool check metrics is clean, and the dashboard and alert rules name only exposed metrics', { timeout: 120_000 }, async (t) => {
  if (!requireTool(t, 'promtool', commandWorks(promtoolPath))) return;
  await using stack = await startStack();
  const client = new pg.Client({ host: 'localhost', port: stack.proxyPort, user: stack.dbUser, database: stack.database, password: await stack.mintToken(), ssl: { ca: stack.caPem } });
  await client.connect();
  try {
    assert.equal((await client.query('SELECT 1 AS one')).rows[0].one, 1);
  } finally {
    await client.end();
  }
  const scrape = await httpGet(`http://127.0.0.1:${stack.adminPort}/metrics`);
  assert.equal(scrape.status, 200);
  const body = scrape.body;
  // The scrape saw the login: the histograms have samples, the new gauges their values.
  assert.match(body, /^rsproxy_login_duration_seconds_count\{result="ok"\} 1$/m);
  assert.match(body, /^rsproxy_ready 1$/m);
  assert.match(body, /^rsproxy_build_info\{version="[^"]+",node="v[^"]+"\} 1$/m);
  assert.match(body, /^rsproxy_tls_certificate_expiry_timestamp_seconds \d{10}$/m);

  const lint = await promtool(['check', 'metrics'], body);
  assert.deepEqual(lint, { code: 0, out: '' }, 'promtool check metrics on the full exposition');

  const exposed = exposedMetricNames(body);
  const missing: string[] = [];
  for (const { where, expr } of [...dashboardExprs(), ...alertExprs()]) {
    const names = metricNamesIn(expr);
    assert.ok(names.length >= 1, `${where}: no metric found in ${expr}`);
    for (const name of names) if (!exposed.has(name)) missing.push(`${where}: ${name}`);
  }
  // The job and instance variables list label values of a metric too (Grafana's label_values(), not PromQL).
  for (const v of (readDashboard().templating as { list: Array<{ name: string; definition?: string }> }).list) {
    const metric = /^label_values\(([A-Za-z_:][\w:]*)/.exec(v.definition ?? '')?.[1];
    if (metric !== undefined && !exposed.has(metric)) missing.push(`variable ${v.name}: ${metric}`);
  }
  assert.deepEqual(missing, [], 'metrics named by the dashboard or the alert rules but not exposed by /metrics');
  // The check can fail: a made-up name is not exposed.
  assert.ok(!exposed.has('rsproxy_made_up_total'));
});
