/** Length-only tracking of typed-message boundaries in a relayed byte stream, without copying or parsing bodies. */

/**
 * Follows `Byte1 type, Int32 len` headers across arbitrary chunks so the relay knows whether the bytes
 * forwarded so far end exactly at a message boundary (docs/design/wire-protocol.md §13: a FATAL may only be written there),
 * and how many messages of the `countedTypes` began. O(messages per chunk) integer reads, no allocation.
 * A length below 4 marks the stream as untrackable.
 */
export class MessageBoundaryTracker {
  private remainingBodyBytes = 0;
  private headerBytes = 0;
  private readonly header = Buffer.alloc(5);
  private isBroken = false;
  private readonly isCounted = new Uint8Array(256);
  private counted = 0;
  private lastTypeValue = 0;

  /** `countedTypes`: message type characters whose headers countedMessages counts. */
  constructor(countedTypes = '') {
    for (let i = 0; i < countedTypes.length; i++) this.isCounted[countedTypes.charCodeAt(i) & 0xff] = 1;
  }

  /** Messages of the counted types whose header has been fed. */
  get countedMessages(): number {
    return this.counted;
  }

  /** Type byte of the last message whose header has been fed (0 before any). */
  get lastType(): number {
    return this.lastTypeValue;
  }

  /** Advances over bytes that were forwarded. */
  feed(chunk: Buffer): void {
    const n = chunk.length;
    let pos = 0;
    while (pos < n && !this.isBroken) {
      if (this.remainingBodyBytes > 0) {
        const skip = Math.min(this.remainingBodyBytes, n - pos);
        this.remainingBodyBytes -= skip;
        pos += skip;
      } else if (this.headerBytes === 0 && n - pos >= 5) {
        this.lastTypeValue = chunk[pos]!;
        this.counted += this.isCounted[this.lastTypeValue]!;
        this.startBody(chunk.readInt32BE(pos + 1));
        pos += 5;
      } else {
        const take = Math.min(5 - this.headerBytes, n - pos);
        chunk.copy(this.header, this.headerBytes, pos, pos + take);
        this.headerBytes += take;
        pos += take;
        if (this.headerBytes === 5) {
          this.headerBytes = 0;
          this.lastTypeValue = this.header[0]!;
          this.counted += this.isCounted[this.lastTypeValue]!;
          this.startBody(this.header.readInt32BE(1));
        }
      }
    }
  }

  /** True when everything fed so far ends exactly at the end of a whole message. */
  get isAtBoundary(): boolean {
    return !this.isBroken && this.remainingBodyBytes === 0 && this.headerBytes === 0;
  }

  private startBody(declaredLength: number): void {
    if (declaredLength < 4) this.isBroken = true;
    else this.remainingBodyBytes = declaredLength - 4;
  }
}
