/**
 * Prometheus tooling for the observability tests: running promtool, the metric names a PromQL expression
 * reads, the names a /metrics exposition serves, and the PromQL of the shipped dashboard and alert rules.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/** Where Debian installs promtool. */
export const promtoolPath = '/usr/bin/promtool';

// dist/testkit/promtool.js → the project root is two levels up.
/** The project root (deploy/ and docs/ live here). */
export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Runs promtool with `args` (stdin from `input` when given); resolves with its exit code and stdout+stderr. */
export function promtool(args: readonly string[], input?: string, cwd = projectRoot): Promise<{ code: number; out: string }> {
  return new Promise((res) => {
    const child = execFile(promtoolPath, [...args], { cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      res({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, out: `${stdout}${stderr}` });
    });
    child.stdin?.end(input ?? '');
  });
}

const keywords = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'inf', 'nan']);

/** The metric names a PromQL expression selects (Grafana variables allowed), sorted and unique. */
export function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""') // string literals (label values, label_replace args)
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range and subquery durations, $__rate_interval
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // label lists
  const names = new Set<string>();
  for (const m of bare.matchAll(/(?<![\w:.$])([A-Za-z_:][\w:]*)(?![\w:]|\s*\()/g)) {
    const name = m[1]!;
    if (!keywords.has(name.toLowerCase())) names.add(name);
  }
  return [...names].sort();
}

/** Every sample name an exposition can serve: each family's own name, and _bucket/_sum/_count of histograms. */
export function exposedMetricNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram' || type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
    if (type === 'histogram') names.add(`${name}_bucket`);
  }
  for (const m of exposition.matchAll(/^([A-Za-z_:][\w:]*)[{ ]/gm)) names.add(m[1]!);
  return names;
}

/** A Grafana dashboard panel target (the fields the tests read). */
export interface DashboardTarget {
  expr?: string;
  refId?: string;
  datasource?: unknown;
}

/** A dashboard panel (the fields the tests read). */
export interface DashboardPanel {
  id?: unknown;
  type?: unknown;
  title?: unknown;
  datasource?: unknown;
  gridPos?: { x?: unknown; y?: unknown; w?: unknown; h?: unknown };
  targets?: DashboardTarget[];
}

/** The shipped Grafana dashboard, parsed. */
export function readDashboard(): Record<string, unknown> & { panels: DashboardPanel[] } {
  return JSON.parse(readFileSync(join(projectRoot, 'deploy', 'grafana', 'rsproxy-dashboard.json'), 'utf8')) as Record<string, unknown> & { panels: DashboardPanel[] };
}

/** A rule group of a Prometheus rules file. */
export interface RuleGroup {
  name: string;
  rules: Array<{ alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }>;
}

/** The groups of the plain alert rules file deploy/prometheus/rsproxy-alerts.yaml. */
export function readAlertGroups(): RuleGroup[] {
  return (parse(readFileSync(join(projectRoot, 'deploy', 'prometheus', 'rsproxy-alerts.yaml'), 'utf8')) as { groups: RuleGroup[] }).groups;
}

/** `title / refId` → expr of every dashboard target that has one. */
export function dashboardExprs(): Array<{ where: string; expr: string }> {
  return readDashboard().panels.flatMap((p) => (p.targets ?? []).filter((t) => typeof t.expr === 'string').map((t) => ({ where: `${String(p.title)} / ${String(t.refId)}`, expr: t.expr! })));
}

/** `alert name` → expr of every alert rule. */
export function alertExprs(): Array<{ where: string; expr: string }> {
  return readAlertGroups().flatMap((g) => g.rules.map((r) => ({ where: r.alert ?? r.record ?? '?', expr: r.expr })));
}
