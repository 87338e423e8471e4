/** Logs in to the upstream (docs/design/wire-protocol.md §7): dial + TLS, StartupMessage 3.0, auth 3/5/10–12/13, then S/N/K until Z. */
import type * as tls from 'node:tls';
import type { Logger } from '../../auth/types.js';
import { BackendCode } from '../protocol/codes.js';
import { MessageFramer } from '../protocol/framer.js';
import type { Frame } from '../protocol/framer.js';
import { SaltedPasswordCache, ScramSha256Client, scramMechanism } from '../protocol/scram.js';
import {
  md5PasswordMessage,
  parseAuthenticationRequest,
  parseBackendKeyData,
  parseErrorFields,
  parseParameterStatus,
  passwordMessage,
  redshiftDigestAlgorithms,
  redshiftDigestMessage,
  saslInitialResponse,
  saslResponse,
  startupMessage,
} from '../protocol/upstream.js';
import { dialUpstream } from './dial.js';
import { UpstreamLoginError, UpstreamLoginErrorCode, settingRefusedSqlstates } from './error.js';
import type { UpstreamLoginOptions, UpstreamSession } from './types.js';

// Shared by all upstream logins of the process: warm logins reuse cached credentials, so their SCRAM
// SaltedPassword repeats too.
const saltedPasswordCache = new SaltedPasswordCache(1000);

export type { UpstreamLoginOptions, UpstreamSession } from './types.js';
export { UpstreamLoginError, UpstreamLoginErrorCode } from './error.js';

/** Largest upstream message accepted during login. */
export const maxUpstreamLoginMessageBytes = 1024 * 1024;
/** Most authentication round trips accepted before giving up. */
const maxAuthRounds = 8;

const protocolError = (message: string, cause?: unknown): UpstreamLoginError =>
  new UpstreamLoginError(UpstreamLoginErrorCode.Protocol, message, cause === undefined ? {} : { cause });
const authError = (message: string, cause?: unknown): UpstreamLoginError =>
  new UpstreamLoginError(UpstreamLoginErrorCode.Auth, message, cause === undefined ? {} : { cause });

/** Startup pairs sent upstream: user and database first, then the forwarded parameters minus any user/database. */
function startupParams(opts: UpstreamLoginOptions): Array<readonly [string, string]> {
  const forwarded = opts.parameters.filter(([k]) => !['user', 'database'].includes(k.toLowerCase()));
  return [['user', opts.user], ['database', opts.target.dbName], ...forwarded];
}

/** The authentication conversation and the collection of S/N/K until Z; one instance per login. */
class LoginConversation {
  private readonly opts: UpstreamLoginOptions;
  private readonly socket: tls.TLSSocket;
  private readonly log: Logger;
  private phase: 'auth' | 'params' = 'auth';
  private scram: ScramSha256Client | undefined;
  private authRounds = 0;
  private readonly parameterStatus: Buffer[] = [];
  private readonly notices: Buffer[] = [];
  private backendKey: { pid: number; key: Buffer } | undefined;
  private serverVersion: string | undefined;

  constructor(opts: UpstreamLoginOptions, socket: tls.TLSSocket) {
    this.opts = opts;
    this.socket = socket;
    this.log = opts.logger;
  }

