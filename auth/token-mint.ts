/** Mints `rsp1` tokens with SignatureV4.presign, as @aws-sdk/rds-signer does (docs/design/token.md §2.6). */
import { Buffer } from 'node:buffer';
import { Sha256 } from '@aws-crypto/sha256-js';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { credentialsFix, effectiveProfile, isSsoProfile } from './aws-profile.js';
import { audiencePattern, regionPattern } from './aws-names.js';
import { AwsCredentialsError } from './errors.js';
import { stsApiVersion, stsHost } from './sts-request.js';
import type { Clock, Partition } from './types.js';
import { systemClock } from './types.js';

/** AWS credentials used to sign a token. */
export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Inputs of mintToken. */
export interface MintTokenOptions {
  /** The proxy fleet's `identity.audience`. */
  audience: string;
  /** STS region; the regional host of this region is signed, never the global one. */
  region: string;
  credentials: SigningCredentials;
  /** Signing time (default now). */
  nowMs?: number;
  /** Default `aws`. */
  partition?: Partition;
}

// The audience charset has no spaces: SigV4 trims and folds header spaces.
export { audiencePattern };

function queryValue(query: Readonly<Record<string, unknown>> | undefined, name: string): string {
  const value = query?.[name];
  if (typeof value !== 'string') throw new Error(`presign produced no single ${name}`);
  return value;
}

/** Standard base64 session token → unpadded base64url; throws unless the round trip is exact. */
export function sessionTokenToBase64url(sessionToken: string): string {
  const encoded = Buffer.from(sessionToken, 'base64').toString('base64url');
  if (encoded === '' || Buffer.from(encoded, 'base64url').toString('base64') !== sessionToken) {
    throw new Error('session token is not canonical base64; it cannot be carried in an rsp1 token');
  }
  return encoded;
}

/** Signs a presigned GetCallerIdentity for `audience` and writes it as an `rsp1` token. */
export async function mintToken(opts: MintTokenOptions): Promise<string> {
  const { audience, region, credentials } = opts;
  if (!audiencePattern.test(audience)) throw new Error(`audience must match ${audiencePattern.source}`);
  if (!regionPattern.test(region)) throw new Error(`region ${JSON.stringify(region)} is not an AWS region name`);
  const host = stsHost(region, opts.partition ?? 'aws');
  const request = new HttpRequest({
    method: 'GET',
    protocol: 'https:',
    hostname: host,
    path: '/',
    query: { Action: 'GetCallerIdentity', Version: stsApiVersion },
    headers: { host, 'x-rsproxy-audience': audience },
  });
  const signingCredentials: SigningCredentials = { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey };
  if (credentials.sessionToken !== undefined && credentials.sessionToken !== '') signingCredentials.sessionToken = credentials.sessionToken;
  const signer = new SignatureV4({ service: 'sts', region, credentials: signingCredentials, sha256: Sha256 });
  // presign's default expiry is 3600; STS ignores the value but it is signed, and rsp1 implies 900.
  const signed = await signer.presign(request, { expiresIn: 900, signingDate: new Date(opts.nowMs ?? Date.now()) });
  const q = signed.query;
  const amzDate = queryValue(q, 'X-Amz-Date');
  const signature = queryValue(q, 'X-Amz-Signature');
  if (queryValue(q, 'X-Amz-Expires') !== '900') throw new Error('presign did not sign X-Amz-Expires=900');
  if (queryValue(q, 'X-Amz-SignedHeaders') !== 'host;x-rsproxy-audience') throw new Error('presign signed unexpected headers');
  if (queryValue(q, 'X-Amz-Credential') !== `${credentials.accessKeyId}/${amzDate.slice(0, 8)}/${region}/sts/aws4_request`) {
    throw new Error('presign produced an unexpected credential scope');
  }
  const fields = ['rsp1', region, amzDate, credentials.accessKeyId, signature];
  if (signingCredentials.sessionToken !== undefined) {
    if (queryValue(q, 'X-Amz-Security-Token') !== signingCredentials.sessionToken) throw new Error('presign did not carry the session token');
    fields.push(sessionTokenToBase64url(signingCredentials.sessionToken));
  }
  return fields.join('.');
}

/** Mints a token with the default AWS credential chain (optionally a named profile). */
export async function mintTokenFromChain(opts: { audience: string; region: string; profile?: string; partition?: Partition }): Promise<string> {
  const provider = fromNodeProviderChain(opts.profile === undefined ? {} : { profile: opts.profile });
  const credentials = await provider();
  const mint: MintTokenOptions = { audience: opts.audience, region: opts.region, credentials };
  if (opts.partition !== undefined) mint.partition = opts.partition;
  return mintToken(mint);
}

/** Signing credentials plus when they expire (absent for long-term keys). */
export interface ResolvedCredentials extends SigningCredentials {
  expiresAtMs?: number;
}

/** Options of createCredentialSource. */
export interface CredentialSourceOptions {
  /** A named profile; default: the SDK's default chain (AWS_PROFILE, env keys, files, SSO, container, instance role). */
  profile?: string;
  /** Expiring credentials are reused until this long before they expire (default 5 minutes). */
  refreshBeforeMs?: number;
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
}

const defaultRefreshBeforeMs = 5 * 60_000;

/**
 * A function that resolves the user's AWS credentials, for a long-running process (`rsproxy tunnel`).
 * Expiring credentials (SSO, assumed roles, instance and container roles) are reused until they near
 * expiry; anything else is resolved again on each call with a fresh provider that rereads the shared
 * files, so a failure is never pinned: once the user fixes it (`aws sso login`, a rewritten credentials
 * file), the next call works. Rejects with AwsCredentialsError naming the profile and the fix.
 */
export function createCredentialSource(opts: CredentialSourceOptions = {}): () => Promise<ResolvedCredentials> {
  const clock = opts.clock ?? systemClock;
  const env = opts.env ?? process.env;
  const refreshBeforeMs = opts.refreshBeforeMs ?? defaultRefreshBeforeMs;
  let cached: ResolvedCredentials | undefined;
  return async () => {
    if (cached?.expiresAtMs !== undefined && cached.expiresAtMs - refreshBeforeMs > clock.nowMs()) return cached;
    cached = undefined;
    const profile = effectiveProfile(opts.profile, env);
    const fail = (reason: string, cause?: unknown): AwsCredentialsError =>
      new AwsCredentialsError(profile, reason, credentialsFix(profile, isSsoProfile(profile, env)), { cause });
    let resolved: Awaited<ReturnType<ReturnType<typeof fromNodeProviderChain>>>;
    try {
      // A new chain per resolution: the SDK's chain memoizes credentials, and its file reader caches file contents.
      resolved = await fromNodeProviderChain({ ...(opts.profile === undefined ? {} : { profile: opts.profile }), ignoreCache: true })();
    } catch (err) {
      // The SDK's messages name the missing source (profile, SSO session); they never contain secrets.
      throw fail(err instanceof Error ? err.message : String(err), err);
    }
    const creds: ResolvedCredentials = { accessKeyId: resolved.accessKeyId, secretAccessKey: resolved.secretAccessKey };
    if (resolved.sessionToken !== undefined && resolved.sessionToken !== '') creds.sessionToken = resolved.sessionToken;
    if (resolved.expiration !== undefined) {
      creds.expiresAtMs = resolved.expiration.getTime();
      if (creds.expiresAtMs <= clock.nowMs()) throw fail(`the credentials expired at ${resolved.expiration.toISOString()}`);
      cached = creds;
    }
    return creds;
  };
}
