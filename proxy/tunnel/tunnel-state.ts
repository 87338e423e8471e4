/**
 * One local connection of `rsproxy tunnel` as a pure state machine: Phase × Event → { phase, actions }, the client
 * side of proxy/session/state.ts. Sockets, timers and the token live in tunnel-session.ts.
 */
import { tunnelLimits } from '../config/limits.js';
import { protocolViolation, shuttingDown, tooMuchDataBeforeLogin, tunnelNotAnRsproxy, tunnelRemoteFailed, unsupported } from '../errors/proxy-error.js';
import type { ProxyError } from '../errors/proxy-error.js';
import { unsupportedProtocolMessage } from '../session/state.js';
import type { RemoteLoginStep } from './tunnel-startup.js';

/** Where one local connection is. */
export type TunnelPhase =
  /** Before the StartupMessage: plaintext, or inside the local TLS of `--local-tls`. */
  | { name: 'AwaitingInitial'; isTls: boolean }
  /** Minting the token and dialing the proxy, together. */
  | { name: 'Connecting' }
  /** Startup sent to the proxy; its AuthenticationCleartextPassword expected. */
  | { name: 'AwaitingAuthRequest' }
  /** Token sent; AuthenticationOk expected. */
  | { name: 'AwaitingAuthResult' }
  | { name: 'Relaying' }
  | { name: 'Closing' };

/** Something that happened on either socket, already decoded. */
export type TunnelEvent =
  | { type: 'SSLRequest'; hasTrailingBytes: boolean }
  | { type: 'GSSENCRequest' }
  | { type: 'CancelRequest'; packet: Buffer }
  | { type: 'UnsupportedProtocol'; majorVersion: number; minorVersion: number }
  | { type: 'StartupMessage'; shouldNegotiate: boolean }
  /** Client bytes after its StartupMessage; `heldBytes` were held before them. */
  | { type: 'ClientData'; bytes: Buffer; heldBytes: number }
  /** The token is minted and the proxy dialed. */
  | { type: 'RemoteReady' }
  | { type: 'RemoteNotice'; raw: Buffer }
  | { type: 'RemotePasswordRequest' }
  /** AuthenticationOk and whatever followed it in the same read. */
  | { type: 'RemoteLoginOk'; bytes: Buffer }
  | { type: 'RemoteRefused'; raw: Buffer; sqlstate: string; message: string }
  | { type: 'RemoteNotRsproxy'; detail: string }
  | { type: 'RemoteClosed' }
  | { type: 'RemoteError'; message: string }
  | { type: 'LoginTimeout' }
  | { type: 'Shutdown' }
  | { type: 'Fail'; error: ProxyError }
  /** The local socket closed or failed. */
  | { type: 'ClientGone' };

/** What the session must do next, in order. */
export type TunnelAction =
  | { type: 'SendSslRefused' }
  | { type: 'SendSslAccepted' }
  | { type: 'StartTls' }
  | { type: 'SendGssEncRefused' }
  | { type: 'ForwardCancel'; packet: Buffer }
  | { type: 'SendNegotiateProtocolVersion' }
  | { type: 'Connect' }
  | { type: 'Hold'; bytes: Buffer }
  | { type: 'SendStartup' }
  | { type: 'ForwardToClient'; bytes: Buffer }
  | { type: 'SendPassword' }
  | { type: 'LogRefused'; sqlstate: string; message: string }
  | { type: 'StartRelay'; fromRemote: Buffer }
  /** While relaying: FATAL `error` to the client where the stream allows it, Terminate to the proxy. */
  | { type: 'SendFarewell'; error: ProxyError }
  | { type: 'SendFatal'; error: ProxyError }
  /** Ends the client socket (destroyed after the linger) and the proxy's. */
  | { type: 'Close' }
  /** Destroys both sockets now. */
  | { type: 'Destroy' };

/** Phase plus the actions to perform. */
export interface TunnelTransition {
  phase: TunnelPhase;
  actions: TunnelAction[];
}

/** What the transitions need to know of the tunnel itself. */
export interface TunnelContext {
  /** The proxy's `host:port`, named in the tunnel's own errors. */
  hostPort: string;
  /** `--local-tls`: SSLRequest is accepted (else answered N). */
  hasLocalTls: boolean;
}

/** The phase of a freshly accepted local socket. */
export const tunnelInitialPhase: TunnelPhase = { name: 'AwaitingInitial', isTls: false };

const closing: TunnelPhase = { name: 'Closing' };
const stay = (phase: TunnelPhase, ...actions: TunnelAction[]): TunnelTransition => ({ phase, actions });
const fatal = (error: ProxyError): TunnelTransition => ({ phase: closing, actions: [{ type: 'SendFatal', error }, { type: 'Close' }] });

/** The event for one message of the proxy's login, as remoteLoginStep judged it (`raw`: the message; `rest`: bytes after it). */
export function remoteLoginEvent(step: RemoteLoginStep, raw: Buffer, rest: () => Buffer): TunnelEvent {
  switch (step.kind) {
    case 'forward':
      return { type: 'RemoteNotice', raw };
    case 'sendPassword':
      return { type: 'RemotePasswordRequest' };
    case 'loggedIn':
      return { type: 'RemoteLoginOk', bytes: Buffer.concat([raw, rest()]) };
    case 'refused':
      return { type: 'RemoteRefused', raw, sqlstate: step.sqlstate, message: step.message };
    case 'notRsproxy':
      return { type: 'RemoteNotRsproxy', detail: step.detail };
  }
}

