/** UpstreamLoginError: why an upstream dial, TLS handshake or login failed (the client always sees 08006). */

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

  constructor(
    code: UpstreamLoginErrorCode,
    message: string,
    opts: { cause?: unknown; upstreamSqlstate?: string | undefined; upstreamMessage?: string | undefined } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    if (opts.upstreamSqlstate !== undefined) this.upstreamSqlstate = opts.upstreamSqlstate;
    if (opts.upstreamMessage !== undefined) this.upstreamMessage = opts.upstreamMessage;
    this.isAuthRejected = opts.upstreamSqlstate !== undefined && authRejectedSqlstates.has(opts.upstreamSqlstate);
  }
}
