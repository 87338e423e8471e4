/** Dials an upstream: TCP connect, SSLRequest, exactly 'S', TLS by the target's mode (docs/design/wire-protocol.md §7 steps 2–3). */
import { readFile } from 'node:fs/promises';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Logger, UpstreamTarget } from '../../auth/types.js';
import { sslRequest } from '../protocol/upstream.js';
import { UpstreamLoginError, UpstreamLoginErrorCode } from './error.js';
import { applyKeepAlive } from './keepalive.js';

/** Options of dialUpstream. */
export interface DialOptions {
  /** Absolute epoch ms; the dial fails with UPSTREAM_TIMEOUT after it. */
  deadlineMs: number;
  /** TCP connect timeout (default 3000), capped by the deadline. */
  connectTimeoutMs?: number;
  logger: Logger;
  /** Continue in plaintext when the upstream answers 'N' (cancel only; never for logins). */
  allowPlaintext?: boolean;
  /** Bytes sent before the SSLRequest (a PROXY v2 LOCAL header toward a peer replica). */
  preamble?: Buffer;
  /** Source IP to connect from (a peer replica recognises its peers by source address). */
  localAddress?: string;
  /** upstreamTlsOptions(target) computed once by the caller (`rsproxy tunnel` dials one target: no CA file read per dial). */
  tlsOptions?: tls.ConnectionOptions;
  /** Resume TLS sessions from this store (`rsproxy tunnel`: the proxy issues tickets; PostgreSQL does not). */
  tlsSessions?: TlsSessionStore;
  /** TCP keepalive idle seconds on the dialed socket (`limits.tcpKeepAliveSeconds`; 0 = off; absent = Node's default, off). */
  keepAliveSeconds?: number;
}

/** The last TLS session per dial target and TLS settings, so the next dial resumes it instead of a full handshake. */
export interface TlsSessionStore {
  get(key: string): Buffer | undefined;
  set(key: string, session: Buffer): void;
}

/** A TlsSessionStore in memory (one entry per key). */
export function createTlsSessionStore(): TlsSessionStore {
  const sessions = new Map<string, Buffer>();
  return { get: (key) => sessions.get(key), set: (key, session) => void sessions.set(key, session) };
}

/** Where and how to dial: an UpstreamTarget, or any host/port with a TLS mode (`rsproxy tunnel` dials the proxy itself). */
export type DialTarget = Pick<UpstreamTarget, 'host' | 'port' | 'tlsMode' | 'caFile'>;

/** A dialed upstream socket: TLS, or plaintext when allowed and the upstream refused TLS. Paused. */
export type DialedSocket = { isTls: true; socket: tls.TLSSocket } | { isTls: false; socket: net.Socket };

const S = 0x53;
const N = 0x4e;

// Building a context from the ~150 public roots plus a CA file costs ~100 ms of blocked event loop,
// so each distinct CA bundle gets one context, reused by every upstream connection.
const maxCachedContexts = 32;
const contextsByCaPem = new Map<string, tls.SecureContext>();

function secureContextFor(caPem: string): tls.SecureContext {
  let ctx = contextsByCaPem.get(caPem);
  if (ctx === undefined) {
    // `ca` replaces Node's default store; keep the public roots too.
    ctx = tls.createSecureContext({ ca: [...tls.rootCertificates, caPem], minVersion: 'TLSv1.2' });
    if (contextsByCaPem.size >= maxCachedContexts) contextsByCaPem.delete(contextsByCaPem.keys().next().value as string);
    contextsByCaPem.set(caPem, ctx);
  }
  return ctx;
}

/** TLS client options for the target's `upstreamTls` mode. */
export async function upstreamTlsOptions(target: DialTarget): Promise<tls.ConnectionOptions> {
  const opts: tls.ConnectionOptions = { host: target.host, minVersion: 'TLSv1.2' };
  // SNI only for DNS names (RFC 6066 forbids IP literals).
  if (net.isIP(target.host) === 0) opts.servername = target.host;
  if (target.caFile !== undefined) {
    let pem: string;
    try {
      pem = await readFile(target.caFile, 'utf8');
    } catch (cause) {
      throw new UpstreamLoginError(UpstreamLoginErrorCode.Tls, `cannot read upstream CA file ${target.caFile}`, { cause });
    }
    opts.secureContext = secureContextFor(pem);
  }
  switch (target.tlsMode) {
    case 'verify-full':
      opts.rejectUnauthorized = true;
      break;
    case 'verify-ca':
      opts.rejectUnauthorized = true;
      opts.checkServerIdentity = () => undefined;
      break;
    case 'require':
      opts.rejectUnauthorized = false;
      break;
  }
  return opts;
}

