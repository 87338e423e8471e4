/** `rsproxy url --format jdbc|odbc|libpq|dbeaver --host H --dbname D …`: print a connection string for one client, with a fresh token. */
import { dbeaverProfile, jdbcUrl, JdbcDriver, lengthWarnings, libpqUri, odbcConnectionString, type ConnectionParams } from './conn-strings.js';
import { UsageError } from '../errors/exit-codes.js';
import { connectionParamsOf, mintUserToken } from './client-options.js';
import { specOf } from './command-specs.js';
import { isSet, parseCommand, stringValue } from './options.js';

/** Output formats of `rsproxy url`. */
export const UrlFormat = { Jdbc: 'jdbc', Odbc: 'odbc', Libpq: 'libpq', Dbeaver: 'dbeaver' } as const;
export type UrlFormat = (typeof UrlFormat)[keyof typeof UrlFormat];

/** The connection string for `format` (pure; `url` and `credentials` share it). */
export function formatConnection(format: UrlFormat, p: ConnectionParams, driver: JdbcDriver = JdbcDriver.Postgresql): string {
  switch (format) {
    case UrlFormat.Jdbc:
      return jdbcUrl(p, driver);
    case UrlFormat.Odbc:
      return odbcConnectionString(p);
    case UrlFormat.Libpq:
      return libpqUri(p);
    case UrlFormat.Dbeaver:
      return dbeaverProfile(p);
  }
}

/** `--driver` for JDBC output: postgresql (pgjdbc, default) or redshift (the table already maps pgjdbc and rejects others). */
export function jdbcDriverOf(value: string | undefined): JdbcDriver {
  if (value === undefined || value === 'postgresql' || value === 'pgjdbc') return JdbcDriver.Postgresql;
  if (value === 'redshift') return JdbcDriver.Redshift;
  throw new UsageError(`--driver: must be postgresql or redshift (got "${value.slice(0, 20)}")`);
}

/** Runs `rsproxy url`; prints the connection string on stdout and length warnings on stderr. */
export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(specOf('url'), argv);
  const format = stringValue(args, 'format') ?? '';
  const driver = jdbcDriverOf(stringValue(args, 'driver'));
  if (driver !== JdbcDriver.Postgresql && format !== UrlFormat.Jdbc) throw new UsageError('--driver applies to --format jdbc only');
  const target = connectionParamsOf(args);
  const password = isSet(args, 'no-token') ? undefined : await mintUserToken(args);
  const params: ConnectionParams = password === undefined ? target : { ...target, password };
  const out = formatConnection(format as UrlFormat, params, driver);
  for (const w of lengthWarnings(password, format)) process.stderr.write(`rsproxy url: warning: ${w}\n`);
  process.stdout.write(`${out}\n`);
  return 0;
}
