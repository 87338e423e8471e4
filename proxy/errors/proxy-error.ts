/** ProxyError and its catalogue: the only place a client-visible SQLSTATE is chosen (docs/design/wire-protocol.md §11). */
import { AuthErrorCode, AwsCredentialsError, isAuthError } from '../../auth/errors.js';

/** SQLSTATEs the proxy emits. @see https://www.postgresql.org/docs/current/errcodes-appendix.html */
export const SqlState = {
  InvalidPassword: '28P01',
  InvalidAuthorizationSpecification: '28000',
  CannotConnectNow: '57P03',
  ConnectionFailure: '08006',
  TooManyConnections: '53300',
  ProtocolViolation: '08P01',
  AdminShutdown: '57P01',
  FeatureNotSupported: '0A000',
  InternalError: 'XX000',
} as const;
export type SqlState = (typeof SqlState)[keyof typeof SqlState];

/** The uniform hint on every 28P01. */
export const authFailedHint =
  'Generate a fresh token; if it still fails, ask an administrator to check the access rules.';

/** A client-visible failure: SQLSTATE, safe message, metric reason, and the operator-facing cause. */
export class ProxyError extends Error {
  override readonly name = 'ProxyError';
  readonly code: string;
  readonly sqlstate: SqlState;
  readonly severity = 'FATAL' as const;
  readonly clientMessage: string;
  readonly hint: string | undefined;
  /** `reason` label of rsproxy_logins_total. */
  readonly reason: string;

