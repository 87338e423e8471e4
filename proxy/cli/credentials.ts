/** `rsproxy credentials --cluster C | --workgroup W …`: temporary database credentials straight from AWS (no proxy), cached on disk. */
import { credentialsJson, envExports, lengthWarnings, type ConnectionParams, type CredentialsOutput } from './conn-strings.js';
import { CredentialsDiskCache, defaultCacheDir, diskCacheKey, type CachedCredentials, type DiskCacheKeyParts } from './credentials-disk-cache.js';
import { RuntimeError, UsageError } from '../errors/exit-codes.js';
import { regionOf, sslModeOf, sslRootCertOf } from './client-options.js';
import { specOf } from './command-specs.js';
import { isSet, listValue, numberValue, parseCommand, stringValue, type ParsedArgs } from './options.js';
import { explainAwsFailure, type CredentialsTarget } from './credentials-errors.js';
import { formatConnection, jdbcDriverOf, UrlFormat } from './url.js';

/** Output formats of `rsproxy credentials`. */
export const CredentialsFormat = { Json: 'json', Env: 'env', Jdbc: 'jdbc', Odbc: 'odbc', Libpq: 'libpq' } as const;
export type CredentialsFormat = (typeof CredentialsFormat)[keyof typeof CredentialsFormat];

const dbNamePattern = /^[a-z][a-z0-9_+.@-]{0,63}$/;

/** The parsed request of one `rsproxy credentials` invocation. */
export interface CredentialsRequest extends CredentialsTarget {
  durationSeconds?: number;
  profile?: string;
}

/**
 * The AWS credential source for the cache key (docs/design/aws.md §8): the SDK's default chain uses a profile
 * when one is named (flag or AWS_PROFILE) and ignores the AWS_ACCESS_KEY_ID pair then.
 */
export function credentialSourceOf(profile: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const named = profile ?? env['AWS_PROFILE'];
  if (named !== undefined && named !== '') return `profile:${named}`;
  const akid = env['AWS_ACCESS_KEY_ID'];
  if (akid !== undefined && akid !== '') return `akid:${akid}`;
  return 'chain:default';
}

/** Validates the flags into a request (usage errors exit 1). */
export function parseRequest(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): CredentialsRequest {
  const cluster = stringValue(args, 'cluster');
  const workgroup = stringValue(args, 'workgroup');
  if ((cluster === undefined) === (workgroup === undefined)) throw new UsageError('exactly one of --cluster or --workgroup is required');
  const dbName = stringValue(args, 'dbname');
  if (dbName === undefined) throw new UsageError('--dbname is required');
  if (!dbNamePattern.test(dbName)) throw new UsageError(`--dbname: lower-case letters, digits and _+.@-, starting with a letter, at most 64 (got "${dbName.slice(0, 70)}")`);
  const dbGroups = listValue(args, 'db-groups');
  for (const g of dbGroups) if (!dbNamePattern.test(g)) throw new UsageError(`--db-groups: "${g.slice(0, 70)}" is not a valid group name (lower-case)`);
  const autoCreate = isSet(args, 'auto-create');
  const dbUser = stringValue(args, 'db-user');
  const region = regionOf(args, env);
  const durationSeconds = numberValue(args, 'duration-seconds');
  const profile = stringValue(args, 'profile');
  const common = { region, dbName, dbGroups, autoCreate, ...(durationSeconds === undefined ? {} : { durationSeconds }), ...(profile === undefined ? {} : { profile }) };
  if (workgroup !== undefined) {
    // Serverless GetCredentials derives the user from the caller and takes no groups.
    if (dbUser !== undefined || dbGroups.length > 0 || autoCreate) {
      throw new UsageError('--db-user, --db-groups and --auto-create do not apply to --workgroup (Serverless derives the database user from your AWS identity)');
    }
    return { kind: 'workgroup', id: workgroup, ...common };
  }
  if (dbUser === undefined) throw new UsageError('--db-user is required with --cluster');
  if (!/^[A-Za-z][A-Za-z0-9_+.@-]{0,63}$/.test(dbUser)) throw new UsageError(`--db-user: letters, digits and _+.@-, starting with a letter, at most 64 (got "${dbUser.slice(0, 70)}")`);
  return { kind: 'cluster', id: cluster ?? '', dbUser, ...common };
}

