/** How a failed login ends: the SQLSTATE it becomes, the log line and metric it leaves, and the FATAL (or the upstream's own refusal of a setting) the client gets. */
import type * as net from 'node:net';
import type { Logger } from '../../auth/types.js';
import { protocolViolation, toProxyError, upstreamFailed } from '../errors/proxy-error.js';
import type { ProxyError } from '../errors/proxy-error.js';
import * as backend from '../protocol/backend.js';
import { ProtocolError } from '../protocol/protocol-error.js';
import type { SessionObserver } from '../telemetry/observer.js';
import type { StartupParams } from './startup-params.js';
import { isUpstreamLoginError } from '../upstream/types.js';

import { type LoginProgress } from './login.js';

/** Maps a login failure to what the session fails with: upstream errors become 08006, whose cause may carry a setting refusal the client gets verbatim. */
export function loginFailure(err: unknown): unknown {
  if (!isUpstreamLoginError(err)) return err;
  return upstreamFailed('upstream', { cause: err });
}

/** The ProxyError a session fails with for `err` (a codec error is a protocol violation, 08P01). */
export function toSessionError(err: unknown, user: string): ProxyError {
  return err instanceof ProtocolError ? protocolViolation(err.message, { cause: err }) : toProxyError(err, user);
}

/** The identity, user, database and latency fields of a login log line (never a token or password). */
export function loginLogFields(params: StartupParams | undefined, progress: LoginProgress | undefined): Record<string, unknown> {
  const facts = progress?.facts;
  const id = facts?.identity;
  const fields: Record<string, unknown> = {
    user: params?.user,
    database: params?.database,
    canonicalArn: id?.canonicalArn,
    userId: id?.userId,
    accessKeyId: id?.accessKeyId,
    stsRegion: id?.stsRegion,
    stsRequestId: id?.stsRequestId,
    dbUser: facts?.upstreamUser,
    upstreamHost: facts?.upstreamHost,
    stsMs: facts?.timings.stsMs,
    mintMs: facts?.timings.mintMs,
    upstreamMs: progress?.upstreamMs,
  };
  for (const key of Object.keys(fields)) if (fields[key] === undefined) delete fields[key];
  return fields;
}

/** The upstream's own ErrorResponse behind `error` when the upstream refused a forwarded setting (42704…), else undefined. */
export function settingRefusalOf(error: ProxyError): { bytes: Buffer; sqlstate: string | undefined } | undefined {
  const cause = error.cause;
  if (!isUpstreamLoginError(cause) || cause.settingRefusal === undefined) return undefined;
  return { bytes: cause.settingRefusal, sqlstate: cause.upstreamSqlstate };
}

/** Logs and counts a failed login and writes its FATAL ErrorResponse (or the upstream's refusal of a setting) if the client can still receive it. */
export function reportLoginFailure(f: {
  client: net.Socket;
  error: ProxyError;
  logger: Logger;
  observer: SessionObserver;
  user: string | undefined;
  durationSeconds: number;
  params?: StartupParams | undefined;
  progress?: LoginProgress | undefined;
}): void {
  const { error } = f;
  const refusal = settingRefusalOf(error);
  const record: Record<string, unknown> = {
    event: 'login_failed',
    ...loginLogFields(f.params, f.progress),
    user: f.user,
    result: 'failed',
    reason: error.reason,
    sqlstate: refusal?.sqlstate ?? error.sqlstate,
    ...(refusal === undefined ? {} : { isUpstreamErrorRelayed: true }),
    code: error.code,
    detail: error.message,
    cause: causeSummary(error.cause),
    durationMs: Math.round(f.durationSeconds * 1000),
  };
  if (error.reason === 'credentials_failed') {
    // docs/design/aws.md §7: the proxy's own IAM permissions are wrong; the cause names the action and the resource.
    f.logger.error({ ...record, operatorMessage: error.cause instanceof Error ? error.cause.message : undefined }, 'login failed: the proxy could not get database credentials');
  } else {
    f.logger[error.sqlstate === 'XX000' ? 'error' : 'info'](record, 'login failed');
  }
  f.observer.login('failed', error.reason, f.durationSeconds);
  if (!f.client.destroyed && f.client.writable) {
    f.client.write(refusal?.bytes ?? backend.errorResponse({ severity: 'FATAL', sqlstate: error.sqlstate, message: error.clientMessage, hint: error.hint }));
  }
}

/** A one-line summary of an error's cause for the log (never a secret: messages of our own errors). */
export function causeSummary(cause: unknown): string | undefined {
  if (cause === undefined) return undefined;
  if (cause instanceof Error) return `${cause.name}: ${cause.message}`;
  return String(cause);
}
