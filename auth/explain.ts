/** `rsproxy explain`: the login's own rule evaluation for (ARN, database, user), with no AWS call (docs/design/surface.md §10). */
import { parseCallerArn } from './arn.js';
import { roleSessionName } from './assume-role.js';
import { matchesReturnedUser } from './authenticator.js';
import { AuthError } from './errors.js';
import { evaluateRules, loginNameProblem, type RuleCheck } from './identity-mapper.js';
import { loginCalls, type LoginCall } from './login-calls.js';
import { checkIdentityAllowed } from './sts-response.js';
import type { AuthOptions, Identity } from './types.js';

/** A bad ARN or an unknown database: the command's input is wrong (exit 1), not a denial. */
export class ExplainInputError extends Error {
  override readonly name = 'ExplainInputError';
}

/** What explain is asked. */
export interface ExplainRequest {
  /** Canonical principal ARN (role, user, root, federated) or an STS assumed-role ARN. */
  arn: string;
  database: string;
  /** Startup user; undefined = report which user a login would need. */
  user?: string;
  /** Account owning the clusters / workgroups (resource ARNs); default: the identity's account. */
  account?: string;
}

/** One rule as explain saw it. */
export interface ExplainedRule {
  index: number;
  principal: string;
  matched: boolean;
  /** First check that did not match. */
  failed?: RuleCheck;
  reason?: string;
}

/** Where the login would go. */
export interface ExplainTarget {
  kind: 'cluster' | 'workgroup';
  cluster?: string;
  workgroup?: string;
  host?: string;
  port?: number;
  region: string;
  dbName: string;
}

/** The answer; printed as text or as this JSON object. */
export interface Explanation {
  admitted: boolean;
  identity: { arn: string; canonicalArn: string; principalType: Identity['principalType']; sessionName?: string; userName?: string };
  database: string;
  /** The startup user asked about, or null. */
  user: string | null;
  /** Why no rule was even tried (partition, account, principal type). */
  identityDenied?: string;
  /** Why the winning rule still fails the login (name rules, workgroup user). */
  loginDenied?: string;
  rule?: { index: number; principal: string };
  /** The dbUser sent to GetClusterCredentials, or the user GetCredentials is expected to return (`IAMR:<role>`); null when unknown. */
  dbUser?: string | null;
  dbGroups?: string[];
  autoCreate?: boolean;
  assumeRole?: string | null;
  /** RoleSessionName of the AssumeRole call. */
  roleSessionName?: string;
  target?: ExplainTarget;
  awsCalls?: LoginCall[];
  rules: ExplainedRule[];
  notes: string[];
}

const canonicalRolePattern = /^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role\/([\w+=,.@-]{1,64})$/;

/**
 * The identity a token for `arn` would verify to. An STS assumed-role ARN is canonicalised by the
 * verifier's own parser; a canonical role ARN (no path) stands for any session of that role, so
 * it has no session name and `{sessionName}` templates cannot render.
 */
export function identityFromArn(arn: string): Identity {
  const blank = { userId: '', accessKeyId: '', stsRegion: '' };
  const parsed = parseCallerArn(arn);
  if (parsed !== undefined) {
    const { partition, accountId, canonicalArn, principalType } = parsed;
    return { partition, accountId, canonicalArn, principalType, arn, ...blank, ...pick(parsed) };
  }
  const role = canonicalRolePattern.exec(arn);
  if (role === null) {
    throw new ExplainInputError(
      `--arn ${JSON.stringify(arn.slice(0, 300))} is not a principal ARN: expected arn:<aws|aws-cn|aws-us-gov>:iam::<12 digits>:role/<Role> (no path), ` +
        'arn:…:sts::<account>:assumed-role/<Role>/<Session>, arn:…:iam::<account>:user/<Name>, …:sts::<account>:federated-user/<Name> or …:iam::<account>:root',
    );
  }
  const [, partition = 'aws', accountId = '', roleName = ''] = role;
  return { partition: partition as Identity['partition'], accountId, canonicalArn: arn, arn, principalType: 'assumed-role', roleName, ...blank };
}

function pick(p: { roleName?: string; sessionName?: string; userName?: string }): Partial<Identity> {
  const out: Partial<Identity> = {};
  if (p.roleName !== undefined) out.roleName = p.roleName;
  if (p.sessionName !== undefined) out.sessionName = p.sessionName;
  if (p.userName !== undefined) out.userName = p.userName;
  return out;
}

function identityDenial(identity: Identity, config: AuthOptions): string | undefined {
  if (identity.partition !== config.identity.partition) return `partition ${identity.partition} is not identity.partition (${config.identity.partition})`;
  try {
    checkIdentityAllowed(identity, config.identity);
  } catch (err) {
    if (err instanceof AuthError) return err.message;
    throw err;
  }
  return undefined;
}

