/** Throwaway PostgreSQL clusters for integration tests: initdb in a temp dir, TLS on, 127.0.0.1, free port. */
import { execFile, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { getTestPki, postgresOwner } from './certs.js';
import { freePort } from './free-port.js';

/** Client authentication method written to pg_hba.conf. */
export type PgAuthMethod = 'scram-sha-256' | 'md5' | 'password';

/** Options of startPgCluster. */
export interface PgClusterOptions {
  /** pg_hba method for TCP logins (default scram-sha-256). `md5` also stores md5 password hashes. */
  authMethod?: PgAuthMethod;
  /** max_connections (default 100). */
  maxConnections?: number;
}

/** A running cluster; stop() (or `await using`) kills it and removes its directory. */
export interface PgCluster {
  host: '127.0.0.1';
  port: number;
  caPem: string;
  caFile: string;
  superuser: 'postgres';
  superPassword: string;
  /** `postgresql://user:password@127.0.0.1:port/db` (defaults: superuser, `postgres`); TLS options are the caller's. */
  url(db?: string, user?: string, password?: string): string;
  /** Runs SQL as the superuser over verified TLS (pooled). */
  query(sql: string, params?: unknown[]): Promise<pg.QueryResult>;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const pgSkipMessage = 'PostgreSQL binaries not found';

let binDirCache: string | null | undefined;

/** Directory holding initdb/pg_ctl of the highest installed PostgreSQL (PG_BIN_DIR overrides), or undefined. */
export function pgBinDir(): string | undefined {
  if (binDirCache !== undefined) return binDirCache ?? undefined;
  const candidates: string[] = [];
  if (process.env['PG_BIN_DIR']) candidates.push(process.env['PG_BIN_DIR']);
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root).filter((v) => /^\d+(\.\d+)?$/.test(v)).sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => join(root, v, 'bin')));
  }
  binDirCache = candidates.find((d) => ['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(join(d, b)))) ?? null;
  return binDirCache ?? undefined;
}

/** True when a cluster can be started here (binaries present; as root, a `postgres` OS user exists). */
export function pgAvailable(): boolean {
  if (pgBinDir() === undefined) return false;
  return process.getuid?.() !== 0 || postgresOwner() !== undefined;
}

/** Gate for tests needing PostgreSQL: true when available; else throws under CI=true, or skips `t` and returns false. */
export function requirePg(t: TestContext): boolean {
  if (pgAvailable()) return true;
  if (process.env['CI'] === 'true') throw new Error(`${pgSkipMessage} (CI=true: PostgreSQL is required)`);
  t.skip(pgSkipMessage);
  return false;
}

function runAsPostgres(bin: string, args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  const exe = join(pgBinDir() ?? '', bin);
  const [cmd, argv] = postgresOwner() !== undefined ? ['runuser', ['-u', 'postgres', '--', exe, ...args]] : [exe, args];
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { cwd, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${bin} failed: ${stderr || err.message}`, { cause: err }));
      else resolve({ stdout, stderr });
    });
  });
}

function makeOwnedTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o700);
  const owner = postgresOwner();
  if (owner !== undefined) chownSync(dir, owner.uid, owner.gid);
  return dir;
}

interface Template {
  dataDir: string;
  superPassword: string;
}

let templatePromise: Promise<Template> | undefined;

/** initdb once per process; each cluster copies the data directory (saves about a second per cluster). */
function template(): Promise<Template> {
  templatePromise ??= (async () => {
    const dir = makeOwnedTempDir('rsproxy-pgtpl-');
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const superPassword = randomBytes(18).toString('hex');
    const pwFile = join(dir, 'pw');
    writeFileSync(pwFile, `${superPassword}\n`, { mode: 0o600 });
    const owner = postgresOwner();
    if (owner !== undefined) chownSync(pwFile, owner.uid, owner.gid);
    const dataDir = join(dir, 'data');
    await runAsPostgres(
      'initdb',
      ['-D', dataDir, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwFile}`, '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'],
      dir,
    );
    rmSync(pwFile);
    return { dataDir, superPassword };
  })();
  return templatePromise;
}

