/** Incremental framing of typed messages (`Byte1 type, Int32 len, body`) with a hard size cap. */
import { ByteQueue } from './byte-queue.js';
import { ProtocolError } from './protocol-error.js';

/** One complete typed message. `body` and `raw` are views into the framer's buffer; copy to keep. */
export interface Frame {
  type: number;
  /** Bytes after the length field. */
  body: Buffer;
  /** The whole message, type byte included. */
  raw: Buffer;
}

/** Collects chunks and yields whole typed messages; survives any chunking, never trusts a length. */
export class MessageFramer {
  private readonly queue = new ByteQueue();
  private readonly maxMessageBytes: number;

  constructor(opts: { maxMessageBytes: number }) {
    this.maxMessageBytes = opts.maxMessageBytes;
  }

  /** Appends a chunk from the socket. */
  push(chunk: Buffer): void {
    this.queue.push(chunk);
  }

  /** Next complete message, or undefined when more bytes are needed. Throws ProtocolError on a bad length. */
  next(): Frame | undefined {
    const available = this.queue.length;
    if (available < 5) return undefined;
    const type = this.queue.byteAt(0);
    const len = this.queue.int32At(1);
    if (len < 4) throw new ProtocolError(`invalid message length ${len}`);
    if (len + 1 > this.maxMessageBytes) throw new ProtocolError(`message of ${len + 1} bytes exceeds the ${this.maxMessageBytes}-byte limit`);
    if (available < len + 1) return undefined;
    const raw = this.queue.take(len + 1);
    return { type, body: raw.subarray(5), raw };
  }

  /** Declared total size of the pending message, if its header has arrived (for early cap checks). */
  pendingLength(): number | undefined {
    if (this.queue.length < 5) return undefined;
    return this.queue.int32At(1) + 1;
  }

  /** Bytes not yet returned as messages; the framer is empty afterwards. */
  takeLeftover(): Buffer {
    return this.queue.takeAll();
  }

  /** Number of buffered bytes not yet returned. */
  get bufferedBytes(): number {
    return this.queue.length;
  }
}
