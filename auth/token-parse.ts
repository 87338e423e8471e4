/** Pure local checks of a client password as an IAM token, before any network I/O (docs/design/token.md §4 rules 3–19). */
import { Buffer } from 'node:buffer';
import { regionPattern } from './aws-names.js';
import { AuthError, AuthErrorCode } from './errors.js';
import { stsApiVersion, stsHost } from './sts-request.js';
import type { IdentityOptions } from './types.js';

/** A token whose shape passed every local check; the fields the STS request is rebuilt from. */
export interface ParsedToken {
  format: 'rsp1' | 'k8s-aws-v1';
  region: string;
  amzDate: string;
  amzDateMs: number;
  accessKeyId: string;
  signature: string;
  /** Standard base64 (as AWS expects it), when the credentials are temporary. */
  sessionToken?: string;
  expiresSeconds: number;
  audienceHeader: 'x-rsproxy-audience' | 'x-k8s-aws-id';
}

/** Inputs of parseToken besides the password. */
export interface ParseTokenOptions {
  identity: IdentityOptions;
  nowMs: number;
}

/** Prefix of the compact format. */
export const rsp1Prefix = 'rsp1';
/** Prefix of `aws eks get-token` tokens. */
export const eksPrefix = 'k8s-aws-v1';

const amzDatePattern = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const akidPattern = /^(AKIA|ASIA)[A-Z0-9]{16}$/;
const signaturePattern = /^[0-9a-f]{64}$/;
const base64urlPattern = /^[A-Za-z0-9_-]+$/;
const base64Pattern = /^[A-Za-z0-9+/]+={0,2}$/;
const eksUrlPattern = /^https:\/\/([a-z0-9.-]+)\/\?(.+)$/;
// Raw query characters: RFC 3986 unreserved, `%XX`, and the separators. Anything else is not how a signer encodes.
const rawQueryPattern = /^(?:[A-Za-z0-9\-_.~&=]|%[0-9A-Fa-f]{2})+$/;
const eksParamNames: ReadonlySet<string> = new Set([
  'Action',
  'Version',
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature',
  'X-Amz-Security-Token',
]);

function malformed(what: string): AuthError {
  // Messages name the failed rule only; they never echo token text.
  return new AuthError(AuthErrorCode.TokenMalformed, `token malformed: ${what}`);
}

/** Epoch ms of an `X-Amz-Date`, or undefined unless it is a real UTC instant (no month 13, Feb 30, hour 24, second 60). */
export function parseAmzDate(amzDate: string): number | undefined {
  const m = amzDatePattern.exec(amzDate);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const t = new Date(ms);
  const isExact =
    t.getUTCFullYear() === y &&
    t.getUTCMonth() === mo - 1 &&
    t.getUTCDate() === d &&
    t.getUTCHours() === h &&
    t.getUTCMinutes() === mi &&
    t.getUTCSeconds() === s;
  return isExact ? ms : undefined;
}

/** True when `value` is canonical unpadded base64url: the decode/encode round trip gives it back. */
export function isCanonicalBase64url(value: string): boolean {
  return base64urlPattern.test(value) && value.length % 4 !== 1 && Buffer.from(value, 'base64url').toString('base64url') === value;
}

/** True when `value` is canonical padded standard base64. */
export function isCanonicalBase64(value: string): boolean {
  return value.length % 4 === 0 && base64Pattern.test(value) && Buffer.from(value, 'base64').toString('base64') === value;
}

function checkRegion(region: string, identity: IdentityOptions): void {
  if (!regionPattern.test(region)) throw malformed('region grammar');
  if (!identity.stsRegions.includes(region)) throw new AuthError(AuthErrorCode.RegionNotAllowed, `STS region ${region} is not in identity.stsRegions`);
}

