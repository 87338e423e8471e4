/** SessionObserver: the events the client side emits for metrics (labels are closed sets). A leaf: metrics.ts implements it without importing the session. */

/** Outcome label of a CancelRequest (docs/design/surface.md §5, §9, docs/design/wire-protocol.md §12); the peer_* ones on the replica that forwards. */
export type CancelResult = 'forwarded' | 'unknown_key' | 'rate_limited' | 'error' | 'peer_forwarded' | 'peer_forward_failed';

/** Direction label of relayed bytes. */
export type ByteDirection = 'client_to_upstream' | 'upstream_to_client';

/** Why a relayed session ended: label of rsproxy_sessions_ended_total (docs/design/surface.md §10). */
export type SessionEndReason = 'client' | 'upstream' | 'revoked' | 'max_age' | 'admin' | 'shutdown';

/** Every SessionEndReason, for pre-initialised metric labels. */
export const sessionEndReasons: readonly SessionEndReason[] = ['client', 'upstream', 'revoked', 'max_age', 'admin', 'shutdown'];

/** Receives session events; metrics.ts implements it. Must never throw. */
export interface SessionObserver {
  /** A client TCP connection was accepted. */
  clientConnectionOpened(): void;
  /** A client connection is gone (once per opened). */
  clientConnectionClosed(): void;
  /** A login finished; `reason` is the ProxyError reason label ('ok' on success). */
  login(result: 'ok' | 'failed', reason: string, durationSeconds: number): void;
  /** Bytes relayed after login. */
  bytes(direction: ByteDirection, n: number): void;
  /** A CancelRequest was handled. */
  cancel(result: CancelResult): void;
  /** A successful upstream login took this long (connect through ReadyForQuery). */
  upstreamConnect(durationSeconds: number): void;
  /** A session that got past login ended (once per relayed session). */
  sessionEnded(reason: SessionEndReason): void;
  /** The PROXY protocol gate closed a connection; `reason` is a closed set (proxy/session/proxy-header-reader.ts). */
  proxyHeaderRejected?(reason: string): void;
}

/** An observer that records nothing. */
export const nullSessionObserver: SessionObserver = {
  clientConnectionOpened() {},
  clientConnectionClosed() {},
  login() {},
  bytes() {},
  cancel() {},
  upstreamConnect() {},
  sessionEnded() {},
};