  /** Handles one message; returns the session once `Z` arrives. Throws UpstreamLoginError. */
  handle(frame: Frame, framer: MessageFramer): UpstreamSession | undefined {
    switch (frame.type) {
      case BackendCode.ErrorResponse:
        throw this.upstreamError(frame);
      case BackendCode.NoticeResponse:
        this.notices.push(Buffer.from(frame.raw));
        return undefined;
      case BackendCode.NegotiateProtocolVersion:
        this.log.warn({ upstreamBytes: frame.raw.length }, 'upstream sent NegotiateProtocolVersion to a 3.0 startup; ignored');
        return undefined;
      case BackendCode.Authentication:
        if (this.phase !== 'auth') throw protocolError('upstream sent an authentication request after AuthenticationOk');
        this.authenticate(frame.body);
        return undefined;
    }
    if (this.phase !== 'params') throw protocolError(`unexpected upstream message '${String.fromCharCode(frame.type)}' during authentication`);
    switch (frame.type) {
      case BackendCode.ParameterStatus: {
        const { name, value } = this.decode(() => parseParameterStatus(frame.body));
        if (name === 'server_version') this.serverVersion = value;
        this.parameterStatus.push(Buffer.from(frame.raw));
        return undefined;
      }
      case BackendCode.BackendKeyData:
        if (this.backendKey !== undefined) throw protocolError('upstream sent BackendKeyData twice');
        this.backendKey = this.decode(() => parseBackendKeyData(frame.body));
        return undefined;
      case BackendCode.ReadyForQuery: {
        if (frame.body.length !== 1) throw protocolError('malformed upstream ReadyForQuery');
        if (this.backendKey === undefined) throw protocolError('upstream sent ReadyForQuery without BackendKeyData');
        const session: UpstreamSession = {
          socket: this.socket,
          parameterStatus: this.parameterStatus,
          notices: this.notices,
          readyForQuery: Buffer.from(frame.raw),
          backendKey: this.backendKey,
          leftover: Buffer.from(framer.takeLeftover()),
        };
        if (this.serverVersion !== undefined) session.serverVersion = this.serverVersion;
        return session;
      }
      default:
        throw protocolError(`unexpected upstream message '${String.fromCharCode(frame.type)}' during login`);
    }
  }

  private decode<T>(fn: () => T): T {
    try {
      return fn();
    } catch (cause) {
      throw protocolError(`malformed upstream login message: ${(cause as Error).message}`, cause);
    }
  }

  private upstreamError(frame: Frame): UpstreamLoginError {
    const fields = this.decode(() => parseErrorFields(frame.body));
    this.log.debug({ upstreamSqlstate: fields.sqlstate, upstreamMessage: fields.message }, 'upstream refused the login');
    // Settings are applied after authentication; a refusal then is about what the client asked for, so it is the client's to read.
    const isSettingRefusal = this.phase === 'params' && fields.sqlstate !== undefined && settingRefusedSqlstates.has(fields.sqlstate);
    return new UpstreamLoginError(UpstreamLoginErrorCode.Auth, `upstream refused the login (SQLSTATE ${fields.sqlstate ?? 'none'})`, {
      upstreamSqlstate: fields.sqlstate,
      upstreamMessage: fields.message,
      ...(isSettingRefusal ? { settingRefusal: Buffer.from(frame.raw) } : {}),
    });
  }

  private send(msg: Buffer): void {
    this.socket.write(msg);
  }

  private authenticate(body: Buffer): void {
    if (++this.authRounds > maxAuthRounds) throw protocolError('too many upstream authentication rounds');
    const req = this.decode(() => parseAuthenticationRequest(body));
    this.log.debug({ authCode: req.code }, 'upstream authentication request');
    const { user, password } = this.opts;
    switch (req.kind) {
      case 'ok':
        if (this.scram !== undefined && !this.scram.isComplete) throw authError('upstream skipped the SCRAM server signature');
        this.phase = 'params';
        return;
      case 'cleartext':
        this.send(this.encode(() => passwordMessage(password)));
        return;
      case 'md5':
        this.send(this.encode(() => md5PasswordMessage(user, password, req.salt)));
        return;
      case 'sasl':
        if (this.scram !== undefined) throw protocolError('upstream restarted SASL');
        if (!req.mechanisms.includes(scramMechanism)) throw authError(`upstream offers no supported SASL mechanism (${req.mechanisms.join(', ')})`);
        this.scram = new ScramSha256Client({ saltedPasswordCache });
        this.send(saslInitialResponse(scramMechanism, this.scram.createClientFirst()));
        return;
      case 'saslContinue': {
        const scram = this.requireScram();
        this.send(saslResponse(this.encode(() => scram.handleServerFirst(req.data, password))));
        return;
      }
      case 'saslFinal':
        this.encode(() => this.requireScram().verifyServerFinal(req.data));
        return;
      case 'redshiftDigest': {
        if (req.algorithm !== 0 || redshiftDigestAlgorithms[req.algorithm] === undefined) {
          throw authError(`unsupported Redshift digest algorithm ${req.algorithm}`);
        }
        const clientNonce = Buffer.from(String(Date.now()), 'ascii');
        this.send(redshiftDigestMessage(password, req.salt, req.serverNonce, clientNonce));
        return;
      }
      case 'unsupported':
        throw authError(`unsupported upstream authentication method ${req.code}`);
    }
  }

