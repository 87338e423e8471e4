import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyStartupParameters, isCleanOptions, upstreamParameters } from './startup-params.js';
import { ProxyError } from '../errors/proxy-error.js';

const base: Array<readonly [string, string]> = [['user', 'alice'], ['database', 'dev']];

function sqlstateOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    assert.ok(err instanceof ProxyError);
    return err.sqlstate;
  }
}

test('pgjdbc parameters are forwarded verbatim; user and database are never forwarded', () => {
  const p = classifyStartupParameters(0, [...base, ['client_encoding', 'UTF8'], ['DateStyle', 'ISO'], ['TimeZone', 'Europe/Paris'], ['extra_float_digits', '2'], ['application_name', 'x'], ['search_path', 'a,b']]);
  assert.equal(p.user, 'alice');
  assert.equal(p.database, 'dev');
  assert.deepEqual(p.forwarded.map(([k]) => k), ['client_encoding', 'DateStyle', 'TimeZone', 'extra_float_digits', 'application_name', 'search_path']);
  assert.equal(p.shouldNegotiate, false);
  assert.deepEqual(p.dropped, []);
});

test('Redshift-only keys go to redshift upstreams only; IdP and unknown keys are dropped', () => {
  const p = classifyStartupParameters(0, [...base, ['client_protocol_version', '3'], ['driver_version', '2.1'], ['os_version', 'Linux'], ['plugin_name', 'x'], ['driver_discovery_version', '1'], ['idp_type', 'AzureAD'], ['provider_name', 'p'], ['work_mem', '1GB']]);
  assert.deepEqual(upstreamParameters(p, 'redshift').map(([k]) => k), ['client_protocol_version', 'driver_version', 'os_version', 'plugin_name', 'driver_discovery_version']);
  assert.deepEqual(upstreamParameters(p, 'postgres'), []);
  assert.deepEqual(p.dropped, ['idp_type', 'provider_name', 'work_mem']);
});

test('database defaults to user', () => {
  assert.equal(classifyStartupParameters(0, [['user', 'bob']]).database, 'bob');
  assert.equal(classifyStartupParameters(0, [['user', 'bob'], ['database', '']]).database, 'bob');
});

test('user missing or empty → 28000', () => {
  assert.equal(sqlstateOf(() => classifyStartupParameters(0, [['database', 'dev']])), '28000');
  assert.equal(sqlstateOf(() => classifyStartupParameters(0, [['user', '']])), '28000');
});

test('replication: false/off/no/0 accepted and not forwarded; anything else → 0A000', () => {
  for (const v of ['false', 'off', 'no', '0', 'OFF']) assert.equal(sqlstateOf(() => classifyStartupParameters(0, [...base, ['replication', v]])), undefined, v);
  for (const v of ['database', 'true', 'on', '1', 'yes', '']) assert.equal(sqlstateOf(() => classifyStartupParameters(0, [...base, ['replication', v]])), '0A000', v);
});

test('_pq_ keys: listed in v for 3.0 grease; _pq_.compression alone in 3.0 is stripped silently', () => {
  const grease = classifyStartupParameters(9999, [...base, ['_pq_.test_a', 'x'], ['_pq_.test_b', 'y']]);
  assert.equal(grease.shouldNegotiate, true);
  assert.deepEqual(grease.unsupportedProtocolOptions, ['_pq_.test_a', '_pq_.test_b']);
  assert.deepEqual(upstreamParameters(grease, 'redshift'), []);
  const comp = classifyStartupParameters(0, [...base, ['_pq_.compression', 'lz4']]);
  assert.equal(comp.shouldNegotiate, false);
  assert.deepEqual(upstreamParameters(comp, 'redshift'), []);
  const comp32 = classifyStartupParameters(2, [...base, ['_pq_.compression', 'lz4']]);
  assert.equal(comp32.shouldNegotiate, true);
  assert.deepEqual(comp32.unsupportedProtocolOptions, ['_pq_.compression']);
  const v32 = classifyStartupParameters(2, base);
  assert.equal(v32.shouldNegotiate, true);
  assert.deepEqual(v32.unsupportedProtocolOptions, []);
  const other30 = classifyStartupParameters(0, [...base, ['_pq_.x', '1']]);
  assert.equal(other30.shouldNegotiate, true);
});

test('options: forwarded only when every item sets an allowed parameter', () => {
  const clean = ['-c search_path=a', '--search_path=a', '-c DateStyle=ISO --application-name=x', '', '  -c timezone=UTC  '];
  for (const o of clean) assert.equal(isCleanOptions(o), true, o);
  const dirty = ['-c work_mem=1GB', '--statement_timeout=0', '-c', '-csearch_path=a', 'search_path=a', '-c search_path', '--=x', '-c search_path=a\\ b', '-d 5'];
  for (const o of dirty) assert.equal(isCleanOptions(o), false, o);
  const p = classifyStartupParameters(0, [...base, ['options', '-c search_path=a']]);
  assert.deepEqual(upstreamParameters(p, 'postgres'), [['options', '-c search_path=a']]);
  assert.equal(sqlstateOf(() => classifyStartupParameters(0, [...base, ['options', '-c session_authorization=admin']])), '0A000');
});

test('allow-list names are compared case-insensitively', () => {
  const p = classifyStartupParameters(0, [['USER', 'a'], ['Application_Name', 'x'], ['CLIENT_PROTOCOL_VERSION', '2']]);
  assert.equal(p.user, 'a');
  assert.deepEqual(upstreamParameters(p, 'redshift'), [['Application_Name', 'x'], ['CLIENT_PROTOCOL_VERSION', '2']]);
});
