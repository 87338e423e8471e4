import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyStartupParameters, dropSet, upstreamParameters } from './startup-params.js';
import { startupParameterClass } from '../protocol/startup-parameter-class.js';
import { ProxyError } from '../errors/proxy-error.js';

const base: Array<readonly [string, string]> = [['user', 'alice'], ['database', 'dev']];
const keys = (pairs: ReadonlyArray<readonly [string, string]>): string[] => pairs.map(([k]) => k);

function sqlstateOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    assert.ok(err instanceof ProxyError);
    return err.sqlstate;
  }
}

// One row per class of the table in docs/design/startup-parameters.md.
const classRows: Array<[key: string, expected: ReturnType<typeof startupParameterClass>]> = [
  ['user', 'setByProxy'],
  ['Database', 'setByProxy'],
  ['replication', 'replication'],
  ['_pq_.compression', 'negotiated'],
  ['_pq_.test_protocol_negotiation', 'negotiated'],
  ['idp_type', 'driverOnly'],
  ['provider_name', 'driverOnly'],
  ['token_type', 'driverOnly'],
  ['identity_namespace', 'driverOnly'],
  ['IDC_CLIENT_DISPLAY_NAME', 'driverOnly'],
  ['client_protocol_version', 'redshiftOnly'],
  ['driver_version', 'redshiftOnly'],
  ['os_version', 'redshiftOnly'],
  ['plugin_name', 'redshiftOnly'],
  ['Driver_Discovery_Version', 'redshiftOnly'],
  ['options', 'forwarded'],
  ['application_name', 'forwarded'],
  ['statement_timeout', 'forwarded'],
  ['lock_timeout', 'forwarded'],
  ['idle_in_transaction_session_timeout', 'forwarded'],
  ['query_group', 'forwarded'],
  ['app.tenant', 'forwarded'],
  ['nosuch_param', 'forwarded'],
];

for (const [key, expected] of classRows) {
  test(`class of ${key}: ${expected}`, () => assert.equal(startupParameterClass(key), expected));
}

test('pgjdbc parameters are forwarded verbatim; user and database are never forwarded', () => {
  const p = classifyStartupParameters(0, [...base, ['client_encoding', 'UTF8'], ['DateStyle', 'ISO'], ['TimeZone', 'Europe/Paris'], ['extra_float_digits', '2'], ['application_name', 'x'], ['search_path', 'a,b']]);
  assert.equal(p.user, 'alice');
  assert.equal(p.database, 'dev');
  assert.deepEqual(keys(p.forwarded), ['client_encoding', 'DateStyle', 'TimeZone', 'extra_float_digits', 'application_name', 'search_path']);
  assert.equal(p.shouldNegotiate, false);
  assert.deepEqual(p.dropped, []);
});

test('everything else is forwarded verbatim, in client order: timeouts, custom x.y settings, unknown names, options', () => {
  const extras: Array<readonly [string, string]> = [
    ['statement_timeout', '3000'],
    ['lock_timeout', '2s'],
    ['idle_in_transaction_session_timeout', '5000'],
    ['app.tenant', 'acme'],
    ['query_group', 'etl'],
    ['nosuch_param', '1'],
    ['options', '-c statement_timeout=3s -c app.tenant=acme --work-mem=1GB -c search_path=a\\ b'],
  ];
  const p = classifyStartupParameters(0, [...base, ...extras]);
  assert.deepEqual(upstreamParameters(p, 'postgres'), extras);
  assert.deepEqual(upstreamParameters(p, 'redshift'), extras);
  assert.deepEqual(p.dropped, []);
});

