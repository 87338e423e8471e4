/** TEST-ONLY Authenticator: one fixed client password → one real PostgreSQL role (the product never accepts a fixed password). */
import type { AuthRequest, AuthResult, Authenticator, UpstreamTarget } from '../auth/types.js';
import { AuthError, AuthErrorCode } from '../auth/errors.js';

/** Options of a TestAuthenticator. */
export interface TestAuthenticatorOptions {
  /** The only client password accepted. */
  clientPassword: string;
  /** Real upstream role and its real password. */
  upstreamUser: string;
  upstreamPassword: string;
  target: UpstreamTarget;
  /** When set, returned instead of the real password until invalidate() is first called (a stale cache entry). */
  stalePassword?: string;
}

/** Maps the fixed password to the real role; anything else → AuthError AUTH_NO_RULE. Counts calls and invalidations. */
export class TestAuthenticator implements Authenticator {
  /** Number of authenticate() calls (accepted or not). */
  calls = 0;
  /** Number of invalidate() calls on returned results. */
  invalidations = 0;
  /** Number of forgetEndpoint() calls on returned results. */
  endpointForgets = 0;
  /** Users and databases asked for, in order (never the password). */
  readonly requests: Array<{ user: string; database: string; connectionId: string }> = [];
  private stalePassword: string | undefined;
  private readonly opts: TestAuthenticatorOptions;

  constructor(opts: TestAuthenticatorOptions) {
    this.opts = opts;
    this.stalePassword = opts.stalePassword;
  }

  /** Makes the next results carry `password` until invalidate() is called. */
  serveStalePassword(password: string): void {
    this.stalePassword = password;
  }

  authenticate(req: AuthRequest): Promise<AuthResult> {
    this.calls++;
    this.requests.push({ user: req.user, database: req.database, connectionId: req.connectionId });
    if (req.password !== this.opts.clientPassword) {
      return Promise.reject(new AuthError(AuthErrorCode.NoRule, 'test authenticator: password not accepted'));
    }
    return Promise.resolve({
      upstreamUser: this.opts.upstreamUser,
      upstreamPassword: this.stalePassword ?? this.opts.upstreamPassword,
      target: this.opts.target,
      expiresAtMs: Date.now() + 900_000,
      timings: {},
      // A stale password models a cache entry, so a retry with fresh credentials can help.
      invalidate: () => {
        this.invalidations++;
        const wasStale = this.stalePassword !== undefined;
        this.stalePassword = undefined;
        return wasStale;
      },
      forgetEndpoint: () => {
        this.endpointForgets++;
      },
      autoCreate: false,
    });
  }
}
