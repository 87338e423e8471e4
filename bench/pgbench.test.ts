import { test } from 'node:test';
import assert from 'node:assert/strict';
import { conninfo, parsePgbenchOutput } from './pgbench.js';

// Verbatim summary of pgbench 15.
const pg15Output = `pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: <builtin: select only>
scaling factor: 1
query mode: prepared
number of clients: 8
number of threads: 2
maximum number of tries: 1
duration: 3 s
number of transactions actually processed: 26318
number of failed transactions: 0 (0.000%)
latency average = 0.859 ms
initial connection time = 41.212 ms
tps = 9309.666871 (without initial connection time)
`;

test('parsePgbenchOutput reads tps, latency, processed and failed counts', () => {
  assert.deepEqual(parsePgbenchOutput(pg15Output), { tps: 9309.666871, latencyAvgMs: 0.859, transactions: 26318, failedTransactions: 0 });
});

test('parsePgbenchOutput reports failed transactions', () => {
  const r = parsePgbenchOutput(pg15Output.replace('number of failed transactions: 0 (0.000%)', 'number of failed transactions: 7 (0.027%)'));
  assert.equal(r.failedTransactions, 7);
});

test('parsePgbenchOutput throws without a tps line, quoting the output', () => {
  assert.throws(() => parsePgbenchOutput('pgbench: error: connection to server failed'), /no tps line[\s\S]*connection to server failed/);
});

test('conninfo never contains the password', () => {
  const s = conninfo({ name: 'x', host: '127.0.0.1', port: 5, user: 'u', database: 'd', password: 'secret-token' });
  assert.equal(s, 'host=127.0.0.1 port=5 user=u dbname=d sslmode=require');
  assert.ok(!s.includes('secret-token'));
});
