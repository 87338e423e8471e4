/** ProxyServer: accept loop, client TLS context, connection cap, session tracking, drain and destroy. */
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { Authenticator, Logger } from '../../auth/types.js';
import { accessRevoked, shuttingDown, terminatedByAdministrator, tooManyConnections } from '../errors/proxy-error.js';
import type { ProxyError } from '../errors/proxy-error.js';
import { CidrSet } from '../protocol/ip-address.js';
import { CancelRegistry } from '../session/cancel-registry.js';
import { ClientSession } from '../session/client-session.js';
import type { SessionLimits } from '../session/client-session.js';
import { LiveSessions } from '../session/live-sessions.js';
import { OpenConnections } from '../session/open-connections.js';
import type { SessionAdmissionCheck } from '../session/live-sessions.js';
import { nullSessionObserver } from '../telemetry/observer.js';
import type { CancelPeers } from '../session/cancel-peers.js';
import type { SessionObserver } from '../telemetry/observer.js';
import { ProxyHeaderGate } from './proxy-gate.js';
import { SourceRateLimiter, sourceKey } from './source-rate-limiter.js';
import { sendUpstreamCancel as realSendUpstreamCancel } from '../upstream/cancel.js';
import { upstreamLogin as realUpstreamLogin } from '../upstream/login.js';
import type { SendUpstreamCancelFn, UpstreamLoginFn } from '../upstream/types.js';
import { applyKeepAlive } from '../upstream/keepalive.js';
import type { UpstreamReusePort } from '../upstream/reuse-pool.js';
import { dropSet } from '../session/startup-params.js';
import type { SessionAudit } from '../session/session-audit.js';

/** Client-facing TLS material (`tls.*`, files already read). */
export interface ServerTlsOptions {
  certPem: string;
  keyPem: string;
  minVersion: tls.SecureVersion;
}

/** `limits.*` the server enforces. */
export interface ServerLimits extends SessionLimits {
  maxClientConnections: number;
  /** New connections per second per remote address before they are closed at accept (default 100). */
  maxConnectionsPerSourcePerSecond?: number;
  /** TCP keepalive idle seconds on client and upstream sockets (0 = off; absent = Node's default, off). */
  tcpKeepAliveSeconds?: number;
}

/** Default of `limits.maxConnectionsPerSourcePerSecond`. */
export const defaultMaxConnectionsPerSourcePerSecond = 100;
/** CancelRequests per second per source address (a burst of as many). */
export const defaultCancelsPerSourcePerSecond = 10;

/** Options of a ProxyServer. */
export interface ProxyServerOptions {
  tls: ServerTlsOptions;
  limits: ServerLimits;
  authenticator: Authenticator;
  logger: Logger;
  observer?: SessionObserver;
  /** Defaults to the real upstream login (tests inject fakes). */
  upstreamLogin?: UpstreamLoginFn;
  /** Defaults to the real upstream cancel. */
  sendUpstreamCancel?: SendUpstreamCancelFn;
  /** Cancels per second per source address (default 10). */
  cancelRatePerSecond?: number;
  /** Time source of the per-source connection rate limit (tests pass a fake). */
  nowMs?: () => number;
  /** With `cluster` set: cancel keys name this replica, and cancels for other replicas are forwarded (docs/design/surface.md §9). */
  peers?: CancelPeers;
  /** How long after limits.maxSessionSeconds a busy session may run before it is cancelled (default 300 s). */
  maxSessionGraceMs?: number;
  /** `proxyProtocol.trustedSources`: CIDRs whose connections must open with a PROXY header (default none: no header is read). */
  trustedSources?: readonly string[];
  /** `startupParameters.drop`: startup parameter names never forwarded upstream (default none). */
  startupParameterDrop?: readonly string[];
  /** The audit trail every session writes to (`audit.file` set; default none). */
  audit?: SessionAudit;
  /** Upstream session reuse (docs/operations/upstream-reuse.md); absent = every login is a fresh upstream login. */
  reuse?: UpstreamReusePort;
}

/** The upstream login with `limits.tcpKeepAliveSeconds` on its socket (unchanged when unset). */
function withKeepAlive(login: UpstreamLoginFn, keepAliveSeconds: number | undefined): UpstreamLoginFn {
  if (keepAliveSeconds === undefined) return login;
  return (o) => login({ ...o, keepAliveSeconds });
}

/** Builds the client-facing TLS context; throws on a bad certificate or key. */
export function createClientSecureContext(opts: ServerTlsOptions): tls.SecureContext {
  return tls.createSecureContext({ cert: opts.certPem, key: opts.keyPem, minVersion: opts.minVersion });
}

