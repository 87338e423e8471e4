/** Config loading: file (YAML/JSON) < env RSPROXY_* < flags, strict validation with one line per problem, redacted dump. */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { AuthOptions, DatabaseOptions, RuleOptions } from '../../auth/types.js';
import { configSchema, listenPattern, scalarKeys, type ParsedConfig, type ScalarKey } from './schema.js';
import { otherEnvVars } from './other-env.js';
import { crossCheck, show } from './cross-check.js';
export { crossCheck, maxClusterClientConnections } from './cross-check.js';

export { scalarKeys, type ScalarKey } from './schema.js';

/** The effective, validated config. Its auth part is an `AuthOptions`. */
export interface RsproxyConfig extends AuthOptions {
  listen: string;
  tls: { certFile: string; keyFile: string; minVersion: 'TLSv1.2' | 'TLSv1.3' };
  admin: { listen: string; tokenFile?: string };
  limits: {
    maxClientConnections: number;
    loginTimeoutMs: number;
    maxStartupBytes: number;
    maxPasswordBytes: number;
    maxConnectionsPerSourcePerSecond: number;
    maxSessionSeconds: number;
    tcpKeepAliveSeconds: number;
  };
  proxyProtocol: { trustedSources: string[] };
  cluster: { self: string; peers: string[]; peerDns: string };
  audit: { file: string; statements: 'off' | 'fingerprint' | 'full'; maxStatementBytes: number; onFailure: 'refuse' | 'continue' };
  startupParameters: { drop: string[] };
  reuse: { enabled: boolean; maxIdlePerKey: number; maxIdleTotal: number; idleTimeoutSeconds: number; maxAgeSeconds: number; checkAfterIdleSeconds: number; resetTimeoutMs: number };
  shutdown: { drainSeconds: number };
  log: { level: 'debug' | 'info' | 'warn' | 'error' };
}

/** Flag values by flag name without dashes (`limits-login-timeout-ms`), as node:util parseArgs returns them. */
export type ConfigFlags = Readonly<Record<string, string | boolean | undefined>>;

/** Where overrides come from. */
export interface ConfigSources {
  flags?: ConfigFlags;
  env?: Readonly<Record<string, string | undefined>>;
}

/** Outcome of loading: either a config or every problem found; warnings either way. */
export type ConfigResult =
  | { ok: true; config: RsproxyConfig; warnings: string[] }
  | { ok: false; errors: string[]; warnings: string[] };

/** A config that failed validation; `problems` has one line per bad field. Maps to exit code 1. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'CONFIG_INVALID';
  readonly exitCode = 1;
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid config:\n${problems.join('\n')}`);
    this.problems = problems;
  }
}


/** `a.b[0].c` from a zod-style path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out === '' ? '(config)' : out;
}

/** Parses config text: YAML 1.2 (JSON is accepted as YAML). Throws ConfigError on syntax errors. */
export function parseConfigText(text: string, source = 'config'): unknown {
  try {
    return parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new ConfigError([`${source}: not valid YAML or JSON: ${msg}`]);
  }
}

