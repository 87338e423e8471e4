/** Fakes for client-session / server tests: a fixed-password Authenticator, a fake PostgreSQL backend, a raw protocol client. */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { AuthRequest, AuthResult, AuthTimings, Authenticator, Identity, UpstreamTarget } from '../auth/types.js';
import { AuthError, AuthErrorCode } from '../auth/errors.js';
import type { UpstreamLoginFn, UpstreamLoginOptions, UpstreamSession } from '../proxy/upstream/types.js';
import { getTestPki } from './certs.js';
import { cstr, typed } from './raw-wire.js';

export { cancelPacket, startupPacket } from './raw-wire.js';
export { sslRequest } from './raw-pg-client.js';

/** The only password the test authenticator accepts (test code only; the product never accepts a fixed password). */
export const testPassword = 'rsp1.test-password';

/** An Authenticator for tests: accepts `testPassword`, rejects everything else with AUTH_TOKEN_MALFORMED. */
export class FixedPasswordAuthenticator implements Authenticator {
  readonly requests: AuthRequest[] = [];
  invalidations = 0;
  /** Number of forgetEndpoint() calls on returned results. */
  endpointForgets = 0;
  /** What invalidate() returns: true models credentials served from the cache (a retry can help). */
  invalidateRetries = true;
  /** The autoCreate the results carry. */
  autoCreate = false;
  /** The identity and timings the results carry (for the login log line). */
  identity: Identity | undefined;
  timings: AuthTimings = {};
  /** Delay before answering, to exercise the login timeout. */
  delayMs = 0;
  /** Report the token verified (onTokenVerified) before the delay: the delay then models the credentials stage. */
  isTokenVerifiedBeforeDelay = false;
  /** When set, authenticate() throws it. */
  failWith: Error | undefined;
  private readonly target: () => UpstreamTarget;

  constructor(target: () => UpstreamTarget) {
    this.target = target;
  }

  async authenticate(req: AuthRequest): Promise<AuthResult> {
    this.requests.push({ ...req, password: req.password === testPassword ? '<ok>' : '<wrong>' });
    if (this.isTokenVerifiedBeforeDelay) req.onTokenVerified?.();
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.failWith !== undefined) throw this.failWith;
    if (req.password !== testPassword) throw new AuthError(AuthErrorCode.TokenMalformed, 'token prefix not recognised');
    return {
      upstreamUser: `IAM:${req.user}`,
      upstreamPassword: 'upstream-temp-password',
      target: this.target(),
      expiresAtMs: Date.now() + 900_000,
      ...(this.identity === undefined ? {} : { identity: this.identity }),
      timings: this.timings,
      invalidate: () => {
        this.invalidations++;
        return this.invalidateRetries;
      },
      forgetEndpoint: () => {
        this.endpointForgets++;
      },
      autoCreate: this.autoCreate,
    };
  }
}

/** Encodes a typed message (test side); raw-wire's builder under the name these tests use. */
export const message = typed;

/** Upstream ParameterStatus messages the fake backend reports. */
export const fakeParameterStatus: Buffer[] = [
  message('S', Buffer.concat([cstr('server_version'), cstr('8.0.2')])),
  message('S', Buffer.concat([cstr('client_encoding'), cstr('UTF8')])),
  message('S', Buffer.concat([cstr('DateStyle'), cstr('ISO, MDY')])),
  message('S', Buffer.concat([cstr('integer_datetimes'), cstr('on')])),
];

/** A fake PostgreSQL backend after login: answers each simple Query with one text row holding the query text. */
export class FakeBackend {
  readonly server: tls.Server;
  readonly queries: string[] = [];
  readonly sockets = new Set<tls.TLSSocket>();
  port = 0;

  private constructor(server: tls.Server) {
    this.server = server;
  }

  /** Starts on 127.0.0.1 port 0 with the test PKI. */
  static async start(): Promise<FakeBackend> {
    const pki = await getTestPki();
    const server = tls.createServer({ cert: pki.serverCertPem, key: pki.serverKeyPem });
    const fb = new FakeBackend(server);
    server.on('secureConnection', (s) => fb.serve(s));
    server.on('tlsClientError', () => {});
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    fb.port = (server.address() as net.AddressInfo).port;
    return fb;
  }

  private serve(s: tls.TLSSocket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => {});
    let buf = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 5) {
        const len = buf.readInt32BE(1);
        if (buf.length < len + 1) break;
        const type = String.fromCharCode(buf[0]!);
        const body = buf.subarray(5, len + 1);
        buf = buf.subarray(len + 1);
        if (type === 'X') {
          s.end();
          return;
        }
        if (type === 'Q') {
          const q = body.subarray(0, body.length - 1).toString('utf8');
          this.queries.push(q);
          s.write(queryResponse(q));
        }
      }
    });
  }

  /** The target an authenticator should return for this backend. */
  target(engine: 'redshift' | 'postgres' = 'postgres'): UpstreamTarget {
    return { database: 'dev', host: '127.0.0.1', port: this.port, dbName: 'dev', engine, tlsMode: 'require' };
  }

  /** Stops the backend and its connections. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** RowDescription + DataRow + CommandComplete + ReadyForQuery for one text value. */
export function queryResponse(value: string): Buffer {
  const field = Buffer.concat([cstr('q'), Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 25, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0])]);
  const rowDesc = message('T', Buffer.concat([Buffer.from([0, 1]), field]));
  const v = Buffer.from(value, 'utf8');
  const cell = Buffer.alloc(4);
  cell.writeInt32BE(v.length);
  const dataRow = message('D', Buffer.concat([Buffer.from([0, 1]), cell, v]));
  return Buffer.concat([rowDesc, dataRow, message('C', cstr('SELECT 1')), message('Z', Buffer.from('I'))]);
}

