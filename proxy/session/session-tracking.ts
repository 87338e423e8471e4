/** What starts with a relayed session besides the relay: its /sessions registry entry and its age limit (docs/design/surface.md §6, §10). */
import { sessionTooOld } from '../errors/proxy-error.js';
import { liveSession } from './live-sessions.js';
import type { LiveSessionSource, LiveSessions } from './live-sessions.js';
import type { Relay } from './relay.js';
import { armSessionAgeLimit } from './session-age-limit.js';

/** Inputs of trackRelayedSession: the registry entry's facts, the relay, and the limits. */
export interface RelayedSessionTracking extends Omit<LiveSessionSource, 'counters'> {
  relay: Relay;
  /** Registry for /sessions and revocation (absent: not registered). */
  liveSessions?: LiveSessions | undefined;
  /** limits.maxSessionSeconds (0 = off). */
  maxSessionSeconds: number;
  /** Grace after the limit for a busy session (default 300 s). */
  maxSessionGraceMs?: number | undefined;
}

/** Registers the session and arms its age limit; the returned function undoes both (call it once the relay closed). */
export function trackRelayedSession(t: RelayedSessionTracking): () => void {
  const { relay, liveSessions } = t;
  const entry = liveSession({
    connectionId: t.connectionId,
    clientAddress: t.clientAddress,
    identity: t.identity,
    user: t.user,
    database: t.database,
    dbUser: t.dbUser,
    startedAtMs: t.startedAtMs,
    ...(t.upstreamPid === undefined ? {} : { upstreamPid: t.upstreamPid }),
    ...(t.reused === undefined ? {} : { reused: t.reused }),
    counters: relay,
    end: t.end,
  });
  liveSessions?.add(entry);
  const disarm =
    t.maxSessionSeconds > 0
      ? armSessionAgeLimit({
          maxAgeMs: t.maxSessionSeconds * 1000,
          ...(t.maxSessionGraceMs === undefined ? {} : { graceMs: t.maxSessionGraceMs }),
          whenIdle: (onIdle) => relay.whenIdle(onIdle),
          end: () => t.end(sessionTooOld(), 'max_age'),
        })
      : undefined;
  return () => {
    disarm?.();
    liveSessions?.remove(entry);
  };
}
