import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { AuditLog, AuditLogCorruptError, type AuditLogOptions } from './audit-log.js';
import type { AuditFile, AuditFs } from './audit-file.js';
import { createAuditMetrics } from './audit-metrics.js';
import { lineHash } from './chain.js';
import { genesisPrev, type AuditEntry } from './record.js';
import { sealEntry } from './record-encoding.js';
import { verifyAuditFiles } from './verify.js';

const dir = mkdtempSync(join(tmpdir(), 'rsproxy-audit-log-'));
let n = 0;
const freshPath = (): string => join(dir, `audit-${++n}.log`);

const clock = { nowMs: () => Date.UTC(2026, 11, 7, 18, 0, 0, 123) };
interface Logged {
  level: 'warn' | 'error';
  obj: object;
  msg: string | undefined;
}
function captureLogger(): { logs: Logged[]; warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void } {
  const logs: Logged[] = [];
  return { logs, warn: (obj, msg) => logs.push({ level: 'warn', obj, msg }), error: (obj, msg) => logs.push({ level: 'error', obj, msg }) };
}

const login = (connectionId: string): AuditEntry => ({
  event: 'login',
  connectionId,
  clientAddress: '10.0.0.1:50000',
  identity: 'arn:aws:iam::123456789012:role/Analyst',
  callerArn: 'arn:aws:sts::123456789012:assumed-role/Analyst/alice',
  accountId: '123456789012',
  database: 'analytics',
  dbUser: 'alice',
  dbGroups: ['analysts'],
  target: 'db.example:5439',
  applicationName: 'psql',
  upstreamPid: 4242,
  reused: false,
});
const statement = (text: string): AuditEntry => ({ ...(login('c1') as Omit<AuditEntry, 'event'>), event: 'statement', protocol: 'simple', text }) as AuditEntry;

const linesOf = (path: string): string[] => readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
const records = (path: string): Array<{ seq: number; prev: string; connectionId: string }> => linesOf(path).map((l) => JSON.parse(l));

function options(path: string, extra: Partial<AuditLogOptions> = {}): AuditLogOptions {
  return { path, onFailure: 'refuse', clock, logger: captureLogger(), ...extra };
}

/** An in-memory AuditFs whose appends fail (optionally after writing part or all of the data) while `failing` is set; with `hasAppendSync` its files also append synchronously, as node:fs files do. */
function fakeFs(hasAppendSync = false): AuditFs & { content: Buffer; failing: 'no' | 'whole' | 'partial' | 'sync'; probeFails: boolean; opens: number; appends: number; saved: string | undefined } {
  const appendNow = (data: Uint8Array): number => {
    state.appends++;
    if (state.failing === 'partial') state.content = Buffer.concat([state.content, data.subarray(0, 5)]);
    if (state.failing === 'whole' || state.failing === 'partial') throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    state.content = Buffer.concat([state.content, data]);
    return data.length;
  };
  const state = {
    content: Buffer.alloc(0),
    saved: undefined as string | undefined,
    failing: 'no' as 'no' | 'whole' | 'partial' | 'sync',
    probeFails: false,
    opens: 0,
    appends: 0,
    async openAppend(): Promise<AuditFile> {
      state.opens++;
      return {
        size: async () => state.content.length,
        read: async (pos, len) => state.content.subarray(pos, pos + len),
        append: async (data) => void appendNow(data),
        ...(hasAppendSync ? { appendSync: (data: Uint8Array) => void appendNow(Buffer.from(data)) } : {}),
        sync: async () => {
          if (state.failing === 'sync') throw Object.assign(new Error('I/O error'), { code: 'EIO' });
        },
        truncate: async (size) => {
          state.content = state.content.subarray(0, size);
        },
        close: async () => undefined,
      };
    },
    async probeWritable(): Promise<void> {
      if (state.probeFails) throw Object.assign(new Error('full'), { code: 'ENOSPC' });
    },
    async readState(): Promise<string | undefined> {
      return state.saved;
    },
    async writeState(_path: string, text: string): Promise<void> {
      state.saved = text;
    },
  };
  return state;
}

