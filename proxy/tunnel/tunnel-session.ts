/**
 * One local connection of `rsproxy tunnel` (docs/design/surface.md §8): the client side of an rsproxy login. It answers the
 * local client's SSLRequest/GSSENCRequest, forwards a CancelRequest, dials the proxy over TLS, sends the client's
 * startup, answers the proxy's cleartext password request with a token, and then relays bytes unchanged.
 */
import * as tls from 'node:tls';
import type * as net from 'node:net';
import { AwsCredentialsError } from '../../auth/errors.js';
import type { Logger } from '../../auth/types.js';
import { ProxyError, internal, protocolViolation, shuttingDown, tunnelNoCredentials, tunnelNotAnRsproxy, tunnelRemoteFailed, unsupported } from '../errors/proxy-error.js';
import * as backend from '../protocol/backend.js';
import { MessageFramer } from '../protocol/framer.js';
import { decodeStartupPacket } from '../protocol/frontend.js';
import type { StartupMessage, StartupPacket } from '../protocol/frontend.js';
import { ProtocolError } from '../protocol/protocol-error.js';
import { StartupFramer } from '../protocol/startup-framer.js';
import { passwordMessage, startupMessage } from '../protocol/upstream.js';
import { nullSessionObserver } from '../telemetry/observer.js';
import { Relay } from '../session/relay.js';
import { sendCancelPacket } from '../upstream/cancel.js';
import { dialUpstream } from '../upstream/dial.js';
import type { DialedSocket, TlsSessionStore } from '../upstream/dial.js';
import { dialFailureReason, remoteLoginStep, tunnelStartupParameters } from './tunnel-startup.js';
import type { TunnelDialFn, TunnelOverrides, TunnelRemote, TunnelTokenSource } from './tunnel-startup.js';

/** Everything one TunnelSession needs; the listener builds one per accepted socket. */
export interface TunnelSessionOptions {
  socket: net.Socket;
  connectionId: string;
  remote: TunnelRemote;
  overrides: TunnelOverrides;
  tokens: TunnelTokenSource;
  /** Serve TLS to the local client (`--local-tls`); without it SSLRequest is answered 'N'. */
  localTls?: tls.SecureContext;
  /** info: one line per connection and per failure; never a token. */
  logger: Logger;
  /** Login deadline from accept to AuthenticationOk (default 30,000 ms). */
  loginTimeoutMs?: number;
  dial?: TunnelDialFn;
  /** TLS sessions to resume toward the remote (shared by the listener's sessions). */
  tlsSessions?: TlsSessionStore;
  /** TLS client options toward the remote, computed once by the listener (default: per dial). */
  remoteTlsOptions?: tls.ConnectionOptions;
  /** Forwards a CancelRequest packet (default: over a new TLS connection to the remote). */
  sendCancel?: (packet: Buffer) => Promise<void>;
  /** Called exactly once, when both sockets are gone. */
  onClose: () => void;
}

const maxStartupBytes = 10_000;
const maxRemoteLoginMessageBytes = 64 * 1024;
const maxHeldClientBytes = 1024 * 1024;

type Phase = 'startup' | 'connecting' | 'awaitingAuthRequest' | 'awaitingAuthResult' | 'relaying' | 'closing';

/** Drives one local connection from its first byte to the end of the relay. */
export class TunnelSession {
  private readonly opts: TunnelSessionOptions;
  private readonly log: Logger;
  private readonly hostPort: string;
  private readonly framer = new StartupFramer({ maxStartupBytes });
  private phase: Phase = 'startup';
  private client: net.Socket;
  private upstream: net.Socket | undefined;
  private remoteFramer: MessageFramer | undefined;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private token: string | undefined;
  private isTokenReused = false;
  private user = '';
  private database = '';
  private relay: Relay | undefined;
  private loginTimer: NodeJS.Timeout | undefined;
  private isClientGone = false;
  private isCloseReported = false;
  private readonly onClientData = (chunk: Buffer): void => this.handleClientData(chunk);
  private readonly onRemoteData = (chunk: Buffer): void => this.handleRemoteData(chunk);

