/** The IAM stack with upstream session reuse on, and what the reuse tests read: a session's state, the pool's counters, a wait for a check-in to settle. */
import * as net from 'node:net';
import type pg from 'pg';
import { iamAccountId, startIamStack } from './iam-stack.js';
import type { IamStack, IamStackOptions } from './iam-stack.js';
import { cancelPacket, i32 } from './raw-wire.js';
import { waitFor } from './wait.js';

/** `reuse.*` of a test stack. */
export interface ReuseSettings {
  maxIdlePerKey?: number;
  maxIdleTotal?: number;
  idleTimeoutSeconds?: number;
  maxAgeSeconds?: number;
  checkAfterIdleSeconds?: number;
  resetTimeoutMs?: number;
}

/** A second principal whose rule maps to the same database user as alice (`alice`): it must never share her upstream sessions. */
export const aliceTwinArn = `arn:aws:sts::${iamAccountId}:assumed-role/AnalystTwin/alice`;

/** Starts the IAM stack with reuse enabled, alice's twin principal and rule, and `limits.tcpKeepAliveSeconds`. */
export function startReuseStack(reuse: ReuseSettings, keepAliveSeconds = 30, extra: Pick<IamStackOptions, 'logLevel' | 'configure'> = {}): Promise<IamStack> {
  return startIamStack({
    logLevel: extra.logLevel ?? 'info',
    principals: [{ name: 'alicetwin', arn: aliceTwinArn, userId: 'AROAANALYSTTWIN00001:alice' }],
    configure: (c, ctx) => {
      c['reuse'] = { enabled: true, ...reuse };
      c['limits'] = { ...(c['limits'] as object), tcpKeepAliveSeconds: keepAliveSeconds };
      c.rules.push({ principal: `arn:aws:iam::${iamAccountId}:role/AnalystTwin`, dbUser: '{sessionName}', trustSessionName: true, autoCreate: true, databases: ['dev'] });
      extra.configure?.(c, ctx);
    },
  });
}

/** What a fresh login must look like again after a reuse: every setting, the users, no prepared statements, cursors or temporary schema. */
export interface SessionState {
  pid: number;
  settings: string;
  currentUser: string;
  sessionUser: string;
  searchPath: string;
  prepared: number;
  cursors: number;
  hasTempSchema: boolean;
}

/** Reads a session's state through `client`. */
export async function sessionState(client: pg.Client): Promise<SessionState> {
  const r = await client.query(
    `SELECT pg_backend_pid() AS pid, current_user AS cu, session_user AS su, current_setting('search_path') AS sp,
       (SELECT string_agg(name || '=' || setting, ';' ORDER BY name) FROM pg_settings) AS settings,
       (SELECT count(*)::int FROM pg_prepared_statements) AS prepared,
       (SELECT count(*)::int FROM pg_cursors) AS cursors,
       pg_my_temp_schema() <> 0 AS has_temp`,
  );
  const row = r.rows[0] as { pid: number; cu: string; su: string; sp: string; settings: string; prepared: number; cursors: number; has_temp: boolean };
  return { pid: row.pid, settings: row.settings, currentUser: row.cu, sessionUser: row.su, searchPath: row.sp, prepared: row.prepared, cursors: row.cursors, hasTempSchema: row.has_temp };
}

/** The state without the pid (what must equal a fresh login's). */
export function withoutPid(s: SessionState): Omit<SessionState, 'pid'> {
  const { pid: _pid, ...rest } = s;
  return rest;
}

/** Idle sessions plus every discard so far: grows by one when a departed client's upstream is settled (kept or closed). */
export async function settledCount(stack: IamStack): Promise<number> {
  return (await stack.metric('rsproxy_upstream_idle_sessions')) + (await stack.metric('rsproxy_upstream_discards_total')) + (await stack.metric('rsproxy_upstream_reuse_total', { result: 'hit' }));
}

/** Waits until the check-in of a client that left after `before` was read has settled. */
export async function waitSettled(stack: IamStack, before: number, timeoutMs = 10_000): Promise<void> {
  await waitFor(async () => (await settledCount(stack)) > before || undefined, timeoutMs, 25);
}

/** Sends a CancelRequest with (pid, key) to the proxy over plain TCP and waits for the proxy to close it. */
export function sendCancel(port: number, pid: number, secretKey: number): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(cancelPacket(pid, i32(secretKey))));
    s.on('error', () => resolve());
    s.on('close', () => resolve());
    s.resume();
  });
}

/** The proxy-issued BackendKeyData of a node-postgres client. */
export function proxyKey(client: pg.Client): { pid: number; secretKey: number } {
  const { processID, secretKey } = client as unknown as { processID: number; secretKey: number };
  return { pid: processID, secretKey };
}
