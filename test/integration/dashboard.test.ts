/** deploy/grafana/rsproxy-dashboard.json: its shape, and every PromQL expression parses (promtool check rules). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { dashboardExprs, metricNamesIn, projectRoot, promtool, promtoolPath, readDashboard } from '../../testkit/promtool.js';
import { commandWorks, requireTool } from '../../testkit/tools.js';

const datasourceRef = { type: 'prometheus', uid: '${datasource}' };

/** Grafana's interval variables in range selectors become a fixed duration; `$job`-style ones only occur inside label values. */
function asPromql(expr: string): string {
  return expr.replace(/\$__(?:rate_interval|interval|range)\b/g, '5m');
}

test('the dashboard has the fields Grafana needs, a Prometheus datasource variable and well-formed panels', () => {
  const d = readDashboard();
  for (const key of ['uid', 'title', 'schemaVersion', 'panels', 'templating', 'time']) assert.ok(key in d, key);
  assert.equal(typeof d.uid, 'string');
  assert.ok(Number(d.schemaVersion) >= 39, 'a current schemaVersion (Grafana 11+)');
  const variables = (d.templating as { list: Array<Record<string, unknown>> }).list;
  const ds = variables.find((v) => v.name === 'datasource');
  assert.ok(ds, 'a `datasource` template variable');
  assert.equal(ds.type, 'datasource');
  assert.equal(ds.query, 'prometheus');
  for (const v of variables.filter((x) => x.type === 'query')) assert.deepEqual(v.datasource, datasourceRef, `variable ${String(v.name)}`);

  assert.ok(d.panels.length >= 8);
  const ids = d.panels.map((p) => p.id);
  assert.ok(ids.every((id) => Number.isInteger(id)), 'integer panel ids');
  assert.equal(new Set(ids).size, ids.length, 'unique panel ids');
  for (const p of d.panels) {
    const where = String(p.title);
    assert.equal(typeof p.title, 'string');
    assert.equal(typeof p.type, 'string', where);
    assert.deepEqual(p.datasource, datasourceRef, `${where}: datasource`);
    assert.ok((p.targets ?? []).length >= 1, `${where}: at least one target`);
    const refIds = (p.targets ?? []).map((t) => t.refId);
    assert.equal(new Set(refIds).size, refIds.length, `${where}: unique refIds`);
    for (const t of p.targets ?? []) {
      assert.deepEqual(t.datasource, datasourceRef, `${where}/${String(t.refId)}: datasource`);
      assert.equal(typeof t.expr, 'string', `${where}/${String(t.refId)}: expr`);
      assert.match(t.expr!, /job=~"\$job", instance=~"\$instance"/, `${where}/${String(t.refId)}: follows the job and instance variables`);
    }
    const g = p.gridPos ?? {};
    const [x, y, w, h] = [g.x, g.y, g.w, g.h].map(Number) as [number, number, number, number];
    assert.ok([x, y, w, h].every(Number.isInteger) && x >= 0 && y >= 0 && w >= 1 && h >= 1, `${where}: gridPos`);
    assert.ok(x + w <= 24, `${where}: within 24 columns`);
  }
  // No two panels overlap on the grid.
  const cells = new Set<string>();
  for (const p of d.panels) {
    const { x, y, w, h } = p.gridPos as { x: number; y: number; w: number; h: number };
    for (let i = x; i < x + w; i++) for (let j = y; j < y + h; j++) {
      assert.ok(!cells.has(`${i},${j}`), `${String(p.title)} overlaps another panel at ${i},${j}`);
      cells.add(`${i},${j}`);
    }
  }
});

