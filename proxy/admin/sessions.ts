/** Admin `GET /sessions` and `DELETE /sessions/<connectionId>` behind the `admin.tokenFile` bearer token (docs/design/surface.md §6). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../auth/types.js';
import type { AdminToken } from './token.js';
import type { LiveSessionInfo } from '../session/live-sessions.js';

/** What the admin server reads and ends; main.ts wires it to the ProxyServer. */
export interface AdminSessionsPort {
  /** The bearer-token check (admin.tokenFile). */
  token: AdminToken;
  list(): readonly LiveSessionInfo[];
  /** Ends the session; false when there is none with this id. */
  end(connectionId: string): boolean;
}

/** Longest request target accepted under /sessions. */
export const maxSessionsPathBytes = 128;

const connectionIdPattern = /^[A-Za-z0-9_-]{1,64}$/;

/** True for the paths this module answers (`/sessions`, `/sessions/…`). */
export function isSessionsPath(path: string): boolean {
  return path === '/sessions' || path.startsWith('/sessions/');
}

/** Answers a request under /sessions: 404 when disabled, 401 without the token, then list (200) or end (204/404). */
export function handleSessionsRequest(req: IncomingMessage, res: ServerResponse, path: string, sessions: AdminSessionsPort | undefined, logger: Logger): void {
  const reply = (status: number, body: string, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  if (sessions === undefined) return reply(404, 'not found\n');
  if ((req.url ?? '').length > maxSessionsPathBytes) return reply(414, 'request target too long\n');
  if (!sessions.token.isAuthorized(req.headers.authorization)) {
    logger.info({ event: 'admin_unauthorized', method: req.method, path: '/sessions', remoteAddress: req.socket.remoteAddress }, 'admin request without a valid bearer token');
    return reply(401, 'unauthorized\n', { 'www-authenticate': 'Bearer realm="rsproxy"' });
  }
  if (path === '/sessions') {
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'method not allowed\n', { allow: 'GET, HEAD' });
    return reply(200, `${JSON.stringify(sessions.list())}\n`, { 'content-type': 'application/json; charset=utf-8' });
  }
  const id = path.slice('/sessions/'.length);
  if (!connectionIdPattern.test(id)) return reply(404, 'no such session\n');
  if (req.method !== 'DELETE') return reply(405, 'method not allowed\n', { allow: 'DELETE' });
  if (!sessions.end(id)) return reply(404, 'no such session\n');
  res.writeHead(204, { 'cache-control': 'no-store' });
  res.end();
}
