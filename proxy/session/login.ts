/** The login itself: the auth port, the upstream login (one retry on stale cached credentials), then R 0 / S / N / K / Z to the client and the relay start (docs/design/wire-protocol.md §7–§8). */
import type * as net from 'node:net';
import type { AuthRequest, AuthResult, AuthTimings, Authenticator, Identity, Logger } from '../../auth/types.js';
import { protocolViolation, toProxyError, upstreamFailed } from '../errors/proxy-error.js';
import type { ProxyError } from '../errors/proxy-error.js';
import * as backend from '../protocol/backend.js';
import { ProtocolError } from '../protocol/protocol-error.js';
import type { CancelRegistry, IssuedKey } from './cancel-registry.js';
import type { SessionEndReason, SessionObserver } from '../telemetry/observer.js';
import { Relay } from './relay.js';
import type { RelayStats } from './relay.js';
import { upstreamParameters } from './startup-params.js';
import type { StartupParams } from './startup-params.js';
import type { Phase, SessionEvent } from './state.js';
import { isUpstreamLoginError } from '../upstream/types.js';
import { sendUpstreamCancel as realSendUpstreamCancel } from '../upstream/cancel.js';
import type { SendUpstreamCancelFn, UpstreamLoginErrorLike, UpstreamLoginFn, UpstreamSession } from '../upstream/types.js';

/** How long the CancelRequest sent after a client loss may wait for the upstream's EOF. */
export const clientLossCancelTimeoutMs = 2000;

/** The operator hint when the upstream refuses a user that was not auto-created (docs/design/aws.md §3). */
export const missingUserHint = 'database user does not exist; create it or set autoCreate';

/** What is known about one login so far, for the login_ok / login_failed log lines (filled in as the login advances). */
export interface LoginProgress {
  /** What the log lines need from the auth port's answer; never the upstream password (it lives as long as the session). */
  facts?: LoginFacts;
  /** Total time spent in upstream logins (all attempts), ms. */
  upstreamMs?: number;
}

/** The loggable part of an AuthResult: identity, database user, upstream host and timings. */
export interface LoginFacts {
  identity?: Identity;
  upstreamUser: string;
  upstreamHost: string;
  timings: AuthTimings;
}

/** The loggable part of `result`, without its password. */
export function loginFacts(result: AuthResult): LoginFacts {
  return { ...(result.identity === undefined ? {} : { identity: result.identity }), upstreamUser: result.upstreamUser, upstreamHost: result.target.host, timings: result.timings };
}

/** Options of one login attempt. */
export interface LoginRequest {
  authenticator: Authenticator;
  upstreamLogin: UpstreamLoginFn;
  observer: SessionObserver;
  logger: Logger;
  nowMs: () => number;
  connectionId: string;
  params: StartupParams;
  password: string;
  /** Absolute epoch ms: accept time + limits.loginTimeoutMs. */
  deadlineMs: number;
  /** The session's current phase: the login stops as soon as it is no longer the one it expects. */
  phaseName(): Phase['name'];
  dispatch(event: SessionEvent): void;
  /** Told of each upstream socket as soon as it exists, so a closing session can destroy it. */
  onUpstreamSocket(socket: net.Socket): void;
  /** Filled in as the login advances (default: a private object). */
  progress?: LoginProgress;
}

/** A finished login: the auth port's answer and the logged-in upstream. */
export interface LoggedIn {
  result: AuthResult;
  upstream: UpstreamSession;
}

/**
 * Authenticates (dispatching AuthOk), then logs in upstream. An upstream auth rejection invalidates the
 * credentials and retries once only when invalidate() says fresh credentials can help; any other upstream
 * failure forgets the endpoint. Resolves undefined when the session left the login meanwhile; rejects on failure.
 */
