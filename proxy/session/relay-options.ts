/** The relay's options and totals, and the link a client-to-upstream mode (statement gate, check-in tracker) has to its relay. */
import type * as net from 'node:net';
import type { Logger } from '../../auth/types.js';
import type { CheckinTracker } from '../upstream/checkin-tracker.js';
import type { SessionObserver } from '../telemetry/observer.js';
import type { StatementGate } from './statement-gate.js';

/** Totals reported when the relay ends. */
export interface RelayStats {
  clientToUpstreamBytes: number;
  upstreamToClientBytes: number;
  /** Which side ended first: 'client', 'upstream', or 'local' (close() called). */
  endedBy: 'client' | 'upstream' | 'local';
  /** The last message the client sent was a Terminate: the upstream then closes first, at the client's request. */
  isClientTerminate: boolean;
}

/** Options of a Relay. */
export interface RelayOptions {
  client: net.Socket;
  upstream: net.Socket;
  observer: SessionObserver;
  logger: Logger;
  /** Called exactly once, after both sockets are closed. */
  onClose: (stats: RelayStats) => void;
  /** How often byte counts are pushed to the observer (default 5,000 ms). */
  counterFlushMs?: number;
  /** How long a half-closed side may take to flush before it is destroyed (default 5,000 ms). */
  lingerMs?: number;
  /**
   * Cancels whatever the upstream session is running (a CancelRequest on a new connection). Called when the
   * client went away and the upstream has not closed within `cancelGraceMs`, and at shutdown while the upstream
   * is busy: PostgreSQL and Redshift do not read their socket during a query, so closing it does not stop it.
   */
  cancelUpstream?: () => Promise<void>;
  /** Default clientLossCancelGraceMs. */
  cancelGraceMs?: number;
  /** With audit.statements on: the client's bytes pass through this gate (statement-gate.ts); absent, the plain pipe. */
  statementGate?: StatementGate;
  /** Upstream session reuse: the check-in tracker replaces the boundary tracking, and a clean upstream outlives its client. */
  checkin?: RelayCheckin;
}

/** How a reusing relay decides, when its client has left, whether the upstream is handed over instead of ended. */
export interface RelayCheckin {
  tracker: CheckinTracker;
  /** The client left first: true when the owner takes the upstream (the relay has already let go of it). */
  handOver(upstream: net.Socket): boolean;
}

/** What a client-to-upstream mode other than the plain pipe needs of its relay; built once per relay, never per chunk. */
export interface RelayLink {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  /** Adds to the client → upstream byte count. */
  countFromClient(bytes: number): void;
  /** Adds to the upstream → client byte count. */
  countFromUpstream(bytes: number): void;
  /** True once closeWith() began: chunks are then counted but not forwarded. */
  isClosing(): boolean;
  /** After a forwarded chunk: wakes a whenIdle() waiter if the upstream is now idle. */
  afterChunk(): void;
  /** Records client bytes that left for the upstream (message boundaries for a clean shutdown). */
  noteToUpstream(bytes: Buffer): void;
  /** The upstream's 'end': the relay ends the client side after its linger. */
  upstreamEnded(): void;
  /** The upstream's 'error': the relay tears both sides down. */
  upstreamFailed(err: Error): void;
  /** The upstream's 'close': the relay finishes once the client is closed too. */
  upstreamClosed(): void;
}
