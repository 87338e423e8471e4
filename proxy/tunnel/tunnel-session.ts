/**
 * One local connection of `rsproxy tunnel`: the client side of an rsproxy login, driving the pure
 * tunnel-state.ts. It answers the local client's SSLRequest/GSSENCRequest, forwards a CancelRequest, dials the proxy
 * over TLS, sends the client's startup, answers the proxy's cleartext password request with a token, then relays.
 */
import type * as net from 'node:net';
import type { Logger } from '../../auth/types.js';
import { ByteQueue } from '../protocol/byte-queue.js';
import { tunnelLimits } from '../config/limits.js';
import { protocolViolation, tunnelNotAnRsproxy } from '../errors/proxy-error.js';
import * as backend from '../protocol/backend.js';
import { MessageFramer } from '../protocol/framer.js';
import { decodeStartupPacket } from '../protocol/frontend.js';
import type { StartupPacket } from '../protocol/frontend.js';
import { ProtocolError } from '../protocol/protocol-error.js';
import { StartupFramer } from '../protocol/startup-framer.js';
import { passwordMessage, startupMessage } from '../protocol/upstream.js';
import { connectionLogger } from '../telemetry/log.js';
import { nullSessionObserver } from '../telemetry/observer.js';
import { toSessionError } from '../session/login-failure.js';
import { Relay } from '../session/relay.js';
import { sendCancelPacket } from '../upstream/cancel.js';
import { dialUpstream } from '../upstream/dial.js';
import { reachRemote, type ReachedRemote } from './reach-remote.js';
import { LocalClient } from './local-client.js';
import { remoteLoginEvent, tunnelInitialPhase, tunnelStep } from './tunnel-state.js';
import type { TunnelAction, TunnelContext, TunnelEvent, TunnelPhase } from './tunnel-state.js';
import { dialFailureReason, remoteLoginStep, tunnelStartupParameters } from './tunnel-startup.js';
import type { TunnelSessionOptions } from './tunnel-session-options.js';

const fixedReplies = { SendSslRefused: backend.sslRefused, SendSslAccepted: backend.sslAccepted, SendGssEncRefused: backend.gssEncRefused } as const;

/** Drives one local connection from its first byte to the end of the relay. */
export class TunnelSession {
  private readonly opts: TunnelSessionOptions;
  private readonly log: Logger;
  private readonly ctx: TunnelContext;
  private readonly framer = new StartupFramer({ maxStartupBytes: tunnelLimits.maxStartupBytes });
  private phase: TunnelPhase = tunnelInitialPhase;
  private readonly client: LocalClient;
  private upstream: net.Socket | undefined;
  private remoteFramer: MessageFramer | undefined;
  private startup: ReturnType<typeof tunnelStartupParameters> | undefined;
  private readonly held = new ByteQueue();
  private token: string | undefined;
  private isTokenReused = false;
  private user = '';
  private database = '';
  private relay: Relay | undefined;
  private loginTimer: NodeJS.Timeout | undefined;
  private isCloseReported = false;
  private readonly onRemoteData = (chunk: Buffer): void => this.handleRemoteData(chunk);

  constructor(opts: TunnelSessionOptions) {
    this.opts = opts;
    this.log = connectionLogger(opts.logger, opts.connectionId);
    this.ctx = { hostPort: `${opts.remote.host}:${opts.remote.port}`, hasLocalTls: opts.localTls !== undefined };
    this.client = new LocalClient(opts.socket, {
      onData: (chunk) => this.handleClientData(chunk),
      onError: (err) => {
        this.log.debug({ event: 'client_socket_error', err: err.message }, 'local client socket error');
        this.dispatch({ type: 'ClientGone' });
      },
      onClose: () => {
        this.dispatch({ type: 'ClientGone' });
        // While relaying, the relay reports the end once both sides are gone.
        if (this.relay === undefined) this.reportClosed();
      },
    });
  }

  /** Starts reading the local socket and the login timer. */
  start(): void {
    this.client.start();
    this.loginTimer = setTimeout(() => this.dispatch({ type: 'LoginTimeout' }), this.opts.loginTimeoutMs ?? tunnelLimits.loginTimeoutMs);
    this.loginTimer.unref();
  }

  /** Ends the session for shutdown: FATAL 57P01 to the client where the stream allows it, Terminate to the remote. */
  terminate(): void {
    this.dispatch({ type: 'Shutdown' });
  }

  /** Destroys both sockets now. */
  destroy(): void {
    this.dispatch({ type: 'ClientGone' });
    this.relay?.close();
    this.endSockets(true);
  }