  constructor(opts: TunnelSessionOptions) {
    this.opts = opts;
    this.log = opts.logger.child({ connection: opts.connectionId });
    this.hostPort = `${opts.remote.host}:${opts.remote.port}`;
    this.client = opts.socket;
  }

  /** Starts reading the local socket and the login timer. */
  start(): void {
    const raw = this.opts.socket;
    raw.setNoDelay(true);
    raw.on('error', (err) => this.onClientError(err));
    raw.on('close', () => this.onClientClosed());
    raw.on('data', this.onClientData);
    this.loginTimer = setTimeout(() => this.fail(tunnelRemoteFailed(this.hostPort, 'login timed out')), this.opts.loginTimeoutMs ?? 30_000);
    this.loginTimer.unref();
  }

  /** Ends the session for shutdown: FATAL 57P01 to the client where the stream allows it, Terminate to the remote. */
  terminate(): void {
    const farewell = shuttingDown();
    if (this.relay !== undefined) {
      const { sqlstate, clientMessage } = farewell;
      this.relay.closeWith(backend.errorResponse({ severity: 'FATAL', sqlstate, message: clientMessage }));
    } else this.fail(farewell);
  }

  /** Destroys both sockets now. */
  destroy(): void {
    this.phase = 'closing';
    this.relay?.close();
    this.upstream?.destroy();
    this.client.destroy();
    this.opts.socket.destroy();
  }

  private handleClientData(chunk: Buffer): void {
    if (this.phase === 'startup') {
      try {
        this.framer.push(chunk);
        for (let packet = this.framer.next(); packet !== undefined && this.phase === 'startup'; packet = this.framer.next()) {
          this.onStartupPacket(decodeStartupPacket(packet), packet);
        }
      } catch (err) {
        this.fail(err);
      }
      return;
    }
    if (this.phase === 'closing') return;
    // Bytes a client pipelines before the login completes go upstream once it has.
    this.heldBytes += chunk.length;
    if (this.heldBytes > maxHeldClientBytes) return this.fail(protocolViolation('too much data before authentication completed'));
    this.held.push(Buffer.from(chunk));
  }

  private onStartupPacket(packet: StartupPacket, raw: Buffer): void {
    const isTls = this.client !== this.opts.socket;
    switch (packet.kind) {
      case 'SSLRequest':
        if (isTls) return this.fail(protocolViolation('SSL request inside SSL'));
        if (this.opts.localTls === undefined) {
          this.client.write(backend.sslRefused);
          return;
        }
        // CVE-2021-23214: nothing may follow the SSLRequest in plaintext.
        if (this.framer.bufferedBytes > 0) return this.fail(protocolViolation('received unencrypted data after SSL request'));
        this.startLocalTls(this.opts.localTls);
        return;
      case 'GSSENCRequest':
        this.client.write(backend.gssEncRefused);
        return;
      case 'CancelRequest':
        this.forwardCancel(Buffer.from(raw));
        return;
      case 'UnsupportedProtocol':
        return this.fail(unsupported('protocol', `unsupported frontend protocol ${packet.majorVersion}.${packet.minorVersion}: server supports 3.0 to 3.0`));
      case 'StartupMessage':
        void this.login(packet);
        return;
    }
  }

  private startLocalTls(secureContext: tls.SecureContext): void {
    const raw = this.opts.socket;
    raw.removeListener('data', this.onClientData);
    raw.pause();
    raw.write(backend.sslAccepted);
    const secure = new tls.TLSSocket(raw, { isServer: true, secureContext, requestCert: false });
    this.client = secure;
    secure.on('error', (err) => this.onClientError(err));
    secure.on('close', () => this.onClientClosed());
    secure.on('data', this.onClientData);
  }

