/** Keeps bench/audit.ts working: a 1-second run measures every audit variant and writes its JSON (shape only, never speed). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requirePg } from '../../testkit/pg-cluster.js';
import { commandWorks, requireTool } from '../../testkit/tools.js';

const auditJs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'audit.js');

interface Row {
  variant: string;
  mode: string;
  tps: number;
  transactions: number;
  failedTransactions: number;
  auditBytes?: number;
}

test('bench/audit.js: a 1-second run measures audit off, sessions, fingerprint and full', { timeout: 180_000 }, async (t) => {
  if (!requirePg(t) || !requireTool(t, 'pgbench', commandWorks('pgbench'))) return;
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-bench-audit-'));
  try {
    const jsonFile = join(dir, 'audit.json');
    const args = [auditJs, '--seconds', '1', '--clients', '2', '--threads', '1', '--modes', 'simple,prepared', '--json', jsonFile];
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, args, { encoding: 'utf8', timeout: 170_000 }, (err, out, stderr) => (err ? reject(new Error(`bench failed: ${stderr.slice(-1500)}`, { cause: err })) : resolve(out)));
    });
    assert.match(stdout, /^ratio prepared {2}sessions\/off = [\d.]+ {3}fingerprint\/off = [\d.]+ {3}full\/off = [\d.]+$/m);
    const { rows } = JSON.parse(readFileSync(jsonFile, 'utf8')) as { rows: Row[] };
    assert.deepEqual(
      rows.map((r) => `${r.variant}/${r.mode}`),
      ['off/simple', 'sessions/simple', 'fingerprint/simple', 'full/simple', 'off/prepared', 'sessions/prepared', 'fingerprint/prepared', 'full/prepared'],
    );
    for (const r of rows) {
      assert.ok(r.transactions > 0 && r.tps > 0, `${r.variant}/${r.mode} ran transactions`);
      assert.equal(r.failedTransactions, 0);
      assert.equal(r.auditBytes === undefined, r.variant === 'off', 'an audit file for every audited variant');
    }
    // Statement records make the file grow with the transactions; sessions only writes logins.
    const bytes = (v: string) => rows.find((r) => r.variant === v && r.mode === 'prepared')?.auditBytes ?? 0;
    assert.ok(bytes('fingerprint') > bytes('sessions') && bytes('full') > bytes('sessions'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench/audit.js --variants and --rate: only the variants asked for, each held at the rate; an unknown variant is refused', { timeout: 180_000 }, async (t) => {
  if (!requirePg(t) || !requireTool(t, 'pgbench', commandWorks('pgbench'))) return;
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-bench-audit-'));
  const run = (extra: string[]) =>
    new Promise<{ err: Error | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [auditJs, '--seconds', '1', '--clients', '2', '--threads', '1', '--modes', 'simple', ...extra], { encoding: 'utf8', timeout: 170_000 }, (err, stdout, stderr) => resolve({ err, stdout, stderr }));
    });
  try {
    const jsonFile = join(dir, 'audit.json');
    const held = await run(['--variants', 'off,full', '--rate', '50', '--json', jsonFile]);
    assert.equal(held.err, null, held.stderr.slice(-1500));
    assert.match(held.stdout, /50 tps held/);
    const { options, rows } = JSON.parse(readFileSync(jsonFile, 'utf8')) as { options: { ratePerSecond?: number }; rows: Row[] };
    assert.equal(options.ratePerSecond, 50);
    assert.deepEqual(rows.map((r) => r.variant), ['off', 'full']);
    // Held at 50 tps for about a second, not run flat out (that is thousands here).
    for (const r of rows) assert.ok(r.transactions > 0 && r.transactions < 500, `${r.variant}: ${r.transactions} transactions`);
    const unknown = await run(['--variants', 'off,loud']);
    assert.notEqual(unknown.err, null);
    assert.match(unknown.stderr, /--variants: unknown variant loud/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
