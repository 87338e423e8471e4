/** Boundary tracking of a relayed byte stream that also lets a few message types show the start of their body, without copying in the common case. */

/**
 * Receives one call per message, in stream order, once the first `length` bytes of its body are known:
 * `buf[offset, offset + length)` is that prefix (a view of the chunk, or of the framer's scratch buffer when the
 * prefix was split across chunks; valid only during the call). `length` is min(bodyLength, the type's prefix size).
 */
export type MessageSink = (type: number, buf: Buffer, offset: number, length: number, bodyLength: number) => void;

/** How many leading body bytes each message type shows to the sink (index: type byte; 0 = header only). */
export type PrefixTable = Uint16Array;

/** Builds a PrefixTable from `{ typeChar: bytes }`. */
export function prefixTable(entries: Readonly<Record<string, number>>): PrefixTable {
  const table = new Uint16Array(256);
  for (const [type, bytes] of Object.entries(entries)) table[type.charCodeAt(0) & 0xff] = bytes;
  return table;
}

/**
 * Follows `Byte1 type, Int32 len` headers across arbitrary chunks (as MessageBoundaryTracker does) and calls the
 * sink once per message. Per message: one table read and one call; bytes are copied only for a wanted prefix that
 * is split across chunks (into one scratch buffer, allocated on first need). A length below 4 breaks the stream.
 */
export class PeekingFramer {
  private readonly prefixes: PrefixTable;
  private readonly stops: Uint8Array;
  private readonly interest: Uint8Array | undefined;
  private readonly sink: MessageSink;
  private readonly header = Buffer.alloc(5);
  private headerBytes = 0;
  private remainingBodyBytes = 0;
  private isBrokenValue = false;
  private scratch: Buffer | undefined;
  private captureType = 0;
  private captureBodyLength = 0;
  private captureWanted = 0;
  private captured = 0;

  /**
   * `stopTypes`: type characters whose first byte feed() reports (the relay holds such a message back).
   * `sinkTypes`: the only type characters the sink is called for (default: all), so bulk messages such as DataRow
   * cost no call.
   */
  constructor(prefixes: PrefixTable, sink: MessageSink, stopTypes = '', sinkTypes?: string) {
    this.prefixes = prefixes;
    this.sink = sink;
    this.stops = typeSet(stopTypes);
    this.interest = sinkTypes === undefined ? undefined : typeSet(sinkTypes);
  }

  /** True when everything fed so far ends exactly at the end of a whole message. */
  get isAtBoundary(): boolean {
    return !this.isBrokenValue && this.remainingBodyBytes === 0 && this.headerBytes === 0;
  }

  /** True once a length below 4 was seen: boundaries are unknown from then on. */
  get isBroken(): boolean {
    return this.isBrokenValue;
  }

  /** Advances over a chunk; returns the offset in it where the first message of a stop type begins, or -1. */
  feed(chunk: Buffer): number {
    const n = chunk.length;
    let pos = 0;
    let stopAt = -1;
    while (pos < n && !this.isBrokenValue) {
      if (this.remainingBodyBytes > 0) {
        const take = Math.min(this.remainingBodyBytes, n - pos);
        if (this.captureWanted > 0) this.capture(chunk, pos, take);
        this.remainingBodyBytes -= take;
        pos += take;
      } else if (this.headerBytes === 0 && n - pos >= 5) {
        const type = chunk[pos]!;
        if (stopAt < 0 && this.stops[type] === 1) stopAt = pos;
        const declared = chunk.readInt32BE(pos + 1);
        pos += 5;
        this.startBody(type, declared, chunk, pos);
      } else {
        if (this.headerBytes === 0 && stopAt < 0 && this.stops[chunk[pos]!] === 1) stopAt = pos;
        const take = Math.min(5 - this.headerBytes, n - pos);
        chunk.copy(this.header, this.headerBytes, pos, pos + take);
        this.headerBytes += take;
        pos += take;
        if (this.headerBytes === 5) {
          this.headerBytes = 0;
          this.startBody(this.header[0]!, this.header.readInt32BE(1), chunk, pos);
        }
      }
    }
    return stopAt;
  }

  private startBody(type: number, declaredLength: number, chunk: Buffer, bodyStart: number): void {
    if (declaredLength < 4) {
      this.isBrokenValue = true;
      return;
    }
    const bodyLength = declaredLength - 4;
    this.remainingBodyBytes = bodyLength;
    if (this.interest !== undefined && this.interest[type] === 0) return;
    const wanted = Math.min(this.prefixes[type]!, bodyLength);
    if (wanted === 0 || chunk.length - bodyStart >= wanted) {
      this.sink(type, chunk, bodyStart, wanted, bodyLength);
      return;
    }
    if (this.scratch === undefined || this.scratch.length < wanted) this.scratch = Buffer.allocUnsafe(Math.max(wanted, 64));
    this.captureType = type;
    this.captureBodyLength = bodyLength;
    this.captureWanted = wanted;
    this.captured = 0;
  }

  private capture(chunk: Buffer, pos: number, available: number): void {
    const scratch = this.scratch!;
    const take = Math.min(this.captureWanted - this.captured, available);
    chunk.copy(scratch, this.captured, pos, pos + take);
    this.captured += take;
    if (this.captured < this.captureWanted) return;
    this.captureWanted = 0;
    this.sink(this.captureType, scratch, 0, this.captured, this.captureBodyLength);
  }
}

function typeSet(types: string): Uint8Array {
  const set = new Uint8Array(256);
  for (let i = 0; i < types.length; i++) set[types.charCodeAt(i) & 0xff] = 1;
  return set;
}
