/**
 * The proxy run in-process for the stack helpers (stack.ts, iam-stack.ts): the loopback config
 * skeleton, `runServe` on a generated YAML file with the admin port retried on EADDRINUSE, and
 * the proxy's JSON log lines captured in memory.
 */
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { runServe } from '../proxy/cli/run-serve.js';
import type { ServeHandle, ServeOptions } from '../proxy/cli/run-serve.js';
import { freePort } from './free-port.js';

/** The plain-object config a stack writes as YAML (docs/design/surface.md §3): the sections every stack has, plus any other. */
export interface ProxyConfigBase {
  listen: string;
  tls: { certFile: string; keyFile: string; minVersion: string };
  identity: Record<string, unknown>;
  databases: Record<string, Record<string, unknown>>;
  rules: Array<Record<string, unknown>>;
  admin: { listen: string; tokenFile?: string };
  log: { level: string };
  [key: string]: unknown;
}

/** The sections a stack chooses itself: identity, databases, rules and any extra (credentials, limits…). */
export type ProxyConfigBody = Pick<ProxyConfigBase, 'identity' | 'databases' | 'rules'> & Record<string, unknown>;

/** A config listening on 127.0.0.1:0 with the test certificate; serveInProcess picks the admin port. */
export function loopbackProxyConfig<T extends ProxyConfigBody>(tls: { certFile: string; keyFile: string }, logLevel: string, body: T): ProxyConfigBase & T {
  return {
    listen: '127.0.0.1:0',
    tls: { certFile: tls.certFile, keyFile: tls.keyFile, minVersion: 'TLSv1.2' },
    ...body,
    admin: { listen: '127.0.0.1:0' },
    log: { level: logLevel },
  };
}

/** How many times serveInProcess tries a fresh admin port before an EADDRINUSE is thrown. */
const adminPortAttempts = 5;

/** True when `err`, or an error in its `cause` chain, is an EADDRINUSE (by code or in its message). */
export function isAddressInUse(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 8; depth++, e = (e as { cause?: unknown }).cause) {
    const text = e instanceof Error ? e.message : String(e);
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE' || /EADDRINUSE/.test(text)) return true;
  }
  return false;
}

/** Options of serveInProcess. */
export interface ServeInProcessOptions {
  /** Written to `configPath` before each attempt, with a fresh `admin.listen` port. */
  config: { admin: { listen: string } };
  configPath: string;
  /** The env object runServe reads (the proxy's AWS clients may also read process.env). */
  env: Readonly<Record<string, string | undefined>>;
  /** Keep at most this many log lines, dropping the oldest (default: keep all). */
  maxLogLines?: number;
  /** Peer resolution injected into `cluster` (fleet tests). */
  cluster?: ServeOptions['cluster'];
}

/** A proxy started by serveInProcess with its log lines (JSON strings, oldest first, from every attempt). */
export interface InProcessProxy {
  proxy: ServeHandle;
  logs: string[];
}

/** Writes the config and starts the proxy through runServe, retrying on a fresh admin port when it was taken. */
export async function serveInProcess(opts: ServeInProcessOptions): Promise<InProcessProxy> {
  const logs: string[] = [];
  const maxLogLines = opts.maxLogLines ?? Number.POSITIVE_INFINITY;
  const stdout = {
    write(line: string): boolean {
      for (const l of line.split('\n')) if (l.trim() !== '') logs.push(l);
      if (logs.length > maxLogLines) logs.splice(0, logs.length - maxLogLines);
      return true;
    },
  };
  // admin.listen must differ from listen, so the admin port is picked here (retried on a race).
  for (let attempt = 1; ; attempt++) {
    opts.config.admin.listen = `127.0.0.1:${await freePort()}`;
    writeFileSync(opts.configPath, stringify(opts.config));
    try {
      return { proxy: await runServe({ configPath: opts.configPath, env: opts.env, stdout, ...(opts.cluster === undefined ? {} : { cluster: opts.cluster }) }), logs };
    } catch (err) {
      if (attempt >= adminPortAttempts || !isAddressInUse(err)) throw err;
    }
  }
}

/** Stops a proxy at once (the first SIGINT drains, the second destroys) and waits until it has closed. */
export async function stopProxy(proxy: ServeHandle): Promise<void> {
  proxy.shutdown('SIGINT');
  proxy.shutdown('SIGINT');
  await proxy.done;
}
