/** A logged-in client session's move to relaying: the relay with its cancel key (relay-start.ts), then its /sessions entry and age limit (session-tracking.ts). */
import type * as net from 'node:net';
import type { Logger } from '../../auth/types.js';
import { auditUnavailable } from '../errors/proxy-error.js';
import type { ProxyError } from '../errors/proxy-error.js';
import type { SessionEndReason } from '../telemetry/observer.js';
import type { IssuedKey } from './cancel-registry.js';
import type { ClientSessionOptions } from './client-session-options.js';
import type { LoggedIn, LoginProgress } from './login.js';
import type { Relay } from './relay.js';
import { startRelay } from './relay-start.js';
import type { SessionAuditTrail } from './session-audit.js';
import { trackRelayedSession } from './session-tracking.js';
import type { StartupParams } from './startup-params.js';

/** What the client session hands over when its login is complete. */
export interface RelayedSessionHost {
  opts: ClientSessionOptions;
  /** The client's TLS socket, with no data listener left. */
  client: net.Socket;
  log: Logger;
  clientAddress: string;
  params: StartupParams | undefined;
  progress: LoginProgress;
  acceptedAtMs: number;
  nowMs: () => number;
  /** Why the session ended when the proxy ended it. */
  localEndReason: () => SessionEndReason;
  /** Ends the relayed session (ClientSession.terminate). */
  terminate: (error: ProxyError, reason: SessionEndReason) => void;
  /** Called before the session is tracked, as its registry entry or age limit may end it at once. */
  onRelayStarted: (relay: Relay, key: IssuedKey) => void;
  onUpstreamHandedOver: () => void;
  /** Called once both sockets are closed and the cancel key is released. */
  onRelayClosed: () => void;
}

/** Starts the relay and tracks the session; the returned function unregisters it (call it once the relay closed). */
export function startRelayedSession(h: RelayedSessionHost, loggedIn: LoggedIn, held: Buffer, trail?: SessionAuditTrail): () => void {
  const { opts } = h;
  const { relay, key } = startRelay({
    client: h.client,
    loggedIn,
    held,
    cancelRegistry: opts.cancelRegistry,
    ...(opts.sendUpstreamCancel === undefined ? {} : { sendUpstreamCancel: opts.sendUpstreamCancel }),
    observer: opts.observer,
    logger: h.log,
    params: h.params,
    progress: h.progress,
    loginDurationSeconds: (h.nowMs() - h.acceptedAtMs) / 1000,
    localEndReason: h.localEndReason,
    ...(trail === undefined ? {} : { audit: { trail, onStatementRefused: () => h.terminate(auditUnavailable(), 'shutdown'), nowMs: h.nowMs } }),
    onUpstreamHandedOver: h.onUpstreamHandedOver,
    onClose: h.onRelayClosed,
  });
  h.onRelayStarted(relay, key);
  return trackRelayedSession({
    connectionId: opts.connectionId,
    clientAddress: () => h.clientAddress,
    identity: h.progress.facts?.identity,
    user: h.params?.user ?? '',
    database: h.params?.database ?? '',
    dbUser: h.progress.facts?.upstreamUser ?? '',
    startedAtMs: h.nowMs(),
    upstreamPid: loggedIn.upstream.backendKey.pid,
    reused: loggedIn.reuse?.isReused ?? false,
    relay,
    liveSessions: opts.liveSessions,
    maxSessionSeconds: opts.limits.maxSessionSeconds ?? 0,
    maxSessionGraceMs: opts.maxSessionGraceMs,
    // A revoked or admin_terminate record goes into the file before the session is closed.
    end: (error, reason) => (trail === undefined ? h.terminate(error, reason) : void trail.ending(reason).finally(() => h.terminate(error, reason))),
  });
}
