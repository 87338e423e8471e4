/** The idle pool of upstream session reuse: clean upstream sessions kept per reuse key, within bounds, newest handed out first. */
import type { Clock } from '../../auth/types.js';

/** Why the pool closed (or refused) an upstream session (a `reason` of rsproxy_upstream_discards_total). */
export type IdleCloseReason = 'evicted' | 'idle_timeout' | 'max_age' | 'reload' | 'shutdown' | 'upstream_closed';

/** The `reuse.*` bounds the pool enforces (seconds as in the config). */
export interface IdlePoolLimits {
  maxIdlePerKey: number;
  maxIdleTotal: number;
  idleTimeoutSeconds: number;
  maxAgeSeconds: number;
  checkAfterIdleSeconds: number;
}

/** Options of an IdlePool. */
export interface IdlePoolOptions<S> extends IdlePoolLimits {
  clock: Clock;
  /** Closes a session the pool let go (the owner ends its socket and counts the discard); called once per session. */
  close: (session: S, reason: IdleCloseReason) => void;
}

/** What the pool must know about an upstream session. */
export interface IdleSessionInfo {
  /** reuseKey() of its login. */
  key: string;
  /** Identifies its upstream endpoint (host:port), for closeTarget(). */
  target: string;
  /** When its upstream login finished, epoch ms. */
  loginAtMs: number;
  /** Never handed out at or after this, epoch ms: its credentials' expiry or login + limits.maxSessionSeconds, whichever is first. */
  hardExpiryMs: number;
  /** The pool generation read when its login began. */
  generation: number;
}

/** A session taken from the pool. */
export interface CheckedOutSession<S> {
  session: S;
  info: IdleSessionInfo;
  /** Idle longer than checkAfterIdleSeconds: send the probe (an empty query) before handing it to a client. */
  needsProbe: boolean;
  idleMs: number;
}

/** The outcome of a check-in: kept, or already closed through `close` with the reason. */
export type CheckInResult = { isKept: true } | { isKept: false; reason: IdleCloseReason };

interface Entry<S> {
  session: S;
  info: IdleSessionInfo;
  checkedInAtMs: number;
}

/**
 * Idle upstream sessions: a newest-first stack per key, a global least-recently-checked-in order (a Map keeps
 * insertion order, so its first entry is the oldest), and the bounds of `reuse.*`. Never hands out a session for
 * another key. Everything it lets go is passed to `close` exactly once.
 */
export class IdlePool<S> {
  private readonly opts: IdlePoolOptions<S>;
  private readonly byKey = new Map<string, Array<Entry<S>>>();
  private readonly all = new Map<S, Entry<S>>();
  private generationValue = 0;

  constructor(opts: IdlePoolOptions<S>) {
    this.opts = opts;
  }

  /** The current generation; a login records it, and reload() moves it on. */
  get generation(): number {
    return this.generationValue;
  }

  /** Idle sessions in all. */
  get size(): number {
    return this.all.size;
  }

  /** Idle sessions of one key. */
  sizeOf(key: string): number {
    return this.byKey.get(key)?.length ?? 0;
  }

  /** Offers a reset session; refuses (and closes) one from an older generation or past its age, then enforces the bounds. */
  checkIn(session: S, info: IdleSessionInfo): CheckInResult {
    if (this.all.has(session)) throw new Error('session checked in twice');
    const now = this.opts.clock.nowMs();
    const refusal = info.generation < this.generationValue ? 'reload' : this.isExpired(info, now) ? 'max_age' : undefined;
    if (refusal !== undefined) {
      this.opts.close(session, refusal);
      return { isKept: false, reason: refusal };
    }
    const entry: Entry<S> = { session, info, checkedInAtMs: now };
    let stack = this.byKey.get(info.key);
    if (stack === undefined) this.byKey.set(info.key, (stack = []));
    stack.push(entry);
    this.all.set(session, entry);
    while (stack.length > this.opts.maxIdlePerKey) this.drop(stack[0]!, 'evicted');
    while (this.all.size > this.opts.maxIdleTotal) this.drop(this.all.values().next().value!, 'evicted');
    return this.all.has(session) ? { isKept: true } : { isKept: false, reason: 'evicted' };
  }

  /** Takes the newest usable idle session of `key` (closing expired ones on the way), or undefined. */
  checkOut(key: string): CheckedOutSession<S> | undefined {
    const now = this.opts.clock.nowMs();
    const stack = this.byKey.get(key);
    while (stack !== undefined && stack.length > 0) {
      const entry = stack[stack.length - 1]!;
      if (entry.info.generation < this.generationValue) {
        this.drop(entry, 'reload');
        continue;
      }
      if (this.isExpired(entry.info, now)) {
        this.drop(entry, 'max_age');
        continue;
      }
      this.remove(entry);
      const idleMs = now - entry.checkedInAtMs;
      return { session: entry.session, info: entry.info, needsProbe: idleMs > this.opts.checkAfterIdleSeconds * 1000, idleMs };
    }
    return undefined;
  }

  /** Closes idle sessions past idleTimeoutSeconds (idle_timeout) or past their age (max_age); returns how many. */
  sweep(): number {
    const now = this.opts.clock.nowMs();
    const idleLimitMs = this.opts.idleTimeoutSeconds * 1000;
    let closed = 0;
    for (const entry of [...this.all.values()]) {
      const reason = now - entry.checkedInAtMs >= idleLimitMs ? 'idle_timeout' : this.isExpired(entry.info, now) ? 'max_age' : undefined;
      if (reason === undefined) continue;
      this.drop(entry, reason);
      closed++;
    }
    return closed;
  }

  /** Lets go of one idle session (e.g. its upstream closed by itself); false when it is not idle here. */
  discard(session: S, reason: IdleCloseReason): boolean {
    const entry = this.all.get(session);
    if (entry === undefined) return false;
    this.drop(entry, reason);
    return true;
  }

  /** A successful reload: moves the generation on and closes every idle session (reason reload). */
  reload(): number {
    this.generationValue++;
    this.closeAll('reload');
    return this.generationValue;
  }

  /** Closes the idle sessions of one upstream endpoint (its login was refused with 53300); returns how many. */
  closeTarget(target: string): number {
    let closed = 0;
    for (const entry of [...this.all.values()]) {
      if (entry.info.target !== target) continue;
      this.drop(entry, 'evicted');
      closed++;
    }
    return closed;
  }

  /** Closes every idle session (shutdown: at the start of the drain). */
  closeAll(reason: IdleCloseReason): number {
    const entries = [...this.all.values()];
    for (const entry of entries) this.drop(entry, reason);
    return entries.length;
  }

  /** Runs sweep() every `intervalMs` on an unref'd timer; returns the function that stops it. */
  startSweeper(intervalMs: number): () => void {
    const timer = setInterval(() => this.sweep(), intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  private isExpired(info: IdleSessionInfo, now: number): boolean {
    return now - info.loginAtMs >= this.opts.maxAgeSeconds * 1000 || now >= info.hardExpiryMs;
  }

  private drop(entry: Entry<S>, reason: IdleCloseReason): void {
    this.remove(entry);
    this.opts.close(entry.session, reason);
  }

  private remove(entry: Entry<S>): void {
    this.all.delete(entry.session);
    const stack = this.byKey.get(entry.info.key);
    if (stack === undefined) return;
    const at = stack.indexOf(entry);
    if (at >= 0) stack.splice(at, 1);
    if (stack.length === 0) this.byKey.delete(entry.info.key);
  }
}