/** The PostgreSQL-protocol listener: one ClientSession per accepted socket. */
export class ProxyServer {
  /** The cancel keys of this server's sessions. */
  readonly cancelRegistry: CancelRegistry;
  /** Sessions past login (admin /sessions, revocation on reload). */
  readonly liveSessions: LiveSessions;
  private readonly opts: ProxyServerOptions;
  private readonly observer: SessionObserver;
  private readonly upstreamLogin: UpstreamLoginFn;
  private readonly sessions = new OpenConnections<ClientSession>();
  /** Sessions whose StartupMessage was admitted (the ones maxClientConnections counts). */
  private readonly admitted = new Set<ClientSession>();
  private readonly server: net.Server;
  private readonly sourceRate: SourceRateLimiter;
  private readonly trustedSources: CidrSet;
  /** Sockets still in the PROXY header gate (no session yet). */
  private readonly gate: ProxyHeaderGate;
  private secureContext: tls.SecureContext;
  private authenticator: Authenticator;
  private startupDrop: ReadonlySet<string>;
  private isDrainingValue = false;
  private isListeningValue = false;

  constructor(opts: ProxyServerOptions) {
    this.opts = opts;
    this.observer = opts.observer ?? nullSessionObserver;
    this.liveSessions = new LiveSessions((session) => {
      opts.logger.warn(
        { event: 'session_revoked', connectionId: session.connectionId, identity: session.identity?.canonicalArn, user: session.user, database: session.database },
        'the reloaded rules no longer admit this session; ending it',
      );
      session.end(accessRevoked(), 'revoked');
    });
    const login = withKeepAlive(opts.upstreamLogin ?? realUpstreamLogin, opts.limits.tcpKeepAliveSeconds);
    this.upstreamLogin = opts.reuse === undefined ? login : opts.reuse.wrapLogin(login);
    this.secureContext = createClientSecureContext(opts.tls);
    this.authenticator = opts.authenticator;
    this.startupDrop = dropSet(opts.startupParameterDrop ?? []);
    const sendCancel = opts.sendUpstreamCancel ?? ((target, pid, key, timeoutMs, logger) => realSendUpstreamCancel(target, pid, key, timeoutMs, logger ?? opts.logger));
    this.cancelRegistry = new CancelRegistry({
      sendUpstreamCancel: sendCancel,
      logger: opts.logger,
      observer: this.observer,
      limiter: new SourceRateLimiter({
        ratePerSecond: opts.cancelRatePerSecond ?? defaultCancelsPerSourcePerSecond,
        burst: opts.cancelRatePerSecond ?? defaultCancelsPerSourcePerSecond,
        maxTrackedSources: 10_000,
        ...(opts.nowMs === undefined ? {} : { nowMs: opts.nowMs }),
      }),
      ...(opts.peers === undefined ? {} : { peers: opts.peers }),
    });
    this.sourceRate = new SourceRateLimiter({
      ratePerSecond: opts.limits.maxConnectionsPerSourcePerSecond ?? defaultMaxConnectionsPerSourcePerSecond,
      ...(opts.nowMs === undefined ? {} : { nowMs: opts.nowMs }),
    });
    this.trustedSources = new CidrSet(opts.trustedSources ?? []);
    this.gate = new ProxyHeaderGate({
      trustedSources: this.trustedSources,
      timeoutMs: opts.limits.loginTimeoutMs,
      logger: opts.logger,
      observer: this.observer,
      isFull: (gated) => this.sessions.size + gated >= 2 * opts.limits.maxClientConnections,
      onPassed: (socket, connectionId, clientAddress, acceptedAtMs, proxiedBy, clientPort) => this.startSession(socket, connectionId, clientAddress, acceptedAtMs, proxiedBy, clientPort),
    });
    this.server = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.server.on('error', (err) => opts.logger.error({ event: 'listener_error', err: err.message }, 'listener error'));
  }

  /** Live client connections (every accepted socket not yet closed). */
  get connectionCount(): number {
    return this.sessions.size;
  }

  /** True after beginDrain() / close(). */
  get isDraining(): boolean {
    return this.isDrainingValue;
  }

  /** True while the listener accepts connections. */
  get isListening(): boolean {
    return this.isListeningValue;
  }

  /** Starts listening; resolves with the bound address (use port 0 in tests). */
  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.removeListener('error', onError);
        this.isListeningValue = true;
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** Replaces the TLS certificate/key for new connections (SIGHUP). Throws, keeping the old one, if invalid. */
  setTlsContext(opts: ServerTlsOptions): void {
    this.secureContext = createClientSecureContext(opts);
  }

  /** Replaces `startupParameters.drop` for new connections (config reload). */
  setStartupParameterDrop(names: readonly string[]): void {
    this.startupDrop = dropSet(names);
  }

  /** Replaces the authenticator for new connections (config reload). */
  setAuthenticator(authenticator: Authenticator): void {
    this.authenticator = authenticator;
  }

  /** Stops accepting; sessions already in login may finish, later startups get 57P01. */
  beginDrain(): void {
    if (this.isDrainingValue) return;
    this.isDrainingValue = true;
    this.isListeningValue = false;
    this.server.close();
  }

