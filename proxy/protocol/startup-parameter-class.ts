/**
 * The classes of startup parameters by name (docs/design/startup-parameters.md): what a proxy sets itself,
 * refuses, negotiates, drops or forwards. Pure data and rules; the session and the config both apply them.
 */
/** Keys that mean something to a Redshift driver's own IdP plugin and nothing to the server: never forwarded. */
export const driverOnlyParameters: ReadonlySet<string> = new Set(['idp_type', 'provider_name', 'token_type', 'identity_namespace', 'idc_client_display_name']);

/** Forwarded only when the target engine is `redshift`; PostgreSQL rejects them with 42704. */
export const redshiftOnlyParameters: ReadonlySet<string> = new Set([
  'client_protocol_version',
  'driver_version',
  'os_version',
  'plugin_name',
  'driver_discovery_version',
]);

const protocolExtensionPrefix = '_pq_.';
const compressionKey = '_pq_.compression';

/** The class of a startup parameter, by its name alone (the operator's drop list aside). */
export type StartupParameterClass = 'setByProxy' | 'replication' | 'negotiated' | 'driverOnly' | 'redshiftOnly' | 'forwarded';

/** True for a `_pq_.*` protocol extension parameter; neither the proxy nor the tunnel supports any. */
export function isProtocolExtension(key: string): boolean {
  return key.startsWith(protocolExtensionPrefix);
}

/** The class of `key`, compared case-insensitively as PostgreSQL compares setting names. */
export function startupParameterClass(key: string): StartupParameterClass {
  const folded = key.toLowerCase();
  if (folded === 'user' || folded === 'database') return 'setByProxy';
  if (folded === 'replication') return 'replication';
  if (isProtocolExtension(key)) return 'negotiated';
  if (driverOnlyParameters.has(folded)) return 'driverOnly';
  if (redshiftOnlyParameters.has(folded)) return 'redshiftOnly';
  return 'forwarded';
}

/**
 * Whether NegotiateProtocolVersion goes to the client before authentication: for a 3.x minor above 0, or any
 * `_pq_.*` option but a lone `_pq_.compression`, which is stripped silently because Redshift JDBC cannot handle 'v'.
 */
export function shouldNegotiateProtocol(minorVersion: number, protocolOptions: readonly string[]): boolean {
  return minorVersion > 0 || protocolOptions.some((key) => key !== compressionKey);
}
