import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuthOptions } from '../../auth/types.js';
import { isReuseEnabledFor } from '../upstream/reuse-config.js';
import { loadConfigFile, parseConfigText, parseHostPort, redactConfig, resolveConfig, scalarKeys, type RsproxyConfig } from './config.js';

type Obj = Record<string, unknown>;

const base = (): Obj => ({
  tls: { certFile: '/etc/rsproxy/tls.crt', keyFile: '/etc/rsproxy/tls.key' },
  identity: { audience: 'rsproxy:prod', stsRegions: ['us-east-1', 'eu-west-1'], allowedAccounts: ['123456789012'] },
  databases: {
    analytics: { cluster: 'analytics-prod', region: 'eu-west-1', dbName: 'dev' },
    lake: { workgroup: 'wg-lake', region: 'eu-west-1' },
  },
  rules: [
    {
      principal: 'arn:aws:iam::123456789012:role/Analyst',
      dbUser: '{sessionName}',
      dbGroups: ['analysts'],
      databases: ['analytics'],
      autoCreate: true,
      trustSessionName: true,
    },
    {
      principal: 'arn:aws:iam::123456789012:role/BI-*',
      databases: ['lake'],
      assumeRole: 'arn:aws:iam::123456789012:role/rsproxy-lake-bi',
      dbGroups: ['bi_readers'],
    },
  ],
});

function setAt(o: Obj, path: string, value: unknown): Obj {
  const segs = path.split('.');
  let node: Obj = o;
  for (const s of segs.slice(0, -1)) node = node[s] as Obj;
  const last = segs[segs.length - 1] as string;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return o;
}

test('databases.<name>.reuse overrides reuse.enabled per database', () => {
  const o = base();
  (o['databases'] as Obj)['lake'] = { ...((o['databases'] as Obj)['lake'] as Obj), reuse: true };
  const r = resolveConfig(o);
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
  assert.equal(r.config.databases.lake?.reuse, true);
  assert.equal(r.config.reuse.enabled, false);
});

test('reuse with audit statements on: a warning, and no database reuses (statement capture wins)', () => {
  const o = { ...base(), reuse: { enabled: true }, audit: { file: '/var/log/rsproxy/audit.log', statements: 'fingerprint' } };
  const r = resolveConfig(o);
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
  assert.ok(r.warnings.some((w) => w.startsWith('reuse: not used while audit.statements is fingerprint')), r.warnings.join('\n'));
  assert.equal(isReuseEnabledFor(r.config, 'analytics'), false);
  const sessionsOnly = resolveConfig({ ...o, audit: { file: '/var/log/rsproxy/audit.log', statements: 'off' } });
  assert.ok(sessionsOnly.ok);
  assert.deepEqual(sessionsOnly.warnings.filter((w) => w.startsWith('reuse:')), []);
  assert.equal(isReuseEnabledFor(sessionsOnly.config, 'analytics'), true);
});

test('a minimal config gets every documented default', () => {
  const r = resolveConfig(base());
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
  const c = r.config;
  assert.equal(c.listen, '0.0.0.0:5439');
  assert.equal(c.tls.minVersion, 'TLSv1.2');
  assert.equal(c.identity.partition, 'aws');
  assert.equal(c.identity.maxTokenAgeSeconds, 300);
  assert.equal(c.identity.clockSkewSeconds, 60);
  assert.equal(c.identity.allowRootAndFederated, false);
  assert.equal(c.identity.acceptEksTokens, false);
  assert.deepEqual(c.databases.lake, { region: 'eu-west-1', engine: 'redshift', dbName: 'lake', upstreamTls: { mode: 'verify-full' }, workgroup: 'wg-lake' });
  assert.equal(c.databases.analytics?.dbName, 'dev');
  assert.deepEqual(c.credentials, { durationSeconds: 900, refreshBeforeSeconds: 60 });
  assert.deepEqual(c.admin, { listen: '127.0.0.1:9187' });
  assert.deepEqual(c.limits, { maxClientConnections: 1000, loginTimeoutMs: 10000, maxStartupBytes: 10000, maxPasswordBytes: 8192, maxConnectionsPerSourcePerSecond: 100, maxSessionSeconds: 0, tcpKeepAliveSeconds: 60 });
  assert.deepEqual(c.reuse, { enabled: false, maxIdlePerKey: 4, maxIdleTotal: 64, idleTimeoutSeconds: 60, maxAgeSeconds: 3600, checkAfterIdleSeconds: 30, resetTimeoutMs: 2000 });
  assert.equal(c.databases.analytics?.reuse, undefined);
  assert.deepEqual(c.proxyProtocol, { trustedSources: [] });
  assert.deepEqual(c.cluster, { self: '', peers: [], peerDns: '' });
  assert.deepEqual(c.startupParameters, { drop: [] });
  assert.deepEqual(c.shutdown, { drainSeconds: 30 });
  assert.deepEqual(c.log, { level: 'info' });
  assert.equal(c.rules[1]?.autoCreate, false);
  assert.equal(c.rules[1]?.trustSessionName, false);
  assert.deepEqual(r.warnings, []);
  const auth: AuthOptions = c; // the auth part is an AuthOptions
  assert.equal(auth.rules.length, 2);
});

