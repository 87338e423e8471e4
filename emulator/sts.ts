/** STS: GetCallerIdentity answers (JSON or XML) and AssumeRole. */
import type { PrincipalRecord, PrincipalTable } from './principals.js';
import { isoSeconds, xmlDocument, xmlError, XmlNamespace, type Reply } from './xml.js';

/** An STS error in the JSON shape (Accept: application/json) or the XML shape. */
export function stsError(status: number, code: string, message: string, requestId: string, json: boolean): Reply {
  if (json) {
    return {
      status,
      contentType: 'application/json',
      body: JSON.stringify({ Error: { Code: code, Message: message, Type: 'Sender' }, RequestId: requestId }),
      outcome: code,
      headers: { 'x-amzn-requestid': requestId },
    };
  }
  return { status, contentType: 'text/xml', body: xmlError(XmlNamespace.sts, code, message, requestId), outcome: code, headers: { 'x-amzn-requestid': requestId } };
}

/** The GetCallerIdentity success answer; JSON shape exactly as docs/design/token.md §6 item 3. */
export function getCallerIdentityReply(principal: PrincipalRecord, requestId: string, json: boolean): Reply {
  const headers = { 'x-amzn-requestid': requestId };
  if (json) {
    const body = JSON.stringify({
      GetCallerIdentityResponse: {
        GetCallerIdentityResult: { Account: principal.accountId, Arn: principal.arn, UserId: principal.userId },
        ResponseMetadata: { RequestId: requestId },
      },
    });
    return { status: 200, contentType: 'application/json', body, outcome: 'ok', headers };
  }
  const body = xmlDocument('GetCallerIdentityResponse', XmlNamespace.sts, {
    GetCallerIdentityResult: { Arn: principal.arn, UserId: principal.userId, Account: principal.accountId },
    ResponseMetadata: { RequestId: requestId },
  });
  return { status: 200, contentType: 'text/xml', body, outcome: 'ok', headers };
}

const roleArnPattern = /^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]{1,64})$/;
const sessionNamePattern = /^[\w+=,.@-]{2,64}$/;

/** Collects `Tags.member.N.Key/Value` pairs from an awsQuery form. */
export function parseTags(params: Map<string, string>): Map<string, string> | string {
  const tags = new Map<string, string>();
  for (let n = 1; params.has(`Tags.member.${n}.Key`); n++) {
    const key = params.get(`Tags.member.${n}.Key`) ?? '';
    const value = params.get(`Tags.member.${n}.Value`) ?? '';
    if (key.length < 1 || key.length > 128) return 'Tag keys must be 1 to 128 characters';
    if (value.length > 256) return 'Tag values must be at most 256 characters';
    if ([...tags.keys()].some((k) => k.toLowerCase() === key.toLowerCase())) return `Duplicate tag key ${key}`;
    tags.set(key, value);
  }
  if (tags.size > 50) return 'At most 50 session tags are allowed';
  return tags;
}

/** Handles AssumeRole (awsQuery POST) for an already-verified caller. */
export function assumeRole(
  params: Map<string, string>,
  caller: PrincipalRecord,
  table: PrincipalTable,
  nowMs: number,
  requestId: string,
  authorize?: (checks: ReadonlyArray<readonly [action: string, resource: string]>) => string | undefined,
): Reply {
  const invalid = (message: string): Reply => stsError(400, 'ValidationError', message, requestId, false);
  const roleArn = params.get('RoleArn') ?? '';
  const sessionName = params.get('RoleSessionName') ?? '';
  const roleMatch = roleArnPattern.exec(roleArn);
  if (!roleMatch) return invalid(`1 validation error detected: Value '${roleArn}' at 'roleArn' failed to satisfy constraint: must be a role ARN`);
  if (!sessionNamePattern.test(sessionName)) {
    return invalid(`1 validation error detected: Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`);
  }
  const durationText = params.get('DurationSeconds');
  const durationSeconds = durationText === undefined ? 3600 : Number(durationText);
  if (!Number.isInteger(durationSeconds) || durationSeconds < 900 || durationSeconds > 43200) {
    return invalid(`1 validation error detected: Value '${durationText ?? ''}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200`);
  }
  const tags = parseTags(params);
  if (typeof tags === 'string') return invalid(tags);
  const denied = authorize?.([['sts:AssumeRole', roleArn], ...(tags.size > 0 ? [['sts:TagSession', roleArn] as const] : [])]);
  if (denied !== undefined) return stsError(403, 'AccessDenied', denied, requestId, false);
  const dbRolesTag = [...tags].find(([k]) => k.toLowerCase() === 'redshiftdbroles')?.[1];
  const dbRoles = dbRolesTag === undefined ? undefined : dbRolesTag.split(':').filter((r) => r !== '');
  const creds = table.assumeRole({
    roleArn,
    roleName: roleMatch[3] ?? '',
    accountId: roleMatch[2] ?? caller.accountId,
    sessionName,
    durationSeconds,
    dbRoles,
    nowMs,
  });
  const p = creds.principal;
  const body = xmlDocument('AssumeRoleResponse', XmlNamespace.sts, {
    AssumeRoleResult: {
      AssumedRoleUser: { AssumedRoleId: creds.assumedRoleId, Arn: p.arn },
      Credentials: {
        AccessKeyId: p.accessKeyId,
        SecretAccessKey: p.secretAccessKey,
        SessionToken: p.sessionToken ?? '',
        Expiration: isoSeconds(creds.expiration),
      },
      PackedPolicySize: tags.size > 0 ? 6 : undefined,
    },
    ResponseMetadata: { RequestId: requestId },
  });
  return { status: 200, contentType: 'text/xml', body, outcome: 'ok', headers: { 'x-amzn-requestid': requestId } };
}
