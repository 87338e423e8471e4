/** Rules → database login, deny by default (docs/design/token.md §8, docs/design/surface.md §3 "How a rule matches"). */
import { AuthError, AuthErrorCode } from './errors.js';
import { isAccountId } from './aws-names.js';
import { validateDbGroup, validateDbUser } from './redshift-names.js';
import type { DatabaseOptions, Identity, IdentityMapper, MappedLogin, RuleOptions } from './types.js';

/** Inputs of createIdentityMapper (the `rules` and `databases` config keys). */
export interface IdentityMapperOptions {
  rules: readonly RuleOptions[];
  databases: Readonly<Record<string, DatabaseOptions>>;
}

/** Template variables a rule's `dbUser` may use. */
export type TemplateVariable = 'sessionName' | 'roleName' | 'userName' | 'accountId';

const templatePattern = /\{([^}]*)\}/g;

/** Where a principal pattern may hold `*`: only in the resource, after `arn:<partition>:<service>::<account>:`. */
export function validatePrincipalPattern(pattern: string): string | undefined {
  const parts = pattern.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return 'must be an ARN arn:<partition>:<service>::<account>:<resource>';
  if (parts.slice(0, 5).some((p) => p.includes('*'))) return "'*' is allowed only after the account";
  if (!isAccountId(parts[4] ?? '')) return 'account must be 12 digits';
  return undefined;
}

/** True when `pattern` (literal up to the account, `*` globs in the resource) matches the canonical ARN. */
export function principalMatches(pattern: string, canonicalArn: string): boolean {
  if (validatePrincipalPattern(pattern) !== undefined) return false;
  const prefixEnd = nthIndexOf(pattern, ':', 5) + 1;
  const prefix = pattern.slice(0, prefixEnd);
  if (!canonicalArn.startsWith(prefix)) return false;
  const resourcePattern = pattern.slice(prefixEnd);
  const resource = canonicalArn.slice(prefixEnd);
  if (!resourcePattern.includes('*')) return resourcePattern === resource;
  const regex = new RegExp(`^${resourcePattern.split('*').map(escapeRegExp).join('.*')}$`, 's');
  return regex.test(resource);
}

