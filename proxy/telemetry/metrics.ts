/** Prometheus metrics of docs/design/surface.md §6 on an injected prom-client Registry; implements SessionObserver and AuthObserver. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AuthObserver } from '../../auth/types.js';
import { authReason } from '../../auth/errors.js';
import { sessionEndReasons } from './observer.js';
import type { ByteDirection, CancelResult, SessionEndReason, SessionObserver } from './observer.js';
import { createOpsMetrics, dropMisnamedDefaultMetrics, type OpsMetrics } from './metrics-ops.js';
import { createReuseMetrics, type ReuseObserver } from './reuse-metrics.js';

/** Closed label sets; anything else is recorded as `other` so a bug cannot explode cardinality. */
export const metricLabels = {
  loginResult: ['ok', 'failed'],
  loginReason: [
    'ok',
    ...Object.values(authReason),
    'upstream',
    'protocol',
    'tls_required',
    'too_many_connections',
    'shutting_down',
    'audit_unavailable',
    'internal',
  ],
  stsResult: ['ok', 'rejected', 'invalid_response', 'throttled', 'unavailable'],
  credentialApi: ['GetClusterCredentials', 'GetCredentials', 'DescribeClusters', 'GetWorkgroup', 'AssumeRole'],
  credentialResult: ['ok', 'throttled', 'unavailable', 'failed'],
  cacheResult: ['hit', 'miss', 'refresh', 'stale'],
  direction: ['client_to_upstream', 'upstream_to_client'],
  cancelResult: ['forwarded', 'unknown_key', 'rate_limited', 'error', 'peer_forwarded', 'peer_forward_failed'],
  sessionEndReason: sessionEndReasons,
  proxyHeaderReason: ['signature', 'version', 'command', 'family', 'length', 'address', 'format', 'oversize', 'untrusted', 'timeout', 'closed'],
} as const;

/** Histogram buckets in seconds. */
export const buckets = {
  login: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  sts: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  upstreamConnect: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
} as const;

/** The metrics of one proxy: a SessionObserver and an AuthObserver over one Registry. */
export interface Metrics extends SessionObserver, AuthObserver, OpsMetrics, ReuseObserver {
  readonly registry: Registry;
}

const closed = (allowed: readonly string[], value: string): string => (allowed.includes(value) ? value : 'other');

