/**
 * The client → upstream direction with statement capture (audit.statements not off): frames the stream,
 * and holds each Query and Parse until its audit record is written, so the record comes before the
 * statement reaches the upstream (docs/operations/audit.md). Bytes go on in exactly the order they came.
 */
import { capturedStatement, StatementMessageCode, type CapturedStatement } from '../audit/index.js';

/** Where the gate sends what may go on; the relay implements it. */
export interface StatementGateSink {
  /** Forwards bytes upstream; false when the upstream's buffer is full (the client is then paused until drain). */
  forward(bytes: Buffer): boolean;
  pauseClient(): void;
  resumeClient(): void;
  /** False once the relay is closing or the upstream is gone: nothing more is forwarded. */
  isOpen(): boolean;
}

/** Writes a statement's record, then calls `done` with whether the statement may go on: written, or the policy is continue. */
export type StatementRecorder = (statement: CapturedStatement, done: (proceed: boolean) => void) => void;

/** A frontend message header: type byte and Int32 length (which counts itself). */
const headerBytes = 5;
/** Bytes queued behind a pending record before the client is paused (a record normally lands within the loop turn). */
export const maxQueuedBytesDefault = 256 * 1024;

/** Frames the client's messages and gates each Query and Parse on its audit record. */
export class StatementGate {
  private sink: StatementGateSink | undefined;
  /** Bytes of an incomplete header or an incomplete Query/Parse, waiting for the rest. */
  private held: Buffer = Buffer.alloc(0);
  /** Body bytes of the current other message still to pass through as they come. */
  private skip = 0;
  /** Chunks that arrived while a record was being written, and their total size. */
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private isWaiting = false;
  private isUpstreamFull = false;
  private isClientPaused = false;
  private isRefused = false;
  /** The stream stopped looking like PostgreSQL messages: pass it through and let the upstream reject it. */
  private isOpaque = false;

  constructor(
    private readonly record: StatementRecorder,
    /** Called once when a statement may not go on (refuse): the session ends with 57P03. */
    private readonly onRefused: () => void,
    private readonly maxQueuedBytes = maxQueuedBytesDefault,
  ) {}

  /** Attaches the relay's side (called by the relay at start). */
  bind(sink: StatementGateSink): void {
    this.sink = sink;
  }

  /** True while a statement waits for its record, or bytes of a message are held. */
  get isHolding(): boolean {
    return this.isWaiting || this.held.length > 0 || this.queue.length > 0;
  }

  /** Takes one chunk from the client. */
  feed(chunk: Buffer): void {
    if (this.isRefused) return;
    if (this.isWaiting) {
      this.enqueue(chunk);
      return;
    }
    this.process(chunk);
  }

  /** The upstream drained: the client may send again unless too much waits behind a record. */
  onUpstreamDrain(): void {
    this.isUpstreamFull = false;
    this.updateClientFlow();
  }

  private enqueue(chunk: Buffer): void {
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
    this.updateClientFlow();
  }

  /** Pauses the client while the upstream is full or too much is queued behind a record; resumes it once neither holds. */
  private updateClientFlow(): void {
    const shouldPause = this.isUpstreamFull || this.queuedBytes > this.maxQueuedBytes;
    if (shouldPause === this.isClientPaused || this.isRefused) return;
    this.isClientPaused = shouldPause;
    if (shouldPause) this.sink?.pauseClient();
    else this.sink?.resumeClient();
  }

  private forward(bytes: Buffer): void {
    const sink = this.sink;
    if (sink === undefined || bytes.length === 0 || !sink.isOpen()) return;
    if (!sink.forward(bytes)) {
      this.isUpstreamFull = true;
      this.updateClientFlow();
    }
  }

  private process(chunk: Buffer): void {
    const data = this.held.length === 0 ? chunk : Buffer.concat([this.held, chunk]);
    this.held = Buffer.alloc(0);
    if (this.isOpaque) return this.forward(data);
    let i = 0;
    while (i < data.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, data.length - i);
        i += n;
        this.skip -= n;
        continue;
      }
      if (data.length - i < headerBytes) break;
      const type = data[i]!;
      const length = data.readInt32BE(i + 1);
      if (length < 4) {
        this.isOpaque = true;
        i = data.length;
        break;
      }
      if (type !== StatementMessageCode.Query && type !== StatementMessageCode.Parse) {
        i += headerBytes;
        this.skip = length - 4;
        continue;
      }
      if (data.length - i < 1 + length) break;
      const statement = capturedStatement(type, data.subarray(i + headerBytes, i + 1 + length));
      if (statement === undefined) {
        i += 1 + length;
        continue;
      }
      this.forward(data.subarray(0, i));
      this.hold(statement, data.subarray(i, i + 1 + length), data.subarray(i + 1 + length));
      return;
    }
    this.forward(data.subarray(0, i));
    if (i < data.length) this.held = Buffer.from(data.subarray(i));
  }

  /** The statement may not go on: nothing more is forwarded, and the session ends. */
  private refuse(): void {
    this.isRefused = true;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.onRefused();
  }

  /**
   * Holds the statement until its record is written, then forwards it and what came after. The client is
   * not paused for it (the record normally lands at the end of this loop turn) unless too much queues up.
   */
  private hold(statement: CapturedStatement, message: Buffer, rest: Buffer): void {
    this.isWaiting = true;
    if (rest.length > 0) {
      this.queue.unshift(rest);
      this.queuedBytes += rest.length;
    }
    const go = (proceed: boolean): void => {
      this.isWaiting = false;
      if (!proceed) return this.refuse();
      this.forward(message);
      while (this.queue.length > 0 && !this.isWaiting && !this.isRefused) {
        const chunk = this.queue.shift()!;
        this.queuedBytes -= chunk.length;
        this.process(chunk);
      }
      this.updateClientFlow();
    };
    this.record(statement, go);
  }
}
