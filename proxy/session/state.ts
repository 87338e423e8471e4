/** The client session as a pure state machine: Phase × Event → { phase, actions } (docs/design/wire-protocol.md §2). Sockets live elsewhere. */
import { protocolViolation, tlsRequired, unavailable, upstreamFailed, unsupported } from '../errors/proxy-error.js';
import type { ProxyError } from '../errors/proxy-error.js';

/** Where one client connection is. */
export type Phase =
  | { name: 'AwaitingInitial'; hasRefusedGssEnc: boolean }
  | { name: 'AwaitingStartupInTls'; isDirectTls: boolean; isHandshakeDone: boolean }
  | { name: 'AwaitingPassword' }
  | { name: 'Authenticating'; isTokenVerified: boolean }
  | { name: 'UpstreamLogin' }
  | { name: 'Relaying' }
  | { name: 'Closing' };

/** Something that happened on the connection, already decoded. */
export type SessionEvent =
  | { type: 'TlsRecord' }
  | { type: 'SSLRequest' }
  | { type: 'GSSENCRequest' }
  | { type: 'CancelRequest' }
  | { type: 'StartupMessage'; shouldNegotiate: boolean }
  | { type: 'UnsupportedProtocol'; majorVersion: number; minorVersion: number }
  | { type: 'TlsReady'; hasAlpnPostgresql: boolean }
  | { type: 'PasswordMessage' }
  | { type: 'Terminate' }
  | { type: 'OtherMessage' }
  | { type: 'TokenVerified' }
  | { type: 'AuthOk' }
  | { type: 'UpstreamReady' }
  | { type: 'Fail'; error: ProxyError }
  | { type: 'LoginTimeout' }
  | { type: 'ClientClosed' };

/** What the session must do next, in order. */
export type SessionAction =
  | { type: 'SendSslAccepted' }
  | { type: 'SendGssEncRefused' }
  | { type: 'StartTls'; isDirect: boolean }
  | { type: 'HandleCancel' }
  | { type: 'SendNegotiateProtocolVersion' }
  | { type: 'SendCleartextPasswordRequest' }
  | { type: 'Authenticate' }
  | { type: 'UpstreamLogin' }
  | { type: 'SendLoginSuccess' }
  | { type: 'StartRelay' }
  | { type: 'SendFatal'; error: ProxyError }
  | { type: 'Close' };

/** Phase plus the actions to perform. */
export interface Transition {
  phase: Phase;
  actions: SessionAction[];
}

/** The phase of a freshly accepted socket. */
export const initialPhase: Phase = { name: 'AwaitingInitial', hasRefusedGssEnc: false };

const closing: Phase = { name: 'Closing' };
const fatal = (error: ProxyError): Transition => ({ phase: closing, actions: [{ type: 'SendFatal', error }, { type: 'Close' }] });
const quietClose = (): Transition => ({ phase: closing, actions: [{ type: 'Close' }] });

/** PostgreSQL's own text for a wrong major version. */
export function unsupportedProtocolMessage(major: number, minor: number): string {
  return `unsupported frontend protocol ${major}.${minor}: server supports 3.0 to 3.0`;
}