export async function authenticateAndLogin(req: LoginRequest): Promise<LoggedIn | undefined> {
  const { params, deadlineMs } = req;
  const progress = req.progress ?? {};
  const request: AuthRequest = {
    user: params.user,
    database: params.database,
    password: req.password,
    connectionId: req.connectionId,
    deadlineMs,
    onTokenVerified: () => req.dispatch({ type: 'TokenVerified' }),
  };
  req.password = '';
  try {
    let result = await req.authenticator.authenticate(request);
    progress.facts = loginFacts(result);
    if (req.phaseName() !== 'Authenticating') return undefined;
    req.dispatch({ type: 'AuthOk' });
    let upstream: UpstreamSession;
    try {
      upstream = await loginUpstream(req, result, progress);
    } catch (err) {
      if (!isUpstreamLoginError(err) || !err.isAuthRejected || req.phaseName() !== 'UpstreamLogin') throw err;
      if (!result.invalidate()) throw reportAuthRefusal(req.logger, err, result);
      req.logger.info({ event: 'upstream_auth_rejected_retry', upstreamSqlstate: err.upstreamSqlstate }, 'upstream refused cached credentials; retrying once with fresh ones');
      result = await req.authenticator.authenticate(request);
      progress.facts = loginFacts(result);
      if (req.phaseName() !== 'UpstreamLogin') return undefined;
      try {
        upstream = await loginUpstream(req, result, progress);
      } catch (retryErr) {
        throw isUpstreamLoginError(retryErr) && retryErr.isAuthRejected ? reportAuthRefusal(req.logger, retryErr, result) : retryErr;
      }
    }
    if (req.phaseName() !== 'UpstreamLogin') {
      upstream.socket.destroy();
      return undefined;
    }
    return { result, upstream };
  } finally {
    request.password = '';
  }
}

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

/** The bytes the client receives after a successful login, in docs/design/wire-protocol.md §8 order, plus the upstream's leftover. */
export function loginSuccessBytes(upstream: UpstreamSession, proxyKey: { pid: number; key: Buffer }): Buffer {
  return Buffer.concat([
    backend.authenticationOk,
    ...upstream.parameterStatus,
    ...upstream.notices,
    backend.backendKeyData(proxyKey.pid, proxyKey.key),
    upstream.readyForQuery,
    upstream.leftover,
  ]);
}

/** Options of startRelay. */
export interface StartRelayOptions {
  /** The client's TLS socket, with no data listener left. */
  client: net.Socket;
  loggedIn: LoggedIn;
  /** Client bytes held since the PasswordMessage (docs/design/wire-protocol.md §6). */
  held: Buffer;
  cancelRegistry: CancelRegistry;
  /** Default: the real upstream cancel. */
  sendUpstreamCancel?: SendUpstreamCancelFn;
  observer: SessionObserver;
  logger: Logger;
  params: StartupParams | undefined;
  /** What the login learned (identity, timings), for the login_ok line. */
  progress?: LoginProgress;
  loginDurationSeconds: number;
  /** Why the session ended when the proxy ended it ('local'; default shutdown). */
  localEndReason?: () => SessionEndReason;
  /** Called once both sockets are closed and the cancel key is released. */
  onClose: () => void;
}

/** Issues the proxy's cancel key, sends R 0 / S / N / K / Z, forwards held bytes upstream, records the login, and starts the relay. */
export function startRelay(opts: StartRelayOptions): { relay: Relay; key: IssuedKey } {
  const { result, upstream } = opts.loggedIn;
  // The relay's closures outlive the login: they keep the target, never the AuthResult with its password.
  // They share one context, so none may name `opts` either: it holds the AuthResult and the UpstreamSession.
  const { target } = result;
  const { onClose, localEndReason, observer } = opts;
  const { pid: upstreamPid, key: upstreamKey } = upstream.backendKey;
  const key = opts.cancelRegistry.issue(target, upstreamPid, upstreamKey, opts.logger);
  opts.client.write(loginSuccessBytes(upstream, key));
  if (opts.held.length > 0) upstream.socket.write(opts.held);
  opts.observer.login('ok', 'ok', opts.loginDurationSeconds);
  const log = opts.logger;
  log.info(
    { event: 'login_ok', ...loginLogFields(opts.params, { ...opts.progress, facts: loginFacts(result) }), result: 'ok', reason: 'ok', durationMs: Math.round(opts.loginDurationSeconds * 1000) },
    'login succeeded',
  );
  const sendCancel = opts.sendUpstreamCancel ?? ((target, pid, k, timeoutMs) => realSendUpstreamCancel(target, pid, k, timeoutMs, log));
  const relay = new Relay({
    client: opts.client,
    upstream: upstream.socket,
    observer: opts.observer,
    logger: log,
    cancelUpstream: () => sendCancel(target, upstreamPid, upstreamKey, clientLossCancelTimeoutMs),
    onClose: (stats) => {
      key.release();
      const reason = sessionEndReason(stats, localEndReason);
      log.info({ event: 'session_end', ...stats, reason }, 'session ended');
      observer.sessionEnded(reason);
      onClose();
    },
  });
  relay.noteForwarded('toClient', upstream.leftover);
  relay.noteForwarded('toUpstream', opts.held);
  relay.start();
  return { relay, key };
}

