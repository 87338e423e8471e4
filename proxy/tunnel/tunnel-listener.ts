/** The local listener of `rsproxy tunnel` (docs/design/surface.md §8): loopback TCP or a 0600 Unix socket, one TunnelSession per connection. */
import { chmodSync, lstatSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { tunnelLimits } from '../config/limits.js';
import { OpenConnections } from '../session/open-connections.js';
import { TunnelSession } from './tunnel-session.js';
import { createTlsSessionStore, upstreamTlsOptions } from '../upstream/dial.js';
import type { TunnelSessionOptions } from './tunnel-session-options.js';

/** Where the tunnel listens: a loopback TCP address, or libpq's socket name `DIR/.s.PGSQL.<port>`. */
export type TunnelListenAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; dir: string; port: number };

const loopback = new net.BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** True for an IP literal in 127.0.0.0/8 or ::1. */
export function isLoopbackAddress(host: string): boolean {
  const family = net.isIP(host);
  return family !== 0 && loopback.check(host, family === 6 ? 'ipv6' : 'ipv4');
}

/** Parses `--listen HOST:PORT` (`[::1]:PORT` for IPv6; `localhost` means 127.0.0.1); throws Error unless it is loopback. */
export function parseLoopbackListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (m === null || !Number.isInteger(port) || port > 65535) throw new Error(`--listen must be HOST:PORT (got "${text.slice(0, 60)}")`);
  const named = m[1] ?? m[2] ?? '';
  const host = named === 'localhost' ? '127.0.0.1' : named;
  if (!isLoopbackAddress(host)) {
    throw new Error(
      `--listen must be a loopback address (127.0.0.0/8 or ::1), got "${text.slice(0, 60)}": anyone who can reach the tunnel logs in as you`,
    );
  }
  return { host, port };
}

/** libpq's Unix socket file name for a port. */
export function unixSocketPath(dir: string, port: number): string {
  return join(dir, `.s.PGSQL.${port}`);
}

/** Options of startTunnelListener: the session options shared by every connection, and where to listen. */
export interface TunnelListenerOptions extends Omit<TunnelSessionOptions, 'socket' | 'connectionId' | 'onClose' | 'localTls'> {
  listen: TunnelListenAddress;
  /** `--local-tls`: the certificate and key served to local clients. */
  localTls?: { certPem: string; keyPem: string };
  /** How long close() lets sessions say goodbye before destroying them (default 3,000 ms). */
  closeGraceMs?: number;
}

/** A running tunnel listener. */
export interface TunnelListener {
  /** `127.0.0.1:5439`, `[::1]:5439` or the socket path. */
  readonly address: string;
  /** The TCP port bound (the real one when 0 was asked), or the socket's port number. */
  readonly port: number;
  /** Live local connections. */
  readonly sessionCount: number;
  /** Stops listening, ends every session (57P01 where the stream allows), waits for them (bounded). */
  close(): Promise<void>;
}

/** Removes a socket file left by a tunnel that died; refuses when something still listens on it. */
async function removeStaleSocket(path: string): Promise<void> {
  try {
    if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const isLive = await new Promise<boolean>((resolve) => {
    const probe = net.connect({ path }, () => {
      probe.destroy();
      resolve(true);
    });
    probe.on('error', () => resolve(false));
  });
  if (isLive) throw new Error(`another process is listening on ${path}`);
  rmSync(path, { force: true });
}

/** Starts listening; rejects when the address is taken. */
export async function startTunnelListener(opts: TunnelListenerOptions): Promise<TunnelListener> {
  const { listen, localTls, closeGraceMs = tunnelLimits.closeGraceMs, ...shared } = opts;
  const secureContext = localTls === undefined ? undefined : tls.createSecureContext({ cert: localTls.certPem, key: localTls.keyPem, minVersion: 'TLSv1.2' });
  const sessions = new OpenConnections<TunnelSession>();
  // Every connection dials the same proxy: resuming its TLS session skips the certificate exchange and signature.
  const tlsSessions = createTlsSessionStore();
  // Read --sslrootcert and build the TLS context once, at start (a bad file fails here, not per connection).
  const remoteTlsOptions = await upstreamTlsOptions(shared.remote);
  // Without --sslrootcert there is no cached context: build the public-roots one once, not per connection.
  remoteTlsOptions.secureContext ??= tls.createSecureContext({ minVersion: 'TLSv1.2' });
  let nextId = 1;
  const server = net.createServer((socket) => {
    const session: TunnelSession = new TunnelSession({
      tlsSessions,
      remoteTlsOptions,
      ...shared,
      ...(secureContext === undefined ? {} : { localTls: secureContext }),
      socket,
      connectionId: String(nextId++),
      onClose: () => sessions.delete(session),
    });
    sessions.add(session);
    session.start();
  });

  const socketPath = listen.kind === 'unix' ? unixSocketPath(listen.dir, listen.port) : undefined;
  if (socketPath !== undefined) await removeStaleSocket(socketPath);
  // The socket file is created with the umask applied: no moment where others may connect.
  const savedUmask = socketPath === undefined ? undefined : process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const onListening = (): void => {
        server.removeListener('error', reject);
        resolve();
      };
      if (socketPath !== undefined) server.listen({ path: socketPath }, onListening);
      else if (listen.kind === 'tcp') server.listen({ host: listen.host, port: listen.port }, onListening);
    });
  } finally {
    if (savedUmask !== undefined) process.umask(savedUmask);
  }
  if (socketPath !== undefined) chmodSync(socketPath, 0o600);
  server.on('error', () => {});

  const bound = server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : listen.port;
  const address = socketPath ?? (listen.kind === 'tcp' && listen.host.includes(':') ? `[${listen.host}]:${port}` : `${listen.kind === 'tcp' ? listen.host : ''}:${port}`);

  return {
    address,
    port,
    get sessionCount() {
      return sessions.size;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sessions) s.terminate();
      await sessions.waitIdle(closeGraceMs);
      for (const s of sessions) s.destroy();
      await closed;
      if (socketPath !== undefined) rmSync(socketPath, { force: true });
    },
  };
}