/** Evaluates the config's rules for the request exactly as a login does (no AWS call). Throws ExplainInputError. */
export function explainLogin(config: AuthOptions, req: ExplainRequest): Explanation {
  const identity = identityFromArn(req.arn);
  if (!Object.hasOwn(config.databases, req.database)) {
    const known = Object.keys(config.databases).sort().join(', ');
    throw new ExplainInputError(`--database ${JSON.stringify(req.database)} is not in the config's databases (${known === '' ? 'none' : known})`);
  }
  const db = config.databases[req.database];
  const out: Explanation = {
    admitted: false,
    identity: { arn: req.arn, canonicalArn: identity.canonicalArn, principalType: identity.principalType, ...pickNames(identity) },
    database: req.database,
    user: req.user ?? null,
    rules: [],
    notes: [],
  };
  if (identity.principalType === 'assumed-role' && identity.sessionName === undefined) {
    out.notes.push('a canonical role ARN has no session name: rules whose dbUser uses {sessionName} cannot match; give the assumed-role ARN (arn:…:sts::<account>:assumed-role/<Role>/<Session>) to test them');
  }
  const denied = identityDenial(identity, config);
  if (denied !== undefined || db === undefined) {
    out.identityDenied = denied ?? 'database not configured';
    return out;
  }
  const evaluation = evaluateRules({ rules: config.rules, databases: config.databases }, identity, req.user, req.database, { all: true });
  out.rules = (evaluation?.outcomes ?? []).map((o) => ({
    index: o.ruleIndex,
    principal: o.principal,
    matched: o.failed === undefined,
    ...(o.failed === undefined ? {} : { failed: o.failed }),
    ...(o.reason === undefined ? {} : { reason: o.reason }),
  }));
  const winner = evaluation?.winner;
  if (winner === undefined) return out;
  const { outcome, rule } = winner;
  const isWorkgroup = db.workgroup !== undefined;
  const returnedUser = isWorkgroup ? (rule.assumeRole === undefined ? undefined : `IAMR:${rule.assumeRole.slice(rule.assumeRole.lastIndexOf('/') + 1)}`) : outcome.dbUser;
  out.rule = { index: outcome.ruleIndex, principal: rule.principal };
  out.dbUser = returnedUser ?? null;
  out.dbGroups = [...rule.dbGroups].sort();
  out.autoCreate = rule.autoCreate;
  out.assumeRole = rule.assumeRole ?? null;
  if (rule.assumeRole !== undefined) out.roleSessionName = roleSessionName(identity);
  out.target = {
    kind: isWorkgroup ? 'workgroup' : 'cluster',
    ...(db.cluster === undefined ? {} : { cluster: db.cluster }),
    ...(db.workgroup === undefined ? {} : { workgroup: db.workgroup }),
    ...(db.host === undefined ? {} : { host: db.host, port: db.port ?? 5439 }),
    region: db.region,
    dbName: db.dbName,
  };
  out.awsCalls = loginCalls({
    partition: config.identity.partition,
    account: req.account ?? identity.accountId,
    db,
    ...(outcome.dbUser === undefined || isWorkgroup ? {} : { dbUserResource: outcome.dbUser }),
    dbGroups: rule.dbGroups,
    autoCreate: rule.autoCreate,
    ...(rule.assumeRole === undefined ? {} : { assumeRole: rule.assumeRole }),
  });
  if (isWorkgroup) {
    out.notes.push('the workgroup ARN holds its id, not its name: `*` stands for it here');
    if (rule.assumeRole === undefined) out.notes.push("GetCredentials derives the database user from the caller: every client of this rule logs in as the proxy's own database user (IAMR:<proxy role> or IAM:<proxy user>)");
  }
  if (req.account === undefined) out.notes.push(`resource ARNs use the identity's account ${identity.accountId}; pass --account for clusters in another account`);
  const nameProblem = loginNameProblem(outcome.dbUser, rule.dbGroups);
  if (nameProblem !== undefined) {
    out.loginDenied = nameProblem;
    return out;
  }
  if (req.user !== undefined && returnedUser !== undefined && isWorkgroup && !matchesReturnedUser(req.user, returnedUser)) {
    out.loginDenied = `startup user ${JSON.stringify(req.user)} is not the database user GetCredentials returns as ${rule.assumeRole ?? ''} (${returnedUser})`;
    return out;
  }
  out.admitted = true;
  if (req.user === undefined && returnedUser !== undefined) out.notes.push(`a login needs the startup user ${JSON.stringify(returnedUser)}${isWorkgroup ? '' : ` (or ${rule.autoCreate ? 'IAMA' : 'IAM'}:${returnedUser})`}`);
  return out;
}

function pickNames(identity: Identity): { sessionName?: string; userName?: string } {
  return {
    ...(identity.sessionName === undefined ? {} : { sessionName: identity.sessionName }),
    ...(identity.userName === undefined ? {} : { userName: identity.userName }),
  };
}
