/**
 * Keeps bench/load/run.ts working (issue 15): one `--short` run (20 idle sessions per target, 3 × 40 logins,
 * 20 silent sockets) must measure every target and write its JSON. It checks the shape of the results, never
 * their speed or memory figures; only the slowloris outcome is a behaviour (closed by the login timeout,
 * a real login meanwhile, /livez 200), so it is asserted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChurnResult, IdleRow, SlowlorisResult } from '../../bench/load/report.js';
import { pgbouncerBin } from '../../bench/pgbouncer.js';
import { requirePg } from '../../testkit/pg-cluster.js';
import { requireTool } from '../../testkit/tools.js';

const runJs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'load', 'run.js');

const isCount = (n: unknown): boolean => typeof n === 'number' && Number.isFinite(n) && n >= 0;

test('bench/load/run.js --short: idle memory of pgbouncer, node-pipe and rsproxy, 3 churn rounds, slowloris closed by the login timeout', { timeout: 240_000 }, async (t) => {
  if (!requirePg(t) || !requireTool(t, `pgbouncer at ${pgbouncerBin()}`, existsSync(pgbouncerBin()))) return;
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-load-'));
  try {
    const jsonFile = join(dir, 'load.json');
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [runJs, '--short', '--json', jsonFile], { encoding: 'utf8', timeout: 230_000 }, (err, out, stderr) =>
        err ? reject(new Error(`load bench failed: ${stderr.slice(-1500)}`, { cause: err })) : resolve(out),
      );
    });
    assert.match(stdout, /^rsproxy\/node-pipe per session = [\d.]+ \(goal ≤ 1\.10: (pass|FAIL)\)$/m);
    assert.match(stdout, /^RSS plateau: round 1 → round 3 [+-][\d.]+ MiB \(goal < 10 MiB: (pass|FAIL)\)$/m);
    assert.match(stdout, /^slowloris: 20 silent sockets from 20 loopback sources, loginTimeoutMs 1000: /m);

    const json = JSON.parse(readFileSync(jsonFile, 'utf8')) as { options: { short: boolean }; idle: IdleRow[]; churn: ChurnResult; slowloris: SlowlorisResult };
    assert.equal(json.options.short, true);
    assert.deepEqual(json.idle.map((r) => [r.target, r.sessions]), [['pgbouncer', 20], ['node-pipe', 20], ['rsproxy', 20]]);
    for (const r of json.idle) {
      assert.ok(r.rssBeforeBytes > 0 && r.rssHeldBytes > 0 && Number.isFinite(r.bytesPerSession), `${r.target}: RSS read from /proc`);
    }
    assert.equal(json.churn.direct.logins, 40);
    assert.deepEqual(json.churn.rsproxy.map((r) => [r.round, r.logins]), [[1, 40], [2, 40], [3, 40]]);
    for (const r of [json.churn.direct, ...json.churn.rsproxy]) assert.ok(r.perSecond > 0 && r.seconds > 0);
    for (const r of json.churn.rsproxy) assert.ok(r.rssBytes > 0);
    assert.equal(typeof json.churn.plateauPass, 'boolean');

    const s = json.slowloris;
    assert.ok([s.closeAfterMinMs, s.closeAfterMaxMs, s.livezChecks, s.bytesToSilentSockets].every(isCount));
    assert.deepEqual(
      { sockets: s.sockets, sources: s.sources, byTimeout: s.closedByTimeout, early: s.closedEarly, open: s.stillOpen, livez: s.livezOk === s.livezChecks, login: s.realLoginMs !== undefined, pass: s.pass },
      { sockets: 20, sources: 20, byTimeout: 20, early: 0, open: 0, livez: true, login: true, pass: true },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
