/** One client connection: drives state.ts through TLS negotiation → startup → password → login → relay, and owns its sockets and timers (docs/design/wire-protocol.md §2–§8). */
import type * as net from 'node:net';
import type { Logger } from '../../auth/types.js';
import { sessionLimits } from '../config/limits.js';
import type { ProxyError } from '../errors/proxy-error.js';
import * as backend from '../protocol/backend.js';
import type { StartupMessage } from '../protocol/frontend.js';
import { PasswordPhase } from './authentication.js';
import type { IssuedKey } from './cancel-registry.js';
import type { ClientSessionOptions } from './client-session-options.js';
import { loginFailure, reportLoginFailure, toSessionError } from './login-failure.js';
import type { SessionAuditTrail } from './session-audit.js';
import { SessionLoginAudit } from './session-audit-login.js';
import { startRelayedSession } from './relayed-session.js';
import type { RelayedSessionHost } from './relayed-session.js';
import { logInSession } from './session-login-steps.js';
import type { SessionLoginHost } from './session-login-steps.js';
import type { LoggedIn, LoginProgress } from './login.js';
import type { SessionEndReason } from '../telemetry/observer.js';
import type { Relay } from './relay.js';
import { classifyStartupParameters } from './startup-params.js';
import type { StartupParams } from './startup-params.js';
import { initialPhase, step } from './state.js';
import type { Phase, SessionAction, SessionEvent } from './state.js';
import { TlsNegotiation } from './tls-negotiation.js';
import { performAction } from './session-actions.js';

export { maxHeldClientBytes, stripOneNewline } from './authentication.js';
export type { ClientSessionOptions, SessionLimits } from './client-session-options.js';

/** How long a client that does not read its FATAL may keep the socket open. */
const closeLingerMs = sessionLimits.closeLingerMs;

/** Drives one client connection through the state machine of state.ts. */
export class ClientSession {
  private readonly opts: ClientSessionOptions;
  private readonly log: Logger;
  /** The client's address (after PROXY protocol): logs, cancel rate limit, /sessions. */
  readonly clientAddress: string;
  private readonly nowMs: () => number;
  private readonly acceptedAtMs: number;
  private readonly negotiation: TlsNegotiation;
  private phaseValue: Phase = initialPhase;
  private client: net.Socket;
  private passwordPhase: PasswordPhase | undefined;
  private params: StartupParams | undefined;
  private loginTimer: NodeJS.Timeout | undefined;
  private relay: Relay | undefined;
  private cancelKey: IssuedKey | undefined;
  private upstreamSocket: net.Socket | undefined;
  private isFinished = false;
  private isRelayDone = false;
  private isCloseReported = false;
  private endReason: SessionEndReason | undefined;
  private untrack: (() => void) | undefined;
  private readonly progress: LoginProgress = {};
  private readonly audit: SessionLoginAudit | undefined;
  private readonly onTlsData = (chunk: Buffer): void => this.handleTlsData(chunk);

  constructor(opts: ClientSessionOptions) {
    this.opts = opts;
    this.clientAddress = opts.clientAddress ?? opts.socket.remoteAddress ?? 'unknown';
    this.log = opts.logger.child({ connectionId: opts.connectionId, clientAddress: this.clientAddress, ...(opts.proxiedBy === undefined ? {} : { proxiedBy: opts.proxiedBy }) });
    this.nowMs = opts.nowMs ?? Date.now;
    this.acceptedAtMs = opts.acceptedAtMs ?? this.nowMs();
    this.client = opts.socket;
    this.audit = opts.audit === undefined ? undefined : new SessionLoginAudit(opts.audit, opts, this.clientAddress);
    this.negotiation = new TlsNegotiation({
      socket: opts.socket,
      clientAddress: this.clientAddress,
      isProxied: opts.proxiedBy !== undefined,
      secureContext: opts.secureContext,
      maxStartupBytes: opts.limits.maxStartupBytes,
      cancelRegistry: opts.cancelRegistry,
      logger: this.log,
      host: {
        phase: () => this.phaseValue,
        dispatch: (event) => this.dispatch(event),
        fail: (err) => this.fail(err),
        onStartupMessage: (packet, rest) => this.onStartupMessage(packet, rest),
        onTlsSocket: (secure) => {
          this.client = secure;
          secure.on('error', (err) => this.onSocketError(err));
          secure.on('close', () => this.finish());
        },
        onTlsReady: (secure) => secure.on('data', this.onTlsData),
      },
    });
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
    this.negotiation.start();
    const remainingMs = Math.max(0, this.opts.limits.loginTimeoutMs - (this.nowMs() - this.acceptedAtMs));
    this.loginTimer = setTimeout(() => this.dispatch({ type: 'LoginTimeout' }), remainingMs);
    this.loginTimer.unref();
  }

  /** Ends the session (shutdown, admin, revocation, age): FATAL `error` during login, and while relaying when idle at a message boundary (else a plain close). */
  terminate(error: ProxyError, reason: SessionEndReason = 'shutdown'): void {
    if (this.phaseValue.name !== 'Relaying') {
      this.dispatch({ type: 'Fail', error });
      return;
    }
    this.endReason ??= reason;
    const farewell = backend.errorResponse({ severity: 'FATAL', sqlstate: error.sqlstate, message: error.clientMessage, hint: error.hint });
    const { isFarewellSent, isUpstreamCancelled } = this.relay?.closeWith(farewell) ?? { isFarewellSent: false, isUpstreamCancelled: false };
    this.log.info(
      { event: 'session_terminated', reason: error.reason, endReason: reason, code: error.code, isFarewellSent, isUpstreamCancelled },
      isUpstreamCancelled ? 'busy session closed; its upstream query cancelled' : isFarewellSent ? 'idle session told to go away' : 'session closed mid-message',
    );
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
    const { phase, actions } = step(this.phaseValue, event);
    this.phaseValue = phase;
    this.run(actions, 0);
  }

