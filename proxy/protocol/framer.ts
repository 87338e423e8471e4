/** Incremental framing of typed messages (`Byte1 type, Int32 len, body`) with a hard size cap. */
import { ProtocolError } from './protocol-error.js';

/** One complete typed message. `body` and `raw` are views into the framer's buffer; copy to keep. */
export interface Frame {
  type: number;
  /** Bytes after the length field. */
  body: Buffer;
  /** The whole message, type byte included. */
  raw: Buffer;
}

const empty = Buffer.alloc(0);

/** Collects chunks and yields whole typed messages; survives any chunking, never trusts a length. */
export class MessageFramer {
  private buf: Buffer = empty;
  private offset = 0;
  private readonly maxMessageBytes: number;

  constructor(opts: { maxMessageBytes: number }) {
    this.maxMessageBytes = opts.maxMessageBytes;
  }

  /** Appends a chunk from the socket. */
  push(chunk: Buffer): void {
    if (this.offset >= this.buf.length) {
      this.buf = chunk;
      this.offset = 0;
      return;
    }
    this.buf = Buffer.concat([this.buf.subarray(this.offset), chunk]);
    this.offset = 0;
  }

  /** Next complete message, or undefined when more bytes are needed. Throws ProtocolError on a bad length. */
  next(): Frame | undefined {
    const available = this.buf.length - this.offset;
    if (available < 5) return undefined;
    const type = this.buf[this.offset]!;
    const len = this.buf.readInt32BE(this.offset + 1);
    if (len < 4) throw new ProtocolError(`invalid message length ${len}`);
    if (len + 1 > this.maxMessageBytes) throw new ProtocolError(`message of ${len + 1} bytes exceeds the ${this.maxMessageBytes}-byte limit`);
    if (available < len + 1) return undefined;
    const start = this.offset;
    this.offset += len + 1;
    return { type, body: this.buf.subarray(start + 5, start + 1 + len), raw: this.buf.subarray(start, start + 1 + len) };
  }

  /** Declared total size of the pending message, if its header has arrived (for early cap checks). */
  pendingLength(): number | undefined {
    if (this.buf.length - this.offset < 5) return undefined;
    return this.buf.readInt32BE(this.offset + 1) + 1;
  }

  /** Bytes not yet returned as messages; the framer is empty afterwards. */
  takeLeftover(): Buffer {
    const rest = this.buf.subarray(this.offset);
    this.buf = empty;
    this.offset = 0;
    return rest;
  }

  /** Number of buffered bytes not yet returned. */
  get bufferedBytes(): number {
    return this.buf.length - this.offset;
  }
}
