/** Pure formatting and escaping of connection strings for each client family (pgjdbc, Redshift JDBC, psqlODBC, libpq, DBeaver, shell env, AWS CLI JSON). */
import { UsageError } from '../errors/exit-codes.js';

/** libpq `sslmode` values (also accepted by pgjdbc, psqlODBC and the Redshift drivers). */
export const sslModes = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof sslModes)[number];

/** JDBC drivers `jdbcUrl` can target. */
export const JdbcDriver = { Postgresql: 'postgresql', Redshift: 'redshift' } as const;
export type JdbcDriver = (typeof JdbcDriver)[keyof typeof JdbcDriver];

/** The Amazon Redshift ODBC driver truncates PWD to this many characters in SQLDriverConnect (docs/design/token.md §13). */
export const redshiftOdbcMaxPwdChars = 1024;

/** The psqlODBC driver name registered by Debian's odbc-postgresql package (and the Windows installer). */
export const psqlOdbcDriverName = 'PostgreSQL Unicode';

/** Everything a connection string can carry. `password` absent = leave it out (`--no-token`). */
export interface ConnectionParams {
  host: string;
  port: number;
  dbName: string;
  user: string;
  password?: string;
  sslMode: SslMode;
  /** PEM file with the CA that signed the server certificate. */
  sslRootCert?: string;
}

/** A value that cannot be written in the requested format (e.g. `;` in a psqlODBC Uid). */
export class ConnStringError extends UsageError {
  override readonly name: string = 'ConnStringError';
  override readonly code: string = 'CONN_STRING_UNREPRESENTABLE';
}

/** True when `s` is one of the libpq sslmode values. */
export function isSslMode(s: string): s is SslMode {
  return (sslModes as readonly string[]).includes(s);
}

function uriHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** Percent-encodes everything but RFC 3986 unreserved characters (so `+` never decodes to a space). */
export function percentEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function query(pairs: ReadonlyArray<readonly [string, string | undefined]>): string {
  const parts = pairs.filter((p): p is readonly [string, string] => p[1] !== undefined).map(([k, v]) => `${k}=${percentEncode(v)}`);
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

/**
 * A JDBC URL. pgjdbc (and the Redshift driver, its fork) URL-decodes every query value and the
 * database name with java.net.URLDecoder, so values are percent-encoded and `+` becomes `%2B`.
 */
export function jdbcUrl(p: ConnectionParams, driver: JdbcDriver = JdbcDriver.Postgresql): string {
  return jdbcUrlOf(p, driver, true);
}

function jdbcUrlOf(p: ConnectionParams, driver: JdbcDriver, withCredentials: boolean): string {
  const base = `jdbc:${driver}://${uriHost(p.host)}:${p.port}/${percentEncode(p.dbName)}`;
  return (
    base +
    query([
      ['user', withCredentials ? p.user : undefined],
      ['password', withCredentials ? p.password : undefined],
      // The Redshift driver only reads sslmode once ssl=true.
      ['ssl', driver === JdbcDriver.Redshift ? 'true' : undefined],
      ['sslmode', p.sslMode],
      ['sslrootcert', p.sslRootCert],
    ])
  );
}

/** An ODBC attribute value in braces, `}` doubled (the form psqlODBC de-braces for Pwd and pqopt). */
export function odbcBrace(value: string): string {
  return `{${value.replaceAll('}', '}}')}}`;
}

/**
 * A psqlODBC `Pwd`/`pqopt` value: braced unless it is plain. psqlODBC percent-decodes an unbraced
 * Pwd (`%xx`, and `+` → space), so anything outside `[A-Za-z0-9._-]` is braced.
 */
export function odbcDecodedValue(value: string): string {
  return /^[A-Za-z0-9._-]*$/.test(value) ? value : odbcBrace(value);
}

/**
 * A psqlODBC value it copies literally (Uid, Server, Database, Port): braces would become part of
 * the value, so such values are written raw, and the ones that cannot be are refused.
 */
export function odbcLiteralValue(name: string, value: string): string {
  if (value.includes(';') || value.startsWith('{') || value !== value.trim() || value.includes('\0')) {
    throw new ConnStringError(`${name} "${value.slice(0, 64)}" cannot be written in a psqlODBC connection string (it copies ${name} literally: no ';', no leading '{', no leading or trailing spaces)`);
  }
  return value;
}

/** A libpq keyword/value value: single-quoted, with `\` and `'` backslash-escaped. */
export function libpqQuote(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/** A psqlODBC (unixODBC / Windows) connection string for SQLDriverConnect. */
export function odbcConnectionString(p: ConnectionParams, opts: { driver?: string } = {}): string {
  const driver = opts.driver ?? psqlOdbcDriverName;
  const parts = [
    `Driver=${odbcBrace(driver)}`,
    `Server=${odbcLiteralValue('Server', p.host)}`,
    `Port=${p.port}`,
    `Database=${odbcLiteralValue('Database', p.dbName)}`,
    `Uid=${odbcLiteralValue('Uid', p.user)}`,
  ];
  if (p.password !== undefined) parts.push(`Pwd=${odbcDecodedValue(p.password)}`);
  parts.push(`SSLmode=${p.sslMode}`);
  // psqlODBC has no sslrootcert keyword; pqopt passes libpq options through.
  if (p.sslRootCert !== undefined) parts.push(`pqopt=${odbcBrace(`sslrootcert=${libpqQuote(p.sslRootCert)}`)}`);
  return parts.join(';');
}

/** A libpq `postgresql://` URI; every component is percent-encoded (libpq decodes `%xx` only). */
export function libpqUri(p: ConnectionParams): string {
  const auth = percentEncode(p.user) + (p.password === undefined ? '' : `:${percentEncode(p.password)}`);
  return `postgresql://${auth}@${uriHost(p.host)}:${p.port}/${percentEncode(p.dbName)}` + query([['sslmode', p.sslMode], ['sslrootcert', p.sslRootCert]]);
}

/** A libpq keyword/value connection string (`psql "host=… password='…'"`). */
export function libpqKeywordValue(p: ConnectionParams): string {
  const pairs: Array<[string, string | undefined]> = [
    ['host', p.host],
    ['port', String(p.port)],
    ['dbname', p.dbName],
    ['user', p.user],
    ['password', p.password],
    ['sslmode', p.sslMode],
    ['sslrootcert', p.sslRootCert],
  ];
  return pairs
    .filter((kv): kv is [string, string] => kv[1] !== undefined)
    .map(([k, v]) => `${k}=${libpqQuote(v)}`)
    .join(' ');
}

/**
 * A DBeaver `data-sources.json` fragment for its PostgreSQL driver. The URL carries the sslmode, so
 * no SSL handler is needed; the password (when present) is a plain `configuration.password`.
 */
export function dbeaverProfile(p: ConnectionParams, opts: { id?: string; name?: string } = {}): string {
  const id = opts.id ?? `rsproxy-${p.dbName}`;
  // DBeaver passes its own user/password fields to the driver; the URL carries only the TLS settings.
  const url = jdbcUrlOf(p, JdbcDriver.Postgresql, false);
  const profile = {
    connections: {
      [id]: {
        provider: 'postgresql',
        driver: 'postgres-jdbc',
        name: opts.name ?? `${p.dbName} via rsproxy`,
        'save-password': false,
        configuration: {
          host: p.host,
          port: String(p.port),
          database: p.dbName,
          url,
          'configuration-type': 'URL',
          type: 'prod',
          'auth-model': 'native',
          user: p.user,
          ...(p.password !== undefined ? { password: p.password } : {}),
        },
      },
    },
  };
  return JSON.stringify(profile, null, 2);
}

/** A POSIX shell single-quoted word (`'` → `'\''`). */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}

/** `export PGHOST='…'` lines for `eval "$(rsproxy credentials --format env …)"`. */
export function envExports(p: ConnectionParams): string {
  const vars: Array<[string, string | undefined]> = [
    ['PGHOST', p.host],
    ['PGPORT', String(p.port)],
    ['PGDATABASE', p.dbName],
    ['PGUSER', p.user],
    ['PGPASSWORD', p.password],
    ['PGSSLMODE', p.sslMode],
    ['PGSSLROOTCERT', p.sslRootCert],
  ];
  return vars
    .filter((kv): kv is [string, string] => kv[1] !== undefined)
    .map(([k, v]) => `export ${k}=${shellQuote(v)}\n`)
    .join('');
}

/** Temporary database credentials plus where to use them (the `json` output). */
export interface CredentialsOutput {
  dbUser: string;
  dbPassword: string;
  expiresAtMs: number;
  host: string;
  port: number;
  dbName: string;
}

/** The `--format json` output: the AWS CLI's keys (`DbUser`, `DbPassword`, `Expiration`) plus `Host`, `Port`, `DbName`. */
export function credentialsJson(c: CredentialsOutput): string {
  const out = {
    DbUser: c.dbUser,
    DbPassword: c.dbPassword,
    Expiration: new Date(c.expiresAtMs).toISOString().replace(/\.\d{3}Z$/, '+00:00'),
    Host: c.host,
    Port: c.port,
    DbName: c.dbName,
  };
  return `${JSON.stringify(out, null, 4)}\n`;
}

/** Warnings (for stderr) about clients that cannot take a password this long in this format. */
export function lengthWarnings(password: string | undefined, format: string): string[] {
  if (password === undefined) return [];
  const out: string[] = [];
  if (format === 'odbc' && password.length > redshiftOdbcMaxPwdChars) {
    out.push(
      `the password is ${password.length} characters; the Amazon Redshift ODBC driver truncates PWD to ${redshiftOdbcMaxPwdChars} in a connection string (psqlODBC has no such limit; in Tableau use the PostgreSQL connector)`,
    );
  }
  return out;
}
