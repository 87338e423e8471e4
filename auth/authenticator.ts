/** The Authenticator: verify token → map identity → resolve endpoint → cached temporary credentials (docs/design/surface.md §1, §3). */
import { admitLogin } from './admission.js';
import { createRoleCredentialSource, roleSessionName, type AssumeRoleApi, type RoleCredentials } from './assume-role.js';
import { createRetrier, type BackoffOptions } from './backoff.js';
import { CredentialCache, credentialKeyId, type CredentialKey, type FetchReason } from './credential-cache.js';
import { withDeadline, type Deadline } from './deadline.js';
import { createEndpointResolver, targetRef, type TargetRef } from './endpoint-resolver.js';
import { AuthError, AuthErrorCode } from './errors.js';
import { createRedshiftApi, type RedshiftApi } from './redshift-minter.js';
import { createServerlessApi, type ServerlessApi } from './serverless-minter.js';
import {
  nullObserver,
  systemClock,
  type AdmittedLogin,
  type AuthOptions,
  type AuthRequest,
  type AuthResult,
  type Authenticator,
  type AuthObserver,
  type Clock,
  type DatabaseOptions,
  type DbCredentials,
  type Identity,
  type IdentityMapper,
  type Logger,
  type MappedLogin,
  type RuleOptions,
  type TokenVerifier,
  type UpstreamTarget,
} from './types.js';

/** Dependencies of createAuthenticator; the AWS APIs default to the SDK-backed ones. */
export interface AuthenticatorOptions {
  config: AuthOptions;
  verifier: TokenVerifier;
  mapper: IdentityMapper;
  redshift?: RedshiftApi;
  serverless?: ServerlessApi;
  assumeRole?: AssumeRoleApi;
  clock?: Clock;
  logger: Logger;
  observer?: AuthObserver;
  /** Retry tuning (tests inject random and sleep). */
  backoff?: BackoffOptions;
}

/** An Authenticator whose config and rules can be swapped at runtime. */
export interface ReloadableAuthenticator extends Authenticator {
  /** Installs a new config and mapper; drops cached credentials no rule can produce any more (docs/design/aws.md §8). */
  reload(config: AuthOptions, mapper: IdentityMapper): void;
  /** Stops the caches' periodic purge timers (shutdown). */
  close(): void;
}

/** True when `startupUser` names the database user GetCredentials returned, with or without its IAMR:/IAM: prefix. */
export function matchesReturnedUser(startupUser: string, returnedUser: string): boolean {
  return startupUser === returnedUser || startupUser === returnedUser.replace(/^(IAMR|IAM):/, '');
}

/**
 * The cache key of one mapped login on `db` (docs/design/aws.md §8). With assumeRole, `sessionName` (the AssumeRole
 * RoleSessionName of the person) is part of the key, so each person's call shows in CloudTrail (docs/design/surface.md §3).
 */
export function credentialKeyFor(login: MappedLogin, db: DatabaseOptions, durationSeconds: number, sessionName: string): CredentialKey {
  const t = targetRef(db);
  const groups = [...login.dbGroups].sort();
  const roleSessionName = login.assumeRole === undefined ? '' : sessionName;
  if (t.kind === 'workgroup') {
    return {
      target: t.id,
      dbUser: '',
      dbName: db.dbName,
      // Groups reach AWS only as the AssumeRole session tag.
      dbGroups: login.assumeRole === undefined ? [] : groups,
      autoCreate: false,
      durationSeconds,
      assumeRole: login.assumeRole ?? '',
      roleSessionName,
    };
  }
  return { target: t.id, dbUser: login.dbUser ?? '', dbName: db.dbName, dbGroups: groups, autoCreate: login.autoCreate, durationSeconds, assumeRole: login.assumeRole ?? '', roleSessionName };
}

function sameGroups(a: readonly string[], b: readonly string[]): boolean {
  const sa = [...a].sort();
  const sb = [...b].sort();
  return sa.length === sb.length && sa.every((g, i) => g === sb[i]);
}

