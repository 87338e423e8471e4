/**
 * Test-only: one rule table and its login rows, shared by the mapper's unit tests, `explain`'s table
 * tests and the integration test where `explain` and a real login through the proxy must agree.
 * Never imported by library code.
 */
import type { DatabaseOptions, RuleOptions } from '../auth/types.js';

/** The account every principal and resource of the table lives in. */
export const tableAccount = '123456789012';
/** An account outside `identity.allowedAccounts`. */
export const tableForeignAccount = '210987654321';
/** The role Serverless logins of rule 3 assume. */
export const tableLakeRole = `arn:aws:iam::${tableAccount}:role/rsproxy-lake-bi`;
/** Groups the rules name (must exist upstream). */
export const tableGroups = ['analysts', 'bi_readers'] as const;

/** A principal of the table: its STS caller ARN and the UserId STS reports with it. */
export interface TablePrincipal {
  name: string;
  arn: string;
  userId: string;
  accountId: string;
}

/** Every principal the rows use. */
export const tablePrincipals: readonly TablePrincipal[] = [
  { name: 'alice', arn: `arn:aws:sts::${tableAccount}:assumed-role/Analyst/alice`, userId: 'AROAANALYSTROLE000001:alice', accountId: tableAccount },
  { name: 'bob', arn: `arn:aws:iam::${tableAccount}:user/bob`, userId: 'AIDABOBUSER000000001', accountId: tableAccount },
  { name: 'carol', arn: `arn:aws:sts::${tableAccount}:assumed-role/BI-east/carol`, userId: 'AROABIEASTROLE000001:carol', accountId: tableAccount },
  { name: 'ivan', arn: `arn:aws:sts::${tableAccount}:assumed-role/Intern/ivan`, userId: 'AROAINTERNROLE000001:ivan', accountId: tableAccount },
  { name: 'mallory', arn: `arn:aws:sts::${tableForeignAccount}:assumed-role/Analyst/mallory`, userId: 'AROAFOREIGNROLE00001:mallory', accountId: tableForeignAccount },
  { name: 'eq', arn: `arn:aws:sts::${tableAccount}:assumed-role/Analyst/a=b`, userId: 'AROAANALYSTROLE000001:a=b', accountId: tableAccount },
];

/**
 * The databases: `dev` on one cluster, `other` on a second one that only literal users reach (so the
 * generated policy names its users one by one), `lake` on a Serverless workgroup; `base` gives region,
 * engine and TLS.
 */
export function tableDatabases(base: Omit<DatabaseOptions, 'cluster' | 'workgroup' | 'dbName'>, cluster: string, otherCluster: string, workgroup: string): Record<string, DatabaseOptions> {
  return {
    dev: { ...base, cluster, dbName: 'postgres' },
    other: { ...base, cluster: otherCluster, dbName: 'postgres' },
    lake: { ...base, workgroup, dbName: 'postgres' },
  };
}

/** The rules, first match wins. */
export const tableRules: readonly RuleOptions[] = [
  { principal: `arn:aws:iam::${tableAccount}:role/Analyst`, dbUser: '{sessionName}', trustSessionName: true, autoCreate: true, dbGroups: ['analysts'], databases: ['dev'] },
  { principal: `arn:aws:iam::${tableAccount}:user/bob`, dbUser: 'bob', trustSessionName: false, autoCreate: true, dbGroups: [], databases: ['dev', 'other'] },
  { principal: `arn:aws:iam::${tableAccount}:role/BI-*`, dbUser: 'r_{roleName}', trustSessionName: false, autoCreate: true, dbGroups: ['bi_readers'], databases: ['dev'] },
  { principal: `arn:aws:iam::${tableAccount}:role/BI-*`, trustSessionName: false, autoCreate: false, dbGroups: ['bi_readers'], databases: ['lake'], assumeRole: tableLakeRole },
  { principal: `arn:aws:iam::${tableAccount}:role/Intern`, dbUser: 'i_{userName}', trustSessionName: false, autoCreate: true, dbGroups: [], databases: ['dev'] },
];

/** What a row expects: admitted by rule N as this database user with these groups, or denied at this stage. */
export type TableExpectation =
  | { admitted: true; ruleIndex: number; dbUser: string; dbGroups: readonly string[]; autoCreate: boolean }
  | { admitted: false; stage: 'identity' | 'rules' | 'login' };

/** One login attempt. */
export interface TableRow {
  name: string;
  principal: string;
  database: string;
  user: string;
  expect: TableExpectation;
}

/** The login attempts. */
export const tableRows: readonly TableRow[] = [
  { name: 'role session name as user', principal: 'alice', database: 'dev', user: 'alice', expect: { admitted: true, ruleIndex: 0, dbUser: 'alice', dbGroups: ['analysts'], autoCreate: true } },
  { name: 'IAMA: alias of the rendered user', principal: 'alice', database: 'dev', user: 'IAMA:alice', expect: { admitted: true, ruleIndex: 0, dbUser: 'alice', dbGroups: ['analysts'], autoCreate: true } },
  { name: 'startup user the rule does not render', principal: 'alice', database: 'dev', user: 'admin', expect: { admitted: false, stage: 'rules' } },
  { name: 'database outside the rule', principal: 'alice', database: 'other', user: 'alice', expect: { admitted: false, stage: 'rules' } },
  { name: 'IAM user, literal dbUser', principal: 'bob', database: 'dev', user: 'bob', expect: { admitted: true, ruleIndex: 1, dbUser: 'bob', dbGroups: [], autoCreate: true } },
  { name: 'IAM user, second database', principal: 'bob', database: 'other', user: 'bob', expect: { admitted: true, ruleIndex: 1, dbUser: 'bob', dbGroups: [], autoCreate: true } },
  { name: 'role glob, {roleName} template', principal: 'carol', database: 'dev', user: 'r_BI-east', expect: { admitted: true, ruleIndex: 2, dbUser: 'r_BI-east', dbGroups: ['bi_readers'], autoCreate: true } },
  { name: 'workgroup through assumeRole', principal: 'carol', database: 'lake', user: 'IAMR:rsproxy-lake-bi', expect: { admitted: true, ruleIndex: 3, dbUser: 'IAMR:rsproxy-lake-bi', dbGroups: ['bi_readers'], autoCreate: false } },
  { name: "workgroup, startup user is not the role's user", principal: 'carol', database: 'lake', user: 'carol', expect: { admitted: false, stage: 'login' } },
  { name: 'template variable the principal lacks ({userName} of a role)', principal: 'ivan', database: 'dev', user: 'ivan', expect: { admitted: false, stage: 'rules' } },
  { name: 'account not allowed', principal: 'mallory', database: 'dev', user: 'mallory', expect: { admitted: false, stage: 'identity' } },
  { name: 'rendered name breaks the Redshift rules', principal: 'eq', database: 'dev', user: 'a=b', expect: { admitted: false, stage: 'login' } },
];

/** The principal of a row. */
export function tablePrincipal(name: string): TablePrincipal {
  const p = tablePrincipals.find((x) => x.name === name);
  if (p === undefined) throw new Error(`no table principal ${name}`);
  return p;
}
