/**
 * The emulator's own small IAM evaluator for identity-based policies: Allow and Deny statements with
 * Action and Resource (IAM's `*` and `?` wildcards; action names case-insensitive, resources
 * case-sensitive), explicit deny over allow, implicit deny. No Condition, NotAction or NotResource.
 */

/** A parsed statement. */
export interface IamStatement {
  effect: 'Allow' | 'Deny';
  actions: string[];
  resources: string[];
}

/** A parsed identity-based policy. */
export interface IamPolicy {
  statements: IamStatement[];
}

const allowedKeys = new Set(['Sid', 'Effect', 'Action', 'Resource']);

function stringList(v: unknown, what: string): string[] | string {
  const list = typeof v === 'string' ? [v] : Array.isArray(v) ? v : undefined;
  if (list === undefined || list.length === 0 || !list.every((x): x is string => typeof x === 'string' && x !== '')) return `${what} must be a non-empty string or list of strings`;
  return list;
}

/** Parses a policy document (object or JSON text); a string result is the problem. */
export function parseIamPolicy(doc: unknown): IamPolicy | string {
  let value = doc;
  if (typeof doc === 'string') {
    try {
      value = JSON.parse(doc);
    } catch {
      return 'policy is not JSON';
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'policy must be an object';
  const { Version: version, Statement: raw } = value as Record<string, unknown>;
  if (version !== '2012-10-17') return 'policy Version must be 2012-10-17';
  const list = Array.isArray(raw) ? raw : raw !== undefined ? [raw] : undefined;
  if (list === undefined) return 'policy has no Statement';
  const statements: IamStatement[] = [];
  for (const [i, s] of list.entries()) {
    if (s === null || typeof s !== 'object' || Array.isArray(s)) return `Statement ${i} must be an object`;
    const st = s as Record<string, unknown>;
    const extra = Object.keys(st).find((k) => !allowedKeys.has(k));
    if (extra !== undefined) return `Statement ${i}: ${extra} is not supported by the emulator`;
    if (st['Effect'] !== 'Allow' && st['Effect'] !== 'Deny') return `Statement ${i}: Effect must be Allow or Deny`;
    const actions = stringList(st['Action'], `Statement ${i} Action`);
    if (typeof actions === 'string') return actions;
    const resources = stringList(st['Resource'], `Statement ${i} Resource`);
    if (typeof resources === 'string') return resources;
    statements.push({ effect: st['Effect'], actions, resources });
  }
  return { statements };
}

/** IAM wildcard match: `*` any run of characters (also none), `?` exactly one character. */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  const v = ignoreCase ? value.toLowerCase() : value;
  // Iterative glob with single-star backtracking: linear in practice, no regex built from input.
  let pi = 0;
  let vi = 0;
  let star = -1;
  let mark = 0;
  while (vi < v.length) {
    if (pi < p.length && (p[pi] === '?' || (p[pi] !== '*' && p[pi] === v[vi]))) {
      pi++;
      vi++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = vi;
    } else if (star >= 0) {
      pi = star + 1;
      vi = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

function statementMatches(s: IamStatement, action: string, resource: string): boolean {
  return s.actions.some((a) => wildcardMatch(a, action, true)) && s.resources.some((r) => wildcardMatch(r, resource));
}

/** The decision for one request: an explicit Deny wins, then any Allow; otherwise implicitly denied. */
export function evaluateIamPolicy(policy: IamPolicy, action: string, resource: string): 'allow' | 'explicit-deny' | 'implicit-deny' {
  if (policy.statements.some((s) => s.effect === 'Deny' && statementMatches(s, action, resource))) return 'explicit-deny';
  return policy.statements.some((s) => s.effect === 'Allow' && statementMatches(s, action, resource)) ? 'allow' : 'implicit-deny';
}

/** AWS's AccessDenied message (docs/design/aws.md §11 logs it; the proxy reads the action and resource from it). */
export function accessDeniedMessage(callerArn: string, action: string, resource: string, decision: 'explicit-deny' | 'implicit-deny'): string {
  const why = decision === 'explicit-deny' ? 'with an explicit deny in an identity-based policy' : 'because no identity-based policy allows the ' + action + ' action';
  return `User: ${callerArn} is not authorized to perform: ${action} on resource: ${resource} ${why}`;
}

/** Policies by principal: the key is the caller's IAM ARN (role ARN for assumed-role sessions). */
export class PolicyTable {
  readonly #byPrincipal = new Map<string, IamPolicy>();

  /** Sets (or with undefined, removes) the identity-based policy of a principal; throws on a bad document. */
  set(principalArn: string, doc: unknown): void {
    if (doc === undefined) {
      this.#byPrincipal.delete(principalArn);
      return;
    }
    const policy = parseIamPolicy(doc);
    if (typeof policy === 'string') throw new Error(`emulator policy for ${principalArn}: ${policy}`);
    this.#byPrincipal.set(principalArn, policy);
  }

  /**
   * The AccessDenied message for the first of `checks` the caller's policy does not allow, or
   * undefined when all are allowed. A principal without a policy is allowed everything (the
   * emulator's default, so existing setups keep working).
   */
  authorize(callerArn: string, checks: ReadonlyArray<readonly [action: string, resource: string]>): string | undefined {
    const policy = this.#byPrincipal.get(policyKey(callerArn));
    if (policy === undefined) return undefined;
    for (const [action, resource] of checks) {
      const decision = evaluateIamPolicy(policy, action, resource);
      if (decision !== 'allow') return accessDeniedMessage(callerArn, action, resource, decision);
    }
    return undefined;
  }
}

/** The IAM principal a caller ARN's policies belong to: `…:sts::A:assumed-role/R/S` → `…:iam::A:role/R`. */
export function policyKey(callerArn: string): string {
  const m = /^arn:([\w-]+):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/.exec(callerArn);
  return m === null ? callerArn : `arn:${m[1] ?? ''}:iam::${m[2] ?? ''}:role/${m[3] ?? ''}`;
}

/** The partition of a caller ARN (`aws` when unreadable). */
export function partitionOf(callerArn: string): string {
  return callerArn.split(':')[1] || 'aws';
}
