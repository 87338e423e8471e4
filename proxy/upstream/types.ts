/** Types shared by the client session and the upstream login (the agreed interface between the two sides). */
import type * as tls from 'node:tls';
import type { Logger, UpstreamTarget } from '../../auth/types.js';

export type { UpstreamTarget } from '../../auth/types.js';

/** Input of one upstream login. */
export interface UpstreamLoginOptions {
  target: UpstreamTarget;
  user: string;
  password: string;
  /** Startup parameters to forward (already filtered by engine). */
  parameters: ReadonlyArray<readonly [string, string]>;
  /** Absolute epoch ms by which the login must finish. */
  deadlineMs: number;
  connectTimeoutMs?: number;
  /** TCP keepalive idle seconds on the upstream socket (`limits.tcpKeepAliveSeconds`; 0 = off). */
  keepAliveSeconds?: number;
  logger: Logger;
}

/** A logged-in upstream connection, ready for the relay. */
export interface UpstreamSession {
  /** Paused, with no data listeners attached. */
  socket: tls.TLSSocket;
  /** Whole ParameterStatus messages, verbatim, in upstream order. */
  parameterStatus: Buffer[];
  /** Whole NoticeResponse messages from the login, verbatim. */
  notices: Buffer[];
  /** The whole ReadyForQuery message, verbatim. */
  readyForQuery: Buffer;
  /** The upstream's BackendKeyData (for cancel forwarding). */
  backendKey: { pid: number; key: Buffer };
  /** Bytes read after ReadyForQuery; they go to the client first. */
  leftover: Buffer;
  serverVersion?: string;
}

/** Stable codes of an upstream login failure. */
export type UpstreamLoginErrorCode = 'UPSTREAM_CONNECT' | 'UPSTREAM_TLS' | 'UPSTREAM_AUTH' | 'UPSTREAM_PROTOCOL' | 'UPSTREAM_TIMEOUT';

/** The shape of the upstream login's error (the class lives in upstream-login.ts). */
export interface UpstreamLoginErrorLike extends Error {
  code: UpstreamLoginErrorCode;
  upstreamSqlstate?: string;
  /** The upstream's `M` field (logs only). */
  upstreamMessage?: string;
  isAuthRejected: boolean;
  /** The upstream's whole ErrorResponse when it refused a forwarded setting: the client gets it verbatim. */
  settingRefusal?: Buffer;
}

/** Logs in upstream; rejects with an UpstreamLoginError. */
export type UpstreamLoginFn = (opts: UpstreamLoginOptions) => Promise<UpstreamSession>;

/** Sends a 3.0 CancelRequest to the upstream over a new connection and waits for EOF (bounded). */
export type SendUpstreamCancelFn = (target: UpstreamTarget, pid: number, key: Buffer, timeoutMs: number, logger?: Logger) => Promise<void>;

/** True for a value shaped like an UpstreamLoginError (works across module copies and fakes). */
export function isUpstreamLoginError(err: unknown): err is UpstreamLoginErrorLike {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('UPSTREAM_') && typeof (err as { isAuthRejected?: unknown }).isAuthRejected === 'boolean';
}
