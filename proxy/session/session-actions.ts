/** Carries out the actions of the state machine (state.ts) on a client session's socket, TLS negotiation and steps. */
import type * as net from 'node:net';
import type { ProxyError } from '../errors/proxy-error.js';
import * as backend from '../protocol/backend.js';
import type { StartupParams } from './startup-params.js';
import type { SessionAction } from './state.js';
import type { TlsNegotiation } from './tls-negotiation.js';

/** What the actions act on: the session's current client socket and parameters, and its own steps. */
export interface ActionTarget {
  client: net.Socket;
  negotiation: TlsNegotiation;
  params: StartupParams | undefined;
  authenticate: () => void;
  /** Logs, counts and writes the FATAL of a failed login (reportLoginFailure). */
  sendFatal: (error: ProxyError) => void;
  close: () => void;
}

/** Performs one action; HandleCancel is run by the session itself, as the actions after it wait for it. */
export function performAction(action: SessionAction, t: ActionTarget): void {
  switch (action.type) {
    case 'SendSslAccepted':
      t.client.write(backend.sslAccepted);
      return;
    case 'SendGssEncRefused':
      t.client.write(backend.gssEncRefused);
      return;
    case 'StartTls':
      t.negotiation.startTls(action.isDirect);
      return;
    case 'SendNegotiateProtocolVersion':
      t.client.write(backend.negotiateProtocolVersion(t.params?.unsupportedProtocolOptions ?? []));
      return;
    case 'SendCleartextPasswordRequest':
      t.client.write(backend.authenticationCleartextPassword);
      return;
    case 'Authenticate':
      t.authenticate();
      return;
    case 'UpstreamLogin':
      return; // started by authenticate(), which owns the AuthResult
    case 'SendLoginSuccess':
    case 'StartRelay':
      return; // performed by completeLogin() with the upstream session in hand
    case 'SendFatal':
      t.sendFatal(action.error);
      return;
    case 'Close':
      t.close();
      return;
    case 'HandleCancel':
      return;
  }
}
