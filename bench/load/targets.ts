/**
 * The load bench's targets, each in a process of its own so that its RSS is its own: rsproxy
 * (runServe in a child, rsproxy-main.ts, against the stack's emulator and PostgreSQL), pgbouncer and the bare Node pipe.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { freePort } from '../../testkit/free-port.js';
import { httpGet } from '../../testkit/http-get.js';
import { proxyAwsEnv } from '../../testkit/proxy-aws-env.js';
import type { StackHandle } from '../../testkit/stack.js';
import { waitFor } from '../../testkit/wait.js';
import { startPgbouncerForStack } from '../pgbouncer.js';
import type { GcReport } from './gc-hook.js';

const here = dirname(fileURLToPath(import.meta.url));
const rsproxyJs = join(here, 'rsproxy-main.js');
const nodePipeJs = join(here, 'node-pipe-main.js');

/** Who logs in through a target. */
export interface LoginAs {
  user: string;
  database: string;
  password: string;
}

/** A target in its own process. */
export interface LoadTarget {
  name: string;
  port: number;
  /** rsproxy's admin port (/livez). */
  adminPort?: number;
  /** The process whose RSS is the target's. */
  pid(): number | undefined;
  /** Node targets: a full GC in the target, then its heap and RSS (so readings count retained memory only). */
  gc?: () => Promise<GcReport>;
  login: LoginAs;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

const running = new Set<() => Promise<void>>();

/** Stops every target still running (the bench's SIGINT/SIGTERM handler). */
export async function stopAllTargets(): Promise<void> {
  for (const stop of [...running]) await stop().catch(() => {});
}

/** Registers a target's stop until it has run. */
function tracked(target: LoadTarget): LoadTarget {
  const stop = async (): Promise<void> => {
    running.delete(stop);
    await target.stop();
  };
  running.add(stop);
  return { ...target, stop };
}

/** Forks a node child (--expose-gc, IPC for the GC hook) that the bench kills on exit; stderr is kept (last 4 KB) for error messages. */
function forkNode(script: string, args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; stderr: () => string; stop: () => Promise<void>; gc: () => Promise<GcReport> } {
  const child = fork(script, args, { env, execArgv: ['--expose-gc'], stdio: ['pipe', 'pipe', 'pipe', 'ipc'] });
  children.add(child);
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4096)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    }
    children.delete(child);
  };
  const gc = (): Promise<GcReport> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no GC report within 30 s')), 30_000);
      child.once('message', (m) => {
        clearTimeout(timer);
        resolve(m as GcReport);
      });
      child.send('gc');
    });
  return { child, stderr: () => err, stop, gc };
}

/** `rsproxy serve` in a child with the stack's config, its own ports and these `limits`. */
export async function startRsproxyChild(stack: StackHandle, limits: Record<string, number>, login: LoginAs): Promise<LoadTarget> {
  const config = parse(readFileSync(stack.configPath, 'utf8')) as Record<string, unknown>;
  const port = await freePort();
  const adminPort = await freePort();
  Object.assign(config, { listen: `127.0.0.1:${port}`, admin: { listen: `127.0.0.1:${adminPort}` }, limits, log: { level: 'warn' } });
  const configPath = join(stack.dir, `rsproxy-load-${port}.yaml`);
  writeFileSync(configPath, stringify(config));
  // startStack put the proxy's keys in process.env; the endpoints point at the stack's emulator.
  const keys = { accessKeyId: process.env['AWS_ACCESS_KEY_ID'] ?? '', secretAccessKey: process.env['AWS_SECRET_ACCESS_KEY'] ?? '' };
  const proc = forkNode(rsproxyJs, [configPath], { ...process.env, ...proxyAwsEnv(keys, stack.region, stack.emulator.url) });
  proc.child.stdout?.resume();
  try {
    await waitFor(async () => (await httpGet(`http://127.0.0.1:${adminPort}/livez`, 1000)).status === 200, 20_000, 100);
  } catch (err) {
    await proc.stop();
    throw new Error(`rsproxy serve did not start: ${proc.stderr()}`, { cause: err });
  }
  return tracked({ name: 'rsproxy', port, adminPort, pid: () => proc.child.pid, gc: proc.gc, login, stop: proc.stop });
}

/** bench/node-pipe.ts in a child (node-pipe-main.js) in front of the stack's PostgreSQL. */
export async function startNodePipeChild(stack: StackHandle, pki: { certFile: string; keyFile: string; caFile: string }, login: LoginAs): Promise<LoadTarget> {
  const proc = forkNode(nodePipeJs, [String(stack.pg.port), pki.certFile, pki.keyFile, pki.caFile], process.env);
  let out = '';
  proc.child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const port = await waitFor(() => (/^\{"port":(\d+)\}$/m.exec(out)?.[1] ?? (proc.child.exitCode !== null ? 'exited' : undefined)), 20_000, 50);
  if (port === 'exited') throw new Error(`node-pipe did not start: ${proc.stderr()}`);
  return tracked({ name: 'node-pipe', port: Number(port), pid: () => proc.child.pid, gc: proc.gc, login, stop: proc.stop });
}

/** pgbouncer (session mode, TLS both sides) with one server connection per held client. */
export async function startPgbouncerTarget(stack: StackHandle, pki: { certFile: string; keyFile: string; caFile: string }, sessions: number, login: LoginAs): Promise<LoadTarget> {
  const bouncer = await startPgbouncerForStack(stack, pki, sessions, sessions + 50);
  return tracked({ name: 'pgbouncer', port: bouncer.port, pid: () => bouncer.pid(), login, stop: () => bouncer.stop() });
}