  private run(actions: readonly SessionAction[], from: number): void {
    for (let i = from; i < actions.length; i++) {
      const action = actions[i]!;
      if (action.type === 'HandleCancel') {
        void this.negotiation.handleCancel().finally(() => this.run(actions, i + 1));
        return;
      }
      // The login_denied record is written before the client reads the FATAL (and before the close after it).
      if (action.type === 'SendFatal' && this.audit !== undefined && this.params !== undefined) {
        void this.audit.denied(action.error, this.params, this.progress).finally(() => {
          this.perform(action);
          this.run(actions, i + 1);
        });
        return;
      }
      this.perform(action);
    }
  }

  private perform(action: SessionAction): void {
    performAction(action, {
      client: this.client,
      negotiation: this.negotiation,
      params: this.params,
      authenticate: () => void this.authenticate(),
      sendFatal: (error) => {
        const durationSeconds = (this.nowMs() - this.acceptedAtMs) / 1000;
        reportLoginFailure({ client: this.client, error, logger: this.log, observer: this.opts.observer, user: this.params?.user, durationSeconds, params: this.params, progress: this.progress });
      },
      close: () => this.close(),
    });
  }

  private onStartupMessage(packet: StartupMessage, rest: Buffer): void {
    this.params = classifyStartupParameters(packet.minorVersion, packet.parameters, this.opts.startupParameterDrop);
    const refusal = this.opts.admit();
    if (refusal !== undefined) {
      this.dispatch({ type: 'Fail', error: refusal });
      return;
    }
    if (this.params.dropped.length > 0) this.log.debug({ event: 'startup_parameters_dropped', names: this.params.dropped }, 'startup parameters not forwarded');
    this.dispatch({ type: 'StartupMessage', shouldNegotiate: this.params.shouldNegotiate });
    this.passwordPhase = new PasswordPhase({ dispatch: (event) => this.dispatch(event), fail: (err) => this.fail(err) }, this.params.user, this.opts.limits.maxPasswordBytes);
    if (rest.length > 0) this.passwordPhase.feedPassword(rest);
  }

  private handleTlsData(chunk: Buffer): void {
    switch (this.phaseValue.name) {
      case 'AwaitingStartupInTls':
        this.negotiation.feed(chunk);
        return;
      case 'AwaitingPassword':
        this.passwordPhase?.feedPassword(chunk);
        return;
      case 'Authenticating':
      case 'UpstreamLogin':
        this.passwordPhase?.feedHeld(chunk);
        return;
      default:
        return;
    }
  }

  private async authenticate(): Promise<void> {
    const params = this.params;
    const passwordPhase = this.passwordPhase;
    if (params === undefined || passwordPhase === undefined) return;
    const host: SessionLoginHost = {
      opts: this.opts, log: this.log, nowMs: this.nowMs,
      acceptedAtMs: this.acceptedAtMs, progress: this.progress, audit: this.audit,
      phaseName: () => this.phaseName(),
      dispatch: (event) => this.dispatch(event),
      onUpstreamSocket: (socket) => (this.upstreamSocket = socket),
      fail: (err) => this.fail(err),
    };
    try {
      const done = await logInSession(host, params, passwordPhase);
      if (done !== undefined) this.completeLogin(done.loggedIn, passwordPhase, done.trail);
    } catch (err) {
      if (this.phaseName() === 'Closing') return;
      this.fail(loginFailure(err));
    }
  }

  private completeLogin(loggedIn: LoggedIn, passwordPhase: PasswordPhase, trail?: SessionAuditTrail): void {
    this.dispatch({ type: 'UpstreamReady' });
    if (this.phaseValue.name !== 'Relaying') {
      loggedIn.upstream.socket.destroy();
      return;
    }
    if (this.loginTimer !== undefined) clearTimeout(this.loginTimer);
    this.client.removeListener('data', this.onTlsData);
    const host: RelayedSessionHost = {
      opts: this.opts, client: this.client, log: this.log, clientAddress: this.clientAddress,
      params: this.params, progress: this.progress, acceptedAtMs: this.acceptedAtMs, nowMs: this.nowMs,
      localEndReason: () => this.endReason ?? 'shutdown',
      terminate: (error, reason) => this.terminate(error, reason),
      onRelayStarted: (relay, key) => {
        this.relay = relay;
        this.cancelKey = key;
        this.passwordPhase = undefined;
      },
      onUpstreamHandedOver: () => (this.upstreamSocket = undefined),
      onRelayClosed: () => {
        this.isRelayDone = true;
        this.untrack?.();
        this.reportClosed();
      },
    };
    this.untrack = startRelayedSession(host, loggedIn, passwordPhase.takeHeld(), trail);
  }

  private fail(err: unknown): void {
    if (this.phaseValue.name !== 'Closing') this.dispatch({ type: 'Fail', error: toSessionError(err, this.params?.user ?? '') });
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
    }, closeLingerMs).unref();
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
    // While relaying, the relay releases the key and reports the close once the upstream is gone too.
    if (this.relay === undefined) this.cancelKey?.release();
    this.reportClosed();
  }

  private reportClosed(): void {
    if (this.isCloseReported || !this.isFinished || (this.relay !== undefined && !this.isRelayDone)) return;
    this.isCloseReported = true;
    this.opts.onClose();
  }
}
