/** One client connection: TLS negotiation → startup → authenticate (auth port) → upstream login → relay (wire.md §2–§8). */
import * as tls from 'node:tls';
import type * as net from 'node:net';
import type { AuthResult, Authenticator, Logger } from '../../auth/types.js';
import { authFailed, protocolViolation, toProxyError, upstreamFailed } from '../errors.js';
import type { ProxyError } from '../errors.js';
import * as backend from '../protocol/backend.js';
import { TlsHandshakeByte } from '../protocol/codes.js';
import { MessageFramer } from '../protocol/framer.js';
import { decodePasswordMessage, decodeStartupPacket, isPasswordMessage, isTerminate, passwordMessageCapBytes } from '../protocol/frontend.js';
import type { StartupPacket } from '../protocol/frontend.js';
import { ProtocolError } from '../protocol/protocol-error.js';
import { StartupFramer } from '../protocol/startup-framer.js';
import type { CancelRegistry, IssuedKey } from './cancel-registry.js';
import type { SessionObserver } from './observer.js';
import { Relay } from './relay.js';
import { classifyStartupParameters, upstreamParameters } from './startup-params.js';
import type { StartupParams } from './startup-params.js';
import { initialPhase, step } from './state.js';
import type { Phase, SessionAction, SessionEvent } from './state.js';
import { isUpstreamLoginError } from './upstream-types.js';
import type { UpstreamLoginFn, UpstreamSession } from './upstream-types.js';

/** Most bytes a pipelining client may send after its PasswordMessage before the relay starts. */
export const maxHeldClientBytes = 64 * 1024;

/** Limits one session enforces (`limits.*`). */
export interface SessionLimits {
  loginTimeoutMs: number;
  maxStartupBytes: number;
  maxPasswordBytes: number;
}

/** Everything a ClientSession needs; the server builds one per accepted socket. */
export interface ClientSessionOptions {
  socket: net.Socket;
  connectionId: string;
  secureContext: tls.SecureContext;
  limits: SessionLimits;
  authenticator: Authenticator;
  upstreamLogin: UpstreamLoginFn;
  cancelRegistry: CancelRegistry;
  logger: Logger;
  observer: SessionObserver;
  /** Asked when a StartupMessage arrives: an error (57P01 draining, 53300 cap) refuses the login. */
  admit: () => ProxyError | undefined;
  /** Called exactly once when the client connection is gone. */
  onClose: () => void;
  nowMs?: () => number;
}

/** Drives one client connection through the state machine of state.ts. */
export class ClientSession {
  private readonly opts: ClientSessionOptions;
  private readonly log: Logger;
  private readonly nowMs: () => number;
  private readonly acceptedAtMs: number;
  private phaseValue: Phase = initialPhase;
  private client: net.Socket;
  private readonly startupFramer: StartupFramer;
  private messageFramer: MessageFramer | undefined;
  private heldFramer: MessageFramer | undefined;
  private readonly held: Buffer[] = [];
  private params: StartupParams | undefined;
  private password = '';
  private loginTimer: NodeJS.Timeout | undefined;
  private relay: Relay | undefined;
  private cancelKey: IssuedKey | undefined;
  private upstreamSocket: net.Socket | undefined;
  private isFinished = false;
  private readonly onPlainData = (chunk: Buffer): void => this.handlePlainData(chunk);
  private readonly onTlsData = (chunk: Buffer): void => this.handleTlsData(chunk);

  constructor(opts: ClientSessionOptions) {
    this.opts = opts;
    this.log = opts.logger.child({ connectionId: opts.connectionId });
    this.nowMs = opts.nowMs ?? Date.now;
    this.acceptedAtMs = this.nowMs();
    this.client = opts.socket;
    this.startupFramer = new StartupFramer({ maxStartupBytes: opts.limits.maxStartupBytes });
  }

  /** Current phase (tests, drain decisions). */
  get phase(): Phase {
    return this.phaseValue;
  }

