/**
 * The whole rsproxy stack on loopback for integration tests, e2e and the benchmark: a throwaway
 * PostgreSQL (the "cluster"), the AWS emulator (real SigV4, real roles upstream) and the proxy,
 * started in-process through `runServe` with a generated config file.
 *
 * ```ts
 * await using stack = await startStack();
 * const client = new pg.Client({ host: '127.0.0.1', port: stack.proxyPort, user: stack.dbUser,
 *   database: stack.database, password: await stack.mintToken(), ssl: { ca: stack.caPem } });
 * ```
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintToken } from '../auth/token-mint.js';
import { startEmulator } from '../emulator/index.js';
import type { Emulator, EmulatorPrincipal } from '../emulator/index.js';
import type { ServeHandle } from '../proxy/cli/run-serve.js';
import { getTestPki } from './certs.js';
import { startPgCluster } from './pg-cluster.js';
import type { PgAuthMethod, PgCluster } from './pg-cluster.js';
import { proxyAwsEnv, randomKeyId, setProcessEnv } from './proxy-aws-env.js';
import { loopbackProxyConfig, serveInProcess, stopProxy } from './serve-in-process.js';
import type { ProxyConfigBase } from './serve-in-process.js';

/** The account every stack principal lives in. */
export const stackAccountId = '123456789012';
/** The STS region tokens name. */
export const stackRegion = 'eu-west-1';
/** `identity.audience` of the stack's proxy. */
export const stackAudience = 'rsproxy:test';
/** The emulator cluster identifier behind the `dev` database. */
export const stackClusterId = 'test-cluster';
/** The verified identity of the stack's client principal. */
export const stackClientArn = `arn:aws:sts::${stackAccountId}:assumed-role/Analyst/alice`;

/** AWS keys of a principal (what a token is signed with). */
export interface StackCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** The plain-object config the stack writes as YAML (docs/design/surface.md §3); `configure` may edit it. */
export type StackProxyConfig = ProxyConfigBase;

/** Options of startStack. */
export interface StackOptions {
  /** pg_hba method of the upstream (default scram-sha-256). */
  authMethod?: PgAuthMethod;
  /** Upstream max_connections (default 100). */
  pgMaxConnections?: number;
  /** Proxy `log.level` (default warn). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Keep at most this many proxy log lines in `logs` (default 2000). */
  maxLogLines?: number;
  /** Edits the generated config before it is written (extra rules, databases, limits…). */
  configure?: (config: StackProxyConfig) => void;
  /** More proxies on the same config, upstream and emulator: a fleet of 1 + extraReplicas (default 0). */
  extraReplicas?: number;
}

/** A further proxy of the stack (same config, own ports and logs). */
export interface StackReplica {
  proxy: ServeHandle;
  port: number;
  logs: string[];
}

/** Options of StackHandle.mintToken. */
export interface MintOptions {
  /** Sign with the principal whose session token is ~2.9 KB, giving a ~3 KB token (docs/design/wire-protocol.md §14 item 13). */
  long?: boolean;
}

