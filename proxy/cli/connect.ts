/** `rsproxy connect --host H --dbname D [--user U] … [-- psql args…]`: mint a token and run psql with it in PGPASSWORD (never argv). */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { ConnectionParams } from './conn-strings.js';
import { RuntimeError } from '../errors/exit-codes.js';
import { connectionParamsOf, mintUserToken } from './client-options.js';
import { specOf } from './command-specs.js';
import { parseCommand } from './options.js';

/** The psql executable: RSPROXY_PSQL, else `psql` on PATH. */
export function psqlCommand(env: NodeJS.ProcessEnv = process.env): string {
  const override = env['RSPROXY_PSQL'];
  return override !== undefined && override !== '' ? override : 'psql';
}

/**
 * The environment psql runs with: libpq's PG* variables. The token goes in PGPASSWORD, so it never
 * shows in `ps` output; psql ≤ 13 could not even take it at its 99-character password prompt.
 */
export function psqlEnv(p: ConnectionParams & { password: string }, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...base,
    PGHOST: p.host,
    PGPORT: String(p.port),
    PGDATABASE: p.dbName,
    PGUSER: p.user,
    PGPASSWORD: p.password,
    PGSSLMODE: p.sslMode,
  };
  // A service file or hostaddr could send the token to another server than --host.
  delete env['PGSERVICE'];
  delete env['PGHOSTADDR'];
  if (p.sslRootCert !== undefined) env['PGSSLROOTCERT'] = p.sslRootCert;
  return env;
}

/** Exit code of a child: its own code, or 128 + signal number when a signal ended it. */
export function childExitCode(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal === null ? undefined : constants.signals[signal];
  return n === undefined ? 2 : 128 + n;
}

/** Runs psql with `env` and `args`, inheriting the terminal; resolves with psql's exit code. */
export function runPsql(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { env, stdio: 'inherit' });
    // Ctrl-C reaches psql through the terminal (it cancels the query); this process must outlive it.
    const ignore = (): void => {};
    const forward = (sig: NodeJS.Signals) => (): void => {
      child.kill(sig);
    };
    const onTerm = forward('SIGTERM');
    const onHup = forward('SIGHUP');
    process.on('SIGINT', ignore);
    process.on('SIGQUIT', ignore);
    process.on('SIGTERM', onTerm);
    process.on('SIGHUP', onHup);
    const cleanup = (): void => {
      process.off('SIGINT', ignore);
      process.off('SIGQUIT', ignore);
      process.off('SIGTERM', onTerm);
      process.off('SIGHUP', onHup);
    };
    child.once('error', (err) => {
      cleanup();
      if ((err as { code?: unknown }).code === 'ENOENT') {
        reject(
          new RuntimeError(
            `"${command}" was not found on PATH. Install the PostgreSQL client (Debian/Ubuntu: apt-get install postgresql-client; macOS: brew install libpq), set RSPROXY_PSQL to its path, or print a connection string with \`rsproxy url\``,
            { cause: err },
          ),
        );
      } else reject(new RuntimeError(`cannot run ${command}: ${err.message}`, { cause: err }));
    });
    child.once('exit', (code, signal) => {
      cleanup();
      resolve(childExitCode(code, signal));
    });
  });
}

/** Runs `rsproxy connect`; returns psql's exit code. */
export async function run(argv: string[]): Promise<number> {
  // Positionals before `--` are usage errors (the table says so); after it they belong to psql.
  const args = parseCommand(specOf('connect'), argv);
  const dashDash = argv.indexOf('--');
  const psqlArgs = dashDash === -1 ? [] : argv.slice(dashDash + 1);
  const params = connectionParamsOf(args);
  const token = await mintUserToken(args);
  const env = psqlEnv({ ...params, password: token });
  return runPsql(psqlCommand(), psqlArgs, env);
}