  /** Starts reading the socket and the login timer. */
  start(): void {
    const raw = this.opts.socket;
    raw.setNoDelay(true);
    raw.on('error', (err) => this.onSocketError(err));
    raw.on('close', () => this.finish());
    raw.on('data', this.onPlainData);
    this.loginTimer = setTimeout(() => this.dispatch({ type: 'LoginTimeout' }), this.opts.limits.loginTimeoutMs);
    this.loginTimer.unref();
  }

  /** Ends the session for shutdown: FATAL 57P01 during login, plain close while relaying. */
  terminate(error: ProxyError): void {
    if (this.phaseValue.name === 'Relaying') this.relay?.close();
    else this.dispatch({ type: 'Fail', error });
  }

  /** Destroys every socket now. */
  destroy(): void {
    this.relay?.close();
    this.upstreamSocket?.destroy();
    this.client.destroy();
    this.opts.socket.destroy();
  }

  // A method, not a field read, so TypeScript does not narrow across dispatch().
  private phaseName(): Phase['name'] {
    return this.phaseValue.name;
  }

  private dispatch(event: SessionEvent): void {
    const before = this.phaseValue;
    const { phase, actions } = step(before, event);
    this.phaseValue = phase;
    this.run(actions, 0);
  }

  private run(actions: readonly SessionAction[], from: number): void {
    for (let i = from; i < actions.length; i++) {
      const action = actions[i]!;
      if (action.type === 'HandleCancel') {
        void this.handleCancel().finally(() => this.run(actions, i + 1));
        return;
      }
      this.perform(action);
    }
  }

  private perform(action: SessionAction): void {
    switch (action.type) {
      case 'SendSslAccepted':
        this.client.write(backend.sslAccepted);
        return;
      case 'SendGssEncRefused':
        this.client.write(backend.gssEncRefused);
        return;
      case 'StartTls':
        this.startTls(action.isDirect);
        return;
      case 'SendNegotiateProtocolVersion':
        this.client.write(backend.negotiateProtocolVersion(this.params?.unsupportedProtocolOptions ?? []));
        return;
      case 'SendCleartextPasswordRequest':
        this.client.write(backend.authenticationCleartextPassword);
        return;
      case 'Authenticate':
        void this.authenticate();
        return;
      case 'UpstreamLogin':
        return; // started by authenticate(), which owns the AuthResult
      case 'SendLoginSuccess':
      case 'StartRelay':
        return; // performed by completeLogin() with the upstream session in hand
      case 'SendFatal':
        this.sendFatal(action.error);
        return;
      case 'Close':
        this.close();
        return;
      case 'HandleCancel':
        return;
    }
  }

  private handlePlainData(chunk: Buffer): void {
    if (this.phaseValue.name === 'AwaitingInitial' && this.startupFramer.bufferedBytes === 0 && chunk[0] === TlsHandshakeByte && !this.phaseValue.hasRefusedGssEnc) {
      const raw = this.opts.socket;
      raw.removeListener('data', this.onPlainData);
      raw.pause();
      raw.unshift(chunk);
      this.dispatch({ type: 'TlsRecord' });
      return;
    }
    this.feedStartup(chunk);
  }

  private feedStartup(chunk: Buffer): void {
    try {
      this.startupFramer.push(chunk);
      for (;;) {
        const name = this.phaseValue.name;
        if (name !== 'AwaitingInitial' && name !== 'AwaitingStartupInTls') return;
        const packet = this.startupFramer.next();
        if (packet === undefined) return;
        this.onStartupPacket(decodeStartupPacket(packet));
      }
    } catch (err) {
      this.fail(err);
    }
  }

