/** What a ClientSession is given: its socket, limits, ports and callbacks (the server builds one per accepted socket). */
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import type { Authenticator, Logger } from '../../auth/types.js';
import type { ProxyError } from '../errors/proxy-error.js';
import type { StartupMessage } from '../protocol/frontend.js';
import type { CancelRegistry } from './cancel-registry.js';
import type { LiveSessions } from './live-sessions.js';
import type { SessionAudit } from './session-audit.js';
import type { SessionObserver } from '../telemetry/observer.js';
import type { SendUpstreamCancelFn, UpstreamLoginFn } from '../upstream/types.js';
import type { UpstreamReusePort } from '../upstream/reuse-pool.js';


/** Limits one session enforces (`limits.*`). */
export interface SessionLimits {
  loginTimeoutMs: number;
  maxStartupBytes: number;
  maxPasswordBytes: number;
  /** A relayed session older than this ends at its first idle moment; 0 or absent = no limit. */
  maxSessionSeconds?: number;
}

/** Everything a ClientSession needs; the server builds one per accepted socket. */
export interface ClientSessionOptions {
  socket: net.Socket;
  connectionId: string;
  /** The client's address: from a trusted PROXY header, else the TCP peer (default `socket.remoteAddress`). */
  clientAddress?: string;
  /** The balancer that sent the PROXY header naming clientAddress (logged beside it). */
  proxiedBy?: string;
  /** When the socket was accepted, if earlier than now (a PROXY header was read first): the login timeout counts from here. */
  acceptedAtMs?: number;
  secureContext: tls.SecureContext;
  limits: SessionLimits;
  /** `startupParameters.drop`, lower-cased (dropSet): names never forwarded upstream (default none). */
  startupParameterDrop?: ReadonlySet<string>;
  authenticator: Authenticator;
  upstreamLogin: UpstreamLoginFn;
  cancelRegistry: CancelRegistry;
  /** Cancels the upstream query when the client goes away mid-query (default: the real upstream cancel). */
  sendUpstreamCancel?: SendUpstreamCancelFn;
  logger: Logger;
  observer: SessionObserver;
  /** Asked when a StartupMessage arrives: an error (57P01 draining, 53300 cap) refuses the login. */
  admit: () => ProxyError | undefined;
  /** Called exactly once when the client connection is gone, and the upstream connection too if there was one. */
  onClose: () => void;
  nowMs?: () => number;
  /** Where the session registers itself once past login (admin /sessions, revocation on reload). */
  liveSessions?: LiveSessions;
  /** How long after maxSessionSeconds a busy session may run before it is cancelled (default 300 s). */
  maxSessionGraceMs?: number;
  /** The audit trail (`audit.file` set); absent: no records and the plain relay. */
  audit?: SessionAudit;
  /** The client's port (from the PROXY header when proxied; default the TCP peer's), for the audit records' clientAddress. */
  clientPort?: number;
  /** Upstream session reuse (absent: every login is a fresh upstream login). */
  reuse?: UpstreamReusePort;
}
