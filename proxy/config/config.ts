/** Config loading: file (YAML/JSON) < env RSPROXY_* < flags, strict validation with one line per problem, redacted dump. */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { AuthOptions, DatabaseOptions, RuleOptions } from '../../auth/types.js';
import { validateDbGroup, validateDbName, validateDbUser } from '../../auth/redshift-names.js';
import { parseCidr } from '../protocol/ip-address.js';
import { configSchema, listenPattern, scalarKeys, type ParsedConfig, type ScalarKey } from './schema.js';
import { otherEnvVars } from './other-env.js';
import { startupParameterClass, type StartupParameterClass } from '../protocol/startup-parameter-class.js';

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

const show = (v: unknown): string => {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
};

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

const regionPartition = (region: string): string =>
  region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : /^(us-iso|eu-isoe|us-isof)/.test(region) ? 'other' : 'aws';
/** Longest value of the RedshiftDbRoles session tag that carries a workgroup rule's dbGroups (docs/design/aws.md §5). */
const maxDbRolesTagChars = 256;
const templateVars = new Set(['sessionName', 'roleName', 'userName', 'accountId']);

/** Cross-field checks of docs/design/architecture.md §6 on a schema-valid config (errors and warnings, one line each). */
export function crossCheck(c: ParsedConfig): { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  c.identity.stsRegions.forEach((r, i) => {
    if (regionPartition(r) !== c.identity.partition) errors.push(`identity.stsRegions[${i}]: region ${show(r)} is not in partition ${c.identity.partition}`);
  });
  if (c.credentials.refreshBeforeSeconds >= c.credentials.durationSeconds) {
    errors.push(`credentials.refreshBeforeSeconds: must be less than credentials.durationSeconds (${c.credentials.durationSeconds}) (got ${c.credentials.refreshBeforeSeconds})`);
  }
  if (c.listen === c.admin.listen && !c.listen.endsWith(':0')) errors.push(`admin.listen: must differ from listen (got ${show(c.admin.listen)})`);
  // The schema's pattern only shapes the text; a trusted CIDR must also be an exact network.
  c.proxyProtocol.trustedSources.forEach((text, i) => {
    const r = parseCidr(text);
    if ('problem' in r) errors.push(`proxyProtocol.trustedSources[${i}]: ${r.problem} (got ${show(text)})`);
  });
  const dbKeys = Object.keys(c.databases);
  for (const [key, db] of Object.entries(c.databases)) {
    const at = `databases.${key}`;
    if ((db.cluster === undefined) === (db.workgroup === undefined)) errors.push(`${at}: must set exactly one of cluster or workgroup`);
    if (db.host !== undefined && db.cluster === undefined) errors.push(`${at}.host: needs cluster (the API call names the cluster)`);
    if (db.host !== undefined && db.port === undefined) errors.push(`${at}.port: required with host (1..65535)`);
    if (db.port !== undefined && db.host === undefined) errors.push(`${at}.port: needs host`);
    if (regionPartition(db.region) !== c.identity.partition) errors.push(`${at}.region: region ${show(db.region)} is not in partition ${c.identity.partition}`);
    if (db.upstreamTls.mode === 'require') {
      warnings.push(`${at}.upstreamTls.mode: require encrypts without verifying the upstream's certificate (tests only); use verify-full in production`);
    }
    const dbNameProblem = validateDbName(db.dbName ?? key);
    if (dbNameProblem !== undefined) errors.push(`${db.dbName === undefined ? `${at}` : `${at}.dbName`}: database name ${show(db.dbName ?? key)} ${dbNameProblem}`);
  }
  c.rules.forEach((rule, i) => {
    const at = `rules[${i}]`;
    const dbs = rule.databases.includes('*') ? dbKeys : rule.databases;
    rule.databases.forEach((d, j) => {
      if (d !== '*' && !dbKeys.includes(d)) errors.push(`${at}.databases[${j}]: ${show(d)} is not a key of databases (${dbKeys.join(', ')})`);
    });
    // A database with both or neither is reported once above, not again per rule.
    const workgroups = dbs.filter((d) => c.databases[d]?.workgroup !== undefined && c.databases[d]?.cluster === undefined);
    const clusters = dbs.filter((d) => c.databases[d]?.cluster !== undefined && c.databases[d]?.workgroup === undefined);
    const vars = [...(rule.dbUser ?? '').matchAll(/\{([^}]*)\}/g)].map((m) => m[1] ?? '');
    for (const v of vars) if (!templateVars.has(v)) errors.push(`${at}.dbUser: unknown template {${v}}; allowed: {sessionName} {roleName} {userName} {accountId}`);
    if (vars.includes('sessionName') && !rule.trustSessionName) errors.push(`${at}.dbUser: {sessionName} needs trustSessionName: true`);
    if (rule.dbUser !== undefined && vars.length === 0 && !/[{}]/.test(rule.dbUser)) {
      const p = validateDbUser(rule.dbUser);
      if (p !== undefined) errors.push(`${at}.dbUser: ${show(rule.dbUser)} ${p}`);
    } else if (rule.dbUser !== undefined && vars.length === 0) {
      errors.push(`${at}.dbUser: unbalanced braces in ${show(rule.dbUser)}`);
    }
    if (rule.dbUser === undefined && clusters.length > 0) errors.push(`${at}.dbUser: required when the rule allows a cluster database (${clusters.join(', ')})`);
    rule.dbGroups.forEach((g, j) => {
      const p = validateDbGroup(g);
      if (p !== undefined) errors.push(`${at}.dbGroups[${j}]: ${show(g)} ${p}`);
    });
    if (workgroups.length > 0) {
      const wg = workgroups.join(', ');
      if (rule.autoCreate) errors.push(`${at}.autoCreate: not allowed on a workgroup database (${wg})`);
      if (rule.dbGroups.length > 0 && rule.assumeRole === undefined) errors.push(`${at}.dbGroups: need assumeRole on a workgroup database (${wg})`);
      if (vars.length > 0) errors.push(`${at}.dbUser: must be a literal on a workgroup database (${wg})`);
      const joinedGroups = rule.dbGroups.join(':');
      if (rule.assumeRole !== undefined && joinedGroups.length > maxDbRolesTagChars) {
        errors.push(`${at}.dbGroups: joined with ':' they are ${joinedGroups.length} characters; the RedshiftDbRoles session tag allows at most ${maxDbRolesTagChars} (workgroup ${wg})`);
      }
      if (rule.assumeRole === undefined) {
        warnings.push(`${at}: workgroup database (${wg}) without assumeRole: every client of this rule shares the proxy's own database user`);
      }
    }
  });
  c.startupParameters.drop.forEach((name, i) => {
    const kind = startupParameterClass(name);
    if (kind !== 'forwarded' && kind !== 'redshiftOnly') errors.push(`startupParameters.drop[${i}]: ${show(name)} is never forwarded anyway (${neverForwardedWhy[kind]})`);
  });
  checkCluster(c, errors);
  const reuseAnywhere = c.reuse.enabled || Object.values(c.databases).some((d) => d.reuse === true);
  if (reuseAnywhere && c.audit.file !== '' && c.audit.statements !== 'off') {
    warnings.push(`reuse: not used while audit.statements is ${c.audit.statements}: every login is a fresh upstream login`);
  }
  return { errors, warnings };
}