  private onStartupPacket(packet: StartupPacket): void {
    switch (packet.kind) {
      case 'SSLRequest':
        if (this.phaseValue.name === 'AwaitingInitial') {
          // CVE-2021-23214: nothing after the SSLRequest may be buffered when 'S' is written.
          const raw = this.opts.socket;
          raw.removeListener('data', this.onPlainData);
          raw.pause();
          if (this.startupFramer.bufferedBytes > 0 || raw.readableLength > 0) {
            this.dispatch({ type: 'Fail', error: protocolViolation('received unencrypted data after SSL request') });
            return;
          }
        }
        this.dispatch({ type: 'SSLRequest' });
        return;
      case 'GSSENCRequest':
        this.dispatch({ type: 'GSSENCRequest' });
        return;
      case 'CancelRequest':
        this.pendingCancel = packet;
        this.dispatch({ type: 'CancelRequest' });
        return;
      case 'UnsupportedProtocol':
        this.dispatch({ type: 'UnsupportedProtocol', majorVersion: packet.majorVersion, minorVersion: packet.minorVersion });
        return;
      case 'StartupMessage': {
        if (this.phaseValue.name === 'AwaitingInitial') {
          this.dispatch({ type: 'StartupMessage', shouldNegotiate: false });
          return;
        }
        this.params = classifyStartupParameters(packet.minorVersion, packet.parameters);
        const refusal = this.opts.admit();
        if (refusal !== undefined) {
          this.dispatch({ type: 'Fail', error: refusal });
          return;
        }
        if (this.params.dropped.length > 0) this.log.debug({ event: 'startup_parameters_dropped', names: this.params.dropped }, 'startup parameters not forwarded');
        this.dispatch({ type: 'StartupMessage', shouldNegotiate: this.params.shouldNegotiate });
        this.messageFramer = new MessageFramer({ maxMessageBytes: passwordMessageCapBytes(this.opts.limits.maxPasswordBytes) });
        const rest = this.startupFramer.takeLeftover();
        if (rest.length > 0) this.feedPassword(rest);
        return;
      }
    }
  }

  private pendingCancel: { pid: number; key: Buffer; packetBytes: number } | undefined;

  private async handleCancel(): Promise<void> {
    const req = this.pendingCancel;
    if (req === undefined) return;
    const source = this.opts.socket.remoteAddress ?? 'unknown';
    const result = await this.opts.cancelRegistry.handle(req.pid, req.key, req.packetBytes, source);
    this.log.debug({ event: 'cancel_request', result }, 'cancel request handled');
  }

  private startTls(isDirect: boolean): void {
    const raw = this.opts.socket;
    const secure = new tls.TLSSocket(raw, {
      isServer: true,
      secureContext: this.opts.secureContext,
      ALPNProtocols: ['postgresql'],
      requestCert: false,
    });
    this.client = secure;
    secure.on('error', (err) => this.onSocketError(err));
    secure.on('close', () => this.finish());
    secure.once('secure', () => {
      this.dispatch({ type: 'TlsReady', hasAlpnPostgresql: secure.alpnProtocol === 'postgresql' });
      if (this.phaseValue.name !== 'AwaitingStartupInTls') return;
      secure.on('data', this.onTlsData);
    });
    this.log.debug({ event: 'tls_start', direct: isDirect }, 'starting TLS');
  }

  private handleTlsData(chunk: Buffer): void {
    switch (this.phaseValue.name) {
      case 'AwaitingStartupInTls':
        this.feedStartup(chunk);
        return;
      case 'AwaitingPassword':
        this.feedPassword(chunk);
        return;
      case 'Authenticating':
      case 'UpstreamLogin':
        this.feedHeld(chunk);
        return;
      default:
        return;
    }
  }

