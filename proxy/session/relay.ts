/** The post-login byte pipe: opaque bytes both ways, backpressure, byte counters, teardown exactly once (docs/design/wire-protocol.md §13). */
import type { Logger } from '../../auth/types.js';
import { sessionLimits } from '../config/limits.js';
import { MessageBoundaryTracker } from '../protocol/message-boundary.js';
import { attachGatedClient } from './relay-gated.js';
import { RelayHandOver } from './relay-hand-over.js';
import type { RelayLink, RelayOptions, RelayStats } from './relay-options.js';

export type { RelayCheckin, RelayOptions, RelayStats } from './relay-options.js';

/** How long the upstream may take to close by itself after the client went away before the proxy cancels its query. */
export const clientLossCancelGraceMs = 150;

/** Default time a half-closed side may take to flush before it is destroyed. */
export const defaultRelayLingerMs = sessionLimits.relayLingerMs;

const terminateMessage = Buffer.from([0x58, 0, 0, 0, 4]);

/** Pipes bytes between a logged-in client and its upstream until either side goes away. */
export class Relay {
  private readonly opts: RelayOptions;
  private c2u = 0;
  private u2c = 0;
  private c2uReported = 0;
  private u2cReported = 0;
  private endedBy: RelayStats['endedBy'] | undefined;
  private isClientClosed = false;
  private isUpstreamClosed = false;
  private isFinished = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  // Message boundaries of what was forwarded each way, so a shutdown can write a FATAL to the client and
  // a Terminate upstream without corrupting either stream (docs/design/wire-protocol.md §13). Header reads only, no copies.
  // Every Query, Sync or FunctionCall is answered by exactly one ReadyForQuery, so more of those sent than
  // ReadyForQuery received means the upstream is still running something.
  private readonly toClient = new MessageBoundaryTracker('Z');
  private readonly toUpstream = new MessageBoundaryTracker('QSF');
  private isClosing = false;
  private pendingShutdownCancel: Promise<void> | undefined;
  // Set only while someone waits for an idle moment (maxSessionSeconds): the hot path then pays one field test per chunk.
  private idleWaiter: (() => void) | undefined;
  // Reuse only: the check-in tracker's listeners and the hand-over of a clean upstream.
  private readonly handOver: RelayHandOver | undefined;

  constructor(opts: RelayOptions) {
    this.opts = opts;
    this.handOver = opts.checkin === undefined ? undefined : new RelayHandOver(opts.checkin, this.link());
  }

  /** Records bytes forwarded outside the relay (login leftovers, held client bytes) so boundaries stay exact. */
  noteForwarded(direction: 'toClient' | 'toUpstream', bytes: Buffer): void {
    const tracker = this.opts.checkin?.tracker;
    if (tracker === undefined) (direction === 'toClient' ? this.toClient : this.toUpstream).feed(bytes);
    else if (direction === 'toClient') tracker.feedFromUpstream(bytes);
    else tracker.feedFromClient(bytes);
  }

  /** Bytes relayed client → upstream so far. */
  get clientToUpstreamBytes(): number {
    return this.c2u;
  }

  /** Bytes relayed upstream → client so far. */
  get upstreamToClientBytes(): number {
    return this.u2c;
  }

  /** Attaches the listeners and resumes both sockets. */
  start(): void {
    const { client, upstream } = this.opts;
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    if (this.handOver !== undefined) this.handOver.attach();
    else {
      // The hot path: one 'data' event → one write, plain closures with number adds, no parsing, no per-chunk
      // allocation and no extra event-loop hop. Nothing to coalesce: libpq and PostgreSQL flush one TLS record per
      // message batch, so each read is already one write (strace: 1 read + 1 write per direction per query).
      if (this.opts.statementGate !== undefined) attachGatedClient(this.opts.statementGate, this.link());
      else {
        client.on('data', (chunk: Buffer) => {
          this.c2u += chunk.length;
          if (upstream.destroyed || this.isClosing) return;
          this.toUpstream.feed(chunk);
          if (!upstream.write(chunk)) client.pause();
          if (this.idleWaiter !== undefined) this.checkIdle();
        });
        upstream.on('drain', () => client.resume());
      }
      upstream.on('data', (chunk: Buffer) => {
        this.u2c += chunk.length;
        // A lost client: keep reading (and dropping) so the upstream's EOF after a cancel is seen.
        if (client.destroyed || this.isClosing) return;
        this.toClient.feed(chunk);
        if (!client.write(chunk)) upstream.pause();
        // After the write: whatever ended the query (its ReadyForQuery) is queued for the client before a farewell.
        if (this.idleWaiter !== undefined) this.checkIdle();
      });
      upstream.on('end', () => this.sideEnded('upstream'));
      upstream.on('error', (err) => this.sideFailed('upstream', err));
      upstream.on('close', () => this.upstreamClosed());
    }
    client.on('drain', () => upstream.resume());
    client.on('end', () => this.sideEnded('client'));
    client.on('error', (err) => this.sideFailed('client', err));
    client.on('close', () => {
      this.isClientClosed = true;
      this.sideEnded('client');
      this.maybeFinish();
    });
    this.flushTimer = setInterval(() => this.flushCounters(), this.opts.counterFlushMs ?? 5000);
    this.flushTimer.unref();
    if (client.destroyed) this.sideEnded('client');
    if (upstream.destroyed) this.sideEnded('upstream');
    client.resume();
    upstream.resume();
  }

