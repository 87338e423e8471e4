import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBenchArgs } from './args.js';

test('parseBenchArgs defaults: 10 s, 8 clients, 200 logins, simple + prepared, with pgbouncer', () => {
  const o = parseBenchArgs([]);
  assert.deepEqual(o, { seconds: 10, clients: 8, threads: 2, logins: 200, rounds: 1, modes: ['simple', 'prepared'], withPgbouncer: true });
});

test('parseBenchArgs reads flags', () => {
  const o = parseBenchArgs(['--seconds', '3', '--clients', '4', '--logins', '50', '--modes', 'prepared', '--no-pgbouncer', '--json', '/tmp/x.json']);
  assert.equal(o.seconds, 3);
  assert.equal(o.clients, 4);
  assert.equal(o.logins, 50);
  assert.deepEqual(o.modes, ['prepared']);
  assert.equal(o.withPgbouncer, false);
  assert.equal(o.jsonFile, '/tmp/x.json');
});

test('parseBenchArgs bounds every count and duration', () => {
  assert.throws(() => parseBenchArgs(['--seconds', '0']), /--seconds must be an integer from 1 to 120/);
  assert.throws(() => parseBenchArgs(['--seconds', '121']), /--seconds/);
  assert.throws(() => parseBenchArgs(['--clients', '65']), /--clients/);
  assert.throws(() => parseBenchArgs(['--logins', '1.5']), /--logins/);
  assert.throws(() => parseBenchArgs(['--rounds', '11']), /--rounds/);
  assert.throws(() => parseBenchArgs(['--modes', 'simple,bogus']), /unknown mode bogus/);
});