// One row per bad field, with the exact message.
const rows: Array<[name: string, mutate: (o: Obj) => unknown, expected: string[]]> = [
  ['loginTimeoutMs as a string', (o) => setAt(o, 'limits', { loginTimeoutMs: '10s' }), ['limits.loginTimeoutMs: must be an integer ≥ 1000 (got "10s")']],
  ['tcpKeepAliveSeconds negative', (o) => setAt(o, 'limits', { tcpKeepAliveSeconds: -1 }), ['limits.tcpKeepAliveSeconds: must be an integer from 0 to 7200 (got -1)']],
  ['reuse.enabled as a number', (o) => setAt(o, 'reuse', { enabled: 1 }), ['reuse.enabled: must be true or false (got 1)']],
  ['reuse.idleTimeoutSeconds zero', (o) => setAt(o, 'reuse', { idleTimeoutSeconds: 0 }), ['reuse.idleTimeoutSeconds: must be an integer from 1 to 86400 (got 0)']],
  ['loginTimeoutMs too small', (o) => setAt(o, 'limits', { loginTimeoutMs: 999 }), ['limits.loginTimeoutMs: must be an integer ≥ 1000 (got 999)']],
  ['maxClientConnections fractional', (o) => setAt(o, 'limits', { maxClientConnections: 1.5 }), ['limits.maxClientConnections: must be an integer from 1 to 1000000 (got 1.5)']],
  ['maxStartupBytes too small', (o) => setAt(o, 'limits', { maxStartupBytes: 10 }), ['limits.maxStartupBytes: must be an integer from 1024 to 1048576 (got 10)']],
  ['maxPasswordBytes too large', (o) => setAt(o, 'limits', { maxPasswordBytes: 2_000_000 }), ['limits.maxPasswordBytes: must be an integer from 1024 to 1048576 (got 2000000)']],
  ['maxConnectionsPerSourcePerSecond zero', (o) => setAt(o, 'limits', { maxConnectionsPerSourcePerSecond: 0 }), ['limits.maxConnectionsPerSourcePerSecond: must be an integer ≥ 1 (got 0)']],
  ['maxConnectionsPerSourcePerSecond fractional', (o) => setAt(o, 'limits', { maxConnectionsPerSourcePerSecond: 2.5 }), ['limits.maxConnectionsPerSourcePerSecond: must be an integer ≥ 1 (got 2.5)']],
  ['database region of another partition', (o) => setAt(o, 'databases.analytics.region', 'cn-north-1'), ['databases.analytics.region: region "cn-north-1" is not in partition aws']],
  ['database region us-gov under aws', (o) => setAt(o, 'databases.lake.region', 'us-gov-west-1'), ['databases.lake.region: region "us-gov-west-1" is not in partition aws']],
  [
    'workgroup assumeRole dbGroups over the 256-character RedshiftDbRoles tag',
    (o) => setAt(o, 'rules.1.dbGroups', ['a'.repeat(64), 'b'.repeat(64), 'c'.repeat(64), 'd'.repeat(62)]),
    ["rules[1].dbGroups: joined with ':' they are 257 characters; the RedshiftDbRoles session tag allows at most 256 (workgroup lake)"],
  ],
  ['unknown key in limits', (o) => setAt(o, 'limits', { maxConnections: 5 }), ['limits.maxConnections: unknown key']],
  ['unknown top-level key', (o) => setAt(o, 'extra', true), ['extra: unknown key']],
  ['listen without port', (o) => setAt(o, 'listen', 'localhost'), ['listen: must be host:port with a port from 0 to 65535 (got "localhost")']],
  ['admin.listen bad port', (o) => setAt(o, 'admin', { listen: '127.0.0.1:70000' }), ['admin.listen: must be host:port with a port from 0 to 65535 (got "127.0.0.1:70000")']],
  ['admin.tokenFile empty', (o) => setAt(o, 'admin', { tokenFile: '' }), ['admin.tokenFile: must be a path to a file holding the admin bearer token (got "")']],
  ['maxSessionSeconds negative', (o) => setAt(o, 'limits', { maxSessionSeconds: -1 }), ['limits.maxSessionSeconds: must be an integer from 0 to 31536000 (got -1)']],
  ['trustedSources not a CIDR', (o) => setAt(o, 'proxyProtocol', { trustedSources: ['10.0.0.0/33'] }), ['proxyProtocol.trustedSources[0]: must be an IPv4 or IPv6 CIDR like 10.0.0.0/16 (got "10.0.0.0/33")']],
  ['trustedSources with host bits set', (o) => setAt(o, 'proxyProtocol', { trustedSources: ['10.0.0.0/16', '10.1.2.3/16'] }), ['proxyProtocol.trustedSources[1]: host bits are set; the network is 10.1.0.0/16 (got "10.1.2.3/16")']],
  ['trustedSources IPv6 that passes the pattern only', (o) => setAt(o, 'proxyProtocol', { trustedSources: [':::/8'] }), ['proxyProtocol.trustedSources[0]: ":::" is not an IPv4 or IPv6 address (got ":::/8")']],
  ['trustedSources IPv6 host bits', (o) => setAt(o, 'proxyProtocol', { trustedSources: ['2001:db8::1/32'] }), ['proxyProtocol.trustedSources[0]: host bits are set; the network is 2001:db8::/32 (got "2001:db8::1/32")']],
  ['unknown key in proxyProtocol', (o) => setAt(o, 'proxyProtocol', { trusted: [] }), ['proxyProtocol.trusted: unknown key']],
  ['cluster.peers entry without port', (o) => setAt(o, 'cluster', { peers: ['10.0.0.7'] }), ['cluster.peers[0]: must be host:port with a port from 0 to 65535 (got "10.0.0.7")']],
  ['cluster.peerDns without port', (o) => setAt(o, 'cluster', { peerDns: 'rsproxy-peers.ns.svc' }), ['cluster.peerDns: must be name:port (got "rsproxy-peers.ns.svc")']],
  ['cluster.peers without self (and no POD_IP)', (o) => setAt(o, 'cluster', { peers: ['10.0.0.7:5439'] }), ['cluster.self: required with cluster.peers or cluster.peerDns (host:port at which peers reach this replica; defaults to $POD_IP and the listen port, but POD_IP is not set)']],
  ['cluster.peerDns without self (and no POD_IP)', (o) => setAt(o, 'cluster', { peerDns: 'rsproxy-peers.ns.svc:5439' }), ['cluster.self: required with cluster.peers or cluster.peerDns (host:port at which peers reach this replica; defaults to $POD_IP and the listen port, but POD_IP is not set)']],
  ['cluster.self with port 0', (o) => setAt(o, 'cluster', { self: '10.0.0.6:0', peers: ['10.0.0.7:5439'] }), ['cluster.self: must be host:port with a port from 1 to 65535 (got "10.0.0.6:0")']],
  [
    'cluster with more connections than cancel-key session numbers',
    (o) => (setAt(o, 'cluster', { self: '10.0.0.6:5439', peers: ['10.0.0.7:5439'] }), setAt(o, 'limits', { maxClientConnections: 40_000 })),
    ['limits.maxClientConnections: at most 32768 with cluster (a cancel key holds 16 bits of session number per replica) (got 40000)'],
  ],
  ['startupParameters.drop not a list', (o) => setAt(o, 'startupParameters', { drop: 'geqo' }), ['startupParameters.drop: must be a list of startup parameter names (got "geqo")']],
  ['startupParameters.drop name with a space', (o) => setAt(o, 'startupParameters', { drop: ['geqo', 'work mem'] }), ['startupParameters.drop[1]: must be a startup parameter name like geqo or app.tenant (got "work mem")']],
  [
    'startupParameters.drop names the proxy never forwards anyway',
    (o) => setAt(o, 'startupParameters', { drop: ['USER', 'replication', '_pq_.compression', 'idp_type'] }),
    [
      'startupParameters.drop[0]: "USER" is never forwarded anyway (the proxy sets user and database itself)',
      'startupParameters.drop[1]: "replication" is never forwarded anyway (replication connections are refused)',
      'startupParameters.drop[2]: "_pq_.compression" is never forwarded anyway (_pq_ protocol options are negotiated, never forwarded)',
      'startupParameters.drop[3]: "idp_type" is never forwarded anyway (IdP keys are for the driver only)',
    ],
  ],
  ['unknown key in startupParameters', (o) => setAt(o, 'startupParameters', { ignore: [] }), ['startupParameters.ignore: unknown key']],
  ['admin.listen equals listen', (o) => setAt(o, 'admin', { listen: '0.0.0.0:5439' }), ['admin.listen: must differ from listen (got "0.0.0.0:5439")']],
  ['tls missing', (o) => setAt(o, 'tls', undefined), ['tls: required; must be a mapping with certFile and keyFile (missing)']],
  ['tls.keyFile missing', (o) => setAt(o, 'tls.keyFile', undefined), ['tls.keyFile: required; must be a path to a PEM private key file (missing)']],
  ['tls.minVersion', (o) => setAt(o, 'tls.minVersion', 'TLSv1.1'), ['tls.minVersion: must be one of TLSv1.2, TLSv1.3 (got "TLSv1.1")']],
  ['audience grammar', (o) => setAt(o, 'identity.audience', 'rs proxy'), ['identity.audience: must match ^[A-Za-z0-9][A-Za-z0-9:._-]{0,99}$ (got "rs proxy")']],
  ['partition', (o) => setAt(o, 'identity.partition', 'aws-iso'), ['identity.partition: must be one of aws, aws-cn, aws-us-gov (got "aws-iso")']],
  ['region grammar', (o) => setAt(o, 'identity.stsRegions', ['us-east-1', 'global']), ['identity.stsRegions[1]: must be an AWS region like eu-west-1 (got "global")']],
  ['region of another partition', (o) => setAt(o, 'identity.stsRegions', ['cn-north-1']), ['identity.stsRegions[0]: region "cn-north-1" is not in partition aws']],
  ['empty stsRegions', (o) => setAt(o, 'identity.stsRegions', []), ['identity.stsRegions: must list at least one region (got [])']],
  ['account id', (o) => setAt(o, 'identity.allowedAccounts', ['12345']), ['identity.allowedAccounts[0]: must be a 12-digit AWS account id (got "12345")']],
  ['maxTokenAgeSeconds over 900', (o) => setAt(o, 'identity.maxTokenAgeSeconds', 901), ['identity.maxTokenAgeSeconds: must be an integer from 1 to 900 (got 901)']],
  ['clockSkewSeconds negative', (o) => setAt(o, 'identity.clockSkewSeconds', -1), ['identity.clockSkewSeconds: must be an integer from 0 to 900 (got -1)']],
  ['acceptEksTokens not boolean', (o) => setAt(o, 'identity.acceptEksTokens', 'yes'), ['identity.acceptEksTokens: must be true or false (got "yes")']],
  ['durationSeconds', (o) => setAt(o, 'credentials', { durationSeconds: 600 }), ['credentials.durationSeconds: must be an integer from 900 to 3600 (got 600)']],
  [
    'refreshBeforeSeconds ≥ durationSeconds',
    (o) => setAt(o, 'credentials', { durationSeconds: 900, refreshBeforeSeconds: 900 }),
    ['credentials.refreshBeforeSeconds: must be less than credentials.durationSeconds (900) (got 900)'],
  ],
  ['drainSeconds', (o) => setAt(o, 'shutdown', { drainSeconds: 4000 }), ['shutdown.drainSeconds: must be an integer from 0 to 3600 (got 4000)']],
  ['log.level', (o) => setAt(o, 'log', { level: 'trace' }), ['log.level: must be one of debug, info, warn, error (got "trace")']],
  ['database with both', (o) => setAt(o, 'databases.lake.cluster', 'c1'), ['databases.lake: must set exactly one of cluster or workgroup']],
  ['database with neither', (o) => setAt(o, 'databases.lake.workgroup', undefined), ['databases.lake: must set exactly one of cluster or workgroup']],
  ['host on a workgroup', (o) => setAt(o, 'databases.lake', { workgroup: 'w', host: 'h', port: 5439, region: 'eu-west-1' }), ['databases.lake.host: needs cluster (the API call names the cluster)']],
  ['host without port', (o) => setAt(o, 'databases.analytics.host', '10.0.0.5'), ['databases.analytics.port: required with host (1..65535)']],
  ['port out of range', (o) => setAt(o, 'databases.analytics.port', 0), ['databases.analytics.port: must be an integer from 1 to 65535 (got 0)']],
  ['engine', (o) => setAt(o, 'databases.analytics.engine', 'mysql'), ['databases.analytics.engine: must be one of redshift, postgres (got "mysql")']],
  ['upstreamTls.mode', (o) => setAt(o, 'databases.analytics.upstreamTls', { mode: 'disable' }), ['databases.analytics.upstreamTls.mode: must be one of verify-full, verify-ca, require (got "disable")']],
  ['database region missing', (o) => setAt(o, 'databases.analytics.region', undefined), ['databases.analytics.region: required; must be an AWS region like eu-west-1 (missing)']],
  ['unknown key in a database', (o) => setAt(o, 'databases.analytics.hostname', 'x'), ['databases.analytics.hostname: unknown key']],
  ['no databases', (o) => setAt(o, 'databases', {}), ['databases: must define at least one database (got {})']],
  ['rule database missing', (o) => setAt(o, 'rules.0.databases', ['analytics', 'nope']), ['rules[0].databases[1]: "nope" is not a key of databases (analytics, lake)']],
  ['sessionName without trust', (o) => setAt(o, 'rules.0.trustSessionName', false), ['rules[0].dbUser: {sessionName} needs trustSessionName: true']],
  ['unknown template', (o) => setAt(o, 'rules.0.dbUser', '{accessKeyId}'), ['rules[0].dbUser: unknown template {accessKeyId}; allowed: {sessionName} {roleName} {userName} {accountId}']],
  ['principal grammar', (o) => setAt(o, 'rules.0.principal', 'arn:aws:iam::*:role/X'), ['rules[0].principal: must be an IAM role or user ARN like arn:aws:iam::123456789012:role/Name (* allowed after the account) (got "arn:aws:iam::*:role/X")']],
  ['assumeRole grammar', (o) => setAt(o, 'rules.1.assumeRole', 'rsproxy-lake-bi'), ['rules[1].assumeRole: must be an IAM role ARN like arn:aws:iam::123456789012:role/Name (got "rsproxy-lake-bi")']],
  ['rule without databases', (o) => setAt(o, 'rules.0.databases', []), ['rules[0].databases: must list at least one database (or *) (got [])']],
  ['autoCreate on a workgroup rule', (o) => setAt(o, 'rules.1.autoCreate', true), ['rules[1].autoCreate: not allowed on a workgroup database (lake)']],
  ['dbGroups on a workgroup rule without assumeRole', (o) => setAt(o, 'rules.1.assumeRole', undefined), ['rules[1].dbGroups: need assumeRole on a workgroup database (lake)']],
  ['template dbUser on a workgroup rule', (o) => setAt(o, 'rules.1.dbUser', '{roleName}'), ['rules[1].dbUser: must be a literal on a workgroup database (lake)']],
  ['cluster rule without dbUser', (o) => setAt(o, 'rules.0.dbUser', undefined), ['rules[0].dbUser: required when the rule allows a cluster database (analytics)']],
  ['* applies workgroup checks too', (o) => setAt(o, 'rules.0.databases', ['*']), ['rules[0].autoCreate: not allowed on a workgroup database (lake)', 'rules[0].dbGroups: need assumeRole on a workgroup database (lake)', 'rules[0].dbUser: must be a literal on a workgroup database (lake)']],
];

