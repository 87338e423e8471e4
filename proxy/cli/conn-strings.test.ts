import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  ConnStringError,
  credentialsJson,
  dbeaverProfile,
  envExports,
  jdbcUrl,
  JdbcDriver,
  lengthWarnings,
  libpqKeywordValue,
  libpqQuote,
  libpqUri,
  odbcBrace,
  odbcConnectionString,
  odbcDecodedValue,
  shellQuote,
  type ConnectionParams,
} from './conn-strings.js';

const token = `rsp1.eu-west-1.20261124T101500Z.ASIAEXAMPLEEXAMPLE12.${'ab'.repeat(32)}.${'IQoJb3JpZ2lu_-'.repeat(140)}`;
const nasty = [
  'semi;colon',
  '{braced}',
  'close}brace',
  'a=b',
  '100%25 %zz',
  'user@host',
  "it's",
  'say "hi"',
  '  spaced  ',
  'plus+sign',
  'back\\slash',
  'amp&er?q#h/s:c',
  'ünïcødé',
  token,
];

const base: ConnectionParams = { host: 'rsproxy.example.com', port: 5439, dbName: 'analytics', user: 'alice', password: token, sslMode: 'verify-full' };

/** java.net.URLDecoder semantics (pgjdbc decodes URL values with it): `+` is a space. */
function javaUrlDecode(s: string): string {
  return decodeURIComponent(s.replaceAll('+', ' '));
}

function jdbcQuery(url: string): Map<string, string> {
  const q = url.slice(url.indexOf('?') + 1);
  return new Map(q.split('&').map((kv) => [kv.slice(0, kv.indexOf('=')), javaUrlDecode(kv.slice(kv.indexOf('=') + 1))] as const));
}

/** psqlODBC's dconn_get_attributes + decode_or_remove_braces, for values it de-braces (Pwd, pqopt). */
function psqlOdbcPwd(connString: string): string | undefined {
  const m = /;Pwd=(.*?)(?:;SSLmode=)/.exec(connString);
  const v = m?.[1];
  if (v === undefined) return undefined;
  if (v.startsWith('{') && v.endsWith('}')) return v.slice(1, -1).replaceAll('}}', '}');
  return v.replace(/\+/g, ' ').replace(/%([0-9a-fA-F]{2})/g, (_x, h: string) => String.fromCharCode(parseInt(h, 16)));
}

