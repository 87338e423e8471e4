import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('./index.js', import.meta.url));

function rsproxy(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 20_000, env: { ...process.env, RSPROXY_COMMIT: 'abcdef123456' } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

test('version prints version, node and commit', async () => {
  const r = await rsproxy(['version']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^rsproxy \d+\.\d+\.\d+\nnode v\d+\.\d+\.\d+\ncommit abcdef123456\n$/);
});

test('usage errors exit 1: no command, unknown command, unknown flag, helper module names', async () => {
  for (const args of [[], ['frobnicate'], ['version', '--nope'], ['args'], ['index'], ['../main']]) {
    const r = await rsproxy(args);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /usage: rsproxy <command>/);
  }
});

test('check-config exits 1 on a missing file', async () => {
  const r = await rsproxy(['check-config', '--config', '/nonexistent/rsproxy.yaml']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot read the config file \(ENOENT\)/);
});

test('token without --audience is a usage error', async () => {
  const r = await rsproxy(['token', '--region', 'us-east-1']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--audience is required/);
});

test('only the listed commands dispatch; helper modules with or without run() are unknown commands', async () => {
  for (const cmd of ['serve', 'demo', 'token', 'connect', 'url', 'credentials', 'tunnel', 'check-config', 'version']) {
    const r = await rsproxy([cmd, '--help']);
    assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
  }
  for (const cmd of ['demo-stack', 'client-options', 'credentials-errors', 'tunnel-tokens', 'constructor', 'toString', '__proto__']) {
    const r = await rsproxy([cmd]);
    assert.equal(r.code, 1, `${cmd}: ${r.stderr}`);
    assert.match(r.stderr, /unknown command/);
  }
});

test('usage lists the utilities\' TLS, driver and token flags and their environment variables', async () => {
  const r = await rsproxy(['help']);
  assert.equal(r.code, 0);
  for (const needle of ['--sslmode', '--sslrootcert', '--driver postgresql|redshift', '--no-token', 'RSPROXY_AUDIENCE', 'RSPROXY_USER', 'RSPROXY_PSQL', '--workgroup W', '--format json|env|jdbc|odbc|libpq']) {
    assert.ok(r.stdout.includes(needle), `usage lacks ${needle}`);
  }
});

test('tunnel usage errors exit 1 before any AWS access: bad --audience, --sslmode, --token-reuse-seconds, --listen, no --host', async () => {
  const base = ['tunnel', '--host', 'rsproxy.example.com', '--audience', 'rsproxy:prod', '--region', 'eu-west-1'];
  const cases: Array<[string[], RegExp]> = [
    [[...base.filter((a) => a !== '--host' && a !== 'rsproxy.example.com')], /--host is required/],
    [[...base, '--audience', 'has space'], /--audience: must match/],
    [[...base, '--sslmode', 'disable'], /--sslmode: must be one of verify-full, verify-ca, require/],
    [[...base, '--token-reuse-seconds', '241'], /--token-reuse-seconds: must be an integer 0\.\.240/],
    [[...base, '--listen', '0.0.0.0:5439'], /--listen must be a loopback address/],
    [[...base, '--listen', 'localhost'], /--listen must be HOST:PORT/],
    [[...base, '--unix-socket', '/tmp', '--listen', '127.0.0.1:0'], /--unix-socket needs a --listen port other than 0/],
    [[...base, '--sslrootcert', '/nonexistent/ca.pem'], /--sslrootcert: cannot read \/nonexistent\/ca\.pem \(ENOENT\)/],
  ];
  for (const [args, message] of cases) {
    const r = await rsproxy(args);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});
