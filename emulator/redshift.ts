/** Redshift awsQuery operations: DescribeClusters, GetClusterCredentials, GetClusterCredentialsWithIAM. */
import { randomInt } from 'node:crypto';
import { partitionOf } from './iam-policy.js';
import { nameProblem } from './names.js';
import { callerDbUser, type PrincipalRecord } from './principals.js';
import { MissingGroupError, type UpstreamAdmin } from './upstream-admin.js';
import { isoSeconds, xmlDocument, xmlError, XmlNamespace, type EmulatorLogger, type Reply } from './xml.js';

/** Redshift API version. */
export const redshiftVersion = '2012-12-01';

/** A provisioned cluster the emulator knows; its endpoint is the upstream PostgreSQL. */
export interface EmulatorCluster {
  identifier: string;
  host: string;
  port: number;
  /** ClusterStatus (default 'available'). */
  status?: string;
  /** false: DescribeClusters shows no Endpoint (cluster still creating). Default true. */
  hasEndpoint?: boolean;
}

/** The verified caller of one request. */
export interface CallContext {
  principal: PrincipalRecord;
  region: string;
  nowMs: number;
  requestId: string;
  /** The caller's identity-based policy check: the AccessDenied message for the first denied (action, resource), else undefined. */
  authorize?: (checks: ReadonlyArray<readonly [action: string, resource: string]>) => string | undefined;
}

/** `arn:<caller's partition>:redshift:<region>:<caller's account>:<resource>`, as the emulator's resource ARNs. */
export function callerResourceArn(ctx: CallContext, service: string, resource: string): string {
  return `arn:${partitionOf(ctx.principal.arn)}:${service}:${ctx.region}:${ctx.principal.accountId}:${resource}`;
}

/** What the Redshift handlers need from the server. */
export interface RedshiftDeps {
  clusters: ReadonlyMap<string, EmulatorCluster>;
  admin: UpstreamAdmin | undefined;
  logger: EmulatorLogger;
  /** Passwords handed out per login role, when the emulator keeps valid passwords (EmulatorOptions.keepValidPasswords). */
  passwords?: Map<string, { password: string; validUntilMs: number }>;
}

/** Freshly minted temporary database credentials. */
export interface MintedCredentials {
  dbUser: string;
  dbPassword: string;
  expiration: Date;
  nextRefreshTime: Date;
}

const passwordAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A random 40-character alphanumeric password with upper, lower and digit. */
export function newDbPassword(): string {
  for (;;) {
    let out = '';
    for (let i = 0; i < 40; i++) out += passwordAlphabet[randomInt(passwordAlphabet.length)];
    if (/[A-Z]/.test(out) && /[a-z]/.test(out) && /\d/.test(out)) return out;
  }
}

/** An awsQuery error in the Redshift namespace. */
export function redshiftError(status: number, code: string, message: string, requestId: string): Reply {
  const type = status >= 500 ? 'Receiver' : 'Sender';
  return { status, contentType: 'text/xml', body: xmlError(XmlNamespace.redshift, code, message, requestId, type), outcome: code, headers: { 'x-amzn-requestid': requestId } };
}

function ok(root: string, result: Parameters<typeof xmlDocument>[2], requestId: string): Reply {
  const body = xmlDocument(`${root}Response`, XmlNamespace.redshift, { [`${root}Result`]: result, ResponseMetadata: { RequestId: requestId } });
  return { status: 200, contentType: 'text/xml', body, outcome: 'ok', headers: { 'x-amzn-requestid': requestId } };
}

/** Reads `DurationSeconds`-style integers: default when absent, error text when not 900..3600. */
export function parseDuration(text: string | undefined, name: string): number | string {
  if (text === undefined) return 900;
  const n = Number(text);
  if (!/^-?\d+$/.test(text) || n < 900 || n > 3600) return `${name} must be between 900 and 3600 seconds (got ${text})`;
  return n;
}

function listParam(params: Map<string, string>, prefix: string): string[] {
  const out: string[] = [];
  for (let n = 1; params.has(`${prefix}.${n}`); n++) out.push(params.get(`${prefix}.${n}`) ?? '');
  return out;
}