test('records chain: seq from 1, prev 64 zeros first, then the SHA-256 of the line before', async () => {
  const path = freshPath();
  const log = await AuditLog.open(options(path));
  for (const id of ['a', 'b', 'c']) assert.deepEqual(await log.write(login(id)), { written: true, proceed: true, seq: ['a', 'b', 'c'].indexOf(id) + 1 });
  await log.close();
  const lines = linesOf(path);
  const recs = records(path);
  assert.deepEqual(recs.map((r) => r.seq), [1, 2, 3]);
  assert.equal(recs[0]?.prev, genesisPrev);
  assert.equal(recs[1]?.prev, lineHash(lines[0] ?? ''));
  assert.equal(recs[2]?.prev, lineHash(lines[1] ?? ''));
  assert.equal(JSON.parse(lines[0] ?? '').time, '2026-12-07T18:00:00.123Z');
  assert.deepEqual(await verifyAuditFiles([path]), { ok: true, records: 3, files: 1, firstSeq: 1, lastSeq: 3 });
});

test('concurrent writes are serialised in call order', async () => {
  const path = freshPath();
  const log = await AuditLog.open(options(path));
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => log.write(login(`c${i}`))));
  await log.close();
  assert.deepEqual(results.map((r) => r.seq), Array.from({ length: 50 }, (_, i) => i + 1));
  assert.deepEqual(records(path).map((r) => r.connectionId), Array.from({ length: 50 }, (_, i) => `c${i}`));
  assert.equal((await verifyAuditFiles([path])).ok, true);
});

test('group commit: the records of one turn of the event loop go to the file in one write, in call order, each with its own seq', async () => {
  const fs = fakeFs(true);
  const log = await AuditLog.open(options('/fake/audit.log', { fs }));
  const results = ['a', 'b', 'c'].map((id) => log.write(login(id)));
  assert.equal(fs.appends, 0, 'nothing written before the turn ends');
  assert.deepEqual((await Promise.all(results)).map((r) => r.seq), [1, 2, 3]);
  assert.equal(fs.appends, 1, 'one write for the three');
  assert.deepEqual((await log.write(login('d'))).seq, 4);
  assert.equal(fs.appends, 2);
  const lines = fs.content.toString('utf8').split('\n').filter((l) => l !== '');
  assert.deepEqual(lines.map((l) => JSON.parse(l).connectionId), ['a', 'b', 'c', 'd']);
  assert.deepEqual(lines.slice(1).map((l) => JSON.parse(l).prev), lines.slice(0, -1).map((l) => lineHash(l)), 'each links to the one before, within and across batches');
});

test('group commit: a batch whose write failed half-way fails every record in it (none proceeds), rolls the chain back and is cut before the next record', async () => {
  const fs = fakeFs(true);
  const log = await AuditLog.open(options('/fake/audit.log', { fs }));
  assert.equal((await log.write(login('a'))).seq, 1);
  fs.failing = 'partial';
  const failed = await Promise.all([log.write(login('b')), log.write(login('c'))]);
  assert.deepEqual(failed, [{ written: false, proceed: false }, { written: false, proceed: false }]);
  assert.equal(log.isHealthy, false);
  assert.equal(log.position.seq, 1, 'rolled back');
  fs.failing = 'no';
  assert.equal((await log.write(login('d'))).seq, 2, 'no gap');
  assert.equal(log.isHealthy, true);
  const lines = fs.content.toString('utf8').split('\n');
  assert.deepEqual(lines.slice(0, 2).map((l) => JSON.parse(l).connectionId), ['a', 'd']);
  assert.equal(lines[2], '');
  assert.equal(JSON.parse(lines[1] ?? '').prev, lineHash(lines[0] ?? ''));
});

test('group commit: a job queued while a batch is open (reopen) runs after its write, and records appended after the job wait for it', async () => {
  const path = freshPath();
  const log = await AuditLog.open(options(path));
  const first = log.write(login('a'));
  renameSync(path, `${path}.1`);
  const reopening = log.reopen();
  const later = log.write(login('b'));
  assert.deepEqual([(await first).seq, await reopening, (await later).seq], [1, true, 2]);
  await log.close();
  assert.deepEqual(records(`${path}.1`).map((r) => r.connectionId), ['a'], 'the batch went to the old file');
  assert.deepEqual(records(path).map((r) => r.connectionId), ['b'], 'the later record to the new one');
  assert.equal((await verifyAuditFiles([`${path}.1`, path])).ok, true);
});

