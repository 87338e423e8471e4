/** UpstreamLoginError: why an upstream dial, TLS handshake or login failed (the client sees 08006, or the upstream's own refusal of a setting). */

/** Stable codes of UpstreamLoginError. */
export const UpstreamLoginErrorCode = {
  Connect: 'UPSTREAM_CONNECT',
  Tls: 'UPSTREAM_TLS',
  Auth: 'UPSTREAM_AUTH',
  Protocol: 'UPSTREAM_PROTOCOL',
  Timeout: 'UPSTREAM_TIMEOUT',
} as const;
export type UpstreamLoginErrorCode = (typeof UpstreamLoginErrorCode)[keyof typeof UpstreamLoginErrorCode];

/** SQLSTATEs meaning "the upstream refused these credentials". */
const authRejectedSqlstates: ReadonlySet<string> = new Set(['28P01', '28000']);

/**
 * SQLSTATEs with which PostgreSQL refuses a startup setting (`options` or a parameter) after authentication:
 * unrecognized (42704), bad name (42602), bad value (22023, 22P02), not settable now (55P02), not permitted to
 * this user (42501), malformed `options` (42601), unsupported value (0A000). The client gets such an error verbatim,
 * as a direct login would show it.
 */
export const settingRefusedSqlstates: ReadonlySet<string> = new Set(['42704', '42602', '22023', '22P02', '55P02', '42501', '42601', '0A000']);

/** An upstream login failure. `message` never carries upstream text; that is in `upstreamMessage`, for logs only. */
export class UpstreamLoginError extends Error {
  override readonly name = 'UpstreamLoginError';
  readonly code: UpstreamLoginErrorCode;
  /** SQLSTATE of the upstream ErrorResponse, when there was one. */
  readonly upstreamSqlstate?: string;
  /** The upstream's `M` field (log only; never sent to a client). */
  readonly upstreamMessage?: string;
  /** The upstream said 28P01/28000: the caller should invalidate cached credentials and retry once. */
  readonly isAuthRejected: boolean;
  /** The upstream's whole ErrorResponse when it refused a forwarded setting after authentication: relayed to the client verbatim. */
  readonly settingRefusal?: Buffer;

  constructor(
    code: UpstreamLoginErrorCode,
    message: string,
    opts: { cause?: unknown; upstreamSqlstate?: string | undefined; upstreamMessage?: string | undefined; settingRefusal?: Buffer | undefined } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    if (opts.upstreamSqlstate !== undefined) this.upstreamSqlstate = opts.upstreamSqlstate;
    if (opts.upstreamMessage !== undefined) this.upstreamMessage = opts.upstreamMessage;
    if (opts.settingRefusal !== undefined) this.settingRefusal = opts.settingRefusal;
    this.isAuthRejected = opts.upstreamSqlstate !== undefined && authRejectedSqlstates.has(opts.upstreamSqlstate);
  }
}