/** Registers every rsproxy metric (plus Node default metrics) on `registry`. */
export function createMetrics(registry: Registry = new Registry()): Metrics {
  const registers = [registry];
  collectDefaultMetrics({ register: registry });
  dropMisnamedDefaultMetrics(registry);
  const ops = createOpsMetrics(registry);
  const reuseMetrics = createReuseMetrics(registry);
  const clientConnections = new Gauge({ name: 'rsproxy_client_connections', help: 'Open client connections.', registers });
  const logins = new Counter({
    name: 'rsproxy_logins_total',
    help: 'Finished logins by result and reason (reason "ok" on success).',
    labelNames: ['result', 'reason'] as const,
    registers,
  });
  const loginDuration = new Histogram({
    name: 'rsproxy_login_duration_seconds',
    help: 'Time from accept to the end of login, by result.',
    labelNames: ['result'] as const,
    buckets: [...buckets.login],
    registers,
  });
  const sts = new Counter({ name: 'rsproxy_sts_requests_total', help: 'STS GetCallerIdentity calls by result.', labelNames: ['result'] as const, registers });
  const stsDuration = new Histogram({
    name: 'rsproxy_sts_request_duration_seconds',
    help: 'STS GetCallerIdentity latency.',
    buckets: [...buckets.sts],
    registers,
  });
  const credentialRequests = new Counter({
    name: 'rsproxy_credential_requests_total',
    help: 'AWS credential and discovery API calls by API and result.',
    labelNames: ['api', 'result'] as const,
    registers,
  });
  const credentialCache = new Counter({
    name: 'rsproxy_credential_cache_total',
    help: 'Credential cache lookups by result (hit, miss, refresh, stale).',
    labelNames: ['result'] as const,
    registers,
  });
  const upstreamConnect = new Histogram({
    name: 'rsproxy_upstream_connect_duration_seconds',
    help: 'Upstream connect + login time (to ReadyForQuery).',
    buckets: [...buckets.upstreamConnect],
    registers,
  });
  const bytes = new Counter({ name: 'rsproxy_bytes_total', help: 'Bytes relayed after login, by direction.', labelNames: ['direction'] as const, registers });
  const cancels = new Counter({ name: 'rsproxy_cancel_requests_total', help: 'CancelRequests by result.', labelNames: ['result'] as const, registers });
  const sessionsEnded = new Counter({
    name: 'rsproxy_sessions_ended_total',
    help: 'Relayed sessions that ended, by reason (client, upstream, revoked, max_age, admin, shutdown).',
    labelNames: ['reason'] as const,
    registers,
  });
  const proxyHeaderRejected = new Counter({
    name: 'rsproxy_proxy_protocol_rejected_total',
    help: 'Connections closed by the PROXY protocol gate, by reason (bad header, header from an untrusted address, none in time).',
    labelNames: ['reason'] as const,
    registers,
  });

  // Known label values start at 0 so rate() and absent() work from the first scrape.
  logins.inc({ result: 'ok', reason: 'ok' }, 0);
  for (const reason of metricLabels.loginReason) if (reason !== 'ok') logins.inc({ result: 'failed', reason }, 0);
  for (const result of metricLabels.stsResult) sts.inc({ result }, 0);
  for (const api of metricLabels.credentialApi) for (const result of metricLabels.credentialResult) credentialRequests.inc({ api, result }, 0);
  for (const result of metricLabels.cacheResult) credentialCache.inc({ result }, 0);
  for (const direction of metricLabels.direction) bytes.inc({ direction }, 0);
  for (const result of metricLabels.cancelResult) cancels.inc({ result }, 0);
  for (const reason of metricLabels.sessionEndReason) sessionsEnded.inc({ reason }, 0);
  for (const reason of metricLabels.proxyHeaderReason) proxyHeaderRejected.inc({ reason }, 0);

  return {
    registry,
    ...ops,
    ...reuseMetrics,
    clientConnectionOpened: () => clientConnections.inc(),
    clientConnectionClosed: () => clientConnections.dec(),
    login(result: 'ok' | 'failed', reason: string, durationSeconds: number) {
      const r = closed(metricLabels.loginResult, result);
      logins.inc({ result: r, reason: closed(metricLabels.loginReason, reason) });
      loginDuration.observe({ result: r }, durationSeconds);
    },
    bytes(direction: ByteDirection, n: number) {
      if (n > 0) bytes.inc({ direction: closed(metricLabels.direction, direction) }, n);
    },
    cancel: (result: CancelResult) => cancels.inc({ result: closed(metricLabels.cancelResult, result) }),
    upstreamConnect: (durationSeconds: number) => upstreamConnect.observe(durationSeconds),
    sessionEnded: (reason: SessionEndReason) => sessionsEnded.inc({ reason: closed(metricLabels.sessionEndReason, reason) }),
    proxyHeaderRejected: (reason: string) => proxyHeaderRejected.inc({ reason: closed(metricLabels.proxyHeaderReason, reason) }),
    stsRequest(result: string, durationSeconds: number) {
      sts.inc({ result: closed(metricLabels.stsResult, result) });
      stsDuration.observe(durationSeconds);
    },
    credentialRequest: (api: string, result: string) =>
      credentialRequests.inc({ api: closed(metricLabels.credentialApi, api), result: closed(metricLabels.credentialResult, result) }),
    credentialCache: (result: 'hit' | 'miss' | 'refresh' | 'stale') => credentialCache.inc({ result: closed(metricLabels.cacheResult, result) }),
  };
}
