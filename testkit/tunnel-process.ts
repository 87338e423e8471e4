/**
 * `rsproxy tunnel` as a child process (`node dist/proxy/cli/index.js tunnel …`) for the integration tests and the
 * benchmark: an AWS shared-credentials file for one principal, the start-up lines parsed, stderr collected, and a
 * stop that sends a signal and returns the exit code.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/testkit/tunnel-process.js → project root is two levels up.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The CLI entry point the child runs. */
export const rsproxyBin = join(root, 'dist', 'proxy', 'cli', 'index.js');

/** AWS keys to put in a credentials file. */
export interface AwsKeys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Writes an AWS shared credentials file with `[profile]` holding `keys` (or an empty section when undefined). */
export function writeCredentialsFile(file: string, keys: AwsKeys | undefined, profile = 'default'): void {
  const lines = [`[${profile}]`];
  if (keys !== undefined) {
    lines.push(`aws_access_key_id = ${keys.accessKeyId}`, `aws_secret_access_key = ${keys.secretAccessKey}`);
    if (keys.sessionToken !== undefined) lines.push(`aws_session_token = ${keys.sessionToken}`);
  }
  writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
}

/**
 * An environment with no AWS_* or PG* variable of this process: the AWS SDK reads `credentialsFile` and
 * `configFile`, never the instance metadata service.
 */
/** A fresh home under `dir` with `keys` in its AWS credentials file and an empty config file, and the tunnel's env for it. */
export function principalTunnelEnv(dir: string, name: string, keys: AwsKeys, extra: Record<string, string> = {}): { env: NodeJS.ProcessEnv; credentialsFile: string } {
  const home = mkdtempSync(join(dir, `${name}-`));
  const credentialsFile = join(home, 'credentials');
  const configFile = join(home, 'config');
  writeFileSync(configFile, '');
  writeCredentialsFile(credentialsFile, keys);
  return { env: tunnelEnv({ credentialsFile, configFile, home }, extra), credentialsFile };
}

export function tunnelEnv(files: { credentialsFile: string; configFile: string; home: string }, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_') && !k.startsWith('PG') && !k.startsWith('RSPROXY_') && k !== 'NODE_TEST_CONTEXT') env[k] = v;
  return {
    ...env,
    HOME: files.home,
    AWS_SHARED_CREDENTIALS_FILE: files.credentialsFile,
    AWS_CONFIG_FILE: files.configFile,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...extra,
  };
}

/** A running tunnel child. */
export interface TunnelProcess {
  child: ChildProcess;
  /** The `listening on …` line's address and port. */
  address: string;
  port: number;
  /** Every stdout line so far. */
  stdout: string[];
  /** Every stderr line so far. */
  stderr: string[];
  /** Sends `signal` (default SIGTERM) and resolves with the exit code (-1 when killed after `timeoutMs`). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Result of a tunnel that exited by itself before listening. */
export interface TunnelExit {
  code: number;
  stdout: string;
  stderr: string;
}

function collectLines(stream: NodeJS.ReadableStream | null, into: string[], onLine?: (line: string) => void): void {
  let partial = '';
  stream?.on('data', (d: Buffer) => {
    const parts = (partial + d.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      into.push(line);
      onLine?.(line);
    }
  });
}

/**
 * Starts the tunnel (`command`: the rsproxy to run, default this Node with dist's CLI; the single executable's test
 * passes the executable); resolves once it prints its listen line, or rejects with its output if it exits first (or after 30 s).
 */
export function startTunnel(args: readonly string[], env: NodeJS.ProcessEnv, command: readonly string[] = [process.execPath, rsproxyBin]): Promise<TunnelProcess> {
  const [file = process.execPath, ...prefix] = command;
  const child = spawn(file, [...prefix, 'tunnel', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const exited = new Promise<number>((done) => child.once('exit', (code, signal) => done(code ?? (signal === null ? -1 : 128))));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<number> => {
    if (child.exitCode !== null || child.signalCode !== null) return exited;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tunnel did not start in 30 s:\n${stdout.join('\n')}\n${stderr.join('\n')}`));
    }, 30_000);
    collectLines(child.stderr, stderr);
    collectLines(child.stdout, stdout, (line) => {
      const m = /^listening on (\S+) -> /.exec(line);
      if (m === null) return;
      clearTimeout(timer);
      const address = m[1] ?? '';
      const port = Number(/:(\d+)$/.exec(address)?.[1] ?? /\.s\.PGSQL\.(\d+)$/.exec(address)?.[1]);
      resolvePromise({ child, address, port, stdout, stderr, stop, [Symbol.asyncDispose]: async () => void (await stop('SIGKILL')) });
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`tunnel exited ${code} before listening:\n${stderr.join('\n')}`), { exit: { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') } satisfies TunnelExit }));
    });
  });
}

/** Runs the tunnel expecting it to exit by itself (a usage or credentials error); resolves with its exit code and output. */
export async function tunnelExit(args: readonly string[], env: NodeJS.ProcessEnv): Promise<TunnelExit> {
  try {
    const t = await startTunnel(args, env);
    await t.stop('SIGKILL');
    throw new Error(`tunnel started listening on ${t.address} instead of exiting`);
  } catch (err) {
    const exit = (err as { exit?: TunnelExit }).exit;
    if (exit === undefined) throw err;
    return exit;
  }
}
