/** The pure parts of `rsproxy tunnel`'s session: its ports, the startup it sends upstream, and the reason a dial failed. */
import type { DialOptions, DialTarget, DialedSocket } from '../upstream/dial.js';
import { UpstreamLoginError, UpstreamLoginErrorCode } from '../upstream/error.js';
import { BackendCode } from '../protocol/codes.js';
import type { Frame } from '../protocol/framer.js';
import type { StartupMessage } from '../protocol/frontend.js';
import { parseAuthenticationRequest, parseErrorFields } from '../protocol/upstream.js';
import { startupParameterClass, shouldNegotiateProtocol } from '../protocol/startup-parameter-class.js';

/** Where the tunnel logs in: the proxy's host and port, and how its certificate is checked. */
export type TunnelRemote = DialTarget;

/** The port that supplies tokens; rejects with AwsCredentialsError when the local credentials cannot sign. */
export interface TunnelTokenSource {
  token(): Promise<{ token: string; isReused: boolean }>;
}

/** Startup parameters the tunnel replaces (`--user`, `--dbname`). */
export interface TunnelOverrides {
  user?: string;
  database?: string;
}

/** Dials the remote: dialUpstream, or a fake in unit tests. */
export type TunnelDialFn = (target: DialTarget, opts: DialOptions) => Promise<DialedSocket>;

/**
 * The client's startup parameters as sent to the remote, by the proxy's own classes: `user`/`database` replaced by
 * `--user`/`--dbname` (names compared case-insensitively), `_pq_.*` negotiated here (the tunnel speaks 3.0 upstream);
 * everything else, `options` and `replication` included, passes through for the proxy to judge as it would a direct client's.
 */
export function tunnelStartupParameters(packet: StartupMessage, overrides: TunnelOverrides): { parameters: Array<readonly [string, string]>; unsupportedOptions: string[]; shouldNegotiate: boolean } {
  const parameters: Array<readonly [string, string]> = [];
  const unsupportedOptions: string[] = [];
  for (const [key, value] of packet.parameters) {
    const kind = startupParameterClass(key);
    const folded = key.toLowerCase();
    if (kind === 'negotiated') unsupportedOptions.push(key);
    else if (kind === 'setByProxy' && folded === 'user' && overrides.user !== undefined) continue;
    else if (kind === 'setByProxy' && folded === 'database' && overrides.database !== undefined) continue;
    else parameters.push([key, value] as const);
  }
  if (overrides.user !== undefined) parameters.unshift(['user', overrides.user] as const);
  if (overrides.database !== undefined) parameters.splice(overrides.user === undefined ? 0 : 1, 0, ['database', overrides.database] as const);
  return { parameters, unsupportedOptions, shouldNegotiate: shouldNegotiateProtocol(packet.minorVersion, unsupportedOptions) };
}

/** The client-facing reason of a failed dial: the OS or TLS message, without the proxy's own wording. */
export function dialFailureReason(err: unknown): string {
  if (err instanceof UpstreamLoginError) {
    const cause = err.cause instanceof Error ? err.cause.message : undefined;
    if (err.code === UpstreamLoginErrorCode.Tls && cause !== undefined) return `TLS failed: ${cause}`;
    if (err.code === UpstreamLoginErrorCode.Connect && cause !== undefined) return cause;
    return err.message.replace(/^upstream /, '');
  }
  return err instanceof Error ? err.message : String(err);
}

/** What the tunnel does with one message from the remote during its login. */
export type RemoteLoginStep =
  | { kind: 'forward' }
  | { kind: 'sendPassword' }
  | { kind: 'loggedIn' }
  | { kind: 'refused'; sqlstate: string; message: string }
  | { kind: 'notRsproxy'; detail: string };

/**
 * The login toward an rsproxy, one message at a time: before the password only AuthenticationCleartextPassword
 * is acceptable (any other method means the remote is not an rsproxy, and no token is sent); after it,
 * AuthenticationOk. ErrorResponse, NoticeResponse and NegotiateProtocolVersion go to the client unchanged.
 * Throws ProtocolError on a malformed message.
 */
export function remoteLoginStep(phase: 'awaitingAuthRequest' | 'awaitingAuthResult', frame: Frame): RemoteLoginStep {
  if (frame.type === BackendCode.ErrorResponse) {
    const fields = parseErrorFields(frame.body);
    return { kind: 'refused', sqlstate: fields.sqlstate ?? '?', message: fields.message ?? '' };
  }
  if (frame.type === BackendCode.NoticeResponse || frame.type === BackendCode.NegotiateProtocolVersion) return { kind: 'forward' };
  if (frame.type !== BackendCode.Authentication) return { kind: 'notRsproxy', detail: `unexpected message type 0x${frame.type.toString(16)} during login` };
  const request = parseAuthenticationRequest(frame.body);
  if (phase === 'awaitingAuthRequest' && request.kind === 'cleartext') return { kind: 'sendPassword' };
  if (request.kind === 'ok') return { kind: 'loggedIn' };
  return { kind: 'notRsproxy', detail: `it asked for authentication method ${request.code}` };
}
