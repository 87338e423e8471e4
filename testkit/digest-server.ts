/** A tiny TLS PostgreSQL-speaking upstream that authenticates with Redshift digest (R 13) or misbehaves on request. */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { getTestPki } from './certs.js';
import { cstr, i32, typed } from './raw-wire.js';

/** How the fake upstream behaves. */
export interface DigestServerOptions {
  /** The password the client must prove (default `digest-password`). */
  password?: string;
  /** Answer to SSLRequest: `S`, `N`, or `S` immediately followed by plaintext bytes (default `S`). */
  sslAnswer?: 'S' | 'N' | 'S+garbage';
  /** Authentication request code to send (default 13; anything else is sent bare, e.g. 14). */
  authCode?: number;
  /** Digest algorithm index sent in R 13 (default 0 = SHA-256). */
  digestAlgorithm?: number;
  /** ParameterStatus pairs sent after R 0 (default Redshift-like values). */
  parameterStatus?: ReadonlyArray<readonly [string, string]>;
  /** Bytes written right after ReadyForQuery (to test leftovers). */
  afterReady?: Buffer;
}

/** What the fake upstream saw from one client. */
export interface DigestServerConnection {
  startup: Map<string, string>;
  /** The `d` message body as received, if any. */
  digestReply?: Buffer;
  clientNonce?: string;
  verified?: boolean;
}

/** A running fake upstream on 127.0.0.1. */
export interface DigestServer {
  port: number;
  caPem: string;
  caFile: string;
  connections: DigestServerConnection[];
  /** CancelRequests received, with whether they came inside TLS. */
  cancels: Array<{ pid: number; key: Buffer; isTls: boolean }>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const defaultParams: ReadonlyArray<readonly [string, string]> = [
  ['server_version', '8.0.2'],
  ['server_protocol_version', '3'],
  ['client_encoding', 'UTF8'],
  ['DateStyle', 'ISO, MDY'],
];


/** Reads exactly `n` bytes (or rejects on close). */
function makeReader(sock: net.Socket): (n: number) => Promise<Buffer> {
  let buf = Buffer.alloc(0);
  let waiter: (() => void) | undefined;
  let closed = false;
  sock.on('data', (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    waiter?.();
  });
  sock.on('close', () => {
    closed = true;
    waiter?.();
  });
  return async (n) => {
    while (buf.length < n) {
      if (closed) throw new Error('closed');
      await new Promise<void>((r) => (waiter = r));
      waiter = undefined;
    }
    const out = buf.subarray(0, n);
    buf = buf.subarray(n);
    return out;
  };
}

type Cancels = DigestServer['cancels'];

/** Records a 16-byte CancelRequest if `packet` is one. */
function recordCancel(packet: Buffer, isTls: boolean, cancels: Cancels): boolean {
  if (packet.length !== 16 || packet.readInt32BE(0) !== 16 || packet.readInt32BE(4) !== 80877102) return false;
  cancels.push({ pid: packet.readInt32BE(8), key: Buffer.from(packet.subarray(12, 16)), isTls });
  return true;
}

async function serve(
  raw: net.Socket,
  opts: DigestServerOptions,
  pki: { serverCertPem: string; serverKeyPem: string },
  conns: DigestServerConnection[],
  cancels: Cancels,
): Promise<void> {
  const first = await new Promise<Buffer>((r) => raw.once('data', r));
  if (first.length !== 8 || first.readInt32BE(4) !== 80877103) throw new Error('expected SSLRequest');
  const answer = opts.sslAnswer ?? 'S';
  if (answer === 'N') {
    raw.write('N');
    // A cancel may follow in plaintext (docs/design/wire-protocol.md §12 fallback); a startup is refused by closing.
    const next = await new Promise<Buffer>((r) => raw.once('data', r));
    recordCancel(next, false, cancels);
    raw.end();
    return;
  }
  if (answer === 'S+garbage') {
    raw.write(Buffer.concat([Buffer.from('S'), typed('R', i32(0))]));
  } else {
    raw.write('S');
  }
  const sock = new tls.TLSSocket(raw, { isServer: true, cert: pki.serverCertPem, key: pki.serverKeyPem });
  sock.on('error', () => {});
  const read = makeReader(sock);
  const lenBytes = await read(4);
  const len = lenBytes.readInt32BE(0);
  if (len < 8 || len > 10_000) throw new Error('bad startup length');
  const body = await read(len - 4);
  if (recordCancel(Buffer.concat([lenBytes, body]), true, cancels)) {
    sock.end();
    return;
  }
  const parts = body.subarray(4).toString('utf8').split('\0');
  const startup = new Map<string, string>();
  for (let i = 0; i + 1 < parts.length && parts[i] !== ''; i += 2) startup.set(parts[i]!, parts[i + 1]!);
  const conn: DigestServerConnection = { startup };
  conns.push(conn);

  const code = opts.authCode ?? 13;
  if (code !== 13) {
    sock.write(typed('R', i32(code)));
    await read(1).catch(() => undefined);
    sock.destroy();
    return;
  }
  const salt = randomBytes(4);
  const serverNonce = randomBytes(16);
  sock.write(typed('R', Buffer.concat([i32(13), i32(opts.digestAlgorithm ?? 0), i32(salt.length), salt, i32(serverNonce.length), serverNonce])));
  const head = await read(5);
  if (head[0] !== 0x64) throw new Error(`expected 'd', got ${head[0]}`);
  const reply = await read(head.readInt32BE(1) - 4);
  conn.digestReply = Buffer.from(reply);
  const digestLen = reply.readInt32BE(0);
  const digest = reply.subarray(4, 4 + digestLen);
  const nonceLen = reply.readInt32BE(4 + digestLen);
  const clientNonce = reply.subarray(8 + digestLen, 8 + digestLen + nonceLen);
  conn.clientNonce = clientNonce.toString('latin1');
  const password = opts.password ?? 'digest-password';
  const inner = createHash('sha256').update(password, 'utf8').update(salt).digest();
  const expected = createHash('sha256').update(inner).update(serverNonce).update(clientNonce).digest();
  conn.verified = reply.length === 8 + digestLen + nonceLen && digest.length === 32 && timingSafeEqual(digest, expected);
  if (!conn.verified) {
    sock.end(typed('E', Buffer.concat([cstr('SFATAL'), cstr('VFATAL'), cstr('C28P01'), cstr(`password authentication failed for user "${startup.get('user') ?? ''}"`), Buffer.from([0])])));
    return;
  }
  const out: Buffer[] = [typed('R', i32(0))];
  for (const [k, v] of opts.parameterStatus ?? defaultParams) out.push(typed('S', Buffer.concat([cstr(k), cstr(v)])));
  out.push(typed('K', Buffer.concat([i32(4242), Buffer.from([1, 2, 3, 4])])));
  out.push(typed('Z', Buffer.from('I')));
  if (opts.afterReady) out.push(opts.afterReady);
  sock.write(Buffer.concat(out));
  await read(1 << 30).catch(() => undefined);
}

/** Starts the fake upstream on 127.0.0.1, port 0. */
export async function startDigestServer(opts: DigestServerOptions = {}): Promise<DigestServer> {
  const pki = await getTestPki();
  const connections: DigestServerConnection[] = [];
  const cancels: Cancels = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => {});
    serve(raw, opts, pki, connections, cancels).catch(() => raw.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address() as net.AddressInfo;
  const close = async (): Promise<void> => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { port: addr.port, caPem: pki.caPem, caFile: pki.caFile, connections, cancels, close, [Symbol.asyncDispose]: close };
}
