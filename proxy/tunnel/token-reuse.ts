/** The token source of `rsproxy tunnel`: a minted token is reused for new connections while younger than the reuse window. */
import type { Clock } from '../../auth/types.js';
import { systemClock } from '../../auth/types.js';

/** Most a token may be reused (docs/design/surface.md §8): it must stay well inside the proxy's maxTokenAgeSeconds. */
export const maxTokenReuseSeconds = 240;

/** Default reuse window. */
export const defaultTokenReuseSeconds = 60;

/** A token for one connection, and whether it was minted earlier for another. */
export interface IssuedToken {
  token: string;
  isReused: boolean;
}

/** Options of createTokenReuseCache. */
export interface TokenReuseOptions {
  /** Mints a new token; its rejection reaches the caller and is not cached. */
  mint: () => Promise<string>;
  /** 0 = a fresh token for every connection. */
  reuseSeconds: number;
  clock?: Clock;
}

/**
 * Reuses one token while it is younger than `reuseSeconds`, so a burst of connections costs the proxy one
 * STS verification (its verified-token cache does the rest). Concurrent requests share one mint.
 */
export function createTokenReuseCache(opts: TokenReuseOptions): { token(): Promise<IssuedToken> } {
  const clock = opts.clock ?? systemClock;
  const reuseMs = opts.reuseSeconds * 1000;
  let current: { token: string; mintedAtMs: number } | undefined;
  let pending: Promise<string> | undefined;
  return {
    async token() {
      if (reuseMs <= 0) return { token: await opts.mint(), isReused: false };
      if (current !== undefined && clock.nowMs() - current.mintedAtMs < reuseMs) return { token: current.token, isReused: true };
      if (pending !== undefined) return { token: await pending, isReused: true };
      const mintedAtMs = clock.nowMs();
      pending = opts.mint();
      try {
        const token = await pending;
        current = { token, mintedAtMs };
        return { token, isReused: false };
      } catch (err) {
        current = undefined;
        throw err;
      } finally {
        pending = undefined;
      }
    },
  };
}