for (const [name, mutate, expected] of rows) {
  test(`rejects: ${name}`, () => {
    const o = base();
    mutate(o);
    const r = resolveConfig(o);
    assert.equal(r.ok, false, `expected errors for ${name}`);
    if (!r.ok) assert.deepEqual(r.errors, expected);
  });
}

test('cluster.self defaults to $POD_IP and the listen port, only when peers or peerDns are set', () => {
  const withPeers = setAt(base(), 'cluster', { peerDns: 'rsproxy-peers.ns.svc:5439' });
  setAt(withPeers, 'listen', '0.0.0.0:6543');
  const r = resolveConfig(withPeers, { env: { POD_IP: '10.1.2.3' } });
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
  assert.equal(r.config.cluster.self, '10.1.2.3:6543');
  const v6 = resolveConfig(setAt(base(), 'cluster', { peers: ['[fd00::7]:5439'] }), { env: { POD_IP: 'fd00::6' } });
  assert.ok(v6.ok && v6.config.cluster.self === '[fd00::6]:5439');
  const explicit = resolveConfig(setAt(base(), 'cluster', { self: '10.9.9.9:5439', peers: ['10.0.0.7:5439'] }), { env: { POD_IP: '10.1.2.3' } });
  assert.ok(explicit.ok && explicit.config.cluster.self === '10.9.9.9:5439', 'an explicit self wins');
  const alone = resolveConfig(base(), { env: { POD_IP: '10.1.2.3' } });
  assert.ok(alone.ok && alone.config.cluster.self === '', 'no cluster, no default');
  const garbage = resolveConfig(setAt(base(), 'cluster', { peers: ['10.0.0.7:5439'] }), { env: { POD_IP: 'not an ip' } });
  assert.ok(!garbage.ok && garbage.errors[0]?.startsWith('cluster.self: must be host:port'));
});

