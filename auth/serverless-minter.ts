/** The only importer of @aws-sdk/client-redshift-serverless: GetWorkgroup (endpoint) and GetCredentials (docs/design/aws.md §5). */
import { GetCredentialsCommand, GetWorkgroupCommand, RedshiftServerlessClient } from '@aws-sdk/client-redshift-serverless';
import { ClientPool, sdkClientConfig, sendOptions } from './aws-client-pool.js';
import { observeAwsCall, resourceArnFromError, type AwsCallOptions, type AwsCredentials } from './aws-errors.js';
import { AuthError, AuthErrorCode } from './errors.js';
import type { Endpoint } from './redshift-minter.js';
import type { AuthObserver, DbCredentials, Logger } from './types.js';

/** Parameters of one GetCredentials call. AWS derives the database user from the caller. */
export interface WorkgroupCredentialsRequest {
  workgroup: string;
  dbName: string;
  durationSeconds: number;
}

/** The Serverless API the Authenticator uses (fakeable). Throws AuthError. */
export interface ServerlessApi {
  getWorkgroupEndpoint(region: string, workgroup: string, awsCredentials?: AwsCredentials, opts?: AwsCallOptions): Promise<Endpoint>;
  getCredentials(region: string, req: WorkgroupCredentialsRequest, awsCredentials?: AwsCredentials, opts?: AwsCallOptions): Promise<DbCredentials>;
}

/** Options of createServerlessApi. */
export interface ServerlessApiOptions {
  logger: Logger;
  observer?: AuthObserver;
  /** Endpoint URL override (tests); otherwise the SDK reads AWS_ENDPOINT_URL_REDSHIFT_SERVERLESS / AWS_ENDPOINT_URL. */
  endpoint?: string;
  /** Credentials for calls made as the proxy itself (default: the SDK's default chain). */
  credentials?: AwsCredentials;
}

// unverified (docs/design/aws.md §7): the real resource ARN uses the workgroup id; the name is what operators know.
function workgroupArn(region: string, err: unknown, workgroup: string): string {
  return resourceArnFromError('redshift-serverless', region, err, `workgroup/${workgroup}`);
}

/** Builds the SDK-backed ServerlessApi: one client per (region, credentials), maxAttempts 1, 3 s / 5 s timeouts. */
export function createServerlessApi(opts: ServerlessApiOptions): ServerlessApi & { destroy(): void } {
  const pool = new ClientPool((region, credentials) => new RedshiftServerlessClient(sdkClientConfig(region, opts.endpoint, credentials ?? opts.credentials)));

  return {
    async getWorkgroupEndpoint(region, workgroup, awsCredentials, callOpts = {}) {
      const client = pool.get(region, awsCredentials);
      const sendOpts = sendOptions(callOpts.deadlineMs);
      const out = await observeAwsCall(
        opts.observer,
        'GetWorkgroup',
        'redshift-serverless:GetWorkgroup',
        (err) => workgroupArn(region, err, workgroup),
        () => client.send(new GetWorkgroupCommand({ workgroupName: workgroup }), sendOpts),
      );
      const host = out.workgroup?.endpoint?.address;
      const port = out.workgroup?.endpoint?.port;
      if (host === undefined || host === '' || port === undefined) {
        throw new AuthError(
          AuthErrorCode.CredentialsUnavailable,
          `workgroup ${workgroup} in ${region} has no endpoint yet (status ${out.workgroup?.status ?? 'unknown'})`,
        );
      }
      opts.logger.debug({ event: 'workgroup_endpoint', region, workgroup, host, port }, 'discovered workgroup endpoint');
      return { host, port };
    },

    async getCredentials(region, req, awsCredentials, callOpts = {}) {
      const client = pool.get(region, awsCredentials);
      const sendOpts = sendOptions(callOpts.deadlineMs);
      const out = await observeAwsCall(
        opts.observer,
        'GetCredentials',
        'redshift-serverless:GetCredentials',
        (err) => workgroupArn(region, err, req.workgroup),
        () =>
          client.send(
            new GetCredentialsCommand({ workgroupName: req.workgroup, dbName: req.dbName, durationSeconds: req.durationSeconds }),
            sendOpts,
          ),
      );
      // The SDK turns the epoch-seconds `expiration` into a Date.
      if (out.dbUser === undefined || out.dbPassword === undefined || !(out.expiration instanceof Date)) {
        throw new AuthError(AuthErrorCode.CredentialsFailed, `redshift-serverless:GetCredentials on workgroup ${req.workgroup} returned an incomplete answer`);
      }
      return { dbUser: out.dbUser, dbPassword: out.dbPassword, expiresAtMs: out.expiration.getTime() };
    },

    destroy() {
      pool.destroy();
    },
  };
}

/** Looks up a workgroup's id (its ARN segment) with GetWorkgroup, for `rsproxy policy --resolve`. */
export function createWorkgroupIdLookup(opts: ServerlessApiOptions): { workgroupId(region: string, workgroup: string, callOpts?: AwsCallOptions): Promise<string>; destroy(): void } {
  const pool = new ClientPool((region) => new RedshiftServerlessClient(sdkClientConfig(region, opts.endpoint, opts.credentials)));
  return {
    async workgroupId(region, workgroup, callOpts = {}) {
      const client = pool.get(region, undefined);
      const out = await observeAwsCall(
        opts.observer,
        'GetWorkgroup',
        'redshift-serverless:GetWorkgroup',
        (err) => workgroupArn(region, err, workgroup),
        () => client.send(new GetWorkgroupCommand({ workgroupName: workgroup }), sendOptions(callOpts.deadlineMs)),
      );
      const id = out.workgroup?.workgroupId;
      if (id === undefined || id === '') throw new AuthError(AuthErrorCode.CredentialsFailed, `GetWorkgroup for ${workgroup} in ${region} returned no workgroupId`);
      return id;
    },
    destroy() {
      pool.destroy();
    },
  };
}