const live = new Set<{ dataDir: string; dir: string }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of live) {
      const exe = join(pgBinDir() ?? '', 'pg_ctl');
      const args = ['-D', c.dataDir, '-m', 'immediate', 'stop'];
      if (postgresOwner() !== undefined) spawnSync('runuser', ['-u', 'postgres', '--', exe, ...args], { cwd: c.dir, stdio: 'ignore' });
      else spawnSync(exe, args, { cwd: c.dir, stdio: 'ignore' });
      rmSync(c.dir, { recursive: true, force: true });
    }
  });
}

function sqlLiteral(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** Starts a fresh cluster (superuser `postgres`, random password, TLS with the test PKI). */
export async function startPgCluster(opts: PgClusterOptions = {}): Promise<PgCluster> {
  const authMethod = opts.authMethod ?? 'scram-sha-256';
  const maxConnections = opts.maxConnections ?? 100;
  if (!pgAvailable()) throw new Error(pgSkipMessage);
  const [pki, tpl] = await Promise.all([getTestPki(), template()]);
  const dir = makeOwnedTempDir('rsproxy-pg-');
  const dataDir = join(dir, 'data');
  const entry = { dataDir, dir };
  live.add(entry);
  installExitHook();
  const removeDir = (): void => {
    live.delete(entry);
    rmSync(dir, { recursive: true, force: true });
  };

  let port = 0;
  try {
    await new Promise<void>((resolve, reject) =>
      execFile('cp', ['-a', tpl.dataDir, dataDir], (err) => (err ? reject(err) : resolve())),
    );
    appendFileSync(
      join(dataDir, 'postgresql.conf'),
      [
        '',
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = ${sqlLiteral(dir)}`,
        'ssl = on',
        `ssl_cert_file = ${sqlLiteral(pki.certFile)}`,
        `ssl_key_file = ${sqlLiteral(pki.keyFile)}`,
        'fsync = off',
        'synchronous_commit = off',
        'full_page_writes = off',
        'shared_buffers = 16MB',
        `max_connections = ${maxConnections}`,
        `superuser_reserved_connections = ${Math.max(0, Math.min(3, maxConnections - 1))}`,
        `password_encryption = ${authMethod === 'md5' ? 'md5' : 'scram-sha-256'}`,
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(dataDir, 'pg_hba.conf'),
      `local all all trust\nhostssl all all 127.0.0.1/32 ${authMethod}\nhost all all 127.0.0.1/32 ${authMethod}\n`,
    );
    const logFile = join(dir, 'postgres.log');
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await runAsPostgres('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '30', '-o', `-p ${port}`, 'start'], dir);
        break;
      } catch (err) {
        const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
        if (attempt < 5 && /could not bind|already in use|could not create any TCP\/IP sockets/i.test(log)) continue;
        throw new Error(`PostgreSQL did not start: ${log.slice(-2000)}`, { cause: err });
      }
    }
  } catch (err) {
    removeDir();
    throw err;
  }

  const superPassword = tpl.superPassword;
  const pool = new pg.Pool({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password: superPassword,
    database: 'postgres',
    ssl: { ca: pki.caPem },
    max: 2,
    idleTimeoutMillis: 1000,
    allowExitOnIdle: true,
  });
  // Idle clients see the server die at stop(); that is expected, not a test failure.
  pool.on('error', () => {});

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await pool.end().catch(() => {});
      await runAsPostgres('pg_ctl', ['-D', dataDir, '-m', 'immediate', 'stop'], dir).catch(() => {});
      removeDir();
    })();
    return stopped;
  };

  const cluster: PgCluster = {
    host: '127.0.0.1',
    port,
    caPem: pki.caPem,
    caFile: pki.caFile,
    superuser: 'postgres',
    superPassword,
    url(db = 'postgres', user = 'postgres', password = superPassword) {
      return `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(db)}`;
    },
    query(sql, params) {
      return pool.query(sql, params);
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };

  if (authMethod === 'md5') {
    // The template stored a SCRAM hash; re-store it as md5 so the server really asks for R 5.
    try {
      await cluster.query(`ALTER ROLE postgres PASSWORD ${sqlLiteral(superPassword)}`);
    } catch (err) {
      await stop();
      throw err;
    }
  }
  return cluster;
}
