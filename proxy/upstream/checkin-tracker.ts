/** The check-in gate of upstream session reuse: what a relayed session did that decides whether its upstream may be kept. */
import { CloseTarget, QueryBackendCode as B, QueryFrontendCode as F } from '../protocol/query-messages.js';
import { PeekingFramer, prefixTable } from './message-peek.js';

/** Why a departing client's upstream session is not kept (a `reason` of rsproxy_upstream_discards_total). */
export type CheckinDiscardReason =
  | 'unclean_end'
  | 'cancel'
  | 'copy'
  | 'outstanding_reply'
  | 'in_transaction'
  | 'prepare'
  | 'call'
  | 'declare_cursor'
  | 'listen';

/** The gate's answer: keep (with the named statements the reset must close) or discard with a reason. */
export type CheckinVerdict = { keep: true; openStatements: Buffer[] } | { keep: false; reason: CheckinDiscardReason };

/** Longest prepared-statement name followed; a longer one cannot be closed by the reset, so it taints the session. */
export const maxStatementNameBytes = 1024;

/** Most named statements followed; more taint the session (the reset would grow without bound). */
export const maxTrackedStatements = 1024;

/** Body bytes each client message type must show: Parse and Close start with the statement name. */
export const clientPrefixBytes = prefixTable({ P: maxStatementNameBytes + 1, C: maxStatementNameBytes + 2 });

/** Body bytes each upstream message type must show: ReadyForQuery's status, the longest tag checked plus its NUL. */
export const upstreamPrefixBytes = prefixTable({ Z: 1, C: 16 });

/** The upstream message types the tracker reads: ReadyForQuery, ErrorResponse, CommandComplete, the COPY responses, CopyDone. */
export const upstreamSinkTypes = 'ZECGHWc';

const tags: ReadonlyArray<readonly [Buffer, CheckinDiscardReason]> = [
  [Buffer.from('PREPARE\0'), 'prepare'],
  [Buffer.from('CALL\0'), 'call'],
  [Buffer.from('DECLARE CURSOR\0'), 'declare_cursor'],
  [Buffer.from('LISTEN\0'), 'listen'],
];

const Idle = 0x49; // ReadyForQuery 'I'
const CopyNone = 0;
const CopyIn = 1;
const CopyOut = 2;
const CopyBoth = 3;

/**
 * Per-session state of the check-in gate, fed the relayed bytes both ways (feedFromClient / feedFromUpstream), or
 * message by message (clientMessage / upstreamMessage) by a relay that frames itself. No allocation per message;
 * strings only for named Parse/Close. Over-approximates where unsure: a statement whose Close may have been skipped
 * (an error in its batch) stays listed, since closing a missing statement is not an error.
 */
export class CheckinTracker {
  private readonly fromClient: PeekingFramer;
  private readonly fromUpstream: PeekingFramer;
  // Query, Sync and FunctionCall are each answered by exactly one ReadyForQuery.
  private syncPointsSent = 0;
  private readyReceived = 0;
  // Parse/Bind/Describe/Execute/Close sent since the last sync point: replies the upstream has not flushed yet.
  private hasUnsyncedMessages = false;
  private lastStatus = Idle;
  private copyState = CopyNone;
  private taint: CheckinDiscardReason | undefined;
  private isTerminated = false;
  // The Terminate's type byte was seen (its header may still be incomplete): nothing more is forwarded.
  private isTerminateSeen = false;
  private hasBytesAfterTerminate = false;
  private cancelsInFlight = 0;
  private isBatchFailed = false;
  private statements: Set<string> | undefined;
  // Close('S') not yet confirmed: removed from `statements` when its batch ends without an error.
  private pendingCloses: Array<{ name: string; batch: number }> | undefined;

  constructor() {
    // The client's every message matters (anything after a Terminate is unclean); of the upstream's, only these.
    this.fromClient = new PeekingFramer(clientPrefixBytes, (t, b, o, l, n) => this.clientMessage(t, b, o, l, n), 'X');
    this.fromUpstream = new PeekingFramer(upstreamPrefixBytes, (t, b, o, l, n) => this.upstreamMessage(t, b, o, l, n), '', upstreamSinkTypes);
  }

  /**
   * Feeds bytes the client sent; returns how many of them to forward upstream: all, except from a Terminate on
   * (which a reusing relay keeps to itself). Call before writing the chunk.
   */
  feedFromClient(chunk: Buffer): number {
    if (this.isTerminateSeen) {
      this.fromClient.feed(chunk);
      return 0;
    }
    const stopAt = this.fromClient.feed(chunk);
    if (stopAt < 0) return chunk.length;
    this.isTerminateSeen = true;
    return stopAt;
  }

  /** Feeds bytes the upstream sent (all of them are forwarded to the client). */
  feedFromUpstream(chunk: Buffer): void {
    this.fromUpstream.feed(chunk);
  }

  /** A CancelRequest for this session was forwarded upstream; call cancelSettled() when it is done. */
  cancelStarted(): void {
    this.cancelsInFlight++;
  }

  /** A forwarded cancel finished (answered, failed or timed out). */
  cancelSettled(): void {
    if (this.cancelsInFlight > 0) this.cancelsInFlight--;
  }

  /** True once the client's Terminate was seen (the session ended at the client's request). */
  get isClientTerminated(): boolean {
    return this.isTerminated;
  }

  /** True when the client's bytes fed so far end at a message boundary (a relay may then write its own message upstream). */
  get isClientAtBoundary(): boolean {
    return this.fromClient.isAtBoundary;
  }

  /** True when the upstream's bytes fed so far end at a message boundary (a relay may then write a FATAL to the client). */
  get isUpstreamAtBoundary(): boolean {
    return this.fromUpstream.isAtBoundary;
  }

