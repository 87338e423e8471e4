import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './check-config.js';
import { UsageError } from '../errors/exit-codes.js';

const good = `
tls: { certFile: /etc/rsproxy/tls.crt, keyFile: /etc/rsproxy/tls.key }
identity: { audience: "rsproxy:test", stsRegions: [us-east-1], allowedAccounts: ["123456789012"] }
databases:
  dev: { cluster: c1, region: us-east-1 }
  lake: { workgroup: wg, region: us-east-1 }
rules:
  - { principal: "arn:aws:iam::123456789012:role/Analyst", dbUser: analyst, databases: [dev] }
  - { principal: "arn:aws:iam::123456789012:role/BI", databases: [lake] }
`;

async function check(text: string, args: string[] = [], env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-check-'));
  const path = join(dir, 'rsproxy.yaml');
  writeFileSync(path, text);
  let stdout = '';
  let stderr = '';
  try {
    const code = await run(['--config', path, ...args], { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), env });
    return { code, stdout, stderr, path };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a valid config exits 0; warnings alone go to stderr', async () => {
  const r = await check(good);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, `${r.path}: OK\n`);
  assert.match(r.stderr, /^warning: rules\[1\]: workgroup database \(lake\) without assumeRole/);
});

test('every problem is one stderr line; exit 1', async () => {
  const r = await check(`${good}limits: { loginTimeoutMs: "10s", bogus: 1 }\n`);
  assert.equal(r.code, 1);
  const lines = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('warning:'));
  assert.deepEqual(lines, ['limits.loginTimeoutMs: must be an integer ≥ 1000 (got "10s")', 'limits.bogus: unknown key', `${r.path}: 2 problems`]);
});

test('--print shows the effective config with overrides applied', async () => {
  const r = await check(good, ['--print', '--limits-login-timeout-ms', '5000'], { RSPROXY_SHUTDOWN_DRAIN_SECONDS: '7' });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /loginTimeoutMs: 5000/);
  assert.match(r.stdout, /drainSeconds: 7/);
  assert.match(r.stdout, /maxPasswordBytes: 8192/);
});

test('unknown flags and a missing --config are usage errors', async () => {
  await assert.rejects(run(['--config', 'x', '--nope'], { stdout: () => {}, stderr: () => {}, env: {} }), UsageError);
  await assert.rejects(run([], { stdout: () => {}, stderr: () => {}, env: {} }), /--config is required/);
});

test('upstreamTls.mode require: exit 0, the warning on stderr', async () => {
  const r = await check(good.replace('dev: { cluster: c1, region: us-east-1 }', 'dev: { cluster: c1, region: us-east-1, upstreamTls: { mode: require } }'));
  assert.equal(r.code, 0);
  assert.equal(r.stdout, `${r.path}: OK\n`);
  assert.match(r.stderr, /^warning: databases\.dev\.upstreamTls\.mode: require encrypts without verifying the upstream's certificate \(tests only\)/m);
});
