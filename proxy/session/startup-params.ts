/** The startup-parameter allow-list of docs/design/wire-protocol.md §9 and the negotiation rules of §5. */
import { noUser, unsupported } from '../errors/proxy-error.js';

/** Forwarded verbatim to every upstream (compared case-insensitively). */
export const forwardedParameters: ReadonlySet<string> = new Set([
  'application_name',
  'client_encoding',
  'datestyle',
  'timezone',
  'extra_float_digits',
  'search_path',
]);

/** Forwarded only when the target engine is `redshift`; PostgreSQL rejects them with 42704. */
export const redshiftOnlyParameters: ReadonlySet<string> = new Set([
  'client_protocol_version',
  'driver_version',
  'os_version',
  'plugin_name',
  'driver_discovery_version',
]);

const replicationOff: ReadonlySet<string> = new Set(['false', 'off', 'no', '0']);
const protocolExtensionPrefix = '_pq_.';
const compressionKey = '_pq_.compression';

/** True for a `_pq_.*` protocol extension parameter; neither the proxy nor the tunnel supports any. */
export function isProtocolExtension(key: string): boolean {
  return key.startsWith(protocolExtensionPrefix);
}

/**
 * Whether NegotiateProtocolVersion goes to the client before authentication: for a 3.x minor above 0, or any
 * `_pq_.*` option but a lone `_pq_.compression`, which is stripped silently because Redshift JDBC cannot handle 'v'.
 */
export function shouldNegotiateProtocol(minorVersion: number, protocolOptions: readonly string[]): boolean {
  return minorVersion > 0 || protocolOptions.some((key) => key !== compressionKey);
}

/** The client's startup parameters after validation, split by what happens to them. */
export interface StartupParams {
  user: string;
  /** `database`, defaulting to `user`. */
  database: string;
  /** Send NegotiateProtocolVersion before `R 3`. */
  shouldNegotiate: boolean;
  /** `_pq_.*` names to list in NegotiateProtocolVersion (all that were sent). */
  unsupportedProtocolOptions: string[];
  /** Forwarded to every upstream, in client order. */
  forwarded: Array<readonly [string, string]>;
  /** Forwarded only to a `redshift` upstream, in client order. */
  redshiftOnly: Array<readonly [string, string]>;
  /** Names not forwarded (log at debug; never values). */
  dropped: string[];
}

/** True when every item of `options` is `-c name=value` or `--name=value` with an allowed name. */
export function isCleanOptions(options: string): boolean {
  if (options.includes('\\')) return false;
  const words = options.split(/[ \t\n\r\f\v]+/).filter((w) => w.length > 0);
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    let setting: string;
    if (word === '-c') {
      const next = words[++i];
      if (next === undefined) return false;
      setting = next;
    } else if (word.startsWith('--')) {
      setting = word.slice(2);
    } else {
      return false;
    }
    const eq = setting.indexOf('=');
    if (eq <= 0) return false;
    const name = setting.slice(0, eq).replace(/-/g, '_').toLowerCase();
    if (!forwardedParameters.has(name)) return false;
  }
  return true;
}

/** Validates and classifies a 3.x StartupMessage's parameters. Throws ProxyError (28000 / 0A000). */
export function classifyStartupParameters(minorVersion: number, parameters: ReadonlyArray<readonly [string, string]>): StartupParams {
  let user = '';
  let database: string | undefined;
  const unsupportedProtocolOptions: string[] = [];
  const forwarded: Array<readonly [string, string]> = [];
  const redshiftOnly: Array<readonly [string, string]> = [];
  const dropped: string[] = [];

  for (const pair of parameters) {
    const [key, value] = pair;
    const folded = key.toLowerCase();
    if (folded === 'user') user = value;
    else if (folded === 'database') database = value;
    else if (folded === 'replication') {
      if (!replicationOff.has(value.toLowerCase())) throw unsupported('replication', 'replication connections are not supported');
    } else if (isProtocolExtension(key)) {
      unsupportedProtocolOptions.push(key);
      dropped.push(key);
    } else if (folded === 'options') {
      if (!isCleanOptions(value)) throw unsupported('options', 'the startup parameter "options" may only set allowed parameters');
      forwarded.push(pair);
    } else if (forwardedParameters.has(folded)) forwarded.push(pair);
    else if (redshiftOnlyParameters.has(folded)) redshiftOnly.push(pair);
    else dropped.push(key);
  }
  if (user === '') throw noUser();
  return {
    user,
    database: database === undefined || database === '' ? user : database,
    shouldNegotiate: shouldNegotiateProtocol(minorVersion, unsupportedProtocolOptions),
    unsupportedProtocolOptions,
    forwarded,
    redshiftOnly,
    dropped,
  };
}

/** The parameters to send upstream for `engine` (never `user`, `database` or `_pq_.*`). */
export function upstreamParameters(params: StartupParams, engine: 'redshift' | 'postgres'): Array<readonly [string, string]> {
  return engine === 'redshift' ? [...params.forwarded, ...params.redshiftOnly] : [...params.forwarded];
}
