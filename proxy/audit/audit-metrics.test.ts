import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createAuditMetrics } from './audit-metrics.js';

test('rsproxy_audit_records_total{event} and rsproxy_audit_write_failures_total, every event present from the start', async () => {
  const registry = new Registry();
  const metrics = createAuditMetrics(registry);
  let text = await registry.metrics();
  for (const event of ['login', 'login_denied', 'session_end', 'revoked', 'admin_terminate', 'statement']) assert.match(text, new RegExp(`rsproxy_audit_records_total\\{event="${event}"\\} 0`));
  assert.match(text, /rsproxy_audit_write_failures_total 0/);
  metrics.recordWritten('statement');
  metrics.recordWritten('statement');
  metrics.writeFailed('login');
  text = await registry.metrics();
  assert.match(text, /rsproxy_audit_records_total\{event="statement"\} 2/);
  assert.match(text, /rsproxy_audit_write_failures_total 1/);
  assert.doesNotThrow(() => createAuditMetrics(new Registry()), 'a second proxy in one process gets its own registry');
});
