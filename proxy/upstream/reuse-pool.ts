/** The owner of upstream session reuse: resets departed clients' sessions off their path, parks them in the IdlePool, probes and hands them out (docs/design/surface.md §11). */
import type * as tls from 'node:tls';
import type { Clock, Logger, UpstreamTarget } from '../../auth/types.js';
import { nullReuseObserver } from '../telemetry/reuse-metrics.js';
import type { ReuseDiscardReason, ReuseObserver } from '../telemetry/reuse-metrics.js';
import { IdlePool } from './idle-pool.js';
import type { IdleCloseReason, IdlePoolLimits, IdleSessionInfo } from './idle-pool.js';
import { applyKeepAlive } from './keepalive.js';
import { probeSession, resetSession } from './reset-exchange.js';
import { isUpstreamLoginError } from './types.js';
import type { UpstreamLoginFn } from './types.js';

/** The `reuse.*` settings the pool enforces. */
export interface ReuseLimits extends IdlePoolLimits {
  resetTimeoutMs: number;
}

/** What a logged-in upstream session keeps for its next client: the login's replies and whom it is logged in as. */
export interface ReusableLogin {
  /** The login's ParameterStatus messages, verbatim: a hit sends the same set a fresh login would. */
  parameterStatus: readonly Buffer[];
  /** The upstream's BackendKeyData (cancel forwarding). */
  backendKey: { pid: number; key: Buffer };
  /** The user the session logged in as (the reset checks session_user and current_user against it). */
  loginUser: string;
  target: UpstreamTarget;
  info: IdleSessionInfo;
}

/** An upstream session kept for reuse, or handed out. */
export interface PooledUpstream extends ReusableLogin {
  socket: tls.TLSSocket;
}

/** Options of an UpstreamReusePool. */
export interface UpstreamReusePoolOptions {
  limits: ReuseLimits;
  /** `reuse.enabled` with the `databases.<name>.reuse` overrides, read at each login (so a reload applies). */
  isEnabledFor: (database: string) => boolean;
  /** limits.tcpKeepAliveSeconds, applied again to parked sessions (absent: left as dialed). */
  keepAliveSeconds?: number;
  clock: Clock;
  logger: Logger;
  observer?: ReuseObserver;
  /** How often idle sessions are swept for idle_timeout / max_age (default 1,000 ms). */
  sweepIntervalMs?: number;
}

/** The port the session layer sees: decide, check out, check in, count. */
export interface UpstreamReusePort {
  isEnabledFor(database: string): boolean;
  /** The generation a login records when it begins; a session from an older one is never kept (a reload happened). */
  readonly generation: number;
  /** The newest usable idle session of `key` (probed when idle long), or undefined; counts a hit or a miss. */
  checkOut(key: string): Promise<PooledUpstream | undefined>;
  /** A departed client's upstream: reset it off the client's path, then park it (or close it with the reason). */
  checkIn(session: PooledUpstream, openStatements: readonly Buffer[]): void;
  /** A departed client's upstream that the check-in gate refused (the caller closes it). */
  countDiscard(reason: ReuseDiscardReason): void;
  /** Wraps an upstream login: a 53300 refusal closes the idle sessions of that target and retries once. */
  wrapLogin(login: UpstreamLoginFn): UpstreamLoginFn;
}

const terminateMessage = Buffer.from([0x58, 0, 0, 0, 4]);

/** The identity of an upstream endpoint in the pool (closeTarget on 53300). */
export function targetId(target: Pick<UpstreamTarget, 'host' | 'port'>): string {
  return `${target.host}:${target.port}`;
}

/** Owns the idle upstream sessions of one proxy. */
export class UpstreamReusePool implements UpstreamReusePort {
  private readonly opts: UpstreamReusePoolOptions;
  private readonly pool: IdlePool<PooledUpstream>;
  private readonly observer: ReuseObserver;
  private readonly stopSweeper: () => void;
  /** Sessions being reset (closed at shutdown too). */
  private readonly resetting = new Set<PooledUpstream>();
  private readonly idleListeners = new Map<PooledUpstream, () => void>();
  private readonly guarded = new WeakSet<tls.TLSSocket>();
  private isClosed = false;

  constructor(opts: UpstreamReusePoolOptions) {
    this.opts = opts;
    this.observer = opts.observer ?? nullReuseObserver;
    this.pool = new IdlePool<PooledUpstream>({ ...opts.limits, clock: opts.clock, close: (s, reason) => this.closeIdle(s, reason) });
    this.stopSweeper = this.pool.startSweeper(opts.sweepIntervalMs ?? 1000);
  }

  isEnabledFor(database: string): boolean {
    return !this.isClosed && this.opts.isEnabledFor(database);
  }

  get generation(): number {
    return this.pool.generation;
  }

  /** Idle sessions in all (tests, the gauge). */
  get idleCount(): number {
    return this.pool.size;
  }

  /** Idle sessions of one key (tests). */
  idleCountOf(key: string): number {
    return this.pool.sizeOf(key);
  }

