/** The principal table: access keys → identities, plus temporary credentials minted by AssumeRole. */
import { createHash, randomBytes, randomInt } from 'node:crypto';

/** A key holder the emulator knows (long-term user key or temporary session). */
export interface EmulatorPrincipal {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  sessionExpiresAtMs?: number;
  arn: string;
  accountId: string;
  userId: string;
  /** Database users this principal may mint with GetClusterCredentials; absent = any. */
  allowedDbUsers?: string[];
}

/** A principal plus what the emulator remembers about its session. */
export interface PrincipalRecord extends EmulatorPrincipal {
  /** Values of the `RedshiftDbRoles` session tag (colon-separated on the wire). */
  dbRoles?: string[];
}

/** Temporary credentials returned by AssumeRole. */
export interface AssumedCredentials {
  principal: PrincipalRecord;
  assumedRoleId: string;
  expiration: Date;
}

const upperAlnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function randomId(prefix: string, length: number): string {
  let out = prefix;
  while (out.length < length) out += upperAlnum[randomInt(upperAlnum.length)];
  return out;
}

/** Stable unique id for a role (AROA + 17), like IAM's RoleId. */
export function roleUniqueId(roleArn: string): string {
  const digest = createHash('sha256').update(roleArn).digest();
  let out = 'AROA';
  for (let i = 0; out.length < 21; i++) out += upperAlnum[(digest[i] ?? 0) % upperAlnum.length];
  return out;
}

/** The database user AWS derives from a caller ARN: `IAMR:<role>` for assumed roles, `IAM:<user>` for users. */
export function callerDbUser(arn: string): string | undefined {
  const assumed = /^arn:[\w-]+:sts::\d{12}:assumed-role\/([\w+=,.@-]+)\/[\w+=,.@-]+$/.exec(arn);
  if (assumed) return `IAMR:${assumed[1]}`;
  const user = /^arn:[\w-]+:iam::\d{12}:user\/(?:[\w+=,.@/-]*\/)?([\w+=,.@-]+)$/.exec(arn);
  if (user) return `IAM:${user[1]}`;
  return undefined;
}

/** In-memory principal table keyed by access key id. */
export class PrincipalTable {
  readonly #byKey = new Map<string, PrincipalRecord>();

  /** Adds or replaces a principal. */
  add(principal: PrincipalRecord): void {
    this.#byKey.set(principal.accessKeyId, { ...principal });
  }

  /** The principal holding `accessKeyId`, if any. */
  get(accessKeyId: string): PrincipalRecord | undefined {
    return this.#byKey.get(accessKeyId);
  }

  /** Mints temporary credentials for `roleArn` and registers them as a new principal. */
  assumeRole(req: { roleArn: string; roleName: string; accountId: string; sessionName: string; durationSeconds: number; dbRoles: string[] | undefined; nowMs: number }): AssumedCredentials {
    const roleId = roleUniqueId(req.roleArn);
    const expiration = new Date(Math.floor(req.nowMs / 1000) * 1000 + req.durationSeconds * 1000);
    const principal: PrincipalRecord = {
      accessKeyId: randomId('ASIA', 20),
      secretAccessKey: randomBytes(30).toString('base64'),
      // Real session tokens start with this base64 prefix; the rest is canonical base64 of random bytes.
      sessionToken: `IQoJb3JpZ2luX2Vj${randomBytes(291).toString('base64')}`,
      sessionExpiresAtMs: expiration.getTime(),
      arn: `arn:aws:sts::${req.accountId}:assumed-role/${req.roleName}/${req.sessionName}`,
      accountId: req.accountId,
      userId: `${roleId}:${req.sessionName}`,
      ...(req.dbRoles !== undefined ? { dbRoles: req.dbRoles } : {}),
    };
    this.add(principal);
    return { principal, assumedRoleId: principal.userId, expiration };
  }
}