test('literal dbUser, dbGroups and dbName must pass the Redshift name rules', () => {
  const o = base();
  setAt(o, 'rules.0.dbUser', 'PUBLIC');
  setAt(o, 'rules.0.dbGroups', ['Analysts']);
  setAt(o, 'databases.analytics.dbName', 'Dev');
  const r = resolveConfig(o);
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.errors.length, 3, r.errors.join('\n'));
  assert.match(r.errors[0] ?? '', /^databases\.analytics\.dbName: database name "Dev" \S/);
  assert.match(r.errors[1] ?? '', /^rules\[0\]\.dbUser: "PUBLIC" \S/);
  assert.match(r.errors[2] ?? '', /^rules\[0\]\.dbGroups\[0\]: "Analysts" \S/);
});

test('reports every problem at once, one line each', () => {
  const o = base();
  setAt(o, 'limits', { loginTimeoutMs: '10s', maxClientConnections: 0, bogus: 1 });
  setAt(o, 'identity.audience', '');
  const r = resolveConfig(o);
  assert.equal(r.ok, false);
  if (!r.ok) assert.equal(r.errors.length, 4, r.errors.join('\n'));
});

test('a workgroup rule without assumeRole is a warning, not an error', () => {
  const o = base();
  setAt(o, 'rules.1', { principal: 'arn:aws:iam::123456789012:role/BI-*', databases: ['lake'] });
  const r = resolveConfig(o);
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
  assert.deepEqual(r.warnings, [
    "rules[1]: workgroup database (lake) without assumeRole: every client of this rule shares the proxy's own database user",
  ]);
});

