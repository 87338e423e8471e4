/** A FIFO of received bytes: appends socket chunks, exposes the unread head, consumes from the front. */

const empty = Buffer.alloc(0);

/** Accumulates chunks without copying when the queue is drained; reads are relative to the unread head. */
export class ByteQueue {
  private buf: Buffer = empty;
  private offset = 0;

  /** Appends a chunk (kept by reference when nothing is pending, else concatenated with the rest). */
  push(chunk: Buffer): void {
    this.buf = this.offset >= this.buf.length ? chunk : Buffer.concat([this.buf.subarray(this.offset), chunk]);
    this.offset = 0;
  }

  /** Number of unread bytes. */
  get length(): number {
    return this.buf.length - this.offset;
  }

  /** Unread byte at `index` from the head; the caller checks `length` first. */
  byteAt(index: number): number {
    return this.buf[this.offset + index]!;
  }

  /** Big-endian Int32 at `index` from the head; the caller checks `length` first. */
  int32At(index: number): number {
    return this.buf.readInt32BE(this.offset + index);
  }

  /** Consumes and returns the next `byteCount` bytes as a view (valid until a later push replaces the buffer). */
  take(byteCount: number): Buffer {
    const start = this.offset;
    this.offset += byteCount;
    return this.buf.subarray(start, start + byteCount);
  }

  /** Consumes and returns every unread byte; the queue is empty afterwards. */
  takeAll(): Buffer {
    const rest = this.buf.subarray(this.offset);
    this.buf = empty;
    this.offset = 0;
    return rest;
  }
}