/** The disk-cache key parts of a request. */
export function keyPartsOf(req: CredentialsRequest, env: NodeJS.ProcessEnv = process.env): DiskCacheKeyParts {
  return {
    target: { kind: req.kind, id: req.id },
    region: req.region,
    ...(req.dbUser === undefined ? {} : { dbUser: req.dbUser }),
    dbName: req.dbName,
    dbGroups: req.dbGroups,
    autoCreate: req.autoCreate,
    ...(req.durationSeconds === undefined ? {} : { durationSeconds: req.durationSeconds }),
    credentialSource: credentialSourceOf(req.profile, env),
  };
}

/** Calls AWS for one request: endpoint discovery, then credentials (both through the auth/ minters). */
export async function fetchCredentials(req: CredentialsRequest): Promise<CachedCredentials> {
  const { silentLogger } = await import('../../auth/types.js');
  const durationSeconds = req.durationSeconds ?? 900;
  if (req.kind === 'cluster') {
    const { createRedshiftApi } = await import('../../auth/redshift-minter.js');
    const api = createRedshiftApi({ logger: silentLogger });
    try {
      const endpoint = await api.describeClusterEndpoint(req.region, req.id);
      const c = await api.getClusterCredentials(req.region, {
        clusterId: req.id,
        dbUser: req.dbUser ?? '',
        dbName: req.dbName,
        dbGroups: req.dbGroups,
        autoCreate: req.autoCreate,
        durationSeconds,
      });
      return { ...c, host: endpoint.host, port: endpoint.port, dbName: req.dbName };
    } finally {
      api.destroy();
    }
  }
  const { createServerlessApi } = await import('../../auth/serverless-minter.js');
  const api = createServerlessApi({ logger: silentLogger });
  try {
    const endpoint = await api.getWorkgroupEndpoint(req.region, req.id);
    const c = await api.getCredentials(req.region, { workgroup: req.id, dbName: req.dbName, durationSeconds });
    return { ...c, host: endpoint.host, port: endpoint.port, dbName: req.dbName };
  } finally {
    api.destroy();
  }
}

/** The text printed for `format`. */
export function renderCredentials(format: CredentialsFormat, c: CredentialsOutput, tls: Pick<ConnectionParams, 'sslMode' | 'sslRootCert'>, jdbcDriver = jdbcDriverOf(undefined)): string {
  if (format === CredentialsFormat.Json) return credentialsJson(c);
  const p: ConnectionParams = { host: c.host, port: c.port, dbName: c.dbName, user: c.dbUser, password: c.dbPassword, ...tls };
  if (format === CredentialsFormat.Env) return envExports(p);
  return `${formatConnection(format === CredentialsFormat.Jdbc ? UrlFormat.Jdbc : format === CredentialsFormat.Odbc ? UrlFormat.Odbc : UrlFormat.Libpq, p, jdbcDriver)}\n`;
}

/** Runs `rsproxy credentials`. */
export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(specOf('credentials'), argv);
  const format = stringValue(args, 'format') ?? CredentialsFormat.Json;
  const jdbcDriver = jdbcDriverOf(stringValue(args, 'driver'));
  const tls = { sslMode: sslModeOf(args), ...sslRootCertOf(args) };
  const req = parseRequest(args);
  // The minters use the SDK's default chain, which reads AWS_PROFILE when it resolves credentials.
  if (req.profile !== undefined) process.env['AWS_PROFILE'] = req.profile;

  const cache = new CredentialsDiskCache({ dir: defaultCacheDir() });
  let entry: CachedCredentials;
  try {
    entry = (await cache.getOrFetch(diskCacheKey(keyPartsOf(req)), () => fetchCredentials(req))).entry;
  } catch (err) {
    throw new RuntimeError(explainAwsFailure(err, req), { cause: err });
  }
  for (const w of lengthWarnings(entry.dbPassword, format)) process.stderr.write(`rsproxy credentials: warning: ${w}\n`);
  process.stdout.write(renderCredentials(format as CredentialsFormat, entry, tls, jdbcDriver));
  return 0;
}
