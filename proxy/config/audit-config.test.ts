import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText, resolveConfig, scalarKeys } from './config.js';

type Obj = Record<string, unknown>;

const base = (audit?: Obj): Obj => ({
  tls: { certFile: '/etc/rsproxy/tls.crt', keyFile: '/etc/rsproxy/tls.key' },
  identity: { audience: 'rsproxy:prod', stsRegions: ['us-east-1'], allowedAccounts: ['123456789012'] },
  databases: { analytics: { cluster: 'analytics-prod', region: 'eu-west-1' } },
  ...(audit === undefined ? {} : { audit }),
});

test('audit: off by default (file ""), statements off, 4096 bytes, refuse', () => {
  const r = resolveConfig(base());
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
  assert.deepEqual(r.config.audit, { file: '', statements: 'off', maxStatementBytes: 4096, onFailure: 'refuse' });
});

test('audit: every key from the file; an unquoted YAML off is the string off', () => {
  const r = resolveConfig(base({ file: '/var/log/rsproxy/audit.log', statements: 'full', maxStatementBytes: 100, onFailure: 'continue' }));
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
  assert.deepEqual(r.config.audit, { file: '/var/log/rsproxy/audit.log', statements: 'full', maxStatementBytes: 100, onFailure: 'continue' });
  const yaml = parseConfigText('audit:\n  statements: off\n') as { audit: Obj };
  const y = resolveConfig({ ...base(), audit: yaml.audit });
  assert.ok(y.ok && y.config.audit.statements === 'off');
});

test('audit: bad values are one line each', () => {
  const r = resolveConfig(base({ statements: 'all', maxStatementBytes: 10, onFailure: 'ignore', rotate: true }));
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(r.errors.sort(), [
    'audit.maxStatementBytes: must be an integer from 64 to 1048576 (got 10)',
    'audit.onFailure: must be one of refuse, continue (got "ignore")',
    'audit.rotate: unknown key',
    'audit.statements: must be one of off, fingerprint, full (got "all")',
  ]);
});

test('audit: settable from env and flags like every scalar key', () => {
  const byPath = new Map(scalarKeys.map((k) => [k.path.join('.'), k]));
  assert.deepEqual([byPath.get('audit.file')?.flag, byPath.get('audit.file')?.env], ['audit-file', 'RSPROXY_AUDIT_FILE']);
  const r = resolveConfig(base(), { env: { RSPROXY_AUDIT_FILE: '/tmp/a.log', RSPROXY_AUDIT_STATEMENTS: 'fingerprint' }, flags: { 'audit-on-failure': 'continue' } });
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
  assert.deepEqual(r.config.audit, { file: '/tmp/a.log', statements: 'fingerprint', maxStatementBytes: 4096, onFailure: 'continue' });
});