  private dispatch(event: TunnelEvent): void {
    const { phase, actions } = tunnelStep(this.phase, event, this.ctx);
    this.phase = phase;
    this.run(actions, 0);
  }

  private run(actions: readonly TunnelAction[], from: number): void {
    for (let i = from; i < actions.length; i++) {
      const action = actions[i]!;
      if (action.type === 'ForwardCancel') {
        void this.forwardCancel(action.packet).finally(() => this.run(actions, i + 1));
        return;
      }
      this.perform(action);
    }
  }

  private perform(action: TunnelAction): void {
    switch (action.type) {
      case 'SendSslRefused':
      case 'SendSslAccepted':
      case 'SendGssEncRefused':
        this.client.write(fixedReplies[action.type]);
        return;
      case 'StartTls':
        if (this.opts.localTls !== undefined) this.client.startTls(this.opts.localTls);
        return;
      case 'SendNegotiateProtocolVersion':
        this.client.write(backend.negotiateProtocolVersion(this.startup?.unsupportedOptions ?? []));
        return;
      case 'Connect':
        void this.connect();
        return;
      case 'Hold':
        this.held.push(Buffer.from(action.bytes));
        return;
      case 'SendStartup':
        this.sendStartup();
        return;
      case 'ForwardToClient':
        this.client.write(Buffer.from(action.bytes));
        return;
      case 'SendPassword':
        this.upstream?.write(passwordMessage(this.token ?? ''));
        this.token = undefined;
        return;
      case 'LogRefused':
        this.log.info({ event: 'login_refused', sqlstate: action.sqlstate, user: this.user, database: this.database }, `${this.ctx.hostPort} refused the login: ${action.sqlstate} ${action.message}`);
        return;
      case 'StartRelay':
        this.startRelay(action.fromRemote);
        return;
      case 'SendFarewell': {
        const { sqlstate, clientMessage } = action.error;
        this.relay?.closeWith(backend.errorResponse({ severity: 'FATAL', sqlstate, message: clientMessage }));
        return;
      }
      case 'SendFatal': {
        const error = action.error;
        this.log.warn({ event: 'login_failed', sqlstate: error.sqlstate, user: this.user || undefined }, `${error.sqlstate} ${error.clientMessage}`);
        this.client.writeIfOpen(backend.errorResponse({ severity: 'FATAL', sqlstate: error.sqlstate, message: error.clientMessage, hint: error.hint }));
        return;
      }
      case 'Close':
      case 'Destroy':
        this.endSockets(action.type === 'Destroy');
        return;
    }
  }

  private handleClientData(chunk: Buffer): void {
    if (this.phase.name !== 'AwaitingInitial') return this.dispatch({ type: 'ClientData', bytes: chunk, heldBytes: this.held.length });
    try {
      this.framer.push(chunk);
      for (let packet = this.framer.next(); packet !== undefined && this.phase.name === 'AwaitingInitial'; packet = this.framer.next()) {
        this.onStartupPacket(decodeStartupPacket(packet), packet);
      }
    } catch (err) {
      this.fail(err);
    }
  }

  private onStartupPacket(packet: StartupPacket, raw: Buffer): void {
    switch (packet.kind) {
      case 'SSLRequest':
        return this.dispatch({ type: 'SSLRequest', hasTrailingBytes: this.framer.bufferedBytes > 0 });
      case 'GSSENCRequest':
        return this.dispatch({ type: 'GSSENCRequest' });
      case 'UnsupportedProtocol':
        return this.dispatch({ type: 'UnsupportedProtocol', majorVersion: packet.majorVersion, minorVersion: packet.minorVersion });
      case 'CancelRequest':
        return this.dispatch({ type: 'CancelRequest', packet: Buffer.from(raw) });
      case 'StartupMessage': {
        const startup = tunnelStartupParameters(packet, this.opts.overrides);
        this.startup = startup;
        this.user = startup.parameters.find(([k]) => k.toLowerCase() === 'user')?.[1] ?? '';
        this.database = startup.parameters.find(([k]) => k.toLowerCase() === 'database')?.[1] ?? this.user;
        this.dispatch({ type: 'StartupMessage', shouldNegotiate: startup.shouldNegotiate });
        // Bytes a client pipelines after its startup are held until the login completes.
        const leftover = this.framer.takeLeftover();
        if (leftover.length > 0) this.handleClientData(leftover);
        return;
      }
    }
  }

