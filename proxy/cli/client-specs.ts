/** Option tables of the users' commands (`token`, `connect`, `url`, `credentials`, `tunnel`). */
import { JdbcDriver, sslModes } from './conn-strings.js';
import type { CommandSpec, OptionDef } from './options.js';
import { defaultTokenReuseSeconds, maxTokenReuseSeconds } from '../tunnel/token-reuse.js';

/** Default port of Redshift and of the proxy. */
export const defaultPort = 5439;

/** The `sslmode` values `tunnel` accepts toward the proxy (the proxy always requires TLS). */
export const tunnelSslModes = ['verify-full', 'verify-ca', 'require'] as const;

/** Output formats of `rsproxy url`. */
export const urlFormats = ['jdbc', 'odbc', 'libpq', 'dbeaver'] as const;

/** Output formats of `rsproxy credentials`. */
export const credentialsFormats = ['json', 'env', 'jdbc', 'odbc', 'libpq'] as const;

/** The option without its env fallback (for a command that does not read that variable). */
function dropEnv(o: OptionDef): OptionDef {
  const { env: _env, ...rest } = o;
  return rest;
}

const exitUsage = '0 ok, 1 usage error, 2 runtime failure (no AWS credentials, AWS refused).';

/** `--dbname D`; `--db-name` and `--database` are older spellings that still work. */
export const dbnameOption = (description: string, required: boolean): OptionDef => ({
  name: 'dbname',
  type: 'string',
  aliases: ['db-name', 'database'],
  valueName: 'D',
  description,
  ...(required ? { required } : {}),
});

const region: OptionDef = { name: 'region', type: 'string', valueName: 'R', env: 'AWS_REGION', description: 'AWS region of the signing (else AWS_REGION, else AWS_DEFAULT_REGION).' };
const profile: OptionDef = { name: 'profile', type: 'string', valueName: 'P', description: 'AWS profile of the credential chain (else the default chain).' };
const audience: OptionDef = { name: 'audience', type: 'string', valueName: 'AUD', env: 'RSPROXY_AUDIENCE', description: "The proxy's identity.audience (else RSPROXY_AUDIENCE)." };
const user: OptionDef = { name: 'user', type: 'string', valueName: 'U', env: 'RSPROXY_USER', description: 'Database user your rule maps you to (else RSPROXY_USER).' };
const host: OptionDef = { name: 'host', type: 'string', valueName: 'H', required: true, description: 'Host name of the proxy.' };
const port: OptionDef = { name: 'port', type: 'number', valueName: 'P', default: defaultPort, min: 1, max: 65535, description: 'Port of the proxy.' };
const sslmode: OptionDef = { name: 'sslmode', type: 'string', valueName: 'MODE', default: 'verify-full', allowed: sslModes, description: 'libpq sslmode the client uses.' };
const sslrootcert: OptionDef = { name: 'sslrootcert', type: 'string', valueName: 'FILE', description: 'PEM file of the CA that signed the server certificate (else the system CAs).' };
const driver: OptionDef = {
  name: 'driver',
  type: 'string',
  valueName: 'DRIVER',
  default: JdbcDriver.Postgresql,
  allowed: Object.values(JdbcDriver),
  valueAliases: { pgjdbc: JdbcDriver.Postgresql },
  description: 'JDBC driver of --format jdbc: postgresql (pgjdbc, jdbc:postgresql://) or redshift (jdbc:redshift://).',
};

/** Options of the commands that log in as a user through the proxy (`connect`, `url`). */
export const userConnectionOptions: readonly OptionDef[] = [host, port, dbnameOption('Database name (the key under `databases` in the proxy config).', true), user, audience, region, profile, sslmode, sslrootcert];

const tokenSpec: CommandSpec = {
  name: 'token',
  summary: 'print a signed token (rsp1.…) to use as a password',
  description: ['Signs a token with the default AWS credential chain (or --profile) and prints only the token on stdout.'],
  options: [dropEnv({ ...audience, required: true, description: "The proxy's identity.audience." }), region, profile],
  exitCodes: exitUsage,
};

const connectSpec: CommandSpec = {
  name: 'connect',
  summary: 'run psql with a fresh token in PGPASSWORD',
  description: ['Mints a token and runs psql with it in PGPASSWORD (never on the command line); arguments after -- go to psql.'],
  options: userConnectionOptions,
  positionals: { name: 'psql arguments', description: 'Passed to psql unchanged.', afterDashDash: true },
  synopsis: '--host H --dbname D [options] [-- psql args…]',
  environment: [['RSPROXY_PSQL', 'the psql executable (else psql on PATH)']],
  exitCodes: `psql's own exit code; 1 usage error, 2 runtime failure (no AWS credentials, psql not found).`,
};