/** A running stack; close() (or `await using`) stops the proxy, the emulator and PostgreSQL. */
export interface StackHandle {
  pg: PgCluster;
  emulator: Emulator;
  proxy: ServeHandle;
  proxyPort: number;
  adminPort: number;
  /** CA of the proxy's (and PostgreSQL's) certificate: localhost + 127.0.0.1. */
  caFile: string;
  caPem: string;
  /** Temp directory with the config file. */
  dir: string;
  configPath: string;
  audience: string;
  region: string;
  /** Startup `user` the client sends (rule dbUser); upstream it is `IAMA:alice`. */
  dbUser: 'alice';
  /** Startup `database` the client sends (a key of `databases`). */
  database: 'dev';
  /** Upstream PostgreSQL database `dev` maps to. */
  upstreamDbName: string;
  /** Keys of the client principal (assumed role Analyst/alice). */
  clientCredentials: StackCredentials;
  /** A fresh rsp1 token for the client principal. */
  mintToken(opts?: MintOptions): Promise<string>;
  /** Proxy log lines (JSON strings), newest last. */
  logs: string[];
  /** The extra replicas (StackOptions.extraReplicas), in start order. */
  replicas: StackReplica[];
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

function sessionPrincipal(sessionTokenBytes: number): EmulatorPrincipal & { sessionToken: string } {
  return {
    accessKeyId: randomKeyId('ASIA'),
    secretAccessKey: randomBytes(30).toString('base64'),
    sessionToken: randomBytes(sessionTokenBytes).toString('base64'),
    arn: stackClientArn,
    accountId: stackAccountId,
    userId: 'AROAANALYSTROLE000001:alice',
  };
}

/**
 * The proxy's own AWS identity. The SDK's default chain reads it from process.env (endpoints come
 * from the env object given to runServe), so every stack in a process shares one key pair.
 */
const proxyIdentity = { accessKeyId: randomKeyId('AKIA'), secretAccessKey: randomBytes(30).toString('base64') };

/** Puts the shared proxy keys in process.env; never restored, as other stacks may still be using them. */
function useProxyIdentityInProcessEnv(): void {
  setProcessEnv(
    {
      AWS_ACCESS_KEY_ID: proxyIdentity.accessKeyId,
      AWS_SECRET_ACCESS_KEY: proxyIdentity.secretAccessKey,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    ['AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_DEFAULT_PROFILE'],
  );
}

/** Starts PostgreSQL, the emulator and the proxy; everything on 127.0.0.1 with OS-chosen ports. */
export async function startStack(opts: StackOptions = {}): Promise<StackHandle> {
  const cleanups: Array<() => Promise<void>> = [];
  const close = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    const pki = await getTestPki();
    const pgCluster = await startPgCluster({
      ...(opts.authMethod === undefined ? {} : { authMethod: opts.authMethod }),
      ...(opts.pgMaxConnections === undefined ? {} : { maxConnections: opts.pgMaxConnections }),
    });
    cleanups.push(() => pgCluster.stop());

    const dir = mkdtempSync(join(tmpdir(), 'rsproxy-stack-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));

    // A real assumed-role session token is ~0.6-1 KB of base64; the long one makes a ~3 KB token.
    const client = sessionPrincipal(600);
    const longClient = sessionPrincipal(2200);
    const emulator = await startEmulator({
      principals: [
        client,
        longClient,
        { ...proxyIdentity, arn: `arn:aws:iam::${stackAccountId}:user/rsproxy`, accountId: stackAccountId, userId: 'AIDARSPROXYTEST000001' },
      ],
      clusters: [{ identifier: stackClusterId, host: pgCluster.host, port: pgCluster.port }],
      upstreamAdmin: { connectionString: pgCluster.url(), ssl: { ca: pki.caPem } },
      // Replicas on one emulator must not invalidate each other's cached passwords (one password per role upstream).
      keepValidPasswords: (opts.extraReplicas ?? 0) > 0,
    });
    cleanups.push(() => emulator.close());

    const upstreamDbName = 'postgres';
    const config: StackProxyConfig = loopbackProxyConfig(pki, opts.logLevel ?? 'warn', {
      identity: { audience: stackAudience, partition: 'aws', stsRegions: [stackRegion], allowedAccounts: [stackAccountId], maxTokenAgeSeconds: 900, clockSkewSeconds: 60 },
      databases: {
        dev: {
          cluster: stackClusterId,
          host: pgCluster.host,
          port: pgCluster.port,
          region: stackRegion,
          engine: 'postgres',
          dbName: upstreamDbName,
          upstreamTls: { mode: 'verify-full', caFile: pki.caFile },
        },
      },
      rules: [{ principal: `arn:aws:iam::${stackAccountId}:role/Analyst`, dbUser: 'alice', autoCreate: true, databases: ['dev'] }],
    });
    opts.configure?.(config);
    const configPath = join(dir, 'rsproxy.yaml');

    // The proxy's AWS identity and endpoints come from the standard SDK settings (docs/design/surface.md §3);
    // endpoints go in the env object, so several stacks can run in one process.
    useProxyIdentityInProcessEnv();
    const env: Record<string, string | undefined> = { ...process.env };
    for (const k of ['AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_DEFAULT_PROFILE', 'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE']) delete env[k];
    Object.assign(env, proxyAwsEnv(proxyIdentity, stackRegion, emulator.url));

    const { proxy: running, logs } = await serveInProcess({ config, configPath, env, maxLogLines: opts.maxLogLines ?? 2000 });
    cleanups.push(() => stopProxy(running));
    const replicas: StackReplica[] = [];
    for (let i = 0; i < (opts.extraReplicas ?? 0); i++) {
      // serveInProcess writes a fresh admin port into the config it is given, so each replica gets its own copy.
      const replicaConfig = { ...config, admin: { ...config.admin } };
      const r = await serveInProcess({ config: replicaConfig, configPath: join(dir, `rsproxy-${i + 2}.yaml`), env, maxLogLines: opts.maxLogLines ?? 2000 });
      cleanups.push(() => stopProxy(r.proxy));
      replicas.push({ proxy: r.proxy, port: r.proxy.proxyAddress.port, logs: r.logs });
    }

    const clientCredentials: StackCredentials = { accessKeyId: client.accessKeyId, secretAccessKey: client.secretAccessKey, sessionToken: client.sessionToken };
    const longCredentials: StackCredentials = { accessKeyId: longClient.accessKeyId, secretAccessKey: longClient.secretAccessKey, sessionToken: longClient.sessionToken };
    return {
      pg: pgCluster,
      emulator,
      proxy: running,
      proxyPort: running.proxyAddress.port,
      adminPort: running.adminAddress.port,
      caFile: pki.caFile,
      caPem: pki.caPem,
      dir,
      configPath,
      audience: stackAudience,
      region: stackRegion,
      dbUser: 'alice',
      database: 'dev',
      upstreamDbName,
      clientCredentials,
      mintToken: (mintOpts) =>
        mintToken({ audience: stackAudience, region: stackRegion, credentials: mintOpts?.long === true ? longCredentials : clientCredentials }),
      logs,
      replicas,
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