function nthIndexOf(s: string, needle: string, n: number): number {
  let i = -1;
  for (let k = 0; k < n; k++) {
    i = s.indexOf(needle, i + 1);
    if (i < 0) return -1;
  }
  return i;
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The template variables that exist for this identity under this rule. */
export function templateVariables(identity: Identity, rule: Pick<RuleOptions, 'trustSessionName'>): Partial<Record<TemplateVariable, string>> {
  const vars: Partial<Record<TemplateVariable, string>> = { accountId: identity.accountId };
  if (identity.principalType === 'assumed-role') {
    if (identity.roleName !== undefined) vars.roleName = identity.roleName;
    // Whoever may assume the role picks its session name: only trusted when the rule says so.
    if (rule.trustSessionName && identity.sessionName !== undefined) vars.sessionName = identity.sessionName;
  }
  if (identity.principalType === 'user' && identity.userName !== undefined) vars.userName = identity.userName;
  return vars;
}

/** Renders `{variable}` placeholders; undefined when a variable is unknown or absent for this principal. */
export function renderTemplate(template: string, vars: Partial<Record<TemplateVariable, string>>): string | undefined {
  let isComplete = true;
  const out = template.replace(templatePattern, (_m, name: string) => {
    const value = Object.hasOwn(vars, name) ? vars[name as TemplateVariable] : undefined;
    if (value === undefined) isComplete = false;
    return value ?? '';
  });
  return isComplete ? out : undefined;
}

/** The startup user without the prefix Redshift shows (`IAM:`, `IAMA:`, and `IAMR:` on workgroups). */
export function stripUserAlias(user: string, isWorkgroup: boolean): string {
  const prefixes = isWorkgroup ? ['IAMA:', 'IAMR:', 'IAM:'] : ['IAMA:', 'IAM:'];
  const prefix = prefixes.find((p) => user.startsWith(p));
  return prefix === undefined ? user : user.slice(prefix.length);
}

/** The checks a rule makes, in order; the first that fails is reported. */
export type RuleCheck = 'principal' | 'database' | 'user';

/** How one rule fared against (identity, database, user). */
export interface RuleOutcome {
  ruleIndex: number;
  principal: string;
  /** The first check that did not match; absent when the rule matches. */
  failed?: RuleCheck;
  /** What did not match, for operators (`rsproxy explain`). */
  reason?: string;
  /** Rendered dbUser (cluster) or the literal dbUser (workgroup), when the rule got that far. */
  dbUser?: string;
}

/** The rules evaluated in order for one login; `winner` is the first matching rule. */
export interface RuleEvaluation {
  database: string;
  isWorkgroup: boolean;
  /** One entry per rule tried: every rule (`all`), else up to and including the winner. */
  outcomes: RuleOutcome[];
  winner?: { outcome: RuleOutcome; rule: RuleOptions };
}

const knownVariables: ReadonlySet<string> = new Set<TemplateVariable>(['sessionName', 'roleName', 'userName', 'accountId']);

function missingVariableReason(template: string, identity: Identity, rule: RuleOptions): string {
  const vars = templateVariables(identity, rule);
  const missing = [...template.matchAll(templatePattern)].map((m) => m[1] ?? '').find((name) => !Object.hasOwn(vars, name)) ?? '';
  if (!knownVariables.has(missing)) return `dbUser template {${missing}} is not a template variable`;
  if (missing === 'sessionName' && identity.principalType === 'assumed-role') {
    if (!rule.trustSessionName) return 'dbUser uses {sessionName} but the rule does not set trustSessionName';
    return 'dbUser uses {sessionName} but the identity has no session name (give the assumed-role ARN)';
  }
  return `dbUser template {${missing}} does not exist for a ${identity.principalType} principal`;
}

function evaluateRule(rule: RuleOptions, ruleIndex: number, identity: Identity, database: string, isWorkgroup: boolean, wantedUser: string | undefined): RuleOutcome {
  const out: RuleOutcome = { ruleIndex, principal: rule.principal };
  if (!principalMatches(rule.principal, identity.canonicalArn)) {
    return { ...out, failed: 'principal', reason: `principal ${rule.principal} does not match ${identity.canonicalArn}` };
  }
  if (!rule.databases.includes('*') && !rule.databases.includes(database)) {
    return { ...out, failed: 'database', reason: `database ${JSON.stringify(database)} is not in the rule's databases [${rule.databases.join(', ')}]` };
  }
  if (isWorkgroup) {
    // Workgroup dbUser is a literal: GetCredentials derives the real user from the caller.
    if (rule.dbUser === undefined) return out;
    if (/[{}]/.test(rule.dbUser)) return { ...out, failed: 'user', reason: 'a workgroup rule dbUser must be a literal, not a template' };
    if (wantedUser !== undefined && rule.dbUser !== wantedUser) {
      return { ...out, dbUser: rule.dbUser, failed: 'user', reason: `dbUser ${JSON.stringify(rule.dbUser)} is not the startup user ${JSON.stringify(wantedUser)}` };
    }
    return { ...out, dbUser: rule.dbUser };
  }
  if (rule.dbUser === undefined) return { ...out, failed: 'user', reason: 'the rule has no dbUser, which a cluster database needs' };
  const dbUser = renderTemplate(rule.dbUser, templateVariables(identity, rule));
  if (dbUser === undefined) return { ...out, failed: 'user', reason: missingVariableReason(rule.dbUser, identity, rule) };
  if (wantedUser !== undefined && dbUser !== wantedUser) {
    return { ...out, dbUser, failed: 'user', reason: `rendered dbUser ${JSON.stringify(dbUser)} is not the startup user ${JSON.stringify(wantedUser)}` };
  }
  return { ...out, dbUser };
}

/**
 * Tries the rules in order for (identity, database, startup user): the one matching implementation
 * behind logins and `rsproxy explain`. `user` undefined skips the user comparison (explain without
 * `--user`: the first rule that renders a user wins). Undefined when `database` is not configured.
 */
export function evaluateRules(opts: IdentityMapperOptions, identity: Identity, user: string | undefined, database: string, evalOpts: { all?: boolean } = {}): RuleEvaluation | undefined {
  const db = Object.hasOwn(opts.databases, database) ? opts.databases[database] : undefined;
  if (db === undefined) return undefined;
  const isWorkgroup = db.workgroup !== undefined;
  const wantedUser = user === undefined ? undefined : stripUserAlias(user, isWorkgroup);
  const evaluation: RuleEvaluation = { database, isWorkgroup, outcomes: [] };
  for (const [ruleIndex, rule] of opts.rules.entries()) {
    const outcome = evaluateRule(rule, ruleIndex, identity, database, isWorkgroup, wantedUser);
    evaluation.outcomes.push(outcome);
    if (outcome.failed === undefined && evaluation.winner === undefined) {
      evaluation.winner = { outcome, rule };
      if (evalOpts.all !== true) break;
    }
  }
  return evaluation;
}

/** Why a winning rule's rendered names break the Redshift name rules (docs/design/aws.md §3), or undefined. */
export function loginNameProblem(dbUser: string | undefined, dbGroups: readonly string[]): string | undefined {
  if (dbUser !== undefined) {
    const problem = validateDbUser(dbUser);
    if (problem !== undefined) return `rendered dbUser breaks the Redshift name rules: ${problem}`;
  }
  for (const group of dbGroups) {
    const problem = validateDbGroup(group);
    if (problem !== undefined) return `rendered dbGroups entry breaks the Redshift name rules: ${problem}`;
  }
  return undefined;
}

/**
 * Creates the mapper. The first rule whose principal matches the canonical ARN, whose `databases`
 * allow the database, and whose rendered `dbUser` equals the startup user (alias prefixes accepted)
 * wins; no match → AUTH_NO_RULE; a winning rule whose rendered names break the Redshift rules →
 * AUTH_DB_NAME_INVALID. On a workgroup database a rule without `dbUser` matches any startup user:
 * the returned `dbUser` is then undefined, and a rule's literal `dbUser` is returned as-is; in both
 * cases the credentials layer must compare the startup user with the user GetCredentials returns.
 */
export function createIdentityMapper(opts: IdentityMapperOptions): IdentityMapper {
  return {
    map(identity: Identity, user: string, database: string): MappedLogin {
      const evaluation = evaluateRules(opts, identity, user, database);
      if (evaluation === undefined) throw new AuthError(AuthErrorCode.NoRule, `database ${JSON.stringify(database)} is not configured`);
      const winner = evaluation.winner;
      if (winner === undefined) {
        throw new AuthError(AuthErrorCode.NoRule, `no rule maps ${identity.canonicalArn} to database ${JSON.stringify(database)} as the requested user`);
      }
      const { outcome, rule } = winner;
      const problem = loginNameProblem(outcome.dbUser, rule.dbGroups);
      if (problem !== undefined) throw new AuthError(AuthErrorCode.DbNameInvalid, problem);
      const login: MappedLogin = { ruleIndex: outcome.ruleIndex, database, dbGroups: [...rule.dbGroups], autoCreate: rule.autoCreate };
      if (outcome.dbUser !== undefined) login.dbUser = outcome.dbUser;
      if (rule.assumeRole !== undefined) login.assumeRole = rule.assumeRole;
      return login;
    },
  };
}