test('workgroup dbGroups of exactly 256 characters joined are accepted', () => {
  const o = base();
  setAt(o, 'rules.1.dbGroups', ['a'.repeat(64), 'b'.repeat(64), 'c'.repeat(64), 'd'.repeat(61)]);
  const r = resolveConfig(o);
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
});

test('database regions follow identity.partition: cn-* under aws-cn, us-gov-* under aws-us-gov', () => {
  for (const [partition, region, sts] of [['aws-cn', 'cn-northwest-1', 'cn-north-1'], ['aws-us-gov', 'us-gov-east-1', 'us-gov-west-1']] as const) {
    const o = base();
    setAt(o, 'identity.partition', partition);
    setAt(o, 'identity.stsRegions', [sts]);
    setAt(o, 'databases.analytics.region', region);
    setAt(o, 'databases.lake.region', 'eu-west-1');
    const r = resolveConfig(o);
    assert.equal(r.ok, false);
    if (!r.ok) assert.deepEqual(r.errors, [`databases.lake.region: region "eu-west-1" is not in partition ${partition}`]);
  }
});

test('upstreamTls.mode require is a warning (tests only), not an error', () => {
  const o = base();
  setAt(o, 'databases.analytics.upstreamTls', { mode: 'require' });
  const r = resolveConfig(o);
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
  assert.deepEqual(r.warnings, [
    "databases.analytics.upstreamTls.mode: require encrypts without verifying the upstream's certificate (tests only); use verify-full in production",
  ]);
});

