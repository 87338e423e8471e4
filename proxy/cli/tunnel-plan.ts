/**
 * One tunnel's settings, from the flags or from one entry of `tunnel --config` (docs/design/surface.md §8, §13), checked
 * into a plan before anything listens. Errors name the field as the user wrote it (`--listen`, `tunnels[1].listen`).
 */
import { accessSync, constants as fsConstants } from 'node:fs';
import { audiencePattern } from '../../auth/token-mint.js';
import { UsageError } from '../errors/exit-codes.js';
import { parseLoopbackListen } from '../tunnel/tunnel-listener.js';
import type { TunnelListenAddress } from '../tunnel/tunnel-listener.js';
import type { TunnelRemote } from '../tunnel/tunnel-startup.js';
import { defaultTokenReuseSeconds } from '../tunnel/token-reuse.js';
import { defaultPort, tunnelSslModes } from './client-specs.js';

/** The settings of one tunnel by their config-file names; the flags map onto them (`--unix-socket` → unixSocket). */
export interface TunnelSettings {
  host: string;
  port?: number | undefined;
  listen?: string | undefined;
  unixSocket?: string | undefined;
  user?: string | undefined;
  dbname?: string | undefined;
  profile?: string | undefined;
  region?: string | undefined;
  audience?: string | undefined;
  sslmode?: (typeof tunnelSslModes)[number] | undefined;
  sslrootcert?: string | undefined;
  tokenReuseSeconds?: number | undefined;
  localTls?: boolean | undefined;
}

/** A checked tunnel: what startTunnel and the printed lines need. */
export interface TunnelPlan {
  listen: TunnelListenAddress;
  remote: TunnelRemote;
  audience: string;
  region: string;
  reuseSeconds: number;
  user?: string;
  dbName?: string;
  profile?: string;
  isLocalTls: boolean;
}

/** How a field is named in messages: a flag (`--unix-socket`) or a config path (`tunnels[0].unixSocket`). */
export type FieldName = (field: keyof TunnelSettings) => string;

/** The default `--listen`. */
export const defaultTunnelListen = '127.0.0.1:5439';

/** An AWS region name (eu-west-1, us-gov-west-1). */
const regionPattern = /^[a-z]{2}(-[a-z]+)+-\d$/;

function listenOf(s: TunnelSettings, name: FieldName): TunnelListenAddress {
  let tcp: { host: string; port: number };
  try {
    tcp = parseLoopbackListen(s.listen ?? defaultTunnelListen);
  } catch (err) {
    throw new UsageError((err instanceof Error ? err.message : String(err)).replace(/^--listen/, name('listen')));
  }
  if (s.unixSocket === undefined) return { kind: 'tcp', ...tcp };
  if (tcp.port === 0) throw new UsageError(`${name('unixSocket')} needs a ${name('listen')} port other than 0 (it names the socket file .s.PGSQL.<port>)`);
  return { kind: 'unix', dir: s.unixSocket, port: tcp.port };
}

function remoteOf(s: TunnelSettings, name: FieldName): TunnelRemote {
  const caFile = s.sslrootcert;
  if (caFile !== undefined) {
    try {
      accessSync(caFile, fsConstants.R_OK);
    } catch (err) {
      throw new UsageError(`${name('sslrootcert')}: cannot read ${caFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return { host: s.host, port: s.port ?? defaultPort, tlsMode: s.sslmode ?? 'verify-full', ...(caFile === undefined ? {} : { caFile }) };
}

/** Checks one tunnel's settings (region and audience fall back to AWS_REGION / RSPROXY_AUDIENCE as the flags do); UsageError naming the field. */
export function planOf(s: TunnelSettings, name: FieldName, env: NodeJS.ProcessEnv = process.env): TunnelPlan {
  if (s.host === '') throw new UsageError(`${name('host')} is required`);
  const remote = remoteOf(s, name);
  const listen = listenOf(s, name);
  const audience = s.audience ?? env['RSPROXY_AUDIENCE'] ?? '';
  if (audience === '') throw new UsageError(`${name('audience')} is required (or set RSPROXY_AUDIENCE): the proxy's identity.audience`);
  if (!audiencePattern.test(audience)) throw new UsageError(`${name('audience')}: must match ${audiencePattern.source} (got "${audience.slice(0, 40)}")`);
  const region = s.region ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'] ?? '';
  if (region === '') throw new UsageError(`${name('region')} is required when AWS_REGION is not set`);
  if (!regionPattern.test(region)) throw new UsageError(`${name('region')}: not an AWS region name (got "${region.slice(0, 40)}")`);
  return {
    listen,
    remote,
    audience,
    region,
    reuseSeconds: s.tokenReuseSeconds ?? defaultTokenReuseSeconds,
    ...(s.user === undefined ? {} : { user: s.user }),
    ...(s.dbname === undefined ? {} : { dbName: s.dbname }),
    ...(s.profile === undefined ? {} : { profile: s.profile }),
    isLocalTls: s.localTls === true,
  };
}

/** Where a plan listens, to find two entries that would take the same address (port 0 never collides). */
export function listenKey(plan: TunnelPlan): string | undefined {
  const l = plan.listen;
  if (l.kind === 'unix') return `unix:${l.dir}/${l.port}`;
  return l.port === 0 ? undefined : `tcp:${l.host}:${l.port}`;
}