test('appendThen: waiters hear in call order once the batch is written; a record appended from a waiter goes into the next batch', async () => {
  const fs = fakeFs(true);
  const log = await AuditLog.open(options('/fake/audit.log', { fs }));
  const heard: string[] = [];
  const next = new Promise<number | undefined>((resolve) => {
    log.appendThen(sealEntry(login('a')), (r) => {
      heard.push(`a:${r.seq}:${fs.appends}`);
      log.appendThen(sealEntry(login('c')), (later) => resolve(later.seq));
    });
  });
  log.appendThen(sealEntry(login('b')), (r) => heard.push(`b:${r.seq}:${fs.appends}`));
  assert.deepEqual(heard, [], 'nothing heard before the write');
  assert.equal(await next, 3);
  assert.deepEqual(heard, ['a:1:1', 'b:2:1'], 'both after the one write, in order');
  assert.equal(fs.appends, 2);
});

test('syncEachRecord: records are not batched (each fdatasync is awaited)', async () => {
  const fs = fakeFs(true);
  const log = await AuditLog.open(options('/fake/audit.log', { fs, syncEachRecord: true }));
  const results = await Promise.all(['a', 'b'].map((id) => log.write(login(id))));
  assert.deepEqual(results.map((r) => r.seq), [1, 2]);
  assert.equal(fs.appends, 2);
});

test('a restart continues the chain from the last line of the existing file and cuts a torn last line', async () => {
  const path = freshPath();
  const first = await AuditLog.open(options(path));
  await first.write(login('a'));
  await first.write(login('b'));
  await first.close();
  writeFileSync(path, readFileSync(path, 'utf8') + '{"seq":3,"ti');
  const logger = captureLogger();
  const second = await AuditLog.open(options(path, { logger }));
  assert.equal(second.position.seq, 2);
  await second.write(login('c'));
  await second.close();
  assert.deepEqual(records(path).map((r) => r.seq), [1, 2, 3]);
  assert.equal((await verifyAuditFiles([path])).ok, true);
  assert.match(logger.logs[0]?.msg ?? '', /incomplete line/);
});

test('a restart into an empty file after a rotation continues the chain from the state saved at the reopen', async () => {
  const path = freshPath();
  const log = await AuditLog.open(options(path));
  await log.write(login('a'));
  await log.write(login('b'));
  renameSync(path, `${path}.1`);
  writeFileSync(path, ''); // logrotate's create
  await log.reopen();
  // The process is killed before any record reaches the new file: no close(), no further state.
  const restarted = await AuditLog.open(options(path));
  assert.deepEqual(restarted.position, log.position);
  await restarted.write(login('c'));
  await restarted.close();
  assert.deepEqual(await verifyAuditFiles([`${path}.1`, path]), { ok: true, records: 3, files: 2, firstSeq: 1, lastSeq: 3 });
  assert.equal(JSON.parse(readFileSync(join(dir, `.audit-${n}.log.chain`), 'utf8')).seq, 3);
});

test('a rotation while stopped: close saved the state, so the next start continues the chain in the new file', async () => {
  const path = freshPath();
  const log = await AuditLog.open(options(path));
  await log.write(login('a'));
  await log.close();
  renameSync(path, `${path}.1`);
  const restarted = await AuditLog.open(options(path));
  await restarted.write(login('b'));
  await restarted.close();
  assert.deepEqual(await verifyAuditFiles([`${path}.1`, path]), { ok: true, records: 2, files: 2, firstSeq: 1, lastSeq: 2 });
});

test('the saved state only counts for an empty file; an invalid one is ignored with a warning', async () => {
  const fs = fakeFs();
  fs.saved = '{"seq":7,"prev":"nothex"}';
  const logger = captureLogger();
  let log = await AuditLog.open(options('/fake/audit.log', { fs, logger }));
  assert.deepEqual(log.position, { seq: 0, prev: genesisPrev });
  assert.match(logger.logs[0]?.msg ?? '', /not valid/);
  await log.write(login('a'));
  await log.close();
  fs.saved = JSON.stringify({ seq: 99, prev: 'a'.repeat(64) });
  log = await AuditLog.open(options('/fake/audit.log', { fs }));
  assert.equal(log.position.seq, 1, 'the file\'s last line wins over the saved state');
});

