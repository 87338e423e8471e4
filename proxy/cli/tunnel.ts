/**
 * `rsproxy tunnel --host H …` or `--config FILE`: loopback listeners that log every local connection in to the proxy with
 * a token (docs/design/surface.md §8), several from one file, with `--admin` sidecar control (§13).
 */
import { AwsCredentialsError } from '../../auth/errors.js';
import type { Logger } from '../../auth/types.js';
import { startTunnelAdminServer } from '../admin/tunnel-admin.js';
import type { TunnelAdminServer } from '../admin/tunnel-admin.js';
import { jdbcUrl, libpqKeywordValue, odbcConnectionString } from './conn-strings.js';
import type { ConnectionParams } from './conn-strings.js';
import { parseLoopbackListen } from '../tunnel/tunnel-listener.js';
import { startTunnel, TunnelListenError } from '../tunnel/run-tunnel.js';
import type { TunnelHandle } from '../tunnel/run-tunnel.js';
import type { TunnelListenAddress } from '../tunnel/tunnel-listener.js';
import type { TunnelRemote } from '../tunnel/tunnel-startup.js';
import { RuntimeError, UsageError } from '../errors/exit-codes.js';
import { specOf } from './command-specs.js';
import { isSet, numberValue, parseCommand, stringValue, type ParsedArgs } from './options.js';
import { nextShutdownSignal } from './signals.js';
import { loadTunnelConfig } from './tunnel-config.js';
import { planOf } from './tunnel-plan.js';
import type { TunnelPlan, TunnelSettings } from './tunnel-plan.js';

/** A Logger that writes one plain line per info/warn/error record to stderr (`rsproxy tunnel: [tunnel 1] [conn 3] …`); debug is dropped. */
export function lineLogger(write: (line: string) => void, bindings: Record<string, unknown> = {}): Logger {
  const line = (obj: object, msg?: string): void => {
    const conn = (bindings as { connectionId?: unknown }).connectionId ?? (obj as { connectionId?: unknown }).connectionId;
    const tunnel = (bindings as { tunnel?: unknown }).tunnel;
    const prefix = `${tunnel === undefined ? '' : `[tunnel ${String(tunnel)}] `}${conn === undefined ? '' : `[conn ${String(conn)}] `}`;
    write(`rsproxy tunnel: ${prefix}${msg ?? ''}\n`);
  };
  return { debug() {}, info: line, warn: line, error: line, child: (b) => lineLogger(write, { ...bindings, ...b }) };
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

/** The flags as the settings a config entry also has. */
function settingsOfFlags(args: ParsedArgs): TunnelSettings {
  const host = stringValue(args, 'host');
  if (host === undefined) throw new UsageError('--host is required, or --config FILE (see `rsproxy tunnel --help`)');
  return {
    host,
    port: numberValue(args, 'port'),
    listen: stringValue(args, 'listen'),
    unixSocket: stringValue(args, 'unix-socket'),
    user: stringValue(args, 'user'),
    dbname: stringValue(args, 'dbname'),
    profile: stringValue(args, 'profile'),
    region: stringValue(args, 'region'),
    audience: stringValue(args, 'audience'),
    sslmode: stringValue(args, 'sslmode') as TunnelSettings['sslmode'],
    sslrootcert: stringValue(args, 'sslrootcert'),
    tokenReuseSeconds: numberValue(args, 'token-reuse-seconds'),
    localTls: isSet(args, 'local-tls'),
  };
}

const flagOf = (field: keyof TunnelSettings): string => `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** The tunnels to run: one from the flags, or every entry of --config (which takes no other tunnel flag beside --admin). */
function plansOf(args: ParsedArgs, argv: readonly string[]): TunnelPlan[] {
  const configFile = stringValue(args, 'config');
  if (configFile === undefined) return [planOf(settingsOfFlags(args), flagOf)];
  const others = argv.filter((a) => a.startsWith('-') && a !== '--').map((a) => a.replace(/=.*$/s, '')).filter((a) => a !== '--config' && a !== '--admin');
  if (others.length > 0) throw new UsageError(`${others[0] ?? ''} cannot be given with --config: set it in the file's entries`);
  return loadTunnelConfig(configFile);
}