  private forwardCancel(packet: Buffer): void {
    this.phase = 'closing';
    const send = this.opts.sendCancel ?? ((p: Buffer) => sendCancelPacket(this.opts.remote, p, { timeoutMs: 5000, logger: this.log, allowPlaintext: false }));
    send(packet).then(
      () => this.log.info({ event: 'cancel_forwarded' }, `cancel request forwarded to ${this.hostPort}`),
      (err: unknown) => this.log.warn({ event: 'cancel_failed', reason: dialFailureReason(err) }, `cancel request could not be forwarded to ${this.hostPort}`),
    ).finally(() => this.closeClient());
  }

  private async login(packet: StartupMessage): Promise<void> {
    this.phase = 'connecting';
    const leftover = this.framer.takeLeftover();
    if (leftover.length > 0) this.handleClientData(leftover);
    const startup = tunnelStartupParameters(packet, this.opts.overrides);
    this.user = startup.parameters.find(([k]) => k.toLowerCase() === 'user')?.[1] ?? '';
    this.database = startup.parameters.find(([k]) => k.toLowerCase() === 'database')?.[1] ?? this.user;
    if (startup.shouldNegotiate) this.client.write(backend.negotiateProtocolVersion(startup.unsupportedOptions));
    const dial = this.opts.dial ?? dialUpstream;
    const deadlineMs = Date.now() + (this.opts.loginTimeoutMs ?? 30_000);
    // Token and dial run together; a credentials failure wins, as it is the one the user can fix.
    const { tlsSessions, remoteTlsOptions } = this.opts;
    const dialing = dial(this.opts.remote, {
      deadlineMs,
      logger: this.log,
      ...(tlsSessions === undefined ? {} : { tlsSessions }),
      ...(remoteTlsOptions === undefined ? {} : { tlsOptions: remoteTlsOptions }),
    });
    dialing.catch(() => {});
    try {
      const { token, isReused } = await this.opts.tokens.token();
      this.token = token;
      this.isTokenReused = isReused;
    } catch (err) {
      void dialing.then((d) => d.socket.destroy(), () => {});
      if (err instanceof AwsCredentialsError) return this.fail(tunnelNoCredentials(err.profile, err.reason, err.fix, { cause: err }));
      return this.fail(internal(err));
    }
    let dialed: DialedSocket;
    try {
      dialed = await dialing;
    } catch (err) {
      return this.fail(tunnelRemoteFailed(this.hostPort, dialFailureReason(err), { cause: err }));
    }
    if (this.phase !== 'connecting') {
      dialed.socket.destroy();
      return;
    }
    const upstream = dialed.socket;
    this.upstream = upstream;
    upstream.on('error', (err) => this.fail(tunnelRemoteFailed(this.hostPort, err.message, { cause: err })));
    upstream.on('close', () => this.fail(tunnelRemoteFailed(this.hostPort, 'the server closed the connection during login')));
    this.remoteFramer = new MessageFramer({ maxMessageBytes: maxRemoteLoginMessageBytes });
    this.phase = 'awaitingAuthRequest';
    upstream.on('data', this.onRemoteData);
    try {
      upstream.write(startupMessage(startup.parameters));
    } catch (err) {
      return this.fail(protocolViolation('invalid startup packet', { cause: err }));
    }
    upstream.resume();
  }

  private handleRemoteData(chunk: Buffer): void {
    const framer = this.remoteFramer;
    if (framer === undefined) return;
    try {
      framer.push(chunk);
      for (let frame = framer.next(); frame !== undefined; frame = framer.next()) {
        if (this.phase !== 'awaitingAuthRequest' && this.phase !== 'awaitingAuthResult') return;
        const step = remoteLoginStep(this.phase === 'awaitingAuthRequest' ? 'awaitingAuthRequest' : 'awaitingAuthResult', frame);
        switch (step.kind) {
          case 'forward':
            this.client.write(Buffer.from(frame.raw));
            continue;
          case 'sendPassword':
            this.upstream?.write(passwordMessage(this.token ?? ''));
            this.token = undefined;
            this.phase = 'awaitingAuthResult';
            continue;
          case 'refused':
            // The remote's own error (28P01, 57P01, 53300…) reaches the client verbatim.
            this.log.info({ event: 'login_refused', sqlstate: step.sqlstate, user: this.user, database: this.database }, `${this.hostPort} refused the login: ${step.sqlstate} ${step.message}`);
            this.phase = 'closing';
            this.upstream?.destroy();
            this.client.write(Buffer.from(frame.raw));
            this.closeClient();
            return;
          case 'notRsproxy':
            return this.fail(tunnelNotAnRsproxy(this.hostPort, { detail: step.detail }));
          case 'loggedIn':
            return this.startRelay(Buffer.concat([frame.raw, framer.takeLeftover()]));
        }
      }
    } catch (err) {
      this.fail(err instanceof ProtocolError ? tunnelNotAnRsproxy(this.hostPort, { cause: err }) : err);
    }
  }

