/** The demo's whole local stack: CA + certificate, AWS emulator, upstream database, and the proxy. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { mintToken } from '../../auth/token-mint.js';
import { startEmbeddedUpstream } from '../../emulator/embedded-upstream.js';
import type { EmbeddedUpstream } from '../../emulator/embedded-upstream.js';
import { startEmulator } from '../../emulator/index.js';
import { ensureSampleData, seedSampleDataOver } from '../../emulator/sample-data.js';
import type { Emulator } from '../../emulator/index.js';
import { generateCa, generateServerCert } from './dev-certs.js';
import { runServe } from './run-serve.js';
import type { ServeHandle } from './run-serve.js';

/** Where the demo listens and what it runs against. */
export interface DemoOptions {
  host: string;
  port: number;
  adminPort: number;
  /** A real PostgreSQL (`postgres://admin:pw@host:port/db?sslmode=…&sslrootcert=…`), else embedded PGlite. */
  upstreamUrl?: string;
}

/** A running demo. `mintToken` gives a fresh token for the demo identity. */
export interface DemoStack {
  dir: string;
  caFile: string;
  audience: string;
  region: string;
  database: string;
  dbUser: string;
  proxy: ServeHandle;
  emulator: Emulator;
  /** Credentials of the demo user (emulator-only keys; printed so users can run `rsproxy token`). */
  userCredentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string };
  mintToken(): Promise<string>;
  close(): Promise<void>;
}

const accountId = '123456789012';
const region = 'eu-west-1';
const audience = 'rsproxy:demo';
const clusterId = 'demo-cluster';
/** The demo identity's database user (its session name); the sample schema is granted to it. */
const demoDbUser = 'demo';

function randomKeyId(prefix: 'AKIA' | 'ASIA'): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let id = prefix;
  for (const b of randomBytes(16)) id += alphabet[b % alphabet.length];
  return id;
}

interface Upstream {
  host: string;
  port: number;
  dbName: string;
  admin: { connectionString: string; ssl: { ca?: string; rejectUnauthorized: boolean } };
  tls: { mode: 'verify-full' | 'verify-ca' | 'require'; caFile?: string };
  close(): Promise<void>;
}

function externalUpstream(url: string): Upstream {
  const u = new URL(url);
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw new Error('--upstream must be a postgres:// URL');
  const sslmode = u.searchParams.get('sslmode') ?? 'require';
  if (sslmode !== 'require' && sslmode !== 'verify-ca' && sslmode !== 'verify-full') {
    throw new Error('--upstream sslmode must be require, verify-ca or verify-full (the proxy never logs in upstream without TLS)');
  }
  const caFile = u.searchParams.get('sslrootcert') ?? undefined;
  const admin = new URL(u.href);
  admin.search = '';
  return {
    host: u.hostname,
    port: u.port === '' ? 5432 : Number(u.port),
    dbName: decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres',
    // The admin connection trusts what the proxy trusts: the given CA, else (sslmode=require) nothing.
    admin: { connectionString: admin.href, ssl: caFile === undefined ? { rejectUnauthorized: false } : { ca: readFileSync(caFile, 'utf8'), rejectUnauthorized: true } },
    tls: { mode: sslmode, ...(caFile === undefined ? {} : { caFile }) },
    close: async () => {},
  };
}

/** Where the initialised PGlite template lives: the user's cache directory, per PGlite version. */
function pgliteTemplateDir(): string {
  const cache = process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache');
  // The suffix names the sample data version: a template without it is rebuilt, never reused.
  return join(cache, 'rsproxy', 'demo-pglite-0.5.14-tickit1');
}

async function embeddedUpstream(certPem: string, keyPem: string, caPem: string, caFile: string): Promise<Upstream> {
  const up: EmbeddedUpstream = await startEmbeddedUpstream({ certPem, keyPem, maxConnections: 64, templateDir: pgliteTemplateDir(), templateInit: (run) => ensureSampleData(run, demoDbUser) });
  return {
    host: 'localhost',
    port: up.port,
    dbName: 'postgres',
    admin: { connectionString: `postgres://postgres@127.0.0.1:${up.port}/postgres`, ssl: { ca: caPem, rejectUnauthorized: true } },
    tls: { mode: 'verify-full', caFile },
    close: () => up.close(),
  };
}

