/** Bounds-checked reader over one message body; every overrun is a ProtocolError. */
import { ProtocolError } from './protocol-error.js';

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads big-endian integers, C strings and byte runs from a buffer without ever reading past its end. */
export class BufferReader {
  private readonly buf: Buffer;
  private pos: number;

  constructor(buf: Buffer, offset = 0) {
    this.buf = buf;
    this.pos = offset;
  }

  /** Current offset. */
  get offset(): number {
    return this.pos;
  }

  /** Bytes left to read. */
  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.buf.length) throw new ProtocolError(`truncated message: ${what}`);
  }

  /** Unsigned byte. */
  byte(): number {
    this.need(1, 'byte');
    return this.buf[this.pos++]!;
  }

  /** Signed Int16. */
  int16(): number {
    this.need(2, 'int16');
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  /** Signed Int32. */
  int32(): number {
    this.need(4, 'int32');
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** Unsigned Int32. */
  uint32(): number {
    this.need(4, 'uint32');
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** `n` raw bytes (a view, not a copy). */
  bytes(n: number): Buffer {
    this.need(n, 'bytes');
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** NUL-terminated byte run without the NUL (a view). */
  cstringBytes(): Buffer {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0) throw new ProtocolError('missing string terminator');
    const v = this.buf.subarray(this.pos, end);
    this.pos = end + 1;
    return v;
  }

  /** NUL-terminated string, decoded as strict UTF-8. */
  cstring(): string {
    return decodeUtf8Strict(this.cstringBytes());
  }
}

/** Decodes UTF-8, throwing ProtocolError on any invalid sequence. */
export function decodeUtf8Strict(bytes: Uint8Array): string {
  try {
    return fatalUtf8.decode(bytes);
  } catch (err) {
    throw new ProtocolError('invalid UTF-8', { cause: err });
  }
}