test('jdbc: every value round-trips through URLDecoder; + and space are percent-encoded', () => {
  for (const pw of nasty) {
    const url = jdbcUrl({ ...base, password: pw, user: `IAMA:${pw.slice(0, 10)}` });
    assert.match(url, /^jdbc:postgresql:\/\/rsproxy\.example\.com:5439\/analytics\?user=/);
    assert.doesNotMatch(url.slice(url.indexOf('?')), /[ +;{}"'#]/, url);
    const q = jdbcQuery(url);
    assert.equal(q.get('password'), pw);
    assert.equal(q.get('user'), `IAMA:${pw.slice(0, 10)}`);
    assert.equal(q.get('sslmode'), 'verify-full');
  }
});

test('jdbc: the token alphabet needs no escaping (docs/design/wire-protocol.md §14 item 14)', () => {
  const url = jdbcUrl(base);
  assert.ok(url.includes(`password=${token}&`));
  assert.ok(url.length > 2000);
});

test('jdbc: --driver redshift gives jdbc:redshift:// with ssl=true, and sslrootcert is carried', () => {
  const url = jdbcUrl({ ...base, sslRootCert: '/etc/ssl/my ca.pem' }, JdbcDriver.Redshift);
  assert.match(url, /^jdbc:redshift:\/\/rsproxy\.example\.com:5439\/analytics\?/);
  const q = jdbcQuery(url);
  assert.equal(q.get('ssl'), 'true');
  assert.equal(q.get('sslrootcert'), '/etc/ssl/my ca.pem');
  assert.equal(jdbcUrl({ ...base, host: '::1' }).startsWith('jdbc:postgresql://[::1]:5439/'), true);
});

test('odbc: Pwd is braced (} doubled) unless plain, and psqlODBC decoding gives it back', () => {
  for (const pw of nasty) {
    const s = odbcConnectionString({ ...base, password: pw });
    assert.equal(psqlOdbcPwd(s), pw, s);
  }
  assert.equal(odbcDecodedValue(token), token);
  assert.equal(odbcDecodedValue('a}b;c'), '{a}}b;c}');
  assert.equal(odbcBrace('}}'), '{}}}}}');
  assert.equal(odbcDecodedValue('plus+sign'), '{plus+sign}', 'an unbraced Pwd would be percent-decoded');
  assert.equal(odbcDecodedValue('100%'), '{100%}');
});

test('odbc: exact shape, Uid written raw (psqlODBC copies it literally), pqopt carries sslrootcert', () => {
  const s = odbcConnectionString({ ...base, user: 'IAMA:alice', password: 'p;w', sslRootCert: "/tmp/o'ca.pem" });
  assert.equal(s, "Driver={PostgreSQL Unicode};Server=rsproxy.example.com;Port=5439;Database=analytics;Uid=IAMA:alice;Pwd={p;w};SSLmode=verify-full;pqopt={sslrootcert='/tmp/o\\'ca.pem'}");
  assert.equal(odbcConnectionString({ ...base, user: 'a{b}' }).includes(';Uid=a{b};'), true);
});

test('odbc: user names psqlODBC cannot take literally are refused, not mangled', () => {
  for (const user of ['a;b', '{x}', ' lead', 'trail ']) {
    assert.throws(() => odbcConnectionString({ ...base, user }), (e: unknown) => e instanceof ConnStringError && e.exitCode === 1);
  }
  assert.throws(() => odbcConnectionString({ ...base, dbName: 'x;Driver=evil' }), ConnStringError);
});

test('odbc: no Pwd with --no-token', () => {
  const { password: _omit, ...noPw } = base;
  assert.equal(odbcConnectionString(noPw).includes('Pwd='), false);
});

test('libpq URI: every component percent-encoded; WHATWG URL decodes it back', () => {
  for (const pw of nasty) {
    const uri = libpqUri({ ...base, user: pw, password: pw, dbName: pw.slice(0, 20) });
    const u = new URL(uri);
    assert.equal(u.protocol, 'postgresql:');
    assert.equal(decodeURIComponent(u.username), pw);
    assert.equal(decodeURIComponent(u.password), pw);
    assert.equal(decodeURIComponent(u.pathname.slice(1)), pw.slice(0, 20));
    assert.equal(u.searchParams.get('sslmode'), 'verify-full');
    assert.doesNotMatch(uri.slice('postgresql://'.length), /[ +;{}"'@](?=.*@)/);
  }
  assert.equal(libpqUri({ ...base, password: 'x' }), 'postgresql://alice:x@rsproxy.example.com:5439/analytics?sslmode=verify-full');
});

test('libpq keyword/value: single-quoted with \\ and \' escaped', () => {
  assert.equal(libpqQuote("it's a \\ test"), "'it\\'s a \\\\ test'");
  const kv = libpqKeywordValue({ ...base, password: "p'w d", sslRootCert: '/c a.pem' });
  assert.equal(kv, "host='rsproxy.example.com' port='5439' dbname='analytics' user='alice' password='p\\'w d' sslmode='verify-full' sslrootcert='/c a.pem'");
});

test('env: export lines, shell-quoted; a real shell reads every value back', () => {
  for (const pw of nasty) {
    const out = envExports({ ...base, password: pw, sslRootCert: '/tmp/ca.pem' });
    assert.match(out, /^export PGHOST='rsproxy\.example\.com'\nexport PGPORT='5439'\n/);
    const got = execFileSync('/bin/sh', ['-c', `${out}printf '%s' "$PGPASSWORD"`], { encoding: 'utf8', env: {} });
    assert.equal(got, pw);
  }
  assert.equal(shellQuote("a'b"), "'a'\\''b'");
  const { password: _omit, ...noPw } = base;
  assert.equal(envExports(noPw).includes('PGPASSWORD'), false);
});

test('json: the AWS CLI keys plus Host, Port, DbName', () => {
  const out = JSON.parse(credentialsJson({ dbUser: 'IAM:alice', dbPassword: 'p"w', expiresAtMs: Date.UTC(2026, 10, 24, 10, 30), host: 'h', port: 5439, dbName: 'dev' })) as Record<string, unknown>;
  assert.deepEqual(out, { DbUser: 'IAM:alice', DbPassword: 'p"w', Expiration: '2026-11-24T10:30:00+00:00', Host: 'h', Port: 5439, DbName: 'dev' });
});

test('dbeaver: a data-sources.json fragment; URL without credentials, password only when given', () => {
  const j = JSON.parse(dbeaverProfile({ ...base, sslRootCert: '/ca.pem' })) as { connections: Record<string, { provider: string; driver: string; configuration: Record<string, string> }> };
  const c = j.connections['rsproxy-analytics'];
  assert.ok(c);
  assert.equal(c.provider, 'postgresql');
  assert.equal(c.driver, 'postgres-jdbc');
  assert.equal(c.configuration['url'], 'jdbc:postgresql://rsproxy.example.com:5439/analytics?sslmode=verify-full&sslrootcert=%2Fca.pem');
  assert.equal(c.configuration['user'], 'alice');
  assert.equal(c.configuration['password'], token);
  const { password: _omit, ...noPw } = base;
  assert.equal(dbeaverProfile(noPw).includes('"password"'), false);
});

test('length warning: only for ODBC tokens over the Redshift ODBC driver\'s 1,024-character PWD limit', () => {
  assert.equal(lengthWarnings(token, 'odbc').length, 1);
  assert.match(lengthWarnings(token, 'odbc')[0] ?? '', /1024/);
  assert.deepEqual(lengthWarnings('x'.repeat(1024), 'odbc'), []);
  assert.deepEqual(lengthWarnings(token, 'jdbc'), []);
  assert.deepEqual(lengthWarnings(undefined, 'odbc'), []);
});
