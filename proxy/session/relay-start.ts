/** After a successful login: R 0 / S / N / K / Z to the client with a proxy-issued cancel key, held bytes upstream, and the relay start (docs/design/wire-protocol.md §8). */
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import type { AuthResult, Logger } from '../../auth/types.js';
import * as backend from '../protocol/backend.js';
import type { CancelRegistry, IssuedKey } from './cancel-registry.js';
import type { SessionEndReason, SessionObserver } from '../telemetry/observer.js';
import { Relay } from './relay.js';
import type { RelayStats } from './relay.js';
import type { StartupParams } from './startup-params.js';
import { sendUpstreamCancel as realSendUpstreamCancel } from '../upstream/cancel.js';
import type { SendUpstreamCancelFn, UpstreamSession } from '../upstream/types.js';
import { CheckinTracker } from '../upstream/checkin-tracker.js';
import type { ReuseTicket } from './reuse-login.js';

import { clientLossCancelTimeoutMs, loginFacts, type LoggedIn, type LoginProgress } from './login.js';
import { loginLogFields } from './login-failure.js';
import type { SessionAuditTrail } from './session-audit.js';
import { StatementGate } from './statement-gate.js';

/** The bytes the client receives after a successful login, in docs/design/wire-protocol.md §8 order, plus the upstream's leftover. */
export function loginSuccessBytes(upstream: UpstreamSession, proxyKey: { pid: number; key: Buffer }): Buffer {
  return Buffer.concat([
    backend.authenticationOk,
    ...upstream.parameterStatus,
    ...upstream.notices,
    backend.backendKeyData(proxyKey.pid, proxyKey.key),
    upstream.readyForQuery,
    upstream.leftover,
  ]);
}

/** Options of startRelay. */
export interface StartRelayOptions {
  /** The client's TLS socket, with no data listener left. */
  client: net.Socket;
  loggedIn: LoggedIn;
  /** Client bytes held since the PasswordMessage (docs/design/wire-protocol.md §6). */
  held: Buffer;
  cancelRegistry: CancelRegistry;
  /** Default: the real upstream cancel. */
  sendUpstreamCancel?: SendUpstreamCancelFn;
  observer: SessionObserver;
  logger: Logger;
  params: StartupParams | undefined;
  /** What the login learned (identity, timings), for the login_ok line. */
  progress?: LoginProgress;
  loginDurationSeconds: number;
  /** Why the session ended when the proxy ended it ('local'; default shutdown). */
  localEndReason?: () => SessionEndReason;
  /** Called once both sockets are closed and the cancel key is released. */
  onClose: () => void;
  /** Reuse: called when the upstream was handed over to the pool as the client left. */
  onUpstreamHandedOver?: () => void;
  /** The session's audit records (absent: no audit trail): statements through a gate, and session_end. */
  audit?: RelayAudit;
}

/** What startRelay needs of the audit trail. */
export interface RelayAudit {
  trail: SessionAuditTrail;
  /** A statement could not be recorded under refuse: the session ends with 57P03. */
  onStatementRefused: () => void;
  nowMs: () => number;
}

/** Issues the proxy's cancel key, sends R 0 / S / N / K / Z, forwards held bytes upstream, records the login, and starts the relay. */
export function startRelay(opts: StartRelayOptions): { relay: Relay; key: IssuedKey } {
  const { result, upstream } = opts.loggedIn;
  // The relay's closures outlive the login: they keep the target, never the AuthResult with its password.
  // They share one context, so none may name `opts` either: it holds the AuthResult and the UpstreamSession.
  const { target } = result;
  const { onClose, localEndReason, observer, audit } = opts;
  const { pid: upstreamPid, key: upstreamKey } = upstream.backendKey;
  const ticket = opts.loggedIn.reuse;
  const tracker = ticket === undefined ? undefined : new CheckinTracker();
  const cancelHooks = tracker === undefined ? undefined : { started: () => tracker.cancelStarted(), settled: () => tracker.cancelSettled() };
  const key = opts.cancelRegistry.issue(target, upstreamPid, upstreamKey, opts.logger, cancelHooks);
  opts.client.write(loginSuccessBytes(upstream, key));
  // With statement capture, held bytes may hold a Query: they go through the gate once the relay has started.
  const isGated = audit !== undefined && audit.trail.statements !== 'off';
  if (opts.held.length > 0 && !isGated) upstream.socket.write(opts.held);
  opts.observer.login('ok', 'ok', opts.loginDurationSeconds);
  const log = opts.logger;
  log.info(
    {
      event: 'login_ok',
      ...loginLogFields(opts.params, { ...opts.progress, facts: loginFacts(result) }),
      result: 'ok',
      reason: 'ok',
      durationMs: Math.round(opts.loginDurationSeconds * 1000),
      upstreamPid,
      reused: ticket?.isReused ?? false,
    },
    'login succeeded',
  );
  const sendCancel = opts.sendUpstreamCancel ?? ((target, pid, k, timeoutMs) => realSendUpstreamCancel(target, pid, k, timeoutMs, log));
  const trail = audit?.trail;
  const statementGate = !isGated ? undefined : new StatementGate((statement, done) => audit.trail.statement(statement, done), audit.onStatementRefused);
  const relay = new Relay({
    ...(statementGate === undefined ? {} : { statementGate }),
    client: opts.client,
    upstream: upstream.socket,
    observer: opts.observer,
    logger: log,
    cancelUpstream: () => sendCancel(target, upstreamPid, upstreamKey, clientLossCancelTimeoutMs),
    ...(ticket === undefined || tracker === undefined ? {} : { checkin: { tracker, handOver: handOverTo(ticket, tracker, key, log, opts.onUpstreamHandedOver) } }),
    onClose: (stats) => {
      key.release();
      const reason = sessionEndReason(stats, localEndReason);
      log.info({ event: 'session_end', ...stats, reason }, 'session ended');
      observer.sessionEnded(reason);
      if (trail !== undefined && audit !== undefined) trail.ended(reason, stats, audit.nowMs());
      onClose();
    },
  });
  relay.noteForwarded('toClient', upstream.leftover);
  if (statementGate === undefined) relay.noteForwarded('toUpstream', opts.held);
  relay.start();
  if (statementGate !== undefined && opts.held.length > 0) statementGate.feed(opts.held);
  return { relay, key };
}

/** The relay's hand-over at client end: the departed client's cancel key dies first, then the gate decides (docs/design/surface.md §11). */
function handOverTo(ticket: ReuseTicket, tracker: CheckinTracker, key: IssuedKey, log: Logger, onHandedOver: (() => void) | undefined): (upstream: net.Socket) => boolean {
  return (upstream) => {
    key.release();
    const verdict = tracker.verdict();
    if (!verdict.keep) {
      ticket.port.countDiscard(verdict.reason);
      log.info({ event: 'upstream_reuse_discard', reason: verdict.reason, upstreamPid: ticket.login.backendKey.pid }, 'upstream session not kept');
      return false;
    }
    ticket.port.checkIn({ ...ticket.login, socket: upstream as tls.TLSSocket }, verdict.openStatements);
    onHandedOver?.();
    return true;
  };
}

/** The sessions_ended reason of a finished relay: a client's Terminate counts as the client's, even when the upstream closed first. */
export function sessionEndReason(stats: RelayStats, localEndReason?: () => SessionEndReason): SessionEndReason {
  if (stats.endedBy === 'local') return localEndReason?.() ?? 'shutdown';
  return stats.isClientTerminate ? 'client' : stats.endedBy;
}

