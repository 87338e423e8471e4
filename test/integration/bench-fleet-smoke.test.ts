/**
 * Keeps bench/haproxy-fleet.ts working: a 1-second run must measure PostgreSQL direct, one replica and
 * HAProxy (PROXY v2) to two replicas, and write its JSON. Shape only, never speed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { haproxyAvailable } from '../../testkit/haproxy.js';
import { requirePg } from '../../testkit/pg-cluster.js';
import { commandWorks, requireTool } from '../../testkit/tools.js';

const fleetJs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'haproxy-fleet.js');

test('bench/haproxy-fleet.js: a 1-second run measures pg-direct, one-replica and haproxy-2-replicas', { timeout: 150_000 }, async (t) => {
  if (!requirePg(t) || !requireTool(t, 'pgbench', commandWorks('pgbench')) || !requireTool(t, 'haproxy', haproxyAvailable())) return;
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-fleet-bench-'));
  try {
    const jsonFile = join(dir, 'fleet.json');
    const args = [fleetJs, '--seconds', '1', '--clients', '2', '--threads', '1', '--modes', 'simple', '--json', jsonFile];
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, args, { encoding: 'utf8', timeout: 140_000 }, (err, out, stderr) => (err ? reject(new Error(`bench failed: ${stderr.slice(-1500)}`, { cause: err })) : resolve(out)));
    });
    assert.match(stdout, /^haproxy-2-replicas +simple +[\d.]+ +[\d.]+ +[\d.]+x$/m);
    const json = JSON.parse(readFileSync(jsonFile, 'utf8')) as { rows: Array<{ target: string; mode: string; tps: number }> };
    assert.deepEqual(json.rows.map((r) => r.target), ['pg-direct', 'one-replica', 'haproxy-2-replicas']);
    for (const row of json.rows) assert.ok(row.tps > 0, `${row.target} ran transactions`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
