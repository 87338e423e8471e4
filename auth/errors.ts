/** AuthError: every auth/ failure, with a stable code and a metric reason (docs/design/token.md §14). No SQLSTATEs here. */

/** Stable auth error codes (docs/design/architecture.md §5). */
export const AuthErrorCode = {
  TokenMalformed: 'AUTH_TOKEN_MALFORMED',
  TokenExpired: 'AUTH_TOKEN_EXPIRED',
  TokenNotYetValid: 'AUTH_TOKEN_NOT_YET_VALID',
  RegionNotAllowed: 'AUTH_REGION_NOT_ALLOWED',
  EksDisabled: 'AUTH_EKS_DISABLED',
  StsRejected: 'AUTH_STS_REJECTED',
  StsResponseInvalid: 'AUTH_STS_RESPONSE_INVALID',
  PrincipalTypeDenied: 'AUTH_PRINCIPAL_TYPE_DENIED',
  AccountNotAllowed: 'AUTH_ACCOUNT_NOT_ALLOWED',
  NoRule: 'AUTH_NO_RULE',
  DbNameInvalid: 'AUTH_DB_NAME_INVALID',
  StsUnavailable: 'AUTH_STS_UNAVAILABLE',
  StsThrottled: 'AUTH_STS_THROTTLED',
  CredentialsUnavailable: 'AUTH_CREDENTIALS_UNAVAILABLE',
  CredentialsThrottled: 'AUTH_CREDENTIALS_THROTTLED',
  CredentialsFailed: 'AUTH_CREDENTIALS_FAILED',
} as const;
export type AuthErrorCode = (typeof AuthErrorCode)[keyof typeof AuthErrorCode];

/** The `reason` label for each code (closed set, docs/design/token.md §14). */
export const authReason: Readonly<Record<AuthErrorCode, string>> = {
  AUTH_TOKEN_MALFORMED: 'malformed',
  AUTH_TOKEN_EXPIRED: 'expired',
  AUTH_TOKEN_NOT_YET_VALID: 'not_yet_valid',
  AUTH_REGION_NOT_ALLOWED: 'region',
  AUTH_EKS_DISABLED: 'eks_disabled',
  AUTH_STS_REJECTED: 'sts_rejected',
  AUTH_STS_RESPONSE_INVALID: 'sts_response',
  AUTH_PRINCIPAL_TYPE_DENIED: 'principal_type',
  AUTH_ACCOUNT_NOT_ALLOWED: 'account',
  AUTH_NO_RULE: 'no_rule',
  AUTH_DB_NAME_INVALID: 'db_name_rules',
  AUTH_STS_UNAVAILABLE: 'sts_unavailable',
  AUTH_STS_THROTTLED: 'sts_throttled',
  AUTH_CREDENTIALS_UNAVAILABLE: 'credentials_unavailable',
  AUTH_CREDENTIALS_THROTTLED: 'credentials_throttled',
  AUTH_CREDENTIALS_FAILED: 'credentials_failed',
};

const retryableCodes: ReadonlySet<AuthErrorCode> = new Set([
  AuthErrorCode.StsUnavailable,
  AuthErrorCode.StsThrottled,
  AuthErrorCode.CredentialsUnavailable,
  AuthErrorCode.CredentialsThrottled,
]);

/** An authentication failure. `message` is for operators (logs) and never holds a secret. */
export class AuthError extends Error {
  override readonly name = 'AuthError';
  readonly code: AuthErrorCode;
  readonly retryable: boolean;
  readonly reason: string;

  constructor(code: AuthErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.retryable = retryableCodes.has(code);
    this.reason = authReason[code];
  }
}

/** True when `err` is an AuthError (also across module copies). */
export function isAuthError(err: unknown): err is AuthError {
  return err instanceof AuthError;
}

/**
 * The AWS credentials of the local user (default chain or a named profile) cannot sign a token: none
 * found, expired, or an SSO session that has ended. `fix` tells the user what to run.
 */
export class AwsCredentialsError extends Error {
  override readonly name = 'AwsCredentialsError';
  readonly code = 'AUTH_AWS_CREDENTIALS_UNUSABLE';
  /** The profile that was tried (`default` when none was named). */
  readonly profile: string;
  /** What is wrong, from the SDK (never a secret). */
  readonly reason: string;
  /** What the user should do, e.g. `run "aws sso login --profile dev", then connect again`. */
  readonly fix: string;

  constructor(profile: string, reason: string, fix: string, options?: { cause?: unknown }) {
    super(`no usable AWS credentials (profile ${profile}): ${reason}`, options);
    this.profile = profile;
    this.reason = reason;
    this.fix = fix;
  }
}
