/** The upstream session reuse metrics (docs/design/surface.md §11): hits and misses, idle sessions, discards by reason, reset time. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Every `reason` of rsproxy_upstream_discards_total (a closed set; anything else is `other`). */
export const reuseDiscardReasons = [
  'unclean_end',
  'in_transaction',
  'outstanding_reply',
  'copy',
  'cancel',
  'prepare',
  'call',
  'declare_cursor',
  'listen',
  'temp_schema',
  'session_user',
  'reset_error',
  'reset_timeout',
  'max_age',
  'idle_timeout',
  'evicted',
  'upstream_closed',
  'probe_failed',
  'reload',
  'shutdown',
] as const;

/** A `reason` of rsproxy_upstream_discards_total. */
export type ReuseDiscardReason = (typeof reuseDiscardReasons)[number];

/** What the reuse pool reports. */
export interface ReuseObserver {
  /** A login looked for an idle upstream session of its key: found one (hit) or not (miss). */
  upstreamReuse(result: 'hit' | 'miss'): void;
  /** Idle upstream sessions now. */
  upstreamIdleSessions(n: number): void;
  /** An upstream session was closed instead of kept or handed out. */
  upstreamDiscard(reason: ReuseDiscardReason): void;
  /** How long one reset took (whatever its outcome). */
  upstreamResetDuration(seconds: number): void;
}

/** A ReuseObserver that records nothing. */
export const nullReuseObserver: ReuseObserver = {
  upstreamReuse() {},
  upstreamIdleSessions() {},
  upstreamDiscard() {},
  upstreamResetDuration() {},
};

/** Registers rsproxy_upstream_reuse_total, rsproxy_upstream_idle_sessions, rsproxy_upstream_discards_total and rsproxy_upstream_reset_duration_seconds. */
export function createReuseMetrics(registry: Registry): ReuseObserver {
  const registers = [registry];
  const reuse = new Counter({ name: 'rsproxy_upstream_reuse_total', help: 'Logins on a database with upstream session reuse, by whether an idle upstream session was handed out (hit) or not (miss).', labelNames: ['result'] as const, registers });
  const idle = new Gauge({ name: 'rsproxy_upstream_idle_sessions', help: 'Idle upstream sessions kept for reuse.', registers });
  const discards = new Counter({ name: 'rsproxy_upstream_discards_total', help: 'Upstream sessions closed instead of kept or handed out, by reason.', labelNames: ['reason'] as const, registers });
  const resetDuration = new Histogram({
    name: 'rsproxy_upstream_reset_duration_seconds',
    help: 'Duration of the reset of a departed client\'s upstream session (one round trip).',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  reuse.inc({ result: 'hit' }, 0);
  reuse.inc({ result: 'miss' }, 0);
  for (const reason of reuseDiscardReasons) discards.inc({ reason }, 0);
  const known: ReadonlySet<string> = new Set(reuseDiscardReasons);
  return {
    upstreamReuse: (result) => reuse.inc({ result }),
    upstreamIdleSessions: (n) => idle.set(n),
    upstreamDiscard: (reason) => discards.inc({ reason: known.has(reason) ? reason : 'other' }),
    upstreamResetDuration: (seconds) => resetDuration.observe(seconds),
  };
}