  /** The relay's side of the gated and reusing modes; their per-chunk listeners live in relay-gated.ts and relay-hand-over.ts. */
  private link(): RelayLink {
    return {
      client: this.opts.client,
      upstream: this.opts.upstream,
      countFromClient: (bytes) => (this.c2u += bytes),
      countFromUpstream: (bytes) => (this.u2c += bytes),
      isClosing: () => this.isClosing,
      afterChunk: () => {
        if (this.idleWaiter !== undefined) this.checkIdle();
      },
      noteToUpstream: (bytes) => this.toUpstream.feed(bytes),
      upstreamEnded: () => this.sideEnded('upstream'),
      upstreamFailed: (err) => this.sideFailed('upstream', err),
      upstreamClosed: () => this.upstreamClosed(),
    };
  }

  private upstreamClosed(): void {
    this.isUpstreamClosed = true;
    this.sideEnded('upstream');
    this.maybeFinish();
  }

  /** True when the upstream was handed over for reuse when the client left. */
  get isHandedOver(): boolean {
    return this.handOver?.isHandedOver === true;
  }

  /** Pushes the byte counts accumulated since the last flush to the observer. */
  flushCounters(): void {
    const { observer } = this.opts;
    if (this.c2u > this.c2uReported) observer.bytes('client_to_upstream', this.c2u - this.c2uReported);
    if (this.u2c > this.u2cReported) observer.bytes('upstream_to_client', this.u2c - this.u2cReported);
    this.c2uReported = this.c2u;
    this.u2cReported = this.u2c;
  }

  /** Tears both sides down now (drain deadline, server destroy). */
  close(): void {
    this.endedBy ??= 'local';
    this.opts.client.destroy();
    if (!this.isHandedOver) this.opts.upstream.destroy();
  }

  /** True while the upstream owes a ReadyForQuery (a query is running or queued), or a client message is half sent. */
  get isUpstreamBusy(): boolean {
    const tracker = this.opts.checkin?.tracker;
    if (tracker !== undefined) return tracker.isUpstreamBusy;
    return this.toUpstream.countedMessages > this.toClient.countedMessages || !this.toUpstream.isAtBoundary || this.opts.statementGate?.isHolding === true;
  }

  /**
   * Calls `onIdle` once, at the first moment no query is running: now if idle, else right after the chunk that
   * brings the last ReadyForQuery (or completes a half-sent client message) has been forwarded. Returns a function
   * that stops waiting. One waiter at a time; a later call replaces it. Never called once the relay is closing.
   */
  whenIdle(onIdle: () => void): () => void {
    if (this.isClosing || this.isFinished) return () => {};
    if (!this.isUpstreamBusy) {
      onIdle();
      return () => {};
    }
    this.idleWaiter = onIdle;
    return () => {
      if (this.idleWaiter === onIdle) this.idleWaiter = undefined;
    };
  }

  /**
   * Ends the session for shutdown. When the bytes sent to the client end at a message boundary it gets
   * `farewell` (FATAL 57P01), as PostgreSQL itself would send; the upstream gets a Terminate when the
   * client's bytes end at a boundary, else it is just closed. A busy upstream also gets a CancelRequest:
   * neither a Terminate nor a closed socket stops a running query. The relay ends once that cancel is done.
   */
  closeWith(farewell: Buffer): { isFarewellSent: boolean; isUpstreamCancelled: boolean } {
    const { client, upstream, cancelUpstream } = this.opts;
    if (this.isClosing) return { isFarewellSent: false, isUpstreamCancelled: false };
    this.isClosing = true;
    this.idleWaiter = undefined;
    this.endedBy ??= 'local';
    const isUpstreamCancelled = this.isUpstreamBusy && !this.isUpstreamClosed && cancelUpstream !== undefined;
    if (isUpstreamCancelled) {
      this.pendingShutdownCancel = cancelUpstream()
        .catch((err: unknown) => this.opts.logger.warn({ event: 'upstream_cancel_on_shutdown_failed', err: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }, 'cancelling the upstream query at shutdown failed'))
        .finally(() => {
          this.pendingShutdownCancel = undefined;
          this.maybeFinish();
        });
    }
    const tracker = this.opts.checkin?.tracker;
    if (this.isHandedOver) {
      // Already the pool's.
    } else if (!upstream.destroyed && upstream.writable && (tracker?.isClientAtBoundary ?? this.toUpstream.isAtBoundary)) upstream.end(terminateMessage);
    else upstream.destroy();
    const canSay = !client.destroyed && client.writable && (tracker?.isUpstreamAtBoundary ?? this.toClient.isAtBoundary);
    if (canSay) client.end(farewell);
    else client.destroy();
    this.lingerTimer ??= setTimeout(() => this.close(), this.opts.lingerMs ?? defaultRelayLingerMs);
    this.lingerTimer.unref();
    return { isFarewellSent: canSay, isUpstreamCancelled };
  }

