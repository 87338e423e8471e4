/** The RSPROXY_* environment variables that are not config keys: read by the commands or set by the container image, so never "unknown". */

/** Name → who reads it. The config loader warns about any other RSPROXY_* variable that is not a config key. */
export const otherEnvVars: Readonly<Record<string, string>> = {
  RSPROXY_COMMIT: 'the commit `rsproxy version` prints; the container image sets it at build time',
  RSPROXY_AUDIENCE: 'default --audience of token minting commands (connect, url, tunnel)',
  RSPROXY_USER: 'default --user of connect and url',
  RSPROXY_PSQL: 'the psql executable `rsproxy connect` runs',
};
