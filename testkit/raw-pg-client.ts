/** A byte-level PostgreSQL client for tests (pg-protocol as the oracle): SSLRequest → TLS → startup → cleartext password → queries. */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { serialize } from 'pg-protocol';
import { Parser } from 'pg-protocol/dist/parser.js';
import type { BackendMessage } from 'pg-protocol/dist/messages.js';

/** Options of rawConnect. */
export interface RawConnectOptions {
  port: number;
  caPem: string;
  user: string;
  database: string;
  password: string;
  timeoutMs?: number;
}

/** A logged-in raw session. Messages queue up until next() takes them. */
export interface RawSession {
  socket: tls.TLSSocket;
  /** BackendKeyData the server (the proxy) issued. */
  pid: number;
  secretKey: number;
  /** ParameterStatus values seen during login. */
  parameters: Map<string, string>;
  /** Bytes received after TLS (decrypted), including the login. */
  readonly bytesReceived: number;
  /** The next backend message; rejects on close or timeout. */
  next(timeoutMs?: number): Promise<BackendMessage>;
  /** Sends a simple Query. */
  sendQuery(sql: string): void;
  close(): void;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Opens a plaintext TCP socket to host:port (default host 127.0.0.1). */
export function plainSocket(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port }, () => {
      s.removeListener('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** SSLRequest bytes: length 8, code 80877103. */
export const sslRequest = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/** Sends an SSLRequest on `raw`, expects 'S', and completes a verified TLS handshake (servername localhost). */
export async function upgradeToTls(raw: net.Socket, caPem: string, verifyHost?: string): Promise<tls.TLSSocket> {
  raw.write(sslRequest);
  const answer = await new Promise<Buffer>((resolve, reject) => {
    raw.once('data', resolve);
    raw.once('error', reject);
  });
  if (answer.length !== 1 || answer[0] !== 0x53) throw new Error(`SSLRequest answered with ${answer.toString('hex')}`);
  return new Promise((resolve, reject) => {
    // verifyHost: an IP checked against the certificate's IP SANs (no SNI for IPs); else the name localhost.
    const secure = tls.connect({ socket: raw, ca: caPem, ...(verifyHost === undefined ? { servername: 'localhost' } : { host: verifyHost }) }, () => resolve(secure));
    secure.once('error', reject);
  });
}

/** Resolves when the socket is closed by the peer (or rejects after timeoutMs). */
export function untilClosed(socket: net.Socket, timeoutMs = 5000): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('socket not closed in time')), timeoutMs);
    socket.on('error', () => {});
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.resume();
  });
}

/** Connects through SSLRequest + TLS and logs in with a cleartext password; resolves after the first ReadyForQuery. */
export async function rawConnect(opts: RawConnectOptions): Promise<RawSession> {
  const socket = await upgradeToTls(await plainSocket(opts.port), opts.caPem);
  const parser = new Parser();
  const queue: BackendMessage[] = [];
  const waiters: Array<{ resolve: (m: BackendMessage) => void; reject: (e: Error) => void }> = [];
  let bytesReceived = 0;
  let closedError: Error | undefined;
  socket.on('data', (chunk: Buffer) => {
    bytesReceived += chunk.length;
    parser.parse(chunk, (m) => {
      const w = waiters.shift();
      if (w !== undefined) w.resolve(m);
      else queue.push(m);
    });
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    closedError = new Error('connection closed');
    for (const w of waiters.splice(0)) w.reject(closedError);
  });
  const next = (timeoutMs = opts.timeoutMs ?? 10_000): Promise<BackendMessage> => {
    const m = queue.shift();
    if (m !== undefined) return Promise.resolve(m);
    if (closedError !== undefined) return Promise.reject(closedError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no message in time')), timeoutMs);
      waiters.push({
        resolve: (msg) => (clearTimeout(timer), resolve(msg)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
    });
  };

  socket.write(serialize.startup({ user: opts.user, database: opts.database }));
  const parameters = new Map<string, string>();
  let pid = 0;
  let secretKey = 0;
  for (;;) {
    const m = await next();
    if (m.name === 'authenticationCleartextPassword') socket.write(serialize.password(opts.password));
    else if (m.name === 'parameterStatus') {
      const ps = m as unknown as { parameterName: string; parameterValue: string };
      parameters.set(ps.parameterName, ps.parameterValue);
    } else if (m.name === 'backendKeyData') {
      const k = m as unknown as { processID: number; secretKey: number };
      pid = k.processID;
      secretKey = k.secretKey;
    } else if (m.name === 'error') throw new Error(`login failed: ${(m as unknown as { message: string }).message}`);
    else if (m.name === 'readyForQuery') break;
  }
  const close = (): void => {
    if (socket.destroyed) return;
    socket.end(serialize.end());
    setTimeout(() => socket.destroy(), 1000).unref();
  };
  return {
    socket,
    pid,
    secretKey,
    parameters,
    get bytesReceived() {
      return bytesReceived;
    },
    next,
    sendQuery: (sql) => void socket.write(serialize.query(sql)),
    close,
    [Symbol.asyncDispose]: () => Promise.resolve(close()),
  };
}