test('open refuses a file whose last line is not a record', async () => {
  const path = freshPath();
  writeFileSync(path, 'not json\n');
  await assert.rejects(AuditLog.open(options(path)), AuditLogCorruptError);
});

test('reopen (logrotate moved the file) continues the chain into the new file; verify old new passes', async () => {
  const path = freshPath();
  const log = await AuditLog.open(options(path));
  await log.write(login('a'));
  await log.write(login('b'));
  renameSync(path, `${path}.1`);
  await log.write(login('c')); // still into the moved file, as until the SIGHUP
  assert.equal(await log.reopen(), true);
  await log.write(login('d'));
  await log.close();
  assert.deepEqual(records(`${path}.1`).map((r) => r.seq), [1, 2, 3]);
  assert.deepEqual(records(path).map((r) => r.seq), [4]);
  assert.equal(records(path)[0]?.prev, lineHash(linesOf(`${path}.1`)[2] ?? ''));
  assert.deepEqual(await verifyAuditFiles([`${path}.1`, path]), { ok: true, records: 4, files: 2, firstSeq: 1, lastSeq: 4 });
});

test('refuse: a failed write does not proceed, leaves no gap, counts, logs once without the text; the next good write recovers', async () => {
  const fs = fakeFs();
  const logger = captureLogger();
  const registry = new Registry();
  const log = await AuditLog.open(options('/fake/audit.log', { fs, logger, observer: createAuditMetrics(registry) }));
  await log.write(login('a'));
  fs.failing = 'whole';
  assert.deepEqual(await log.write(statement("SELECT 'secret-literal'")), { written: false, proceed: false });
  assert.deepEqual(await log.write(login('b')), { written: false, proceed: false });
  assert.equal(log.isHealthy, false);
  fs.failing = 'no';
  assert.deepEqual(await log.write(login('c')), { written: true, proceed: true, seq: 2 });
  assert.equal(log.isHealthy, true);
  const lines = fs.content.toString('utf8').trimEnd().split('\n');
  assert.equal(lines.length, 2);
  assert.equal(JSON.parse(lines[1] ?? '').prev, lineHash(lines[0] ?? ''));
  assert.equal(logger.logs.filter((l) => l.level === 'error').length, 1);
  assert.ok(!JSON.stringify(logger.logs).includes('secret'));
  assert.match(logger.logs.at(-1)?.msg ?? '', /writable again/);
  const metrics = await registry.metrics();
  assert.match(metrics, /rsproxy_audit_write_failures_total 2/);
  assert.match(metrics, /rsproxy_audit_records_total\{event="login"\} 2/);
  assert.match(metrics, /rsproxy_audit_records_total\{event="statement"\} 0/);
});

test('continue: a failed write proceeds and is counted', async () => {
  const fs = fakeFs();
  const log = await AuditLog.open(options('/fake/audit.log', { fs, onFailure: 'continue' }));
  fs.failing = 'whole';
  assert.deepEqual(await log.write(login('a')), { written: false, proceed: true });
  assert.equal(log.isHealthy, false);
  assert.equal(log.onFailure, 'continue');
});

test('a write that failed half-way is cut before the next record, so the file stays a clean chain', async () => {
  const fs = fakeFs();
  const log = await AuditLog.open(options('/fake/audit.log', { fs }));
  await log.write(login('a'));
  fs.failing = 'partial';
  await log.write(login('b'));
  assert.ok(!fs.content.toString('utf8').endsWith('\n'));
  fs.failing = 'no';
  await log.write(login('c'));
  const lines = fs.content.toString('utf8').split('\n');
  assert.equal(lines.length, 3);
  assert.equal(lines[2], '');
  assert.deepEqual(lines.slice(0, 2).map((l) => JSON.parse(l).connectionId), ['a', 'c']);
});

test('reopen cuts a half-written line from the old file before leaving it', async () => {
  const fs = fakeFs();
  const log = await AuditLog.open(options('/fake/audit.log', { fs }));
  await log.write(login('a'));
  fs.failing = 'partial';
  await log.write(login('b'));
  const before = fs.content.length;
  fs.failing = 'no';
  assert.equal(await log.reopen(), true);
  assert.ok(fs.content.length < before);
  assert.ok(fs.content.toString('utf8').endsWith('\n'));
  assert.equal((await log.write(login('c'))).seq, 2);
  await log.close();
  assert.equal(await log.reopen(), false);
});

