/** Reading the flags shared by the users' utilities (`connect`, `url`, `credentials`, `tunnel`): region, user, TLS mode, token minting. */
import { isRegion } from '../../auth/aws-names.js';
import { isSslMode, type ConnectionParams, type SslMode } from './conn-strings.js';
import { RuntimeError, UsageError } from '../errors/exit-codes.js';
import { defaultPort } from './client-specs.js';
import { numberValue, stringValue, type ParsedArgs } from './options.js';

function requiredOf(name: string): never {
  throw new UsageError(`--${name} is required`);
}

/** `--region`, else AWS_REGION, else AWS_DEFAULT_REGION; a usage error when none is set. */
export function regionOf(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): string {
  const region = stringValue(args, 'region') ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
  if (region === undefined || region === '') throw new UsageError('--region is required when AWS_REGION is not set');
  if (!isRegion(region)) throw new UsageError(`--region: not an AWS region name (got "${region.slice(0, 40)}")`);
  return region;
}

/** `--port` (the table checks the range; default 5439). */
export function portOf(args: ParsedArgs): number {
  return numberValue(args, 'port') ?? defaultPort;
}

/** `--sslmode` (the table checks the value; default verify-full). */
export function sslModeOf(args: ParsedArgs): SslMode {
  const mode = stringValue(args, 'sslmode') ?? 'verify-full';
  if (!isSslMode(mode)) throw new UsageError(`--sslmode: not a libpq sslmode (got "${mode.slice(0, 20)}")`);
  return mode;
}

/** `--sslrootcert` as an object to spread into ConnectionParams. */
export function sslRootCertOf(args: ParsedArgs): { sslRootCert?: string } {
  const file = stringValue(args, 'sslrootcert');
  return file === undefined ? {} : { sslRootCert: file };
}

/** `--user`, else RSPROXY_USER; a usage error when neither is set. */
export function userOf(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): string {
  const user = stringValue(args, 'user') ?? env['RSPROXY_USER'];
  if (user === undefined || user === '') throw new UsageError('--user is required (or set RSPROXY_USER): the database user your rule maps you to');
  return user;
}

/** `--audience`, else RSPROXY_AUDIENCE; a usage error when neither is set. */
export function audienceOf(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): string {
  const audience = stringValue(args, 'audience') ?? env['RSPROXY_AUDIENCE'];
  if (audience === undefined || audience === '') throw new UsageError('--audience is required (or set RSPROXY_AUDIENCE): the proxy\'s identity.audience');
  return audience;
}

/** `--host`, `--dbname`, `--user`, `--port` and the TLS flags as ConnectionParams (no password yet). */
export function connectionParamsOf(args: ParsedArgs): ConnectionParams {
  const host = stringValue(args, 'host') ?? requiredOf('host');
  const dbName = stringValue(args, 'dbname') ?? requiredOf('dbname');
  const user = userOf(args);
  const port = portOf(args);
  const sslMode = sslModeOf(args);
  return { host, port, dbName, user, sslMode, ...sslRootCertOf(args) };
}

/** Mints an `rsp1` token for `--audience` in `--region` with the default AWS credential chain (or `--profile`); RuntimeError when no credentials. */
export async function mintUserToken(args: ParsedArgs): Promise<string> {
  const audience = audienceOf(args);
  const region = regionOf(args);
  const { mintTokenFromChain } = await import('../../auth/token-mint.js');
  const profile = stringValue(args, 'profile');
  try {
    return await mintTokenFromChain(profile === undefined ? { audience, region } : { audience, region, profile });
  } catch (err) {
    // The SDK's messages name the missing credential source; they never contain secrets.
    const msg = err instanceof Error ? err.message : String(err);
    throw new RuntimeError(`cannot sign a token: ${msg}`, { cause: err });
  }
}