/** The pure transition function. Unexpected events in a phase are protocol violations. */
export function step(phase: Phase, event: SessionEvent): Transition {
  if (phase.name === 'Closing') return { phase, actions: [] };
  if (event.type === 'ClientClosed') return quietClose();
  if (event.type === 'Fail') return fatal(event.error);
  // From the auth port, not the client: the token is verified and the credentials stage begins (ignored outside it).
  if (event.type === 'TokenVerified') return phase.name === 'Authenticating' ? { phase: { name: 'Authenticating', isTokenVerified: true }, actions: [] } : { phase, actions: [] };
  if (event.type === 'LoginTimeout') {
    // The reason names the AWS stage that was pending (docs/design/token.md §14): STS until the token is verified, then credentials.
    if (phase.name === 'Authenticating') {
      return fatal(
        phase.isTokenVerified
          ? unavailable('credentials_unavailable', { detail: 'login timeout while waiting for database credentials' })
          : unavailable('sts_unavailable', { detail: 'login timeout while verifying the token with STS' }),
      );
    }
    if (phase.name === 'UpstreamLogin') return fatal(upstreamFailed('upstream', { detail: 'login timeout during the upstream login' }));
    if (phase.name === 'Relaying') return { phase, actions: [] };
    return quietClose();
  }
  switch (phase.name) {
    case 'AwaitingInitial':
      switch (event.type) {
        case 'TlsRecord':
          return { phase: { name: 'AwaitingStartupInTls', isDirectTls: true, isHandshakeDone: false }, actions: [{ type: 'StartTls', isDirect: true }] };
        case 'SSLRequest':
          return {
            phase: { name: 'AwaitingStartupInTls', isDirectTls: false, isHandshakeDone: false },
            actions: [{ type: 'SendSslAccepted' }, { type: 'StartTls', isDirect: false }],
          };
        case 'GSSENCRequest':
          if (phase.hasRefusedGssEnc) return fatal(protocolViolation('duplicate GSSENC request'));
          return { phase: { name: 'AwaitingInitial', hasRefusedGssEnc: true }, actions: [{ type: 'SendGssEncRefused' }] };
        case 'CancelRequest':
          return { phase: closing, actions: [{ type: 'HandleCancel' }, { type: 'Close' }] };
        case 'StartupMessage':
        case 'UnsupportedProtocol':
          return fatal(tlsRequired());
        default:
          return fatal(protocolViolation('unexpected message before startup'));
      }
    case 'AwaitingStartupInTls':
      if (!phase.isHandshakeDone) {
        if (event.type !== 'TlsReady') return fatal(protocolViolation('unexpected event during TLS handshake'));
        if (phase.isDirectTls && !event.hasAlpnPostgresql) return quietClose();
        return { phase: { ...phase, isHandshakeDone: true }, actions: [] };
      }
      switch (event.type) {
        case 'SSLRequest':
          return fatal(protocolViolation('SSL request received inside TLS'));
        case 'GSSENCRequest':
          return fatal(protocolViolation('GSSENC request received inside TLS'));
        case 'CancelRequest':
          return { phase: closing, actions: [{ type: 'HandleCancel' }, { type: 'Close' }] };
        case 'UnsupportedProtocol':
          return fatal(unsupported('protocol', unsupportedProtocolMessage(event.majorVersion, event.minorVersion)));
        case 'StartupMessage': {
          const actions: SessionAction[] = [];
          if (event.shouldNegotiate) actions.push({ type: 'SendNegotiateProtocolVersion' });
          actions.push({ type: 'SendCleartextPasswordRequest' });
          return { phase: { name: 'AwaitingPassword' }, actions };
        }
        default:
          return fatal(protocolViolation('expected startup message'));
      }
    case 'AwaitingPassword':
      switch (event.type) {
        case 'PasswordMessage':
          return { phase: { name: 'Authenticating', isTokenVerified: false }, actions: [{ type: 'Authenticate' }] };
        case 'Terminate':
          return quietClose();
        default:
          return fatal(protocolViolation('expected password message'));
      }
    case 'Authenticating':
      if (event.type === 'AuthOk') return { phase: { name: 'UpstreamLogin' }, actions: [{ type: 'UpstreamLogin' }] };
      if (event.type === 'Terminate') return quietClose();
      if (event.type === 'PasswordMessage') return fatal(protocolViolation('unexpected second password message'));
      return fatal(protocolViolation('unexpected message during authentication'));
    case 'UpstreamLogin':
      if (event.type === 'UpstreamReady') return { phase: { name: 'Relaying' }, actions: [{ type: 'SendLoginSuccess' }, { type: 'StartRelay' }] };
      if (event.type === 'Terminate') return quietClose();
      return fatal(protocolViolation('unexpected message during authentication'));
    case 'Relaying':
      return { phase, actions: [] };
  }
}
