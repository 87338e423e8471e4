import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../errors/exit-codes.js';
import { connectionParamsOf } from './client-options.js';
import { specOf } from './command-specs.js';
import { parseCommand } from './options.js';

const url = (argv: string[]) => parseCommand(specOf('url'), ['--format', 'libpq', ...argv]);

test('connectionParamsOf assembles host, port, dbname, user and TLS flags', () => {
  const args = url(['--host', 'proxy.example', '--port', '6543', '--dbname', 'dev', '--user', 'alice', '--sslmode', 'require', '--sslrootcert', '/ca.pem']);
  assert.deepEqual(connectionParamsOf(args), { host: 'proxy.example', port: 6543, dbName: 'dev', user: 'alice', sslMode: 'require', sslRootCert: '/ca.pem' });
});

test('connectionParamsOf defaults port 5439 and verify-full, and omits sslRootCert', () => {
  const p = connectionParamsOf(url(['--host', 'h', '--dbname', 'd', '--user', 'u']));
  assert.deepEqual(p, { host: 'h', port: 5439, dbName: 'd', user: 'u', sslMode: 'verify-full' });
  assert.equal('sslRootCert' in p, false);
});

test('the table reports the first missing flag in host, dbname order, and a port out of range', () => {
  assert.throws(() => url([]), (e: unknown) => e instanceof UsageError && /--host is required/.test(e.message));
  assert.throws(() => url(['--host', 'h']), (e: unknown) => e instanceof UsageError && /--dbname is required/.test(e.message));
  assert.throws(
    () => url(['--host', 'h', '--dbname', 'd', '--user', 'u', '--port', '0']),
    (e: unknown) => e instanceof UsageError && /--port: must be an integer 1\.\.65535 \(got "0"\)/.test(e.message),
  );
});

test('the older spellings --db-name and --database still set --dbname', () => {
  for (const spelling of ['--dbname', '--db-name', '--database']) {
    assert.equal(connectionParamsOf(url(['--host', 'h', spelling, 'analytics', '--user', 'u'])).dbName, 'analytics', spelling);
  }
  assert.throws(() => url(['--host', 'h', '--dbname', 'a', '--database', 'b', '--user', 'u']), /--dbname is given more than once \(as --dbname and --database\)/);
});
