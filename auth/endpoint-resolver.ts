/** Where each configured database lives: fixed host/port, or DescribeClusters / GetWorkgroup cached 5 minutes (docs/design/aws.md §6). */
import type { Retrier } from './backoff.js';
import { CredentialCache, type FetchReason } from './credential-cache.js';
import { withDeadline, type Deadline } from './deadline.js';
import { AuthError, AuthErrorCode } from './errors.js';
import type { Endpoint, RedshiftApi } from './redshift-minter.js';
import type { ServerlessApi } from './serverless-minter.js';
import { nullObserver, systemClock, type Clock, type DatabaseOptions, type Logger } from './types.js';

/** How long a discovered endpoint is reused. */
export const endpointTtlMs = 5 * 60_000;
/** Redshift's default port, for a fixed `host` without `port`. */
export const defaultRedshiftPort = 5439;

/** The AWS resource behind a `databases.<db>` entry. */
export interface TargetRef {
  kind: 'cluster' | 'workgroup';
  region: string;
  /** ClusterIdentifier or workgroup name. */
  name: string;
  /** `cluster:<region>:<id>` or `workgroup:<region>:<name>` (cache keys). */
  id: string;
}

/** The AWS target of a database entry (config guarantees exactly one of cluster / workgroup). */
export function targetRef(db: DatabaseOptions): TargetRef {
  if (db.workgroup !== undefined) return { kind: 'workgroup', region: db.region, name: db.workgroup, id: `workgroup:${db.region}:${db.workgroup}` };
  const name = db.cluster ?? '';
  return { kind: 'cluster', region: db.region, name, id: `cluster:${db.region}:${name}` };
}

/** Resolves and caches endpoints. */
export interface EndpointResolver {
  resolve(db: DatabaseOptions, deadlineMs: number): Promise<Endpoint>;
  /** Drops the cached endpoint of `db` (after an upstream connect failure). */
  forget(db: DatabaseOptions): void;
  /** Drops every cached endpoint (config reload). */
  clear(): void;
}

/** Options of createEndpointResolver. */
export interface EndpointResolverOptions {
  redshift: RedshiftApi;
  serverless: ServerlessApi;
  retry: Retrier;
  clock?: Clock;
  logger?: Logger;
}

type CachedEndpoint = Endpoint & { expiresAtMs: number };

/** Builds an EndpointResolver (single-flight per target, so a burst of cold logins makes one discovery call). */
export function createEndpointResolver(opts: EndpointResolverOptions): EndpointResolver {
  const cache = new CredentialCache<TargetRef, CachedEndpoint>({
    keyId: (t) => t.id,
    refreshBeforeSeconds: 0,
    minRemainingMs: 1,
    maxEntries: 10_000,
    // At most one entry per configured database, and reload clears them: no periodic purge needed.
    purgeIntervalMs: 0,
    observer: nullObserver,
    ...(opts.clock === undefined ? {} : { clock: opts.clock }),
    ...(opts.logger === undefined ? {} : { logger: opts.logger }),
  });
  const clock = opts.clock ?? systemClock;
  const nowMs = (): number => clock.nowMs();

  const discover = (t: TargetRef, deadlineMs: Deadline): Promise<Endpoint> =>
    t.kind === 'cluster'
      ? opts.redshift.describeClusterEndpoint(t.region, t.name, { deadlineMs })
      : opts.serverless.getWorkgroupEndpoint(t.region, t.name, undefined, { deadlineMs });

  return {
    async resolve(db, deadlineMs) {
      if (db.host !== undefined) return { host: db.host, port: db.port ?? defaultRedshiftPort };
      const t = targetRef(db);
      // Joiners share this call: it runs until the latest waiter's deadline; each caller gives up at its own.
      const fetch = async (_reason: FetchReason, sharedDeadlineMs: () => number): Promise<CachedEndpoint> => {
        const endpoint = await opts.retry(() => discover(t, sharedDeadlineMs), sharedDeadlineMs);
        return { ...endpoint, expiresAtMs: nowMs() + endpointTtlMs };
      };
      const shared = cache.get(t, fetch, deadlineMs);
      const timedOut = () => new AuthError(AuthErrorCode.CredentialsUnavailable, `endpoint discovery for ${t.id} did not finish before the login deadline`);
      const { value } = await withDeadline(shared, deadlineMs, clock, timedOut);
      return { host: value.host, port: value.port };
    },
    forget(db) {
      if (db.host === undefined) cache.evict(targetRef(db));
    },
    clear() {
      cache.clear();
    },
  };
}
