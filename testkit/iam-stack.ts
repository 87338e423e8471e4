/**
 * The real IAM stack for the identity and credentials integration tests: throwaway PostgreSQL
 * cluster(s), the AWS emulator (real SigV4, real upstream roles) and the proxy via `runServe`,
 * with named principals, captured JSON logs and a record of every secret the test handled.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { mintToken } from '../auth/token-mint.js';
import { createPgUpstreamAdmin, startEmulator } from '../emulator/index.js';
import type { Emulator, EmulatorCluster, EmulatorPrincipal, EmulatorWorkgroup, UpstreamAdmin } from '../emulator/index.js';
import type { ServeHandle } from '../proxy/cli/run-serve.js';
import { getTestPki } from './certs.js';
import { startPgCluster } from './pg-cluster.js';
import type { PgCluster } from './pg-cluster.js';
import { proxyAwsEnv, randomKeyId, setProcessEnv } from './proxy-aws-env.js';
import { loopbackProxyConfig, serveInProcess, stopProxy } from './serve-in-process.js';
import type { ProxyConfigBase } from './serve-in-process.js';
import { httpGet } from './http-get.js';

/** The account the proxy admits. */
export const iamAccountId = '123456789012';
/** An account that is not in `identity.allowedAccounts`. */
export const foreignAccountId = '210987654321';
/** STS region of every token. */
export const iamRegion = 'eu-west-1';
/** `identity.audience` of the proxy. */
export const iamAudience = 'rsproxy:prod';
/** Emulated cluster behind the `dev` database (endpoint from DescribeClusters). */
export const iamClusterId = 'test-cluster';

/** A principal the emulator knows, by test name. */
export interface IamPrincipal {
  name: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  arn: string;
  accountId: string;
  userId: string;
}

/** A principal to add: `temporary` (default true) gives it an ASIA key and a session token. */
export interface IamPrincipalSpec {
  name: string;
  arn: string;
  userId: string;
  accountId?: string;
  temporary?: boolean;
}

/** The plain config object written as YAML (docs/design/surface.md §3); `configure` may edit it. */
export interface IamProxyConfig extends ProxyConfigBase {
  credentials: { durationSeconds: number; refreshBeforeSeconds: number };
}

/** What `configure` may use besides the config. */
export interface IamConfigContext {
  pg: PgCluster;
  caFile: string;
}

/** Options of startIamStack. */
export interface IamStackOptions {
  /** Principals besides the defaults (alice, bob, mallory, ivan, proxy). */
  principals?: IamPrincipalSpec[];
  /** Database users the proxy's own identity may mint (emulator AccessDenied for others). */
  proxyAllowedDbUsers?: string[];
  /** Extra emulated clusters (on the PostgreSQL cluster unless host/port say otherwise; the emulator manages roles there only). */
  clusters?: Array<Partial<EmulatorCluster> & { identifier: string }>;
  /** Emulated Serverless workgroups on the main PostgreSQL. */
  workgroups?: string[];
  durationSeconds?: number;
  refreshBeforeSeconds?: number;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Edits the generated config before it is written. */
  configure?: (config: IamProxyConfig, ctx: IamConfigContext) => void;
}

/** Options of IamStack.mint. */
export interface IamMintOptions {
  audience?: string;
  region?: string;
  nowMs?: number;
}

/** A failed login as the client saw it. */
export interface LoginFailure {
  code: string | undefined;
  message: string;
  hint: string | undefined;
  severity: string | undefined;
}

