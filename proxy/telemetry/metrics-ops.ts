/**
 * The operational gauges beside docs/design/surface.md §6 (build info, certificate expiry, connection cap, readiness)
 * and the cleanup of prom-client's default metrics so that `promtool check metrics` passes on /metrics. A leaf.
 */
import { X509Certificate } from 'node:crypto';
import { Gauge, type Registry } from 'prom-client';
import { packageVersion } from './build-info.js';

/**
 * prom-client's default gauges named like counters (promtool: "non-counter metrics should not have _total
 * suffix"). Each has a correctly named twin with a `type` label (nodejs_active_handles{type}…); sum it instead.
 */
export const droppedDefaultMetrics = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

/** Removes the misnamed default metrics from a registry that collectDefaultMetrics filled. */
export function dropMisnamedDefaultMetrics(registry: Registry): void {
  for (const name of droppedDefaultMetrics) registry.removeSingleMetric(name);
}

/** Setters of the operational gauges; main.ts feeds them from the config, the TLS files and the health state. */
export interface OpsMetrics {
  /** The client-facing certificate's notAfter, in Unix seconds (at start and after each reload). */
  setTlsCertificateExpiry(unixSeconds: number): void;
  /** The configured `limits.maxClientConnections`. */
  setClientConnectionsMax(n: number): void;
  /** What /readyz answers; read at each scrape. */
  setReadinessProbe(isReady: () => boolean): void;
}

/** The notAfter of the first (leaf) certificate of a PEM chain, in Unix seconds; throws if it does not parse. */
export function certificateNotAfterSeconds(certPem: string): number {
  return Math.floor(Date.parse(new X509Certificate(certPem).validTo) / 1000);
}

/** Registers rsproxy_build_info, rsproxy_tls_certificate_expiry_timestamp_seconds, rsproxy_client_connections_max and rsproxy_ready. */
export function createOpsMetrics(registry: Registry): OpsMetrics {
  const registers = [registry];
  const buildInfo = new Gauge({
    name: 'rsproxy_build_info',
    help: 'Always 1; the labels name the rsproxy version and the Node.js version.',
    labelNames: ['version', 'node'] as const,
    registers,
  });
  buildInfo.set({ version: packageVersion(), node: process.version }, 1);
  const certExpiry = new Gauge({
    name: 'rsproxy_tls_certificate_expiry_timestamp_seconds',
    help: 'notAfter of the client-facing TLS certificate as a Unix timestamp; updated on reload.',
    registers,
  });
  const connectionsMax = new Gauge({ name: 'rsproxy_client_connections_max', help: 'The configured limits.maxClientConnections.', registers });
  let isReady: () => boolean = () => false;
  new Gauge({
    name: 'rsproxy_ready',
    help: '1 when /readyz answers 200 (listening and not draining), else 0.',
    registers,
    collect() {
      this.set(isReady() ? 1 : 0);
    },
  });
  return {
    setTlsCertificateExpiry: (unixSeconds) => certExpiry.set(unixSeconds),
    setClientConnectionsMax: (n) => connectionsMax.set(n),
    setReadinessProbe(probe) {
      isReady = probe;
    },
  };
}
