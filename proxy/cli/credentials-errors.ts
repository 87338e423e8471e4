/** Explains a failed `rsproxy credentials` call to a user: which IAM action on which resource ARN is missing, or what else went wrong. */
import { accountFromMessage, partitionOfRegion } from '../../auth/aws-errors.js';

/** What the user asked for (enough to name the ARNs). */
export interface CredentialsTarget {
  kind: 'cluster' | 'workgroup';
  id: string;
  region: string;
  dbUser?: string;
  dbName: string;
  dbGroups: readonly string[];
  autoCreate: boolean;
}

interface ErrorFacts {
  action?: string;
  awsName: string;
  awsMessage: string;
}

function factsOf(err: unknown): ErrorFacts {
  const message = err instanceof Error ? err.message : String(err);
  const cause = (err as { cause?: { name?: unknown; message?: unknown } } | null)?.cause;
  // auth/ minters say "<service>:<Action> on <arn> failed: <AwsName> (HTTP n): <aws message>".
  const m = /^([\w-]+:\w+) on \S+ failed: (\w+)/.exec(message);
  return {
    ...(m?.[1] !== undefined ? { action: m[1] } : {}),
    awsName: typeof cause?.name === 'string' ? cause.name : (m?.[2] ?? (err instanceof Error ? err.name : 'Error')),
    awsMessage: typeof cause?.message === 'string' ? cause.message : message,
  };
}

/** The IAM permissions (action on resource ARN) that a request needs, for the failing action or all of them. */
export function requiredPermissions(t: CredentialsTarget, account: string, failingAction?: string): string[] {
  const partition = partitionOfRegion(t.region);
  if (t.kind === 'workgroup') {
    // unverified (docs/design/aws.md §7): the real ARN uses the workgroup id; the name is what users know.
    const wg = `arn:${partition}:redshift-serverless:${t.region}:${account}:workgroup/${t.id}`;
    const all = [`redshift-serverless:GetWorkgroup on ${wg}`, `redshift-serverless:GetCredentials on ${wg}`];
    return failingAction === undefined ? all : all.filter((p) => p.startsWith(`${failingAction} `));
  }
  const base = `arn:${partition}:redshift:${t.region}:${account}`;
  const describe = [`redshift:DescribeClusters on ${base}:cluster:${t.id}`];
  const user = `${base}:dbuser:${t.id}/${t.dbUser ?? '<db-user>'}`;
  const mint = [
    `redshift:GetClusterCredentials on ${user}`,
    `redshift:GetClusterCredentials on ${base}:dbname:${t.id}/${t.dbName}`,
    ...(t.autoCreate ? [`redshift:CreateClusterUser on ${user}`] : []),
    ...t.dbGroups.map((g) => `redshift:JoinGroup on ${base}:dbgroup:${t.id}/${g}`),
  ];
  if (failingAction === 'redshift:DescribeClusters') return describe;
  if (failingAction === 'redshift:GetClusterCredentials') return mint;
  return [...describe, ...mint];
}

/** A multi-line, user-facing explanation of why credentials could not be obtained. Never holds a secret. */
export function explainAwsFailure(err: unknown, t: CredentialsTarget): string {
  const f = factsOf(err);
  const what = t.kind === 'cluster' ? `cluster ${t.id}` : `workgroup ${t.id}`;
  if (/AccessDenied|UnauthorizedOperation|NotAuthorized/i.test(f.awsName) || /not authorized to perform/i.test(f.awsMessage)) {
    const account = accountFromMessage(f.awsMessage);
    const needed = requiredPermissions(t, account === '*' ? '<account-id>' : account, f.action);
    return [
      `AWS denied ${f.action ?? 'the request'} (${f.awsName}): ${f.awsMessage}`,
      'Your AWS identity needs an IAM policy that allows:',
      ...needed.map((p) => `  ${p}`),
      'and no Deny on them (see docs/operations/iam-setup.md).',
    ].join('\n');
  }
  if (/ClusterNotFound|ResourceNotFound/.test(f.awsName)) {
    return `${what} was not found in ${t.region} (${f.awsName}); check --${t.kind} and --region`;
  }
  if (/Throttl|TooManyRequests|RequestLimitExceeded/.test(f.awsName)) {
    return `AWS throttled ${f.action ?? 'the request'} (${f.awsName}: ${f.awsMessage}); try again in a few seconds`;
  }
  if (/CredentialsProviderError|ExpiredToken|InvalidClientTokenId|UnrecognizedClient|SignatureDoesNotMatch/.test(f.awsName)) {
    return `no usable AWS credentials (${f.awsName}: ${f.awsMessage}); set AWS_PROFILE or pass --profile, or refresh your session (e.g. aws sso login)`;
  }
  if (/InvalidParameter|Validation/.test(f.awsName)) {
    return `AWS rejected the parameters (${f.awsName}): ${f.awsMessage}`;
  }
  return err instanceof Error ? err.message : String(err);
}