function coerce(key: ScalarKey, raw: string): unknown {
  if (key.kind === 'number') return /^-?\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : raw;
  if (key.kind === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : raw;
  if (key.kind === 'list') return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return raw;
}

function setPath(root: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = root;
  for (const seg of path.slice(0, -1)) {
    const next = node[seg];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[seg] = {};
    node = node[seg] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

/** Applies env then flag overrides onto a copy of the file value; returns it and which source set each path. */
export function applyOverrides(fileValue: unknown, sources: ConfigSources): { value: unknown; origin: Map<string, string>; warnings: string[] } {
  const origin = new Map<string, string>();
  const warnings: string[] = [];
  const isObj = typeof fileValue === 'object' && fileValue !== null && !Array.isArray(fileValue);
  if (!isObj && fileValue !== undefined && fileValue !== null) return { value: fileValue, origin, warnings };
  const value = structuredClone(isObj ? (fileValue as Record<string, unknown>) : {});
  const env = sources.env ?? {};
  const known = new Set([...scalarKeys.map((k) => k.env), ...Object.keys(otherEnvVars)]);
  for (const name of Object.keys(env)) {
    if (name.startsWith('RSPROXY_') && !known.has(name)) warnings.push(`${name}: not a config key; ignored`);
  }
  for (const key of scalarKeys) {
    const fromEnv = env[key.env];
    const fromFlag = sources.flags?.[key.flag];
    if (fromFlag !== undefined) {
      setPath(value, key.path, typeof fromFlag === 'boolean' ? fromFlag : coerce(key, fromFlag));
      origin.set(key.path.join('.'), `--${key.flag}`);
    } else if (fromEnv !== undefined) {
      setPath(value, key.path, coerce(key, fromEnv));
      origin.set(key.path.join('.'), key.env);
    }
  }
  return { value, origin, warnings };
}

/** `cluster.self` defaults to $POD_IP and the listen port when peers or peerDns are set (docs/design/surface.md §3). */
function withClusterSelfDefault(c: ParsedConfig, env: ConfigSources['env']): ParsedConfig {
  const podIp = env?.['POD_IP']?.trim() ?? '';
  if (c.cluster.self !== '' || podIp === '' || (c.cluster.peers.length === 0 && c.cluster.peerDns === '')) return c;
  const port = c.listen.slice(c.listen.lastIndexOf(':') + 1);
  return { ...c, cluster: { ...c.cluster, self: `${podIp.includes(':') ? `[${podIp}]` : podIp}:${port}` } };
}

function normalise(p: ParsedConfig): RsproxyConfig {
  const databases: Record<string, DatabaseOptions> = {};
  for (const [key, db] of Object.entries(p.databases)) {
    const out: DatabaseOptions = { region: db.region, engine: db.engine, dbName: db.dbName ?? key, upstreamTls: { mode: db.upstreamTls.mode } };
    if (db.upstreamTls.caFile !== undefined) out.upstreamTls.caFile = db.upstreamTls.caFile;
    if (db.cluster !== undefined) out.cluster = db.cluster;
    if (db.workgroup !== undefined) out.workgroup = db.workgroup;
    if (db.host !== undefined) out.host = db.host;
    if (db.port !== undefined) out.port = db.port;
    if (db.reuse !== undefined) out.reuse = db.reuse;
    databases[key] = out;
  }
  const rules: RuleOptions[] = p.rules.map((r) => {
    const out: RuleOptions = { principal: r.principal, dbGroups: r.dbGroups, databases: r.databases, autoCreate: r.autoCreate, trustSessionName: r.trustSessionName };
    if (r.dbUser !== undefined) out.dbUser = r.dbUser;
    if (r.assumeRole !== undefined) out.assumeRole = r.assumeRole;
    return out;
  });
  const admin: RsproxyConfig['admin'] = { listen: p.admin.listen };
  if (p.admin.tokenFile !== undefined) admin.tokenFile = p.admin.tokenFile;
  return { ...p, admin, databases, rules };
}

/** Validates a parsed file value with env/flag overrides; reports every problem, one line each. */
export function resolveConfig(fileValue: unknown, sources: ConfigSources = {}): ConfigResult {
  const { value, origin, warnings } = applyOverrides(fileValue, sources);
  const parsed = configSchema.safeParse(value, { reportInput: true });
  if (!parsed.success) {
    const errors: string[] = [];
    for (const issue of parsed.error.issues) {
      const path = formatPath(issue.path);
      if (issue.code === 'unrecognized_keys') {
        for (const k of issue.keys) errors.push(`${formatPath([...issue.path, k])}: unknown key`);
        continue;
      }
      const from = origin.get(issue.path.join('.'));
      const got = issue.input === undefined ? 'missing' : `got ${show(issue.input)}${from === undefined ? '' : ` from ${from}`}`;
      errors.push(`${path}: ${issue.input === undefined ? 'required; ' : ''}${issue.message} (${got})`);
    }
    return { ok: false, errors, warnings };
  }
  const data = withClusterSelfDefault(parsed.data, sources.env);
  const cross = crossCheck(data);
  warnings.push(...cross.warnings);
  if (cross.errors.length > 0) return { ok: false, errors: cross.errors, warnings };
  return { ok: true, config: normalise(data), warnings };
}

/** Reads and validates a config file (YAML or JSON) with overrides. Never throws for bad input. */
export function loadConfigFile(path: string, sources: ConfigSources = {}): ConfigResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return { ok: false, errors: [`${path}: cannot read the config file (${code})`], warnings: [] };
  }
  try {
    return resolveConfig(parseConfigText(text, path), sources);
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, errors: [...err.problems], warnings: [] };
    throw err;
  }
}

/** Like loadConfigFile but throws ConfigError; returns the config and its warnings. */
export function loadConfigOrThrow(path: string, sources: ConfigSources = {}): { config: RsproxyConfig; warnings: string[] } {
  const r = loadConfigFile(path, sources);
  if (!r.ok) throw new ConfigError(r.errors);
  return { config: r.config, warnings: r.warnings };
}

/** Splits `host:port` (brackets allowed around IPv6). */
export function parseHostPort(listen: string): { host: string; port: number } {
  if (!listenPattern.test(listen)) throw new ConfigError([`listen address ${show(listen)} must be host:port`]);
  const i = listen.lastIndexOf(':');
  return { host: listen.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(listen.slice(i + 1)) };
}

const secretKey = /(password|secret|token|signature|credential(?!s$))/i;
const secretValue = /^(rsp1\.|k8s-aws-v1\.)|:\/\/[^/@\s]*:[^/@\s]*@/;

/** A deep copy with anything secret-looking replaced by "[REDACTED]" (for `check-config --print`). */
export function redactConfig(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => redactConfig(v, key));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactConfig(v, k)]));
  }
  if (typeof value === 'string' && (secretKey.test(key) || secretValue.test(value))) return '[REDACTED]';
  return value;
}
