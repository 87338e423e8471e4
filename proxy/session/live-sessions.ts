/** The registry of sessions past login (admin `/sessions`, revocation on reload; docs/design/surface.md §6, §10): loggable facts only, never a token or password. */
import type { Identity } from '../../auth/types.js';
import type { ProxyError } from '../errors/proxy-error.js';
import type { SessionEndReason } from '../telemetry/observer.js';

/** One live session as `GET /sessions` shows it. */
export interface LiveSessionInfo {
  connectionId: string;
  /** The client's address (after PROXY protocol). */
  clientAddress: string;
  /** Canonical ARN of the verified identity. */
  identity: string;
  /** The database user the session is logged in as upstream. */
  dbUser: string;
  /** The `databases` key the client asked for. */
  database: string;
  /** ISO 8601, when the relay started. */
  startedAt: string;
  clientToUpstreamBytes: number;
  upstreamToClientBytes: number;
  /** The upstream backend's process id (from its BackendKeyData): Redshift's SYS_QUERY_HISTORY.session_id. */
  upstreamPid?: number;
  /** True when the upstream session was handed on from a departed client (upstream session reuse). */
  reused: boolean;
}

/** What a revocation check needs: the login's identity, startup user and database. */
export interface LiveSessionFacts {
  connectionId: string;
  /** Undefined only with a test authenticator that reports none. */
  identity: Identity | undefined;
  /** The startup `user` the rules matched. */
  user: string;
  database: string;
}

/** A registered session: its facts, a snapshot for the admin API, and how to end it. */
export interface LiveSession extends LiveSessionFacts {
  info(): LiveSessionInfo;
  /** Ends the session with a FATAL `error` (a running query is cancelled upstream); `reason` labels the metric. */
  end(error: ProxyError, reason: SessionEndReason): void;
}

/** Inputs of liveSession(). */
export interface LiveSessionSource {
  connectionId: string;
  /** Read at each listing, so a later-known address (PROXY protocol) shows. */
  clientAddress(): string;
  identity: Identity | undefined;
  user: string;
  database: string;
  dbUser: string;
  startedAtMs: number;
  /** The upstream backend's process id. */
  upstreamPid?: number;
  /** The upstream session was handed on (reuse). */
  reused?: boolean;
  /** The relay's live byte counters. */
  counters: { readonly clientToUpstreamBytes: number; readonly upstreamToClientBytes: number };
  end(error: ProxyError, reason: SessionEndReason): void;
}

/** Builds the registry entry of one relayed session. */
export function liveSession(src: LiveSessionSource): LiveSession {
  const startedAt = new Date(src.startedAtMs).toISOString();
  return {
    connectionId: src.connectionId,
    identity: src.identity,
    user: src.user,
    database: src.database,
    info: () => ({
      connectionId: src.connectionId,
      clientAddress: src.clientAddress(),
      identity: src.identity?.canonicalArn ?? '',
      dbUser: src.dbUser,
      database: src.database,
      startedAt,
      clientToUpstreamBytes: src.counters.clientToUpstreamBytes,
      upstreamToClientBytes: src.counters.upstreamToClientBytes,
      ...(src.upstreamPid === undefined ? {} : { upstreamPid: src.upstreamPid }),
      reused: src.reused ?? false,
    }),
    end: (error, reason) => src.end(error, reason),
  };
}

/** Answers whether the current rules still admit a session. */
export type SessionAdmissionCheck = (facts: LiveSessionFacts) => boolean;

/** Sessions past login, by connection id, and the admission check of the latest reload. */
export class LiveSessions {
  private readonly byId = new Map<string, LiveSession>();
  private readonly onRevoked: (session: LiveSession) => void;
  private check: SessionAdmissionCheck | undefined;

  /** `onRevoked` ends a session the current rules refuse (and logs it). */
  constructor(onRevoked: (session: LiveSession) => void = () => {}) {
    this.onRevoked = onRevoked;
  }

  /** Number of live sessions. */
  get size(): number {
    return this.byId.size;
  }

  /**
   * Registers a session (its connection id is unique per server). A login that was mapped under the old
   * rules but finishes after a reload is checked here against the new ones, so it cannot slip through.
   */
  add(session: LiveSession): void {
    this.byId.set(session.connectionId, session);
    if (this.check !== undefined && !this.check(session)) this.onRevoked(session);
  }

  /** Installs the admission check of a reload and revokes every live session it refuses; returns how many. */
  revoke(check: SessionAdmissionCheck): number {
    this.check = check;
    let revoked = 0;
    for (const session of this.all()) {
      if (check(session)) continue;
      revoked++;
      this.onRevoked(session);
    }
    return revoked;
  }

  /** Unregisters `session` (a no-op when another entry holds its id). */
  remove(session: LiveSession): void {
    if (this.byId.get(session.connectionId) === session) this.byId.delete(session.connectionId);
  }

  /** The session with this connection id, if live. */
  get(connectionId: string): LiveSession | undefined {
    return this.byId.get(connectionId);
  }

  /** A snapshot of every live session, oldest first. */
  list(): LiveSessionInfo[] {
    return [...this.byId.values()].map((s) => s.info()).sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : 0));
  }

  /** Every live session (a copy: ending one while iterating is safe). */
  all(): LiveSession[] {
    return [...this.byId.values()];
  }
}