/** Mints credentials for the caller-derived user (`IAMR:`/`IAM:`) and applies the upstream effect. */
export async function mintCallerCredentials(ctx: CallContext, durationSeconds: number, admin: UpstreamAdmin | undefined, logger: EmulatorLogger): Promise<MintedCredentials | undefined> {
  const dbUser = callerDbUser(ctx.principal.arn);
  if (dbUser === undefined) return undefined;
  const nowSeconds = Math.floor(ctx.nowMs / 1000);
  const expiration = new Date((nowSeconds + durationSeconds) * 1000);
  // Matches the AWS example (docs/design/aws.md §2): next refresh 15 minutes before expiry, never in the past.
  const nextRefreshTime = new Date(Math.max(nowSeconds, nowSeconds + durationSeconds - 900) * 1000);
  const dbPassword = newDbPassword();
  if (admin !== undefined) {
    const skipped = await admin.issueCallerLogin({ loginUser: dbUser, password: dbPassword, validUntil: expiration, roles: ctx.principal.dbRoles ?? [] });
    if (skipped.length > 0) logger.warn({ dbUser, skippedRoles: skipped }, 'RedshiftDbRoles names roles that do not exist upstream; not granted');
  }
  return { dbUser, dbPassword, expiration, nextRefreshTime };
}

function describeClusters(params: Map<string, string>, deps: RedshiftDeps, ctx: CallContext): Reply {
  const id = params.get('ClusterIdentifier');
  const denied = ctx.authorize?.([['redshift:DescribeClusters', callerResourceArn(ctx, 'redshift', `cluster:${id ?? '*'}`)]]);
  if (denied !== undefined) return redshiftError(403, 'AccessDenied', denied, ctx.requestId);
  const selected = id === undefined ? [...deps.clusters.values()] : [deps.clusters.get(id)].filter((c) => c !== undefined);
  if (id !== undefined && selected.length === 0) return redshiftError(404, 'ClusterNotFound', `Cluster ${id} not found.`, ctx.requestId);
  return ok('DescribeClusters', {
    Clusters: selected.map((c) => ({
      Cluster: {
        ClusterIdentifier: c.identifier,
        NodeType: 'ra3.xlplus',
        ClusterStatus: c.status ?? 'available',
        ClusterAvailabilityStatus: (c.status ?? 'available') === 'available' ? 'Available' : 'Unavailable',
        MasterUsername: 'awsuser',
        DBName: 'dev',
        Endpoint: c.hasEndpoint === false ? undefined : { Address: c.host, Port: c.port },
        NumberOfNodes: 1,
        PubliclyAccessible: 'false',
        Encrypted: 'true',
      },
    })),
  }, ctx.requestId);
}

async function getClusterCredentials(params: Map<string, string>, deps: RedshiftDeps, ctx: CallContext): Promise<Reply> {
  const invalid = (m: string) => redshiftError(400, 'InvalidParameterValue', m, ctx.requestId);
  const dbUser = params.get('DbUser');
  if (dbUser === undefined) return invalid('DbUser is required');
  const userProblem = nameProblem('DbUser', dbUser);
  if (userProblem !== undefined) return invalid(userProblem);
  const dbName = params.get('DbName');
  const dbNameProblem = dbName === undefined ? undefined : nameProblem('DbName', dbName);
  if (dbNameProblem !== undefined) return invalid(dbNameProblem);
  const groups = listParam(params, 'DbGroups.DbGroup');
  for (const g of groups) {
    const problem = nameProblem('DbGroup', g);
    if (problem !== undefined) return invalid(problem);
  }
  const duration = parseDuration(params.get('DurationSeconds'), 'DurationSeconds');
  if (typeof duration === 'string') return invalid(duration);
  const autoCreateText = params.get('AutoCreate') ?? 'false';
  if (autoCreateText !== 'true' && autoCreateText !== 'false') return invalid(`AutoCreate must be true or false (got ${autoCreateText})`);
  const autoCreate = autoCreateText === 'true';
  const clusterId = params.get('ClusterIdentifier');
  if (clusterId === undefined) {
    if (params.has('CustomDomainName')) return redshiftError(400, 'UnsupportedOperation', 'Custom domain names are not supported by the emulator.', ctx.requestId);
    return invalid('ClusterIdentifier or CustomDomainName is required');
  }
  const allowed = ctx.principal.allowedDbUsers;
  if (allowed !== undefined && !allowed.includes(dbUser)) {
    return redshiftError(403, 'AccessDenied',
      `User: ${ctx.principal.arn} is not authorized to perform: redshift:GetClusterCredentials on resource: arn:aws:redshift:${ctx.region}:${ctx.principal.accountId}:dbuser:${clusterId}/${dbUser}`,
      ctx.requestId);
  }
  const dbUserArn = callerResourceArn(ctx, 'redshift', `dbuser:${clusterId}/${dbUser}`);
  const denied = ctx.authorize?.([
    ['redshift:GetClusterCredentials', dbUserArn],
    ...(dbName === undefined ? [] : [['redshift:GetClusterCredentials', callerResourceArn(ctx, 'redshift', `dbname:${clusterId}/${dbName}`)] as const]),
    ...(autoCreate ? [['redshift:CreateClusterUser', dbUserArn] as const] : []),
    ...groups.map((g) => ['redshift:JoinGroup', callerResourceArn(ctx, 'redshift', `dbgroup:${clusterId}/${g}`)] as const),
  ]);
  if (denied !== undefined) return redshiftError(403, 'AccessDenied', denied, ctx.requestId);
  if (!deps.clusters.has(clusterId)) return redshiftError(404, 'ClusterNotFound', `Cluster ${clusterId} not found.`, ctx.requestId);
  const loginUser = `${autoCreate ? 'IAMA' : 'IAM'}:${dbUser}`;
  const expiration = new Date((Math.floor(ctx.nowMs / 1000) + duration) * 1000);
  const kept = deps.passwords?.get(loginUser);
  const isKept = kept !== undefined && kept.validUntilMs - ctx.nowMs > 60_000;
  const password = isKept ? kept.password : newDbPassword();
  // A kept password must not expire earlier than what this call promises, nor earlier than it already does.
  const validUntil = isKept ? new Date(Math.max(kept.validUntilMs, expiration.getTime())) : expiration;
  if (deps.admin !== undefined) {
    try {
      const result = await deps.admin.issueDbUserLogin({ baseUser: dbUser, loginUser, password, validUntil, autoCreate, groups });
      if (result === 'base_missing') deps.logger.info({ dbUser, cluster: clusterId }, 'database user does not exist and AutoCreate is false; no login role created');
    } catch (err) {
      if (err instanceof MissingGroupError) return invalid(`Database group ${err.group} does not exist.`);
      throw err;
    }
  }
  deps.passwords?.set(loginUser, { password, validUntilMs: validUntil.getTime() });
  return ok('GetClusterCredentials', { DbUser: loginUser, DbPassword: password, Expiration: isoSeconds(expiration) }, ctx.requestId);
}