test('the dashboard covers what operators asked for (issue 15)', () => {
  const exprs = dashboardExprs().map((e) => e.expr);
  const reads = (metric: string) => exprs.some((e) => metricNamesIn(e).includes(metric));
  assert.ok(exprs.some((e) => /sum by \(result, reason\) \(rate\(rsproxy_logins_total/.test(e)), 'logins per second by result and reason');
  for (const q of ['0.5', '0.95', '0.99']) assert.ok(exprs.some((e) => e.startsWith(`histogram_quantile(${q},`) && e.includes('rsproxy_login_duration_seconds_bucket')), `login p${q}`);
  for (const m of ['rsproxy_sts_requests_total', 'rsproxy_credential_requests_total', 'rsproxy_credential_cache_total', 'rsproxy_client_connections', 'rsproxy_client_connections_max', 'rsproxy_bytes_total', 'rsproxy_cancel_requests_total', 'rsproxy_tls_certificate_expiry_timestamp_seconds']) {
    assert.ok(reads(m), m);
  }
  assert.ok(exprs.some((e) => /result!="ok"/.test(e) && e.includes('rsproxy_credential_requests_total')), 'credential API errors');
  // The fleet (issue 13) and live sessions (issue 14): why sessions end, and what the PROXY gate refuses.
  assert.ok(exprs.some((e) => /sum by \(reason\) \(rate\(rsproxy_sessions_ended_total/.test(e)), 'sessions ended by reason');
  assert.ok(exprs.some((e) => /sum by \(reason\) \(rate\(rsproxy_proxy_protocol_rejected_total/.test(e)), 'PROXY protocol rejections by reason');
  // The audit trail (issue 20): records by event and the write failures its alert watches.
  assert.ok(exprs.some((e) => /sum by \(event\) \(rate\(rsproxy_audit_records_total/.test(e)), 'audit records by event');
  assert.ok(reads('rsproxy_audit_write_failures_total'), 'audit write failures');
  // Upstream session reuse (issue 19): hit ratio, discards by reason, idle sessions.
  assert.ok(exprs.some((e) => e.includes('rsproxy_upstream_reuse_total{result="hit"')), 'upstream reuse hit ratio');
  assert.ok(exprs.some((e) => /sum by \(reason\) \(rate\(rsproxy_upstream_discards_total/.test(e)), 'upstream discards by reason');
  assert.ok(reads('rsproxy_upstream_idle_sessions'), 'idle upstream sessions');
});

test('the metric-name extractor sees metrics, not functions, keywords, labels or variables', () => {
  assert.deepEqual(
    metricNamesIn('histogram_quantile(0.99, sum by (le, job) (rate(a_bucket{job=~"$job", le!="x"}[$__rate_interval]))) / on (job) group_left b_total unless c > 14 * 86400'),
    ['a_bucket', 'b_total', 'c'],
  );
  assert.deepEqual(metricNamesIn('label_replace(increase(x_total{r=~"a|b"}[5m]), "api", "Sts", "", "") or absent(y == 1)'), ['x_total', 'y']);
  assert.deepEqual(metricNamesIn('time() - rate(foo:bar[1m] offset 5m)'), ['foo:bar']);
});

test('every dashboard expression parses: promtool check rules on them as recording rules', async (t) => {
  if (!requireTool(t, 'promtool', commandWorks(promtoolPath))) return;
  const exprs = dashboardExprs();
  assert.ok(exprs.length >= 15);
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-dashboard-'));
  try {
    const rules = exprs.map((e, i) => ({ record: `dashboard:expr_${i}`, expr: asPromql(e.expr) }));
    const file = join(dir, 'dashboard-rules.yaml');
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
    const r = await promtool(['check', 'rules', file]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`SUCCESS: ${exprs.length} rules found`));
    // The check is real: one broken expression fails it.
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: [...rules, { record: 'dashboard:broken', expr: 'sum by (le (rate(x[5m]))' }] }] }));
    assert.notEqual((await promtool(['check', 'rules', file])).code, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the compose stack provisions Grafana with the dashboard and the compose Prometheus as default data source', () => {
  const read = (...p: string[]) => parse(readFileSync(join(projectRoot, ...p), 'utf8')) as Record<string, unknown>;
  const grafana = (read('docker-compose.yml').services as Record<string, { volumes: string[] }>).grafana!;
  assert.ok(grafana.volumes.includes('./deploy/grafana/rsproxy-dashboard.json:/etc/grafana/dashboards/rsproxy-dashboard.json:ro'));
  assert.ok(grafana.volumes.includes('./deploy/grafana/provisioning:/etc/grafana/provisioning:ro'));
  const providers = read('deploy', 'grafana', 'provisioning', 'dashboards', 'rsproxy.yaml').providers as Array<{ options: { path: string } }>;
  assert.equal(providers[0]!.options.path, '/etc/grafana/dashboards');
  const sources = read('deploy', 'grafana', 'provisioning', 'datasources', 'prometheus.yaml').datasources as Array<Record<string, unknown>>;
  assert.deepEqual(sources.map((d) => [d.type, d.url, d.isDefault]), [['prometheus', 'http://prometheus:9090', true]]);
});
