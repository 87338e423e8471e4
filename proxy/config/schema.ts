/** The rsproxy config schema (docs/design/surface.md §3): the single source of keys, types, defaults, units and docs. */
import { z } from 'zod';
import { accountIdPattern, audiencePattern, principalPattern, regionPattern, roleArnPattern } from '../../auth/aws-names.js';
import { sessionLimits } from './limits.js';

const integer = (min: number, max?: number) => {
  const msg = max === undefined ? `must be an integer ≥ ${min}` : `must be an integer from ${min} to ${max}`;
  const base = z.number({ error: msg }).int({ error: msg }).min(min, { error: msg });
  return max === undefined ? base : base.max(max, { error: msg });
};
const pattern = (re: RegExp, msg: string) => z.string({ error: msg }).regex(re, { error: msg });
const text = (msg: string) => z.string({ error: msg }).min(1, { error: msg });
const flag = () => z.boolean({ error: 'must be true or false' });
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of ${values.join(', ')}` });
const list = <T extends z.ZodType>(item: T, msg: string) => z.array(item, { error: msg });

/** `host:port` (IPv6 hosts in brackets). */
export const listenPattern = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(?:[0-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$/;
const listenRule = 'must be host:port with a port from 0 to 65535';
const regionRule = 'must be an AWS region like eu-west-1';

const tlsSchema = z
  .strictObject(
    {
      certFile: text('must be a path to a PEM certificate (chain) file').describe('Client-facing certificate file (PEM); required; re-read on SIGHUP.'),
      keyFile: text('must be a path to a PEM private key file').describe('Private key file (PEM) for certFile; required; re-read on SIGHUP.'),
      minVersion: oneOf(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2').describe('Lowest TLS version offered to clients. Default TLSv1.2.'),
    },
    { error: 'must be a mapping with certFile and keyFile' },
  )
  .describe('Client TLS; required (clients without TLS get 28000).');

const identitySchema = z
  .strictObject(
    {
      audience: pattern(audiencePattern, `must match ${audiencePattern.source}`).describe(
        'Value of the signed x-rsproxy-audience header; unique per fleet; required.',
      ),
      partition: oneOf(['aws', 'aws-cn', 'aws-us-gov']).default('aws').describe('AWS partition of the STS hosts and ARNs. Default aws.'),
      stsRegions: list(pattern(regionPattern, regionRule), 'must be a list of AWS regions')
        .min(1, { error: 'must list at least one region' })
        .describe('STS regions a token may name (sts.<region>.<partition domain>); required, each in `partition`.'),
      allowedAccounts: list(pattern(accountIdPattern, 'must be a 12-digit AWS account id'), 'must be a list of 12-digit AWS account ids')
        .min(1, { error: 'must list at least one account' })
        .describe('Accounts whose principals may log in; required.'),
      maxTokenAgeSeconds: integer(1, 900).default(300).describe('Seconds a token is accepted after it was signed (1..900). Default 300.'),
      clockSkewSeconds: integer(0, 900).default(60).describe('Seconds of clock skew tolerated on X-Amz-Date (0..900). Default 60.'),
      allowRootAndFederated: flag().default(false).describe('Admit root and federated-user principals. Default false.'),
      acceptEksTokens: flag().default(false).describe('Also accept `aws eks get-token --cluster-name <audience>` tokens. Default false.'),
    },
    { error: 'must be a mapping with audience, stsRegions and allowedAccounts' },
  )
  .describe('How client tokens are verified; required.');

const databaseSchema = z.strictObject(
  {
    cluster: text('must be a cluster identifier').optional().describe('Provisioned ClusterIdentifier (endpoint from DescribeClusters, or host/port).'),
    workgroup: text('must be a workgroup name').optional().describe('Serverless workgroup name (endpoint from GetWorkgroup).'),
    host: text('must be a host name or IP address').optional().describe('Fixed endpoint host; needs cluster (for the API call) and port.'),
    port: integer(1, 65535).optional().describe('Fixed endpoint port (1..65535); goes with host.'),
    region: pattern(regionPattern, regionRule).describe('AWS region of the cluster or workgroup; required.'),
    engine: oneOf(['redshift', 'postgres']).default('redshift').describe('redshift, or postgres for a PostgreSQL-compatible upstream (demo, tests). Default redshift.'),
    dbName: text('must be a database name').optional().describe('Database name on the cluster. Default: the key under `databases`.'),
    upstreamTls: z
      .strictObject(
        {
          mode: oneOf(['verify-full', 'verify-ca', 'require']).default('verify-full').describe('Upstream TLS check; require = encrypt only (tests). Default verify-full.'),
          caFile: text('must be a path to a PEM CA bundle').optional().describe('Extra CA bundle (PEM) for the upstream. Default: system CAs.'),
        },
        { error: 'must be a mapping with mode and caFile' },
      )
      .prefault({}),
    reuse: flag().optional().describe('Upstream session reuse for this database; overrides reuse.enabled. Default: reuse.enabled.'),
  },
  { error: 'must be a mapping with cluster or workgroup, and region' },
);

const ruleSchema = z.strictObject(
  {
    principal: pattern(principalPattern, 'must be an IAM role or user ARN like arn:aws:iam::123456789012:role/Name (* allowed after the account)').describe(
      'Canonical role or user ARN the rule matches; required.',
    ),
    dbUser: text('must be a database user name or template').optional().describe(
      'Literal, or a template of {sessionName} {roleName} {userName} {accountId}. Optional on workgroup rules only.',
    ),
    dbGroups: list(text('must be a group name'), 'must be a list of group names').default([]).describe('Database groups joined for the session. Default none.'),
    databases: list(text('must be a database key'), 'must be a list of keys of `databases`, or *')
      .min(1, { error: 'must list at least one database (or *)' })
      .describe('Keys of `databases` the rule admits; * = all; required.'),
    autoCreate: flag().default(false).describe('GetClusterCredentials AutoCreate (user shows as IAMA:<name>). Default false.'),
    trustSessionName: flag().default(false).describe('Allow {sessionName} (only for roles whose session name the org controls). Default false.'),
    assumeRole: pattern(roleArnPattern, 'must be an IAM role ARN like arn:aws:iam::123456789012:role/Name').optional().describe(
      'Role assumed before minting (required for distinct users on workgroups).',
    ),
  },
  { error: 'must be a mapping with principal and databases' },
);

/** An IPv4 or IPv6 CIDR block (`10.0.0.0/16`, `::1/128`); a bare address means a single host. */
export const cidrPattern = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}(?:\/(?:3[0-2]|[12]?\d))?|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(?:\/(?:12[0-8]|1[01]\d|[1-9]?\d))?)$/;
/** A setting name as PostgreSQL spells one, custom `prefix.name` settings included. */
const startupParameterNamePattern = /^[A-Za-z_][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_$]*)*$/;
/** `name:port` of a DNS name (a Kubernetes headless Service). */
const dnsPortPattern = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*\.?:(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$/;

/** The whole config file. */
export const configSchema = z.strictObject(
  {
    listen: pattern(listenPattern, listenRule).default('0.0.0.0:5439').describe('host:port for PostgreSQL clients. Default 0.0.0.0:5439.'),
    tls: tlsSchema,
    identity: identitySchema,
    databases: z
      .record(z.string(), databaseSchema, { error: 'must be a mapping of database name to its settings' })
      .refine((v) => Object.keys(v).length > 0, { error: 'must define at least one database' })
      .describe('What clients put in `database` → where it lives; required.'),
    rules: list(ruleSchema, 'must be a list of rules').default([]).describe('Access rules, first match wins; no match = denied. Default none (deny all).'),
    credentials: z
      .strictObject(
        {
          durationSeconds: integer(900, 3600).default(900).describe('Lifetime asked for temporary DB credentials (900..3600). Default 900.'),
          refreshBeforeSeconds: integer(0, 3599).default(60).describe('Refresh cached credentials this long before expiry (< durationSeconds). Default 60.'),
        },
        { error: 'must be a mapping' },
      )
      .prefault({}),
    admin: z
      .strictObject(
        {
          listen: pattern(listenPattern, listenRule).default('127.0.0.1:9187').describe('host:port of /metrics /livez /readyz /startupz. Default 127.0.0.1:9187.'),
          tokenFile: text('must be a path to a file holding the admin bearer token')
            .optional()
            .describe('File whose trimmed content is the bearer token for /sessions; unset = /sessions is 404. Re-read on SIGHUP.'),
        },
        { error: 'must be a mapping' },
      )
      .prefault({}),
    limits: z
      .strictObject(
        {
          maxClientConnections: integer(1, 1_000_000).default(1000).describe('Open client connections before 53300 (1..1000000). Default 1000.'),
          loginTimeoutMs: integer(1000).default(sessionLimits.loginTimeoutMs).describe(`Milliseconds from accept to the end of login (≥ 1000). Default ${sessionLimits.loginTimeoutMs}.`),
          maxStartupBytes: integer(1024, 1_048_576).default(sessionLimits.maxStartupBytes).describe(`Largest startup packet in bytes (1024..1048576). Default ${sessionLimits.maxStartupBytes}.`),
          maxPasswordBytes: integer(1024, 1_048_576).default(8192).describe('Largest password message in bytes (1024..1048576); over it → 08P01. Default 8192.'),
          maxConnectionsPerSourcePerSecond: integer(1)
            .default(100)
            .describe('New connections per second per remote address (≥ 1, token bucket, burst = rate); over it → closed at accept with no reply. Default 100.'),
          maxSessionSeconds: integer(0, 31_536_000)
            .default(0)
            .describe('Seconds a relayed session may last; then it ends (57P01) at its first idle moment, or 300 s later at most (0..31536000, 0 = no limit). Default 0.'),
          tcpKeepAliveSeconds: integer(0, 7200)
            .default(60)
            .describe('TCP keepalive idle seconds on client and upstream sockets, below the 350 s idle timeout of an AWS NLB or NAT gateway (0..7200, 0 = off). Default 60.'),
        },
        { error: 'must be a mapping' },
      )
      .prefault({}),
    proxyProtocol: z
      .strictObject(
        {
          trustedSources: list(pattern(cidrPattern, 'must be an IPv4 or IPv6 CIDR like 10.0.0.0/16'), 'must be a list of CIDRs')
            .default([])
            .describe('CIDRs of load balancers that send a PROXY v1/v2 header; from these a header is required, from others refused. Default [] (off).'),
        },
        { error: 'must be a mapping' },
      )
      .prefault({}),
    cluster: z
      .strictObject(
        {
          self: z
            .union([z.literal(''), pattern(listenPattern, listenRule)], { error: listenRule })
            .default('')
            .describe('host:port at which peers reach this replica. Default: $POD_IP and the listen port.'),
          peers: list(pattern(listenPattern, listenRule), 'must be a list of host:port').default([]).describe('Static host:port list of the other replicas. Default [].'),
          peerDns: z
            .union([z.literal(''), pattern(dnsPortPattern, 'must be name:port')], { error: 'must be name:port' })
            .default('')
            .describe('name:port resolving to every replica (a headless Service), re-resolved every 30 s. Default "" (none).'),
        },
        { error: 'must be a mapping' },
      )
      .prefault({}),
    audit: z
      .strictObject(
        {
          file: z
            .string({ error: 'must be a path (or "" for no audit trail)' })
            .default('')
            .describe('Audit log: JSON lines, one hash-chained record per line, reopened on SIGHUP (docs/operations/audit.md). Default "" (off).'),
          statements: oneOf(['off', 'fingerprint', 'full'])
            .default('off')
            .describe('off | fingerprint (literals replaced by ?) | full (the text as sent, secrets masked): also one record per Query and Parse. Default off.'),
          maxStatementBytes: integer(64, 1_048_576).default(4096).describe('Longest statement text recorded, in UTF-8 bytes (64..1048576); longer is cut and marked "truncated": true. Default 4096.'),
          onFailure: oneOf(['refuse', 'continue'])
            .default('refuse')
            .describe('refuse: while a record cannot be written, new logins get 57P03 and /readyz is 503 | continue: count the failure and go on. Default refuse.'),
        },
        { error: 'must be a mapping' },
      )
      .prefault({}),
    startupParameters: z
      .strictObject(
        {
          drop: list(pattern(startupParameterNamePattern, 'must be a startup parameter name like geqo or app.tenant'), 'must be a list of startup parameter names')
            .default([])
            .describe('Startup parameter names never forwarded upstream (case-insensitive), logged at debug. Default [] (forward what a direct connection would send).'),
        },
        { error: 'must be a mapping' },
      )
      .prefault({}),
    reuse: z
      .strictObject(
        {
          enabled: flag().default(false).describe('Keep a clean upstream session when its client leaves and hand it to the next client of the same key. Default false.'),
          maxIdlePerKey: integer(0, 10_000).default(4).describe('Idle upstream sessions kept per reuse key (0..10000). Default 4.'),
          maxIdleTotal: integer(0, 1_000_000).default(64).describe('Idle upstream sessions kept in all, least recently used closed first (0..1000000). Default 64.'),
          idleTimeoutSeconds: integer(1, 86_400).default(60).describe('An idle upstream session is closed after this long (1..86400). Default 60.'),
          maxAgeSeconds: integer(1, 86_400).default(3600).describe('Never handed out older than this, nor past its credentials\' expiry or limits.maxSessionSeconds (1..86400). Default 3600.'),
          checkAfterIdleSeconds: integer(0, 86_400).default(30).describe('Idle longer than this: probed with an empty query before hand-out (0..86400). Default 30.'),
          resetTimeoutMs: integer(100, 60_000).default(2000).describe('Milliseconds the reset of a departed client\'s session may take before it is closed (100..60000). Default 2000.'),
        },
        { error: 'must be a mapping' },
      )
      .prefault({}),
    shutdown: z
      .strictObject({ drainSeconds: integer(0, 3600).default(30).describe('Seconds sessions may drain after SIGTERM before 57P01 (0..3600). Default 30.') }, { error: 'must be a mapping' })
      .prefault({}),
    log: z
      .strictObject({ level: oneOf(['debug', 'info', 'warn', 'error']).default('info').describe('Lowest level logged (JSON lines to stdout). Default info.') }, { error: 'must be a mapping' })
      .prefault({}),
  },
  { error: 'must be a mapping (the config file)' },
);

/** The parsed config as the schema returns it (before dbName defaults are filled in). */
export type ParsedConfig = z.output<typeof configSchema>;

/** Kind of a scalar key that a flag or env var may set. */
export type ScalarKind = 'string' | 'number' | 'boolean' | 'list';

/** A config key settable from a flag and an env var, derived from its path. */
export interface ScalarKey {
  path: readonly string[];
  kind: ScalarKind;
  /** Flag name without the leading dashes, e.g. `limits-login-timeout-ms`. */
  flag: string;
  /** Env var name, e.g. `RSPROXY_LIMITS_LOGIN_TIMEOUT_MS`. */
  env: string;
  description: string | undefined;
}

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

interface Inspectable {
  _zod: { def: { type: string; innerType?: Inspectable; element?: Inspectable; shape?: Record<string, Inspectable>; options?: Inspectable[]; values?: unknown[] } };
  description?: string | undefined;
}

function unwrap(schema: Inspectable): { base: Inspectable; description: string | undefined } {
  let s = schema;
  let description = schema.description;
  while (['default', 'prefault', 'optional', 'nullable'].includes(s._zod.def.type) && s._zod.def.innerType !== undefined) {
    s = s._zod.def.innerType;
    description ??= s.description;
  }
  return { base: s, description };
}

/** A union whose every option takes a string (`'' | pattern`, as cluster.self): set from a flag or env var like a string. */
function isStringUnion(base: Inspectable): boolean {
  const options = base._zod.def.options ?? [];
  return (
    options.length > 0 &&
    options.every((o) => {
      const d = unwrap(o).base._zod.def;
      return d.type === 'string' || d.type === 'enum' || (d.type === 'literal' && (d.values ?? []).every((v) => typeof v === 'string'));
    })
  );
}

function walk(shape: Record<string, Inspectable>, prefix: readonly string[], out: ScalarKey[]): void {
  for (const [key, child] of Object.entries(shape)) {
    const path = [...prefix, key];
    const { base, description } = unwrap(child);
    const t = base._zod.def.type;
    let kind: ScalarKind | undefined;
    if (t === 'object' && base._zod.def.shape !== undefined) walk(base._zod.def.shape, path, out);
    else if (t === 'string' || t === 'enum' || (t === 'union' && isStringUnion(base))) kind = 'string';
    else if (t === 'number') kind = 'number';
    else if (t === 'boolean') kind = 'boolean';
    else if (t === 'array' && base._zod.def.element !== undefined && unwrap(base._zod.def.element).base._zod.def.type === 'string') kind = 'list';
    if (kind === undefined) continue;
    const flagName = path.map(kebab).join('-');
    out.push({ path, kind, flag: flagName, env: `RSPROXY_${flagName.replace(/-/g, '_').toUpperCase()}`, description });
  }
}

/** Every scalar (and string-list) key with its mechanically derived flag and env var. */
export const scalarKeys: readonly ScalarKey[] = (() => {
  const out: ScalarKey[] = [];
  walk((configSchema as unknown as { shape: Record<string, Inspectable> }).shape, [], out);
  return out;
})();