test('partitions: aws-cn regions under aws-cn are fine', () => {
  const o = base();
  setAt(o, 'identity.partition', 'aws-cn');
  setAt(o, 'identity.stsRegions', ['cn-north-1', 'us-gov-west-1']);
  setAt(o, 'databases.analytics.region', 'cn-north-1');
  setAt(o, 'databases.lake.region', 'cn-north-1');
  const r = resolveConfig(o);
  assert.equal(r.ok, false);
  if (!r.ok) assert.deepEqual(r.errors, ['identity.stsRegions[1]: region "us-gov-west-1" is not in partition aws-cn']);
});

test('flags and env derive mechanically from key paths', () => {
  const byPath = new Map(scalarKeys.map((k) => [k.path.join('.'), k]));
  assert.deepEqual(
    { flag: byPath.get('limits.loginTimeoutMs')?.flag, env: byPath.get('limits.loginTimeoutMs')?.env },
    { flag: 'limits-login-timeout-ms', env: 'RSPROXY_LIMITS_LOGIN_TIMEOUT_MS' },
  );
  assert.equal(byPath.get('identity.acceptEksTokens')?.env, 'RSPROXY_IDENTITY_ACCEPT_EKS_TOKENS');
  assert.equal(byPath.get('admin.listen')?.flag, 'admin-listen');
  assert.equal(byPath.get('identity.stsRegions')?.kind, 'list');
  assert.equal(byPath.has('databases'), false, 'records are file-only');
  assert.equal(byPath.has('rules'), false, 'rules are file-only');
  assert.match(byPath.get('limits.loginTimeoutMs')?.description ?? '', /Default 10000/);
});

