/**
 * A fleet of `rsproxy serve` replicas in process on distinct loopback IPs (127.0.0.2, .3, …, one
 * port for all), sharing an IAM stack's emulator and PostgreSQL, with a certificate carrying their
 * IP SANs; each replica's logs and /metrics are readable, and each can be stopped alone.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import type { ClusterOptions } from '../proxy/fleet/cluster.js';
import type { ServeHandle } from '../proxy/cli/run-serve.js';
import { issueTestServerCert } from './certs.js';
import { freePort } from './free-port.js';
import { httpGet } from './http-get.js';
import { connectPgClient, metricValue } from './iam-stack.js';
import type { IamProxyConfig, IamStack } from './iam-stack.js';
import { plainSocket, untilClosed, upgradeToTls } from './raw-pg-client.js';
import { cancelPacket, i32 } from './raw-wire.js';
import { isAddressInUse, serveInProcess, stopProxy } from './serve-in-process.js';
import { waitFor } from './wait.js';

/** One running replica. */
export interface Replica {
  host: string;
  port: number;
  /** `host:port`, its cluster.self. */
  endpoint: string;
  proxy: ServeHandle;
  logs: string[];
  /** Parsed log lines whose `event` is `event`. */
  events(event: string): Array<Record<string, unknown>>;
  /** The value of a metric sample on this replica's /metrics. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** A node-postgres client connected through this replica (TLS verified against its IP SAN). */
  connect(password: string, user: string, database?: string): Promise<pg.Client>;
  stop(): Promise<void>;
}

/** Options of startFleet. */
export interface FleetOptions {
  stack: IamStack;
  hosts: readonly string[];
  /** The `cluster` section of the replica at `endpoint`, given every replica's endpoint. */
  cluster: (endpoint: string, all: readonly string[]) => Record<string, unknown>;
  /** Peer resolution injected into every replica. */
  serve?: ClusterOptions;
  /** Further changes to every replica's config (e.g. `proxyProtocol`). */
  configure?: (config: IamProxyConfig) => void;
}

/** A running fleet; close() stops every replica still running and removes its files. */
export interface Fleet {
  replicas: Replica[];
  close(): Promise<void>;
}

/** Starts one replica per host on one common port (retried on a port conflict). */
export async function startFleet(opts: FleetOptions): Promise<Fleet> {
  const cert = await issueTestServerCert(opts.hosts);
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-fleet-'));
  const replicas: Replica[] = [];
  const close = async (): Promise<void> => {
    for (const r of replicas.splice(0)) await r.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const all = opts.hosts.map((h) => `${h}:${port}`);
    try {
      for (const host of opts.hosts) replicas.push(await startReplica(opts, host, port, all, cert, dir));
      return { replicas, close };
    } catch (err) {
      for (const r of replicas.splice(0)) await r.stop();
      if (attempt >= 5 || !isAddressInUse(err)) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }
}

async function startReplica(opts: FleetOptions, host: string, port: number, all: readonly string[], cert: { certFile: string; keyFile: string }, dir: string): Promise<Replica> {
  const endpoint = `${host}:${port}`;
  const config: IamProxyConfig = structuredClone(opts.stack.config);
  config.listen = endpoint;
  config.tls = { ...config.tls, certFile: cert.certFile, keyFile: cert.keyFile };
  config['cluster'] = opts.cluster(endpoint, all);
  opts.configure?.(config);
  const { proxy, logs } = await serveInProcess({
    config,
    configPath: join(dir, `${host}.yaml`),
    env: { ...process.env },
    ...(opts.serve === undefined ? {} : { cluster: opts.serve }),
  });
  let stopped: Promise<void> | undefined;
  return {
    host,
    port,
    endpoint,
    proxy,
    logs,
    events: (event) => logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r['event'] === event),
    async metric(name, labels) {
      const { body } = await httpGet(`http://127.0.0.1:${proxy.adminAddress.port}/metrics`);
      return metricValue(body, name, labels);
    },
    connect: (password, user, database = 'dev') => connectPgClient({ host, port, user, database, password, ssl: { ca: opts.stack.caPem }, connectionTimeoutMillis: 45_000 }),
    stop: () => (stopped ??= stopProxy(proxy)),
  };
}

/** A client session on a replica running `SELECT pg_sleep(30)`. */
export interface SleepingSession {
  client: pg.Client;
  /** The running query (its rejection is already handled). */
  running: Promise<unknown>;
  /** The upstream backend's pid. */
  backendPid: number;
  /** The proxy's BackendKeyData as the client holds it. */
  pid: number;
  secret: number;
  close(): Promise<void>;
}

/** Logs in as alice through `replica` and starts pg_sleep(30); resolves once PostgreSQL shows it running. */
export async function sleepingSession(stack: IamStack, replica: Replica): Promise<SleepingSession> {
  const client = await replica.connect(await stack.mint('alice'), 'alice');
  const backendPid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
  const { processID, secretKey } = client as unknown as { processID: number; secretKey: number };
  const session: SleepingSession = { client, running: Promise.resolve(), backendPid, pid: processID, secret: secretKey, close: () => client.end().catch(() => {}) };
  await startSleep(stack, session);
  return session;
}

/** Starts another pg_sleep(30) on the session's client and waits until it runs. */
export async function startSleep(stack: IamStack, session: SleepingSession): Promise<void> {
  session.running = session.client.query('SELECT pg_sleep(30)');
  session.running.catch(() => {});
  await waitSleeping(stack, session.backendPid);
}

/** Waits until `backendPid` runs pg_sleep (seen by the superuser directly). */
export async function waitSleeping(stack: IamStack, backendPid: number): Promise<void> {
  await waitFor(async () => (await stack.pg.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND query LIKE '%pg_sleep%'", [backendPid])).rowCount === 1, 10_000, 5);
}

/** A CancelRequest on a new socket to `replica` (after `preamble`, e.g. a PROXY header): plaintext, or after SSLRequest + TLS verified against its IP SAN. Resolves once the replica closes it. */
export async function sendCancel(stack: IamStack, replica: Replica, pid: number, secret: number, overTls = false, preamble?: Buffer): Promise<void> {
  const raw = await plainSocket(replica.port, replica.host);
  if (preamble !== undefined) raw.write(preamble);
  const socket = overTls ? await upgradeToTls(raw, stack.caPem, replica.host) : raw;
  socket.write(cancelPacket(pid, i32(secret)));
  await untilClosed(socket, 10_000);
}