  constructor(
    code: string,
    sqlstate: SqlState,
    clientMessage: string,
    reason: string,
    options?: { cause?: unknown; hint?: string; detail?: string },
  ) {
    super(options?.detail ?? clientMessage, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.sqlstate = sqlstate;
    this.clientMessage = clientMessage;
    this.hint = options?.hint;
    this.reason = reason;
  }
}

type Opts = { cause?: unknown; detail?: string };

/** 28P01 uniform IAM failure; `reason` is the precise cause for logs and metrics only. */
export function authFailed(user: string, reason: string, opts: Opts = {}): ProxyError {
  return new ProxyError('PROXY_AUTH_FAILED', SqlState.InvalidPassword, `IAM authentication failed for user "${user}"`, reason, {
    ...opts,
    hint: authFailedHint,
  });
}
/** 28000 plaintext startup. */
export function tlsRequired(): ProxyError {
  return new ProxyError('PROXY_TLS_REQUIRED', SqlState.InvalidAuthorizationSpecification, 'SSL connection is required', 'tls_required');
}
/** 28000 startup without user. */
export function noUser(): ProxyError {
  return new ProxyError(
    'PROXY_NO_USER',
    SqlState.InvalidAuthorizationSpecification,
    'no PostgreSQL user name specified in startup packet',
    'protocol',
  );
}
/** 57P03 AWS throttled or unavailable (retryable). */
export function unavailable(reason: string, opts: Opts = {}): ProxyError {
  return new ProxyError('PROXY_UNAVAILABLE', SqlState.CannotConnectNow, 'the database is not available right now; try again', reason, opts);
}
/** 57P03 with `audit.onFailure: refuse`, the audit record of a login or statement could not be written (docs/operations/audit.md). */
export function auditUnavailable(opts: Opts = {}): ProxyError {
  return new ProxyError('PROXY_AUDIT_UNAVAILABLE', SqlState.CannotConnectNow, 'audit log unavailable', 'audit_unavailable', opts);
}
/** 08006 upstream or non-retryable AWS failure. */
export function upstreamFailed(reason = 'upstream', opts: Opts = {}): ProxyError {
  return new ProxyError('PROXY_UPSTREAM_FAILED', SqlState.ConnectionFailure, 'could not connect to the database', reason, opts);
}
/** 53300 connection cap. */
export function tooManyConnections(): ProxyError {
  return new ProxyError('PROXY_TOO_MANY_CONNECTIONS', SqlState.TooManyConnections, 'sorry, too many clients already', 'too_many_connections');
}
/** 08P01 with a short description of what was wrong. */
export function protocolViolation(what: string, opts: Opts = {}): ProxyError {
  return new ProxyError('PROXY_PROTOCOL_VIOLATION', SqlState.ProtocolViolation, what, 'protocol', opts);
}
/** 08P01 a pipelining client sent more than the held-bytes limit before its login completed (proxy and tunnel alike). */
export function tooMuchDataBeforeLogin(): ProxyError {
  return protocolViolation('too much data sent before authentication completed');
}
/** 57P01 draining or shutting down. */
export function shuttingDown(): ProxyError {
  return new ProxyError('PROXY_SHUTTING_DOWN', SqlState.AdminShutdown, 'terminating connection due to administrator command', 'shutting_down');
}
/** 57P01 ended by an operator (`DELETE /sessions/<id>`); like the three below, only ever sent to a relayed session (never a login failure). */
export function terminatedByAdministrator(): ProxyError {
  return new ProxyError('PROXY_SESSION_TERMINATED', SqlState.AdminShutdown, 'terminated by administrator', 'shutting_down');
}
/** 57P01 the reloaded rules no longer admit this session's identity, database and user. */
export function accessRevoked(): ProxyError {
  return new ProxyError('PROXY_ACCESS_REVOKED', SqlState.AdminShutdown, 'access revoked by a configuration change', 'shutting_down');
}
/** 57P01 the session is older than `limits.maxSessionSeconds`. */
export function sessionTooOld(): ProxyError {
  return new ProxyError('PROXY_SESSION_TOO_OLD', SqlState.AdminShutdown, 'session exceeded its maximum duration', 'shutting_down');
}
/** 0A000 `<what> is not supported` (or an exact PostgreSQL text when given). */
export function unsupported(what: string, exactMessage?: string): ProxyError {
  return new ProxyError('PROXY_UNSUPPORTED', SqlState.FeatureNotSupported, exactMessage ?? `${what} is not supported`, 'protocol');
}
/** XX000 bug; no detail on the wire. */
export function internal(cause?: unknown): ProxyError {
  return new ProxyError('PROXY_INTERNAL', SqlState.InternalError, 'internal error', 'internal', { cause });
}

const unavailableCodes: ReadonlySet<string> = new Set([
  AuthErrorCode.StsUnavailable,
  AuthErrorCode.StsThrottled,
  AuthErrorCode.CredentialsUnavailable,
  AuthErrorCode.CredentialsThrottled,
]);

/** Maps any thrown value to the ProxyError a client sees. `user` fills the uniform 28P01 message. */
export function toProxyError(err: unknown, user: string): ProxyError {
  if (err instanceof ProxyError) return err;
  // Only the tunnel meets these: the local AWS credentials that sign its tokens are unusable.
  if (err instanceof AwsCredentialsError) return tunnelNoCredentials(err.profile, err.reason, err.fix, { cause: err });
  if (isAuthError(err)) {
    if (unavailableCodes.has(err.code)) return unavailable(err.reason, { cause: err });
    if (err.code === AuthErrorCode.CredentialsFailed) return upstreamFailed(err.reason, { cause: err });
    return authFailed(user, err.reason, { cause: err });
  }
  return internal(err);
}

/** 08006 from `rsproxy tunnel`: the proxy at `hostPort` is unreachable, or TLS with it failed or did not verify. */
export function tunnelRemoteFailed(hostPort: string, reason: string, opts: Opts = {}): ProxyError {
  return new ProxyError('PROXY_TUNNEL_REMOTE_FAILED', SqlState.ConnectionFailure, `rsproxy tunnel could not connect to ${hostPort}: ${reason}`, 'upstream', opts);
}
/** 28000 from `rsproxy tunnel`: the local AWS credentials cannot sign a token; `fix` becomes the HINT. */
export function tunnelNoCredentials(profile: string, reason: string, fix: string, opts: Opts = {}): ProxyError {
  return new ProxyError('PROXY_TUNNEL_NO_CREDENTIALS', SqlState.InvalidAuthorizationSpecification, `no usable AWS credentials (profile ${profile}): ${reason}`, 'credentials', {
    ...opts,
    hint: fix.charAt(0).toUpperCase() + fix.slice(1) + '.',
  });
}
/** 08P01 from `rsproxy tunnel`: the server at `hostPort` asked for an authentication method other than a cleartext password. */
export function tunnelNotAnRsproxy(hostPort: string, opts: Opts = {}): ProxyError {
  return new ProxyError('PROXY_TUNNEL_NOT_RSPROXY', SqlState.ProtocolViolation, `${hostPort} is not an rsproxy`, 'protocol', opts);
}
