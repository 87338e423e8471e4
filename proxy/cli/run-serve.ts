/** Composition root of `rsproxy serve`: config → logger → metrics → authenticator → ProxyServer → admin HTTP; signals and exit codes. */
import { readFileSync } from 'node:fs';
import { systemClock } from '../../auth/types.js';
import type { AuthObserver, AuthOptions, Clock, Logger } from '../../auth/types.js';
import { createAdmissionCheck, createAwsAuthenticator, type AuthEnv, type AwsAuthenticator } from '../../auth/index.js';
import { startAdminServer, type AdminServer } from '../admin/http.js';
import { AdminToken, readAdminToken } from '../admin/token.js';
import { startCluster, type ClusterOptions } from '../fleet/cluster.js';
import { ConfigError, loadConfigFile, loadConfigOrThrow, parseHostPort, type ConfigFlags, type RsproxyConfig } from '../config/config.js';
import { createLogger, type LogDestination, type RootLogger } from '../telemetry/log.js';
import { createMetrics, type Metrics } from '../telemetry/metrics.js';
import { certificateNotAfterSeconds } from '../telemetry/metrics-ops.js';
import { ProxyServer, createClientSecureContext, type ServerTlsOptions } from '../server/server.js';
import { ExitCode, RuntimeError } from '../errors/exit-codes.js';
import type { ShutdownSignal } from './signals.js';
import { openServeAudit } from './serve-audit.js';
import { createReusePool } from '../upstream/reuse-config.js';

/** Signals that end `serve`. */
export type { ShutdownSignal };

/** Inputs of runServe. `flags` are config flags by name plus `exit-zero-on-sigterm`. */
export interface ServeOptions {
  configPath: string;
  flags?: ConfigFlags;
  env?: Readonly<Record<string, string | undefined>>;
  /** Log destination (default stdout). */
  stdout?: LogDestination;
  /** Builds the authenticator (default: the real AWS one; tests pass a fake). */
  createAuthenticator?: (config: AuthOptions, deps: { logger: Logger; observer: AuthObserver; clock: Clock; env: AuthEnv }) => AwsAuthenticator;
  /** Peer resolution of `cluster` (default: the system resolver every 30 s; tests inject their own). */
  cluster?: ClusterOptions;
}

/** A running proxy. */
export interface ServeHandle {
  readonly proxyAddress: { host: string; port: number };
  readonly adminAddress: { host: string; port: number };
  readonly metrics: Metrics;
  readonly logger: RootLogger;
  /** Current effective config. */
  readonly config: RsproxyConfig;
  /** Re-reads the config file: rules, databases, TLS cert, log level. False (old config kept) if invalid. */
  reload(): Promise<boolean>;
  /** First call drains (readyz 503, listener closed, up to shutdown.drainSeconds); a second destroys at once. */
  shutdown(signal: ShutdownSignal): void;
  /** Resolves with the exit code once everything is closed. */
  readonly done: Promise<number>;
}