  /** True while the upstream owes a reply or a client message is half sent. */
  get isUpstreamBusy(): boolean {
    return this.syncPointsSent > this.readyReceived || this.hasUnsyncedMessages || !this.fromClient.isAtBoundary || this.copyState !== CopyNone;
  }

  /** One client message; `buf[offset, offset+length)` is at least the first clientPrefixBytes[type] bytes of its body (or all of it). */
  clientMessage(type: number, buf: Buffer, offset: number, length: number, bodyLength: number): void {
    if (this.isTerminated) {
      this.hasBytesAfterTerminate = true;
      return;
    }
    switch (type) {
      case F.Query:
      case F.Sync:
      case F.FunctionCall:
        this.syncPointsSent++;
        this.hasUnsyncedMessages = false;
        return;
      case F.Parse:
        this.hasUnsyncedMessages = true;
        this.parseSent(buf, offset, length, bodyLength);
        return;
      case F.Close:
        this.hasUnsyncedMessages = true;
        if (length >= 1 && buf[offset] === CloseTarget.Statement) this.closeSent(buf, offset + 1, length - 1, bodyLength - 1);
        return;
      case F.Bind:
      case F.Describe:
      case F.Execute:
        this.hasUnsyncedMessages = true;
        return;
      case F.CopyDone:
      case F.CopyFail:
        if (this.copyState === CopyIn) this.copyState = CopyNone;
        return;
      case F.Terminate:
        this.isTerminated = true;
        if (bodyLength !== 0) this.hasBytesAfterTerminate = true;
        return;
    }
  }

  /** One upstream message; `buf[offset, offset+length)` is at least the first upstreamPrefixBytes[type] bytes of its body. */
  upstreamMessage(type: number, buf: Buffer, offset: number, length: number, _bodyLength: number): void {
    switch (type) {
      case B.ReadyForQuery:
        this.lastStatus = length === 1 ? buf[offset]! : 0;
        this.batchEnded();
        return;
      case B.ErrorResponse:
        this.isBatchFailed = true;
        return;
      case B.CommandComplete:
        if (this.taint === undefined) this.taint = taintOf(buf, offset, length);
        return;
      case B.CopyInResponse:
        this.copyState = CopyIn;
        return;
      case B.CopyOutResponse:
        this.copyState = CopyOut;
        return;
      case B.CopyBothResponse:
        this.copyState = CopyBoth;
        return;
      case B.CopyDone:
        if (this.copyState === CopyOut) this.copyState = CopyNone;
        return;
    }
  }

  /** Whether the upstream may be kept now that the client has gone. */
  verdict(): CheckinVerdict {
    if (!this.isTerminated || this.hasBytesAfterTerminate || !this.fromClient.isAtBoundary) return { keep: false, reason: 'unclean_end' };
    if (this.cancelsInFlight > 0) return { keep: false, reason: 'cancel' };
    if (this.copyState !== CopyNone) return { keep: false, reason: 'copy' };
    if (this.syncPointsSent > this.readyReceived || this.hasUnsyncedMessages || !this.fromUpstream.isAtBoundary) return { keep: false, reason: 'outstanding_reply' };
    if (this.lastStatus !== Idle) return { keep: false, reason: 'in_transaction' };
    if (this.taint !== undefined) return { keep: false, reason: this.taint };
    const openStatements = this.statements === undefined ? [] : [...this.statements].map((name) => Buffer.from(name, 'latin1'));
    return { keep: true, openStatements };
  }

  private parseSent(buf: Buffer, offset: number, length: number, bodyLength: number): void {
    const name = this.statementName(buf, offset, length, bodyLength);
    if (name === undefined || name === '') return;
    if (this.pendingCloses !== undefined) this.pendingCloses = this.pendingCloses.filter((c) => c.name !== name);
    this.statements ??= new Set();
    this.statements.add(name);
    if (this.statements.size > maxTrackedStatements) this.taint ??= 'prepare';
  }

  private closeSent(buf: Buffer, offset: number, length: number, bodyLength: number): void {
    const name = this.statementName(buf, offset, length, bodyLength);
    if (name === undefined || name === '' || this.statements?.has(name) !== true) return;
    (this.pendingCloses ??= []).push({ name, batch: this.syncPointsSent });
  }

  /** The leading C string as a byte string (latin1: one char per byte, so the reset can send the exact bytes back). */
  private statementName(buf: Buffer, offset: number, length: number, bodyLength: number): string | undefined {
    const limit = offset + length;
    let end = offset;
    while (end < limit && buf[end] !== 0) end++;
    if (end === limit) {
      // No terminator within the prefix: a name too long to follow (or a malformed message).
      if (length < bodyLength || length > maxStatementNameBytes) this.taint ??= 'prepare';
      return undefined;
    }
    return buf.toString('latin1', offset, end);
  }

  private batchEnded(): void {
    const batch = this.readyReceived++;
    const pending = this.pendingCloses;
    if (pending !== undefined && pending.length > 0) {
      let done = 0;
      while (done < pending.length && pending[done]!.batch <= batch) {
        if (!this.isBatchFailed) this.statements?.delete(pending[done]!.name);
        done++;
      }
      if (done > 0) pending.splice(0, done);
    }
    this.isBatchFailed = false;
    this.copyState = CopyNone;
  }
}

function taintOf(buf: Buffer, offset: number, length: number): CheckinDiscardReason | undefined {
  for (const [tag, reason] of tags) {
    if (length >= tag.length && buf.compare(tag, 0, tag.length, offset, offset + tag.length) === 0) return reason;
  }
  return undefined;
}
