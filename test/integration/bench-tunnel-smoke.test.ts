/**
 * Keeps bench/tunnel.ts working: one short run (1 s pgbench, 4 logins) must measure both logins and both pgbench
 * targets and write its JSON. Shape only, never speed (issue 12's figures live in bench/README.md).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requirePg } from '../../testkit/pg-cluster.js';
import { commandWorks, requireTool } from '../../testkit/tools.js';

const tunnelJs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'tunnel.js');

interface TunnelBenchJson {
  logins: Array<{ name: string; stats: { count: number; medianMs: number; p95Ms: number } }>;
  tunnelCpuMsPerLogin?: number;
  tps: Array<{ target: string; mode: string; result: { tps: number; transactions: number; failedTransactions: number }; tunnelCpuUsPerTx?: number }>;
}

test('bench/tunnel.js: a 1-second run measures logins through the tunnel and with a pasted token, and pgbench through both', { timeout: 180_000 }, async (t) => {
  if (!requirePg(t) || !requireTool(t, 'pgbench', commandWorks('pgbench'))) return;
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-bench-tunnel-smoke-'));
  try {
    const jsonFile = join(dir, 'bench.json');
    const args = [tunnelJs, '--seconds', '1', '--clients', '2', '--threads', '1', '--logins', '4', '--modes', 'simple', '--json', jsonFile];
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, args, { encoding: 'utf8', timeout: 170_000 }, (err, out, stderr) => (err ? reject(new Error(`bench failed: ${stderr.slice(-1500)}`, { cause: err })) : resolve(out)));
    });
    assert.match(stdout, /^tunnel overhead \(warm\): median -?[\d.]+ ms, p95 -?[\d.]+ ms$/m);
    assert.match(stdout, /^ratio simple {4}tunnel\/proxy = [\d.]+$/m);
    assert.match(stdout, /^tunnel CPU per login: [\d.]+ ms$/m);
    const json = JSON.parse(readFileSync(jsonFile, 'utf8')) as TunnelBenchJson;
    assert.deepEqual(json.logins.map((l) => [l.name, l.stats.count]), [
      ['pasted token, straight to the proxy', 4],
      ['through the tunnel (no password)', 4],
    ]);
    assert.deepEqual(json.tps.map((r) => [r.target, r.mode]), [['proxy', 'simple'], ['tunnel', 'simple']]);
    for (const row of json.tps) {
      assert.ok(row.result.transactions > 0 && row.result.tps > 0, `${row.target} ran transactions`);
      assert.equal(row.result.failedTransactions, 0, row.target);
      assert.equal(row.tunnelCpuUsPerTx === undefined, row.target === 'proxy', `${row.target}: tunnel CPU measured for the tunnel row only`);
    }
    assert.ok((json.tunnelCpuMsPerLogin ?? 0) > 0, 'the tunnel spent CPU on its logins');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