  private startRelay(fromRemote: Buffer): void {
    const upstream = this.upstream;
    if (upstream === undefined) return;
    if (this.loginTimer !== undefined) clearTimeout(this.loginTimer);
    this.phase = 'relaying';
    upstream.removeListener('data', this.onRemoteData);
    upstream.removeAllListeners('close');
    upstream.removeAllListeners('error');
    upstream.on('error', () => {});
    upstream.pause();
    this.client.removeListener('data', this.onClientData);
    this.log.info({ event: 'connected', user: this.user, database: this.database, isTokenReused: this.isTokenReused }, `logged in to ${this.hostPort} as ${this.user} (database ${this.database})`);
    const held = Buffer.concat(this.held);
    this.held = [];
    const relay = new Relay({
      client: this.client,
      upstream,
      observer: nullSessionObserver,
      logger: this.log,
      onClose: (stats) => {
        this.log.debug({ event: 'closed', ...stats }, `connection closed (${stats.clientToUpstreamBytes} bytes sent, ${stats.upstreamToClientBytes} received)`);
        this.reportClosed();
      },
    });
    this.relay = relay;
    relay.noteForwarded('toClient', fromRemote);
    this.client.write(fromRemote);
    if (held.length > 0) {
      relay.noteForwarded('toUpstream', held);
      upstream.write(held);
    }
    relay.start();
  }

  private fail(err: unknown): void {
    if (this.phase === 'closing' || this.phase === 'relaying') return;
    this.phase = 'closing';
    if (this.loginTimer !== undefined) clearTimeout(this.loginTimer);
    this.upstream?.destroy();
    const error = err instanceof ProxyError ? err : err instanceof ProtocolError ? protocolViolation(err.message, { cause: err }) : internal(err);
    this.log.warn({ event: 'login_failed', sqlstate: error.sqlstate, user: this.user || undefined }, `${error.sqlstate} ${error.clientMessage}`);
    if (!this.client.destroyed && this.client.writable) {
      this.client.write(backend.errorResponse({ severity: 'FATAL', sqlstate: error.sqlstate, message: error.clientMessage, hint: error.hint }));
    }
    this.closeClient();
  }

  private closeClient(): void {
    const socket = this.client;
    if (!socket.destroyed) socket.end();
    // A peer that never reads must not keep the socket alive.
    setTimeout(() => {
      socket.destroy();
      this.opts.socket.destroy();
    }, 2000).unref();
  }

  private onClientError(err: Error): void {
    this.log.debug({ event: 'client_socket_error', err: err.message }, 'local client socket error');
    if (this.relay === undefined) this.destroy();
  }

  private onClientClosed(): void {
    if (this.isClientGone) return;
    this.isClientGone = true;
    if (this.relay !== undefined) return; // the relay reports the end once both sides are gone
    if (this.loginTimer !== undefined) clearTimeout(this.loginTimer);
    this.phase = 'closing';
    this.upstream?.destroy();
    this.opts.socket.destroy();
    this.client.destroy();
    this.reportClosed();
  }

  private reportClosed(): void {
    if (this.isCloseReported) return;
    this.isCloseReported = true;
    this.opts.onClose();
  }
}
