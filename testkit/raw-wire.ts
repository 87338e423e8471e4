/** Byte-level client pieces for the attack and compatibility tests: packets, a typed-message reader, SSLRequest + TLS. */
import type * as net from 'node:net';
import { plainSocket, upgradeToTls } from './raw-pg-client.js';

/** One backend message as received: type letter, body, and the exact bytes (header included). */
export interface WireMessage {
  type: string;
  body: Buffer;
  raw: Buffer;
}

/** A NUL-terminated UTF-8 string. */
export const cstr = (s: string): Buffer => Buffer.from(`${s}\0`, 'utf8');

/** A big-endian Int32. */
export function i32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

/** A typed message: type byte, Int32 length, body. */
export function typed(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** A StartupMessage with the given parameters in order (protocol 3.0 unless `version` says otherwise). */
export function startupPacket(params: ReadonlyArray<readonly [string, string]>, version = 196608): Buffer {
  const pairs = params.flatMap(([k, v]) => [cstr(k), cstr(v)]);
  const body = Buffer.concat([Buffer.from([0, 0, 0, 0]), ...pairs, Buffer.from([0])]);
  body.writeInt32BE(version, 0);
  const len = Buffer.alloc(4);
  len.writeInt32BE(body.length + 4);
  return Buffer.concat([len, body]);
}

/** A 3.0 CancelRequest: length, code 80877102, pid, then the key bytes (4 for a real key). */
export function cancelPacket(pid: number, key: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head.writeInt32BE(12 + key.length, 0);
  head.writeInt32BE(80877102, 4);
  head.writeInt32BE(pid, 8);
  return Buffer.concat([head, key]);
}

/** Reads typed backend messages off a socket and keeps every byte received. */
export class WireReader {
  #buf = Buffer.alloc(0);
  #all: Buffer[] = [];
  #waiter: (() => void) | undefined;
  #closed = false;
  readonly closed: Promise<void>;

  constructor(socket: net.Socket) {
    socket.on('data', (c: Buffer) => {
      this.#all.push(c);
      this.#buf = Buffer.concat([this.#buf, c]);
      this.#waiter?.();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#closed = true;
        this.#waiter?.();
        resolve();
      }),
    );
  }

  /** Every byte received so far. */
  get received(): Buffer {
    return Buffer.concat(this.#all);
  }

  /** Whether the peer has closed the socket. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Exactly `n` bytes (for data that is not a typed message). */
  async bytes(n: number, timeoutMs = 10_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.#buf.length < n) {
      if (this.#closed) throw new Error(`closed with ${this.#buf.length}/${n} bytes`);
      if (Date.now() > deadline) throw new Error('no data in time');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.#waiter = () => (clearTimeout(timer), resolve());
      });
      this.#waiter = undefined;
    }
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    return Buffer.from(out);
  }

  /** The next typed message. */
  async next(timeoutMs = 10_000): Promise<WireMessage> {
    const head = await this.bytes(5, timeoutMs);
    const body = await this.bytes(head.readInt32BE(1) - 4, timeoutMs);
    return { type: String.fromCharCode(head[0] ?? 0), body, raw: Buffer.concat([head, body]) };
  }
}

/** Fields of an ErrorResponse / NoticeResponse body by their one-letter code. */
export function errorFields(body: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const end = body.indexOf(0, i + 1);
    out.set(String.fromCharCode(body[i] ?? 0), body.subarray(i + 1, end).toString('utf8'));
    i = end + 1;
  }
  return out;
}

/** Parses a ParameterStatus body into [name, value]. */
export function parameterStatus(body: Buffer): [string, string] {
  const [name = '', value = ''] = body.toString('utf8').split('\0');
  return [name, value];
}

/** SSLRequest → S → verified TLS to 127.0.0.1:port, with a reader attached. */
export async function tlsWire(port: number, caPem: string): Promise<{ socket: net.Socket; reader: WireReader }> {
  const socket = await upgradeToTls(await plainSocket(port), caPem);
  return { socket, reader: new WireReader(socket) };
}

/** Reads until an ErrorResponse and returns its fields; fails on anything but notices/parameters before it. */
export async function expectError(reader: WireReader, timeoutMs = 10_000): Promise<Map<string, string>> {
  for (;;) {
    const m = await reader.next(timeoutMs);
    if (m.type === 'E') return errorFields(m.body);
    if (m.type !== 'N') throw new Error(`expected ErrorResponse, got '${m.type}'`);
  }
}

/** Splits a buffer of whole typed messages (e.g. everything received for one query). */
export function splitMessages(buf: Buffer): WireMessage[] {
  const out: WireMessage[] = [];
  for (let i = 0; i + 5 <= buf.length; ) {
    const end = i + 1 + buf.readInt32BE(i + 1);
    out.push({ type: String.fromCharCode(buf[i] ?? 0), body: buf.subarray(i + 5, end), raw: buf.subarray(i, end) });
    i = end;
  }
  return out;
}
