/** Framing for the pre-startup phase: untyped `Int32 len, Int32 code, …` packets with a hard cap. */
import { ProtocolError } from './protocol-error.js';

const empty = Buffer.alloc(0);

/** Smallest valid pre-startup packet (SSLRequest / GSSENCRequest). */
export const minStartupPacketBytes = 8;

/** Collects chunks and yields whole length-prefixed packets; the cap is checked from the header. */
export class StartupFramer {
  private buf: Buffer = empty;
  private offset = 0;
  private readonly maxStartupBytes: number;

  constructor(opts: { maxStartupBytes: number }) {
    this.maxStartupBytes = opts.maxStartupBytes;
  }

  /** Appends a chunk; throws ProtocolError as soon as a header declares an invalid length. */
  push(chunk: Buffer): void {
    if (this.offset >= this.buf.length) {
      this.buf = chunk;
      this.offset = 0;
    } else {
      this.buf = Buffer.concat([this.buf.subarray(this.offset), chunk]);
      this.offset = 0;
    }
    this.checkHeader();
  }

  private checkHeader(): void {
    if (this.buf.length - this.offset < 4) return;
    const len = this.buf.readInt32BE(this.offset);
    if (len < minStartupPacketBytes || len > this.maxStartupBytes) throw new ProtocolError('invalid startup packet length');
  }

  /** Next whole packet (length field included; a view), or undefined when more bytes are needed. */
  next(): Buffer | undefined {
    const available = this.buf.length - this.offset;
    if (available < 4) return undefined;
    this.checkHeader();
    const len = this.buf.readInt32BE(this.offset);
    if (available < len) return undefined;
    const start = this.offset;
    this.offset += len;
    return this.buf.subarray(start, start + len);
  }

  /** Bytes not yet returned as packets; the framer is empty afterwards. */
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
