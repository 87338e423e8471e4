/** Runs the real-client matrix (test/e2e/run.sh: psql, pgjdbc, psqlODBC, pgbench through rsproxy) inside `npm test`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requirePg } from '../../testkit/pg-cluster.js';

// dist/test/integration/e2e-clients.test.js → project root is three levels up.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const timeoutMs = 5 * 60_000;

function runScript(): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // start-stack.js refuses to serve when it believes it was loaded by the test runner.
  delete env['NODE_TEST_CONTEXT'];
  return new Promise((resolvePromise, reject) => {
    const child = spawn('bash', [join(root, 'test', 'e2e', 'run.sh')], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (output += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => resolvePromise({ code, signal, output }));
  });
}

test('e2e client matrix: every check passes (psql, pgjdbc, psqlODBC, pgbench)', { timeout: timeoutMs + 10_000 }, async (t) => {
  if (!requirePg(t)) return;
  const { code, signal, output } = await runScript();
  const failures = output.split('\n').filter((l) => l.startsWith('FAIL '));
  const summary = /^(\d+) passed, (\d+) failed$/m.exec(output);
  assert.ok(summary, `no summary line; output tail:\n${output.slice(-3000)}`);
  assert.deepEqual(failures, [], `failed checks:\n${failures.join('\n')}`);
  assert.match(output, /^(\d+) passed, 0 failed$/m);
  assert.ok(Number(summary[1]) > 0, 'no check passed');
  assert.equal(signal, null, `run.sh was killed by ${String(signal)}`);
  assert.equal(code, 0, `run.sh exited ${String(code)}`);
});
