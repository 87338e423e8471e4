/**
 * What happens to each startup parameter (docs/design/startup-parameters.md): forwarded as a direct connection
 * would send it, except a short list of classes; plus the `_pq_.*` negotiation rules.
 */
import { noUser, unsupported } from '../errors/proxy-error.js';
import { startupParameterClass, shouldNegotiateProtocol } from '../protocol/startup-parameter-class.js';

const replicationOff: ReadonlySet<string> = new Set(['false', 'off', 'no', '0']);

/** The client's startup parameters after validation, split by what happens to them. */
export interface StartupParams {
  user: string;
  /** `database`, defaulting to `user`. */
  database: string;
  /** Send NegotiateProtocolVersion before `R 3`. */
  shouldNegotiate: boolean;
  /** `_pq_.*` names to list in NegotiateProtocolVersion (all that were sent). */
  unsupportedProtocolOptions: string[];
  /** Forwarded to every upstream, in client order, `options` included. */
  forwarded: Array<readonly [string, string]>;
  /** Forwarded only to a `redshift` upstream, in client order. */
  redshiftOnly: Array<readonly [string, string]>;
  /** Names never forwarded: `_pq_.*`, driver-only keys and the operator's drop list (log at debug; never values). */
  dropped: string[];
}

/** Folds `startupParameters.drop` into the set classifyStartupParameters takes. */
export function dropSet(names: readonly string[]): ReadonlySet<string> {
  return new Set(names.map((n) => n.toLowerCase()));
}

const noDrops: ReadonlySet<string> = new Set();

/**
 * Validates and classifies a 3.x StartupMessage's parameters. `drop` holds lower-cased names from
 * `startupParameters.drop`. Throws ProxyError (28000 / 0A000).
 */
export function classifyStartupParameters(minorVersion: number, parameters: ReadonlyArray<readonly [string, string]>, drop: ReadonlySet<string> = noDrops): StartupParams {
  let user = '';
  let database: string | undefined;
  const unsupportedProtocolOptions: string[] = [];
  const forwarded: Array<readonly [string, string]> = [];
  const redshiftOnly: Array<readonly [string, string]> = [];
  const dropped: string[] = [];

  for (const pair of parameters) {
    const [key, value] = pair;
    const kind = startupParameterClass(key);
    if (kind === 'setByProxy') {
      if (key.toLowerCase() === 'user') user = value;
      else database = value;
    } else if (kind === 'replication') {
      if (!replicationOff.has(value.toLowerCase())) throw unsupported('replication', 'replication connections are not supported');
    } else if (kind === 'negotiated') {
      unsupportedProtocolOptions.push(key);
      dropped.push(key);
    } else if (kind === 'driverOnly' || drop.has(key.toLowerCase())) dropped.push(key);
    else if (kind === 'redshiftOnly') redshiftOnly.push(pair);
    else forwarded.push(pair);
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
