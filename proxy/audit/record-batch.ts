/** The records appended in one turn of the event loop: encoded into one buffer, written together when the turn ends. */
import type { ChainState } from './chain.js';
import type { AuditEvent, ChainFields } from './record.js';
import { encodeRecord, recordBytesMax, type SealedEntry } from './record-encoding.js';

/** A batch buffer larger than this is not kept for the next batch (one huge statement should not pin memory). */
const keptBufferBytesMax = 1024 * 1024;

/** Called with whether a record reached the file. */
export type RecordWaiter = (isWritten: boolean) => void;

/** One batch: its lines' bytes, the records' events and waiters, the chain it started from, and the promise its write settles. */
export class RecordBatch {
  private buffer: Buffer;
  private length = 0;
  readonly events: AuditEvent[] = [];
  private readonly waiters: RecordWaiter[] = [];
  /** True once the lines are in the file; false if the write failed (none of them counts). */
  readonly done: Promise<boolean>;
  private settle: (isWritten: boolean) => void = () => undefined;

  constructor(
    /** Where the chain stood before the batch: restored if its write fails. */
    readonly chainBefore: Readonly<ChainState>,
    /** A buffer to encode into (the last batch's, reused); grown when a line needs more. */
    buffer: Buffer,
  ) {
    this.buffer = buffer;
    this.done = new Promise((resolve) => {
      this.settle = resolve;
    });
  }

  /** Encodes one record and its newline; returns the line's UTF-8 bytes without the newline (a view, valid until the batch is written). `waiter` hears how the write went. */
  add(chain: ChainFields, sealed: SealedEntry, waiter: RecordWaiter): Buffer {
    const room = recordBytesMax(sealed);
    if (this.buffer.length - this.length < room) {
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + room));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    const start = this.length;
    this.length = encodeRecord(this.buffer, start, chain, sealed);
    this.events.push(sealed.event);
    this.waiters.push(waiter);
    return this.buffer.subarray(start, this.length - 1);
  }

  /** All the lines' bytes. */
  get bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  /** The buffer for the next batch, once this one is written; undefined when it grew too large to keep. */
  reusableBuffer(): Buffer | undefined {
    return this.buffer.length <= keptBufferBytesMax ? this.buffer : undefined;
  }

  /** Settles `done`, then tells each record's waiter, in order. */
  settled(isWritten: boolean): void {
    this.settle(isWritten);
    for (const waiter of this.waiters) waiter(isWritten);
  }
}