function adminListenOf(args: ParsedArgs): { host: string; port: number } | undefined {
  const text = stringValue(args, 'admin');
  if (text === undefined) return undefined;
  try {
    return parseLoopbackListen(text);
  } catch (err) {
    throw new UsageError((err instanceof Error ? err.message : String(err)).replace(/^--listen/, '--admin'));
  }
}

function startFailure(err: unknown): unknown {
  if (err instanceof AwsCredentialsError) return new RuntimeError(`${err.message}; ${err.fix}`, { cause: err });
  if (err instanceof TunnelListenError) return new RuntimeError(err.message, { cause: err });
  return err;
}

async function startAll(plans: readonly TunnelPlan[], logger: Logger, into: TunnelHandle[]): Promise<void> {
  let localTls: { certPem: string; keyPem: string } | undefined;
  if (plans.some((p) => p.isLocalTls)) {
    const { generateCa, generateServerCert } = await import('./dev-certs.js');
    const ca = await generateCa('rsproxy tunnel local CA');
    localTls = await generateServerCert(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] });
  }
  for (const [i, plan] of plans.entries()) {
    const { user, dbName, profile } = plan;
    into.push(
      await startTunnel({
        listen: plan.listen,
        remote: plan.remote,
        overrides: { ...(user === undefined ? {} : { user }), ...(dbName === undefined ? {} : { database: dbName }) },
        signing: { audience: plan.audience, region: plan.region, reuseSeconds: plan.reuseSeconds, ...(profile === undefined ? {} : { profile }) },
        // One tunnel from the flags keeps the plain lines; a file's tunnels say which entry each line is about.
        logger: plans.length === 1 && i === 0 ? logger : logger.child({ tunnel: i }),
        ...(plan.isLocalTls && localTls !== undefined ? { localTls } : {}),
      }),
    );
  }
}

/** Runs the tunnel(s) until SIGINT/SIGTERM or POST /quitquitquit (exit 0); 1 on usage errors, 2 when the AWS credentials are unusable at start or a listener cannot start. */
export async function run(argv: string[]): Promise<number> {
  // From the start: a signal during start-up also ends in a clean exit 0, not the default 143.
  const signalled = nextShutdownSignal();
  const args = parseCommand(specOf('tunnel'), argv);
  // Every tunnel is checked before anything listens.
  const plans = plansOf(args, argv);
  const adminAt = adminListenOf(args);
  const logger = lineLogger((line) => void process.stderr.write(line));

  const handles: TunnelHandle[] = [];
  let isUp = false;
  let quit = (): void => {};
  const quitRequested = new Promise<string>((resolve) => (quit = () => resolve('POST /quitquitquit')));
  let admin: TunnelAdminServer | undefined;
  const closeAll = async (): Promise<void> => {
    await Promise.all(handles.map((h) => h.close()));
    await admin?.close();
  };
  try {
    if (adminAt !== undefined) {
      admin = await startTunnelAdminServer({
        ...adminAt,
        logger,
        tunnel: {
          notReadyReason: async () => {
            if (!isUp) return handles.length === 0 ? 'the listeners are not up yet' : 'closing';
            // Each check resolves the credentials again; expiring ones (SSO, roles) come from the source's cache.
            for (const h of handles) await h.checkCredentials();
            return undefined;
          },
          quit: () => quit(),
        },
      }).catch((err: unknown) => {
        throw new RuntimeError(`--admin: cannot listen on ${adminAt.host}:${adminAt.port}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      });
    }
    await startAll(plans, logger, handles);
  } catch (err) {
    await closeAll();
    throw startFailure(err);
  }
  isUp = true;
  const lines = handles.flatMap((h, i) => {
    const p = plans[i]!;
    return tunnelLines(h.listen, h.address, h.port, h.remote, { ...(p.user === undefined ? {} : { user: p.user }), ...(p.dbName === undefined ? {} : { dbName: p.dbName }) }, p.isLocalTls);
  });
  if (admin !== undefined) lines.push(`admin: http://${admin.address.host.includes(':') ? `[${admin.address.host}]` : admin.address.host}:${admin.address.port} (/livez, /readyz, POST /quitquitquit)`);
  process.stdout.write(`${lines.join('\n')}\n`);
  const why = await Promise.race([signalled, quitRequested]);
  isUp = false;
  const sessions = handles.reduce((n, h) => n + h.sessionCount, 0);
  logger.info({}, `${why}: closing ${sessions} connection(s) and exiting`);
  await closeAll();
  return 0;
}