async function getClusterCredentialsWithIam(params: Map<string, string>, deps: RedshiftDeps, ctx: CallContext): Promise<Reply> {
  const invalid = (m: string) => redshiftError(400, 'InvalidParameterValue', m, ctx.requestId);
  const dbName = params.get('DbName');
  const dbNameProblem = dbName === undefined ? undefined : nameProblem('DbName', dbName);
  if (dbNameProblem !== undefined) return invalid(dbNameProblem);
  const duration = parseDuration(params.get('DurationSeconds'), 'DurationSeconds');
  if (typeof duration === 'string') return invalid(duration);
  const clusterId = params.get('ClusterIdentifier');
  if (clusterId === undefined) {
    if (params.has('CustomDomainName')) return redshiftError(400, 'UnsupportedOperation', 'Custom domain names are not supported by the emulator.', ctx.requestId);
    return invalid('ClusterIdentifier or CustomDomainName is required');
  }
  if (clusterId.length < 1 || clusterId.length > 63) return invalid('ClusterIdentifier must be 1 to 63 characters');
  if (!deps.clusters.has(clusterId)) return redshiftError(404, 'ClusterNotFound', `Cluster ${clusterId} not found.`, ctx.requestId);
  const minted = await mintCallerCredentials(ctx, duration, deps.admin, deps.logger);
  if (minted === undefined) {
    return redshiftError(403, 'AccessDenied', `User: ${ctx.principal.arn} is not an IAM user or assumed role and cannot call redshift:GetClusterCredentialsWithIAM`, ctx.requestId);
  }
  return ok('GetClusterCredentialsWithIAM', {
    DbUser: minted.dbUser,
    DbPassword: minted.dbPassword,
    Expiration: isoSeconds(minted.expiration),
    NextRefreshTime: isoSeconds(minted.nextRefreshTime),
  }, ctx.requestId);
}

/** Redshift actions the emulator implements, keyed by `Action`. */
export const redshiftActions = ['DescribeClusters', 'GetClusterCredentials', 'GetClusterCredentialsWithIAM'] as const;
export type RedshiftAction = (typeof redshiftActions)[number];

/** True when `action` is an implemented Redshift action. */
export function isRedshiftAction(action: string | undefined): action is RedshiftAction {
  return (redshiftActions as readonly string[]).includes(action ?? '');
}

/** Runs one verified Redshift awsQuery call. */
export async function handleRedshift(action: RedshiftAction, params: Map<string, string>, deps: RedshiftDeps, ctx: CallContext): Promise<Reply> {
  if (params.get('Version') !== redshiftVersion) {
    return redshiftError(400, 'InvalidParameterValue', `Unsupported Version ${params.get('Version') ?? '(none)'}; expected ${redshiftVersion}`, ctx.requestId);
  }
  switch (action) {
    case 'DescribeClusters':
      return describeClusters(params, deps, ctx);
    case 'GetClusterCredentials':
      return getClusterCredentials(params, deps, ctx);
    case 'GetClusterCredentialsWithIAM':
      return getClusterCredentialsWithIam(params, deps, ctx);
  }
}
