/** Growable message writer; the Int32 length is patched in when the message is flushed. */

/** Builds one message: optional type byte, Int32 length (patched on flush), then the body. */
export class BufferWriter {
  private buf: Buffer;
  private pos: number;
  private readonly lengthAt: number;

  /** `type` undefined → an untyped pre-startup packet (length first). */
  constructor(type?: number, initialBytes = 64) {
    this.buf = Buffer.allocUnsafe(Math.max(initialBytes, 8));
    this.pos = 0;
    if (type !== undefined) this.buf[this.pos++] = type;
    this.lengthAt = this.pos;
    this.pos += 4;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Unsigned byte. */
  byte(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }

  /** Int16. */
  int16(v: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }

  /** Signed Int32. */
  int32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  /** Raw bytes. */
  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** UTF-8 string followed by NUL. */
  cstring(s: string): this {
    const n = Buffer.byteLength(s, 'utf8');
    this.ensure(n + 1);
    this.buf.write(s, this.pos, 'utf8');
    this.pos += n;
    this.buf[this.pos++] = 0;
    return this;
  }

  /** Patches the length and returns an exact-size copy of the message. */
  flush(): Buffer {
    this.buf.writeInt32BE(this.pos - this.lengthAt, this.lengthAt);
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}
