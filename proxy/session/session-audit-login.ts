/** A client session's audit steps before it relays: login_denied before the client reads its FATAL, login before AuthenticationOk. */
import type { AuditWriteResult, ConnectionFields } from '../audit/index.js';
import type { ProxyError } from '../errors/proxy-error.js';
import type { ClientSessionOptions } from './client-session-options.js';
import type { LoggedIn, LoginProgress } from './login.js';
import { settingRefusalOf } from './login-failure.js';
import { auditLogin, hostPort, loginDeniedEntry } from './session-audit.js';
import type { SessionAudit, SessionAuditTrail } from './session-audit.js';
import type { StartupParams } from './startup-params.js';

/** Where a session's audit records say its client is: the session's options and its (PROXY-resolved) address. */
export type AuditedClient = Pick<ClientSessionOptions, 'connectionId' | 'clientPort' | 'proxiedBy' | 'socket'>;

/** The login records of one client session. */
export class SessionLoginAudit {
  constructor(
    private readonly audit: SessionAudit,
    private readonly client: AuditedClient,
    private readonly clientAddress: string,
  ) {}

  /** The records' connection fields: the client's `ip:port`, the port read when the record is written. */
  connection(): ConnectionFields {
    const { client } = this;
    const port = client.clientPort ?? (client.proxiedBy === undefined ? client.socket.remotePort : undefined);
    return { connectionId: client.connectionId, clientAddress: hostPort(this.clientAddress, port) };
  }

  /** Writes the login_denied record of a refused login; resolves once it is in the file or has failed. */
  denied(error: ProxyError, params: StartupParams | undefined, progress: LoginProgress): Promise<AuditWriteResult> {
    const refusal = settingRefusalOf(error);
    return this.audit.write(loginDeniedEntry(this.connection(), error, params, progress, refusal?.sqlstate));
  }

  /** Writes the login record (auditLogin): the session's trail, 'gone' when it left the login meanwhile, 'refused' under refuse. */
  login(loggedIn: LoggedIn, params: StartupParams | undefined, nowMs: () => number, isStillLoggingIn: () => boolean): Promise<SessionAuditTrail | 'gone' | 'refused'> {
    const { result, upstream } = loggedIn;
    return auditLogin(this.audit, { result, params, upstreamPid: upstream.backendKey.pid, reused: loggedIn.reuse?.isReused ?? false, connection: this.connection(), nowMs: nowMs(), isStillLoggingIn });
  }
}