/** Starts everything; the caller prints the lines and calls close() on Ctrl-C. */
export async function startDemoStack(opts: DemoOptions): Promise<DemoStack> {
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-demo-'));
  const cleanups: Array<() => Promise<void>> = [async () => rmSync(dir, { recursive: true, force: true })];
  const close = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    const ca = await generateCa('rsproxy demo CA');
    const cert = await generateServerCert(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] });
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, ca.certPem, { mode: 0o644 });
    writeFileSync(join(dir, 'tls.crt'), cert.certPem, { mode: 0o644 });
    writeFileSync(join(dir, 'tls.key'), cert.keyPem, { mode: 0o600 });

    const upstream = opts.upstreamUrl === undefined ? await embeddedUpstream(cert.certPem, cert.keyPem, ca.certPem, caFile) : externalUpstream(opts.upstreamUrl);
    cleanups.push(() => upstream.close());
    // A no-op when the (cached) embedded template or the given PostgreSQL already holds the sample schema.
    await seedSampleDataOver(upstream.admin, demoDbUser);

    const user = { accessKeyId: randomKeyId('ASIA'), secretAccessKey: randomBytes(30).toString('base64'), sessionToken: randomBytes(120).toString('base64') };
    const proxyIdentity = { accessKeyId: randomKeyId('AKIA'), secretAccessKey: randomBytes(30).toString('base64') };
    const emulator = await startEmulator({
      principals: [
        { ...user, arn: `arn:aws:sts::${accountId}:assumed-role/DemoAnalyst/demo`, accountId, userId: 'AROADEMOANALYST00001:demo' },
        { ...proxyIdentity, arn: `arn:aws:iam::${accountId}:user/rsproxy`, accountId, userId: 'AIDARSPROXYDEMO00001' },
      ],
      clusters: [{ identifier: clusterId, host: upstream.host, port: upstream.port }],
      upstreamAdmin: upstream.admin,
    });
    cleanups.push(() => emulator.close());

    const config = {
      listen: `${opts.host}:${opts.port}`,
      tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), minVersion: 'TLSv1.2' },
      identity: { audience, partition: 'aws', stsRegions: [region], allowedAccounts: [accountId], maxTokenAgeSeconds: 900, clockSkewSeconds: 60 },
      databases: {
        dev: { cluster: clusterId, host: upstream.host, port: upstream.port, region, engine: 'postgres', dbName: upstream.dbName, upstreamTls: upstream.tls },
      },
      rules: [
        { principal: `arn:aws:iam::${accountId}:role/DemoAnalyst`, dbUser: '{sessionName}', trustSessionName: true, autoCreate: true, databases: ['dev'] },
      ],
      admin: { listen: `127.0.0.1:${opts.adminPort}` },
      shutdown: { drainSeconds: 2 },
      log: { level: 'warn' },
    };
    const configPath = join(dir, 'rsproxy.yaml');
    writeFileSync(configPath, stringify(config));

    // The proxy's own AWS identity and endpoints come from the standard SDK settings (docs/design/surface.md §3).
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: proxyIdentity.accessKeyId,
      AWS_SECRET_ACCESS_KEY: proxyIdentity.secretAccessKey,
      AWS_REGION: region,
      AWS_ENDPOINT_URL_STS: emulator.url,
      AWS_ENDPOINT_URL_REDSHIFT: emulator.url,
      AWS_ENDPOINT_URL_REDSHIFT_SERVERLESS: emulator.url,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    });
    delete process.env['AWS_SESSION_TOKEN'];
    delete process.env['AWS_PROFILE'];

    const proxy = await runServe({ configPath, env: process.env });
    cleanups.push(async () => {
      proxy.shutdown('SIGINT');
      await proxy.done;
    });

    return {
      dir,
      caFile,
      audience,
      region,
      database: 'dev',
      dbUser: demoDbUser,
      proxy,
      emulator,
      userCredentials: user,
      mintToken: () => mintToken({ audience, region, credentials: user }),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
