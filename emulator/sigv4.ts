/** Independent SigV4 verifier on node:crypto (presigned query and Authorization header forms). */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The parts of a received HTTP request that SigV4 covers. */
export interface ReceivedRequest {
  method: string;
  /** Path as received, without the query. */
  path: string;
  /** Query string as received, without the leading `?` ('' when none). */
  rawQuery: string;
  /** Node's `rawHeaders` (name, value, name, value, …), so duplicates and exact values survive. */
  rawHeaders: readonly string[];
  body: Buffer;
}

/** What the verifier needs to know about a key holder. */
export interface SigningPrincipal {
  secretAccessKey: string;
  sessionToken?: string;
  sessionExpiresAtMs?: number;
}

/** A successful check: who signed, and the scope they signed for. */
export interface SigV4Success<P> {
  ok: true;
  principal: P;
  accessKeyId: string;
  region: string;
  service: string;
}

/** A failed check, already in AWS terms. */
export interface SigV4Failure {
  ok: false;
  status: number;
  code: string;
  message: string;
}

/** Result of a SigV4 verification. */
export type SigV4Result<P> = SigV4Success<P> | SigV4Failure;

/** Hex SHA-256 of the empty payload. */
export const emptyPayloadHash = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** The only accepted signing algorithm. */
export const sigV4Algorithm = 'AWS4-HMAC-SHA256';
/** STS accepts a signature for 15 minutes either side of its date. */
export const signatureWindowMs = 15 * 60 * 1000;

const mismatchMessage =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';
const invalidTokenMessage = 'The security token included in the request is invalid.';
const expiredTokenMessage = 'The security token included in the request is expired';

/** RFC 3986 encoding of every UTF-8 byte except A-Z a-z 0-9 - _ . ~ (upper-case hex). */
export function uriEncode(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Splits a raw query into decoded name/value pairs; undefined when a percent escape is malformed. */
export function parseRawQuery(rawQuery: string): Array<[string, string]> | undefined {
  const pairs: Array<[string, string]> = [];
  if (rawQuery === '') return pairs;
  try {
    for (const part of rawQuery.split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const name = eq < 0 ? part : part.slice(0, eq);
      const value = eq < 0 ? '' : part.slice(eq + 1);
      pairs.push([decodeURIComponent(name), decodeURIComponent(value)]);
    }
  } catch {
    return undefined;
  }
  return pairs;
}

/** Canonical query string: names and values RFC 3986 encoded, sorted by name then value. */
export function canonicalQueryString(pairs: ReadonlyArray<readonly [string, string]>, exclude?: string): string {
  const encoded = pairs.filter(([n]) => n !== exclude).map(([n, v]) => [uriEncode(n), uriEncode(v)] as const);
  encoded.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return encoded.map(([n, v]) => `${n}=${v}`).join('&');
}

/** Canonical URI for non-S3 services: each path segment encoded once more. */
export function canonicalPath(path: string): string {
  return path === '' ? '/' : path.split('/').map(uriEncode).join('/');
}

/** Received header values by lower-case name; repeated headers joined with ','. */
export function headerMap(rawHeaders: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] ?? '').toLowerCase();
    const value = (rawHeaders[i + 1] ?? '').trim().replace(/ +/g, ' ');
    const prev = map.get(name);
    map.set(name, prev === undefined ? value : `${prev},${value}`);
  }
  return map;
}

/** `SignedHeaders` lines of the canonical request, or the name of a signed header that is missing. */
export function canonicalHeaders(signed: readonly string[], headers: Map<string, string>): { text: string } | { missing: string } {
  let text = '';
  for (const name of signed) {
    const value = headers.get(name);
    if (value === undefined) return { missing: name };
    text += `${name}:${value}\n`;
  }
  return { text };
}

/** Hex SHA-256. */
export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The SigV4 signing key: HMAC chain "AWS4"+secret → date → region → service → "aws4_request". */
export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const kDate = createHmac('sha256', `AWS4${secret}`).update(date).digest();
  const kRegion = createHmac('sha256', kDate).update(region).digest();
  const kService = createHmac('sha256', kRegion).update(service).digest();
  return createHmac('sha256', kService).update('aws4_request').digest();
}

