/** `serve`'s audit trail: opens `audit.file`, probes it while unwritable, reopens it on SIGHUP, and says when /readyz must be 503 (docs/operations/audit.md). */
import type { Registry } from 'prom-client';
import { systemClock, type Clock, type Logger } from '../../auth/types.js';
import { AuditLog, createAuditMetrics, type AuditFs } from '../audit/index.js';
import type { RsproxyConfig } from '../config/config.js';
import { RuntimeError } from '../errors/exit-codes.js';
import type { SessionAudit } from '../session/session-audit.js';

/** The audit trail of a running `serve`. */
export interface ServeAudit {
  /** What sessions write through. */
  readonly session: SessionAudit;
  readonly log: AuditLog;
  /** True while onFailure is refuse and the log cannot be written: /readyz answers 503. */
  isRefusing(): boolean;
  /** SIGHUP: reopens the path (after logrotate moved the file). */
  reopen(): Promise<void>;
  /** After the drain: waits for pending records and closes the file. */
  close(): Promise<void>;
}

/** Options of openServeAudit beyond the config. */
export interface ServeAuditDeps {
  logger: Logger;
  /** The proxy's metrics registry: rsproxy_audit_* are registered on it. */
  registry: Registry;
  clock?: Clock;
  fs?: AuditFs;
  /** How often an unwritable log is probed (default 1,000 ms). */
  probeIntervalMs?: number;
}

/** Registers the audit metrics and, when `audit.file` is set, opens the log; an unopenable file is a RuntimeError (exit 2). */
export async function openServeAudit(config: RsproxyConfig, deps: ServeAuditDeps): Promise<ServeAudit | undefined> {
  const observer = createAuditMetrics(deps.registry);
  const { file, statements, maxStatementBytes, onFailure } = config.audit;
  if (file === '') return undefined;
  const logger = deps.logger.child({ component: 'audit' });
  let log: AuditLog;
  try {
    log = await AuditLog.open({ path: file, onFailure, clock: deps.clock ?? systemClock, logger, observer, ...(deps.fs === undefined ? {} : { fs: deps.fs }) });
  } catch (err) {
    const why = (err as { code?: unknown }).code === 'AUDIT_LOG_CORRUPT' ? (err as Error).message : `${String((err as { code?: unknown }).code ?? (err instanceof Error ? err.message : err))}`;
    throw new RuntimeError(`audit.file: cannot open ${file} (${why})`, { cause: err });
  }
  log.startProbing(deps.probeIntervalMs);
  logger.info({ event: 'audit_opened', path: file, statements, onFailure, seq: log.position.seq }, 'audit log opened');
  return {
    session: { write: (entry) => log.write(entry), appendThen: (sealed, done) => log.appendThen(sealed, done), statements, maxStatementBytes },
    log,
    isRefusing: () => onFailure === 'refuse' && !log.isHealthy,
    reopen: async () => {
      const isHealthy = await log.reopen();
      logger.info({ event: 'audit_reopened', path: file, isHealthy, seq: log.position.seq }, 'audit log reopened');
    },
    close: () => log.close(),
  };
}
