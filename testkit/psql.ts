/** Real psql as a child process against the proxy (verify-full against the test CA, name checked as localhost), bounded in time. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { commandWorks } from './tools.js';

/** True when psql runs here (gate tests with requireTool). */
export const hasPsql = commandWorks('psql');

/** How psql ended and what it printed. */
export interface PsqlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Where and as whom psql connects; the password goes in PGPASSWORD, never on argv. */
export interface PsqlTarget {
  port: number;
  user: string;
  database: string;
  password: string;
  caFile: string;
}

/** A running psql: its process and its result once it exits (killed after `timeoutMs`). */
export interface PsqlRun {
  child: ChildProcess;
  done: Promise<PsqlResult>;
}

/** Starts `psql -X -v ON_ERROR_STOP=1 -d <conninfo> …args` with `stdin` written and closed. */
export function startPsql(target: PsqlTarget, args: string[], stdin = '', timeoutMs = 30_000): PsqlRun {
  const conninfo = `host=localhost hostaddr=127.0.0.1 port=${target.port} user=${target.user} dbname=${target.database} sslmode=verify-full sslrootcert=${target.caFile}`;
  const child = spawn('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-d', conninfo, ...args], {
    env: { ...process.env, PGPASSWORD: target.password, PGCONNECT_TIMEOUT: '10' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  child.stdin.end(stdin);
  const done = new Promise<PsqlResult>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, done };
}

/** Runs psql to its end. */
export function runPsql(target: PsqlTarget, args: string[], stdin = ''): Promise<PsqlResult> {
  return startPsql(target, args, stdin).done;
}