/**
 * The pure transition function. The local client may pipeline after its StartupMessage (held, up to the proxy's
 * limit); the proxy must ask for a cleartext password, then say AuthenticationOk, or it is not an rsproxy. Events
 * a phase does not expect change nothing: the session produces each one only where it can occur.
 */
export function tunnelStep(phase: TunnelPhase, event: TunnelEvent, ctx: TunnelContext): TunnelTransition {
  if (event.type === 'ClientGone') {
    // While relaying the relay sees the close itself and reports the end.
    return phase.name === 'Relaying' ? stay(phase) : stay(closing, { type: 'Destroy' });
  }
  if (phase.name === 'Closing') return stay(phase);
  if (phase.name === 'Relaying') return event.type === 'Shutdown' ? stay(phase, { type: 'SendFarewell', error: shuttingDown() }) : stay(phase);
  switch (event.type) {
    case 'Fail':
      return fatal(event.error);
    case 'Shutdown':
      return fatal(shuttingDown());
    case 'LoginTimeout':
      return fatal(tunnelRemoteFailed(ctx.hostPort, 'login timed out'));
    case 'RemoteClosed':
      return fatal(tunnelRemoteFailed(ctx.hostPort, 'the server closed the connection during login'));
    case 'RemoteError':
      return fatal(tunnelRemoteFailed(ctx.hostPort, event.message));
    case 'ClientData':
      if (phase.name === 'AwaitingInitial') break; // the session frames these bytes itself
      if (event.heldBytes + event.bytes.length > tunnelLimits.maxHeldClientBytes) return fatal(tooMuchDataBeforeLogin());
      return stay(phase, { type: 'Hold', bytes: event.bytes });
    default:
      break;
  }
  switch (phase.name) {
    case 'AwaitingInitial':
      return awaitingInitial(phase, event, ctx);
    case 'Connecting':
      return event.type === 'RemoteReady' ? stay({ name: 'AwaitingAuthRequest' }, { type: 'SendStartup' }) : stay(phase);
    case 'AwaitingAuthRequest':
    case 'AwaitingAuthResult':
      return awaitingAuth(phase, event, ctx);
  }
}

function awaitingInitial(phase: { name: 'AwaitingInitial'; isTls: boolean }, event: TunnelEvent, ctx: TunnelContext): TunnelTransition {
  switch (event.type) {
    case 'SSLRequest':
      if (phase.isTls) return fatal(protocolViolation('SSL request inside SSL'));
      if (!ctx.hasLocalTls) return stay(phase, { type: 'SendSslRefused' });
      // CVE-2021-23214: nothing may follow the SSLRequest in plaintext.
      if (event.hasTrailingBytes) return fatal(protocolViolation('received unencrypted data after SSL request'));
      return stay({ name: 'AwaitingInitial', isTls: true }, { type: 'SendSslAccepted' }, { type: 'StartTls' });
    case 'GSSENCRequest':
      return stay(phase, { type: 'SendGssEncRefused' });
    case 'CancelRequest':
      return stay(closing, { type: 'ForwardCancel', packet: event.packet }, { type: 'Close' });
    case 'UnsupportedProtocol':
      return fatal(unsupported('protocol', unsupportedProtocolMessage(event.majorVersion, event.minorVersion)));
    case 'StartupMessage': {
      const actions: TunnelAction[] = event.shouldNegotiate ? [{ type: 'SendNegotiateProtocolVersion' }] : [];
      return stay({ name: 'Connecting' }, ...actions, { type: 'Connect' });
    }
    default:
      return stay(phase);
  }
}

function awaitingAuth(phase: { name: 'AwaitingAuthRequest' | 'AwaitingAuthResult' }, event: TunnelEvent, ctx: TunnelContext): TunnelTransition {
  switch (event.type) {
    case 'RemoteNotice':
      return stay(phase, { type: 'ForwardToClient', bytes: event.raw });
    case 'RemotePasswordRequest':
      // remoteLoginStep already refuses a second request (RemoteNotRsproxy); the token goes out at most once.
      return phase.name === 'AwaitingAuthRequest' ? stay({ name: 'AwaitingAuthResult' }, { type: 'SendPassword' }) : fatal(tunnelNotAnRsproxy(ctx.hostPort, { detail: 'it asked for the password twice' }));
    case 'RemoteLoginOk':
      return stay({ name: 'Relaying' }, { type: 'StartRelay', fromRemote: event.bytes });
    case 'RemoteRefused':
      // The proxy's own error (28P01, 57P01, 53300…) reaches the client verbatim.
      return stay(closing, { type: 'LogRefused', sqlstate: event.sqlstate, message: event.message }, { type: 'ForwardToClient', bytes: event.raw }, { type: 'Close' });
    case 'RemoteNotRsproxy':
      return fatal(tunnelNotAnRsproxy(ctx.hostPort, { detail: event.detail }));
    default:
      return stay(phase);
  }
}