  async checkOut(key: string): Promise<PooledUpstream | undefined> {
    for (;;) {
      const out = this.isClosed ? undefined : this.pool.checkOut(key);
      if (out === undefined) {
        this.observer.upstreamReuse('miss');
        this.updateGauge();
        return undefined;
      }
      const session = out.session;
      this.detachIdle(session);
      this.updateGauge();
      if (out.needsProbe && !(await probeSession(session.socket, this.opts.limits.resetTimeoutMs))) {
        this.opts.logger.info({ event: 'upstream_reuse_probe_failed', upstreamPid: session.backendKey.pid, idleMs: out.idleMs }, 'idle upstream session did not answer the probe; closed');
        this.discardSocket(session, 'probe_failed');
        continue;
      }
      this.observer.upstreamReuse('hit');
      return session;
    }
  }

  checkIn(session: PooledUpstream, openStatements: readonly Buffer[]): void {
    if (this.isClosed) return this.discardSocket(session, 'shutdown');
    const socket = session.socket;
    socket.pause();
    if (this.opts.keepAliveSeconds !== undefined) applyKeepAlive(socket, this.opts.keepAliveSeconds);
    this.resetting.add(session);
    const startedMs = this.opts.clock.nowMs();
    void resetSession(socket, openStatements, session.loginUser, this.opts.limits.resetTimeoutMs).then(
      (outcome) => {
        this.resetting.delete(session);
        this.observer.upstreamResetDuration((this.opts.clock.nowMs() - startedMs) / 1000);
        if (outcome !== 'ok') {
          this.opts.logger.info({ event: 'upstream_reuse_discard', reason: outcome, upstreamPid: session.backendKey.pid }, 'upstream session not kept after its reset');
          return this.discardSocket(session, outcome);
        }
        if (this.isClosed) return this.discardSocket(session, 'shutdown');
        this.park(session);
      },
      () => {
        this.resetting.delete(session);
        this.discardSocket(session, 'reset_error');
      },
    );
  }

  countDiscard(reason: ReuseDiscardReason): void {
    this.observer.upstreamDiscard(reason);
  }

  wrapLogin(login: UpstreamLoginFn): UpstreamLoginFn {
    return async (opts) => {
      try {
        return await login(opts);
      } catch (err) {
        if (!isUpstreamLoginError(err) || err.upstreamSqlstate !== '53300') throw err;
        const closed = this.pool.closeTarget(targetId(opts.target));
        this.updateGauge();
        if (closed === 0) throw err;
        this.opts.logger.info({ event: 'upstream_reuse_too_many', closed, upstreamHost: opts.target.host }, 'upstream refused a login with 53300; closed idle sessions of that target and retrying once');
        return login(opts);
      }
    };
  }

  /** A successful reload: nothing idle from before is handed out. */
  reload(): void {
    const closed = this.pool.reload();
    this.updateGauge();
    this.opts.logger.info({ event: 'upstream_reuse_reload', generation: closed }, 'idle upstream sessions closed after a reload');
  }

  /** Shutdown (the start of the drain): closes every idle session and keeps none from now on. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.stopSweeper();
    this.pool.closeAll('shutdown');
    for (const s of [...this.resetting]) s.socket.destroy();
    this.updateGauge();
  }

  private park(session: PooledUpstream): void {
    const socket = session.socket;
    // Between check-out and the relay's start no listener of ours is attached: an 'error' then must not go unheard.
    if (!this.guarded.has(socket)) {
      this.guarded.add(socket);
      socket.on('error', () => {});
    }
    // While idle the socket flows: any byte (a FATAL from an upstream shutting down) or a close ends the session.
    const onGone = (): void => {
      if (this.pool.discard(session, 'upstream_closed')) this.updateGauge();
    };
    socket.on('data', onGone);
    socket.on('end', onGone);
    socket.on('close', onGone);
    socket.on('error', onGone);
    this.idleListeners.set(session, () => {
      socket.removeListener('data', onGone);
      socket.removeListener('end', onGone);
      socket.removeListener('close', onGone);
      socket.removeListener('error', onGone);
    });
    const result = this.pool.checkIn(session, session.info);
    if (result.isKept) socket.resume();
    this.updateGauge();
  }

  private detachIdle(session: PooledUpstream): void {
    this.idleListeners.get(session)?.();
    this.idleListeners.delete(session);
    session.socket.pause();
  }

  /** The pool let a session go. */
  private closeIdle(session: PooledUpstream, reason: IdleCloseReason): void {
    this.detachIdle(session);
    this.discardSocket(session, reason);
    // The pool removed it before this call, so the gauge is already right (the sweeper reaches here too).
    this.updateGauge();
  }

  private discardSocket(session: PooledUpstream, reason: ReuseDiscardReason): void {
    this.observer.upstreamDiscard(reason);
    const socket = session.socket;
    socket.on('error', () => {});
    if (!socket.destroyed && socket.writable) {
      socket.end(terminateMessage);
      setTimeout(() => socket.destroy(), 1000).unref();
    } else socket.destroy();
  }

  private updateGauge(): void {
    this.observer.upstreamIdleSessions(this.pool.size);
  }
}