  /** Drains for up to `drainMs`, then ends what is left with 57P01 (login) or a close (relay). */
  async close(drainMs: number): Promise<void> {
    this.beginDrain();
    await this.sessions.waitIdle(drainMs);
    if (this.sessions.size === 0) return;
    for (const s of this.sessions) s.terminate(shuttingDown());
    await this.sessions.waitIdle(1000);
    this.destroy();
  }

  /** Ends one live session for `DELETE /sessions/<id>` (57P01, running query cancelled); false when there is none. */
  endSession(connectionId: string): boolean {
    const session = this.liveSessions.get(connectionId);
    if (session === undefined) return false;
    this.opts.logger.info({ event: 'session_delete', connectionId, identity: session.identity?.canonicalArn }, 'session ended by an administrator');
    session.end(terminatedByAdministrator(), 'admin');
    return true;
  }

  /**
   * After a reload: ends (57P01, running query cancelled) every live session `isAdmitted` now refuses, and every
   * login that completes later under rules it refuses; returns how many were ended now.
   */
  revokeSessions(isAdmitted: SessionAdmissionCheck): number {
    return this.liveSessions.revoke(isAdmitted);
  }

  /** Destroys the listener and every connection now. */
  destroy(): void {
    this.beginDrain();
    this.gate.abortAll();
    for (const s of this.sessions) s.destroy();
  }

  private accept(socket: net.Socket): void {
    const connectionId = randomBytes(6).toString('hex');
    if (this.opts.limits.tcpKeepAliveSeconds !== undefined) applyKeepAlive(socket, this.opts.limits.tcpKeepAliveSeconds);
    if (this.trustedSources.size === 0) {
      this.startSession(socket, connectionId, socket.remoteAddress, undefined, undefined);
      return;
    }
    this.gate.admit(socket, connectionId);
  }

  /** The accept path proper: per-source rate (on the client's address, which a PROXY header may have given), socket cap, session. */
  private startSession(socket: net.Socket, connectionId: string, clientAddress: string | undefined, acceptedAtMs: number | undefined, proxiedBy: string | undefined, clientPort?: number): void {
    const { limits, logger } = this.opts;
    // No login happened, so neither refusal below touches rsproxy_logins_total; the source address is logged, never a label.
    const verdict = this.sourceRate.take(sourceKey(clientAddress));
    if (!verdict.isAllowed) {
      socket.on('error', () => {});
      socket.destroy();
      // Only the first refusal of a streak at warn, so a flood cannot flood the log too.
      const level = verdict.refusedInARow === 1 ? 'warn' : 'debug';
      logger[level]({ event: 'connection_refused', reason: 'source_rate', connectionId, remoteAddress: clientAddress, refusedInARow: verdict.refusedInARow }, 'connection closed at accept: too many connections from this source');
      return;
    }
    if (this.sessions.size >= 2 * limits.maxClientConnections) {
      socket.on('error', () => {});
      socket.destroy();
      logger.warn({ event: 'connection_refused', reason: 'hard_cap', connectionId }, 'connection closed at accept: too many sockets');
      return;
    }
    this.observer.clientConnectionOpened();
    const session: ClientSession = new ClientSession({
      socket,
      connectionId,
      clientAddress: clientAddress ?? socket.remoteAddress ?? '',
      liveSessions: this.liveSessions,
      ...(this.opts.maxSessionGraceMs === undefined ? {} : { maxSessionGraceMs: this.opts.maxSessionGraceMs }),
      ...(acceptedAtMs === undefined ? {} : { acceptedAtMs }),
      ...(proxiedBy === undefined ? {} : { proxiedBy }),
      ...(clientPort === undefined ? {} : { clientPort }),
      ...(this.opts.audit === undefined ? {} : { audit: this.opts.audit }),
      secureContext: this.secureContext,
      limits,
      startupParameterDrop: this.startupDrop,
      authenticator: this.authenticator,
      upstreamLogin: this.upstreamLogin,
      ...(this.opts.reuse === undefined ? {} : { reuse: this.opts.reuse }),
      cancelRegistry: this.cancelRegistry,
      ...(this.opts.sendUpstreamCancel === undefined ? {} : { sendUpstreamCancel: this.opts.sendUpstreamCancel }),
      logger,
      observer: this.observer,
      admit: () => this.admit(session),
      onClose: () => {
        this.sessions.delete(session);
        this.admitted.delete(session);
        this.observer.clientConnectionClosed();
      },
    });
    this.sessions.add(session);
    session.start();
  }

  private admit(session: ClientSession): ProxyError | undefined {
    if (this.isDrainingValue) return shuttingDown();
    if (this.admitted.size >= this.opts.limits.maxClientConnections) return tooManyConnections();
    this.admitted.add(session);
    return undefined;
  }
}
