/**
 * Keeps bench/reuse.ts working: one tiny run (1 s per target, 4 logins, delays 0 and 50 ms) must measure every
 * target and write its JSON. It checks the shape of the results and that reuse hits happened, never their speed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pgbouncerBin } from '../../bench/pgbouncer.js';
import { requirePg } from '../../testkit/pg-cluster.js';
import { commandWorks, requireTool } from '../../testkit/tools.js';

const reuseJs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'reuse.js');

interface ReuseBenchJson {
  churn: Array<{ delayMs: number; target: string; result: { tps: number; transactions: number; failedTransactions: number } }>;
  logins: Array<{ delayMs: number; name: string; stats: { count: number; medianMs: number } }>;
  hitRatios: Array<{ delayMs: number; hit: number; miss: number }>;
  steady: Array<{ mode: string; target: string; tps: number[] }>;
}

test('bench/reuse.js: a tiny run measures rsproxy with and without reuse, direct and PgBouncer at two login delays', { timeout: 240_000 }, async (t) => {
  if (!requirePg(t) || !requireTool(t, 'pgbench', commandWorks('pgbench'))) return;
  if (!requireTool(t, `pgbouncer at ${pgbouncerBin()}`, existsSync(pgbouncerBin()))) return;
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-bench-reuse-'));
  try {
    const jsonFile = join(dir, 'reuse.json');
    const args = [reuseJs, '--seconds', '1', '--clients', '2', '--logins', '4', '--delays', '0,50', '--steady-rounds', '1', '--json', jsonFile];
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, args, { encoding: 'utf8', timeout: 230_000 }, (err, out, stderr) => (err ? reject(new Error(`bench failed: ${stderr.slice(-1500)}`, { cause: err })) : resolve(out)));
    });
    assert.match(stdout, /^hit ratio during the reuse churn at 50 ms: [\d.]+% \(\d+ hits, \d+ misses\)$/m);
    const json = JSON.parse(readFileSync(jsonFile, 'utf8')) as ReuseBenchJson;
    for (const delayMs of [0, 50]) {
      assert.deepEqual(json.churn.filter((r) => r.delayMs === delayMs).map((r) => r.target), ['direct TLS', 'rsproxy', 'rsproxy reuse', 'pgbouncer TLS']);
      assert.deepEqual(json.logins.filter((r) => r.delayMs === delayMs).map((r) => r.name), ['rsproxy', 'rsproxy reuse', 'direct TLS (SCRAM)']);
    }
    for (const row of json.churn) {
      assert.ok(row.result.transactions > 0, `${row.target} at ${row.delayMs} ms ran transactions`);
      assert.equal(row.result.failedTransactions, 0);
    }
    for (const h of json.hitRatios) assert.ok(h.hit > 0, `reuse hits at ${h.delayMs} ms`);
    assert.deepEqual(json.steady.map((r) => `${r.mode} ${r.target}`), ['simple rsproxy', 'simple rsproxy reuse', 'prepared rsproxy', 'prepared rsproxy reuse']);
    for (const r of json.steady) assert.ok(r.tps.length === 1 && r.tps[0]! > 0, `steady ${r.mode} ${r.target} ran`);
    assert.match(stdout, /^simple\s+rsproxy reuse\s+[\d.]+\s+[\d.]+x/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
