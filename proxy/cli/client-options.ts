/** Flags shared by the users' utilities (`connect`, `url`, `credentials`): region, user, TLS mode, token minting. */
import { isSslMode, sslModes, type ConnectionParams, type SslMode } from './conn-strings.js';
import { stringOption, UsageError, type OptionSpec, type ParsedArgs } from './args.js';

/** Default port of Redshift and of the proxy. */
export const defaultPort = 5439;

/** Options every client-facing command accepts. */
export const tlsOptionSpecs: Readonly<Record<string, OptionSpec>> = {
  sslmode: { type: 'string' },
  sslrootcert: { type: 'string' },
};

/** Options of the commands that log in as a user through the proxy (`connect`, `url`). */
export const userConnectionOptionSpecs: Readonly<Record<string, OptionSpec>> = {
  host: { type: 'string' },
  port: { type: 'string' },
  dbname: { type: 'string' },
  user: { type: 'string' },
  audience: { type: 'string' },
  region: { type: 'string' },
  profile: { type: 'string' },
  ...tlsOptionSpecs,
};

/** `--region`, else AWS_REGION, else AWS_DEFAULT_REGION; a usage error when none is set. */
export function regionOf(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): string {
  const region = stringOption(args, 'region') ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
  if (region === undefined || region === '') throw new UsageError('--region is required when AWS_REGION is not set');
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) throw new UsageError(`--region: not an AWS region name (got "${region.slice(0, 40)}")`);
  return region;
}

/** `--port` as a TCP port (default 5439). */
export function portOf(args: ParsedArgs): number {
  const text = stringOption(args, 'port');
  if (text === undefined) return defaultPort;
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) throw new UsageError(`--port: must be an integer 1..65535 (got "${text.slice(0, 20)}")`);
  return port;
}

/** `--sslmode` (default verify-full). */
export function sslModeOf(args: ParsedArgs): SslMode {
  const mode = stringOption(args, 'sslmode') ?? 'verify-full';
  if (!isSslMode(mode)) throw new UsageError(`--sslmode: must be one of ${sslModes.join(', ')} (got "${mode.slice(0, 20)}")`);
  return mode;
}

/** `--sslrootcert` as an object to spread into ConnectionParams. */
export function sslRootCertOf(args: ParsedArgs): { sslRootCert?: string } {
  const file = stringOption(args, 'sslrootcert');
  return file === undefined ? {} : { sslRootCert: file };
}

/** `--user`, else RSPROXY_USER; a usage error when neither is set. */
export function userOf(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): string {
  const user = stringOption(args, 'user') ?? env['RSPROXY_USER'];
  if (user === undefined || user === '') throw new UsageError('--user is required (or set RSPROXY_USER): the database user your rule maps you to');
  return user;
}

/** `--audience`, else RSPROXY_AUDIENCE; a usage error when neither is set. */
export function audienceOf(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): string {
  const audience = stringOption(args, 'audience') ?? env['RSPROXY_AUDIENCE'];
  if (audience === undefined || audience === '') throw new UsageError('--audience is required (or set RSPROXY_AUDIENCE): the proxy\'s identity.audience');
  return audience;
}

/** `--host`, `--dbname`, `--user`, `--port` and the TLS flags as ConnectionParams (no password yet). */
export function connectionParamsOf(args: ParsedArgs): ConnectionParams {
  const host = stringOption(args, 'host', true);
  const dbName = stringOption(args, 'dbname', true);
  const user = userOf(args);
  const port = portOf(args);
  const sslMode = sslModeOf(args);
  return { host, port, dbName, user, sslMode, ...sslRootCertOf(args) };
}

/** An error that carries the CLI exit code (2: runtime failure). */
export class RuntimeError extends Error {
  override readonly name = 'RuntimeError';
  readonly exitCode = 2;
}

/** Mints an `rsp1` token for `--audience` in `--region` with the default AWS credential chain (or `--profile`); RuntimeError when no credentials. */
export async function mintUserToken(args: ParsedArgs): Promise<string> {
  const audience = audienceOf(args);
  const region = regionOf(args);
  const { mintTokenFromChain } = await import('../../auth/token-mint.js');
  const profile = stringOption(args, 'profile');
  try {
    return await mintTokenFromChain(profile === undefined ? { audience, region } : { audience, region, profile });
  } catch (err) {
    // The SDK's messages name the missing credential source; they never contain secrets.
    const msg = err instanceof Error ? err.message : String(err);
    throw new RuntimeError(`cannot sign a token: ${msg}`, { cause: err });
  }
}
