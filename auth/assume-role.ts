/** The only importer of @aws-sdk/client-sts: AssumeRole into a rule's role, with cached role credentials (docs/design/surface.md §3). */
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { ClientPool, sdkClientConfig, sendOptions } from './aws-client-pool.js';
import { observeAwsCall, type AwsCallOptions, type AwsCredentials } from './aws-errors.js';
import { CredentialCache, type FetchReason } from './credential-cache.js';
import { deadlineNowMs } from './deadline.js';
import { AuthError, AuthErrorCode } from './errors.js';
import { nullObserver, silentLogger, type AuthObserver, type Clock, type Identity, type Logger } from './types.js';

/** Session tag that carries the rule's dbGroups as Redshift database roles. */
export const dbRolesTagKey = 'RedshiftDbRoles';
/** AWS limit on a session tag value. */
export const maxTagValueChars = 256;
/** Role credentials are reused until this long before they expire. */
export const roleRefreshBeforeSeconds = 300;

/** One AssumeRole call. */
export interface AssumeRoleRequest {
  roleArn: string;
  sessionName: string;
  /** Sent as the `RedshiftDbRoles` tag (colon-separated) when non-empty. */
  dbGroups: readonly string[];
}

/** Role credentials with their expiry. */
export type RoleCredentials = AwsCredentials & { expiresAtMs: number };

/** The STS AssumeRole API the Authenticator uses (fakeable). Throws AuthError. */
export interface AssumeRoleApi {
  assumeRole(region: string, req: AssumeRoleRequest, opts?: AwsCallOptions): Promise<RoleCredentials>;
}

/** The RoleSessionName for an identity: its own session or user name, reduced to `[\w+=,.@-]`, 2–64 chars. */
export function roleSessionName(identity: Identity): string {
  const raw = identity.sessionName ?? identity.userName ?? identity.roleName ?? identity.accountId;
  const reduced = raw.replace(/[^\w+=,.@-]/g, '').slice(0, 64);
  return reduced.padEnd(2, '_');
}

/** The `RedshiftDbRoles` tag value: groups joined by ':'; throws when over AWS's 256-character limit. */
export function dbRolesTagValue(dbGroups: readonly string[]): string {
  const value = dbGroups.join(':');
  if (value.length > maxTagValueChars) {
    throw new AuthError(AuthErrorCode.CredentialsFailed, `dbGroups joined for the ${dbRolesTagKey} session tag exceed ${maxTagValueChars} characters (${value.length})`);
  }
  return value;
}

/** Options of createAssumeRoleApi. */
export interface AssumeRoleApiOptions {
  logger: Logger;
  observer?: AuthObserver;
  /** Endpoint URL override (tests); otherwise the SDK reads AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL. */
  endpoint?: string;
  /** The proxy's own credentials (default: the SDK's default chain). */
  credentials?: AwsCredentials;
}

/** Builds the SDK-backed AssumeRoleApi (regional STS, maxAttempts 1, 3 s / 5 s timeouts). */
export function createAssumeRoleApi(opts: AssumeRoleApiOptions): AssumeRoleApi & { destroy(): void } {
  const pool = new ClientPool((region) => new STSClient(sdkClientConfig(region, opts.endpoint, opts.credentials)));
  return {
    async assumeRole(region, req, callOpts = {}) {
      const tags = req.dbGroups.length > 0 ? [{ Key: dbRolesTagKey, Value: dbRolesTagValue(req.dbGroups) }] : undefined;
      const client = pool.get(region, undefined);
      const sendOpts = sendOptions(callOpts.deadlineMs);
      const out = await observeAwsCall(
        opts.observer,
        'AssumeRole',
        'sts:AssumeRole',
        () => req.roleArn,
        () =>
          client.send(
            new AssumeRoleCommand({ RoleArn: req.roleArn, RoleSessionName: req.sessionName, ...(tags === undefined ? {} : { Tags: tags }) }),
            sendOpts,
          ),
      );
      const c = out.Credentials;
      if (c?.AccessKeyId === undefined || c.SecretAccessKey === undefined || !(c.Expiration instanceof Date)) {
        throw new AuthError(AuthErrorCode.CredentialsFailed, `sts:AssumeRole on ${req.roleArn} returned no credentials`);
      }
      opts.logger.debug({ event: 'role_assumed', role: req.roleArn, sessionName: req.sessionName, accessKeyId: c.AccessKeyId }, 'assumed role');
      return {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        ...(c.SessionToken === undefined ? {} : { sessionToken: c.SessionToken }),
        expiresAtMs: c.Expiration.getTime(),
      };
    },
    destroy() {
      pool.destroy();
    },
  };
}

/** Role credentials cached per (role, session name, tags) until 5 minutes before expiry, single-flight. */
export interface RoleCredentialSource {
  get(region: string, req: AssumeRoleRequest, opts?: AwsCallOptions): Promise<RoleCredentials>;
  /** Keeps only the entries of the roles `keep` accepts (config reload). */
  retainRoles(keep: (roleArn: string) => boolean): void;
  /** Stops the periodic purge of expired role credentials (shutdown). */
  close(): void;
}

interface RoleKey {
  region: string;
  roleArn: string;
  sessionName: string;
  tag: string;
}

/** Wraps an AssumeRoleApi with the role-credential cache. */
export function createRoleCredentialSource(opts: { api: AssumeRoleApi; clock?: Clock; logger?: Logger }): RoleCredentialSource {
  const cache = new CredentialCache<RoleKey, RoleCredentials>({
    keyId: (k) => JSON.stringify([k.region, k.roleArn, k.sessionName, k.tag]),
    refreshBeforeSeconds: roleRefreshBeforeSeconds,
    // No refresh-ahead: inside the last 5 minutes the entry is a miss and the login waits.
    minRemainingMs: roleRefreshBeforeSeconds * 1000,
    maxEntries: 10_000,
    ...(opts.clock === undefined ? {} : { clock: opts.clock }),
    observer: nullObserver,
    logger: opts.logger ?? silentLogger,
  });
  return {
    async get(region, req, callOpts = {}) {
      const key: RoleKey = { region, roleArn: req.roleArn, sessionName: req.sessionName, tag: req.dbGroups.join(':') };
      // Joined by concurrent logins: the call is bounded by the latest of their deadlines, read when it starts.
      const fetch = (_reason: FetchReason, deadlineMs: () => number): Promise<RoleCredentials> => opts.api.assumeRole(region, req, { ...callOpts, deadlineMs });
      const { value } = await cache.get(key, fetch, callOpts.deadlineMs === undefined ? undefined : deadlineNowMs(callOpts.deadlineMs));
      return value;
    },
    retainRoles(keep) {
      cache.retain((k) => keep(k.roleArn));
    },
    close() {
      cache.close();
    },
  };
}