test('Redshift-only keys go to redshift upstreams only, never to postgres', () => {
  const p = classifyStartupParameters(0, [...base, ['client_protocol_version', '3'], ['application_name', 'x'], ['driver_version', '2.1'], ['os_version', 'Linux'], ['plugin_name', 'x'], ['driver_discovery_version', '1']]);
  assert.deepEqual(keys(upstreamParameters(p, 'redshift')), ['application_name', 'client_protocol_version', 'driver_version', 'os_version', 'plugin_name', 'driver_discovery_version']);
  assert.deepEqual(upstreamParameters(p, 'postgres'), [['application_name', 'x']]);
  assert.deepEqual(p.dropped, []);
});

test('driver-only IdP keys are dropped for every engine', () => {
  const idp: Array<readonly [string, string]> = [['idp_type', 'AzureAD'], ['provider_name', 'p'], ['token_type', 'ACCESS_TOKEN'], ['identity_namespace', 'ns'], ['idc_client_display_name', 'x']];
  const p = classifyStartupParameters(0, [...base, ...idp]);
  assert.deepEqual(upstreamParameters(p, 'redshift'), []);
  assert.deepEqual(upstreamParameters(p, 'postgres'), []);
  assert.deepEqual(p.dropped, keys(idp));
});

test('startupParameters.drop: named keys dropped case-insensitively, of either forwarded class; others untouched', () => {
  const drop = dropSet(['GEQO', 'app.Tenant', 'driver_version', 'options']);
  const p = classifyStartupParameters(0, [...base, ['geqo', 'off'], ['App.tenant', 'acme'], ['driver_version', '2.1'], ['options', '-c geqo=off'], ['statement_timeout', '1s'], ['client_protocol_version', '2']], drop);
  assert.deepEqual(p.dropped, ['geqo', 'App.tenant', 'driver_version', 'options']);
  assert.deepEqual(upstreamParameters(p, 'redshift'), [['statement_timeout', '1s'], ['client_protocol_version', '2']]);
  assert.deepEqual(upstreamParameters(p, 'postgres'), [['statement_timeout', '1s']]);
  // The drop list cannot change what user and database are, nor let replication through.
  const q = classifyStartupParameters(0, base, dropSet(['user', 'database']));
  assert.deepEqual([q.user, q.database], ['alice', 'dev']);
  assert.equal(sqlstateOf(() => classifyStartupParameters(0, [...base, ['replication', 'true']], dropSet(['replication']))), '0A000');
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
  for (const v of ['false', 'off', 'no', '0', 'OFF']) {
    const p = classifyStartupParameters(0, [...base, ['replication', v]]);
    assert.deepEqual(upstreamParameters(p, 'postgres'), [], v);
  }
  for (const v of ['database', 'true', 'on', '1', 'yes', '']) assert.equal(sqlstateOf(() => classifyStartupParameters(0, [...base, ['replication', v]])), '0A000', v);
  assert.equal(sqlstateOf(() => classifyStartupParameters(0, [...base, ['REPLICATION', 'database']])), '0A000');
});

test('_pq_ keys: listed in v for 3.0 grease; _pq_.compression alone in 3.0 is stripped silently; never forwarded', () => {
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

test('options is no longer screened: settings the old allow-list refused (0A000) are forwarded for the upstream to judge', () => {
  for (const o of ['-c work_mem=1GB', '--statement_timeout=0', '-c session_authorization=admin', '-d 5', '-c']) {
    const p = classifyStartupParameters(0, [...base, ['options', o]]);
    assert.deepEqual(upstreamParameters(p, 'postgres'), [['options', o]], o);
  }
});

test('names are compared case-insensitively and forwarded as the client spelled them', () => {
  const p = classifyStartupParameters(0, [['USER', 'a'], ['Application_Name', 'x'], ['CLIENT_PROTOCOL_VERSION', '2'], ['Idp_Type', 'x']]);
  assert.equal(p.user, 'a');
  assert.deepEqual(upstreamParameters(p, 'redshift'), [['Application_Name', 'x'], ['CLIENT_PROTOCOL_VERSION', '2']]);
  assert.deepEqual(p.dropped, ['Idp_Type']);
});
