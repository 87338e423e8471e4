/** The inputs of one TunnelSession: the accepted socket, the proxy to reach, the token source, and the seams tests replace. */
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import type { Logger } from '../../auth/types.js';
import type { TlsSessionStore } from '../upstream/dial.js';
import type { TunnelDialFn, TunnelOverrides, TunnelRemote, TunnelTokenSource } from './tunnel-startup.js';

/** Everything one TunnelSession needs; the listener builds one per accepted socket. */
export interface TunnelSessionOptions {
  socket: net.Socket;
  connectionId: string;
  remote: TunnelRemote;
  overrides: TunnelOverrides;
  tokens: TunnelTokenSource;
  /** Serve TLS to the local client (`--local-tls`); without it SSLRequest is answered 'N'. */
  localTls?: tls.SecureContext;
  /** info: one line per connection and per failure; never a token. */
  logger: Logger;
  /** Login deadline from accept to AuthenticationOk (default tunnelLimits.loginTimeoutMs). */
  loginTimeoutMs?: number;
  dial?: TunnelDialFn;
  /** TLS sessions to resume toward the remote (shared by the listener's sessions). */
  tlsSessions?: TlsSessionStore;
  /** TLS client options toward the remote, computed once by the listener (default: per dial). */
  remoteTlsOptions?: tls.ConnectionOptions;
  /** Forwards a CancelRequest packet (default: over a new TLS connection to the remote). */
  sendCancel?: (packet: Buffer) => Promise<void>;
  /** TCP keepalive idle seconds on the socket to the proxy (0 = off; absent = Node's default, off). */
  keepAliveSeconds?: number;
  /** Called exactly once, when both sockets are gone. */
  onClose: () => void;
}
