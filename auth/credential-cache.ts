/** In-memory cache of expiring credentials: refresh-ahead, single-flight, usable floor, LRU bound (docs/design/aws.md §8). */
import { nullObserver, silentLogger, systemClock, type AuthObserver, type Clock, type Logger } from './types.js';

/** What identifies one set of database credentials (docs/design/aws.md §8 "key"). */
export interface CredentialKey {
  /** `cluster:<region>:<id>` or `workgroup:<region>:<name>`. */
  target: string;
  /** Rendered database user; '' for workgroups (AWS derives the user from the caller). */
  dbUser: string;
  dbName: string;
  dbGroups: readonly string[];
  autoCreate: boolean;
  durationSeconds: number;
  /** Role the API is called as; '' for the proxy's own identity. */
  assumeRole: string;
  /** AssumeRole session name (the person, for CloudTrail) when `assumeRole` is set; '' otherwise. */
  roleSessionName: string;
}

/** A stable string for a CredentialKey; groups are sorted so their order never splits the cache. */
export function credentialKeyId(key: CredentialKey): string {
  return JSON.stringify([key.target, key.dbUser, key.dbName, [...key.dbGroups].sort(), key.autoCreate, key.durationSeconds, key.assumeRole, key.roleSessionName]);
}

/** Why a fetch runs: a login is waiting for it, or it renews an entry that is still served. */
export type FetchReason = 'miss' | 'refresh';

/**
 * A fetch of one key. `deadlineMs()` is when it must give up, read afresh before each attempt: a miss is shared
 * by every login that joins it, so it ends with the latest waiter's login deadline, never past it (docs/design/aws.md §8).
 */
export type Fetch<V> = (reason: FetchReason, deadlineMs: () => number) => Promise<V>;

/** How a get() was served. */
export type CacheResult = 'hit' | 'miss' | 'stale';

/** Options of CredentialCache. */
export interface CredentialCacheOptions<K> {
  /** Canonical string of a key. */
  keyId: (key: K) => string;
  /** Refresh this long before expiry (`credentials.refreshBeforeSeconds`). */
  refreshBeforeSeconds: number;
  /** Never hand out a value with less than this left (default 30 s). */
  minRemainingMs?: number;
  /** LRU bound (default 10,000). */
  maxEntries?: number;
  /** How long a background refresh (no login waiting) may take, and a miss fetched without a deadline (default 15,000). */
  refreshBudgetMs?: number;
  /** Period of the expired-entry purge on an unref'd timer (default 60,000; 0 = none). Stop it with close(). */
  purgeIntervalMs?: number;
  clock?: Clock;
  observer?: AuthObserver;
  logger?: Logger;
}

interface Entry<K, V> {
  key: K;
  value: V;
  fetchedAtMs: number;
}

interface Flight<K, V> {
  key: K;
  promise: Promise<V>;
  /** When the fetch must give up: the latest deadline of the logins waiting for it. */
  deadlineMs: number;
  /** False once a retain() dropped the key: the result still goes to waiters but is not stored. */
  shouldStore: boolean;
}

/** Default usable floor: a login needs time to finish with the password. */
export const minRemainingMsDefault = 30_000;
/** Default time a fetch nobody waits for (a background refresh) may take. */
export const refreshBudgetMsDefault = 15_000;
/** Default LRU bound. */
export const maxEntriesDefault = 10_000;
/** Default period of the expired-entry purge (docs/design/aws.md §8). */
export const purgeIntervalMsDefault = 60_000;

/** Cache of values that expire at `expiresAtMs`; failures are never cached. */
export class CredentialCache<K, V extends { expiresAtMs: number }> {
  readonly #entries = new Map<string, Entry<K, V>>();
  readonly #flights = new Map<string, Flight<K, V>>();
  readonly #keyId: (key: K) => string;
  readonly #minRemainingMs: number;
  readonly #maxEntries: number;
  readonly #refreshBudgetMs: number;
  readonly #clock: Clock;
  readonly #observer: AuthObserver;
  readonly #logger: Logger;
  #refreshBeforeMs: number;
  #purgeTimer: ReturnType<typeof setInterval> | undefined;

  constructor(opts: CredentialCacheOptions<K>) {
    this.#keyId = opts.keyId;
    this.#refreshBeforeMs = opts.refreshBeforeSeconds * 1000;
    this.#minRemainingMs = opts.minRemainingMs ?? minRemainingMsDefault;
    this.#maxEntries = opts.maxEntries ?? maxEntriesDefault;
    this.#refreshBudgetMs = opts.refreshBudgetMs ?? refreshBudgetMsDefault;
    this.#clock = opts.clock ?? systemClock;
    this.#observer = opts.observer ?? nullObserver;
    this.#logger = opts.logger ?? silentLogger;
    const purgeIntervalMs = opts.purgeIntervalMs ?? purgeIntervalMsDefault;
    if (purgeIntervalMs > 0) {
      // Expired entries are purged even when the LRU bound is never reached; unref'd so it never holds the process.
      this.#purgeTimer = setInterval(() => this.purgeExpired(), purgeIntervalMs);
      this.#purgeTimer.unref();
    }
  }