  private feedPassword(chunk: Buffer): void {
    const framer = this.messageFramer;
    if (framer === undefined) return;
    try {
      framer.push(chunk);
      const frame = framer.next();
      if (frame === undefined) return;
      if (isTerminate(frame)) return this.dispatch({ type: 'Terminate' });
      if (!isPasswordMessage(frame)) return this.dispatch({ type: 'OtherMessage' });
      const decoded = decodePasswordMessage(frame.body);
      const user = this.params?.user ?? '';
      if (!decoded.ok) throw authFailed(user, 'malformed');
      this.password = stripOneNewline(decoded.password);
      if (this.password === '') throw authFailed(user, 'malformed');
      this.dispatch({ type: 'PasswordMessage' });
      const rest = framer.takeLeftover();
      this.messageFramer = undefined;
      if (rest.length > 0) this.feedHeld(rest);
    } catch (err) {
      this.fail(err);
    }
  }

  private feedHeld(chunk: Buffer): void {
    this.heldFramer ??= new MessageFramer({ maxMessageBytes: maxHeldClientBytes });
    const framer = this.heldFramer;
    try {
      framer.push(chunk);
      let total = framer.bufferedBytes;
      for (const b of this.held) total += b.length;
      if (total > maxHeldClientBytes) throw protocolViolation('too much data sent before authentication completed');
      for (let frame = framer.next(); frame !== undefined; frame = framer.next()) {
        if (isTerminate(frame)) return this.dispatch({ type: 'Terminate' });
        if (isPasswordMessage(frame)) return this.dispatch({ type: 'PasswordMessage' });
        this.held.push(frame.raw);
      }
    } catch (err) {
      this.fail(err);
    }
  }

  private async authenticate(): Promise<void> {
    const params = this.params;
    if (params === undefined) return;
    const deadlineMs = this.acceptedAtMs + this.opts.limits.loginTimeoutMs;
    const request = { user: params.user, database: params.database, password: this.password, connectionId: this.opts.connectionId, deadlineMs };
    this.password = '';
    try {
      let result = await this.opts.authenticator.authenticate(request);
      if (this.phaseName() !== 'Authenticating') return;
      this.dispatch({ type: 'AuthOk' });
      let upstream: UpstreamSession;
      try {
        upstream = await this.loginUpstream(result, params, deadlineMs);
      } catch (err) {
        if (!isUpstreamLoginError(err) || !err.isAuthRejected || this.phaseName() !== 'UpstreamLogin') throw err;
        this.log.warn({ event: 'upstream_auth_rejected_retry', upstreamSqlstate: err.upstreamSqlstate }, 'upstream refused fresh credentials; retrying once');
        result.invalidate();
        result = await this.opts.authenticator.authenticate(request);
        if (this.phaseName() !== 'UpstreamLogin') return;
        upstream = await this.loginUpstream(result, params, deadlineMs);
      }
      if (this.phaseName() !== 'UpstreamLogin') {
        upstream.socket.destroy();
        return;
      }
      this.completeLogin(result, upstream);
    } catch (err) {
      if (this.phaseName() === 'Closing') return;
      this.fail(isUpstreamLoginError(err) ? upstreamFailed(err.code === 'UPSTREAM_AUTH' ? 'upstream_auth' : 'upstream', { cause: err }) : err);
    } finally {
      request.password = '';
    }
  }

  private async loginUpstream(result: AuthResult, params: StartupParams, deadlineMs: number): Promise<UpstreamSession> {
    const startedMs = this.nowMs();
    const upstream = await this.opts.upstreamLogin({
      target: result.target,
      user: result.upstreamUser,
      password: result.upstreamPassword,
      parameters: upstreamParameters(params, result.target.engine),
      deadlineMs,
      logger: this.log,
    });
    this.upstreamSocket = upstream.socket;
    this.opts.observer.upstreamConnect((this.nowMs() - startedMs) / 1000);
    return upstream;
  }

