/** `rsproxy policy`: the least-privilege IAM policy a config needs, built from the same call list as a login (docs/design/surface.md §10). */
import { targetRef } from './endpoint-resolver.js';
import { dbUserPattern, isCaller, loginCalls, type Permission } from './login-calls.js';
import type { AuthOptions, DatabaseOptions, RuleOptions } from './types.js';

/** One IAM policy statement as printed. */
export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string;
  Resource: string[];
}

/** An IAM identity-based policy document. */
export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

/** Inputs of buildIamPolicy. */
export interface IamPolicyOptions {
  config: AuthOptions;
  account: string;
  /** Workgroup ids by `<region>/<workgroup name>` (from `--resolve`); others get `*`. */
  workgroupIds?: Readonly<Record<string, string>>;
  /** Print the policy of this `assumeRole` role instead of the proxy's. */
  role?: string;
}

/** The policy, plus what the operator must hear on stderr. */
export interface IamPolicyResult {
  document: PolicyDocument;
  /** One per wildcarded workgroup segment. */
  warnings: string[];
  /** Roles whose credential calls are not in this policy (print them with `--role`). */
  roles: string[];
}

/** Key of `workgroupIds` for a database. */
export const workgroupKey = (db: Pick<DatabaseOptions, 'region' | 'workgroup'>): string => `${db.region}/${db.workgroup ?? ''}`;

/** The (rule, database) pairs a login can use: a cluster rule needs a dbUser, a workgroup dbUser must be literal. */
export function usableRuleDatabases(config: AuthOptions): Array<{ rule: RuleOptions; name: string; db: DatabaseOptions }> {
  const out: Array<{ rule: RuleOptions; name: string; db: DatabaseOptions }> = [];
  for (const rule of config.rules) {
    const names = rule.databases.includes('*') ? Object.keys(config.databases) : rule.databases;
    for (const name of names) {
      const db = Object.hasOwn(config.databases, name) ? config.databases[name] : undefined;
      if (db === undefined) continue;
      if (db.workgroup === undefined ? rule.dbUser === undefined : rule.dbUser !== undefined && /[{}]/.test(rule.dbUser)) continue;
      out.push({ rule, name, db });
    }
  }
  return out;
}

/** IAM-style glob (`*`, `?`) test, used only to drop resources another resource of the statement covers. */
function covers(pattern: string, value: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === value;
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 's').test(value);
}

function narrowest(resources: ReadonlySet<string>): string[] {
  const list = [...resources].sort();
  return list.filter((r) => !list.some((other) => other !== r && covers(other, r)));
}

/** `redshift-serverless:GetCredentials` → `RedshiftServerlessGetCredentials` (Sids are alphanumeric). */
export function sidFor(action: string): string {
  return action
    .split(/[^A-Za-z0-9]+/)
    .filter((p) => p !== '')
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join('');
}

/**
 * Builds the policy: every permission the calls of every usable (rule, database) pair need, as the
 * proxy (or as `role`), one statement per action, resources sorted and de-duplicated (a resource
 * covered by a wildcard one is dropped), statements sorted by Sid. Nothing else.
 */
export function buildIamPolicy(opts: IamPolicyOptions): IamPolicyResult {
  const { config, account } = opts;
  const partition = config.identity.partition;
  const byAction = new Map<string, Set<string>>();
  const warnings = new Set<string>();
  const roles = new Set<string>();
  const add = (p: Permission): void => {
    let set = byAction.get(p.action);
    if (set === undefined) byAction.set(p.action, (set = new Set()));
    set.add(p.resource);
  };
  for (const { rule, db } of usableRuleDatabases(config)) {
    const workgroupId = db.workgroup === undefined ? undefined : opts.workgroupIds?.[workgroupKey(db)];
    const calls = loginCalls({
      partition,
      account,
      db,
      ...(rule.dbUser === undefined || db.workgroup !== undefined ? {} : { dbUserResource: dbUserPattern(rule.dbUser) }),
      dbGroups: rule.dbGroups,
      autoCreate: rule.autoCreate,
      ...(rule.assumeRole === undefined ? {} : { assumeRole: rule.assumeRole }),
      workgroupId: workgroupId ?? '*',
    });
    for (const call of calls) {
      if (call.caller !== 'proxy') roles.add(call.caller.role);
      if (!isCaller(call.caller, opts.role)) continue;
      if (workgroupId === undefined && call.permissions.some((p) => p.resource.endsWith(':workgroup/*'))) {
        warnings.add(`workgroup ${db.workgroup} in ${db.region}: its id is not known, so its ARN has '*' in that segment (${targetRef(db).id}; --resolve looks it up with GetWorkgroup)`);
      }
      call.permissions.forEach(add);
    }
  }
  const Statement = [...byAction]
    .map(([action, resources]): PolicyStatement => ({ Sid: sidFor(action), Effect: 'Allow', Action: action, Resource: narrowest(resources) }))
    .sort((a, b) => (a.Sid < b.Sid ? -1 : a.Sid > b.Sid ? 1 : 0));
  if (opts.role !== undefined) roles.delete(opts.role);
  return { document: { Version: '2012-10-17', Statement }, warnings: [...warnings].sort(), roles: [...roles].sort() };
}

/** The document as printed: two-space JSON and a final newline (stable bytes for golden files and CI diffs). */
export function formatPolicy(doc: PolicyDocument): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}
