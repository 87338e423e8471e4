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

test('usage errors exit 1: no command, unknown command, helper module names', async () => {
  for (const args of [[], ['frobnicate'], ['args'], ['index'], ['../main']]) {
    const r = await rsproxy(args);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /Usage: rsproxy <command>/);
  }
});

test('an unknown flag is a usage error naming the flag and pointing to the command\'s --help', async () => {
  const r = await rsproxy(['version', '--nope']);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr, 'rsproxy version: unknown option --nope (see `rsproxy version --help`)\n');
});

test('a usage error a command raises itself also points to its --help', async () => {
  const r = await rsproxy(['credentials', '--cluster', 'c', '--workgroup', 'w', '--dbname', 'dev', '--region', 'us-east-1']);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr, 'rsproxy credentials: exactly one of --cluster or --workgroup is required (see `rsproxy credentials --help`)\n');
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

test('helper modules with or without run() are unknown commands', async () => {
  for (const cmd of ['demo-stack', 'client-options', 'credentials-errors', 'tunnel-tokens', 'constructor', 'toString', '__proto__']) {
    const r = await rsproxy([cmd]);
    assert.equal(r.code, 1, `${cmd}: ${r.stderr}`);
    assert.match(r.stderr, /unknown command/);
  }
});

test('the global usage lists every command and where their options are', async () => {
  const r = await rsproxy(['help']);
  assert.equal(r.code, 0);
  for (const cmd of ['serve', 'demo', 'token', 'connect', 'url', 'credentials', 'tunnel', 'check-config', 'explain', 'policy', 'version']) {
    assert.match(r.stdout, new RegExp(`^  ${cmd} +\\S`, 'm'), cmd);
  }
  assert.ok(r.stdout.includes('rsproxy <command> --help'));
});

test('the utilities\' help lists their TLS, driver and token flags and environment variables', async () => {
  const text = async (cmd: string) => (await rsproxy([cmd, '--help'])).stdout;
  const url = await text('url');
  for (const needle of ['--sslmode', '--sslrootcert', '--driver DRIVER', 'One of: postgresql, redshift', '--no-token', 'RSPROXY_AUDIENCE', 'RSPROXY_USER', 'One of: jdbc, odbc, libpq, dbeaver']) {
    assert.ok(url.includes(needle), `url --help lacks ${needle}`);
  }
  assert.ok((await text('connect')).includes('RSPROXY_PSQL'));
  const credentials = await text('credentials');
  for (const needle of ['--workgroup W', 'One of: json, env, jdbc, odbc, libpq', '--dbname D']) assert.ok(credentials.includes(needle), `credentials --help lacks ${needle}`);
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