test('startupParameters.drop: names and custom x.y settings from the file, env (comma list) or flag', () => {
  const file = setAt(base(), 'startupParameters', { drop: ['geqo', 'app.tenant', 'driver_version'] });
  const r = resolveConfig(file);
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
  assert.deepEqual(r.config.startupParameters.drop, ['geqo', 'app.tenant', 'driver_version']);
  const key = scalarKeys.find((k) => k.path.join('.') === 'startupParameters.drop');
  assert.deepEqual([key?.flag, key?.env, key?.kind], ['startup-parameters-drop', 'RSPROXY_STARTUP_PARAMETERS_DROP', 'list']);
  const env = resolveConfig(base(), { env: { RSPROXY_STARTUP_PARAMETERS_DROP: 'geqo, work_mem' } });
  assert.ok(env.ok && env.config.startupParameters.drop.join() === 'geqo,work_mem');
  const flag = resolveConfig(base(), { flags: { 'startup-parameters-drop': 'search_path' } });
  assert.ok(flag.ok && flag.config.startupParameters.drop.join() === 'search_path');
});

test('precedence: flag > env > file > default', () => {
  const file = base();
  setAt(file, 'limits', { loginTimeoutMs: 2000 });
  const env = { RSPROXY_LIMITS_LOGIN_TIMEOUT_MS: '3000', RSPROXY_SHUTDOWN_DRAIN_SECONDS: '5', RSPROXY_IDENTITY_STS_REGIONS: 'us-east-1, us-west-2' };
  const get = (flags: Record<string, string>) => {
    const r = resolveConfig(file, { env, flags });
    assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
    return r.config;
  };
  assert.equal(get({}).limits.loginTimeoutMs, 3000);
  assert.equal(get({ 'limits-login-timeout-ms': '4000' }).limits.loginTimeoutMs, 4000);
  assert.equal(get({}).shutdown.drainSeconds, 5);
  assert.deepEqual(get({}).identity.stsRegions, ['us-east-1', 'us-west-2']);
  assert.equal(get({}).limits.maxStartupBytes, 10000);
  assert.equal(get({ 'identity-accept-eks-tokens': 'true' }).identity.acceptEksTokens, true);
  const fileOnly = resolveConfig(file);
  assert.ok(fileOnly.ok);
  if (fileOnly.ok) assert.equal(fileOnly.config.limits.loginTimeoutMs, 2000);
});

test('a bad override names its source; unknown RSPROXY_ vars warn', () => {
  const r = resolveConfig(base(), { env: { RSPROXY_LIMITS_LOGIN_TIMEOUT_MS: '10s', RSPROXY_TYPO: '1' } });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(r.errors, ['limits.loginTimeoutMs: must be an integer ≥ 1000 (got "10s" from RSPROXY_LIMITS_LOGIN_TIMEOUT_MS)']);
  assert.deepEqual(r.warnings, ['RSPROXY_TYPO: not a config key; ignored']);
  const f = resolveConfig(base(), { flags: { 'limits-login-timeout-ms': 'soon' } });
  assert.ok(!f.ok && f.errors[0] === 'limits.loginTimeoutMs: must be an integer ≥ 1000 (got "soon" from --limits-login-timeout-ms)');
});

