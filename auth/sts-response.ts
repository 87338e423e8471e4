/** Strict validation of STS GetCallerIdentity answers (docs/design/token.md §6) and error-code extraction (§5). */
import { isUserIdConsistent, parseCallerArn } from './arn.js';
import { isAccountId } from './aws-names.js';
import { AuthError, AuthErrorCode } from './errors.js';
import type { Identity, IdentityOptions } from './types.js';

/** Largest STS body read, in bytes. */
export const stsMaxBodyBytes = 64 * 1024;

/** What the verifier knows about the request, copied into the identity. */
export interface StsRequestContext {
  accessKeyId: string;
  stsRegion: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const resultKeys = ['Account', 'Arn', 'UserId'] as const;

function invalid(what: string): AuthError {
  return new AuthError(AuthErrorCode.StsResponseInvalid, `STS response invalid: ${what}`);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function hasExactKeys(obj: Record<string, unknown>, required: readonly string[], optional: readonly string[] = []): boolean {
  const keys = Object.keys(obj);
  return required.every((k) => keys.includes(k)) && keys.every((k) => required.includes(k) || optional.includes(k));
}

function countOccurrences(haystack: string, needle: string): number {
  let count = 0;
  for (let i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + 1)) count++;
  return count;
}

/** True when a Content-Type header names `application/json` (parameters ignored). */
export function isJsonContentType(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() === 'application/json';
}

function decodeBody(body: Buffer): string {
  if (body.length > stsMaxBodyBytes) throw invalid('body over 64 KiB');
  try {
    return utf8.decode(body);
  } catch (err) {
    throw new AuthError(AuthErrorCode.StsResponseInvalid, 'STS response invalid: body is not UTF-8', { cause: err });
  }
}

/**
 * Validates a 200 answer through §6 rules 1–7 and returns the identity. Rule 8 (allowed account)
 * is checkIdentityAllowed, run on every use. Throws AuthError (sts_response or principal_type).
 */
export function validateStsResponse(contentType: string | undefined, body: Buffer, identity: IdentityOptions, ctx: StsRequestContext): Identity {
  if (!isJsonContentType(contentType)) throw invalid('content type is not application/json');
  const text = decodeBody(body);
  // JSON.parse keeps the last duplicate key, and escapes could hide one from the raw count; a real STS body needs no escape.
  if (text.includes('\\')) throw invalid('escape sequence in body');
  for (const key of ['GetCallerIdentityResult', ...resultKeys]) {
    if (countOccurrences(text, `"${key}"`) !== 1) throw invalid(`key ${key} must appear exactly once`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new AuthError(AuthErrorCode.StsResponseInvalid, 'STS response invalid: not JSON', { cause: err });
  }
  if (!isPlainObject(doc) || !hasExactKeys(doc, ['GetCallerIdentityResponse'])) throw invalid('unexpected top-level shape');
  const response = doc.GetCallerIdentityResponse;
  if (!isPlainObject(response) || !hasExactKeys(response, ['GetCallerIdentityResult'], ['ResponseMetadata'])) throw invalid('unexpected response shape');
  const result = response.GetCallerIdentityResult;
  if (!isPlainObject(result) || !hasExactKeys(result, resultKeys)) throw invalid('unexpected result shape');
  const { Account: account, Arn: arn, UserId: userId } = result;
  if (typeof account !== 'string' || typeof arn !== 'string' || typeof userId !== 'string' || account === '' || arn === '' || userId === '') {
    throw invalid('Account, Arn and UserId must be non-empty strings');
  }
  if (!isAccountId(account)) throw invalid('Account is not 12 digits');
  if (arn.length < 20 || arn.length > 2048) throw invalid('Arn length');
  const parsed = parseCallerArn(arn);
  if (parsed === undefined) throw invalid('Arn grammar');
  if (parsed.partition !== identity.partition) throw invalid(`Arn partition ${parsed.partition} is not identity.partition`);
  if (parsed.accountId !== account) throw invalid('Arn account differs from Account');
  if (!isUserIdConsistent(parsed, userId)) throw invalid('UserId does not fit the Arn');
  const metadata = response.ResponseMetadata;
  const requestId = isPlainObject(metadata) && typeof metadata.RequestId === 'string' ? metadata.RequestId : undefined;
  const out: Identity = {
    partition: parsed.partition,
    accountId: account,
    canonicalArn: parsed.canonicalArn,
    arn,
    principalType: parsed.principalType,
    userId,
    accessKeyId: ctx.accessKeyId,
    stsRegion: ctx.stsRegion,
  };
  if (parsed.roleName !== undefined) out.roleName = parsed.roleName;
  if (parsed.sessionName !== undefined) out.sessionName = parsed.sessionName;
  if (parsed.userName !== undefined) out.userName = parsed.userName;
  if (requestId !== undefined) out.stsRequestId = requestId;
  checkPrincipalType(out, identity);
  return out;
}

/** §6 rule 7: root and federated users only with `identity.allowRootAndFederated`. */
export function checkPrincipalType(id: Identity, identity: IdentityOptions): void {
  if ((id.principalType === 'root' || id.principalType === 'federated-user') && !identity.allowRootAndFederated) {
    throw new AuthError(AuthErrorCode.PrincipalTypeDenied, `principal type ${id.principalType} is denied (identity.allowRootAndFederated is false)`);
  }
}

/** §6 rules 7–8, run on every use including cache hits. */
export function checkIdentityAllowed(id: Identity, identity: IdentityOptions): void {
  checkPrincipalType(id, identity);
  if (!identity.allowedAccounts.includes(id.accountId)) {
    throw new AuthError(AuthErrorCode.AccountNotAllowed, `account ${id.accountId} is not in identity.allowedAccounts`);
  }
}

/** The error code and request id of an STS error body (JSON or XML shape); fields absent when unreadable. */
export function parseStsError(body: Buffer): { code?: string; requestId?: string } {
  const text = body.toString('utf8');
  const out: { code?: string; requestId?: string } = {};
  try {
    const doc: unknown = JSON.parse(text);
    if (isPlainObject(doc)) {
      const err = doc.Error;
      if (isPlainObject(err) && typeof err.Code === 'string') out.code = err.Code;
      if (typeof doc.RequestId === 'string') out.requestId = doc.RequestId;
      return out;
    }
  } catch {
    // Not JSON: try the XML shape.
  }
  const code = /<Code>([^<]{1,128})<\/Code>/.exec(text)?.[1];
  const requestId = /<RequestId>([^<]{1,128})<\/RequestId>/.exec(text)?.[1];
  if (code !== undefined) out.code = code;
  if (requestId !== undefined) out.requestId = requestId;
  return out;
}