/** A running stack; close() stops the proxy, the emulator and PostgreSQL and restores process.env. */
export interface IamStack {
  pg: PgCluster;
  emulator: Emulator;
  proxy: ServeHandle;
  proxyPort: number;
  adminUrl: string;
  caPem: string;
  /** CA file of the proxy's and PostgreSQL's certificates (for psql's sslrootcert). */
  caFile: string;
  config: IamProxyConfig;
  /** The YAML file the proxy reads; write `config` there and call proxy.reload() to change it live. */
  configPath: string;
  principals: ReadonlyMap<string, IamPrincipal>;
  /** Proxy JSON log lines, oldest first. */
  logs: string[];
  /** Every token, signature, session token, secret key and DB password the test handled (never to be logged). */
  secrets: Set<string>;
  /** The DbPasswords the emulator issued (also in `secrets`). */
  dbPasswords: Set<string>;
  /** A new rsp1 token for the named principal (never one minted before unless `nowMs` is given; recorded in `secrets`). */
  mint(name: string, opts?: IamMintOptions): Promise<string>;
  /** A connected pg client (TLS verify-full against the test CA). */
  connect(password: string, user: string, database?: string): Promise<pg.Client>;
  /**
   * connect() for load tests: retries once, as a client would, after an 08006 (the upstream dial
   * timed out on a loaded machine) and counts those retries in `loadRetries`.
   */
  connectUnderLoad(password: string, user: string, database?: string): Promise<pg.Client>;
  loadRetries: number;
  /** Attempts a login and returns the server's error, or throws if the login succeeded. */
  loginError(password: string, user: string, database?: string): Promise<LoginFailure>;
  /** GET on the admin server. */
  admin(path: string): Promise<{ status: number; body: string }>;
  /** Value of one metric sample (0 when absent), e.g. metric('rsproxy_logins_total', { result: 'failed', reason: 'expired' }). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

function makePrincipal(spec: IamPrincipalSpec): IamPrincipal {
  const temporary = spec.temporary ?? true;
  return {
    name: spec.name,
    accessKeyId: randomKeyId(temporary ? 'ASIA' : 'AKIA'),
    secretAccessKey: randomBytes(30).toString('base64'),
    // Real session tokens are ~0.6-1 KB of base64 with `+` and `/`: exercise the base64url mapping.
    ...(temporary ? { sessionToken: randomBytes(450).toString('base64') } : {}),
    arn: spec.arn,
    accountId: spec.accountId ?? iamAccountId,
    userId: spec.userId,
  };
}

/** The principals every stack has. */
export const defaultPrincipals: readonly IamPrincipalSpec[] = [
  { name: 'alice', arn: `arn:aws:sts::${iamAccountId}:assumed-role/Analyst/alice`, userId: 'AROAANALYSTROLE000001:alice' },
  { name: 'bob', arn: `arn:aws:iam::${iamAccountId}:user/bob`, userId: 'AIDABOBUSER000000001', temporary: false },
  { name: 'mallory', arn: `arn:aws:sts::${foreignAccountId}:assumed-role/Analyst/mallory`, userId: 'AROAFOREIGNROLE00001:mallory', accountId: foreignAccountId },
  { name: 'ivan', arn: `arn:aws:sts::${iamAccountId}:assumed-role/Intern/ivan`, userId: 'AROAINTERNROLE000001:ivan' },
];

/** A connected node-postgres client (its 'error' events swallowed); a failed connect leaves nothing open. */
export async function connectPgClient(config: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client(config);
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
  return client;
}

/** Sums the samples of `name` whose labels include every pair of `labels`. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have = new Map([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1] ?? '', x[2] ?? '']));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[3]);
  }
  return sum;
}

const envKeys = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_REGION',
  'AWS_PROFILE',
  'AWS_ENDPOINT_URL_STS',
  'AWS_ENDPOINT_URL_REDSHIFT',
  'AWS_ENDPOINT_URL_REDSHIFT_SERVERLESS',
  'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED',
] as const;

/** Starts PostgreSQL, the emulator and the proxy, all on 127.0.0.1 with OS-chosen ports. */
export async function startIamStack(opts: IamStackOptions = {}): Promise<IamStack> {
  const cleanups: Array<() => Promise<void>> = [];
  const close = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    const pki = await getTestPki();
    const pgMain = await startPgCluster();
    cleanups.push(() => pgMain.stop());

    const dir = mkdtempSync(join(tmpdir(), 'rsproxy-iam-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));

    const principals = new Map<string, IamPrincipal>();
    for (const spec of [...defaultPrincipals, ...(opts.principals ?? [])]) principals.set(spec.name, makePrincipal(spec));
    const proxyIdentity = makePrincipal({ name: 'proxy', arn: `arn:aws:iam::${iamAccountId}:user/rsproxy`, userId: 'AIDARSPROXYTEST000001', temporary: false });
    principals.set('proxy', proxyIdentity);

    const secrets = new Set<string>();
    const dbPasswords = new Set<string>();
    for (const p of principals.values()) {
      secrets.add(p.secretAccessKey);
      if (p.sessionToken !== undefined) secrets.add(p.sessionToken);
    }

    const emulatorPrincipals: EmulatorPrincipal[] = [...principals.values()].map((p) => ({
      accessKeyId: p.accessKeyId,
      secretAccessKey: p.secretAccessKey,
      ...(p.sessionToken === undefined ? {} : { sessionToken: p.sessionToken }),
      arn: p.arn,
      accountId: p.accountId,
      userId: p.userId,
      ...(p.name === 'proxy' && opts.proxyAllowedDbUsers !== undefined ? { allowedDbUsers: opts.proxyAllowedDbUsers } : {}),
    }));
    const clusters: EmulatorCluster[] = [{ identifier: iamClusterId, host: pgMain.host, port: pgMain.port }];
    for (const c of opts.clusters ?? []) clusters.push({ host: pgMain.host, port: pgMain.port, ...c });
    const workgroups: EmulatorWorkgroup[] = (opts.workgroups ?? []).map((name) => ({ name, host: pgMain.host, port: pgMain.port }));
    // Wrap the emulator's admin connection to learn every DbPassword it issues (for the log check).
    const realAdmin = createPgUpstreamAdmin({ connectionString: pgMain.url(), ssl: { ca: pki.caPem } });
    cleanups.push(() => realAdmin.close());
    const upstreamAdmin: UpstreamAdmin = {
      issueDbUserLogin: (req) => {
        secrets.add(req.password);
        dbPasswords.add(req.password);
        return realAdmin.issueDbUserLogin(req);
      },
      issueCallerLogin: (req) => {
        secrets.add(req.password);
        dbPasswords.add(req.password);
        return realAdmin.issueCallerLogin(req);
      },
      close: async () => {},
    };
    const emulator = await startEmulator({ principals: emulatorPrincipals, clusters, workgroups, upstreamAdmin });
    cleanups.push(() => emulator.close());

    const config: IamProxyConfig = loopbackProxyConfig(pki, opts.logLevel ?? 'debug', {
      identity: {
        audience: iamAudience,
        partition: 'aws',
        stsRegions: [iamRegion, 'us-east-1'],
        allowedAccounts: [iamAccountId],
        maxTokenAgeSeconds: 300,
        clockSkewSeconds: 60,
      },
      databases: {
        dev: { cluster: iamClusterId, region: iamRegion, engine: 'postgres', dbName: 'postgres', upstreamTls: { mode: 'verify-full', caFile: pki.caFile } },
      },
      rules: [
        { principal: `arn:aws:iam::${iamAccountId}:role/Analyst`, dbUser: '{sessionName}', trustSessionName: true, autoCreate: true, databases: ['dev'] },
        { principal: `arn:aws:iam::${iamAccountId}:user/bob`, dbUser: 'bob', autoCreate: true, databases: ['dev'] },
      ],
      credentials: { durationSeconds: opts.durationSeconds ?? 900, refreshBeforeSeconds: opts.refreshBeforeSeconds ?? 60 },
      // Generous: the parallel-login tests share two cores with other suites.
      limits: { loginTimeoutMs: 30_000 },
    });
    opts.configure?.(config, { pg: pgMain, caFile: pki.caFile });
    const configPath = join(dir, 'rsproxy.yaml');

    // The SDK-backed minters read endpoints and the proxy's own keys from process.env (one stack per
    // process at a time); the verifier reads AWS_ENDPOINT_URL_STS from the env object.
    const restoreEnv = setProcessEnv(proxyAwsEnv(proxyIdentity, iamRegion, emulator.url), envKeys);
    cleanups.push(async () => restoreEnv());
    const env: Record<string, string | undefined> = { ...process.env };

    const { proxy: running, logs } = await serveInProcess({ config, configPath, env });
    cleanups.push(() => stopProxy(running));

    const adminUrl = `http://127.0.0.1:${running.adminAddress.port}`;
    const clientConfig = (password: string, user: string, database: string): pg.ClientConfig => ({
      host: '127.0.0.1',
      port: running.proxyAddress.port,
      user,
      database,
      password,
      ssl: { ca: pki.caPem, servername: 'localhost' },
      connectionTimeoutMillis: 45_000,
    });

    const stack: IamStack = {
      pg: pgMain,
      emulator,
      proxy: running,
      proxyPort: running.proxyAddress.port,
      adminUrl,
      caPem: pki.caPem,
      caFile: pki.caFile,
      config,
      configPath,
      principals,
      logs,
      secrets,
      dbPasswords,
      async mint(name, mintOpts = {}) {
        const p = principals.get(name);
        if (p === undefined) throw new Error(`no principal ${name}`);
        const mintAt = (nowMs: number) =>
          mintToken({
            audience: mintOpts.audience ?? iamAudience,
            region: mintOpts.region ?? iamRegion,
            credentials: { accessKeyId: p.accessKeyId, secretAccessKey: p.secretAccessKey, ...(p.sessionToken === undefined ? {} : { sessionToken: p.sessionToken }) },
            nowMs,
          });
        let token = await mintAt(mintOpts.nowMs ?? Date.now());
        // Two mints in one second give the same token (X-Amz-Date has 1 s resolution) and would share
        // the proxy's verified-token cache; without an explicit time, back-date until it is new.
        for (let back = 1; mintOpts.nowMs === undefined && secrets.has(token); back++) token = await mintAt(Date.now() - back * 1000);
        secrets.add(token);
        const fields = token.split('.');
        if (fields[4] !== undefined) secrets.add(fields[4]);
        if (fields[5] !== undefined) secrets.add(fields[5]);
        return token;
      },
      connect: (password, user, database = 'dev') => connectPgClient(clientConfig(password, user, database)),
      async connectUnderLoad(password, user, database = 'dev') {
        try {
          return await stack.connect(password, user, database);
        } catch (err) {
          if ((err as pg.DatabaseError).code !== '08006') throw err;
          stack.loadRetries += 1;
          return stack.connect(password, user, database);
        }
      },
      loadRetries: 0,
      async loginError(password, user, database = 'dev') {
        let client: pg.Client;
        try {
          client = await stack.connect(password, user, database);
        } catch (err) {
          const e = err as pg.DatabaseError;
          return { code: e.code, message: e.message, hint: e.hint, severity: e.severity };
        }
        await client.end().catch(() => {});
        throw new Error(`login as ${user} to ${database} unexpectedly succeeded`);
      },
      admin: (path) => httpGet(`${adminUrl}${path}`),
      async metric(name, labels) {
        const { body } = await httpGet(`${adminUrl}/metrics`);
        return metricValue(body, name, labels);
      },
      close,
      [Symbol.asyncDispose]: close,
    };
    return stack;
  } catch (err) {
    await close();
    throw err;
  }
}

/** Count of log lines per `event` (or message), for assertion messages. */
export function logSummary(logs: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const line of logs) {
    try {
      const rec = JSON.parse(line) as { event?: string; msg?: string; cause?: string };
      const key = `${rec.event ?? rec.msg ?? '?'}${rec.cause === undefined ? '' : ` (${String(rec.cause).slice(0, 80)})`}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    } catch {
      counts.set('non-JSON', (counts.get('non-JSON') ?? 0) + 1);
    }
  }
  return [...counts].map(([k, n]) => `${n}× ${k}`).join('; ');
}
