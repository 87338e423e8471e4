/**
 * Keeps bench/run.ts working: one short run (1 s per target, 4 logins) must measure every target and write
 * its JSON. It checks the shape of the results, never their speed (performance lives in the bench itself).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pgbouncerBin } from '../../bench/pgbouncer.js';
import { socatBin } from '../../bench/tcp-forward.js';
import { requirePg } from '../../testkit/pg-cluster.js';
import { commandWorks, requireTool } from '../../testkit/tools.js';

const runJs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'run.js');

interface BenchJson {
  tps: Array<{ target: string; mode: string; result: { tps: number; transactions: number; failedTransactions: number }; proxyCpuUsPerTx?: number; machineBusyShare?: number }>;
  logins: Array<{ name: string; stats: { count: number; medianMs: number } }>;
}

test('bench/run.js: a 1-second run measures direct, tcp-forward, pgbouncer, node-pipe and rsproxy, and login latency', { timeout: 180_000 }, async (t) => {
  if (!requirePg(t) || !requireTool(t, 'pgbench', commandWorks('pgbench'))) return;
  if (!requireTool(t, `socat at ${socatBin()}`, existsSync(socatBin())) || !requireTool(t, `pgbouncer at ${pgbouncerBin()}`, existsSync(pgbouncerBin()))) return;
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-bench-'));
  try {
    const jsonFile = join(dir, 'bench.json');
    const args = [runJs, '--seconds', '1', '--clients', '2', '--threads', '1', '--logins', '4', '--modes', 'simple', '--json', jsonFile];
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, args, { encoding: 'utf8', timeout: 170_000 }, (err, out, stderr) => (err ? reject(new Error(`bench failed: ${stderr.slice(-1500)}`, { cause: err })) : resolve(out)));
    });
    assert.match(stdout, /^ratio simple {4}tcp-forward\/direct = [\d.]+ {3}pgbouncer\/direct = [\d.]+ {3}node-pipe\/direct = [\d.]+ {3}rsproxy\/direct = [\d.]+$/m);
    const json = JSON.parse(readFileSync(jsonFile, 'utf8')) as BenchJson;
    assert.deepEqual(json.tps.map((r) => r.target), ['direct', 'tcp-forward', 'pgbouncer', 'node-pipe', 'rsproxy']);
    for (const row of json.tps) {
      assert.ok(row.result.transactions > 0 && row.result.tps > 0, `${row.target} ran transactions`);
      assert.equal(row.result.failedTransactions, 0, row.target);
      assert.equal(row.proxyCpuUsPerTx === undefined, row.target === 'direct', `${row.target}: proxy CPU measured for proxies only`);
    }
    assert.deepEqual(
      json.logins.map((l) => [l.name, l.stats.count]),
      [
        ['rsproxy first (STS + credentials)', 1],
        ['rsproxy fresh token (STS call)', 2],
        ['rsproxy warm (caches hot)', 4],
        ['direct (SCRAM password)', 4],
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
