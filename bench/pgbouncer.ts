/** A throwaway pgbouncer (Debian /usr/sbin/pgbouncer) in session mode, TLS on both sides, for the benchmark. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postgresOwner } from '../testkit/certs.js';
import type { StackHandle } from '../testkit/stack.js';
import { freePort } from '../testkit/free-port.js';
import { procCpuMicros } from './proc-cpu.js';

/** Where pgbouncer finds its upstream and TLS material. */
export interface PgbouncerOptions {
  upstreamHost: string;
  upstreamPort: number;
  database: string;
  user: string;
  password: string;
  certFile: string;
  keyFile: string;
  caFile: string;
  /** Server connections per (db, user) pool. */
  poolSize: number;
  /** Client connections pgbouncer accepts (default 200). */
  maxClientConn?: number;
}

/** A running pgbouncer; stop() kills it and removes its directory. */
export interface Pgbouncer {
  port: number;
  /** CPU time (user + system) pgbouncer has used so far, in µs, from /proc; undefined when unreadable. */
  cpuMicros(): number | undefined;
  /** pgbouncer's own process id (from its pidfile), for /proc reads; undefined when unreadable. */
  pid(): number | undefined;
  stop(): Promise<void>;
}

/** Default binary location (PGBOUNCER_BIN overrides). */
export function pgbouncerBin(): string {
  return process.env['PGBOUNCER_BIN'] ?? '/usr/sbin/pgbouncer';
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

function quoteUserlist(s: string): string {
  return `"${s.replaceAll('"', '""')}"`;
}

/** Starts pgbouncer on a free loopback port (as the `postgres` OS user when running as root: it refuses root). */
export async function startPgbouncer(opts: PgbouncerOptions): Promise<Pgbouncer> {
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-pgbouncer-'));
  const owner = postgresOwner();
  const port = await freePort();
  const ini = [
    '[databases]',
    `${opts.database} = host=${opts.upstreamHost} port=${opts.upstreamPort} dbname=${opts.database}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    `auth_type = scram-sha-256`,
    `auth_file = ${join(dir, 'userlist.txt')}`,
    'pool_mode = session',
    `max_client_conn = ${opts.maxClientConn ?? 200}`,
    `default_pool_size = ${opts.poolSize}`,
    'client_tls_sslmode = require',
    `client_tls_cert_file = ${opts.certFile}`,
    `client_tls_key_file = ${opts.keyFile}`,
    'server_tls_sslmode = verify-full',
    `server_tls_ca_file = ${opts.caFile}`,
    `logfile = ${join(dir, 'pgbouncer.log')}`,
    `pidfile = ${join(dir, 'pgbouncer.pid')}`,
    'log_connections = 0',
    'log_disconnections = 0',
    '',
  ].join('\n');
  writeFileSync(join(dir, 'pgbouncer.ini'), ini);
  // A plain password lets pgbouncer answer SCRAM on both sides.
  writeFileSync(join(dir, 'userlist.txt'), `${quoteUserlist(opts.user)} ${quoteUserlist(opts.password)}\n`, { mode: 0o600 });
  if (owner !== undefined) for (const f of ['', 'pgbouncer.ini', 'userlist.txt']) chownSync(join(dir, f), owner.uid, owner.gid);

  const argv = [pgbouncerBin(), join(dir, 'pgbouncer.ini')];
  const child: ChildProcess =
    owner !== undefined
      ? // runuser's PAM session drops the soft fd limit to 1024; the load bench holds a thousand clients and servers.
        spawn('runuser', ['-u', 'postgres', '--', '/bin/sh', '-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'pgbouncer', ...argv], { stdio: 'ignore' })
      : spawn(argv[0] ?? '', argv.slice(1), { stdio: 'ignore' });
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGTERM');
      await Promise.race([exitedPromise, new Promise((r) => setTimeout(r, 3000))]);
      if (!exited) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (exited || Date.now() > deadline) {
      const logFile = join(dir, 'pgbouncer.log');
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-1500) : '(no log)';
      await stop();
      throw new Error(`pgbouncer did not start: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const pid = (): number | undefined => {
    try {
      return Number(readFileSync(join(dir, 'pgbouncer.pid'), 'utf8').trim());
    } catch {
      return undefined;
    }
  };
  const cpuMicros = (): number | undefined => {
    const p = pid();
    return p === undefined ? undefined : procCpuMicros(p);
  };
  return { port, stop, cpuMicros, pid };
}

/** pgbouncer in front of a stack's PostgreSQL as its superuser, with the test PKI on both sides. */
export function startPgbouncerForStack(stack: StackHandle, pki: { certFile: string; keyFile: string; caFile: string }, poolSize: number, maxClientConn?: number): Promise<Pgbouncer> {
  return startPgbouncer({
    upstreamHost: '127.0.0.1',
    upstreamPort: stack.pg.port,
    database: stack.upstreamDbName,
    user: stack.pg.superuser,
    password: stack.pg.superPassword,
    certFile: pki.certFile,
    keyFile: pki.keyFile,
    caFile: pki.caFile,
    poolSize,
    ...(maxClientConn === undefined ? {} : { maxClientConn }),
  });
}