const urlSpec: CommandSpec = {
  name: 'url',
  summary: 'print a connection string for one client, with a fresh token',
  description: ['Prints a connection string for one client with a fresh token as the password (unless --no-token); length warnings go to stderr.'],
  options: [
    { name: 'format', type: 'string', valueName: 'FORMAT', required: true, allowed: urlFormats, description: 'Which client: pgjdbc URL, psqlODBC string, libpq URI or a DBeaver profile.' },
    ...userConnectionOptions,
    driver,
    { name: 'no-token', type: 'boolean', description: 'Leave the password out (no AWS call).' },
  ],
  exitCodes: exitUsage,
};

const credentialsSpec: CommandSpec = {
  name: 'credentials',
  summary: 'temporary database credentials straight from AWS (no proxy)',
  description: [
    'DescribeClusters + GetClusterCredentials (or GetWorkgroup + GetCredentials for --workgroup), printed in the chosen format.',
    'Cached on disk in $XDG_CACHE_HOME/rsproxy/ (else ~/.cache/rsproxy/) until 60 s before expiry.',
  ],
  synopsis: '(--cluster C --db-user U [--db-groups G1,G2] [--auto-create] | --workgroup W) --dbname D [options]',
  options: [
    { name: 'cluster', type: 'string', valueName: 'C', description: 'Provisioned cluster identifier (exactly one of --cluster, --workgroup).' },
    { name: 'workgroup', type: 'string', valueName: 'W', description: 'Serverless workgroup name (the database user derives from your AWS identity).' },
    dbnameOption('Database name on the cluster or workgroup.', true),
    { name: 'db-user', type: 'string', valueName: 'U', description: 'Database user (--cluster only; required with it).' },
    { name: 'db-groups', type: 'list', valueName: 'G1,G2', description: 'Database groups to join (--cluster only).' },
    { name: 'auto-create', type: 'boolean', description: 'Create the user if it does not exist (--cluster only).' },
    { name: 'duration-seconds', type: 'number', valueName: 'N', min: 900, max: 3600, description: 'Lifetime of the credentials (AWS default 900).' },
    { ...region, description: 'AWS region of the cluster or workgroup (else AWS_REGION, else AWS_DEFAULT_REGION).' },
    profile,
    { name: 'format', type: 'string', valueName: 'FORMAT', default: 'json', allowed: credentialsFormats, description: 'json (the AWS CLI keys), env (PG* exports) or a connection string.' },
    driver,
    { ...sslmode, description: 'libpq sslmode written into the output.' },
    sslrootcert,
  ],
  exitCodes: exitUsage,
};

const tunnelSpec: CommandSpec = {
  name: 'tunnel',
  summary: 'local listener for GUI tools and services: no password, a fresh token per connection',
  description: [
    'Listens on loopback (or a Unix socket); each local connection is logged in to the proxy at --host with a fresh token from your AWS credentials.',
    'With --config FILE, runs every entry of the YAML list `tunnels:` at once (entries take the flags\' names: host, port, listen or unixSocket, user, dbname, profile, region, audience, sslmode, sslrootcert, tokenReuseSeconds, localTls); every entry is checked before anything listens.',
    'Runs until SIGINT or SIGTERM, or POST /quitquitquit on --admin.',
  ],
  synopsis: '(--host H [options] | --config FILE) [--admin HOST:PORT]',
  options: [
    { ...host, required: false, description: 'Host name of the proxy (required without --config).' },
    port,
    { name: 'listen', type: 'string', valueName: 'HOST:PORT', default: '127.0.0.1:5439', description: 'Loopback address to listen on (port 0 picks one).' },
    { name: 'unix-socket', type: 'string', valueName: 'DIR', description: 'Listen on DIR/.s.PGSQL.<listen port> instead of TCP.' },
    dropEnv({ ...user, description: 'Database user to log in as (else the one the local client sends).' }),
    dbnameOption('Database to log in to (else the one the local client sends).', false),
    audience,
    region,
    profile,
    { ...sslmode, allowed: tunnelSslModes, description: 'TLS check toward the proxy (the proxy always requires TLS).' },
    sslrootcert,
    { name: 'token-reuse-seconds', type: 'number', valueName: 'N', default: defaultTokenReuseSeconds, min: 0, max: maxTokenReuseSeconds, description: 'Reuse a minted token this long across connections (0: a token per connection).' },
    { name: 'local-tls', type: 'boolean', description: 'Offer TLS to local clients with a generated certificate.' },
    { name: 'config', type: 'string', valueName: 'FILE', description: 'Run the tunnels listed in this YAML file instead (no other tunnel flag beside --admin).' },
    { name: 'admin', type: 'string', valueName: 'HOST:PORT', description: 'Loopback address for GET /livez, GET /readyz (200 once listening with usable AWS credentials) and POST /quitquitquit (close, exit 0).' },
  ],
  exitCodes: '0 on SIGINT, SIGTERM or POST /quitquitquit, 1 usage error (a bad --config entry included), 2 runtime failure (no AWS credentials, cannot listen).',
};

/** The users' commands, in help order. */
export const clientSpecs: readonly CommandSpec[] = [tokenSpec, connectSpec, urlSpec, credentialsSpec, tunnelSpec];
