import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuditLog } from '../audit/audit-log.js';
import type { ToolIo } from './operator-tool.js';
import { run } from './audit.js';
import { UsageError } from '../errors/exit-codes.js';

const bin = fileURLToPath(new URL('./index.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'rsproxy-audit-cli-'));

function capture(): ToolIo & { out: string; err: string } {
  const io = { out: '', err: '', env: {}, stdout: (s: string) => void (io.out += s), stderr: (s: string) => void (io.err += s) };
  return io;
}

function rsproxy(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

async function writeLog(path: string, count: number): Promise<void> {
  const log = await AuditLog.open({ path, onFailure: 'refuse', clock: { nowMs: () => 0 }, logger: { warn() {}, error() {} } });
  for (let i = 0; i < count; i++) {
    await log.write({ event: 'login_denied', connectionId: `c${i}`, clientAddress: '10.0.0.9:1', sqlstate: '28P01', reason: 'AUTH_TOKEN_EXPIRED', identity: null, callerArn: null, accountId: null, database: 'dev', dbUser: null, dbGroups: null, target: null, applicationName: null, upstreamPid: null, reused: null });
  }
  await log.close();
}

test('audit verify: exit 0 with a one-line summary when intact', async () => {
  const path = join(dir, 'intact.log');
  await writeLog(path, 3);
  const io = capture();
  assert.equal(await run(['verify', path], io), 0);
  assert.equal(io.out, 'intact: 3 records, seq 1..3, in 1 file\n');
});

test('audit verify: exit 3 naming file, line and what when broken', async () => {
  const path = join(dir, 'broken.log');
  await writeLog(path, 3);
  writeFileSync(path, readFileSync(path, 'utf8').replace('"connectionId":"c0"', '"connectionId":"cX"'));
  const io = capture();
  assert.equal(await run(['verify', path], io), 3);
  assert.equal(io.out, `BROKEN: ${path}: line 2: prev is not the SHA-256 of line 1: that line was changed, or lines were removed or reordered\n`);
});

test('audit verify: exit 1 for an unreadable file; usage errors are UsageErrors (exit 1)', async () => {
  for (const [argv, message] of [
    [['verify', join(dir, 'missing.log')], /cannot read .*missing\.log \(ENOENT\)/],
    [['verify', dir], /cannot read .* \(EISDIR\)/],
  ] as Array<[string[], RegExp]>) {
    const io = capture();
    assert.equal(await run(argv, io), 1, argv.join(' '));
    assert.match(io.err, message);
  }
  for (const [argv, message] of [
    [['verify'], /verify FILE… is required/],
    [[], /verify FILE… is required/],
    [['check', 'x'], /unknown subcommand "check"/],
    [['verify', '--fast', 'x'], /--fast/],
  ] as Array<[string[], RegExp]>) {
    await assert.rejects(run(argv, capture()), (err: unknown) => err instanceof UsageError && message.test(err.message), argv.join(' '));
  }
});

test('the binary: rsproxy audit --help prints the command\'s own usage (exit 0); the overall usage lists it; exit codes pass through', async () => {
  const help = await rsproxy(['audit', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: rsproxy audit verify FILE…/);
  const overall = await rsproxy(['--help']);
  assert.match(overall.stdout, /\baudit\b/);
  const path = join(dir, 'bin.log');
  await writeLog(path, 2);
  const ok = await rsproxy(['audit', 'verify', path]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^intact: 2 records/);
  writeFileSync(path, readFileSync(path, 'utf8').split('\n').reverse().join('\n'));
  assert.equal((await rsproxy(['audit', 'verify', path])).code, 3);
  assert.equal((await rsproxy(['audit', 'verify', join(dir, 'nope')])).code, 1);
});