  private requireScram(): ScramSha256Client {
    if (this.scram === undefined) throw protocolError('upstream sent a SASL continuation without SASL');
    return this.scram;
  }

  /** Runs an auth step whose failure is the upstream's or the credentials' fault, never a password echo. */
  private encode<T>(fn: () => T): T {
    try {
      return fn();
    } catch (cause) {
      throw authError(`upstream authentication step failed: ${(cause as Error).message}`, cause);
    }
  }
}

/** Logs in upstream; resolves with a paused TLS socket ready for the relay, rejects with UpstreamLoginError. */
export async function upstreamLogin(opts: UpstreamLoginOptions): Promise<UpstreamSession> {
  const { target } = opts;
  const log = opts.logger.child({ upstreamHost: target.host, upstreamPort: target.port, upstreamTlsMode: target.tlsMode });
  const dialOpts = {
    deadlineMs: opts.deadlineMs,
    logger: log,
    ...(opts.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: opts.connectTimeoutMs }),
    ...(opts.keepAliveSeconds === undefined ? {} : { keepAliveSeconds: opts.keepAliveSeconds }),
  };
  const dialed = await dialUpstream(target, dialOpts);
  if (!dialed.isTls) throw protocolError('upstream connection is not TLS');
  const socket = dialed.socket;
  const conversation = new LoginConversation({ ...opts, logger: log }, socket);
  const framer = new MessageFramer({ maxMessageBytes: maxUpstreamLoginMessageBytes });

  return new Promise<UpstreamSession>((resolve, reject) => {
    let settled = false;
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
    };
    const fail = (err: UpstreamLoginError): void => {
      if (settled) return;
      settled = true;
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      if (settled) return;
      try {
        framer.push(chunk);
        for (let frame = framer.next(); frame !== undefined; frame = framer.next()) {
          const session = conversation.handle(frame, framer);
          if (session !== undefined) {
            settled = true;
            socket.pause();
            cleanup();
            log.debug({ serverVersion: session.serverVersion, leftoverBytes: session.leftover.length }, 'upstream login complete');
            resolve(session);
            return;
          }
        }
      } catch (err) {
        fail(err instanceof UpstreamLoginError ? err : protocolError(`malformed upstream login message: ${(err as Error).message}`, err));
      }
    };
    const onError = (cause: Error): void =>
      fail(new UpstreamLoginError(UpstreamLoginErrorCode.Connect, `upstream connection failed during login: ${cause.message}`, { cause }));
    const onClose = (): void => fail(protocolError('upstream closed the connection during login'));
    const timer = setTimeout(
      () => fail(new UpstreamLoginError(UpstreamLoginErrorCode.Timeout, 'upstream login timed out')),
      Math.max(0, opts.deadlineMs - Date.now()),
    );

    socket.on('error', onError);
    socket.on('close', onClose);
    socket.on('data', onData);
    if (socket.destroyed) {
      fail(protocolError('upstream closed the connection before the startup'));
      return;
    }
    try {
      socket.write(startupMessage(startupParams(opts)));
    } catch (cause) {
      fail(protocolError('invalid upstream startup parameters', cause));
      return;
    }
    socket.resume();
  });
}