/** Connects to the target and negotiates TLS; rejects with UpstreamLoginError. The socket is paused. */
export async function dialUpstream(target: DialTarget, opts: DialOptions): Promise<DialedSocket> {
  const tlsOptions = opts.tlsOptions ?? (await upstreamTlsOptions(target));
  const remainingMs = opts.deadlineMs - Date.now();
  if (remainingMs <= 0) throw new UpstreamLoginError(UpstreamLoginErrorCode.Timeout, 'login deadline passed before connecting upstream');
  const log = opts.logger;

  return new Promise<DialedSocket>((resolve, reject) => {
    let phase: 'connect' | 'negotiate' | 'tls' = 'connect';
    let settled = false;
    let secure: tls.TLSSocket | undefined;
    const raw = net.connect({ host: target.host, port: target.port, ...(opts.localAddress === undefined ? {} : { localAddress: opts.localAddress }) });
    if (opts.keepAliveSeconds !== undefined) applyKeepAlive(raw, opts.keepAliveSeconds);

    const fail = (err: UpstreamLoginError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(deadlineTimer);
      secure?.destroy();
      raw.destroy();
      reject(err);
    };
    const codeForPhase = (): UpstreamLoginErrorCode =>
      phase === 'connect' ? UpstreamLoginErrorCode.Connect : phase === 'tls' ? UpstreamLoginErrorCode.Tls : UpstreamLoginErrorCode.Protocol;
    const succeed = (result: DialedSocket): void => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(deadlineTimer);
      raw.removeListener('close', onClose);
      result.socket.pause();
      resolve(result);
    };

    // Timers run before I/O callbacks: after a stalled event loop, let a connect that already
    // completed be processed (setImmediate runs after the poll phase) before calling it a timeout.
    const connectTimer = setTimeout(
      () =>
        setImmediate(() => {
          if (phase === 'connect') fail(new UpstreamLoginError(UpstreamLoginErrorCode.Timeout, `upstream TCP connect timed out`));
        }),
      Math.min(opts.connectTimeoutMs ?? 3000, remainingMs),
    );
    const deadlineTimer = setTimeout(
      () => fail(new UpstreamLoginError(UpstreamLoginErrorCode.Timeout, `upstream ${phase === 'tls' ? 'TLS handshake' : 'TLS negotiation'} timed out`)),
      remainingMs,
    );

    const onClose = (): void => fail(new UpstreamLoginError(codeForPhase(), `upstream closed the connection during ${phase}`));
    // Stays attached for the socket's life: a late error on the raw socket must never crash the process.
    raw.on('error', (cause) => {
      if (settled) log.debug({ err: cause.message }, 'upstream raw socket error after dial');
      else fail(new UpstreamLoginError(codeForPhase(), `upstream ${phase} failed: ${cause.message}`, { cause }));
    });
    raw.on('close', onClose);

    const onAnswer = (chunk: Buffer): void => {
      raw.removeListener('data', onAnswer);
      raw.pause();
      const answer = chunk[0];
      // CVE-2021-23222: bytes after 'S' would be read as if they came through TLS.
      if (chunk.length > 1 || raw.readableLength > 0) {
        fail(new UpstreamLoginError(UpstreamLoginErrorCode.Protocol, 'upstream sent unexpected bytes with its SSLRequest answer'));
        return;
      }
      if (answer === N) {
        if (opts.allowPlaintext === true) succeed({ isTls: false, socket: raw });
        else fail(new UpstreamLoginError(UpstreamLoginErrorCode.Tls, 'upstream does not accept TLS (answered N to SSLRequest)'));
        return;
      }
      if (answer !== S) {
        fail(new UpstreamLoginError(UpstreamLoginErrorCode.Protocol, `unexpected answer 0x${(answer ?? 0).toString(16)} to SSLRequest`));
        return;
      }
      phase = 'tls';
      // A session verified under one mode or CA must never be resumed under another.
      const sessionKey = `${target.host}:${target.port}:${target.tlsMode}:${target.caFile ?? ''}`;
      const session = opts.tlsSessions?.get(sessionKey);
      const t = tls.connect({ ...tlsOptions, socket: raw, ...(session === undefined ? {} : { session }) });
      if (opts.tlsSessions !== undefined) t.on('session', (s: Buffer) => opts.tlsSessions?.set(sessionKey, s));
      secure = t;
      t.on('error', (cause) => {
        if (settled) log.debug({ err: cause.message }, 'upstream TLS socket error');
      });
      t.once('secureConnect', () => {
        t.removeListener('error', onTlsError);
        log.debug({ protocol: t.getProtocol(), authorized: t.authorized }, 'upstream TLS established');
        succeed({ isTls: true, socket: t });
      });
      const onTlsError = (cause: Error): void =>
        fail(new UpstreamLoginError(UpstreamLoginErrorCode.Tls, `upstream TLS handshake failed: ${cause.message}`, { cause }));
      t.once('error', onTlsError);
    };

    raw.once('connect', () => {
      clearTimeout(connectTimer);
      phase = 'negotiate';
      raw.setNoDelay(true);
      raw.on('data', onAnswer);
      raw.write(opts.preamble === undefined ? sslRequest : Buffer.concat([opts.preamble, sslRequest]));
    });
  });
}