const neverForwardedWhy: Record<Exclude<StartupParameterClass, 'forwarded' | 'redshiftOnly'>, string> = {
  setByProxy: 'the proxy sets user and database itself',
  replication: 'replication connections are refused',
  negotiated: '_pq_ protocol options are negotiated, never forwarded',
  driverOnly: 'IdP keys are for the driver only',
};

/** Most live sessions per replica with `cluster` set: half the 16-bit session numbers of a cluster cancel key. */
export const maxClusterClientConnections = 32_768;

function checkCluster(c: ParsedConfig, errors: string[]): void {
  const { self, peers, peerDns } = c.cluster;
  if (peers.length === 0 && peerDns === '') return;
  if (self === '') errors.push('cluster.self: required with cluster.peers or cluster.peerDns (host:port at which peers reach this replica; defaults to $POD_IP and the listen port, but POD_IP is not set)');
  else if (!listenPattern.test(self) || self.endsWith(':0')) errors.push(`cluster.self: must be host:port with a port from 1 to 65535 (got ${show(self)})`);
  if (c.limits.maxClientConnections > maxClusterClientConnections) {
    errors.push(`limits.maxClientConnections: at most ${maxClusterClientConnections} with cluster (a cancel key holds 16 bits of session number per replica) (got ${c.limits.maxClientConnections})`);
  }
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
