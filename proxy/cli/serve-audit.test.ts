import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { silentLogger } from '../../auth/types.js';
import type { RsproxyConfig } from '../config/config.js';
import { ExitCode, RuntimeError } from '../errors/exit-codes.js';
import { openServeAudit } from './serve-audit.js';

const configWith = (audit: Partial<RsproxyConfig['audit']>): RsproxyConfig => ({ audit: { file: '', statements: 'off', maxStatementBytes: 4096, onFailure: 'refuse', ...audit } }) as RsproxyConfig;

test('audit off: no log, but the metrics are registered (at 0) so dashboards and alerts see them', async () => {
  const registry = new Registry();
  assert.equal(await openServeAudit(configWith({}), { logger: silentLogger, registry }), undefined);
  const text = await registry.metrics();
  assert.match(text, /rsproxy_audit_write_failures_total 0/);
  assert.match(text, /rsproxy_audit_records_total\{event="login"\} 0/);
});

test('a file that cannot be opened stops the start: a RuntimeError (exit 2) naming the path and why', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-serve-audit-'));
  try {
    const path = join(dir, 'missing-dir', 'audit.log');
    const err = await openServeAudit(configWith({ file: path }), { logger: silentLogger, registry: new Registry() }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof RuntimeError);
    assert.equal(err.exitCode, ExitCode.Runtime);
    assert.match(err.message, new RegExp(`audit\\.file: cannot open ${path.replace(/[/.]/g, '\\$&')} \\(ENOENT\\)`));
    writeFileSync(join(dir, 'corrupt.log'), 'not a record\n');
    const corrupt = await openServeAudit(configWith({ file: join(dir, 'corrupt.log') }), { logger: silentLogger, registry: new Registry() }).catch((e: unknown) => e);
    assert.ok(corrupt instanceof RuntimeError && /last line is not an audit record/.test(corrupt.message), String(corrupt));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('refusing while unwritable under refuse only; reopen after a rotation continues the chain; close', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-serve-audit-'));
  try {
    const file = join(dir, 'audit.log');
    const audit = await openServeAudit(configWith({ file, statements: 'full' }), { logger: silentLogger, registry: new Registry(), probeIntervalMs: 60_000 });
    assert.ok(audit !== undefined);
    assert.deepEqual([audit.session.statements, audit.session.maxStatementBytes, audit.isRefusing()], ['full', 4096, false]);
    const entry = { event: 'login_denied', connectionId: 'c1', clientAddress: '127.0.0.1:1', sqlstate: '28P01', reason: 'expired', identity: null, callerArn: null, accountId: null, database: 'dev', dbUser: null, dbGroups: null, target: null, applicationName: null, upstreamPid: null, reused: null } as const;
    assert.equal((await audit.session.write(entry)).written, true);
    rmSync(file);
    mkdirSync(file);
    await audit.reopen();
    assert.equal(audit.isRefusing(), true);
    assert.equal((await audit.session.write(entry)).proceed, false);
    rmSync(file, { recursive: true });
    await audit.reopen();
    assert.equal(audit.isRefusing(), false);
    assert.equal((await audit.session.write(entry)).seq, 2, 'no gap for the unwritten record');
    await audit.close();
    assert.equal(readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
