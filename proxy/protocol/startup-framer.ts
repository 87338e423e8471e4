/** Framing for the pre-startup phase: untyped `Int32 len, Int32 code, …` packets with a hard cap. */
import { ByteQueue } from './byte-queue.js';
import { ProtocolError } from './protocol-error.js';

/** Smallest valid pre-startup packet (SSLRequest / GSSENCRequest). */
export const minStartupPacketBytes = 8;

/** Collects chunks and yields whole length-prefixed packets; the cap is checked from the header. */
export class StartupFramer {
  private readonly queue = new ByteQueue();
  private readonly maxStartupBytes: number;

  constructor(opts: { maxStartupBytes: number }) {
    this.maxStartupBytes = opts.maxStartupBytes;
  }

  /** Appends a chunk; throws ProtocolError as soon as a header declares an invalid length. */
  push(chunk: Buffer): void {
    this.queue.push(chunk);
    this.checkHeader();
  }

  private checkHeader(): void {
    if (this.queue.length < 4) return;
    const len = this.queue.int32At(0);
    if (len < minStartupPacketBytes || len > this.maxStartupBytes) throw new ProtocolError('invalid startup packet length');
  }

  /** Next whole packet (length field included; a view), or undefined when more bytes are needed. */
  next(): Buffer | undefined {
    const available = this.queue.length;
    if (available < 4) return undefined;
    this.checkHeader();
    const len = this.queue.int32At(0);
    if (available < len) return undefined;
    return this.queue.take(len);
  }

  /** Bytes not yet returned as packets; the framer is empty afterwards. */
  takeLeftover(): Buffer {
    return this.queue.takeAll();
  }

  /** Number of buffered bytes not yet returned. */
  get bufferedBytes(): number {
    return this.queue.length;
  }
}
