/** The only importer of @aws-sdk/client-redshift: DescribeClusters (endpoint) and GetClusterCredentials (docs/design/aws.md §3, §6). */
import { DescribeClustersCommand, GetClusterCredentialsCommand, RedshiftClient } from '@aws-sdk/client-redshift';
import { ClientPool, sdkClientConfig, sendOptions } from './aws-client-pool.js';
import { observeAwsCall, resourceArnFromError, type AwsCallOptions, type AwsCredentials } from './aws-errors.js';
import { AuthError, AuthErrorCode } from './errors.js';
import type { AuthObserver, DbCredentials, Logger } from './types.js';

/** A host and port to dial. */
export interface Endpoint {
  host: string;
  port: number;
}

/** Parameters of one GetClusterCredentials call (the rule's rendered values, never the client's). */
export interface ClusterCredentialsRequest {
  clusterId: string;
  dbUser: string;
  dbName: string;
  dbGroups: readonly string[];
  autoCreate: boolean;
  durationSeconds: number;
}

/** The provisioned-cluster API the Authenticator uses (fakeable). Throws AuthError. */
export interface RedshiftApi {
  describeClusterEndpoint(region: string, clusterId: string, opts?: AwsCallOptions): Promise<Endpoint>;
  getClusterCredentials(region: string, req: ClusterCredentialsRequest, awsCredentials?: AwsCredentials, opts?: AwsCallOptions): Promise<DbCredentials>;
}

/** Options of createRedshiftApi. */
export interface RedshiftApiOptions {
  logger: Logger;
  observer?: AuthObserver;
  /** Endpoint URL override (tests); otherwise the SDK reads AWS_ENDPOINT_URL_REDSHIFT / AWS_ENDPOINT_URL. */
  endpoint?: string;
  /** Credentials for calls made as the proxy itself (default: the SDK's default chain). */
  credentials?: AwsCredentials;
}

/** Builds the SDK-backed RedshiftApi: one client per (region, credentials), maxAttempts 1, 3 s / 5 s timeouts. */
export function createRedshiftApi(opts: RedshiftApiOptions): RedshiftApi & { destroy(): void } {
  const pool = new ClientPool((region, credentials) => new RedshiftClient(sdkClientConfig(region, opts.endpoint, credentials ?? opts.credentials)));
  const logger = opts.logger;

  return {
    async describeClusterEndpoint(region, clusterId, callOpts = {}) {
      const client = pool.get(region, undefined);
      const sendOpts = sendOptions(callOpts.deadlineMs);
      const out = await observeAwsCall(
        opts.observer,
        'DescribeClusters',
        'redshift:DescribeClusters',
        (err) => resourceArnFromError('redshift', region, err, `cluster:${clusterId}`),
        () => client.send(new DescribeClustersCommand({ ClusterIdentifier: clusterId }), sendOpts),
      );
      const cluster = out.Clusters?.[0];
      if (cluster === undefined) {
        throw new AuthError(AuthErrorCode.CredentialsFailed, `redshift:DescribeClusters on cluster ${clusterId} in ${region} returned no cluster`);
      }
      const host = cluster.Endpoint?.Address;
      const port = cluster.Endpoint?.Port;
      if (host === undefined || host === '' || port === undefined) {
        // Not fully created, or being modified: retryable (57P03), not a configuration error.
        throw new AuthError(
          AuthErrorCode.CredentialsUnavailable,
          `cluster ${clusterId} in ${region} has no endpoint yet (status ${cluster.ClusterStatus ?? 'unknown'})`,
        );
      }
      logger.debug({ event: 'cluster_endpoint', region, cluster: clusterId, host, port }, 'discovered cluster endpoint');
      return { host, port };
    },

    async getClusterCredentials(region, req, awsCredentials, callOpts = {}) {
      const client = pool.get(region, awsCredentials);
      const sendOpts = sendOptions(callOpts.deadlineMs);
      const out = await observeAwsCall(
        opts.observer,
        'GetClusterCredentials',
        'redshift:GetClusterCredentials',
        (err) => resourceArnFromError('redshift', region, err, `dbuser:${req.clusterId}/${req.dbUser}`),
        () =>
          client.send(
            new GetClusterCredentialsCommand({
              ClusterIdentifier: req.clusterId,
              DbUser: req.dbUser,
              DbName: req.dbName,
              DurationSeconds: req.durationSeconds,
              AutoCreate: req.autoCreate,
              ...(req.dbGroups.length > 0 ? { DbGroups: [...req.dbGroups].sort() } : {}),
            }),
            sendOpts,
          ),
      );
      if (out.DbUser === undefined || out.DbPassword === undefined || !(out.Expiration instanceof Date)) {
        throw new AuthError(AuthErrorCode.CredentialsFailed, `redshift:GetClusterCredentials on cluster ${req.clusterId} returned an incomplete answer`);
      }
      return { dbUser: out.DbUser, dbPassword: out.DbPassword, expiresAtMs: out.Expiration.getTime() };
    },

    destroy() {
      pool.destroy();
    },
  };
}
