/** `rsproxy tunnel --host H …`: a loopback listener that logs every local connection in to the proxy at H with a token (docs/design/surface.md §8). */
import { accessSync, constants as fsConstants } from 'node:fs';
import { AwsCredentialsError } from '../../auth/errors.js';
import { audiencePattern } from '../../auth/token-mint.js';
import type { Logger } from '../../auth/types.js';
import { jdbcUrl, libpqKeywordValue, odbcConnectionString } from './conn-strings.js';
import type { ConnectionParams } from './conn-strings.js';
import { parseLoopbackListen } from '../tunnel/tunnel-listener.js';
import { startTunnel, TunnelListenError } from '../tunnel/run-tunnel.js';
import type { TunnelListenAddress } from '../tunnel/tunnel-listener.js';
import type { TunnelRemote } from '../tunnel/tunnel-startup.js';
import { RuntimeError, UsageError } from '../errors/exit-codes.js';
import { audienceOf, portOf, regionOf } from './client-options.js';
import { specOf } from './command-specs.js';
import { isSet, numberValue, parseCommand, stringValue, type ParsedArgs } from './options.js';
import { createTokenReuseCache, defaultTokenReuseSeconds } from '../tunnel/token-reuse.js';
import { nextShutdownSignal } from './signals.js';

const defaultListen = '127.0.0.1:5439';

/** A Logger that writes one plain line per info/warn/error record to stderr (`rsproxy tunnel: [conn 3] …`); debug is dropped. */
export function lineLogger(write: (line: string) => void, bindings: Record<string, unknown> = {}): Logger {
  const line = (obj: object, msg?: string): void => {
    const conn = (bindings as { connectionId?: unknown }).connectionId ?? (obj as { connectionId?: unknown }).connectionId;
    write(`rsproxy tunnel: ${conn === undefined ? '' : `[conn ${String(conn)}] `}${msg ?? ''}\n`);
  };
  return { debug() {}, info: line, warn: line, error: line, child: (b) => lineLogger(write, { ...bindings, ...b }) };
}

function remoteOf(args: ParsedArgs): TunnelRemote {
  // The table requires --host and allows only the sslmodes that verify or at least encrypt.
  const host = stringValue(args, 'host') ?? '';
  const mode = stringValue(args, 'sslmode') ?? 'verify-full';
  const caFile = stringValue(args, 'sslrootcert');
  if (caFile !== undefined) {
    try {
      accessSync(caFile, fsConstants.R_OK);
    } catch (err) {
      throw new UsageError(`--sslrootcert: cannot read ${caFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return { host, port: portOf(args), tlsMode: mode as TunnelRemote['tlsMode'], ...(caFile === undefined ? {} : { caFile }) };
}

function listenOf(args: ParsedArgs): TunnelListenAddress {
  let tcp: { host: string; port: number };
  try {
    tcp = parseLoopbackListen(stringValue(args, 'listen') ?? defaultListen);
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const dir = stringValue(args, 'unix-socket');
  if (dir === undefined) return { kind: 'tcp', ...tcp };
  if (tcp.port === 0) throw new UsageError('--unix-socket needs a --listen port other than 0 (it names the socket file .s.PGSQL.<port>)');
  return { kind: 'unix', dir, port: tcp.port };
}

/** The ready-to-paste lines (no password): listen line, psql, pgjdbc and psqlODBC. */
export function tunnelLines(listen: TunnelListenAddress, address: string, port: number, remote: TunnelRemote, who: { user?: string; dbName?: string }, isLocalTls: boolean): string[] {
  const params: ConnectionParams = {
    host: listen.kind === 'unix' ? listen.dir : listen.host,
    port,
    dbName: who.dbName ?? '<dbname>',
    user: who.user ?? '<user>',
    sslMode: isLocalTls ? 'require' : 'disable',
  };
  const lines = [`listening on ${address} -> ${remote.host}:${remote.port}`, `psql:  psql "${libpqKeywordValue(params)}"`];
  if (listen.kind === 'tcp') lines.push(`jdbc:  ${jdbcUrl(params)}`);
  else lines.push('jdbc:  (pgjdbc cannot use a Unix socket; run a second tunnel with --listen for it)');
  lines.push(`odbc:  ${odbcConnectionString(params)}`);
  return lines;
}

/** Runs the tunnel until SIGINT/SIGTERM (exit 0); 1 on usage errors, 2 when the AWS credentials are unusable at start. */
export async function run(argv: string[]): Promise<number> {
  // From the start: a signal during start-up also ends in a clean exit 0, not the default 143.
  const signalled = nextShutdownSignal();
  const args = parseCommand(specOf('tunnel'), argv);
  const remote = remoteOf(args);
  const listen = listenOf(args);
  const audience = audienceOf(args);
  if (!audiencePattern.test(audience)) throw new UsageError(`--audience: must match ${audiencePattern.source} (got "${audience.slice(0, 40)}")`);
  const region = regionOf(args);
  const reuseSeconds = numberValue(args, 'token-reuse-seconds') ?? defaultTokenReuseSeconds;
  const user = stringValue(args, 'user');
  const dbName = stringValue(args, 'dbname');
  const profile = stringValue(args, 'profile');
  const isLocalTls = isSet(args, 'local-tls');

  let localTls: { certPem: string; keyPem: string } | undefined;
  if (isLocalTls) {
    const { generateCa, generateServerCert } = await import('./dev-certs.js');
    const ca = await generateCa('rsproxy tunnel local CA');
    localTls = await generateServerCert(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] });
  }

  const logger = lineLogger((line) => void process.stderr.write(line));
  let listener;
  try {
    listener = await startTunnel({
      listen,
      remote,
      overrides: { ...(user === undefined ? {} : { user }), ...(dbName === undefined ? {} : { database: dbName }) },
      signing: { audience, region, reuseSeconds, ...(profile === undefined ? {} : { profile }) },
      logger,
      ...(localTls === undefined ? {} : { localTls }),
    });
  } catch (err) {
    if (err instanceof AwsCredentialsError) throw new RuntimeError(`${err.message}; ${err.fix}`, { cause: err });
    if (err instanceof TunnelListenError) throw new RuntimeError(err.message, { cause: err });
    throw err;
  }
  process.stdout.write(`${tunnelLines(listen, listener.address, listener.port, remote, { ...(user === undefined ? {} : { user }), ...(dbName === undefined ? {} : { dbName }) }, isLocalTls).join('\n')}\n`);
  const sig = await signalled;
  logger.info({}, `${sig}: closing ${listener.sessionCount} connection(s) and exiting`);
  await listener.close();
  return 0;
}
