/** The audit records (one JSON line each) and their serialisation with a fixed key order. */

/** The events an audit record can carry. */
export const auditEvents = ['login', 'login_denied', 'session_end', 'revoked', 'admin_terminate', 'statement'] as const;
/** One of auditEvents. */
export type AuditEvent = (typeof auditEvents)[number];

/** What every record says about the connection. */
export interface ConnectionFields {
  connectionId: string;
  /** `ip:port` of the client (after PROXY protocol, the real client). */
  clientAddress: string;
}

/** Who is logged in where: on every record of an admitted session. */
export interface SessionFields {
  /** Canonical ARN (an assumed role without its session name). */
  identity: string;
  /** The ARN STS returned; for an assumed role it holds the session name, i.e. the person. */
  callerArn: string;
  accountId: string;
  /** The `databases` key the client asked for. */
  database: string;
  dbUser: string;
  dbGroups: readonly string[];
  /** Upstream `host:port`. */
  target: string;
  applicationName: string;
  /** The upstream backend's pid (Redshift SYS_QUERY_HISTORY.session_id, STL_QUERY.pid); null if the upstream sent none. */
  upstreamPid: number | null;
  /** True when the upstream session came from the reuse pool. */
  reused: boolean;
}

/** A login that was admitted (written before AuthenticationOk). */
export interface LoginEntry extends ConnectionFields, SessionFields {
  event: 'login';
}

/** A login that was refused; the session fields are null where the login had not learnt them yet. */
export interface LoginDeniedEntry extends ConnectionFields, NullableSessionFields {
  event: 'login_denied';
  sqlstate: string;
  /** The reason the operational log's login_failed line gives (the rsproxy_logins_total label: a closed, secret-free code such as `expired`). */
  reason: string;
}

/** SessionFields, each possibly unknown. */
export type NullableSessionFields = { [K in keyof SessionFields]: SessionFields[K] | null };

/** The end of an admitted session. */
export interface SessionEndEntry extends ConnectionFields, SessionFields {
  event: 'session_end';
  /** As the `reason` label of rsproxy_sessions_ended_total: client, upstream, revoked, max_age, admin, shutdown. */
  reason: string;
  durationMs: number;
  clientToUpstreamBytes: number;
  upstreamToClientBytes: number;
  /** How many statement records this session wrote. */
  statements: number;
}

/** A session ended because its credentials or rule were revoked. */
export interface RevokedEntry extends ConnectionFields, SessionFields {
  event: 'revoked';
}

/** A session terminated through the admin API. */
export interface AdminTerminateEntry extends ConnectionFields, SessionFields {
  event: 'admin_terminate';
}

/** One simple Query or one Parse of the extended protocol (written before it is forwarded). */
export interface StatementEntry extends ConnectionFields, SessionFields {
  event: 'statement';
  protocol: 'simple' | 'extended';
  /** The fingerprint, or the masked (and possibly cut) text in `full` mode. */
  text: string;
  /** Present (true) only when `full` mode cut the text at maxStatementBytes. */
  truncated?: true;
}

/** What the owner hands to the writer: a record without its chain fields. */
export type AuditEntry = LoginEntry | LoginDeniedEntry | SessionEndEntry | RevokedEntry | AdminTerminateEntry | StatementEntry;

/** The fields the writer adds: position in the chain and time. */
export interface ChainFields {
  seq: number;
  /** RFC 3339 UTC with milliseconds. */
  time: string;
  /** SHA-256 hex of the previous line (without its newline); 64 zeros for the first record. */
  prev: string;
}

/** A record as written. */
export type AuditRecord = ChainFields & AuditEntry;

/** The `prev` of the very first record. */
export const genesisPrev = '0'.repeat(64);

/** The keys every record starts with, in order (seq, time and prev are the chain's). */
export const headKeys = ['seq', 'time', 'event', 'connectionId', 'clientAddress', 'prev'] as const;
/** The keys of SessionFields, in the order they follow the head. */
export const sessionKeys = ['identity', 'callerArn', 'accountId', 'database', 'dbUser', 'dbGroups', 'target', 'applicationName', 'upstreamPid', 'reused'] as const;

/** The key order of each event's record, after the head and session keys. */
export const tailKeys: Readonly<Record<AuditEvent, readonly string[]>> = {
  login: [],
  login_denied: ['sqlstate', 'reason'],
  session_end: ['reason', 'durationMs', 'clientToUpstreamBytes', 'upstreamToClientBytes', 'statements'],
  revoked: [],
  admin_terminate: [],
  statement: ['protocol', 'text', 'truncated'],
};

const keysByEvent: ReadonlyMap<AuditEvent, readonly string[]> = new Map(auditEvents.map((e) => [e, [...headKeys, ...sessionKeys, ...tailKeys[e]]]));

/** The record's keys in the order they are written. */
export function recordKeys(event: AuditEvent): readonly string[] {
  return keysByEvent.get(event) ?? [];
}

let cachedSecond = Number.NaN;
let cachedSecondPrefix = '';

/** RFC 3339 UTC with milliseconds, e.g. 2026-12-07T18:12:59.123Z. */
export function formatAuditTime(epochMs: number): string {
  // A record per statement: the text up to the second is built once per second.
  const second = Math.floor(epochMs / 1000);
  if (second !== cachedSecond) {
    const iso = new Date(second * 1000).toISOString();
    if (iso.length !== 24) return new Date(epochMs).toISOString();
    cachedSecond = second;
    cachedSecondPrefix = iso.slice(0, 20);
  }
  const ms = Math.floor(epochMs) - second * 1000;
  return `${cachedSecondPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
}