/** The string to sign for a canonical request. */
export function stringToSign(amzDate: string, scope: string, canonicalRequest: string): string {
  return [sigV4Algorithm, amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
}

/** `YYYYMMDDTHHMMSSZ` for an instant. */
export function formatAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** Parses `YYYYMMDDTHHMMSSZ` into epoch ms (undefined when not a real instant). */
export function parseAmzDate(text: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  return formatAmzDate(ms) === text ? ms : undefined;
}

function fail(status: number, code: string, message: string): SigV4Failure {
  return { ok: false, status, code, message };
}

function signatureMatches(expectedHex: string, providedHex: string): boolean {
  if (!/^[0-9a-f]{64}$/.test(providedHex)) return false;
  return timingSafeEqual(Buffer.from(expectedHex, 'utf8'), Buffer.from(providedHex, 'utf8'));
}

interface SignedParts {
  amzDate: string;
  credential: string;
  signedHeaders: string;
  signature: string;
  securityToken: string | undefined;
}

function checkAndSign<P extends SigningPrincipal>(
  parts: SignedParts,
  canonicalWithoutHeaders: (headerLines: string) => string,
  headers: Map<string, string>,
  lookup: (accessKeyId: string) => P | undefined,
  nowMs: number,
  expectedService: string | undefined,
): SigV4Result<P> {
  const scopeParts = parts.credential.split('/');
  if (scopeParts.length !== 5 || scopeParts[4] !== 'aws4_request') {
    return fail(400, 'IncompleteSignature', `Credential should have exactly 5 slash-separated components ending in aws4_request.`);
  }
  const [accessKeyId, date, region, service] = scopeParts as [string, string, string, string, string];
  const dateMs = parseAmzDate(parts.amzDate);
  if (dateMs === undefined) return fail(400, 'IncompleteSignature', `Invalid X-Amz-Date: ${parts.amzDate}`);
  if (dateMs < nowMs - signatureWindowMs) {
    return fail(403, 'SignatureDoesNotMatch',
      `Signature expired: ${parts.amzDate} is now earlier than ${formatAmzDate(nowMs - signatureWindowMs)} (${formatAmzDate(nowMs)} - 15 min.)`);
  }
  if (dateMs > nowMs + signatureWindowMs) {
    return fail(403, 'SignatureDoesNotMatch',
      `Signature not yet current: ${parts.amzDate} is still later than ${formatAmzDate(nowMs + signatureWindowMs)} (${formatAmzDate(nowMs)} + 15 min.)`);
  }
  if (date !== parts.amzDate.slice(0, 8)) {
    return fail(403, 'SignatureDoesNotMatch', `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${date}' != '${parts.amzDate.slice(0, 8)}'`);
  }
  if (expectedService !== undefined && service !== expectedService) {
    return fail(403, 'SignatureDoesNotMatch', `Credential should be scoped to correct service: '${expectedService}'.`);
  }
  const principal = lookup(accessKeyId);
  if (principal === undefined) return fail(403, 'InvalidClientTokenId', invalidTokenMessage);
  if ((principal.sessionToken ?? undefined) !== parts.securityToken) return fail(403, 'InvalidClientTokenId', invalidTokenMessage);
  if (principal.sessionExpiresAtMs !== undefined && principal.sessionExpiresAtMs <= nowMs) {
    return fail(403, 'ExpiredToken', expiredTokenMessage);
  }
  const signed = parts.signedHeaders.split(';');
  if (parts.signedHeaders === '' || !signed.includes('host') || signed.some((h) => h !== h.toLowerCase())) {
    return fail(403, 'SignatureDoesNotMatch', mismatchMessage);
  }
  const lines = canonicalHeaders(signed, headers);
  if ('missing' in lines) return fail(403, 'SignatureDoesNotMatch', mismatchMessage);
  const canonical = canonicalWithoutHeaders(lines.text);
  const scope = `${date}/${region}/${service}/aws4_request`;
  const key = signingKey(principal.secretAccessKey, date, region, service);
  const expected = createHmac('sha256', key).update(stringToSign(parts.amzDate, scope, canonical)).digest('hex');
  if (!signatureMatches(expected, parts.signature)) return fail(403, 'SignatureDoesNotMatch', mismatchMessage);
  return { ok: true, principal, accessKeyId, region, service };
}

/** Verifies a presigned (query-string) SigV4 request, e.g. STS GetCallerIdentity. */
export function verifyPresigned<P extends SigningPrincipal>(
  req: ReceivedRequest,
  lookup: (accessKeyId: string) => P | undefined,
  nowMs: number,
  expectedService?: string,
): SigV4Result<P> {
  const pairs = parseRawQuery(req.rawQuery);
  if (pairs === undefined) return fail(400, 'MalformedQueryString', 'The query string is malformed.');
  const single = (name: string): string | undefined | null => {
    const found = pairs.filter(([n]) => n === name);
    return found.length > 1 ? null : found[0]?.[1];
  };
  const algorithm = single('X-Amz-Algorithm');
  const credential = single('X-Amz-Credential');
  const amzDate = single('X-Amz-Date');
  const signedHeaders = single('X-Amz-SignedHeaders');
  const signature = single('X-Amz-Signature');
  const expires = single('X-Amz-Expires');
  const token = single('X-Amz-Security-Token');
  if (algorithm == null || credential == null || amzDate == null || signedHeaders == null || signature == null || expires == null || token === null) {
    return fail(400, 'IncompleteSignature', 'Request is missing or repeats a required SigV4 query parameter.');
  }
  if (algorithm !== sigV4Algorithm) return fail(400, 'IncompleteSignature', `Unsupported algorithm: ${algorithm}`);
  const headers = headerMap(req.rawHeaders);
  const query = canonicalQueryString(pairs, 'X-Amz-Signature');
  return checkAndSign(
    { amzDate, credential, signedHeaders, signature, securityToken: token },
    (headerLines) => [req.method, canonicalPath(req.path), query, headerLines, signedHeaders, emptyPayloadHash].join('\n'),
    headers,
    lookup,
    nowMs,
    expectedService,
  );
}

/** The service named in an Authorization header's credential scope, if it parses. */
export function authorizationService(authorization: string | undefined): string | undefined {
  const m = /Credential=[^/,\s]+\/\d{8}\/[^/,\s]+\/([^/,\s]+)\/aws4_request/.exec(authorization ?? '');
  return m?.[1];
}

/** Verifies an Authorization-header SigV4 request (SDK calls: awsQuery and awsJson POSTs). */
export function verifyHeaderSigned<P extends SigningPrincipal>(
  req: ReceivedRequest,
  lookup: (accessKeyId: string) => P | undefined,
  nowMs: number,
  expectedService?: string,
): SigV4Result<P> {
  const headers = headerMap(req.rawHeaders);
  const authorization = headers.get('authorization');
  if (authorization === undefined) return fail(403, 'MissingAuthenticationToken', 'Request is missing Authentication Token');
  const m = /^AWS4-HMAC-SHA256 Credential=([^,\s]+), ?SignedHeaders=([^,\s]+), ?Signature=([^,\s]+)$/.exec(authorization);
  if (!m) return fail(400, 'IncompleteSignature', 'Authorization header requires Credential, SignedHeaders and Signature.');
  const [, credential, signedHeaders, signature] = m as unknown as [string, string, string, string];
  const amzDate = headers.get('x-amz-date');
  if (amzDate === undefined) return fail(400, 'IncompleteSignature', 'Authorization header requires existence of a valid X-Amz-Date header.');
  const pairs = parseRawQuery(req.rawQuery);
  if (pairs === undefined) return fail(400, 'MalformedQueryString', 'The query string is malformed.');
  const payloadHash = sha256Hex(req.body);
  const declaredHash = headers.get('x-amz-content-sha256');
  if (declaredHash !== undefined && declaredHash !== payloadHash) {
    return fail(400, 'XAmzContentSHA256Mismatch', 'The provided x-amz-content-sha256 header does not match what was computed.');
  }
  return checkAndSign(
    { amzDate, credential, signedHeaders, signature, securityToken: headers.get('x-amz-security-token') },
    (headerLines) => [req.method, canonicalPath(req.path), canonicalQueryString(pairs), headerLines, signedHeaders, payloadHash].join('\n'),
    headers,
    lookup,
    nowMs,
    expectedService,
  );
}
