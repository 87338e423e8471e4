/** The reuse key: which departed clients' upstream sessions a new client may be handed (never across keys). */
import type { UpstreamTarget } from '../../auth/types.js';

/** Everything that must be equal for two logins to share an upstream session. */
export interface ReuseKeyInput {
  /** The verified principal's canonical ARN: two identities mapped to one dbUser never share. */
  principalArn: string;
  /** The `databases` entry the client asked for. */
  database: string;
  /** Where the upstream session lives and how it was dialed. */
  target: Pick<UpstreamTarget, 'host' | 'port' | 'dbName' | 'engine' | 'tlsMode' | 'caFile'>;
  /** The database user the upstream session is logged in as (as sent upstream, e.g. `IAMA:alice`). */
  dbUser: string;
  /** The rule's dbGroups (order does not matter). */
  dbGroups: readonly string[];
  /** On workgroups with `assumeRole`: the role and the session tags it was assumed with. */
  assumedRole?: { roleArn: string; sessionTags: Readonly<Record<string, string>> };
  /** The startup parameters forwarded upstream, exactly (order does not matter; names are not case-folded). */
  startupParameters: ReadonlyArray<readonly [string, string]>;
}

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byPair = (a: readonly [string, string], b: readonly [string, string]): number => byCodeUnits(a[0], b[0]) || byCodeUnits(a[1], b[1]);

/** The reuse key as a string: JSON of one canonical array, so no two different inputs give the same key. */
export function reuseKey(input: ReuseKeyInput): string {
  const { target } = input;
  const role = input.assumedRole === undefined ? null : [input.assumedRole.roleArn, Object.entries(input.assumedRole.sessionTags).sort(byPair)];
  return JSON.stringify([
    'rsproxy-reuse-1',
    input.principalArn,
    input.database,
    [target.host, target.port, target.dbName, target.engine, target.tlsMode, target.caFile ?? null],
    input.dbUser,
    [...input.dbGroups].sort(byCodeUnits),
    role,
    input.startupParameters.map(([k, v]) => [k, v] as const).sort(byPair),
  ]);
}
