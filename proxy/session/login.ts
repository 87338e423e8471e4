/** The login itself: the auth port, the upstream login (one retry on stale cached credentials), then R 0 / S / N / K / Z to the client and the relay start (docs/design/wire-protocol.md §7–§8). */
import type * as net from 'node:net';
import type { AdmittedLogin, AuthRequest, AuthResult, AuthTimings, Authenticator, Identity, Logger } from '../../auth/types.js';
import type { SessionObserver } from '../telemetry/observer.js';
import { upstreamParameters } from './startup-params.js';
import type { StartupParams } from './startup-params.js';
import type { Phase, SessionEvent } from './state.js';
import type { ReuseAttempt, ReuseTicket } from './reuse-login.js';
import { isUpstreamLoginError } from '../upstream/types.js';
import type { UpstreamLoginErrorLike, UpstreamLoginFn, UpstreamSession } from '../upstream/types.js';

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
  /** The upstream port and the rule's database groups (the audit trail's target and dbGroups; not logged). */
  upstreamPort?: number;
  dbGroups?: readonly string[];
  timings: AuthTimings;
}

/** The loggable part of `result`, without its password. */
export function loginFacts(result: AuthResult): LoginFacts {
  return {
    ...(result.identity === undefined ? {} : { identity: result.identity }),
    upstreamUser: result.upstreamUser,
    upstreamHost: result.target.host,
    upstreamPort: result.target.port,
    ...(result.dbGroups === undefined ? {} : { dbGroups: result.dbGroups }),
    timings: result.timings,
  };
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
  /** Upstream session reuse for this login (absent: always a fresh upstream login). */
  reuse?: ReuseAttempt;
}

/** A finished login: the auth port's answer and the logged-in upstream. */
export interface LoggedIn {
  result: AuthResult;
  upstream: UpstreamSession;
  /** With reuse on for this login: how its upstream goes back to the pool, and whether it was handed on. */
  reuse?: ReuseTicket;
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
    ...(req.reuse === undefined ? {} : { onAdmitted: (admitted: AdmittedLogin) => req.reuse!.onAdmitted(admitted) }),
  };
  req.password = '';
  try {
    let result = await req.authenticator.authenticate(request);
    const hit = req.reuse?.takeHit();
    progress.facts = hit === undefined ? loginFacts(result) : { ...loginFacts(result), upstreamUser: hit.loginUser };
    if (req.phaseName() !== 'Authenticating') {
      hit?.socket.destroy();
      return undefined;
    }
    req.dispatch({ type: 'AuthOk' });
    if (hit !== undefined) {
      // A hit: no credentials were fetched and no upstream round trip is made (docs/design/surface.md §11).
      req.onUpstreamSocket(hit.socket);
      const { upstream, ticket } = req.reuse!.hitLogin(hit);
      return { result: { ...result, upstreamUser: hit.loginUser, target: hit.target }, upstream, reuse: ticket };
    }
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
    const ticket = req.reuse?.freshTicket(result, upstream, req.nowMs());
    return { result, upstream, ...(ticket === undefined ? {} : { reuse: ticket }) };
  } finally {
    request.password = '';
  }
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
