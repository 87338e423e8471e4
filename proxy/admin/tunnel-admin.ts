/**
 * The tunnel's sidecar control (`rsproxy tunnel --admin`, docs/design/surface.md §13): GET /livez, GET /readyz and
 * POST /quitquitquit on a loopback address, so a Kubernetes Job whose main container is done can end the tunnel beside it.
 */
import { listenHttp, type ListeningServer } from './listen.js';
import { createServer, type Server } from 'node:http';
import type { Logger } from '../../auth/types.js';

/** What the endpoints ask of the running tunnel(s); the CLI wires it. */
export interface TunnelAdminPort {
  /** Resolves with the reason the tunnel is not ready (listeners not up yet, credentials unusable), or undefined when ready. */
  notReadyReason(): Promise<string | undefined>;
  /** Starts closing the listeners and sessions; the process then exits 0. */
  quit(): void;
}

/** Options of startTunnelAdminServer. */
export interface TunnelAdminOptions {
  host: string;
  port: number;
  tunnel: TunnelAdminPort;
  logger: Logger;
}

/** A running control listener. */
export type TunnelAdminServer = ListeningServer;

/** Builds the request handler (exported for tests without the CLI). */
export function createTunnelAdminServer(tunnel: TunnelAdminPort, logger: Logger): Server {
  const server = createServer({ maxHeaderSize: 8192 }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const reply = (status: number, body: string, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const isRead = req.method === 'GET' || req.method === 'HEAD';
    if (path === '/livez') return isRead ? reply(200, 'ok\n') : reply(405, 'method not allowed\n', { allow: 'GET, HEAD' });
    if (path === '/readyz') {
      if (!isRead) return reply(405, 'method not allowed\n', { allow: 'GET, HEAD' });
      tunnel.notReadyReason().then(
        (reason) => (reason === undefined ? reply(200, 'ok\n') : reply(503, `not ready: ${reason}\n`)),
        (err: unknown) => reply(503, `not ready: ${err instanceof Error ? err.message : String(err)}\n`),
      );
      return;
    }
    if (path === '/quitquitquit') {
      if (req.method !== 'POST') return reply(405, 'method not allowed\n', { allow: 'POST' });
      logger.info({ event: 'quit_requested' }, 'POST /quitquitquit: closing the listeners and sessions');
      reply(200, 'closing\n');
      tunnel.quit();
      return;
    }
    reply(404, 'not found\n');
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  return server;
}

/** Starts the control listener on host:port (port 0 = any free port); the caller checked that host is loopback. */
export async function startTunnelAdminServer(opts: TunnelAdminOptions): Promise<TunnelAdminServer> {
  return listenHttp(createTunnelAdminServer(opts.tunnel, opts.logger), opts.host, opts.port, 1000);
}
