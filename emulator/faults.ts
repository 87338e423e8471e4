/** Per-operation fault injection and call counters. */
import { performance } from 'node:perf_hooks';

/** Emulated operation names (counter and fault keys). */
export const Operation = {
  GetCallerIdentity: 'GetCallerIdentity',
  AssumeRole: 'AssumeRole',
  DescribeClusters: 'DescribeClusters',
  GetClusterCredentials: 'GetClusterCredentials',
  GetClusterCredentialsWithIAM: 'GetClusterCredentialsWithIAM',
  GetWorkgroup: 'GetWorkgroup',
  GetCredentials: 'GetCredentials',
} as const;
export type Operation = (typeof Operation)[keyof typeof Operation];

/** A fault to inject into one operation. All fields are optional and combine. */
export interface FaultSpec {
  /** Answer Throttling ("Rate exceeded") when more than this many calls arrived in the last second (0 = always). */
  throttleAbovePerSecond?: number;
  /** Delay before answering. */
  latencyMs?: number;
  /** Answer this 5xx status with a service error body. */
  status5xx?: number;
  /** Answer 302 with this Location. */
  redirectTo?: string;
  /** Content-Type of the (otherwise normal or overridden) 200 answer. */
  contentType?: string;
  /** Raw body override for a 200 answer (e.g. malformed JSON). */
  body?: string;
  /** Answer 200 with a body of this many bytes. */
  oversizeBytes?: number;
  /** Send the body at this rate (bytes per second). */
  dripBytesPerSecond?: number;
  /** Apply only to the next N calls of the operation, then clear. */
  failTimes?: number;
}

/** The fault chosen for one call: the spec's answer-shaping fields, with `throttle` already resolved against the call rate. */
export interface AppliedFault extends Pick<FaultSpec, 'status5xx' | 'redirectTo' | 'contentType' | 'body' | 'oversizeBytes' | 'dripBytesPerSecond'> {
  throttle: boolean;
  latencyMs: number;
}

/** Faults by operation, with call-rate tracking for throttling. */
export class FaultRegistry {
  readonly #faults = new Map<string, FaultSpec & { remaining?: number }>();
  readonly #recentCalls = new Map<string, number[]>();

  /** Installs (replaces) the fault of `op`. */
  set(op: string, fault: FaultSpec): void {
    this.#faults.set(op, { ...fault, ...(fault.failTimes !== undefined ? { remaining: fault.failTimes } : {}) });
    this.#recentCalls.delete(op);
  }

  /** Removes the fault of `op`, or all faults. */
  clear(op?: string): void {
    if (op === undefined) {
      this.#faults.clear();
      this.#recentCalls.clear();
    } else {
      this.#faults.delete(op);
      this.#recentCalls.delete(op);
    }
  }

  /** Records one call of `op` and returns the fault to apply to it, if any. */
  take(op: string): AppliedFault | undefined {
    const nowMs = performance.now();
    const calls = (this.#recentCalls.get(op) ?? []).filter((t) => t > nowMs - 1000);
    calls.push(nowMs);
    this.#recentCalls.set(op, calls);
    const spec = this.#faults.get(op);
    if (spec === undefined) return undefined;
    if (spec.remaining !== undefined) {
      if (spec.remaining <= 0) {
        this.#faults.delete(op);
        return undefined;
      }
      spec.remaining -= 1;
      if (spec.remaining === 0) this.#faults.delete(op);
    }
    const applied: AppliedFault = {
      throttle: spec.throttleAbovePerSecond !== undefined && calls.length > spec.throttleAbovePerSecond,
      latencyMs: spec.latencyMs ?? 0,
    };
    if (spec.status5xx !== undefined) applied.status5xx = spec.status5xx;
    if (spec.redirectTo !== undefined) applied.redirectTo = spec.redirectTo;
    if (spec.contentType !== undefined) applied.contentType = spec.contentType;
    if (spec.body !== undefined) applied.body = spec.body;
    if (spec.oversizeBytes !== undefined) applied.oversizeBytes = spec.oversizeBytes;
    if (spec.dripBytesPerSecond !== undefined) applied.dripBytesPerSecond = spec.dripBytesPerSecond;
    return applied;
  }
}

/** Per-operation, per-outcome call counters. */
export class CallCounters {
  readonly #counts = new Map<string, number>();

  /** Counts one call of `op` that ended with `outcome` ('ok' or an AWS error code, 'fault', 'redirect'). */
  record(op: string, outcome: string): void {
    const key = `${op}:${outcome}`;
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }

  /** Calls of `op` with `outcome`; without `outcome`, all calls of `op`. */
  get(op: string, outcome?: string): number {
    return outcome === undefined ? this.total(op) : (this.#counts.get(`${op}:${outcome}`) ?? 0);
  }

  /** All calls of `op`, whatever the outcome. */
  total(op: string): number {
    let sum = 0;
    for (const [key, n] of this.#counts) if (key.startsWith(`${op}:`)) sum += n;
    return sum;
  }

  /** Forgets every count. */
  reset(): void {
    this.#counts.clear();
  }

  /** Copy of all counts keyed `Operation:outcome`. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }
}
