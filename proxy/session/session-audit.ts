/** The session's port to the audit trail and the records one session writes: login, login_denied, revoked, admin_terminate, statements, session_end (docs/operations/audit.md). */
import type { AuthResult } from '../../auth/types.js';
import type { AuditEntry, AuditWriteResult, CapturedStatement, ConnectionFields, NullableSessionFields, SealedEntry, SessionFields, StatementMode } from '../audit/index.js';
import { statementRecords } from '../audit/index.js';
import type { ProxyError } from '../errors/proxy-error.js';
import type { SessionEndReason } from '../telemetry/observer.js';
import type { LoginProgress } from './login.js';
import type { RelayStats } from './relay.js';
import type { StartupParams } from './startup-params.js';

/** The audit trail as a session sees it; a session without one behaves as if audit were off. */
export interface SessionAudit {
  /** Appends one record; resolves once it is in the file or has failed (never rejects). */
  write(entry: AuditEntry): Promise<AuditWriteResult>;
  /** Appends one sealed record; calls `done` once it is in the file or has failed. */
  appendThen(sealed: SealedEntry, done: (result: AuditWriteResult) => void): void;
  /** `audit.statements`: with 'off' the relay stays the plain byte pipe. */
  readonly statements: 'off' | StatementMode;
  readonly maxStatementBytes: number;
}

/** `host:port`, IPv6 hosts in brackets. */
export function hostPort(host: string, port: number | undefined): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return port === undefined ? h : `${h}:${port}`;
}

/** The client's `application_name` startup parameter ('' when it sent none). */
export function applicationName(params: StartupParams | undefined): string {
  const all = [...(params?.forwarded ?? []), ...(params?.redshiftOnly ?? [])];
  return all.find(([name]) => name.toLowerCase() === 'application_name')?.[1] ?? '';
}

/** What every record of an admitted session says about who is logged in where. */
export function admittedSessionFields(f: { result: AuthResult; params: StartupParams | undefined; upstreamPid: number | undefined; reused?: boolean }): SessionFields {
  const id = f.result.identity;
  return {
    identity: id?.canonicalArn ?? '',
    callerArn: id?.arn ?? '',
    accountId: id?.accountId ?? '',
    database: f.params?.database ?? f.result.target.database,
    dbUser: f.result.upstreamUser,
    dbGroups: [...(f.result.dbGroups ?? [])],
    target: hostPort(f.result.target.host, f.result.target.port),
    applicationName: applicationName(f.params),
    upstreamPid: f.upstreamPid ?? null,
    reused: f.reused ?? false,
  };
}

/** The login_denied record: what the login had learnt so far (null where not yet known), the SQLSTATE the client gets and the operational log's reason. Never a token. */
export function loginDeniedEntry(connection: ConnectionFields, error: ProxyError, params: StartupParams | undefined, progress: LoginProgress | undefined, sqlstate?: string): AuditEntry {
  const facts = progress?.facts;
  const id = facts?.identity;
  const session: NullableSessionFields = {
    identity: id?.canonicalArn ?? null,
    callerArn: id?.arn ?? null,
    accountId: id?.accountId ?? null,
    database: params?.database ?? null,
    dbUser: facts?.upstreamUser ?? null,
    dbGroups: facts?.dbGroups === undefined ? null : [...facts.dbGroups],
    target: facts?.upstreamHost === undefined ? null : hostPort(facts.upstreamHost, facts.upstreamPort),
    applicationName: params === undefined ? null : applicationName(params),
    upstreamPid: null,
    reused: null,
  };
  return { ...connection, ...session, event: 'login_denied', sqlstate: sqlstate ?? error.sqlstate, reason: error.reason };
}

/** The audit records of one admitted session, with its statement count. */
export class SessionAuditTrail {
  private statementCount = 0;
  private isEnding = false;
  private readonly fields: ConnectionFields & SessionFields;
  private readonly statementRecord: ((captured: CapturedStatement) => SealedEntry) | undefined;

  constructor(
    private readonly audit: SessionAudit,
    connection: ConnectionFields,
    session: SessionFields,
    private readonly startedAtMs: number,
  ) {
    this.fields = { ...connection, ...session };
    this.statementRecord = audit.statements === 'off' ? undefined : statementRecords(this.fields, audit.statements, audit.maxStatementBytes);
  }

  /** `audit.statements` of this session. */
  get statements(): SessionAudit['statements'] {
    return this.audit.statements;
  }

  /** The login record (before AuthenticationOk). */
  login(): Promise<AuditWriteResult> {
    return this.audit.write({ ...this.fields, event: 'login' });
  }

  /** Writes the record of one statement, then calls `done` with whether the statement may be forwarded. */
  statement(captured: CapturedStatement, done: (proceed: boolean) => void): void {
    if (this.statementRecord === undefined) return done(true);
    this.audit.appendThen(this.statementRecord(captured), (result) => {
      if (result.written) this.statementCount++;
      done(result.proceed);
    });
  }

  /** The revoked or admin_terminate record; resolves once it is written (or failed), before the session is closed. Once per session. */
  async ending(reason: SessionEndReason): Promise<void> {
    if (this.isEnding || (reason !== 'revoked' && reason !== 'admin')) return;
    this.isEnding = true;
    await this.audit.write({ ...this.fields, event: reason === 'revoked' ? 'revoked' : 'admin_terminate' });
  }

  /** The session_end record. */
  ended(reason: SessionEndReason, stats: RelayStats, nowMs: number): void {
    void this.audit.write({
      ...this.fields,
      event: 'session_end',
      reason,
      durationMs: Math.max(0, Math.round(nowMs - this.startedAtMs)),
      clientToUpstreamBytes: stats.clientToUpstreamBytes,
      upstreamToClientBytes: stats.upstreamToClientBytes,
      statements: this.statementCount,
    });
  }
}

/** Inputs of auditLogin. */
export interface AuditLoginInputs {
  result: AuthResult;
  params: StartupParams | undefined;
  upstreamPid: number | undefined;
  /** The upstream session came from the reuse pool (default false). */
  reused?: boolean;
  connection: ConnectionFields;
  nowMs: number;
  /** False once the session left the login while the record was being written (timeout, client gone). */
  isStillLoggingIn(): boolean;
}

/**
 * Writes the login record (before AuthenticationOk): the session's trail when the login may go on;
 * 'gone' when the session left the login meanwhile; 'refused' when the record could not be written under refuse.
 */
export async function auditLogin(audit: SessionAudit, f: AuditLoginInputs): Promise<SessionAuditTrail | 'gone' | 'refused'> {
  const trail = new SessionAuditTrail(audit, f.connection, admittedSessionFields(f), f.nowMs);
  const written = await trail.login();
  if (!f.isStillLoggingIn()) return 'gone';
  return written.proceed ? trail : 'refused';
}