  private checkIdle(): void {
    if (this.isUpstreamBusy) return;
    const waiter = this.idleWaiter;
    this.idleWaiter = undefined;
    if (!this.isClosing) waiter?.();
  }

  private sideEnded(side: 'client' | 'upstream'): void {
    const isFirst = this.endedBy === undefined;
    this.endedBy ??= side;
    const { upstream } = this.opts;
    if (side === 'client' && isFirst && this.opts.checkin !== undefined && !this.isUpstreamClosed && this.handOverUpstream()) return;
    if (this.isHandedOver) return;
    const other = side === 'client' ? upstream : this.opts.client;
    // Let the other side flush what it already has (e.g. Terminate, a FATAL), then force it.
    if (!other.destroyed && !other.writableEnded) {
      // A reusing relay kept the client's Terminate: say it upstream now that the session is not kept.
      if (side === 'client' && this.opts.checkin?.tracker.isClientAtBoundary === true) other.end(terminateMessage);
      else other.end();
    }
    if (this.lingerTimer === undefined) {
      this.lingerTimer = setTimeout(() => this.close(), this.opts.lingerMs ?? defaultRelayLingerMs);
      this.lingerTimer.unref();
    }
    // Nobody will drain a gone client: let the upstream's remaining bytes and its EOF be read (and dropped).
    if (side === 'client' && this.opts.client.destroyed && !upstream.destroyed) upstream.resume();
    if (side === 'client' && this.endedBy === 'client' && this.graceTimer === undefined && !this.isUpstreamClosed && this.opts.cancelUpstream !== undefined) {
      this.graceTimer = setTimeout(() => this.cancelAfterClientLoss(), this.opts.cancelGraceMs ?? clientLossCancelGraceMs);
      this.graceTimer.unref();
    }
  }

  /** The client left first: lets go of the upstream when the owner keeps it (relay-hand-over.ts). */
  private handOverUpstream(): boolean {
    if (this.handOver === undefined || this.isClosing) return false;
    this.isUpstreamClosed = true;
    if (!this.handOver.handOver()) {
      this.isUpstreamClosed = this.opts.upstream.destroyed;
      return false;
    }
    const { client } = this.opts;
    if (!client.destroyed && !client.writableEnded) client.end();
    this.lingerTimer ??= setTimeout(() => this.close(), this.opts.lingerMs ?? defaultRelayLingerMs);
    this.lingerTimer.unref();
    this.maybeFinish();
    return true;
  }

  private cancelAfterClientLoss(): void {
    const { upstream, logger, cancelUpstream } = this.opts;
    if (this.isUpstreamClosed || upstream.readableEnded || cancelUpstream === undefined) return;
    logger.info({ event: 'upstream_cancel_on_client_loss' }, 'client went away while the upstream was busy; cancelling its query');
    cancelUpstream()
      .catch((err: unknown) => logger.warn({ event: 'upstream_cancel_on_client_loss_failed', err: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }, 'cancelling the upstream query failed'))
      .finally(() => upstream.destroy());
  }

  private sideFailed(side: 'client' | 'upstream', err: Error): void {
    this.endedBy ??= side;
    this.opts.logger.debug({ event: 'relay_socket_error', side, err: `${err.name}: ${err.message}` }, 'relay socket error');
    if (side === 'upstream') return this.close();
    // A lost client must not abort the upstream mid-query: end it and cancel its query if it stays (sideEnded).
    this.opts.client.destroy();
    this.sideEnded('client');
  }

  private maybeFinish(): void {
    if (this.isFinished || !this.isClientClosed || !this.isUpstreamClosed || this.pendingShutdownCancel !== undefined) return;
    this.isFinished = true;
    this.idleWaiter = undefined;
    if (this.flushTimer !== undefined) clearInterval(this.flushTimer);
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
    if (this.graceTimer !== undefined) clearTimeout(this.graceTimer);
    this.flushCounters();
    const isClientTerminate = this.opts.checkin === undefined ? this.toUpstream.lastType === terminateMessage[0] && this.toUpstream.isAtBoundary : this.opts.checkin.tracker.isClientTerminated;
    this.opts.onClose({ clientToUpstreamBytes: this.c2u, upstreamToClientBytes: this.u2c, endedBy: this.endedBy ?? 'local', isClientTerminate });
  }
}
