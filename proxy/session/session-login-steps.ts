/** A client session's login once it has the password: authentication and the upstream login (from the reuse pool when it may serve one), then the audit login record. */
import type * as net from 'node:net';
import type { Logger } from '../../auth/types.js';
import { auditUnavailable } from '../errors/proxy-error.js';
import type { PasswordPhase } from './authentication.js';
import type { ClientSessionOptions } from './client-session-options.js';
import { authenticateAndLogin } from './login.js';
import type { LoggedIn, LoginProgress } from './login.js';
import { ReuseAttempt } from './reuse-login.js';
import { SessionAuditTrail } from './session-audit.js';
import type { SessionLoginAudit } from './session-audit-login.js';
import type { StartupParams } from './startup-params.js';
import type { Phase, SessionEvent } from './state.js';

/** What the login steps need of their client session. */
export interface SessionLoginHost {
  opts: ClientSessionOptions;
  log: Logger;
  nowMs: () => number;
  acceptedAtMs: number;
  progress: LoginProgress;
  /** The login records (absent: no audit trail). */
  audit: SessionLoginAudit | undefined;
  phaseName: () => Phase['name'];
  dispatch: (event: SessionEvent) => void;
  onUpstreamSocket: (socket: net.Socket) => void;
  fail: (err: unknown) => void;
}

/** A completed login: the upstream and, with an audit trail, the trail the session's later records go to. */
export interface SessionLoggedIn {
  loggedIn: LoggedIn;
  trail: SessionAuditTrail | undefined;
}

/**
 * Authenticates, logs in upstream and writes the login record before AuthenticationOk. Undefined when the login
 * ended otherwise; a login record refused under `refuse` closes the upstream and fails the session with 57P03.
 * Throws what authenticateAndLogin throws.
 */
export async function logInSession(h: SessionLoginHost, params: StartupParams, passwordPhase: PasswordPhase): Promise<SessionLoggedIn | undefined> {
  const { opts } = h;
  const loggedIn = await authenticateAndLogin({
    authenticator: opts.authenticator,
    upstreamLogin: opts.upstreamLogin,
    observer: opts.observer,
    logger: h.log,
    nowMs: h.nowMs,
    connectionId: opts.connectionId,
    params,
    password: passwordPhase.takePassword(),
    deadlineMs: h.acceptedAtMs + opts.limits.loginTimeoutMs,
    phaseName: h.phaseName,
    dispatch: h.dispatch,
    onUpstreamSocket: h.onUpstreamSocket,
    progress: h.progress,
    ...(opts.reuse?.isEnabledFor(params.database) === true ? { reuse: new ReuseAttempt(opts.reuse, params, opts.limits.maxSessionSeconds ?? 0) } : {}),
  });
  if (loggedIn === undefined) return undefined;
  if (h.audit === undefined) return { loggedIn, trail: undefined };
  const outcome = await h.audit.login(loggedIn, params, h.nowMs, () => h.phaseName() === 'UpstreamLogin');
  if (outcome instanceof SessionAuditTrail) return { loggedIn, trail: outcome };
  loggedIn.upstream.socket.destroy();
  if (outcome === 'refused') h.fail(auditUnavailable());
  return undefined;
}
