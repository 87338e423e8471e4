/** Maps AWS SDK errors of the credential, discovery and AssumeRole calls to AuthErrors (docs/design/aws.md §8, §11). */
import { AuthError, AuthErrorCode } from './errors.js';
import { nullObserver, type AuthObserver, type Partition } from './types.js';
import type { Deadline } from './deadline.js';

/** `result` label of observer.credentialRequest. */
export type AwsCallResult = 'ok' | 'throttled' | 'unavailable' | 'failed';

/** Static AWS credentials (the proxy's own from the default chain, or an assumed role's). */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** When the credentials stop working, epoch ms (assumed roles). */
  expiresAtMs?: number;
}

/** Per-call options of the SDK-backed APIs. */
export interface AwsCallOptions {
  /** Abort the HTTP request at this epoch ms (the login deadline; a function for a fetch shared by several logins). */
  deadlineMs?: Deadline;
}

const throttlingNames: ReadonlySet<string> = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
]);

const networkCodes: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

interface SdkErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: unknown; requestId?: unknown };
}

/** The fields of an SDK error worth logging (never a request body or credentials). */
export interface AwsErrorSummary {
  name: string;
  httpStatusCode?: number;
  requestId?: string;
  code?: string;
  message: string;
}

/** Extracts the loggable fields of an SDK (or network) error. */
export function summarizeAwsError(err: unknown): AwsErrorSummary {
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkErrorLike;
  const status = e.$metadata?.httpStatusCode;
  const requestId = e.$metadata?.requestId;
  return {
    name: typeof e.name === 'string' ? e.name : 'Error',
    ...(typeof status === 'number' ? { httpStatusCode: status } : {}),
    ...(typeof requestId === 'string' ? { requestId } : {}),
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
    message: (typeof e.message === 'string' ? e.message : String(err)).slice(0, 500),
  };
}

/** Classifies an SDK error: throttled and unavailable are retried, failed is not. */
export function classifyAwsError(err: unknown): Exclude<AwsCallResult, 'ok'> {
  if (err instanceof AuthError) {
    if (err.code === AuthErrorCode.CredentialsThrottled) return 'throttled';
    return err.retryable ? 'unavailable' : 'failed';
  }
  const s = summarizeAwsError(err);
  const fault = (err as SdkErrorLike | null)?.$fault;
  if (throttlingNames.has(s.name) || s.httpStatusCode === 429) return 'throttled';
  if ((s.httpStatusCode !== undefined && s.httpStatusCode >= 500) || fault === 'server') return 'unavailable';
  if (s.httpStatusCode === undefined) {
    // No HTTP answer: timeouts, aborts, refused or reset connections, credential-chain hiccups.
    if (s.code !== undefined && networkCodes.has(s.code)) return 'unavailable';
    if (['TimeoutError', 'AbortError', 'RequestTimeout', 'CredentialsProviderError'].includes(s.name)) return 'unavailable';
    return s.code === undefined ? 'unavailable' : 'failed';
  }
  return 'failed';
}

/** The partition of a region name. */
export function partitionOfRegion(region: string): Partition {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/** The 12-digit account id found in an AWS error message's ARNs, else '*'. */
export function accountFromMessage(message: string): string {
  return /arn:aws[\w-]*:[\w-]+:[\w-]*:(\d{12}):/.exec(message)?.[1] ?? '*';
}

/** The ARN of `resource` of `service` in `region`, with the account taken from the failed call's error message. */
export function resourceArnFromError(service: string, region: string, err: unknown, resource: string): string {
  const account = accountFromMessage(summarizeAwsError(err).message);
  return `arn:${partitionOfRegion(region)}:${service}:${region}:${account}:${resource}`;
}

const resultCodes = {
  throttled: AuthErrorCode.CredentialsThrottled,
  unavailable: AuthErrorCode.CredentialsUnavailable,
  failed: AuthErrorCode.CredentialsFailed,
} as const;

/** An AuthError for a failed AWS call; the message names the action and the resource, for operators. */
export function awsCallError(action: string, resource: string, err: unknown): AuthError {
  if (err instanceof AuthError) return err;
  const result = classifyAwsError(err);
  const s = summarizeAwsError(err);
  const status = s.httpStatusCode === undefined ? '' : ` (HTTP ${s.httpStatusCode})`;
  const requestId = s.requestId === undefined ? '' : ` [request id ${s.requestId}]`;
  // The cause is the summary, not the SDK object: that may carry the raw HTTP response.
  return new AuthError(resultCodes[result], `${action} on ${resource} failed: ${s.name}${status}: ${s.message}${requestId}`, { cause: s });
}

/** Runs one AWS call, reports it to `observer.credentialRequest(api, result)` and maps its error. */
export async function observeAwsCall<T>(
  observer: AuthObserver | undefined,
  api: string,
  action: string,
  resource: (err: unknown) => string,
  call: () => Promise<T>,
): Promise<T> {
  const sink = observer ?? nullObserver;
  try {
    const out = await call();
    sink.credentialRequest(api, 'ok');
    return out;
  } catch (err) {
    const mapped = awsCallError(action, resource(err), err);
    sink.credentialRequest(api, classifyAwsError(mapped));
    throw mapped;
  }
}
