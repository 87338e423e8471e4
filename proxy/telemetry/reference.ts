/** Renders docs/reference/metrics.md from the metrics registry, so the page lists exactly what /metrics serves. */
import { Registry } from 'prom-client';
import { createMetrics } from './metrics.js';

interface Described {
  name: string;
  help: string;
  type: string;
  labelNames?: readonly string[];
}

/** The metrics reference page as Markdown (the rsproxy_* metrics, with those `registerMore` adds; Node's default process metrics are named only as a family). */
export function renderMetricsReference(...registerMore: ReadonlyArray<(registry: Registry) => unknown>): string {
  const registry = new Registry();
  createMetrics(registry);
  // Metrics of rooms telemetry may not import (the audit trail), registered by the caller on the same registry.
  for (const register of registerMore) register(registry);
  const all = registry.getMetricsAsArray() as unknown as Described[];
  const own = all.filter((m) => m.name.startsWith('rsproxy_')).sort((a, b) => a.name.localeCompare(b.name));
  return [
    '# Metrics reference',
    '',
    'Generated from the registry that `rsproxy serve` exposes on `GET /metrics` (`proxy/telemetry/`) by',
    '`npm run docs:reference`; a unit test fails when this page is stale. Labels never hold users, ARNs,',
    'IP addresses or tokens.',
    '',
    '| metric | type | labels | what it counts |',
    '|---|---|---|---|',
    ...own.map((m) => `| \`${m.name}\` | ${m.type} | ${(m.labelNames ?? []).map((l) => `\`${l}\``).join(', ')} | ${m.help.replace(/\|/g, '\\|')} |`),
    '',
    "Also served: prom-client's default Node.js and process metrics (`process_*`, `nodejs_*`; the set depends on the Node.js version).",
    '',
  ].join('\n');
}