function readTls(config: RsproxyConfig): ServerTlsOptions & { notAfterSeconds: number } {
  const read = (key: 'certFile' | 'keyFile'): string => {
    const path = config.tls[key];
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError([`tls.${key}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
    }
  };
  const tls: ServerTlsOptions = { certPem: read('certFile'), keyPem: read('keyFile'), minVersion: config.tls.minVersion };
  try {
    createClientSecureContext(tls);
    return { ...tls, notAfterSeconds: certificateNotAfterSeconds(tls.certPem) };
  } catch (err) {
    throw new ConfigError([`tls: certificate or key not usable: ${err instanceof Error ? err.message : String(err)}`]);
  }
}

function readTokenFile(path: string): AdminToken {
  try {
    return new AdminToken(readAdminToken(path));
  } catch (err) {
    throw new ConfigError([`admin.tokenFile: ${err instanceof Error ? err.message : String(err)}`]);
  }
}

const restartOnlyKeys = ['listen', 'admin', 'limits', 'identity', 'cluster', 'proxyProtocol', 'audit'] as const;

/** Starts the proxy and its admin server; throws ConfigError (exit 1) or RuntimeError (exit 2). */
export async function runServe(opts: ServeOptions): Promise<ServeHandle> {
  const env = opts.env ?? {};
  const sources = { flags: opts.flags ?? {}, env };
  const { config: initial, warnings } = loadConfigOrThrow(opts.configPath, sources);
  let config = initial;
  const logger = createLogger({ level: config.log.level, ...(opts.stdout === undefined ? {} : { destination: opts.stdout }) });
  for (const w of warnings) logger.warn({ event: 'config_warning', warning: w }, 'config warning');
  const metrics = createMetrics();
  const tls = readTls(config);
  metrics.setTlsCertificateExpiry(tls.notAfterSeconds);
  metrics.setClientConnectionsMax(config.limits.maxClientConnections);
  const tokenFile = config.admin.tokenFile;
  const adminToken = tokenFile === undefined ? undefined : readTokenFile(tokenFile);
  // Opened before anything that would need closing: an audit file that cannot be opened stops the start (exit 2).
  const audit = await openServeAudit(config, { logger, registry: metrics.registry });
  const authenticator = (opts.createAuthenticator ?? createAwsAuthenticator)(config, { logger, observer: metrics, clock: systemClock, env });
  const cluster = await startCluster(config, logger, opts.cluster);
  const reusePool = createReusePool(() => config, logger, metrics);
  const server = new ProxyServer({
    reuse: reusePool,
    tls,
    limits: config.limits,
    authenticator,
    logger,
    observer: metrics,
    trustedSources: config.proxyProtocol.trustedSources,
    startupParameterDrop: config.startupParameters.drop,
    ...(audit === undefined ? {} : { audit: audit.session }),
    ...(cluster === undefined ? {} : { peers: cluster.router }),
  });
  const sessions = adminToken === undefined ? undefined : { token: adminToken, list: () => server.liveSessions.list(), end: (id: string) => server.endSession(id) };

  const listen = parseHostPort(config.listen);
  let proxyAddress: { host: string; port: number };
  try {
    const a = await server.listen(listen.host, listen.port);
    proxyAddress = { host: a.address, port: a.port };
  } catch (err) {
    server.destroy();
    cluster?.stop();
    authenticator.close();
    await audit?.close();
    throw new RuntimeError(`cannot listen on ${config.listen}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }

  let isStarted = false;
  let isDraining = false;
  // With audit.onFailure refuse, a replica that cannot write its audit log takes no new logins: send them elsewhere.
  const isReady = (): boolean => isStarted && !isDraining && server.isListening && audit?.isRefusing() !== true;
  metrics.setReadinessProbe(isReady);
  const adminListen = parseHostPort(config.admin.listen);
  let admin: AdminServer;
  try {
    admin = await startAdminServer({
      host: adminListen.host,
      port: adminListen.port,
      registry: metrics.registry,
      logger,
      health: { isStarted: () => isStarted, isReady },
      ...(sessions === undefined ? {} : { sessions }),
    });
  } catch (err) {
    server.destroy();
    cluster?.stop();
    authenticator.close();
    await audit?.close();
    throw new RuntimeError(`cannot listen on admin.listen ${config.admin.listen}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  isStarted = true;
  logger.info({ event: 'started', listen: proxyAddress, admin: admin.address, databases: Object.keys(config.databases), rules: config.rules.length }, 'rsproxy started');

  const exitZeroOnSigterm = opts.flags?.['exit-zero-on-sigterm'] === true || opts.flags?.['exit-zero-on-sigterm'] === 'true';
  let resolveDone: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (resolveDone = resolve));
  let exitCode: number | undefined;
  let finished = false;
  const finish = async (): Promise<void> => {
    if (finished) return;
    finished = true;
    await admin.close();
    reusePool.close();
    cluster?.stop();
    // STS keep-alive sockets, SDK clients and cache purge timers would otherwise outlive the proxy.
    authenticator.close();
    // After the drain: every session_end is queued by now.
    await audit?.close().catch((err: unknown) => logger.error({ event: 'audit_close_failed', err: err instanceof Error ? err.message : String(err) }, 'closing the audit log failed'));
    logger.info({ event: 'stopped', exitCode }, 'rsproxy stopped');
    resolveDone(exitCode ?? ExitCode.Ok);
  };

  const shutdown = (signal: ShutdownSignal): void => {
    if (isDraining) {
      logger.warn({ event: 'shutdown_forced', signal, connections: server.connectionCount }, 'second signal: closing every connection now');
      server.destroy();
      void finish();
      return;
    }
    isDraining = true;
    reusePool.close();
    exitCode = signal === 'SIGINT' ? ExitCode.Sigint : exitZeroOnSigterm ? ExitCode.Ok : ExitCode.Sigterm;
    const drainMs = config.shutdown.drainSeconds * 1000;
    logger.info({ event: 'shutdown', signal, drainSeconds: config.shutdown.drainSeconds, connections: server.connectionCount }, 'draining');
    server.close(drainMs).then(
      () => finish(),
      (err: unknown) => {
        logger.error({ event: 'shutdown_failed', err }, 'drain failed; destroying');
        server.destroy();
        return finish();
      },
    );
  };

  // The token rotates independently of the config: re-read on every reload, the old one kept if the file is bad.
  const reloadAdminToken = (): void => {
    if (tokenFile === undefined || adminToken === undefined) return;
    try {
      adminToken.set(readAdminToken(tokenFile));
      logger.info({ event: 'admin_token_reloaded' }, 'admin token re-read');
    } catch (err) {
      logger.error({ event: 'admin_token_reload_failed', problem: err instanceof Error ? err.message : String(err) }, 'admin.tokenFile unusable; keeping the old token');
    }
  };

  const reload = async (): Promise<boolean> => {
    reloadAdminToken();
    // logrotate's postrotate: reopen even when the new config turns out invalid.
    await audit?.reopen();
    const r = loadConfigFile(opts.configPath, sources);
    if (!r.ok) {
      logger.error({ event: 'reload_rejected', problems: r.errors }, 'new config rejected; keeping the old one');
      return false;
    }
    try {
      const nextTls = readTls(r.config);
      const next = { ...r.config, identity: config.identity };
      authenticator.reload(next);
      server.setTlsContext(nextTls);
      server.setStartupParameterDrop(r.config.startupParameters.drop);
      metrics.setTlsCertificateExpiry(nextTls.notAfterSeconds);
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems : [err instanceof Error ? err.message : String(err)];
      logger.error({ event: 'reload_rejected', problems }, 'new config rejected; keeping the old one');
      return false;
    }
    for (const w of r.warnings) logger.warn({ event: 'config_warning', warning: w }, 'config warning');
    const needRestart = restartOnlyKeys.filter((k) => JSON.stringify(r.config[k]) !== JSON.stringify(config[k]));
    if (needRestart.length > 0) logger.warn({ event: 'reload_partial', keys: needRestart }, 'these keys change only on restart');
    logger.setLevel(r.config.log.level);
    config = { ...r.config, listen: config.listen, admin: config.admin, limits: config.limits, identity: config.identity, cluster: config.cluster, proxyProtocol: config.proxyProtocol, audit: config.audit };
    reusePool.reload();
    logger.info({ event: 'reloaded', databases: Object.keys(config.databases), rules: config.rules.length }, 'config reloaded');
    const isAdmitted = createAdmissionCheck(config);
    const revoked = server.revokeSessions((s) => s.identity !== undefined && isAdmitted(s.identity, s.user, s.database));
    if (revoked > 0) logger.info({ event: 'sessions_revoked', revoked }, 'sessions the new rules no longer admit were ended');
    return true;
  };

  return {
    proxyAddress,
    adminAddress: admin.address,
    metrics,
    logger,
    get config() {
      return config;
    },
    reload,
    shutdown,
    done,
  };
}