  private forwardCancel(packet: Buffer): Promise<void> {
    const send = this.opts.sendCancel ?? ((p: Buffer) => sendCancelPacket(this.opts.remote, p, { timeoutMs: tunnelLimits.cancelTimeoutMs, logger: this.log, allowPlaintext: false }));
    return send(packet).then(
      () => this.log.info({ event: 'cancel_forwarded' }, `cancel request forwarded to ${this.ctx.hostPort}`),
      (err: unknown) => this.log.warn({ event: 'cancel_failed', reason: dialFailureReason(err) }, `cancel request could not be forwarded to ${this.ctx.hostPort}`),
    );
  }

  private async connect(): Promise<void> {
    const { tlsSessions, remoteTlsOptions } = this.opts;
    let reached: ReachedRemote;
    try {
      reached = await reachRemote(this.opts.remote, this.opts.tokens, this.opts.dial ?? dialUpstream, {
        deadlineMs: Date.now() + (this.opts.loginTimeoutMs ?? tunnelLimits.loginTimeoutMs),
        logger: this.log,
        ...(tlsSessions === undefined ? {} : { tlsSessions }),
        ...(this.opts.keepAliveSeconds === undefined ? {} : { keepAliveSeconds: this.opts.keepAliveSeconds }),
        ...(remoteTlsOptions === undefined ? {} : { tlsOptions: remoteTlsOptions }),
      });
    } catch (err) {
      return this.fail(err);
    }
    const upstream = reached.socket;
    if (this.phase.name !== 'Connecting') return void upstream.destroy();
    this.token = reached.token;
    this.isTokenReused = reached.isTokenReused;
    this.upstream = upstream;
    upstream.on('error', (err) => this.dispatch({ type: 'RemoteError', message: err.message }));
    upstream.on('close', () => this.dispatch({ type: 'RemoteClosed' }));
    this.remoteFramer = new MessageFramer({ maxMessageBytes: tunnelLimits.maxRemoteLoginMessageBytes });
    upstream.on('data', this.onRemoteData);
    this.dispatch({ type: 'RemoteReady' });
  }

  private sendStartup(): void {
    try {
      this.upstream?.write(startupMessage(this.startup?.parameters ?? []));
    } catch (err) {
      return this.dispatch({ type: 'Fail', error: protocolViolation('invalid startup packet', { cause: err }) });
    }
    this.upstream?.resume();
  }

  private handleRemoteData(chunk: Buffer): void {
    const framer = this.remoteFramer;
    if (framer === undefined) return;
    try {
      framer.push(chunk);
      for (let frame = framer.next(); frame !== undefined; frame = framer.next()) {
        const phase = this.phase.name;
        if (phase !== 'AwaitingAuthRequest' && phase !== 'AwaitingAuthResult') return;
        const step = remoteLoginStep(phase === 'AwaitingAuthRequest' ? 'awaitingAuthRequest' : 'awaitingAuthResult', frame);
        this.dispatch(remoteLoginEvent(step, frame.raw, () => framer.takeLeftover()));
      }
    } catch (err) {
      this.fail(err instanceof ProtocolError ? tunnelNotAnRsproxy(this.ctx.hostPort, { cause: err }) : err);
    }
  }

  private startRelay(fromRemote: Buffer): void {
    const upstream = this.upstream;
    if (upstream === undefined) return;
    if (this.loginTimer !== undefined) clearTimeout(this.loginTimer);
    upstream.removeListener('data', this.onRemoteData);
    upstream.removeAllListeners('close');
    upstream.removeAllListeners('error');
    upstream.on('error', () => {});
    upstream.pause();
    this.client.stopReading();
    this.log.info({ event: 'connected', user: this.user, database: this.database, isTokenReused: this.isTokenReused }, `logged in to ${this.ctx.hostPort} as ${this.user} (database ${this.database})`);
    const held = this.held.takeAll();
    const relay = new Relay({
      client: this.client.socket,
      upstream,
      observer: nullSessionObserver,
      logger: this.log,
      lingerMs: tunnelLimits.relayLingerMs,
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

  /** Any failure during login, through the proxy's one translation to a ProxyError. */
  private fail(err: unknown): void {
    this.dispatch({ type: 'Fail', error: toSessionError(err, this.user) });
  }

  /** Destroys the proxy's socket and ends the client's: at once, or after the linger (a FATAL may still be unread). */
  private endSockets(isNow: boolean): void {
    if (this.loginTimer !== undefined) clearTimeout(this.loginTimer);
    this.upstream?.destroy();
    if (isNow) this.client.destroy();
    else this.client.end(tunnelLimits.closeLingerMs);
  }

  private reportClosed(): void {
    if (this.isCloseReported) return;
    this.isCloseReported = true;
    this.opts.onClose();
  }
}