/** The sessions_ended reason of a finished relay: a client's Terminate counts as the client's, even when the upstream closed first. */
export function sessionEndReason(stats: RelayStats, localEndReason?: () => SessionEndReason): SessionEndReason {
  if (stats.endedBy === 'local') return localEndReason?.() ?? 'shutdown';
  return stats.isClientTerminate ? 'client' : stats.endedBy;
}

async function loginUpstream(req: LoginRequest, result: AuthResult, progress: LoginProgress): Promise<UpstreamSession> {
  const startedMs = req.nowMs();
  try {
    const upstream = await req.upstreamLogin({
      target: result.target,
      user: result.upstreamUser,
      password: result.upstreamPassword,
      parameters: upstreamParameters(req.params, result.target.engine),
      deadlineMs: req.deadlineMs,
      logger: req.logger,
    });
    req.onUpstreamSocket(upstream.socket);
    req.observer.upstreamConnect((req.nowMs() - startedMs) / 1000);
    return upstream;
  } catch (err) {
    if (isUpstreamLoginError(err)) reportUpstreamFailure(req.logger, err, result);
    throw err;
  } finally {
    progress.upstreamMs = (progress.upstreamMs ?? 0) + (req.nowMs() - startedMs);
  }
}

const endpointFailureCodes: ReadonlySet<string> = new Set(['UPSTREAM_CONNECT', 'UPSTREAM_TLS', 'UPSTREAM_TIMEOUT']);

/** Logs a non-auth upstream failure at warn and forgets the endpoint after a connect, TLS or timeout failure (docs/design/aws.md §6). */
function reportUpstreamFailure(logger: Logger, err: UpstreamLoginErrorLike, result: AuthResult): void {
  if (err.isAuthRejected) return;
  // Only a failure to reach the endpoint says it may have moved; an upstream that answers (53300, 3D000…) has not.
  if (endpointFailureCodes.has(err.code)) result.forgetEndpoint();
  if (err.settingRefusal !== undefined) {
    // The client asked for a setting the upstream refuses; the client reads why, the operator need not act.
    logger.info({ event: 'upstream_refused_setting', upstreamSqlstate: err.upstreamSqlstate, upstreamMessage: err.upstreamMessage, dbUser: result.upstreamUser, upstreamHost: result.target.host }, 'upstream refused a startup setting');
    return;
  }
  logger.warn(
    { event: 'upstream_login_failed', code: err.code, detail: err.message, upstreamSqlstate: err.upstreamSqlstate, upstreamMessage: err.upstreamMessage, dbUser: result.upstreamUser, upstreamHost: result.target.host },
    'upstream login failed',
  );
}

/** Logs the upstream's final refusal of the credentials at warn, with the missing-user hint when autoCreate is off (docs/design/aws.md §3); returns `err`. */
function reportAuthRefusal(logger: Logger, err: UpstreamLoginErrorLike, result: AuthResult): UpstreamLoginErrorLike {
  const record: Record<string, unknown> = { event: 'upstream_login_refused', code: err.code, upstreamSqlstate: err.upstreamSqlstate, upstreamMessage: err.upstreamMessage, dbUser: result.upstreamUser, upstreamHost: result.target.host };
  if (!result.autoCreate) record['hint'] = missingUserHint;
  logger.warn(record, 'upstream refused the login');
  return err;
}

function causeSummary(cause: unknown): string | undefined {
  if (cause === undefined) return undefined;
  if (cause instanceof Error) return `${cause.name}: ${cause.message}`;
  return String(cause);
}