/** Options of the fake upstream login. */
export interface FakeUpstreamLoginState {
  calls: UpstreamLoginOptions[];
  /** Errors to throw on the next calls, in order. */
  failures: Error[];
  delayMs: number;
  /** Bytes the backend "sent" after Z (go to the client before the relay). */
  leftover: Buffer;
}

/** An upstream login that TLS-connects to a FakeBackend and pretends the login already happened. */
export function fakeUpstreamLogin(backendPort: () => number): { login: UpstreamLoginFn; state: FakeUpstreamLoginState } {
  const state: FakeUpstreamLoginState = { calls: [], failures: [], delayMs: 0, leftover: Buffer.alloc(0) };
  const login: UpstreamLoginFn = async (opts) => {
    state.calls.push({ ...opts, password: '<redacted>' });
    if (state.delayMs > 0) await new Promise((r) => setTimeout(r, state.delayMs));
    const failure = state.failures.shift();
    if (failure !== undefined) throw failure;
    const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: backendPort(), rejectUnauthorized: false }, () => resolve(s));
      s.once('error', reject);
    });
    socket.removeAllListeners('error');
    socket.pause();
    const session: UpstreamSession = {
      socket,
      parameterStatus: fakeParameterStatus,
      notices: [],
      readyForQuery: message('Z', Buffer.from('I')),
      backendKey: { pid: 4242, key: Buffer.from([1, 2, 3, 4]) },
      leftover: state.leftover,
      serverVersion: '8.0.2',
    };
    return session;
  };
  return { login, state };
}

/** A fake UpstreamLoginError. */
export function upstreamLoginError(code: 'UPSTREAM_CONNECT' | 'UPSTREAM_AUTH', isAuthRejected: boolean): Error {
  const err = new Error(`fake ${code}`) as Error & { code: string; isAuthRejected: boolean; upstreamSqlstate?: string };
  err.name = 'UpstreamLoginError';
  err.code = code;
  err.isAuthRejected = isAuthRejected;
  if (isAuthRejected) err.upstreamSqlstate = '28P01';
  return err;
}

/** A decoded backend message (test side). */
export interface RawMessage {
  type: string;
  body: Buffer;
}

/** A byte-level PostgreSQL client for tests: write raw packets, read raw bytes and messages, upgrade to TLS. */
export class RawClient {
  socket: net.Socket;
  private buf = Buffer.alloc(0);
  private isClosedValue = false;
  private waiters: Array<() => void> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  /** Connects to 127.0.0.1:port. */
  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  /** Direct TLS (no SSLRequest), optionally offering ALPN protocols. */
  static async connectDirectTls(port: number, alpn: string[] | undefined): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const opts: tls.ConnectionOptions = { host: '127.0.0.1', port, rejectUnauthorized: false };
      if (alpn !== undefined) opts.ALPNProtocols = alpn;
      const s = tls.connect(opts, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  private attach(s: net.Socket): void {
    s.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      this.wake();
    });
    s.on('error', () => {});
    s.on('close', () => {
      this.isClosedValue = true;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** True once the peer closed. */
  get isClosed(): boolean {
    return this.isClosedValue;
  }

  /** Bytes received and not yet consumed. */
  get pending(): Buffer {
    return this.buf;
  }

  /** Sends raw bytes. */
  write(b: Buffer): void {
    this.socket.write(b);
  }

  private async waitFor(pred: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (this.isClosedValue) return;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`RawClient: timed out; have ${this.buf.length} bytes`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Reads exactly n bytes (throws if the connection closes first). */
  async readBytes(n: number, timeoutMs = 3000): Promise<Buffer> {
    await this.waitFor(() => this.buf.length >= n, timeoutMs);
    if (this.buf.length < n) throw new Error(`RawClient: closed after ${this.buf.length} of ${n} bytes`);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Reads one typed message. */
  async readMessage(timeoutMs = 3000): Promise<RawMessage> {
    const head = await this.readBytes(5, timeoutMs);
    const len = head.readInt32BE(1);
    const body = await this.readBytes(len - 4, timeoutMs);
    return { type: String.fromCharCode(head[0]!), body };
  }

  /** Waits for the peer to close; returns every byte not yet consumed. */
  async waitClose(timeoutMs = 3000): Promise<Buffer> {
    await this.waitFor(() => this.isClosedValue, timeoutMs);
    if (!this.isClosedValue) throw new Error('RawClient: not closed');
    const rest = this.buf;
    this.buf = Buffer.alloc(0);
    return rest;
  }

  /** Upgrades the socket to TLS (after 'S'). */
  async startTls(alpn?: string[]): Promise<void> {
    const raw = this.socket;
    raw.removeAllListeners('data');
    const opts: tls.ConnectionOptions = { socket: raw, rejectUnauthorized: false, servername: 'localhost' };
    if (alpn !== undefined) opts.ALPNProtocols = alpn;
    const s = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const t = tls.connect(opts, () => resolve(t));
      t.once('error', reject);
    });
    this.socket = s;
    this.attach(s);
  }

  /** Destroys the socket. */
  destroy(): void {
    this.socket.destroy();
  }
}

/** Parses an ErrorResponse body into its fields. */
export function parseErrorFields(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const code = String.fromCharCode(body[i]!);
    const end = body.indexOf(0, i + 1);
    out[code] = body.subarray(i + 1, end).toString('utf8');
    i = end + 1;
  }
  return out;
}

/** A PasswordMessage. */
export function passwordPacket(password: string | Buffer): Buffer {
  const pw = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  return message('p', Buffer.concat([pw, Buffer.from([0])]));
}

/** GSSENCRequest bytes. */
export const gssEncRequest = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30]);

