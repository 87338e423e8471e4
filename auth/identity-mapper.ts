/** Rules → database login, deny by default (token.md §8, contract.md §3 "How a rule matches"). */
import { AuthError, AuthErrorCode } from './errors.js';
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
  if (!/^\d{12}$/.test(parts[4] ?? '')) return 'account must be 12 digits';
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

function nameInvalid(what: string, problem: string): AuthError {
  return new AuthError(AuthErrorCode.DbNameInvalid, `rendered ${what} breaks the Redshift name rules: ${problem}`);
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
  const { rules, databases } = opts;
  return {
    map(identity: Identity, user: string, database: string): MappedLogin {
      const db = Object.hasOwn(databases, database) ? databases[database] : undefined;
      if (db === undefined) throw new AuthError(AuthErrorCode.NoRule, `database ${JSON.stringify(database)} is not configured`);
      const isWorkgroup = db.workgroup !== undefined;
      const wantedUser = stripUserAlias(user, isWorkgroup);
      for (const [ruleIndex, rule] of rules.entries()) {
        if (!principalMatches(rule.principal, identity.canonicalArn)) continue;
        if (!rule.databases.includes('*') && !rule.databases.includes(database)) continue;
        let dbUser: string | undefined;
        if (isWorkgroup) {
          // Workgroup dbUser is a literal: GetCredentials derives the real user from the caller.
          if (rule.dbUser !== undefined && (/[{}]/.test(rule.dbUser) || rule.dbUser !== wantedUser)) continue;
          dbUser = rule.dbUser;
        } else {
          if (rule.dbUser === undefined) continue;
          dbUser = renderTemplate(rule.dbUser, templateVariables(identity, rule));
          if (dbUser === undefined || dbUser !== wantedUser) continue;
        }
        if (dbUser !== undefined) {
          const problem = validateDbUser(dbUser);
          if (problem !== undefined) throw nameInvalid('dbUser', problem);
        }
        for (const group of rule.dbGroups) {
          const problem = validateDbGroup(group);
          if (problem !== undefined) throw nameInvalid('dbGroups entry', problem);
        }
        const login: MappedLogin = { ruleIndex, database, dbGroups: [...rule.dbGroups], autoCreate: rule.autoCreate };
        if (dbUser !== undefined) login.dbUser = dbUser;
        if (rule.assumeRole !== undefined) login.assumeRole = rule.assumeRole;
        return login;
      }
      throw new AuthError(AuthErrorCode.NoRule, `no rule maps ${identity.canonicalArn} to database ${JSON.stringify(database)} as the requested user`);
    },
  };
}