function dbUserCanRender(template: string | undefined, dbUser: string): boolean {
  if (template === undefined) return true;
  if (!template.includes('{')) return template === dbUser;
  const pattern = template.split(/\{[A-Za-z]+\}/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.+');
  return new RegExp(`^${pattern}$`).test(dbUser);
}

function ruleCanProduce(config: AuthOptions, rule: RuleOptions, key: CredentialKey): boolean {
  if ((rule.assumeRole ?? '') !== key.assumeRole) return false;
  const names = rule.databases.includes('*') ? Object.keys(config.databases) : rule.databases;
  return names.some((name) => {
    const db = config.databases[name];
    if (db === undefined || targetRef(db).id !== key.target || db.dbName !== key.dbName) return false;
    const login: MappedLogin = {
      ruleIndex: 0,
      database: name,
      dbUser: key.dbUser,
      dbGroups: rule.dbGroups,
      autoCreate: rule.autoCreate,
      ...(rule.assumeRole === undefined ? {} : { assumeRole: rule.assumeRole }),
    };
    const expected = credentialKeyFor(login, db, key.durationSeconds, key.roleSessionName);
    return expected.autoCreate === key.autoCreate && sameGroups(expected.dbGroups, key.dbGroups) && (targetRef(db).kind === 'workgroup' || dbUserCanRender(rule.dbUser, key.dbUser));
  });
}

/** True when some rule of `config` can still produce `key` (reload eviction). */
export function isKeyProducible(config: AuthOptions, key: CredentialKey): boolean {
  return key.durationSeconds === config.credentials.durationSeconds && config.rules.some((rule) => ruleCanProduce(config, rule, key));
}

/** Where a login on `db` goes, once its endpoint is known. */
function upstreamTargetOf(database: string, db: DatabaseOptions, endpoint: { host: string; port: number }): UpstreamTarget {
  return {
    database,
    host: endpoint.host,
    port: endpoint.port,
    dbName: db.dbName,
    engine: db.engine,
    tlsMode: db.upstreamTls.mode,
    ...(db.upstreamTls.caFile === undefined ? {} : { caFile: db.upstreamTls.caFile }),
  };
}

/** Builds the Authenticator from its ports. */
export function createAuthenticator(opts: AuthenticatorOptions): ReloadableAuthenticator {
  const clock = opts.clock ?? systemClock;
  const observer = opts.observer ?? nullObserver;
  const logger = opts.logger;
  const redshift = opts.redshift ?? createRedshiftApi({ logger, observer });
  const serverless = opts.serverless ?? createServerlessApi({ logger, observer });
  const retry = createRetrier({
    clock,
    ...opts.backoff,
    onRetry: ({ attempt, delayMs, err }) => {
      logger.warn({ event: 'aws_retry', attempt, delayMs, code: err instanceof AuthError ? err.code : undefined, message: err instanceof Error ? err.message : String(err) }, 'AWS call failed; retrying');
      opts.backoff?.onRetry?.({ attempt, delayMs, err });
    },
  });
  const roles = opts.assumeRole === undefined ? undefined : createRoleCredentialSource({ api: opts.assumeRole, clock, logger });
  const resolver = createEndpointResolver({ redshift, serverless, retry, clock, logger });
  let state = { config: opts.config, mapper: opts.mapper };
  const cache = new CredentialCache<CredentialKey, DbCredentials>({
    keyId: credentialKeyId,
    refreshBeforeSeconds: state.config.credentials.refreshBeforeSeconds,
    clock,
    observer,
    logger,
  });

  const roleCredentials = async (t: TargetRef, key: CredentialKey, login: MappedLogin, deadlineMs: Deadline): Promise<RoleCredentials | undefined> => {
    if (login.assumeRole === undefined) return undefined;
    if (roles === undefined) throw new AuthError(AuthErrorCode.CredentialsFailed, `rule ${login.ruleIndex} names assumeRole but no AssumeRole API is configured`);
    return roles.get(t.region, { roleArn: login.assumeRole, sessionName: key.roleSessionName, dbGroups: [...login.dbGroups].sort() }, { deadlineMs });
  };

  // A miss is shared by every login on this key: it runs until the latest waiter's deadline (the cache tracks it).
  const mint = (t: TargetRef, key: CredentialKey, login: MappedLogin) => (_reason: FetchReason, deadlineMs: () => number): Promise<DbCredentials> =>
    retry(async () => {
      const asRole = await roleCredentials(t, key, login, deadlineMs);
      if (t.kind === 'workgroup') {
        return serverless.getCredentials(t.region, { workgroup: t.name, dbName: key.dbName, durationSeconds: key.durationSeconds }, asRole, { deadlineMs });
      }
      const req = { clusterId: t.name, dbUser: key.dbUser, dbName: key.dbName, dbGroups: key.dbGroups, autoCreate: key.autoCreate, durationSeconds: key.durationSeconds };
      return redshift.getClusterCredentials(t.region, req, asRole, { deadlineMs });
    }, deadlineMs);

  return {
    async authenticate(req: AuthRequest): Promise<AuthResult> {
      const startedMs = clock.nowMs();
      const identity = await opts.verifier.verify(req.password, req.deadlineMs);
      req.onTokenVerified?.();
      const verifiedMs = clock.nowMs();
      const { config, mapper } = state;
      const { login, db } = admitLogin(mapper, config.databases, identity, req.user, req.database);
      const t = targetRef(db);
      const key = credentialKeyFor(login, db, config.credentials.durationSeconds, roleSessionName(identity));

      const timedOut = () => new AuthError(AuthErrorCode.CredentialsUnavailable, `credentials for ${t.id} were not ready before the login deadline`);
      const resolving = resolver.resolve(db, req.deadlineMs);
      if (req.onAdmitted !== undefined) {
        const target = upstreamTargetOf(login.database, db, await resolving);
        const admitted: AdmittedLogin = {
          identity,
          target,
          ...(login.dbUser === undefined ? {} : { dbUser: login.dbUser }),
          dbGroups: [...login.dbGroups].sort(),
          ...(login.assumeRole === undefined ? {} : { assumedRole: { roleArn: login.assumeRole, sessionName: key.roleSessionName } }),
        };
        if (await req.onAdmitted(admitted)) {
          return {
            upstreamUser: '',
            upstreamPassword: '',
            target,
            expiresAtMs: 0,
            identity,
            timings: { stsMs: verifiedMs - startedMs, mintMs: 0 },
            invalidate: () => false,
            forgetEndpoint: () => resolver.forget(db),
            autoCreate: login.autoCreate,
            isCredentialless: true,
          };
        }
      }
      const [endpoint, cached] = await Promise.all([resolving, withDeadline(cache.get(key, mint(t, key, login), req.deadlineMs), req.deadlineMs, clock, timedOut)]);
      const creds = cached.value;
      const isFromCache = cached.result !== 'miss';
      if (t.kind === 'workgroup' && !matchesReturnedUser(req.user, creds.dbUser)) {
        throw new AuthError(AuthErrorCode.NoRule, `startup user "${req.user}" is not the workgroup's database user "${creds.dbUser}" (rule ${login.ruleIndex}, database "${login.database}")`);
      }
      const mintedMs = clock.nowMs();
      logger.debug(
        { event: 'credentials', connectionId: req.connectionId, target: t.id, dbUser: creds.dbUser, cache: cached.result, expiresAtMs: creds.expiresAtMs },
        'upstream credentials ready',
      );
      return {
        upstreamUser: creds.dbUser,
        upstreamPassword: creds.dbPassword,
        target: upstreamTargetOf(login.database, db, endpoint),
        expiresAtMs: creds.expiresAtMs,
        identity,
        timings: { stsMs: verifiedMs - startedMs, mintMs: mintedMs - verifiedMs },
        invalidate() {
          // Only this password: a concurrent refresh may already have stored a newer one.
          cache.evict(key, (v) => v.dbPassword === creds.dbPassword);
          return isFromCache;
        },
        forgetEndpoint() {
          resolver.forget(db);
        },
        autoCreate: login.autoCreate,
        dbGroups: login.dbGroups,
      };
    },

    reload(config, mapper) {
      state = { config, mapper };
      cache.setRefreshBeforeSeconds(config.credentials.refreshBeforeSeconds);
      const dropped = cache.retain((key) => isKeyProducible(config, key));
      roles?.retainRoles((role) => config.rules.some((r) => r.assumeRole === role));
      resolver.clear();
      logger.info({ event: 'credential_cache_reload', dropped, kept: cache.size }, 'credential cache pruned after config reload');
    },

    close() {
      cache.close();
      roles?.close();
    },
  };
}
