/** Requests to the admin `/sessions` endpoints (docs/design/surface.md §6) with an optional bearer token. */
import { httpGet } from './http-get.js';
import type { HttpAnswer } from './http-get.js';

/** One `/sessions` request on the admin server at 127.0.0.1:`port`; `token` undefined sends no Authorization header. */
export function sessionsRequest(port: number, method: 'GET' | 'DELETE' | 'POST' | 'HEAD', path: string, token?: string): Promise<HttpAnswer> {
  return httpGet({ host: '127.0.0.1', port, method, path, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
}

/** The parsed `GET /sessions` list (asserts a 200). */
export async function listSessions(port: number, token: string): Promise<Array<Record<string, unknown>>> {
  const r = await sessionsRequest(port, 'GET', '/sessions', token);
  if (r.status !== 200) throw new Error(`GET /sessions → ${r.status}: ${r.body}`);
  return JSON.parse(r.body) as Array<Record<string, unknown>>;
}