test('syncEachRecord: a line whose fdatasync failed is not acknowledged and is cut before the next record', async () => {
  const fs = fakeFs();
  const log = await AuditLog.open(options('/fake/audit.log', { fs, syncEachRecord: true }));
  await log.write(login('a'));
  fs.failing = 'sync';
  assert.deepEqual(await log.write(login('b')), { written: false, proceed: false });
  fs.failing = 'no';
  assert.equal((await log.write(login('c'))).seq, 2);
  const lines = fs.content.toString('utf8').trimEnd().split('\n');
  assert.deepEqual(lines.map((l) => JSON.parse(l).connectionId), ['a', 'c']);
  assert.equal(JSON.parse(lines[1] ?? '').prev, lineHash(lines[0] ?? ''));
});

test('probe recovers by itself once the disk has room, without writing a record; the probe timer does it unasked', async () => {
  const fs = fakeFs();
  const log = await AuditLog.open(options('/fake/audit.log', { fs }));
  fs.failing = 'partial';
  await log.write(login('a'));
  fs.failing = 'no';
  fs.probeFails = true;
  assert.equal(await log.probe(), false);
  assert.equal(log.isHealthy, false);
  fs.probeFails = false;
  log.startProbing(10);
  for (let i = 0; i < 100 && !log.isHealthy; i++) await new Promise((r) => setTimeout(r, 10));
  log.stopProbing();
  assert.equal(log.isHealthy, true);
  assert.equal(fs.content.length, 0, 'the torn line was cut and nothing else written');
  assert.equal((await log.write(login('b'))).seq, 1);
});

test('real file: a path whose parent was removed fails the reopen; probe picks the path up once it exists again', async () => {
  const sub = join(dir, `gone-${++n}`);
  mkdirSync(sub);
  const path = join(sub, 'audit.log');
  const log = await AuditLog.open(options(path));
  await log.write(login('a'));
  renameSync(path, join(dir, `rotated-${n}.log`));
  rmSync(sub, { recursive: true });
  assert.equal(await log.reopen(), false);
  assert.equal(log.isHealthy, false);
  assert.deepEqual(await log.write(login('lost')), { written: false, proceed: false });
  assert.equal(await log.probe(), false);
  mkdirSync(sub);
  assert.equal(await log.probe(), true);
  assert.equal((await log.write(login('b'))).seq, 2);
  await log.close();
  assert.equal((await verifyAuditFiles([join(dir, `rotated-${n}.log`), path])).ok, true);
});

test('real file: the path replaced by a directory is unwritable until a reopen finds a file there again', async () => {
  const path = freshPath();
  const log = await AuditLog.open(options(path));
  await log.write(login('a'));
  renameSync(path, `${path}.1`);
  mkdirSync(path);
  assert.equal(await log.reopen(), false);
  assert.deepEqual(await log.write(login('lost')), { written: false, proceed: false });
  rmSync(path, { recursive: true });
  assert.equal(await log.reopen(), true);
  assert.equal((await log.write(login('b'))).seq, 2);
  await log.close();
  assert.equal((await verifyAuditFiles([`${path}.1`, path])).ok, true);
});

test('real file: writes that fail with ENOSPC (/dev/full) leave no gap; after the path is fixed the chain goes on', async () => {
  const path = freshPath();
  const log = await AuditLog.open(options(path, { onFailure: 'continue' }));
  await log.write(login('a'));
  renameSync(path, `${path}.1`);
  symlinkSync('/dev/full', path);
  assert.equal(await log.reopen(), true);
  assert.deepEqual(await log.write(login('lost')), { written: false, proceed: true });
  assert.equal(log.isHealthy, false);
  unlinkSync(path);
  assert.equal(await log.reopen(), true);
  assert.equal((await log.write(login('b'))).seq, 2);
  await log.close();
  assert.deepEqual(await verifyAuditFiles([`${path}.1`, path]), { ok: true, records: 2, files: 2, firstSeq: 1, lastSeq: 2 });
});

test('writes after close fail without touching the file', async () => {
  const path = freshPath();
  const log = await AuditLog.open(options(path));
  await log.close();
  assert.deepEqual(await log.write(login('a')), { written: false, proceed: false });
  assert.equal(readFileSync(path, 'utf8'), '');
});
