/** Admin HTTP server: GET /metrics, /livez, /readyz, /startupz, and /sessions when a token is set (docs/design/surface.md §6); everything else 404. */
import { listenHttp, type ListeningServer } from './listen.js';
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '../../auth/types.js';
import { handleSessionsRequest, isSessionsPath } from './sessions.js';
import type { AdminSessionsPort } from './sessions.js';

/** What the health endpoints read; main.ts flips these as the proxy starts and drains. */
export interface HealthState {
  /** True once startup finished (config loaded, listeners bound). */
  isStarted(): boolean;
  /** True while the proxy listener accepts and is not draining. */
  isReady(): boolean;
}

/** Options of startAdminServer. */
export interface AdminServerOptions {
  host: string;
  port: number;
  registry: Registry;
  health: HealthState;
  logger: Logger;
  /** `/sessions` (only with admin.tokenFile); absent: those paths are 404. */
  sessions?: AdminSessionsPort;
}

/** A running admin server. */
export type AdminServer = ListeningServer;

/** Builds the request handler (exported for tests without a socket). */
export function createAdminServer(opts: Omit<AdminServerOptions, 'host' | 'port'>): Server {
  const server = createServer({ maxHeaderSize: 8192 }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (isSessionsPath(path)) return handleSessionsRequest(req, res, path, opts.sessions, opts.logger);
    const reply = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(404, 'not found\n');
    switch (path) {
      case '/metrics':
        opts.registry.metrics().then(
          (body) => reply(200, body, opts.registry.contentType),
          (err: unknown) => {
            opts.logger.error({ event: 'metrics_failed', err }, 'collecting metrics failed');
            reply(500, 'metrics unavailable\n');
          },
        );
        return;
      case '/livez':
        return reply(200, 'ok\n');
      case '/readyz':
        return opts.health.isReady() ? reply(200, 'ok\n') : reply(503, 'not ready\n');
      case '/startupz':
        return opts.health.isStarted() ? reply(200, 'ok\n') : reply(503, 'starting\n');
      default:
        return reply(404, 'not found\n');
    }
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  return server;
}

/** Starts the admin server on host:port (port 0 = any free port). */
export async function startAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  return listenHttp(createAdminServer(opts), opts.host, opts.port, 5000);
}
