/** Admin connection to the upstream PostgreSQL: the real effect of minted credentials (roles, memberships). */
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';

/** What GetClusterCredentials asks the upstream to do. */
export interface DbUserLoginRequest {
  /** The database user named in the call, e.g. `alice`. */
  baseUser: string;
  /** The returned, prefixed user, e.g. `IAMA:alice`; the login role's exact name. */
  loginUser: string;
  password: string;
  validUntil: Date;
  autoCreate: boolean;
  /** Groups to join; memberships become exactly baseUser + these. */
  groups: readonly string[];
}

/** What GetClusterCredentialsWithIAM / GetCredentials ask the upstream to do. */
export interface CallerLoginRequest {
  /** `IAMR:<role>` or `IAM:<user>`. */
  loginUser: string;
  password: string;
  validUntil: Date;
  /** Database roles from the `RedshiftDbRoles` session tag; memberships become exactly these (existing ones). */
  roles: readonly string[];
}

/** Outcome of a DbUser login: `base_missing` when AutoCreate=false and the user does not exist (no login role). */
export type DbUserLoginResult = 'issued' | 'base_missing';

/** Port for the upstream effect; tests may pass a fake. */
export interface UpstreamAdmin {
  /** Creates/alters the login role for GetClusterCredentials. Throws MissingGroupError for an unknown group. */
  issueDbUserLogin(req: DbUserLoginRequest): Promise<DbUserLoginResult>;
  /** Creates/alters the login role for a caller-derived user. Returns the roles that were skipped as missing. */
  issueCallerLogin(req: CallerLoginRequest): Promise<string[]>;
  close(): Promise<void>;
}

/** A requested DbGroup does not exist upstream (emulator choice: 400 InvalidParameterValue). */
export class MissingGroupError extends Error {
  readonly group: string;
  constructor(group: string) {
    super(`database group "${group}" does not exist`);
    this.name = 'MissingGroupError';
    this.group = group;
  }
}

/** Options of the pg-backed admin. */
export interface PgUpstreamAdminOptions {
  connectionString: string;
  ssl?: ConnectionOptions;
}

const duplicateCodes = new Set(['42710', '23505']);

/** An UpstreamAdmin over one `pg` connection; operations are serialised and each runs in a transaction. */
export function createPgUpstreamAdmin(opts: PgUpstreamAdminOptions): UpstreamAdmin {
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    ...(opts.ssl !== undefined ? { ssl: opts.ssl } : {}),
    max: 1,
    idleTimeoutMillis: 5000,
    allowExitOnIdle: true,
  });
  pool.on('error', () => {}); // an idle connection dropped by the server is replaced on next use
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work, work);
    queue = run.catch(() => {});
    return run;
  };

  const inTransaction = async <T>(work: (c: pg.PoolClient) => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        // Another emulator may have created the same role concurrently: run once more.
        const code = (err as { code?: unknown }).code;
        if (attempt === 1 && typeof code === 'string' && duplicateCodes.has(code)) continue;
        throw err;
      } finally {
        client.release();
      }
    }
  };

  return {
    issueDbUserLogin(req) {
      return serial(() =>
        inTransaction(async (c) => {
          const existing = await existingRoles(c, [req.baseUser, ...req.groups]);
          const missingGroup = req.groups.find((g) => !existing.has(g));
          if (missingGroup !== undefined) throw new MissingGroupError(missingGroup);
          if (!existing.has(req.baseUser)) {
            if (!req.autoCreate) return 'base_missing';
            await c.query(`CREATE ROLE ${pg.escapeIdentifier(req.baseUser)} NOLOGIN`);
          }
          await upsertLoginRole(c, req.loginUser, req.password, req.validUntil);
          await setMemberships(c, req.loginUser, [req.baseUser, ...req.groups]);
          return 'issued';
        }),
      );
    },
    issueCallerLogin(req) {
      return serial(() =>
        inTransaction(async (c) => {
          const existing = await existingRoles(c, [...req.roles]);
          const granted = req.roles.filter((r) => existing.has(r));
          await upsertLoginRole(c, req.loginUser, req.password, req.validUntil);
          await setMemberships(c, req.loginUser, granted);
          return req.roles.filter((r) => !existing.has(r));
        }),
      );
    },
    async close() {
      await queue;
      await pool.end();
    },
  };
}

async function existingRoles(c: pg.PoolClient, names: string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set();
  const res = await c.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])', [names]);
  return new Set(res.rows.map((r) => r.rolname));
}

async function upsertLoginRole(c: pg.PoolClient, name: string, password: string, validUntil: Date): Promise<void> {
  const attrs = `LOGIN PASSWORD ${pg.escapeLiteral(password)} VALID UNTIL ${pg.escapeLiteral(validUntil.toISOString())}`;
  const exists = (await existingRoles(c, [name])).has(name);
  await c.query(`${exists ? 'ALTER' : 'CREATE'} ROLE ${pg.escapeIdentifier(name)} WITH ${attrs}`);
}

async function setMemberships(c: pg.PoolClient, member: string, wanted: readonly string[]): Promise<void> {
  const res = await c.query<{ rolname: string }>(
    `SELECT r.rolname FROM pg_auth_members m
       JOIN pg_roles r ON r.oid = m.roleid
       JOIN pg_roles u ON u.oid = m.member
      WHERE u.rolname = $1`,
    [member],
  );
  const current = new Set(res.rows.map((r) => r.rolname));
  const want = new Set(wanted);
  for (const role of current) {
    if (!want.has(role)) await c.query(`REVOKE ${pg.escapeIdentifier(role)} FROM ${pg.escapeIdentifier(member)}`);
  }
  for (const role of want) {
    if (!current.has(role)) await c.query(`GRANT ${pg.escapeIdentifier(role)} TO ${pg.escapeIdentifier(member)}`);
  }
}