function checkAmzDate(amzDate: string, opts: ParseTokenOptions): number {
  const ms = parseAmzDate(amzDate);
  if (ms === undefined) throw malformed('X-Amz-Date is not a real YYYYMMDDTHHMMSSZ instant');
  if (ms < opts.nowMs - opts.identity.maxTokenAgeSeconds * 1000) {
    throw new AuthError(AuthErrorCode.TokenExpired, `token signed at ${amzDate} is older than identity.maxTokenAgeSeconds`);
  }
  if (ms > opts.nowMs + opts.identity.clockSkewSeconds * 1000) {
    throw new AuthError(AuthErrorCode.TokenNotYetValid, `token signed at ${amzDate} is in the future beyond identity.clockSkewSeconds`);
  }
  return ms;
}

function checkAkid(akid: string, hasSessionToken: boolean): void {
  if (!akidPattern.test(akid)) throw malformed('access key id grammar');
  if (akid.startsWith('ASIA') !== hasSessionToken) throw malformed('ASIA keys need a session token and AKIA keys forbid one');
}

function parseRsp1(token: string, opts: ParseTokenOptions): ParsedToken {
  if (!/^[A-Za-z0-9._-]+$/.test(token)) throw malformed('character outside [A-Za-z0-9._-]');
  const fields = token.split('.');
  if (fields.length !== 5 && fields.length !== 6) throw malformed('expected 5 or 6 fields');
  if (fields.some((f) => f === '')) throw malformed('empty field');
  const [, region, amzDate, akid, signature, sessionField] = fields as [string, string, string, string, string, string | undefined];
  checkRegion(region, opts.identity);
  const amzDateMs = checkAmzDate(amzDate, opts);
  checkAkid(akid, sessionField !== undefined);
  if (!signaturePattern.test(signature)) throw malformed('signature must be 64 lower-case hex characters');
  const parsed: ParsedToken = {
    format: 'rsp1',
    region,
    amzDate,
    amzDateMs,
    accessKeyId: akid,
    signature,
    // STS ignores X-Amz-Expires but it is signed, so the rsp1 value is fixed (docs/design/token.md §2.2).
    expiresSeconds: 900,
    audienceHeader: 'x-rsproxy-audience',
  };
  if (sessionField !== undefined) {
    if (!isCanonicalBase64url(sessionField)) throw malformed('session token is not canonical base64url');
    parsed.sessionToken = Buffer.from(sessionField, 'base64url').toString('base64');
  }
  return parsed;
}

function percentDecode(raw: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x25) {
      const hex = raw.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw malformed('bad percent-encoding');
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(c);
    }
  }
  if (bytes.some((b) => b < 0x20 || b > 0x7e)) throw malformed('query value is not printable ASCII');
  return String.fromCharCode(...bytes);
}

function parseEksQuery(query: string): Map<string, string> {
  if (!rawQueryPattern.test(query)) throw malformed('query character not allowed');
  const params = new Map<string, string>();
  const seenLower = new Set<string>();
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    if (eq < 0) throw malformed('query pair without =');
    const name = pair.slice(0, eq);
    // Names are compared raw and exact-case: no decoding, no folding (CVE-2022-2385).
    if (!eksParamNames.has(name)) throw malformed('unknown, empty or wrong-case query parameter');
    const lower = name.toLowerCase();
    if (seenLower.has(lower)) throw malformed('duplicate query parameter');
    seenLower.add(lower);
    params.set(name, percentDecode(pair.slice(eq + 1)));
  }
  return params;
}

function requireParam(params: Map<string, string>, name: string): string {
  const value = params.get(name);
  if (value === undefined) throw malformed(`missing ${name}`);
  return value;
}

