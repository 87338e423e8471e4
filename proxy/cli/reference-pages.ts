/** The generated reference pages under docs/reference/: one list, written by `npm run docs:reference` and checked by a unit test. */
import { renderConfigReference } from '../config/reference.js';
import { renderMetricsReference } from '../telemetry/reference.js';
import { createAuditMetrics } from '../audit/index.js';
import { renderCliReference } from './reference.js';

/** A generated page: its path from the project root and its renderer. */
export interface ReferencePage {
  path: string;
  render: () => string;
}

/** Every generated reference page. */
export const referencePages: readonly ReferencePage[] = [
  { path: 'docs/reference/cli.md', render: renderCliReference },
  { path: 'docs/reference/configuration.md', render: renderConfigReference },
  { path: 'docs/reference/metrics.md', render: () => renderMetricsReference(createAuditMetrics) },
];