test('cluster.self and cluster.peerDns (string unions) are settable from env and flags; a bad value names its source', () => {
  const byPath = new Map(scalarKeys.map((k) => [k.path.join('.'), k]));
  assert.deepEqual([byPath.get('cluster.self')?.env, byPath.get('cluster.self')?.flag, byPath.get('cluster.self')?.kind], ['RSPROXY_CLUSTER_SELF', 'cluster-self', 'string']);
  assert.deepEqual([byPath.get('cluster.peerDns')?.env, byPath.get('cluster.peerDns')?.flag], ['RSPROXY_CLUSTER_PEER_DNS', 'cluster-peer-dns']);
  const r = resolveConfig(base(), { env: { RSPROXY_CLUSTER_SELF: '10.0.0.5:5439', RSPROXY_CLUSTER_PEER_DNS: 'rsproxy-peers.ns.svc:5439', POD_IP: '10.1.2.3' } });
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
  assert.deepEqual(r.config.cluster, { self: '10.0.0.5:5439', peers: [], peerDns: 'rsproxy-peers.ns.svc:5439' });
  assert.equal(r.warnings.length, 0);
  const f = resolveConfig(setAt(base(), 'cluster', { peers: ['10.0.0.7:5439'] }), { flags: { 'cluster-self': '10.0.0.6:5440' } });
  assert.ok(f.ok && f.config.cluster.self === '10.0.0.6:5440');
  const bad = resolveConfig(base(), { env: { RSPROXY_CLUSTER_SELF: '10.0.0.5' } });
  assert.ok(!bad.ok);
  if (!bad.ok) assert.deepEqual(bad.errors, ['cluster.self: must be host:port with a port from 0 to 65535 (got "10.0.0.5" from RSPROXY_CLUSTER_SELF)']);
  const badFlag = resolveConfig(base(), { flags: { 'cluster-peer-dns': 'rsproxy-peers' } });
  assert.ok(!badFlag.ok && badFlag.errors[0] === 'cluster.peerDns: must be name:port (got "rsproxy-peers" from --cluster-peer-dns)');
});

test('YAML and JSON files load; syntax errors and missing files are one line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-config-'));
  try {
    const json = join(dir, 'c.json');
    writeFileSync(json, JSON.stringify(base()));
    const r1 = loadConfigFile(json);
    assert.ok(r1.ok);
    const yaml = join(dir, 'c.yaml');
    writeFileSync(yaml, 'listen: "127.0.0.1:0"\nlisten: "127.0.0.1:1"\n');
    const r2 = loadConfigFile(yaml);
    assert.ok(!r2.ok);
    if (!r2.ok) {
      assert.equal(r2.errors.length, 1);
      assert.match(r2.errors[0] ?? '', /c\.yaml: not valid YAML or JSON: .*unique/i);
    }
    const r3 = loadConfigFile(join(dir, 'missing.yaml'));
    assert.ok(!r3.ok && r3.errors[0]?.endsWith('missing.yaml: cannot read the config file (ENOENT)'));
    assert.deepEqual(parseConfigText('a: [1, 2]'), { a: [1, 2] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a non-mapping file is one error', () => {
  const r = resolveConfig([1, 2]);
  assert.ok(!r.ok && r.errors[0] === '(config): must be a mapping (the config file) (got [1,2])');
});

test('redacted dump hides secret-looking values and keeps the rest', () => {
  const r = resolveConfig(base());
  assert.ok(r.ok);
  if (!r.ok) return;
  const dumped = redactConfig({ ...r.config, extra: { password: 'hunter2', url: 'postgres://u:pw@h/db', note: 'rsp1.a.b' } }) as RsproxyConfig & {
    extra: Record<string, string>;
  };
  assert.equal(dumped.tls.keyFile, '/etc/rsproxy/tls.key');
  assert.equal(dumped.credentials.durationSeconds, 900);
  assert.deepEqual(dumped.extra, { password: '[REDACTED]', url: '[REDACTED]', note: '[REDACTED]' });
});

test('parseHostPort splits host and port, IPv6 in brackets', () => {
  assert.deepEqual(parseHostPort('0.0.0.0:5439'), { host: '0.0.0.0', port: 5439 });
  assert.deepEqual(parseHostPort('[::1]:0'), { host: '::1', port: 0 });
  assert.throws(() => parseHostPort('nope'));
});