function parseEks(token: string, opts: ParseTokenOptions): ParsedToken {
  const encoded = token.slice(eksPrefix.length + 1);
  if (!isCanonicalBase64url(encoded)) throw malformed('k8s-aws-v1 payload is not canonical base64url');
  const bytes = Buffer.from(encoded, 'base64url');
  if (bytes.some((b) => b < 0x20 || b > 0x7e)) throw malformed('k8s-aws-v1 payload is not printable ASCII');
  const url = bytes.toString('latin1');
  const m = eksUrlPattern.exec(url);
  if (!m) throw malformed('k8s-aws-v1 URL is not https://<host>/?<query>');
  const host = m[1] ?? '';
  const region = opts.identity.stsRegions.find((r) => stsHost(r, opts.identity.partition) === host);
  if (region === undefined) throw new AuthError(AuthErrorCode.RegionNotAllowed, 'k8s-aws-v1 host is not an allowed STS host');
  const params = parseEksQuery(m[2] ?? '');
  if (requireParam(params, 'Action') !== 'GetCallerIdentity') throw malformed('Action must be GetCallerIdentity');
  if (requireParam(params, 'Version') !== stsApiVersion) throw malformed(`Version must be ${stsApiVersion}`);
  if (requireParam(params, 'X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') throw malformed('X-Amz-Algorithm must be AWS4-HMAC-SHA256');
  if (requireParam(params, 'X-Amz-SignedHeaders') !== 'host;x-k8s-aws-id') throw malformed('X-Amz-SignedHeaders must be host;x-k8s-aws-id');
  const expires = requireParam(params, 'X-Amz-Expires');
  if (!/^\d{1,3}$/.test(expires) || Number(expires) > 900) throw malformed('X-Amz-Expires must be 0..900');
  const credential = requireParam(params, 'X-Amz-Credential');
  const amzDate = requireParam(params, 'X-Amz-Date');
  const signature = requireParam(params, 'X-Amz-Signature');
  const sessionToken = params.get('X-Amz-Security-Token');
  const scope = credential.split('/');
  if (scope.length !== 5) throw malformed('X-Amz-Credential must have 5 segments');
  const [akid, scopeDate, scopeRegion, service, terminator] = scope as [string, string, string, string, string];
  if (scopeDate !== amzDate.slice(0, 8) || !/^\d{8}$/.test(scopeDate)) throw malformed('credential scope date differs from X-Amz-Date');
  if (scopeRegion !== region) throw malformed('credential scope region differs from the host region');
  if (service !== 'sts' || terminator !== 'aws4_request') throw malformed('credential scope must be <region>/sts/aws4_request');
  const amzDateMs = checkAmzDate(amzDate, opts);
  checkAkid(akid, sessionToken !== undefined);
  if (!signaturePattern.test(signature)) throw malformed('signature must be 64 lower-case hex characters');
  if (sessionToken !== undefined && !isCanonicalBase64(sessionToken)) throw malformed('session token is not canonical base64');
  const parsed: ParsedToken = {
    format: 'k8s-aws-v1',
    region,
    amzDate,
    amzDateMs,
    accessKeyId: akid,
    signature,
    expiresSeconds: Number(expires),
    audienceHeader: 'x-k8s-aws-id',
  };
  if (sessionToken !== undefined) parsed.sessionToken = sessionToken;
  return parsed;
}

/**
 * Validates a password as an `rsp1` or `k8s-aws-v1` token; throws AuthError (malformed, expired, region, …).
 * The session already stripped the one trailing newline docs/design/token.md §4 rule 3 allows, so any CR or LF here is malformed.
 */
export function parseToken(token: string, opts: ParseTokenOptions): ParsedToken {
  if (token === '') throw malformed('empty password');
  if (/[\r\n]/.test(token)) throw malformed('CR or LF in the token');
  const dot = token.indexOf('.');
  const prefix = dot < 0 ? token : token.slice(0, dot);
  if (prefix === rsp1Prefix && dot >= 0) return parseRsp1(token, opts);
  if (prefix === eksPrefix && dot >= 0) {
    if (!opts.identity.acceptEksTokens) throw new AuthError(AuthErrorCode.EksDisabled, 'k8s-aws-v1 token while identity.acceptEksTokens is false');
    return parseEks(token, opts);
  }
  throw malformed('unknown token prefix');
}