  /** Stops the periodic purge (shutdown). Entries stay readable. */
  close(): void {
    clearInterval(this.#purgeTimer);
    this.#purgeTimer = undefined;
  }

  /** Same as close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** True while the periodic purge is scheduled (tests, diagnostics). */
  get isPurging(): boolean {
    return this.#purgeTimer !== undefined;
  }

  /** Number of stored entries. */
  get size(): number {
    return this.#entries.size;
  }

  /** Changes the refresh window (config reload). */
  setRefreshBeforeSeconds(seconds: number): void {
    this.#refreshBeforeMs = seconds * 1000;
  }

  /**
   * Returns a usable value for `key`, fetching (once per key at a time) when needed. `deadlineMs` is the
   * caller's login deadline: a miss fetch keeps retrying only while some waiter can still use the result.
   */
  async get(key: K, fetch: Fetch<V>, deadlineMs?: number): Promise<{ value: V; result: CacheResult }> {
    const id = this.#keyId(key);
    const nowMs = this.#clock.nowMs();
    const entry = this.#entries.get(id);
    if (entry !== undefined) {
      const remainingMs = entry.value.expiresAtMs - nowMs;
      if (remainingMs > this.#refreshBeforeMs && remainingMs >= this.#minRemainingMs) {
        this.#touch(id, entry);
        this.#observer.credentialCache('hit');
        return { value: entry.value, result: 'hit' };
      }
      if (remainingMs >= this.#minRemainingMs) {
        this.#touch(id, entry);
        this.#observer.credentialCache('stale');
        if (!this.#flights.has(id)) {
          this.#observer.credentialCache('refresh');
          // Background: the error is logged; the current entry stays until it is no longer usable.
          this.#start(id, key, fetch, 'refresh', nowMs + this.#refreshBudgetMs).catch((err: unknown) => {
            this.#logger.warn({ event: 'credential_refresh_failed', err: errorSummary(err) }, 'background credential refresh failed; serving the current credentials');
          });
        }
        return { value: entry.value, result: 'stale' };
      }
      this.#entries.delete(id);
    }
    this.#observer.credentialCache('miss');
    const waitUntilMs = deadlineMs ?? nowMs + this.#refreshBudgetMs;
    const flight = this.#flights.get(id);
    if (flight !== undefined) flight.deadlineMs = Math.max(flight.deadlineMs, waitUntilMs);
    const value = await (flight !== undefined ? flight.promise : this.#start(id, key, fetch, 'miss', waitUntilMs));
    return { value, result: 'miss' };
  }

  /** The stored value for `key`, whatever its age (tests, diagnostics). */
  peek(key: K): V | undefined {
    return this.#entries.get(this.#keyId(key))?.value;
  }

  /** Drops `key` (only when `onlyIf` accepts its value, if given). True if something was dropped. */
  evict(key: K, onlyIf?: (value: V) => boolean): boolean {
    const id = this.#keyId(key);
    const entry = this.#entries.get(id);
    if (entry === undefined || (onlyIf !== undefined && !onlyIf(entry.value))) return false;
    return this.#entries.delete(id);
  }

  /** Keeps only the keys `keep` accepts (config reload); fetches in flight for other keys are not stored. */
  retain(keep: (key: K) => boolean): number {
    let dropped = 0;
    for (const [id, entry] of this.#entries) {
      if (!keep(entry.key)) {
        this.#entries.delete(id);
        dropped++;
      }
    }
    for (const flight of this.#flights.values()) {
      if (!keep(flight.key)) flight.shouldStore = false;
    }
    return dropped;
  }

  /** Drops entries past their usable floor. */
  purgeExpired(): number {
    const limitMs = this.#clock.nowMs() + this.#minRemainingMs;
    let dropped = 0;
    for (const [id, entry] of this.#entries) {
      if (entry.value.expiresAtMs <= limitMs) {
        this.#entries.delete(id);
        dropped++;
      }
    }
    return dropped;
  }

  /** Drops everything. */
  clear(): void {
    this.#entries.clear();
    for (const flight of this.#flights.values()) flight.shouldStore = false;
  }

  #start(id: string, key: K, fetch: Fetch<V>, reason: FetchReason, deadlineMs: number): Promise<V> {
    // Registered before the fetch starts, so a fetch that fails synchronously still cleans up after itself.
    const flight = { key, shouldStore: true, deadlineMs } as Flight<K, V>;
    this.#flights.set(id, flight);
    flight.promise = this.#run(id, flight, fetch, reason);
    return flight.promise;
  }

  async #run(id: string, flight: Flight<K, V>, fetch: Fetch<V>, reason: FetchReason): Promise<V> {
    try {
      const value = await fetch(reason, () => flight.deadlineMs);
      if (flight.shouldStore) this.#store(id, flight.key, value);
      return value;
    } finally {
      if (this.#flights.get(id) === flight) this.#flights.delete(id);
    }
  }

  #store(id: string, key: K, value: V): void {
    this.#entries.delete(id);
    this.#entries.set(id, { key, value, fetchedAtMs: this.#clock.nowMs() });
    if (this.#entries.size <= this.#maxEntries) return;
    this.purgeExpired();
    // Map iteration is insertion order and #touch re-inserts, so the first key is the least recently used.
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.#maxEntries) break;
      this.#entries.delete(oldest);
    }
  }

  #touch(id: string, entry: Entry<K, V>): void {
    this.#entries.delete(id);
    this.#entries.set(id, entry);
  }
}

function errorSummary(err: unknown): object {
  if (err instanceof Error) return { name: err.name, message: err.message, ...('code' in err ? { code: String(err.code) } : {}) };
  return { message: String(err) };
}
