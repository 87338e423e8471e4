import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommandArgs, UsageError } from './args.js';
import { connectionParamsOf, userConnectionOptionSpecs } from './client-options.js';

test('connectionParamsOf assembles host, port, dbname, user and TLS flags', () => {
  const args = parseCommandArgs(
    ['--host', 'proxy.example', '--port', '6543', '--dbname', 'dev', '--user', 'alice', '--sslmode', 'require', '--sslrootcert', '/ca.pem'],
    userConnectionOptionSpecs,
  );
  assert.deepEqual(connectionParamsOf(args), { host: 'proxy.example', port: 6543, dbName: 'dev', user: 'alice', sslMode: 'require', sslRootCert: '/ca.pem' });
});

test('connectionParamsOf defaults port 5439 and verify-full, and omits sslRootCert', () => {
  const args = parseCommandArgs(['--host', 'h', '--dbname', 'd', '--user', 'u'], userConnectionOptionSpecs);
  const p = connectionParamsOf(args);
  assert.deepEqual(p, { host: 'h', port: 5439, dbName: 'd', user: 'u', sslMode: 'verify-full' });
  assert.equal('sslRootCert' in p, false);
});

test('connectionParamsOf reports the first missing flag in host, dbname order', () => {
  assert.throws(() => connectionParamsOf(parseCommandArgs([], userConnectionOptionSpecs)), (e: unknown) => e instanceof UsageError && /--host/.test(e.message));
  assert.throws(
    () => connectionParamsOf(parseCommandArgs(['--host', 'h'], userConnectionOptionSpecs)),
    (e: unknown) => e instanceof UsageError && /--dbname/.test(e.message),
  );
  assert.throws(
    () => connectionParamsOf(parseCommandArgs(['--host', 'h', '--dbname', 'd', '--user', 'u', '--port', '0'], userConnectionOptionSpecs)),
    (e: unknown) => e instanceof UsageError && /--port/.test(e.message),
  );
});
