/** Cache of verified tokens: sha256(token) → identity, until amzDate + maxTokenAgeSeconds, LRU-bounded (docs/design/token.md §9). */
import { createHash } from 'node:crypto';
import type { Identity } from './types.js';

/** Default LRU bound. */
export const verifiedTokenCacheMaxEntries = 10_000;

/** Successful verifications only; rejections and "unavailable" are never stored. */
export interface VerifiedTokenCache {
  /** The identity for `key` if present and not past its expiry; refreshes its LRU position. */
  get(key: string, nowMs: number): Identity | undefined;
  set(key: string, identity: Identity, expiresAtMs: number): void;
  /** Drops everything (config reload that changes `identity.*`). */
  clear(): void;
  readonly size: number;
}

/** The cache key of a token (as received: the session stripped its one trailing newline): hex sha256 of the whole string. */
export function tokenCacheKey(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Creates an empty cache bounded to `maxEntries` (default 10,000). */
export function createVerifiedTokenCache(opts: { maxEntries?: number } = {}): VerifiedTokenCache {
  const maxEntries = opts.maxEntries ?? verifiedTokenCacheMaxEntries;
  // Map iteration order is insertion order: re-inserting on a hit makes the first key the least recently used.
  const entries = new Map<string, { identity: Identity; expiresAtMs: number }>();
  return {
    get(key, nowMs) {
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      entries.delete(key);
      if (nowMs >= entry.expiresAtMs) return undefined;
      entries.set(key, entry);
      return { ...entry.identity };
    },
    set(key, identity, expiresAtMs) {
      entries.delete(key);
      entries.set(key, { identity: { ...identity }, expiresAtMs });
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done === true) break;
        entries.delete(oldest.value);
      }
    },
    clear() {
      entries.clear();
    },
    get size() {
      return entries.size;
    },
  };
}
