/** STS caller ARNs: strict grammar, canonical principal, UserId consistency (docs/design/token.md §7). */
import type { Partition, PrincipalType } from './types.js';
import { isAccountId } from './aws-names.js';

/** A caller ARN that passed the grammar, with its canonical principal. */
export interface ParsedArn {
  partition: Partition;
  accountId: string;
  principalType: PrincipalType;
  /** Role ARN (no path) for assumed roles; the ARN itself otherwise. */
  canonicalArn: string;
  roleName?: string;
  sessionName?: string;
  /** IAM user name (last path segment) or federated user name. */
  userName?: string;
}

const partitions: ReadonlySet<string> = new Set<Partition>(['aws', 'aws-cn', 'aws-us-gov']);
const namePattern = /^[\w+=,.@-]+$/;
const maxUserPathLength = 512;

const isName = (s: string, min: number, max: number): boolean => s.length >= min && s.length <= max && namePattern.test(s);

function parseResource(service: string, resource: string): Omit<ParsedArn, 'partition' | 'accountId' | 'canonicalArn'> | undefined {
  if (service === 'iam' && resource === 'root') return { principalType: 'root' };
  const segments = resource.split('/');
  const kind = segments[0];
  if (service === 'sts' && kind === 'assumed-role') {
    // The role path is not in an assumed-role ARN: exactly type/role/session.
    if (segments.length !== 3) return undefined;
    const [, roleName = '', sessionName = ''] = segments;
    if (!isName(roleName, 1, 64) || !isName(sessionName, 2, 64)) return undefined;
    return { principalType: 'assumed-role', roleName, sessionName };
  }
  if (service === 'sts' && kind === 'federated-user') {
    if (segments.length !== 2) return undefined;
    const name = segments[1] ?? '';
    if (!isName(name, 2, 32)) return undefined;
    return { principalType: 'federated-user', userName: name };
  }
  if (service === 'iam' && kind === 'user') {
    if (segments.length < 2 || resource.length - 'user'.length > maxUserPathLength + 64) return undefined;
    const names = segments.slice(1);
    if (!names.every((s) => isName(s, 1, 512))) return undefined;
    const userName = names[names.length - 1] ?? '';
    if (userName.length > 64) return undefined;
    return { principalType: 'user', userName };
  }
  return undefined;
}

/** Parses an ARN as STS returns it for a caller; undefined for anything outside the table of docs/design/token.md §7. */
export function parseCallerArn(arn: string): ParsedArn | undefined {
  const parts = arn.split(':');
  if (parts.length !== 6) return undefined;
  const [prefix, partition = '', service = '', region, accountId = '', resource = ''] = parts;
  if (prefix !== 'arn' || region !== '' || !partitions.has(partition) || !isAccountId(accountId)) return undefined;
  const parsed = parseResource(service, resource);
  if (parsed === undefined) return undefined;
  const p = partition as Partition;
  const canonicalArn = parsed.principalType === 'assumed-role' ? `arn:${p}:iam::${accountId}:role/${parsed.roleName ?? ''}` : arn;
  return { partition: p, accountId, canonicalArn, ...parsed };
}

/** True when STS's `UserId` has the shape the ARN's principal type requires (docs/design/token.md §7). */
export function isUserIdConsistent(parsed: ParsedArn, userId: string): boolean {
  switch (parsed.principalType) {
    case 'assumed-role': {
      const colon = userId.indexOf(':');
      return colon > 0 && /^AROA[A-Z0-9]+$/.test(userId.slice(0, colon)) && userId.slice(colon + 1) === parsed.sessionName;
    }
    case 'user':
      return /^AIDA[A-Z0-9]+$/.test(userId);
    case 'federated-user':
      return userId === `${parsed.accountId}:${parsed.userName ?? ''}`;
    case 'root':
      return userId === parsed.accountId;
  }
}
