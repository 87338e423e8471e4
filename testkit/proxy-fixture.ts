/** A ProxyServer on 127.0.0.1:0 in front of a real test PostgreSQL cluster, with a TEST-ONLY authenticator and captured JSON logs. */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { createLogger } from '../proxy/telemetry/log.js';
import { ProxyServer } from '../proxy/server/server.js';
import type { ServerLimits } from '../proxy/server/server.js';
import type { SessionObserver } from '../proxy/telemetry/observer.js';
import { getTestPki } from './certs.js';
import type { PgCluster } from './pg-cluster.js';
import { TestAuthenticator } from './test-authenticator.js';
import { waitFor } from './wait.js';

/** Options of startProxyFixture. */
export interface ProxyFixtureOptions {
  pg: PgCluster;
  /** How the role's password is stored (default: the cluster's password_encryption). */
  authMethod?: 'scram-sha-256' | 'md5';
  /** Authenticator hands out this wrong password until invalidate() (see TestAuthenticator). */
  stalePassword?: string;
  limits?: Partial<ServerLimits>;
  observer?: SessionObserver;
}

/** A running proxy fixture; close() (or `await using`) destroys the proxy. */
export interface ProxyFixture {
  port: number;
  /** The real PostgreSQL role the authenticator maps to. */
  pgUser: string;
  pgPassword: string;
  /** The one password the test authenticator accepts. */
  clientPassword: string;
  /** The `user` clients send in their startup packet. */
  clientUser: string;
  /** The `database` clients send (the authenticator maps it to the cluster's `postgres` db). */
  clientDatabase: string;
  proxy: ProxyServer;
  authenticator: TestAuthenticator;
  /** Every JSON log line the proxy wrote (debug and up). */
  logs: string[];
  /** node-postgres config for a TLS connection to the proxy (verified against the test CA). */
  connect(extra?: Partial<pg.ClientConfig>): pg.ClientConfig;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

function sqlLiteral(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** Creates a fresh role (owning its own schema) in `pg` and starts a proxy that maps the test password to it. */
export async function startProxyFixture(opts: ProxyFixtureOptions): Promise<ProxyFixture> {
  const pki = await getTestPki();
  const pgUser = `rsp_test_${randomBytes(5).toString('hex')}`;
  const pgPassword = randomBytes(12).toString('hex');
  const clientPassword = `rsp1.test-only.${randomBytes(6).toString('hex')}`;
  const encryption = opts.authMethod === undefined ? '' : `SET password_encryption = ${sqlLiteral(opts.authMethod)}; `;
  // One simple-query string: SET and CREATE ROLE must run on the same pooled connection.
  await opts.pg.query(`${encryption}CREATE ROLE ${pgUser} LOGIN PASSWORD ${sqlLiteral(pgPassword)}; CREATE SCHEMA AUTHORIZATION ${pgUser}`);

  const logs: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void logs.push(line) } });
  const authenticator = new TestAuthenticator({
    clientPassword,
    upstreamUser: pgUser,
    upstreamPassword: pgPassword,
    target: { database: 'dev', host: opts.pg.host, port: opts.pg.port, dbName: 'postgres', engine: 'postgres', tlsMode: 'verify-full', caFile: opts.pg.caFile },
    ...(opts.stalePassword === undefined ? {} : { stalePassword: opts.stalePassword }),
  });
  const proxy = new ProxyServer({
    tls: { certPem: pki.serverCertPem, keyPem: pki.serverKeyPem, minVersion: 'TLSv1.2' },
    limits: { maxClientConnections: 50, loginTimeoutMs: 10_000, maxStartupBytes: 10_000, maxPasswordBytes: 8192, ...opts.limits },
    authenticator,
    logger,
    ...(opts.observer === undefined ? {} : { observer: opts.observer }),
  });
  const { port } = await proxy.listen('127.0.0.1', 0);

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      proxy.destroy();
      await waitFor(() => proxy.connectionCount === 0, 3000).catch(() => {});
    })();
    return closed;
  };

  return {
    port,
    pgUser,
    pgPassword,
    clientPassword,
    clientUser: 'alice',
    clientDatabase: 'dev',
    proxy,
    authenticator,
    logs,
    connect(extra = {}) {
      return {
        host: '127.0.0.1',
        port,
        user: 'alice',
        database: 'dev',
        password: clientPassword,
        ssl: { ca: pki.caPem },
        application_name: 'rsproxy-relay-test',
        ...extra,
      };
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