  private completeLogin(result: AuthResult, upstream: UpstreamSession): void {
    this.dispatch({ type: 'UpstreamReady' });
    if (this.phaseValue.name !== 'Relaying') {
      upstream.socket.destroy();
      return;
    }
    if (this.loginTimer !== undefined) clearTimeout(this.loginTimer);
    const key = this.opts.cancelRegistry.issue(result.target, upstream.backendKey.pid, upstream.backendKey.key);
    this.cancelKey = key;
    this.client.removeListener('data', this.onTlsData);
    this.client.write(
      Buffer.concat([
        backend.authenticationOk,
        ...upstream.parameterStatus,
        ...upstream.notices,
        backend.backendKeyData(key.pid, key.key),
        upstream.readyForQuery,
        upstream.leftover,
      ]),
    );
    const held = this.heldFramer === undefined ? this.held : [...this.held, this.heldFramer.takeLeftover()];
    if (held.length > 0) upstream.socket.write(Buffer.concat(held));
    this.held.length = 0;
    const durationSeconds = (this.nowMs() - this.acceptedAtMs) / 1000;
    this.opts.observer.login('ok', 'ok', durationSeconds);
    this.log.info(
      { event: 'login_ok', user: this.params?.user, database: this.params?.database, upstreamUser: result.upstreamUser, upstreamHost: result.target.host, durationMs: Math.round(durationSeconds * 1000), timings: result.timings },
      'login succeeded',
    );
    this.relay = new Relay({
      client: this.client,
      upstream: upstream.socket,
      observer: this.opts.observer,
      logger: this.log,
      onClose: (stats) => {
        key.release();
        this.log.info({ event: 'session_end', ...stats }, 'session ended');
      },
    });
    this.relay.start();
  }

  private fail(err: unknown): void {
    if (this.phaseValue.name === 'Closing') return;
    const pe = err instanceof ProtocolError ? protocolViolation(err.message, { cause: err }) : toProxyError(err, this.params?.user ?? '');
    this.dispatch({ type: 'Fail', error: pe });
  }

  private sendFatal(error: ProxyError): void {
    const level = error.sqlstate === 'XX000' ? 'error' : 'info';
    this.log[level]({ event: 'login_failed', sqlstate: error.sqlstate, code: error.code, reason: error.reason, detail: error.message, cause: causeSummary(error.cause), user: this.params?.user }, 'login failed');
    this.opts.observer.login('failed', error.reason, (this.nowMs() - this.acceptedAtMs) / 1000);
    if (!this.client.destroyed && this.client.writable) {
      this.client.write(backend.errorResponse({ severity: 'FATAL', sqlstate: error.sqlstate, message: error.clientMessage, hint: error.hint }));
    }
  }

  private close(): void {
    if (this.loginTimer !== undefined) clearTimeout(this.loginTimer);
    this.upstreamSocket?.destroy();
    const socket = this.client;
    if (socket.destroyed) return;
    socket.end();
    // A peer that never reads must not keep the socket alive.
    setTimeout(() => {
      socket.destroy();
      this.opts.socket.destroy();
    }, 2000).unref();
  }

  private onSocketError(err: Error): void {
    this.log.debug({ event: 'client_socket_error', err: `${err.name}: ${err.message}` }, 'client socket error');
    if (this.relay === undefined) {
      this.phaseValue = { name: 'Closing' };
      this.destroy();
    }
  }

  private finish(): void {
    if (this.isFinished) return;
    this.isFinished = true;
    if (this.loginTimer !== undefined) clearTimeout(this.loginTimer);
    if (this.phaseValue.name !== 'Relaying') {
      this.phaseValue = { name: 'Closing' };
      this.upstreamSocket?.destroy();
    }
    this.opts.socket.destroy();
    this.client.destroy();
    this.cancelKey?.release();
    this.opts.onClose();
  }
}

/** Strips at most one trailing `\n` or `\r\n` (pasted tokens, token.md §4 rule 3). */
export function stripOneNewline(password: string): string {
  if (password.endsWith('\r\n')) return password.slice(0, -2);
  if (password.endsWith('\n')) return password.slice(0, -1);
  return password;
}

function causeSummary(cause: unknown): string | undefined {
  if (cause === undefined) return undefined;
  if (cause instanceof Error) return `${cause.name}: ${cause.message}`;
  return String(cause);
}
