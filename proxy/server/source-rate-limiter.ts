/** A token bucket per source address with a bounded, least-recently-used map (connection and cancel rate limits). */

interface Bucket {
  tokens: number;
  lastMs: number;
  /** Refusals since the last allowed event (the caller logs the first of a streak only). */
  refusedInARow: number;
}

/** Options of a SourceRateLimiter. */
export interface SourceRateLimiterOptions {
  /** Sustained events per second per source. */
  ratePerSecond: number;
  /** Bucket size (default = ratePerSecond). */
  burst?: number;
  /** Most sources tracked at once (default 10,000); the least recently seen is dropped. */
  maxTrackedSources?: number;
  nowMs?: () => number;
}

/** The verdict on one event: allowed, or refused with the length of the current refusal streak. */
export type RateVerdict = { isAllowed: true } | { isAllowed: false; refusedInARow: number };

/** Counts events per source address against a token bucket. Memory is bounded by maxTrackedSources. */
export class SourceRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly ratePerSecond: number;
  private readonly burst: number;
  private readonly maxTrackedSources: number;
  private readonly nowMs: () => number;

  constructor(opts: SourceRateLimiterOptions) {
    this.ratePerSecond = opts.ratePerSecond;
    this.burst = opts.burst ?? opts.ratePerSecond;
    this.maxTrackedSources = opts.maxTrackedSources ?? 10_000;
    this.nowMs = opts.nowMs ?? Date.now;
  }

  /** Sources currently tracked. */
  get trackedSources(): number {
    return this.buckets.size;
  }

  /** Takes one token from `source`'s bucket, if there is one. */
  take(source: string): RateVerdict {
    const now = this.nowMs();
    let bucket = this.buckets.get(source);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxTrackedSources) {
        const oldest = this.buckets.keys().next();
        if (oldest.done !== true) this.buckets.delete(oldest.value);
      }
      bucket = { tokens: this.burst, lastMs: now, refusedInARow: 0 };
    } else {
      this.buckets.delete(source); // re-insert: Map order is then least-recently-used first
      bucket.tokens = Math.min(this.burst, bucket.tokens + (Math.max(0, now - bucket.lastMs) / 1000) * this.ratePerSecond);
      bucket.lastMs = now;
    }
    this.buckets.set(source, bucket);
    if (bucket.tokens < 1) {
      bucket.refusedInARow++;
      return { isAllowed: false, refusedInARow: bucket.refusedInARow };
    }
    bucket.tokens -= 1;
    bucket.refusedInARow = 0;
    return { isAllowed: true };
  }
}

/**
 * The rate-limit key of a remote address: IPv4-mapped IPv6 as plain IPv4, other IPv6 by its /64 (one
 * host usually owns a whole /64, so per-address keys would let it rotate past the limit).
 */
export function sourceKey(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remoteAddress);
  if (mapped !== null) return mapped[1]!;
  if (!remoteAddress.includes(':')) return remoteAddress;
  const [head = '', tail = ''] = remoteAddress.toLowerCase().split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const groups = remoteAddress.includes('::') ? [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups] : headGroups;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
