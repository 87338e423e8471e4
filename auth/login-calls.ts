/** The AWS calls one login makes and the IAM permissions each needs (docs/design/aws.md §1, §5–7): shared by `explain` and `policy`. */
import type { DatabaseOptions, Partition } from './types.js';

/** Who signs a call: the proxy's own identity, or the rule's `assumeRole` role. */
export type CallCaller = 'proxy' | { role: string };

/** One IAM permission: action and resource ARN (a `*` stands for an unknown or templated segment). */
export interface Permission {
  action: string;
  resource: string;
}

/** One AWS API call a login makes, as whom, and the permissions it needs. */
export interface LoginCall {
  api: 'DescribeClusters' | 'GetClusterCredentials' | 'GetWorkgroup' | 'GetCredentials' | 'AssumeRole';
  caller: CallCaller;
  permissions: Permission[];
}

/** What a login under one rule on one database sends to AWS. */
export interface LoginCallInputs {
  partition: Partition;
  /** Account that owns the cluster / workgroup. */
  account: string;
  db: DatabaseOptions;
  /** Rendered dbUser, or its template with `*` per variable (cluster databases only). */
  dbUserResource?: string;
  dbGroups: readonly string[];
  autoCreate: boolean;
  assumeRole?: string;
  /** Workgroup id for the Serverless ARN; `*` when unknown. */
  workgroupId?: string;
}

/** `arn:<partition>:redshift:<region>:<account>:<resource>` */
export function redshiftArn(partition: Partition, region: string, account: string, resource: string): string {
  return `arn:${partition}:redshift:${region}:${account}:${resource}`;
}

/** The Serverless workgroup ARN; it holds the workgroup id, not its name (docs/design/aws.md §7). */
export function workgroupArn(partition: Partition, region: string, account: string, workgroupId: string): string {
  return `arn:${partition}:redshift-serverless:${region}:${account}:workgroup/${workgroupId}`;
}

/** A dbUser template as an IAM resource segment: each `{variable}` becomes `*` (Redshift names hold no `*`, `?`, `/`). */
export function dbUserPattern(template: string): string {
  return template.replace(/\{[^}]*\}/g, '*');
}

/**
 * The calls a login makes, in order: discovery as the proxy (none for a fixed `host`), AssumeRole
 * when the rule names a role (TagSession only when groups travel as the session tag), then the
 * credentials call as the proxy or as that role.
 */
export function loginCalls(inputs: LoginCallInputs): LoginCall[] {
  const { partition, account, db } = inputs;
  const calls: LoginCall[] = [];
  const caller: CallCaller = inputs.assumeRole === undefined ? 'proxy' : { role: inputs.assumeRole };
  const groups = [...inputs.dbGroups].sort();
  if (db.workgroup !== undefined) {
    const arn = workgroupArn(partition, db.region, account, inputs.workgroupId ?? '*');
    if (db.host === undefined) calls.push({ api: 'GetWorkgroup', caller: 'proxy', permissions: [{ action: 'redshift-serverless:GetWorkgroup', resource: arn }] });
  } else if (db.host === undefined) {
    const arn = redshiftArn(partition, db.region, account, `cluster:${db.cluster ?? ''}`);
    calls.push({ api: 'DescribeClusters', caller: 'proxy', permissions: [{ action: 'redshift:DescribeClusters', resource: arn }] });
  }
  if (inputs.assumeRole !== undefined) {
    const permissions: Permission[] = [{ action: 'sts:AssumeRole', resource: inputs.assumeRole }];
    if (groups.length > 0) permissions.push({ action: 'sts:TagSession', resource: inputs.assumeRole });
    calls.push({ api: 'AssumeRole', caller: 'proxy', permissions });
  }
  if (db.workgroup !== undefined) {
    const arn = workgroupArn(partition, db.region, account, inputs.workgroupId ?? '*');
    calls.push({ api: 'GetCredentials', caller, permissions: [{ action: 'redshift-serverless:GetCredentials', resource: arn }] });
    return calls;
  }
  const cluster = db.cluster ?? '';
  const dbUserArn = redshiftArn(partition, db.region, account, `dbuser:${cluster}/${inputs.dbUserResource ?? '*'}`);
  const permissions: Permission[] = [
    { action: 'redshift:GetClusterCredentials', resource: dbUserArn },
    { action: 'redshift:GetClusterCredentials', resource: redshiftArn(partition, db.region, account, `dbname:${cluster}/${db.dbName}`) },
  ];
  if (inputs.autoCreate) permissions.push({ action: 'redshift:CreateClusterUser', resource: dbUserArn });
  for (const g of groups) permissions.push({ action: 'redshift:JoinGroup', resource: redshiftArn(partition, db.region, account, `dbgroup:${cluster}/${g}`) });
  calls.push({ api: 'GetClusterCredentials', caller, permissions });
  return calls;
}

/** True when `caller` is the proxy (no role) or the given role ARN. */
export function isCaller(caller: CallCaller, role: string | undefined): boolean {
  return role === undefined ? caller === 'proxy' : caller !== 'proxy' && caller.role === role;
}
